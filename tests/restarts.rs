//! Restarts of either side: every sender session seals under its own keys, so no (key, nonce)
//! pair repeats; a restarted camera is shown again within a second; a restarted hub shows a
//! running camera again; a recording of an earlier session is not shown as live.

mod common;

use std::collections::HashSet;

use common::{Camera, FRAME_US, SECRET};
use sealcam::sframe::{kid_epoch, kid_session, Header};
use sealcam::wire::RtpView;
use sealcam::{DropReason, Receiver, ReceiverConfig, SenderConfig};

/// The SFrame (KID, CTR) of each frame sealed among `packets`, read from each frame's first
/// packet (a retransmission or probe copy of a packet, same sequence number and bytes, is
/// one frame sealed once).
fn kid_ctr(packets: &[Vec<u8>]) -> Vec<(u64, u64)> {
    let mut copies = HashSet::new();
    packets
        .iter()
        .filter_map(|p| {
            let v = RtpView::parse(p).ok()?;
            let (h, _) = (v.payload.first()? & 0x80 != 0).then(|| Header::decode(&v.payload[1..]).ok()).flatten()?;
            copies.insert((v.seq, v.payload.to_vec())).then_some((h.kid, h.ctr))
        })
        .collect()
}

/// Runs `frames` frames of `cam` into `rx` from its current time; returns the ids shown and
/// the time the first was shown.
fn run(
    cam: &mut Camera,
    rx: &mut Receiver,
    offset_us: u64,
    frames: u64,
    log: &mut Vec<Vec<u8>>,
) -> (Vec<u64>, Option<u64>) {
    let (mut shown, mut first) = (Vec::new(), None);
    let mut fb = [0u8; 1500];
    for _ in 0..frames {
        let (_, pk) = cam.next_packets();
        let now = offset_us + cam.now();
        for p in &pk {
            let _ = rx.handle_packet(now, p);
        }
        rx.handle_timeout(now);
        while let Some(f) = rx.poll_frame() {
            shown.push(f.info.frame_id);
            first.get_or_insert(now);
        }
        while let Some(n) = rx.poll_feedback(now, &mut fb).unwrap() {
            cam.tx.handle_feedback(now, &fb[..n]).unwrap();
        }
        log.extend(pk);
    }
    (shown, first)
}

/// One life of the camera; `life` seeds its session and sequence numbers (a firmware leaves
/// them to the operating system's randomness).
fn camera(life: u64) -> Camera {
    let mut cfg = SenderConfig::new(b"porch", 9, SECRET);
    cfg.bitrate_bps = 600_000;
    cfg.rng_seed = Some(0xc0ffee + life);
    Camera::with_config(cfg)
}

#[test]
fn no_key_nonce_pair_repeats_across_restarts_and_rekeys() {
    // Five lives of one camera with the same config (as any firmware restarts), each
    // rekeying once: every frame's (KID, CTR) is new, and KIDs of different lives differ in
    // their session, so the keys differ too.
    let mut seen = HashSet::new();
    let mut sessions = HashSet::new();
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let mut log = Vec::new();
    for life in 0..5u64 {
        let mut cam = camera(life);
        sessions.insert(cam.tx.session());
        let _ = run(&mut cam, &mut rx, life * 10_000_000, 20, &mut log);
        cam.tx.rekey(1, None).unwrap();
        let _ = run(&mut cam, &mut rx, life * 10_000_000 + 700_000, 20, &mut log);
    }
    let pairs = kid_ctr(&log);
    assert_eq!(pairs.len(), 5 * 40);
    for p in &pairs {
        assert!(seen.insert(*p), "(KID {:#x}, CTR {}) sealed twice", p.0, p.1);
    }
    assert_eq!(sessions.len(), 5, "every life has its own session");
    let kid_sessions: HashSet<u64> = pairs.iter().map(|p| kid_session(p.0)).collect();
    assert_eq!(kid_sessions, sessions);
    assert!(pairs.iter().all(|p| kid_epoch(p.0) <= 1));
}

