//! Restarts of either side: every sender session seals under its own keys, so no (key, nonce)
//! pair repeats; a restarted camera is shown again within a second; a restarted hub shows a
//! running camera again; a recording of an earlier session is not shown as live, whether
//! or not the hub restarted since (the hub's nonce is new); a stream held back is stale.

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
    // Each life's first frame is pushed before the hub nonce comes, and is not sealed.
    assert_eq!(pairs.len(), 5 * 39);
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
    let mut feedback = Vec::new();
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
            // Both cameras hear the hub (they share the stream): each takes its own nonce.
            while let Some(n) = rx.poll_feedback(now, &mut fb).unwrap() {
                feedback.push(fb[..n].to_vec());
            }
            log.extend(pk);
        }
        for f in feedback.drain(..) {
            let _ = live.tx.handle_feedback(live.now(), &f);
            let _ = other.tx.handle_feedback(other.now(), &f);
        }
    }
    assert!(shown + from_other >= 85 && shown.min(from_other) == 0, "one session only: {shown} and {from_other}");
    let _ = FRAME_US;
}

/// Plays `packets` into `rx` 3 ms apart from `now`; returns the frames shown and the stale
/// ones among them.
fn replay(rx: &mut Receiver, mut now: u64, packets: &[Vec<u8>]) -> (u64, u64) {
    let (mut shown, mut stale) = (0, 0);
    let mut fb = [0u8; 1500];
    for p in packets {
        now += 3_000;
        let _ = rx.handle_packet(now, p);
        rx.handle_timeout(now);
        while let Some(f) = rx.poll_frame() {
            shown += 1;
            stale += f.stale as u64;
        }
        while rx.poll_feedback(now, &mut fb).unwrap().is_some() {}
    }
    (shown, stale)
}

#[test]
fn a_recording_replayed_to_a_restarted_hub_is_not_shown() {
    // The camera's first 10 s are recorded; the hub restarts; the recording is played to
    // the new hub while the camera is off. The new hub gives the recorded session a fresh
    // nonce, which the recording cannot have been sealed under.
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let mut cam = camera(1);
    let mut recording = Vec::new();
    let (shown, _) = run(&mut cam, &mut rx, 0, 300, &mut recording);
    assert!(shown.len() >= 295);
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let (shown, _) = replay(&mut rx, 20_000_000, &recording);
    assert_eq!(shown, 0, "a recording shown after a hub restart");
    assert!(rx.stats().hub_nonces_sent > 0, "the recorded session was challenged");
    assert!(rx.stats().rejected.get(DropReason::Auth) > 0);
    // The live camera, back on, answers the new hub's nonce and is shown.
    let offset = 40_000_000 - cam.now();
    let (shown, at) = run(&mut cam, &mut rx, offset, 60, &mut recording);
    assert!(at.is_some_and(|t| t - 40_000_000 <= 1_000_000) && shown.len() >= 55, "{}", shown.len());
}

#[test]
fn a_stream_held_back_from_its_start_is_shown_only_as_stale() {
    // An attacker lets the handshake through but holds every media packet back 600 s: the
    // session's first packet comes 600 s after the hub's nonce went out.
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let mut cam = camera(1);
    cam.connect(&mut rx);
    let mut held = Vec::new();
    for _ in 0..300 {
        let (_, pk) = cam.next_packets();
        held.extend(pk);
    }
    let (shown, stale) = replay(&mut rx, 600_000_000, &held);
    assert!(shown > 0, "{shown} shown");
    assert_eq!(stale, shown, "every frame held back is marked stale");
    assert_eq!(rx.stats().frames_stale, stale);
    // The hub gave the session a fresh nonce: once the camera, reached again (20 s later,
    // with no more delay than the path's), answers it, it is live again.
    cam.n = 620_000_000 / FRAME_US;
    let mut log = Vec::new();
    let (_, at) = run(&mut cam, &mut rx, 0, 60, &mut log);
    assert!(at.is_some_and(|t| t - 620_000_000 <= 1_000_000));
    assert_eq!(cam.tx.stats().hub_nonces_accepted, 2);
    // Only the frame that reached the hub under the held-back nonce is stale; the camera's
    // frames under the fresh nonce are live.
    assert!(rx.stats().frames_stale <= stale + 1, "{} stale", rx.stats().frames_stale - stale);
}

#[test]
fn a_frame_delayed_beyond_the_bound_is_marked_stale_and_the_rest_are_not() {
    let mut rx = Receiver::new(ReceiverConfig::new(b"porch", 9, SECRET)).unwrap();
    let mut cam = camera(1);
    cam.connect(&mut rx);
    let (mut stale, mut live) = (Vec::new(), 0);
    let mut late = Vec::new();
    for k in 0..120u64 {
        let (_, pk) = cam.next_packets();
        let now = cam.now();
        if (60..63).contains(&k) {
            late.extend(pk); // three frames held back 1.5 s
            continue;
        }
        let at = if k == 63 { now + 1_500_000 } else { now };
        for p in late.drain(..).chain(pk) {
            let _ = rx.handle_packet(at, &p);
        }
        while let Some(f) = rx.poll_frame() {
            if f.stale {
                stale.push(f.info.frame_id);
            } else {
                live += 1;
            }
        }
    }
    assert!(stale.len() >= 3 && stale.len() <= 4, "{stale:?}");
    assert!(live >= 100, "{live}");
}
