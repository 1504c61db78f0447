//! Long runs: sequence numbers that wrap and references that must not go stale.

mod common;

use common::{Camera, SECRET};
use sealcam::SenderConfig;

#[test]
fn a_nack_is_served_after_32768_packets_without_a_keyframe() {
    // The sender used to judge "older than the newest keyframe" by a 16-bit half-range
    // comparison: after 32,768 packets without a keyframe every NACK looked older and was
    // refused, so the next loss broke the chain (a freeze and a PLI every 32,768 packets).
    let mut cfg = SenderConfig::new(b"cam", 77, SECRET);
    cfg.mtu_bytes = sealcam::wire::MIN_MTU_BYTES;
    cfg.bitrate_bps = 8_000_000;
    cfg.rng_seed = Some(3);
    cfg.one_way = true; // no hub: the sender's NACK handling is what is tested
    let mut cam = Camera::with_config(cfg);
    let mut sent = 0usize;
    let mut last: Vec<Vec<u8>> = Vec::new();
    while sent < 40_000 {
        let (_, pk) = cam.next_packets();
        sent += pk.len();
        if !pk.is_empty() {
            last = pk;
        }
    }
    assert_eq!(cam.tx.stats().keyframes, 1, "no keyframe since the first");
    let seq = sealcam::wire::RtpView::parse(&last[0]).unwrap().seq;
    let mut nack = Vec::new();
    sealcam::wire::rtcp::write_nack(1, 77, &[seq], &mut nack);
    let before = cam.tx.stats();
    let now = cam.now();
    cam.tx.handle_feedback(now, &nack).unwrap();
    let mut buf = [0u8; 2048];
    let mut resent = None;
    while let Some(n) = cam.tx.poll_transmit(now + 1_000_000, &mut buf).unwrap() {
        resent = Some(buf[..n].to_vec());
    }
    let after = cam.tx.stats();
    assert_eq!(after.nacks_too_old, before.nacks_too_old, "the NACK is not judged older than the keyframe");
    assert_eq!(after.packets_retransmitted, before.packets_retransmitted + 1);
    // The same packet, with a new transport-wide sequence number (bytes 17-18).
    let resent = resent.expect("a retransmission");
    assert_eq!((&resent[..17], &resent[19..]), (&last[0][..17], &last[0][19..]), "the packet itself goes out again");
}

#[test]
fn two_hours_on_a_lossy_jittery_link_freeze_only_where_loss_forces_it() {
    use sealcam::sim::scenario::{NoTap, Scenario};
    use sealcam::sim::{FrameSource, SyntheticScene};
    // 2 hours of virtual time at 160x120, 15 fps: about 290,000 packets, so the RTP and
    // transport-wide sequence numbers wrap four times and SFrame counters pass 100,000.
    let mut sc = Scenario::simple(7200.0, 600_000, 40, 300, 0.02, 11);
    sc.forward.jitter_us = 8_000;
    sc.adaptive = true;
    sc.bitrate_bps = 400_000;
    sc.start_bitrate_bps = 300_000;
    sc.measure_psnr = false;
    let scene: Box<dyn FrameSource> = Box::new(SyntheticScene::new(160, 120, 15.0).unwrap());
    let r = sc.run(vec![scene], &mut NoTap).unwrap();
    assert_eq!((r.corrupt_frames_displayed, r.wrong_stream_frames), (0, 0));
    assert!(r.frames_captured >= 7200 * 15 - 1);
    assert!(
        r.frames_displayed as f64 >= 0.999 * r.frames_captured as f64,
        "{} of {}",
        r.frames_displayed,
        r.frames_captured
    );
    // No reference chain broke in 2 hours: no PLI, no keyframe after the first. The old
    // 16-bit comparison broke it every 32,768 packets (9 times here).
    assert_eq!((r.plis_sent, r.keyframes_sent), (0, 1));
    // What freezes there are (about one every 2 minutes at 15 fps, whose threshold is 217 ms)
    // are frames waiting for a repair whose first copy was lost too: short.
    let longest = r.freeze_list.iter().map(|f| f.2).max().unwrap_or(0);
    assert!(longest < 400, "longest freeze {longest} ms");
    assert!(r.freezes <= 120, "{} freezes", r.freezes);
    assert!(r.max_stream_memory_bytes <= r.stream_memory_bound_bytes, "memory within its bound");
}
