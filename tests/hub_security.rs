//! The hub cannot show the wrong home: the seed scenario of the framing work, as tests.
//! Each test is named for what it proves.

mod common;

use common::{one_way_receiver, sealed_frame, Camera, FRAME_US, SECRET};
use sealcam::sframe::{self as seal, CipherSuite, FrameInfo, OpenKey, SealKey};
use sealcam::sim::scenario::{NoTap, Report, Scenario};
use sealcam::sim::{FrameSource, SyntheticScene};
use sealcam::DropReason;
use sealcam::{Codec, Hub, HubConfig, Receiver, ReceiverConfig};

fn cameras(n: usize) -> Vec<Box<dyn FrameSource>> {
    (0..n)
        .map(|i| {
            Box::new(SyntheticScene::new(160, 96, 15.0).unwrap().starting_at(i as u64 * 1000)) as Box<dyn FrameSource>
        })
        .collect()
}

fn assert_nothing_wrong_shown(r: &Report) {
    assert_eq!(r.wrong_stream_frames, 0, "a frame was shown on another camera's stream: {r:?}");
    assert_eq!(r.corrupt_frames_displayed, 0, "a corrupt frame was shown: {r:?}");
    assert_eq!(r.uncounted_packets, 0, "every packet that reached the hub is counted");
    assert!(
        r.max_stream_memory_bytes <= r.stream_memory_bound_bytes,
        "stream memory {} exceeds its bound {}",
        r.max_stream_memory_bytes,
        r.stream_memory_bound_bytes
    );
}

#[test]
fn thirty_two_cameras_on_a_poor_network_under_attack_never_show_a_wrong_or_corrupt_frame() {
    let mut sc = Scenario::simple(4.0, 1_000_000, 40, 200, 0.02, 7);
    sc.bitrate_bps = 300_000;
    sc.forward.jitter_us = 15_000;
    sc.forward.reorder = 0.01;
    sc.forward.duplicate = 0.01;
    sc.attack = 0.03;
    let r = sc.run(cameras(32), &mut NoTap).unwrap();
    assert_nothing_wrong_shown(&r);
    let a = r.attacks;
    for (what, n) in [
        ("misrouted", a.misrouted),
        ("swapped", a.swapped),
        ("replayed", a.replayed),
        ("replayed with a new sequence number", a.replayed_resequenced),
        ("truncated", a.truncated),
        ("bit-flipped", a.bit_flipped),
        ("injected under another stream's key", a.injected_foreign_key),
        ("injected under another stream's metadata", a.injected_foreign_metadata),
    ] {
        assert!(n > 10, "the adversary {what} only {n} packets");
    }
    for reason in ["auth", "duplicate", "malformed"] {
        assert!(r.rejected[reason] > 0, "no packet dropped as {reason}: {:?}", r.rejected);
    }
    // The hub keeps serving: most frames still get through despite loss and attack.
    assert!(r.frames_displayed * 10 >= r.frames_sent * 7, "{} of {} frames shown", r.frames_displayed, r.frames_sent);
}

#[test]
fn cameras_sharing_one_base_secret_still_cannot_cross() {
    let mut sc = Scenario::simple(3.0, 2_000_000, 20, 300, 0.0, 11);
    sc.bitrate_bps = 400_000;
    sc.shared_secret = true;
    sc.attack = 0.1;
    let r = sc.run(cameras(4), &mut NoTap).unwrap();
    assert_nothing_wrong_shown(&r);
    assert!(r.attacks.misrouted + r.attacks.swapped > 20);
    assert!(r.auth_failures > 0);
}

#[test]
fn identical_keys_still_cannot_cross_because_metadata_binds_the_stream() {
    // Worst misconfiguration: two streams provisioned with the same SFrame base key. The
    // stream identity and SSRC in the authenticated metadata still keep them apart.
    let suite = CipherSuite::AesGcm128Sha256;
    let base = [7u8; 32];
    let mut cam_a = SealKey::new(suite, 0, &base).unwrap();
    let mut hub_b = OpenKey::new(suite, 0, &base).unwrap();
    let (mut md_a, mut md_b) = (Vec::new(), Vec::new());
    seal::stream_metadata(b"camera-a", 1, 9000, &mut md_a);
    seal::stream_metadata(b"camera-b", 2, 9000, &mut md_b);
    let (mut sealed, mut out) = (Vec::new(), Vec::new());
    cam_a.seal(&md_a, b"frame of home A", &mut sealed).unwrap();
    assert_eq!(hub_b.open(&md_b, &sealed, &mut out), Err(sealcam::Error::AuthenticationFailed));
    // Same stream id but another SSRC, or another RTP timestamp: refused too.
    seal::stream_metadata(b"camera-a", 2, 9000, &mut md_b);
    assert!(hub_b.open(&md_b, &sealed, &mut out).is_err());
    seal::stream_metadata(b"camera-a", 1, 9001, &mut md_b);
    assert!(hub_b.open(&md_b, &sealed, &mut out).is_err());
}

