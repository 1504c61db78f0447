//! The camera's side of the feedback path: transport-wide feedback with arbitrary arrival
//! times and losses for the packets it really sent, NACKs, PLIs and arbitrary RTCP, with
//! time jumping forward by up to minutes. Nothing may panic, the target stays within the
//! configured bounds, and every packet the sender emits fits the MTU.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealcam::wire::{rtcp, twcc, RtpView};
use sealcam::sim::{FrameSource, SyntheticScene};
use sealcam::{I420Buffer, Sender, SenderConfig};

const SSRC: u32 = 0x1234;
const HUB_SSRC: u32 = 0x5678;
const MIN_BPS: u32 = 50_000;
const MAX_BPS: u32 = 2_500_000;

fuzz_target!(|data: &[u8]| {
    let mut cfg = SenderConfig::new(b"front-door", SSRC, b"fuzzing secret, 32 bytes long...");
    cfg.adaptive_bitrate = true;
    cfg.min_bitrate_bps = MIN_BPS;
    cfg.max_bitrate_bps = MAX_BPS;
    cfg.mtu_bytes = sealcam::wire::MIN_MTU_BYTES;
    cfg.rng_seed = Some(1);
    cfg.one_way = true; // media from the first frame: the feedback is what is fuzzed
    let mtu = cfg.mtu_bytes;
    let mut cam = Sender::new(cfg).unwrap();
    let mut scene = SyntheticScene::new(160, 120, 30.0).unwrap();
    let mut pic = I420Buffer::default();
    let mut buf = [0u8; 1500];
    // Transport-wide sequence numbers sent, unwrapped, with their send times.
    let mut sent: Vec<(u64, u64)> = Vec::new();
    let mut now = 0u64;
    let mut pushes = 0;
    let mut count = 0u8;
    let mut last_rtp_seq = 0u16;
    let mut it = data.iter().copied();
    let mut fb = Vec::new();
    while let Some(op) = it.next() {
        let arg = it.next().unwrap_or(0);
        fb.clear();
        match op % 7 {
            // Encoding dominates the cost of a run: a few frames are enough to have
            // packets in flight, in the history and in the queue.
            0 if pushes < 6 => {
                pushes += 1;
                scene.next_frame(&mut pic).unwrap();
                let _ = cam.push_frame(now, &pic.as_capture(now));
            }
            1 => {
                while let Some(n) = cam.poll_transmit(now, &mut buf).unwrap() {
                    assert!(n <= mtu, "a {n}-byte packet over a {mtu}-byte MTU");
                    let Ok(v) = RtpView::parse(&buf[..n]) else {
                        panic!("the sender emitted a packet it cannot parse")
                    };
                    last_rtp_seq = v.seq;
                    if let Some(seq) = v.twcc_seq {
                        let last = sent.last().map_or(0, |&(s, _)| s);
                        let ext = last + (seq.wrapping_sub(last as u16)) as u64;
                        sent.push((ext, now));
                    }
                }
            }
            2 => {
                // Feedback for the packets sent: each one lost or arrived after an arbitrary
                // delay (on the hub's clock, which has its own offset).
                let offset = u64::from(arg) << 20;
                let mut arrivals = Vec::new();
                for &(seq, t) in sent.iter().rev().take(64).rev() {
                    let b = it.next().unwrap_or(0);
                    if b != 0 {
                        arrivals.push((seq, offset + t + u64::from(b) * 997));
                    }
                }
                count = count.wrapping_add(1);
                twcc::write_feedback(HUB_SSRC, SSRC, count, &arrivals, &mut fb);
            }
            3 => {
                // Recent and long-gone packets alike.
                let seqs: Vec<u16> =
                    it.by_ref().take(arg as usize % 32).map(|b| last_rtp_seq.wrapping_sub(b.into())).collect();
                rtcp::write_nack(HUB_SSRC, SSRC, &seqs, &mut fb);
            }
            4 => rtcp::write_pli(HUB_SSRC, SSRC, &mut fb),
            5 => fb.extend(it.by_ref().take(arg as usize)),
            _ => now += u64::from(arg).pow(3) * 13,
        }
        if !fb.is_empty() {
            let _ = cam.handle_feedback(now, &fb);
        }
        while cam.poll_packet_result().is_some() {}
        if let Some(s) = cam.abr_state() {
            assert!((MIN_BPS..=MAX_BPS).contains(&s.target_bps), "target {}", s.target_bps);
        }
    }
});
