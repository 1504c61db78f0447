//! The camera path against the raw encoder, side by side in one run: per frame, the
//! Sender's whole path (I420 capture -> convert -> encode -> seal -> packetize -> pace out)
//! next to the encoder crate called directly on the same frames.
//!
//! Content: real footage when `SEALCAM_CLIP_DIR` names a folder made by
//! `../shared/media/make-clips.sh` (box_1280x720_120f.y4m, box_1920x1080_120f.y4m),
//! otherwise the built-in synthetic scene at the same sizes.
//!
//! Run: `cargo bench --bench encode` (`SEALCAM_BENCH_QUICK=1` shortens it).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use openh264::encoder::{BitRate, Complexity, Encoder, EncoderConfig, FrameRate, RateControlMode, UsageType};
use openh264::formats::YUVBuffer;
use openh264::OpenH264API;
use sealcam::sim::SyntheticScene;
use sealcam::{Codec, I420Buffer, Sender, SenderConfig};

const FRAMES: usize = 30;

/// Frames of real footage (when available) or of the synthetic scene.
fn frames(w: u32, h: u32) -> (String, Vec<I420Buffer>) {
    if let Some(dir) = std::env::var_os("SEALCAM_CLIP_DIR") {
        let path = std::path::Path::new(&dir).join(format!("box_{w}x{h}_120f.y4m"));
        if let Ok(f) = std::fs::File::open(&path) {
            let mut dec = y4m::decode(std::io::BufReader::new(f)).expect("a Y4M clip");
            let mut out = Vec::new();
            while out.len() < FRAMES {
                let Ok(fr) = dec.read_frame() else { break };
                let mut b = I420Buffer::new(w, h).unwrap();
                let (y, u, v) = b.planes_mut();
                y.copy_from_slice(fr.get_y_plane());
                u.copy_from_slice(fr.get_u_plane());
                v.copy_from_slice(fr.get_v_plane());
                out.push(b);
            }
            return (format!("box {w}x{h}"), out);
        }
        eprintln!("{} not found: using the synthetic scene", path.display());
    }
    let scene = SyntheticScene::new(w, h, 30.0).unwrap();
    let out = (0..FRAMES as u64)
        .map(|n| {
            let mut b = I420Buffer::default();
            scene.render(n, &mut b).unwrap();
            b
        })
        .collect();
    (format!("synthetic {w}x{h}"), out)
}

fn sender(codec: Codec, bitrate_bps: u32) -> Sender {
    let mut c = SenderConfig::new(b"bench", 1, b"benchmark base secret, 32 bytes.");
    c.codec = codec;
    c.bitrate_bps = bitrate_bps;
    c.max_queue_delay_ms = 60_000; // never drop in a benchmark
    c.history_packets = 65536;
    c.one_way = true; // no hub: every frame is encoded and sent
    Sender::new(c).unwrap()
}

/// Sends every queued packet, moving virtual time forward as the pacer asks.
fn drain(tx: &mut Sender, now: u64, buf: &mut [u8]) {
    let mut vt = now;
    while let Some(next) = tx.poll_timeout() {
        vt = vt.max(next);
        while tx.poll_transmit(vt, buf).unwrap().is_some() {}
    }
}