#[test]
fn hub_fed_ten_times_its_memory_limit_in_garbage_for_one_stream_keeps_serving_the_others() {
    let mut hub = Hub::new(HubConfig::default()).unwrap();
    for i in 0..4u32 {
        hub.add_stream(ReceiverConfig::new(format!("cam-{i}").as_bytes(), 100 + i, SECRET)).unwrap();
    }
    let bound = hub.stream(100).unwrap().config().memory_bound_bytes();
    let mut cams: Vec<Camera> =
        (1..4u32).map(|i| Camera::new(format!("cam-{i}").as_bytes(), 100 + i, SECRET)).collect();
    for c in cams.iter_mut() {
        c.connect_hub(&mut hub);
    }
    let mut rng = fastrand::Rng::with_seed(5);
    let mut garbage_bytes = 0usize;
    let mut shown = [0u64; 4];
    let mut frame = 0;
    while garbage_bytes < 10 * bound {
        for c in cams.iter_mut() {
            let (_, pk) = c.next_packets();
            for p in pk {
                hub.handle_packet(c.now(), &p).unwrap();
            }
        }
        // Garbage for stream 0: valid-looking RTP headers, random everything else.
        for _ in 0..600 {
            let len = rng.usize(13..1500);
            let mut g: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            g[0] = 0x80;
            g[1] = 96;
            g[8..12].copy_from_slice(&100u32.to_be_bytes());
            garbage_bytes += g.len();
            let _ = hub.handle_packet(frame * FRAME_US, &g);
        }
        hub.handle_timeout(frame * FRAME_US);
        while let Some(f) = hub.poll_frame() {
            shown[(f.ssrc - 100) as usize] += 1;
            assert_eq!(f.stream_id, format!("cam-{}", f.ssrc - 100).as_bytes());
        }
        frame += 1;
    }
    assert_eq!(&shown[1..], &[frame, frame, frame], "the other streams lost frames");
    assert_eq!(shown[0], 0);
    let s0 = hub.stream(100).unwrap();
    assert!(s0.memory_in_use_bytes() <= bound, "{} > {bound}", s0.memory_in_use_bytes());
    let st = s0.stats();
    assert_eq!(st.packets_received, st.packets_accepted + st.packets_refused);
    assert!(st.rejected.total() > 0);
}

#[test]
fn rekeying_to_a_new_epoch_loses_no_frame_and_then_destroys_the_old_key() {
    let mut cam = Camera::new(b"door", 7, SECRET);
    let mut rx = Receiver::new(ReceiverConfig::new(b"door", 7, SECRET)).unwrap();
    cam.connect(&mut rx);
    let mut shown = Vec::new();
    let mut late = Vec::new();
    for i in 0..20 {
        if i == 10 {
            rx.install_key(1, None).unwrap();
            cam.tx.rekey(1, None).unwrap();
        }
        let (_, pk) = cam.next_packets();
        if i == 9 {
            late = pk; // the last old-epoch frame arrives after the first new-epoch one
            continue;
        }
        for p in &pk {
            rx.handle_packet(cam.now(), p).unwrap();
        }
        if i == 10 {
            for p in &late {
                rx.handle_packet(cam.now(), p).unwrap();
            }
        }
        while let Some(f) = rx.poll_frame() {
            shown.push(f.info.frame_id);
        }
    }
    assert_eq!(shown, (0..20).collect::<Vec<_>>(), "no frame lost across the rekey");
    assert_eq!(rx.key_epochs().collect::<Vec<_>>().len(), 2, "old key kept during the overlap");
    rx.handle_timeout(cam.now() + 3_000_000);
    assert_eq!(rx.key_epochs().collect::<Vec<_>>(), [1], "old key destroyed after the overlap");
    // A frame still sealed under epoch 0 (given fresh sequence numbers) is now refused as an
    // unknown key.
    let (_, newest) = cam.next_packets();
    let mut seq = u16::from_be_bytes([newest[newest.len() - 1][2], newest[newest.len() - 1][3]]);
    // (A one-way camera: no hub gives epoch 0 a nonce any more.)
    let mut old_cfg = sealcam::SenderConfig::new(b"door", 7, SECRET);
    old_cfg.one_way = true;
    let mut old = Camera::with_config(old_cfg);
    let (_, pk) = old.next_packets();
    for p in &pk {
        let mut p = p.clone();
        seq = seq.wrapping_add(1);
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        let _ = rx.handle_packet(cam.now() + 3_000_000, &p);
    }
    assert_eq!(rx.stats().rejected.get(DropReason::UnknownKey), pk.len() as u64);
}

