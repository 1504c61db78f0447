//! What the rate controller costs, next to what it steers: per transport-wide feedback
//! message (20 packet reports, then the update), per packet sent, and per frame (the
//! ladder), measured in the same run as one 640x480 H.264 encode of the synthetic scene
//! (openh264, the encoder the controller drives).
//!
//! Run: `cargo bench --bench abr` (`SEALCAM_BENCH_QUICK=1` shortens it). The README lists
//! the figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use sealcam::encoders::{H264Encoder, H264Settings};
use sealcam::encoders::{RateSettings, VideoEncoder};
use sealcam::rate::Ladder;
use sealcam::rate::{AbrConfig, RateController};
use sealcam::sim::{FrameSource, SyntheticScene};
use sealcam::I420Buffer;

/// Packets a 50 ms feedback interval reports at about 4 Mbit/s.
const REPORTS_PER_FEEDBACK: u64 = 20;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("abr");
    if std::env::var_os("SEALCAM_BENCH_QUICK").is_some() {
        g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    }

    // A controller in steady state on a 2 Mbit/s path: packets every 4.8 ms, 50 ms of
    // propagation, a feedback message every 50 ms.
    let cfg = AbrConfig::new(1_000_000, 50_000, 2_500_000);
    let mut ctl = RateController::new(cfg);
    let mut seq = 0u64;
    let mut cumulative = 0u64;
    let mut step = |ctl: &mut RateController| {
        let t0 = seq * 4_800;
        for k in 0..REPORTS_PER_FEEDBACK {
            let sent = t0 + k * 4_800;
            cumulative += 1200;
            ctl.on_sent(sent, 1200, cumulative, true);
            // A little jitter so that the trend line and the threshold do real work.
            let arrival = (sent + 50_000 + (k * 7919 % 3000)) as i64;
            ctl.on_result(sent + 100_000, sent, 1200, Some(arrival), 0, cumulative);
        }
        seq += REPORTS_PER_FEEDBACK;
        ctl.on_feedback(t0 + REPORTS_PER_FEEDBACK * 4_800 + 100_000);
        while ctl.take_probe().is_some() {}
    };
    for _ in 0..200 {
        step(&mut ctl);
    }
    g.bench_function("feedback message (20 packet reports + update)", |b| b.iter(|| step(black_box(&mut ctl))));

    let mut ctl2 = RateController::new(cfg);
    let mut t = 0u64;
    g.bench_function("packet sent", |b| {
        b.iter(|| {
            t += 4_800;
            ctl2.on_sent(black_box(t), 1200, t / 4, true);
            black_box(ctl2.window_full(t))
        })
    });

    let mut ladder = Ladder::new((640, 480), 30.0);
    let mut tf = 0u64;
    g.bench_function("frame (ladder update)", |b| {
        b.iter(|| {
            tf += 33_333;
            ladder.on_qp(black_box(32));
            black_box(ladder.update(tf, black_box(900_000.0)))
        })
    });

    // Baseline in the same run: encoding one frame.
    let mut scene = SyntheticScene::new(640, 480, 30.0).expect("scene");
    let mut pics = Vec::new();
    for _ in 0..30 {
        let mut p = I420Buffer::default();
        scene.next_frame(&mut p).expect("frame");
        pics.push(p);
    }
    let rates = RateSettings { bitrate_bps: 1_000_000, framerate_fps: 30.0 };
    let mut enc = H264Encoder::new(H264Settings { rates, threads: 1, keyframe_interval_frames: 0, temporal_layers: 1 })
        .expect("encoder");
    let mut out = Vec::new();
    let mut i = 0usize;
    g.bench_function("baseline: H.264 encode of one 640x480 frame", |b| {
        b.iter(|| {
            i += 1;
            black_box(enc.encode(&pics[i % pics.len()], i as u64 * 33_333, false, &mut out).expect("encode"))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