fn bench(c: &mut Criterion) {
    let quick = std::env::var_os("SEALCAM_BENCH_QUICK").is_some();
    let mut buf = vec![0u8; 1500];
    for (w, h, bitrate) in [(1280u32, 720u32, 2_500_000u32), (1920, 1080, 4_000_000)] {
        let (what, pics) = frames(w, h);
        let mut g = c.benchmark_group(format!("encode_h264/{w}x{h}"));
        g.sample_size(10).warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(if quick { 3 } else { 8 }));
        g.throughput(Throughput::Elements(1));
        eprintln!("H.264 {w}x{h}: {what}");

        let cfg = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(30.0))
            .skip_frames(false)
            .complexity(Complexity::Low)
            .background_detection(false)
            .scene_change_detect(false)
            .num_threads(1);
        let mut raw = Encoder::with_api_config(OpenH264API::from_source(), cfg).unwrap();
        let yuv: Vec<YUVBuffer> = pics
            .iter()
            .map(|p| {
                let (y, u, v) = p.planes();
                let mut all = Vec::with_capacity(p.as_bytes().len());
                all.extend_from_slice(y);
                all.extend_from_slice(u);
                all.extend_from_slice(v);
                YUVBuffer::from_vec(all, w as usize, h as usize)
            })
            .collect();
        let mut i = 0;
        let mut out = Vec::new();
        g.bench_function(BenchmarkId::new("raw_openh264", &what), |b| {
            b.iter(|| {
                let bs = raw.encode(&yuv[i % FRAMES]).unwrap();
                out.clear();
                bs.write_vec(&mut out);
                black_box(out.len());
                i += 1;
            })
        });

        let mut tx = sender(Codec::H264, bitrate);
        let mut n = 0u64;
        g.bench_function(BenchmarkId::new("sealcam_sender", &what), |b| {
            b.iter(|| {
                let now = n * 33_333;
                tx.push_frame(now, &pics[n as usize % FRAMES].as_capture(now)).unwrap();
                drain(&mut tx, now, &mut buf);
                n += 1;
            })
        });
        g.finish();
    }

    for (w, h, bitrate) in [(640u32, 360u32, 800_000u32), (1280, 720, 2_000_000)] {
        let scene = SyntheticScene::new(w, h, 30.0).unwrap();
        let pics: Vec<I420Buffer> = (0..FRAMES as u64)
            .map(|n| {
                let mut b = I420Buffer::default();
                scene.render(n, &mut b).unwrap();
                b
            })
            .collect();
        let what = format!("synthetic {w}x{h}");
        let mut g = c.benchmark_group(format!("encode_av1/{w}x{h}"));
        g.sample_size(10).warm_up_time(Duration::from_secs(1));
        g.measurement_time(Duration::from_secs(if quick { 4 } else { 10 }));
        g.throughput(Throughput::Elements(1));

        use rav1e::prelude::*;
        let mut enc = EncoderConfig::with_speed_preset(10);
        enc.width = w as usize;
        enc.height = h as usize;
        enc.low_latency = true;
        enc.bitrate = bitrate as i32;
        enc.time_base = Rational::new(1, 30);
        enc.speed_settings.rdo_lookahead_frames = 1;
        enc.speed_settings.scene_detection_mode = SceneDetectionSpeed::None;
        enc.max_key_frame_interval = 715_827_882;
        enc.tiles = 2;
        let mut ctx: Context<u8> = Config::new().with_encoder_config(enc).with_threads(1).new_context().unwrap();
        let mut i = 0;
        g.bench_function(BenchmarkId::new("raw_rav1e", &what), |b| {
            b.iter(|| {
                let p = &pics[i % FRAMES];
                let mut f = ctx.new_frame();
                let (y, u, v) = p.planes();
                f.planes[0].copy_from_raw_u8(y, p.y_stride(), 1);
                f.planes[1].copy_from_raw_u8(u, p.uv_stride(), 1);
                f.planes[2].copy_from_raw_u8(v, p.uv_stride(), 1);
                ctx.send_frame(Arc::new(f)).unwrap();
                loop {
                    match ctx.receive_packet() {
                        Ok(p) => {
                            black_box(p.data.len());
                            break;
                        }
                        Err(EncoderStatus::Encoded) => continue,
                        Err(_) => break,
                    }
                }
                i += 1;
            })
        });

        let mut tx = sender(Codec::Av1, bitrate);
        let mut n = 0u64;
        g.bench_function(BenchmarkId::new("sealcam_sender", &what), |b| {
            b.iter(|| {
                let now = n * 33_333;
                tx.push_frame(now, &pics[n as usize % FRAMES].as_capture(now)).unwrap();
                drain(&mut tx, now, &mut buf);
                n += 1;
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
