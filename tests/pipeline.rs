//! The camera-to-hub path end to end: what a hub outputs, and what it refuses.

use sealcam::sim::scenario::{NoTap, Scenario};
use sealcam::sim::SyntheticScene;
use sealcam::DropReason;
use sealcam::FrameOutcome;
use sealcam::{CaptureFrame, Error, I420Buffer, Receiver, ReceiverConfig, Sender, SenderConfig};

const SECRET: &[u8] = b"test base secret, 32 bytes long!";
const W: u32 = 176;
const H: u32 = 144;
const FRAME_US: u64 = 33_333;

/// A camera and a hub wired back to back by hand (no emulator), so a test can drop or
/// replay exactly the packets it wants.
struct Pair {
    tx: Sender,
    rx: Receiver,
    scene: SyntheticScene,
    pic: I420Buffer,
    n: u64,
    buf: Vec<u8>,
}

impl Pair {
    /// The camera is stream `cam-a`, SSRC 1111. A hub of that stream gives it its nonce
    /// first; a hub of another stream could not, so both sides are then one-way, and what
    /// keeps the streams apart is the frame seal alone.
    fn new(rx_stream: &[u8], rx_ssrc: u32) -> Pair {
        let same = rx_stream == b"cam-a" && rx_ssrc == 1111;
        let mut s = SenderConfig::new(b"cam-a", 1111, SECRET);
        s.bitrate_bps = 2_000_000;
        s.one_way = !same;
        let mut r = ReceiverConfig::new(rx_stream, rx_ssrc, SECRET);
        r.one_way = !same;
        let mut p = Pair {
            tx: Sender::new(s).unwrap(),
            rx: Receiver::new(r).unwrap(),
            scene: SyntheticScene::new(W, H, 30.0).unwrap(),
            pic: I420Buffer::default(),
            n: 0,
            buf: vec![0u8; 2048],
        };
        if same {
            let len = p.tx.poll_transmit(0, &mut p.buf).unwrap().expect("a hello");
            let hello = p.buf[..len].to_vec();
            p.rx.handle_packet(0, &hello).unwrap();
            assert_eq!(p.feedback(0), 1);
            assert!(!p.tx.awaiting_hub());
        }
        p
    }

    fn now(&self) -> u64 {
        self.n * FRAME_US
    }

    /// Captures and encodes one frame; returns all its packets (drained from the pacer).
    fn next_packets(&mut self) -> (FrameOutcome, Vec<Vec<u8>>) {
        self.scene.render(self.n, &mut self.pic).unwrap();
        let now = self.now();
        let out = self.tx.push_frame(now, &self.pic.as_capture(now)).unwrap();
        self.n += 1;
        let mut pk = Vec::new();
        let mut t = now;
        while self.tx.poll_timeout().is_some() {
            t = t.max(self.tx.poll_timeout().unwrap());
            while let Some(len) = self.tx.poll_transmit(t, &mut self.buf).unwrap() {
                pk.push(self.buf[..len].to_vec());
            }
        }
        (out, pk)
    }

    fn deliver(&mut self, packets: &[Vec<u8>]) {
        let now = self.now();
        for p in packets {
            let _ = self.rx.handle_packet(now, p);
        }
    }

    /// Frame ids output so far (drains).
    fn outputs(&mut self) -> Vec<u64> {
        let mut ids = Vec::new();
        while let Some(f) = self.rx.poll_frame() {
            ids.push(f.info.frame_id);
        }
        ids
    }

    /// Carries all due feedback from hub to camera at `now`; returns how many datagrams.
    fn feedback(&mut self, now: u64) -> usize {
        let mut n = 0;
        while let Some(len) = self.rx.poll_feedback(now, &mut self.buf).unwrap() {
            let fb = self.buf[..len].to_vec();
            self.tx.handle_feedback(now, &fb).unwrap();
            n += 1;
        }
        n
    }
}

