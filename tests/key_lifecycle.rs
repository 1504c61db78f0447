//! Keys have a lifecycle a reader can state in one paragraph: epochs only move forward; an old
//! epoch is accepted for a bounded overlap after a newer one is installed, checked on every
//! open; a retired key is destroyed; a frame under an old key never moves what frames under
//! the new key depend on; short keys are refused; installing never evicts a key in use.

mod common;

use common::{one_way_receiver, sealed_frame, Camera, FRAME_US, SECRET};
use sealcam::sframe::{CipherSuite, FrameInfo, SealKey};
use sealcam::{Codec, DropReason, Receiver, ReceiverConfig, SenderConfig};

const SUITE: CipherSuite = CipherSuite::AesGcm128Sha256;

fn info(frame_id: u64, keyframe: bool) -> FrameInfo {
    FrameInfo {
        codec: Codec::H264,
        keyframe,
        temporal_layer: 0,
        frame_id,
        ref_distance: u16::from(!keyframe),
        width: 64,
        height: 64,
        capture_time_us: frame_id * FRAME_US,
    }
}

/// Feeds `packets` at `now` and returns the ids of the frames output.
fn feed(rx: &mut Receiver, now: u64, packets: &[Vec<u8>]) -> Vec<u64> {
    for p in packets {
        let _ = rx.handle_packet(now, p);
    }
    let mut out = Vec::new();
    while let Some(f) = rx.poll_frame() {
        out.push(f.info.frame_id);
    }
    out
}

#[test]
fn epochs_only_move_forward_on_both_sides() {
    let mut cam = Camera::new(b"door", 7, SECRET);
    cam.tx.rekey(1, None).unwrap();
    cam.tx.rekey(4, None).unwrap();
    for back in [4, 1, 0] {
        assert!(cam.tx.rekey(back, None).is_err(), "rekey back to {back} would reuse (key, nonce) pairs");
    }
    let mut rx = Receiver::new(one_way_receiver(b"door", 7, SECRET)).unwrap();
    rx.install_key(3, None).unwrap();
    assert!(rx.install_key(1, None).is_err());
    assert!(rx.install_key(3, None).is_err());
    assert_eq!(rx.key_epochs().collect::<Vec<_>>(), [0, 3]);
}

#[test]
fn an_old_epoch_is_refused_after_the_overlap_from_install_even_without_handle_timeout() {
    let mut cfg = one_way_receiver(b"door", 7, SECRET);
    cfg.key_overlap_ms = 2000;
    let mut rx = Receiver::new(cfg).unwrap();
    let mut old = SealKey::for_stream(SUITE, SECRET, b"door", 0).unwrap();
    let mut seq = 10u16;
    assert_eq!(feed(&mut rx, 0, &sealed_frame(&mut old, b"door", 7, info(0, true), &mut seq)), [0]);
    // The hub installs epoch 1 at 1 s; no frame under it ever arrives, and only
    // handle_packet is called.
    rx.install_key(1, None).unwrap();
    assert_eq!(feed(&mut rx, 1_000_000, &sealed_frame(&mut old, b"door", 7, info(1, false), &mut seq)), [1]);
    assert_eq!(feed(&mut rx, 2_900_000, &sealed_frame(&mut old, b"door", 7, info(2, false), &mut seq)), [2]);
    let late = sealed_frame(&mut old, b"door", 7, info(3, false), &mut seq);
    let mut refused = Vec::new();
    for p in &late {
        if let Err(r) = rx.handle_packet(3_100_000, p) {
            refused.push(r);
        }
    }
    assert_eq!(refused.last(), Some(&DropReason::UnknownKey), "past the overlap the old key is gone");
    assert!(rx.poll_frame().is_none());
    assert_eq!(rx.key_epochs().collect::<Vec<_>>(), [1], "and destroyed");
}

