//! The adaptive bitrate across the space cameras live in: one-way delay x random loss x
//! jitter x feedback loss x capacity, each cell the median of several seeds, as one table.
//!
//! cargo run --release --example abr_grid -- [--seconds S] [--seeds N] [--delays-ms 25,150,300,600]
//!     [--losses 0,0.01,0.02] [--jitters-ms 0] [--feedback-losses 0] [--capacities-kbps 2000]
//!
//! Runs the cells in parallel (rayon), in virtual time. Every cell also checks that no corrupt
//! or wrong-stream frame was shown.

use rayon::prelude::*;
use sealcam::sim::scenario::{NoTap, Report, Scenario};
use sealcam::sim::{network, Capacity, FrameSource, SyntheticScene};

struct Args {
    seconds: f64,
    seeds: u64,
    delays_ms: Vec<u64>,
    losses: Vec<f64>,
    jitters_ms: Vec<u64>,
    feedback_losses: Vec<f64>,
    capacities_kbps: Vec<u64>,
}

fn list<T: std::str::FromStr>(flag: &str, v: &str) -> Result<Vec<T>, String> {
    v.split(',').map(|x| x.trim().parse().map_err(|_| format!("{flag}: '{x}' is not a number"))).collect()
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seconds: 60.0,
        seeds: 4,
        delays_ms: vec![25, 150, 300, 600],
        losses: vec![0.0, 0.01, 0.02],
        jitters_ms: vec![0],
        feedback_losses: vec![0.0],
        capacities_kbps: vec![2000],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            println!("{}", include_str!("abr_grid.rs").lines().take(6).collect::<Vec<_>>().join("\n"));
            std::process::exit(0);
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => a.seconds = v.parse().map_err(|_| format!("--seconds: '{v}'"))?,
            "--seeds" => a.seeds = v.parse().map_err(|_| format!("--seeds: '{v}'"))?,
            "--delays-ms" => a.delays_ms = list(&flag, &v)?,
            "--losses" => a.losses = list(&flag, &v)?,
            "--jitters-ms" => a.jitters_ms = list(&flag, &v)?,
            "--feedback-losses" => a.feedback_losses = list(&flag, &v)?,
            "--capacities-kbps" => a.capacities_kbps = list(&flag, &v)?,
            other => return Err(format!("unknown flag '{other}' (see --help)")),
        }
    }
    if !(a.seconds > 0.0 && a.seconds <= 3600.0 && (1..=64).contains(&a.seeds)) {
        return Err("--seconds must be in (0, 3600] and --seeds in 1..64".into());
    }
    let probabilities = a.losses.iter().chain(&a.feedback_losses);
    if probabilities.clone().any(|p| !(0.0..=1.0).contains(p)) || a.capacities_kbps.contains(&0) {
        return Err("losses must be in 0..1 and capacities positive".into());
    }
    Ok(a)
}

#[derive(Clone, Copy)]
struct Cell {
    delay_ms: u64,
    loss: f64,
    jitter_ms: u64,
    feedback_loss: f64,
    capacity_kbps: u64,
}

fn run(c: Cell, seconds: f64, seed: u64) -> Result<Report, String> {
    let p = network("clean", seed).map_err(|e| e.to_string())?;
    let mut sc = Scenario::from_profile(&p, 2_500_000, seed);
    sc.measure_psnr = false;
    sc.seconds = seconds;
    sc.forward.capacity = Capacity::Fixed(c.capacity_kbps * 1000);
    sc.forward.delay_us = c.delay_ms * 1000;
    sc.feedback.delay_us = c.delay_ms * 1000;
    sc.forward.loss = c.loss;
    sc.forward.jitter_us = c.jitter_ms * 1000;
    sc.feedback.loss = c.feedback_loss;
    let scene: Box<dyn FrameSource> = Box::new(SyntheticScene::new(640, 480, 30.0).map_err(|e| e.to_string())?);
    let r = sc.run(vec![scene], &mut NoTap).map_err(|e| e.to_string())?;
    if r.corrupt_frames_displayed + r.wrong_stream_frames > 0 {
        return Err(format!("corrupt or wrong-stream frames shown at seed {seed}"));
    }
    Ok(r)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("abr_grid: {e}");
            std::process::exit(2);
        }
    };
    let mut cells = Vec::new();
    for &capacity_kbps in &a.capacities_kbps {
        for &delay_ms in &a.delays_ms {
            for &loss in &a.losses {
                for &jitter_ms in &a.jitters_ms {
                    for &feedback_loss in &a.feedback_losses {
                        cells.push(Cell { delay_ms, loss, jitter_ms, feedback_loss, capacity_kbps });
                    }
                }
            }
        }
    }
    let jobs: Vec<(usize, u64)> = (0..cells.len()).flat_map(|i| (1..=a.seeds).map(move |s| (i, s))).collect();
    let results: Vec<(usize, Result<Report, String>)> =
        jobs.par_iter().map(|&(i, seed)| (i, run(cells[i], a.seconds, seed))).collect();
    println!(
        "{} s per run, median of {} seeds; shown = frames output / captured, of which marked stale (not shown live); freezes per minute",
        a.seconds, a.seeds
    );
    println!(
        "| capacity | one way | loss | jitter | feedback loss | shown | marked stale | first frame | p95 delay | freezes/min | utilization |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut failed = false;
    for (i, c) in cells.iter().enumerate() {
        let mut rs = Vec::new();
        for (_, r) in results.iter().filter(|(k, _)| *k == i) {
            match r {
                Ok(r) => rs.push(r),
                Err(e) => {
                    eprintln!("abr_grid: {e}");
                    failed = true;
                }
            }
        }
        if rs.is_empty() {
            continue;
        }
        let shown = median(rs.iter().map(|r| r.frames_displayed as f64 / r.frames_captured.max(1) as f64).collect());
        let p95 = median(rs.iter().map(|r| r.delay_ms_p95).collect());
        let freezes = median(rs.iter().map(|r| r.freezes as f64 * 60.0 / a.seconds).collect());
        let util = median(rs.iter().map(|r| r.utilization).collect());
        let first = median(rs.iter().map(|r| r.first_frame_ms.unwrap_or(f64::INFINITY)).collect());
        let stale = median(rs.iter().map(|r| r.frames_marked_stale as f64 / r.frames_captured.max(1) as f64).collect());
        println!(
            "| {} kbit/s | {} ms | {:.1} % | {} ms | {:.0} % | {:.1} % | {:.1} % | {:.0} ms | {:.0} ms | {:.1} | {:.2} |",
            c.capacity_kbps,
            c.delay_ms,
            c.loss * 100.0,
            c.jitter_ms,
            c.feedback_loss * 100.0,
            shown * 100.0,
            stale * 100.0,
            first,
            p95,
            freezes,
            util
        );
    }
    if failed {
        std::process::exit(1);
    }
}
