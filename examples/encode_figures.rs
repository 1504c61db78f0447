//! Prints the camera path's per-frame figures: capture-to-packet processing latency (p50, p99)
//! of the Sender (convert + encode + seal + packetize) for each codec and size, the encoder's
//! frame delay in frames, and the produced bitrate.
//!
//! ```text
//! cargo run --release --example encode_figures                       # synthetic scene
//! SEALCAM_CLIP_DIR=/path/to/clips cargo run --release --example encode_figures
//! ```
//! `SEALCAM_CLIP_DIR` is a folder made by `../shared/media/make-clips.sh` (real footage).

use std::time::Instant;

use sealcam::sim::SyntheticScene;
use sealcam::FrameOutcome;
use sealcam::{Codec, I420Buffer, Sender, SenderConfig};

fn load(w: u32, h: u32, n: usize) -> (String, Vec<I420Buffer>) {
    if let Some(dir) = std::env::var_os("SEALCAM_CLIP_DIR") {
        let path = std::path::Path::new(&dir).join(format!("box_{w}x{h}_120f.y4m"));
        if let Ok(f) = std::fs::File::open(&path) {
            if let Ok(mut dec) = y4m::decode(std::io::BufReader::new(f)) {
                let mut out = Vec::new();
                while out.len() < n {
                    let Ok(fr) = dec.read_frame() else { break };
                    let mut b = I420Buffer::new(w, h).expect("size");
                    let (y, u, v) = b.planes_mut();
                    y.copy_from_slice(fr.get_y_plane());
                    u.copy_from_slice(fr.get_u_plane());
                    v.copy_from_slice(fr.get_v_plane());
                    out.push(b);
                }
                if !out.is_empty() {
                    return (format!("box clip {w}x{h}"), out);
                }
            }
        }
    }
    let scene = SyntheticScene::new(w, h, 30.0).expect("size");
    let out = (0..n as u64)
        .map(|i| {
            let mut b = I420Buffer::default();
            scene.render(i, &mut b).expect("render");
            b
        })
        .collect();
    (format!("synthetic {w}x{h}"), out)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let mut buf = vec![0u8; 1500];
    println!("{:<5} {:<22} {:>8} {:>8} {:>12} {:>10}", "codec", "content", "p50 ms", "p99 ms", "frame delay", "kbit/s");
    for (codec, w, h, bitrate, frames) in [
        (Codec::H264, 1280u32, 720u32, 2_500_000u32, 120usize),
        (Codec::H264, 1920, 1080, 4_000_000, 120),
        (Codec::Av1, 640, 360, 800_000, 40),
        (Codec::Av1, 1280, 720, 2_000_000, 20),
    ] {
        let (what, pics) = load(w, h, frames.min(120));
        let mut c = SenderConfig::new(b"figures", 1, b"figures base secret, 32 bytes...");
        c.codec = codec;
        c.bitrate_bps = bitrate;
        c.max_queue_delay_ms = 60_000;
        c.history_packets = 65536;
        c.encoder_threads = 2;
        c.one_way = true; // no hub: every frame is encoded and sent
        let mut tx = Sender::new(c).expect("sender");
        let mut lat = Vec::new();
        let mut delay = None;
        let mut bytes = 0usize;
        for i in 0..frames {
            let now = i as u64 * 33_333;
            let t = Instant::now();
            let out = tx.push_frame(now, &pics[i % pics.len()].as_capture(now)).expect("push");
            // Drain in virtual time: the pacer releases every packet of the frame.
            let mut vt = now;
            while let Some(next) = tx.poll_timeout() {
                vt = vt.max(next);
                while let Some(n) = tx.poll_transmit(vt, &mut buf).expect("poll") {
                    bytes += n;
                }
            }
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            if let FrameOutcome::Queued { .. } = out {
                delay.get_or_insert(i);
            }
        }
        let name = if codec == Codec::H264 { "h264" } else { "av1" };
        let kbps = bytes as f64 * 8.0 / (frames as f64 / 30.0) / 1000.0;
        println!(
            "{:<5} {:<22} {:>8.2} {:>8.2} {:>12} {:>10.0}",
            name,
            what,
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            delay.map_or("-".into(), |d| format!("{d} frames")),
            kbps
        );
    }
}