#[test]
fn an_old_key_frame_with_a_huge_frame_id_cannot_end_the_stream() {
    let mut rx = Receiver::new(one_way_receiver(b"door", 7, SECRET)).unwrap();
    let mut old = SealKey::for_stream(SUITE, SECRET, b"door", 0).unwrap();
    let mut new = SealKey::for_stream(SUITE, SECRET, b"door", 1).unwrap();
    let mut seq = 500u16;
    let mut now = 0;
    let mut shown = Vec::new();
    for id in 0..5 {
        shown.extend(feed(&mut rx, now, &sealed_frame(&mut old, b"door", 7, info(id, id == 0), &mut seq)));
        now += FRAME_US;
    }
    rx.install_key(1, None).unwrap();
    // Someone holding the retiring key seals a frame with frame id u64::MAX - 1 inside the
    // overlap: it authenticates (the key is still accepted) and is output.
    let forged = sealed_frame(&mut old, b"door", 7, info(u64::MAX - 1, true), &mut seq);
    assert_eq!(feed(&mut rx, now, &forged), [u64::MAX - 1]);
    // The camera moves to epoch 1 and goes on: frame 5 under the new key undoes what the
    // old key's frame set; output resumes at the next keyframe (the receiver asks for it).
    let mut resumed = Vec::new();
    for id in 5..40 {
        now += FRAME_US;
        let keyframe = id == 20;
        resumed.extend(feed(&mut rx, now, &sealed_frame(&mut new, b"door", 7, info(id, keyframe), &mut seq)));
        rx.handle_timeout(now);
        let mut fb = [0u8; 1500];
        while rx.poll_feedback(now, &mut fb).unwrap().is_some() {}
    }
    assert_eq!(resumed, (20..40).collect::<Vec<_>>(), "the stream is not ended for good");
    assert!(rx.stats().plis_sent >= 1, "a keyframe was asked for");
    // An old-key frame numbered after the switch is refused even inside the overlap.
    let after = sealed_frame(&mut old, b"door", 7, info(41, false), &mut seq);
    let refused: Vec<_> = after.iter().filter_map(|p| rx.handle_packet(now, p).err()).collect();
    assert_eq!(refused.last(), Some(&DropReason::TooLate));
    assert_eq!(shown, [0, 1, 2, 3, 4]);
}

#[test]
fn installing_ahead_keeps_the_key_in_use_for_the_overlap_and_a_full_ring_refuses() {
    let mut cfg = one_way_receiver(b"door", 7, SECRET);
    cfg.key_overlap_ms = 3000;
    let mut rx = Receiver::new(cfg).unwrap();
    let mut cur = SealKey::for_stream(SUITE, SECRET, b"door", 0).unwrap();
    let mut seq = 1u16;
    rx.install_key(1, None).unwrap();
    rx.install_key(2, None).unwrap();
    // The camera is still on epoch 0: 60 frames (2 s) inside the overlap are all shown.
    let mut shown = 0;
    for id in 0..60u64 {
        shown += feed(&mut rx, id * FRAME_US, &sealed_frame(&mut cur, b"door", 7, info(id, id == 0), &mut seq)).len();
    }
    assert_eq!(shown, 60);
    for e in 3..8 {
        rx.install_key(e, None).unwrap();
    }
    let before: Vec<u64> = rx.key_epochs().collect();
    assert_eq!(before.len(), 8);
    assert!(rx.install_key(9, None).is_err(), "a full ring refuses rather than evict");
    assert_eq!(rx.key_epochs().collect::<Vec<_>>(), before);
}

#[test]
fn short_or_empty_secrets_are_refused_everywhere() {
    for len in [0usize, 8, 15] {
        let s = vec![1u8; len];
        assert!(SealKey::new(SUITE, 0, &s).is_err());
        assert!(sealcam::Sender::new(SenderConfig::new(b"cam", 1, &s)).is_err());
        assert!(Receiver::new(ReceiverConfig::new(b"cam", 1, &s)).is_err());
        let mut rx = Receiver::new(ReceiverConfig::new(b"cam", 1, SECRET)).unwrap();
        assert!(rx.install_key(1, Some(&s)).is_err());
        let mut cam = Camera::new(b"cam", 1, SECRET);
        assert!(cam.tx.rekey(1, Some(&s)).is_err());
    }
}
