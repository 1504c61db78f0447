//! Steady-state sealing and opening allocate nothing per frame (a counting global
//! allocator wraps the system one for this test binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sealcam::seal::{stream_metadata, CipherSuite, OpenKey, SealKey};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn sealing_and_opening_allocate_nothing_per_frame_in_steady_state() {
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
        let before = ALLOCS.load(Ordering::Relaxed);
        for ts in 3..103u32 {
            stream_metadata(b"cam", 1, ts, &mut md);
            seal.seal(&md, &frame, &mut sealed).unwrap();
            open.open(&md, &sealed, &mut out).unwrap();
        }
        let n = ALLOCS.load(Ordering::Relaxed) - before;
        assert_eq!(n, 0, "suite {suite:?}: {n} allocations in 100 seal+open");
    }
}