#[test]
fn clean_link_delivers_every_frame_decoded_with_sane_psnr() {
    let mut sc = Scenario::simple(3.0, 4_000_000, 20, 300, 0.0, 1);
    sc.bitrate_bps = 1_500_000;
    let scene = SyntheticScene::new(320, 240, 30.0).unwrap();
    let r = sc.run(vec![Box::new(scene)], &mut NoTap).unwrap();
    assert_eq!(r.frames_captured, 90);
    // The frames pushed before the hub's nonce came back (one round trip) are not sent.
    assert!(r.frames_awaiting_hub <= 2, "{}", r.frames_awaiting_hub);
    assert_eq!(r.frames_displayed, 90 - r.frames_awaiting_hub, "{r:?}");
    assert_eq!(r.corrupt_frames_displayed, 0);
    assert_eq!(r.rejected.values().sum::<u64>(), 0);
    assert_eq!(r.freezes, 0);
    assert!(r.psnr_db_mean > 30.0, "PSNR {}", r.psnr_db_mean);
    assert!(r.delay_ms_p95 < 150.0, "p95 {}", r.delay_ms_p95);
}

#[test]
fn frame_sealed_for_stream_a_is_never_output_by_stream_b() {
    // Same SSRC, same base secret: only the stream identity differs.
    let mut p = Pair::new(b"cam-b", 1111);
    for _ in 0..10 {
        let (_, pk) = p.next_packets();
        p.deliver(&pk);
    }
    assert!(p.outputs().is_empty());
    let s = p.rx.stats();
    assert_eq!(s.frames_authenticated, 0);
    assert!(s.rejected.get(DropReason::Auth) > 0);

    // A receiver for another SSRC does not even reassemble them.
    let mut q = Pair::new(b"cam-a", 2222);
    let (_, pk) = q.next_packets();
    q.deliver(&pk);
    assert!(q.outputs().is_empty());
    assert_eq!(q.rx.stats().rejected.get(DropReason::UnknownStream), pk.len() as u64);
}

#[test]
fn replayed_packets_never_yield_a_second_frame() {
    let mut p = Pair::new(b"cam-a", 1111);
    let mut all = Vec::new();
    for _ in 0..5 {
        let (_, pk) = p.next_packets();
        p.deliver(&pk);
        all.extend(pk);
    }
    assert_eq!(p.outputs(), [0, 1, 2, 3, 4]);
    // Replayed as they were.
    p.deliver(&all);
    assert!(p.outputs().is_empty());
    // Replayed with fresh RTP sequence numbers (the RTP header is not authenticated): the
    // SFrame replay window refuses them.
    let mut seq = u16::from_be_bytes([all.last().unwrap()[2], all.last().unwrap()[3]]);
    for pk in &all {
        let mut pk = pk.clone();
        seq = seq.wrapping_add(1);
        pk[2..4].copy_from_slice(&seq.to_be_bytes());
        let _ = p.rx.handle_packet(p.now(), &pk);
    }
    assert!(p.outputs().is_empty());
    let s = p.rx.stats();
    assert_eq!(s.frames_output, 5);
    assert!(s.rejected.get(DropReason::Replay) > 0, "{s:?}");
    assert!(s.rejected.get(DropReason::Duplicate) > 0, "{s:?}");
    // The stream goes on.
    let (_, pk) = p.next_packets();
    p.deliver(&pk);
    assert_eq!(p.outputs(), [5]);
}

#[test]
fn unrepaired_loss_stops_output_until_a_keyframe_after_pli() {
    let mut p = Pair::new(b"cam-a", 1111);
    for _ in 0..5 {
        let (_, pk) = p.next_packets();
        p.deliver(&pk);
    }
    assert_eq!(p.outputs(), [0, 1, 2, 3, 4]);
    // Frame 5 loses its first packet, and the NACKs never reach the camera.
    let (_, pk) = p.next_packets();
    p.deliver(&pk[1..]);
    for _ in 0..4 {
        let (_, pk) = p.next_packets();
        p.deliver(&pk);
    }
    assert!(p.outputs().is_empty(), "nothing after a broken reference is output");
    // Time passes beyond the receiver's wait: the chain is declared broken, PLI goes out.
    let later = p.now() + 500_000;
    p.rx.handle_timeout(later);
    assert!(p.rx.waiting_for_keyframe());
    let mut plis = 0;
    while let Some(len) = p.rx.poll_feedback(later, &mut p.buf).unwrap() {
        let fb = p.buf[..len].to_vec();
        plis += sealcam::wire::rtcp::parse(&fb)
            .filter(|f| matches!(f, Ok(sealcam::wire::rtcp::Feedback::Pli { .. })))
            .count();
        p.tx.handle_feedback(later, &fb).unwrap();
    }
    assert_eq!(plis, 1);
    p.n += 15; // the camera's clock moves on too
    let (out, pk) = p.next_packets();
    assert!(matches!(out, FrameOutcome::Queued { keyframe: true, .. }), "{out:?}");
    p.deliver(&pk);
    let (_, pk) = p.next_packets();
    p.deliver(&pk);
    assert_eq!(p.outputs(), [10, 11]);
    assert!(p.rx.stats().frames_undecodable >= 4);
}

