//! Steady-state sealing, opening and the Sender's whole camera path (convert, encode, seal,
//! packetize, pace) allocate nothing per frame. A counting global allocator wraps the system
//! one for this test binary and counts, per thread, what the calling thread allocates: the
//! test harness's own thread may print (and allocate) while a check runs, which under a loaded
//! machine made a process-wide count fail at random. (openh264's own C++ allocations do not go
//! through Rust's allocator; it allocates its buffers at initialisation.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sealcam::sframe::{stream_metadata, stream_metadata_into, CipherSuite, OpenKey, SealKey};

struct Counting;

thread_local! {
    /// Allocations (and reallocations) made by this thread; const-initialised and without a
    /// destructor, so reading it never allocates.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations this thread has made so far.
fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn steady_state_allocates_nothing_per_frame() {
    sealing_and_opening();
    sender_camera_path();
}

fn sender_camera_path() {
    use sealcam::sim::SyntheticScene;
    use sealcam::{I420Buffer, Sender, SenderConfig};
    let mut cfg = SenderConfig::new(b"cam", 9, b"a base secret of thirty-two bytes");
    cfg.one_way = true; // no hub: the camera path from the first frame
    let mut tx = Sender::new(cfg).unwrap();
    let scene = SyntheticScene::new(320, 240, 30.0).unwrap();
    let pictures: Vec<I420Buffer> = (0..8)
        .map(|n| {
            let mut p = I420Buffer::default();
            scene.render(n, &mut p).unwrap();
            p
        })
        .collect();
    let mut buf = vec![0u8; 1500];
    let mut step = |n: u64| {
        let now = n * 33_333;
        tx.push_frame(now, &pictures[(n % 8) as usize].as_capture(now)).unwrap();
        let mut t = now;
        while let Some(next) = tx.poll_timeout() {
            t = t.max(next);
            while tx.poll_transmit(t, &mut buf).unwrap().is_some() {}
        }
    };
    // Warm-up: every history slot and buffer reaches its working size.
    for n in 0..400 {
        step(n);
    }
    let before = allocs();
    for n in 400..500 {
        step(n);
    }
    let n = allocs() - before;
    assert_eq!(n, 0, "{n} allocations in 100 frames through the Sender");
}

fn sealing_and_opening() {
    for s in 1..=5u16 {
        let suite = CipherSuite::from_u16(s).unwrap();
        let secret = b"a base secret of thirty-two bytes";
        let mut seal = SealKey::for_stream(suite, secret, b"cam", 0).unwrap();
        let mut open = OpenKey::for_stream(suite, secret, b"cam", 0).unwrap();
        let frame = vec![0x42u8; 50_000];
        let (mut md, mut sealed, mut out) = (Vec::new(), Vec::new(), Vec::new());
        // Warm-up: buffers reach their working size.
        for ts in 0..3u32 {
            stream_metadata(b"cam", 1, ts, &mut md);
            seal.seal(&md, &frame, &mut sealed).unwrap();
            open.open(&md, &sealed, &mut out).unwrap();
        }
        let before = allocs();
        for ts in 3..103u32 {
            stream_metadata(b"cam", 1, ts, &mut md);
            seal.seal(&md, &frame, &mut sealed).unwrap();
            open.open(&md, &sealed, &mut out).unwrap();
        }
        let n = allocs() - before;
        assert_eq!(n, 0, "suite {suite:?}: {n} allocations in 100 seal+open");
        // The caller's-buffer forms the C API uses.
        let (mut sbuf, mut obuf) = (vec![0u8; frame.len() + 64], vec![0u8; frame.len()]);
        let before = allocs();
        for ts in 103..203u32 {
            let m = stream_metadata_into(b"cam", 1, ts, &mut sbuf[..64]).unwrap();
            let md = sbuf[..m].to_owned();
            let before_md = allocs();
            let k = seal.seal_into(&md, &frame, &mut sbuf).unwrap();
            let got = open.open_into(&md, &sbuf[..k], &mut obuf).unwrap();
            assert_eq!(got, frame.len());
            assert_eq!(allocs(), before_md, "suite {suite:?}: seal_into/open_into allocated");
        }
        assert_eq!(allocs() - before, 100, "only the test's own metadata copies");
    }
}