#[test]
fn a_restarted_camera_is_shown_again_within_a_second() {
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let mut log = Vec::new();
    // 20 s of a first life: its counters, frame ids and sequence numbers run far ahead.
    let mut first = camera(1);
    let (shown, _) = run(&mut first, &mut rx, 0, 600, &mut log);
    assert!(shown.len() >= 595);
    // The camera restarts (same config) and is back 0.4 s later.
    let mut second = camera(2);
    let restart_us = 20_400_000;
    let (shown, at) = run(&mut second, &mut rx, restart_us, 450, &mut log);
    let at = at.expect("the restarted camera is shown");
    assert!(at - restart_us <= 1_000_000, "shown {} ms after its first packet", (at - restart_us) / 1000);
    assert!(shown.len() >= 428, "{} of 450 frames of the second life shown", shown.len());
    assert_eq!(shown[0], 0, "from its first frame");
    assert_eq!(rx.stats().session_switches, 1);
}

#[test]
fn a_restarted_hub_shows_a_running_camera_again_within_a_second() {
    let mut cam = camera(1);
    let mut log = Vec::new();
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let (shown, _) = run(&mut cam, &mut rx, 0, 300, &mut log);
    assert!(shown.len() >= 295);
    // The hub restarts: a fresh receiver, the camera keeps going (the hub's PLI brings a
    // keyframe).
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let restart_us = cam.now();
    let (shown, at) = run(&mut cam, &mut rx, 0, 300, &mut log);
    let at = at.expect("shown again");
    assert!(at - restart_us <= 1_000_000, "shown {} ms after the restart", (at - restart_us) / 1000);
    assert!(shown.len() >= 285, "{} of 300", shown.len());
}

#[test]
fn a_recording_of_an_earlier_session_is_not_shown_again() {
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let mut recording = Vec::new();
    let mut first = camera(1);
    let _ = run(&mut first, &mut rx, 0, 90, &mut recording);
    let mut second = camera(2);
    let mut log = Vec::new();
    let (shown, _) = run(&mut second, &mut rx, 4_000_000, 60, &mut log);
    assert!(!shown.is_empty());
    // The first life's 3 s are replayed after the restart, as recorded and then with fresh
    // sequence numbers, while the camera is live and after it went quiet.
    let mut shown_from_replay = 0;
    let mut reasons = Vec::new();
    let mut now = 10_000_000;
    for renumber in [false, true] {
        for (k, p) in recording.iter().enumerate() {
            let mut p = p.clone();
            if renumber {
                let seq = (k as u16).wrapping_add(40_000);
                p[2..4].copy_from_slice(&seq.to_be_bytes());
            }
            now += 3_000;
            if let Err(r) = rx.handle_packet(now, &p) {
                reasons.push(r);
            }
            rx.handle_timeout(now);
            while rx.poll_frame().is_some() {
                shown_from_replay += 1;
            }
        }
        now += 2_000_000;
    }
    assert_eq!(shown_from_replay, 0, "nothing of the earlier session is shown");
    assert!(reasons.contains(&DropReason::OtherSession));
    // The live camera is followed again once the replay stops (within the receiver's
    // resynchronisation time if the replay's packets took the packet ring over).
    let (shown, _) = run(&mut second, &mut rx, now, 150, &mut log);
    assert!(shown.len() >= 50, "{}", shown.len());
}

#[test]
fn a_second_session_cannot_take_over_a_live_stream() {
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let mut live = camera(1);
    let mut other = camera(2);
    let mut log = Vec::new();
    let (mut shown, mut from_other) = (0, 0);
    let mut fb = [0u8; 1500];
    for _ in 0..90 {
        for (cam, count) in [(&mut live, &mut shown), (&mut other, &mut from_other)] {
            let (_, pk) = cam.next_packets();
            let now = cam.now();
            for p in &pk {
                let _ = rx.handle_packet(now, p);
            }
            while let Some(f) = rx.poll_frame() {
                let _ = f;
                *count += 1;
            }
            while rx.poll_feedback(now, &mut fb).unwrap().is_some() {}
            log.extend(pk);
        }
    }
    assert!(shown + from_other >= 85 && shown.min(from_other) == 0, "one session only: {shown} and {from_other}");
    let _ = FRAME_US;
}