#[test]
fn packet_lost_once_is_repaired_by_nack_and_no_frame_is_lost() {
    let mut p = Pair::new(b"cam-a", 1111);
    for _ in 0..3 {
        let (_, pk) = p.next_packets();
        p.deliver(&pk);
    }
    let (_, pk) = p.next_packets();
    assert!(pk.len() >= 2);
    p.deliver(&pk[..1]);
    p.deliver(&pk[2..]);
    let (_, next) = p.next_packets();
    p.deliver(&next);
    assert_eq!(p.outputs(), [0, 1, 2]);
    // NACK goes to the camera, which retransmits; the frame and its successor come out.
    let now = p.now();
    assert!(p.feedback(now) >= 1);
    let mut rtx = Vec::new();
    while let Some(len) = p.tx.poll_transmit(now + 10_000, &mut p.buf).unwrap() {
        rtx.push(p.buf[..len].to_vec());
    }
    assert_eq!(rtx.len(), 1);
    p.deliver(&rtx);
    assert_eq!(p.outputs(), [3, 4]);
    assert_eq!(p.tx.stats().packets_retransmitted, 1);
    assert_eq!(p.rx.stats().frames_undecodable, 0);
}

#[test]
fn bad_capture_input_gets_an_error_and_changes_nothing() {
    let mut cfg = SenderConfig::new(b"cam", 1, SECRET);
    cfg.one_way = true; // frames reach the encoder at once
    let mut tx = Sender::new(cfg).unwrap();
    let y = vec![0u8; 64 * 64];
    let c = vec![0u8; 32 * 32];
    let cases = [
        CaptureFrame::i420(64, 64, &y, 63, &c, 32, &c, 32, 0), // stride < width
        CaptureFrame::i420(64, 64, &y[..100], 64, &c, 32, &c, 32, 0), // short plane
        CaptureFrame::i420(0, 64, &y, 64, &c, 32, &c, 32, 0),  // zero size
        CaptureFrame::nv12(64, 64, &y, 64, &c, 31, 0),         // chroma stride short
    ];
    for f in cases {
        assert!(matches!(tx.push_frame(0, &f), Err(Error::InvalidInput(_))), "{f:?}");
    }
    assert_eq!(tx.stats(), Default::default());
    assert_eq!(tx.queued_bytes(), 0);
    // Odd sizes are refused by the H.264 encoder with a clear message.
    let odd = I420Buffer::new(63, 64).unwrap();
    let e = tx.push_frame(0, &odd.as_capture(0)).unwrap_err();
    assert!(e.to_string().contains("even"), "{e}");
}

#[test]
fn invalid_configs_are_refused() {
    assert!(Sender::new(SenderConfig::new(b"", 1, SECRET)).is_err());
    assert!(Sender::new(SenderConfig::new(b"cam", 1, b"short")).is_err());
    let mut c = SenderConfig::new(b"cam", 1, SECRET);
    c.mtu_bytes = 100;
    assert!(Sender::new(c).is_err());
    let mut r = ReceiverConfig::new(b"cam", 1, SECRET);
    r.slots = 1;
    assert!(Receiver::new(r).is_err());
}