#[test]
fn streams_are_added_and_removed_at_run_time_without_touching_the_others() {
    let mut small = HubConfig::default();
    small.max_streams = 2;
    let mut hub = Hub::new(small).unwrap();
    hub.add_stream(ReceiverConfig::new(b"a", 1, SECRET)).unwrap();
    assert!(hub.add_stream(ReceiverConfig::new(b"a", 9, SECRET)).is_err(), "stream id served twice");
    assert!(hub.add_stream(ReceiverConfig::new(b"x", 1, SECRET)).is_err(), "SSRC served twice");
    hub.add_stream(ReceiverConfig::new(b"b", 2, SECRET)).unwrap();
    assert!(hub.add_stream(ReceiverConfig::new(b"c", 3, SECRET)).is_err(), "hub full");
    let mut big = ReceiverConfig::new(b"c", 3, SECRET);
    big.frame_buffers = 1024;
    assert!(Hub::new(HubConfig::default()).unwrap().add_stream(big).is_err(), "memory bound over the limit");

    let mut a = Camera::new(b"a", 1, SECRET);
    let mut b = Camera::new(b"b", 2, SECRET);
    a.connect_hub(&mut hub);
    b.connect_hub(&mut hub);
    let (_, pa) = a.next_packets();
    let (_, pb) = b.next_packets();
    for p in pa.iter().chain(&pb) {
        hub.handle_packet(0, p).unwrap();
    }
    assert!(hub.remove_stream(1));
    assert!(!hub.remove_stream(1));
    let (_, pa) = a.next_packets();
    for p in &pa {
        assert_eq!(hub.handle_packet(FRAME_US, p), Err(DropReason::UnknownStream));
    }
    let (_, pb) = b.next_packets();
    for p in &pb {
        hub.handle_packet(FRAME_US, p).unwrap();
    }
    let mut got = Vec::new();
    while let Some(f) = hub.poll_frame() {
        got.push((f.stream_id.to_vec(), f.frame.info.frame_id));
    }
    assert_eq!(got, [(b"b".to_vec(), 0), (b"b".to_vec(), 1)]);
    assert_eq!(hub.stats().unknown_stream, pa.len() as u64);
}

#[test]
fn lost_top_layer_frames_do_not_stop_the_base_layer() {
    // L1T2: even frames are the base layer (each predicts from the previous even frame), odd
    // frames the top layer (each predicts from the even frame before it).
    let mut key = SealKey::for_stream(CipherSuite::AesGcm128Sha256, SECRET, b"layered", 0).unwrap();
    let mut rx = Receiver::new(one_way_receiver(b"layered", 5, SECRET)).unwrap();
    let mut seq = 100u16;
    let mut shown = Vec::new();
    for id in 0..12u64 {
        let base = id % 2 == 0;
        let info = FrameInfo {
            codec: Codec::H264,
            keyframe: id == 0,
            temporal_layer: u8::from(!base),
            frame_id: id,
            ref_distance: if id == 0 {
                0
            } else if base {
                2
            } else {
                1
            },
            width: 64,
            height: 64,
            capture_time_us: id * FRAME_US,
        };
        let pk = sealed_frame(&mut key, b"layered", 5, info, &mut seq);
        if id == 3 || id == 7 {
            continue; // top-layer frames lost for good
        }
        for p in &pk {
            let _ = rx.handle_packet(id * FRAME_US, p);
        }
        rx.handle_timeout(id * FRAME_US);
        while let Some(f) = rx.poll_frame() {
            shown.push(f.info.frame_id);
        }
    }
    assert_eq!(shown, [0, 1, 2, 4, 5, 6, 8, 9, 10, 11]);
    assert!(!rx.waiting_for_keyframe());
    assert_eq!(rx.stats().chain_breaks, 0);
}
