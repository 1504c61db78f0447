//! The hub's receive path under a network that loses, duplicates, reorders, truncates and
//! corrupts a real stream's packets and injects arbitrary datagrams between them. Nothing may
//! panic, memory stays within the receiver's stated bound, and every frame it outputs is,
//! byte for byte, a frame the camera sent.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sealcam::sim::{FrameSource, SyntheticScene};
use sealcam::{I420Buffer, Receiver, ReceiverConfig, Sender, SenderConfig};

const STREAM: &[u8] = b"front-door";
const SSRC: u32 = 0x1234;
const SECRET: &[u8] = b"fuzzing secret, 32 bytes long...";

/// Seeds the hub's nonces: every fuzzed hub gives the camera the nonce its stream was
/// sealed under, once it has seen the camera's hello (the first packet).
const HUB_SEED: u64 = 7;

fn hub() -> Receiver {
    let mut cfg = ReceiverConfig::new(STREAM, SSRC, SECRET);
    cfg.rng_seed = Some(HUB_SEED);
    Receiver::new(cfg).unwrap()
}

/// A real stream: its packets (a hello first), and the bitstreams of its frames.
struct Stream {
    packets: Vec<Vec<u8>>,
    frames: Vec<Vec<u8>>,
}

/// Eight frames (a keyframe, then deltas) of the built-in scene.
fn stream() -> &'static Stream {
    static S: OnceLock<Stream> = OnceLock::new();
    S.get_or_init(|| {
        let mut cfg = SenderConfig::new(STREAM, SSRC, SECRET);
        // The smallest packets, so that each frame spans several.
        cfg.mtu_bytes = sealcam::wire::MIN_MTU_BYTES;
        cfg.rng_seed = Some(1);
        let mut cam = Sender::new(cfg).unwrap();
        let (mut packets, mut frames) = (Vec::new(), Vec::new());
        let mut buf = [0u8; 1500];
        // The handshake: the hello, and the nonce a hub with this seed gives.
        let n = cam.poll_transmit(0, &mut buf).unwrap().unwrap();
        packets.push(buf[..n].to_vec());
        let mut rx = hub();
        rx.handle_packet(0, &buf[..n]).unwrap();
        let m = rx.poll_feedback(0, &mut buf).unwrap().unwrap();
        cam.handle_feedback(0, &buf[..m]).unwrap();
        let mut scene = SyntheticScene::new(160, 120, 30.0).unwrap();
        let mut pic = I420Buffer::default();
        let mut now = 0u64;
        for k in 0..8u64 {
            now = now.max(k * 33_333);
            scene.next_frame(&mut pic).unwrap();
            cam.push_frame(now, &pic.as_capture(now)).unwrap();
            frames.push(cam.last_bitstream().to_vec());
            // Every packet of the frame, at the pacer's times.
            loop {
                while let Some(n) = cam.poll_transmit(now, &mut buf).unwrap() {
                    packets.push(buf[..n].to_vec());
                }
                if cam.queued_bytes() == 0 {
                    break;
                }
                now = cam.poll_timeout().map_or(now + 1_000, |t| t.max(now + 1));
            }
        }
        Stream { packets, frames }
    })
}

fuzz_target!(|data: &[u8]| {
    let Stream { packets, frames } = stream();
    let mut hub = hub();
    let bound = hub.config().memory_bound_bytes();
    let mut now = 1_000u64;
    let _ = hub.handle_packet(now, &packets[0]);
    let mut out = [0u8; 1500];
    let mut it = data.iter().copied();
    while let Some(op) = it.next() {
        let arg = it.next().unwrap_or(0) as usize;
        match op % 6 {
            0 => {
                let _ = hub.handle_packet(now, &packets[arg % packets.len()]);
            }
            1 => {
                // One byte of a real packet changed.
                let mut p = packets[arg % packets.len()].clone();
                let at = it.next().unwrap_or(0) as usize % p.len();
                p[at] ^= it.next().unwrap_or(1).max(1);
                let _ = hub.handle_packet(now, &p);
            }
            2 => {
                let p = &packets[arg % packets.len()];
                let len = it.next().unwrap_or(0) as usize % p.len();
                let _ = hub.handle_packet(now, &p[..len]);
            }
            3 => {
                let raw: Vec<u8> = it.by_ref().take(arg).collect();
                let _ = hub.handle_packet(now, &raw);
            }
            4 => {
                now += arg as u64 * 7_919;
                hub.handle_timeout(now);
            }
            _ => {
                while let Ok(Some(n)) = hub.poll_feedback(now, &mut out) {
                    assert!(n <= out.len());
                }
            }
        }
        assert!(hub.memory_in_use_bytes() <= bound, "{} > {bound}", hub.memory_in_use_bytes());
        while let Some(f) = hub.poll_frame() {
            assert!(frames.iter().any(|s| s == f.data), "output a frame the camera never sent");
            assert!(f.render_at_us >= now);
        }
    }
});