#[test]
fn garbage_packets_are_counted_not_fatal() {
    let mut p = Pair::new(b"cam-a", 1111);
    let (_, pk) = p.next_packets();
    let mut rng = 12345u32;
    for len in 0..200usize {
        let mut g: Vec<u8> = (0..len)
            .map(|_| {
                rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (rng >> 16) as u8
            })
            .collect();
        if len > 12 && len % 2 == 0 {
            g[..12].copy_from_slice(&pk[0][..12]); // a valid-looking header
        }
        let _ = p.rx.handle_packet(0, &g);
    }
    p.deliver(&pk);
    assert_eq!(p.outputs(), [0]);
}

#[test]
fn transport_wide_feedback_reports_every_packet_and_its_arrival() {
    let mut p = Pair::new(b"cam-a", 1111);
    let mut delivered = 0u64;
    let mut lost = 0u64;
    for i in 0..10 {
        let (_, pk) = p.next_packets();
        for (k, packet) in pk.iter().enumerate() {
            if i == 5 && k == 0 {
                lost += 1; // never arrives
                continue;
            }
            // Each packet arrives 1 ms after the previous one.
            let _ = p.rx.handle_packet(delivered * 1000, packet);
            delivered += 1;
        }
    }
    let now = delivered * 1000 + 100_000;
    p.feedback(now);
    let mut results = Vec::new();
    while let Some(r) = p.tx.poll_packet_result() {
        results.push(r);
    }
    assert_eq!(results.len() as u64, delivered + lost, "every sent packet is reported");
    assert_eq!(results.iter().filter(|r| r.arrival_us.is_none()).count() as u64, lost);
    // Arrivals come back 1 ms apart (quantised to 250 us), in sequence order.
    let arrivals: Vec<i64> = results.iter().filter_map(|r| r.arrival_us).collect();
    assert!(arrivals.windows(2).all(|w| (w[1] - w[0] - 1000).abs() <= 250), "{arrivals:?}");
    assert!(results.windows(2).all(|w| w[1].twcc_seq == w[0].twcc_seq.wrapping_add(1)));
    assert!(p.tx.stats().transport_feedback >= 1);
}

#[test]
fn a_pli_sent_before_the_newest_keyframe_could_arrive_costs_no_second_keyframe() {
    let mut cfg = SenderConfig::new(b"cam-a", 1111, SECRET);
    cfg.adaptive_bitrate = true; // the round trip comes from the controller (200 ms until measured)
    cfg.one_way = true; // no hub here
    let mut tx = Sender::new(cfg).unwrap();
    let scene = SyntheticScene::new(W, H, 30.0).unwrap();
    let mut pic = I420Buffer::default();
    let mut buf = vec![0u8; 2048];
    let mut pli = Vec::new();
    sealcam::wire::rtcp::write_pli(0x4242, 1111, &mut pli);
    let mut push = |tx: &mut Sender, now: u64, drain: bool| {
        scene.render(now / FRAME_US, &mut pic).unwrap();
        let out = tx.push_frame(now, &pic.as_capture(now)).unwrap();
        let mut t = now;
        while let (true, Some(next)) = (drain, tx.poll_timeout()) {
            t = t.max(next);
            while tx.poll_transmit(t, &mut buf).unwrap().is_some() {}
        }
        (matches!(out, FrameOutcome::Queued { keyframe: true, .. }), t)
    };
    // The first frame is a keyframe; its last packet leaves at `sent`.
    let (key, sent) = push(&mut tx, 0, true);
    assert!(key);
    // A PLI 50 ms later left the hub before that keyframe could reach it: no second one,
    // even once the minimum keyframe interval (300 ms) has passed.
    tx.handle_feedback(sent + 50_000, &pli).unwrap();
    assert!(!push(&mut tx, 400_000, true).0);
    assert_eq!((tx.stats().plis_received, tx.stats().plis_superseded), (1, 1));
    // One a round trip later means the hub lacks it: the next frame is a keyframe, and a
    // PLI while that keyframe is still queued here is answered by it as well.
    tx.handle_feedback(sent + 450_000, &pli).unwrap();
    assert!(push(&mut tx, 500_000, false).0);
    tx.handle_feedback(500_000, &pli).unwrap();
    assert!(!push(&mut tx, 900_000, true).0);
    assert_eq!((tx.stats().plis_received, tx.stats().plis_superseded), (3, 2));
}
