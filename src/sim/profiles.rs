//! Built-in networks for the example and the tests, by name.
//!
//! - `clean`: 2 Mbit/s, 50 ms one way, 300 ms drop-tail queue, no loss.
//! - `poor`: a 3G-like uplink defined here: capacity re-drawn every 2 s between 0.25 and
//!   1.5 Mbit/s (a seeded random walk), two 1.5 s outages a minute at 20 s and 50 s into it,
//!   80 ms one way, 300 ms queue, 0.5 % random loss plus Gilbert-Elliott bursts
//!   (0.66 % mean, 40 % loss in the bad state, mean burst of 3.3 packets), 10 ms jitter;
//!   feedback path 80 ms with 1 % loss. 120 s.
//! - `rfc8867-5.1`: RFC 8867 section 5.1 (variable available capacity, one flow):
//!   1 -> 2.5 -> 0.6 -> 1 Mbit/s at 0/40/60/80 s, 50 ms one way, 300 ms queue, 100 s.
//! - `rfc8867-5.2`: section 5.2 (two flows on one bottleneck):
//!   4 -> 2 -> 3.5 -> 1 -> 2 Mbit/s at 0/25/50/75/100 s, 125 s.
//! - `rfc8867-5.4`: section 5.4 (congested network, three flows joining at 0/20/40 s on a
//!   3.5 Mbit/s bottleneck), 120 s.
//!
//! With several flows, fair shares are measured over the second half of the time all of
//! them stream.
//! - `lossy-2m`: 2 Mbit/s with 5 % random loss, 50 ms one way, 300 ms queue, 60 s.
//!
//! Feedback travels on its own link (10 Mbit/s, the same one-way delay) in every profile.

use super::link::{Capacity, GilbertElliott, LinkConfig};
use crate::error::{Error, Result};

/// A named network: links, duration and flows.
#[derive(Debug, Clone)]
pub struct NetworkProfile {
    /// Media path (camera to hub).
    pub forward: LinkConfig,
    /// Feedback path (hub to camera).
    pub feedback: LinkConfig,
    /// Seconds of capture.
    pub seconds: f64,
    /// Flows (cameras).
    pub cameras: usize,
    /// Whether the flows share the forward link.
    pub shared_bottleneck: bool,
    /// When each flow starts.
    pub start_offsets_us: Vec<u64>,
}

/// Names of the built-in profiles.
pub const PROFILES: [&str; 6] = ["clean", "poor", "rfc8867-5.1", "rfc8867-5.2", "rfc8867-5.4", "lossy-2m"];

const MS: u64 = 1000;
const S: u64 = 1_000_000;

fn feedback(delay_us: u64, seed: u64) -> LinkConfig {
    LinkConfig::new(Capacity::Fixed(10_000_000), delay_us, S, seed ^ 0xfeed)
}

fn schedule(steps: &[(u64, u64)]) -> Capacity {
    Capacity::Schedule(steps.iter().map(|&(s, kbps)| (s * S, kbps * 1000)).collect())
}

fn one(forward: LinkConfig, seconds: f64, seed: u64) -> NetworkProfile {
    NetworkProfile {
        feedback: feedback(forward.delay_us, seed),
        forward,
        seconds,
        cameras: 1,
        shared_bottleneck: false,
        start_offsets_us: Vec::new(),
    }
}

/// The `poor` profile's capacity: a seeded random walk with outages.
pub fn poor_capacity(seconds: f64, seed: u64) -> Capacity {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x3a3a);
    let end = (seconds * S as f64) as u64;
    let mut walk = Vec::new();
    let mut kbps = 800f64;
    for t in (0..end).step_by(2 * S as usize) {
        kbps = (kbps * (0.6 + 0.8 * rng.f64())).clamp(250.0, 1500.0);
        walk.push((t, kbps as u64 * 1000));
    }
    let outages: Vec<(u64, u64)> = (0..end.div_ceil(60 * S))
        .flat_map(|m| [20, 50].map(|o| (m * 60 * S + o * S, m * 60 * S + o * S + 1_500 * MS)))
        .collect();
    let mut times: Vec<u64> = walk.iter().map(|w| w.0).chain(outages.iter().flat_map(|o| [o.0, o.1])).collect();
    times.sort_unstable();
    times.dedup();
    let walk = Capacity::Schedule(walk);
    Capacity::Schedule(
        times
            .into_iter()
            .map(|t| (t, if outages.iter().any(|o| (o.0..o.1).contains(&t)) { 0 } else { walk.at(t) }))
            .collect(),
    )
}

/// The profile called `name`, with every random process seeded from `seed`.
pub fn network(name: &str, seed: u64) -> Result<NetworkProfile> {
    Ok(match name {
        "clean" => one(LinkConfig::new(Capacity::Fixed(2_000_000), 50 * MS, 300 * MS, seed), 10.0, seed),
        "poor" => {
            let mut f = LinkConfig::new(poor_capacity(120.0, seed), 80 * MS, 300 * MS, seed);
            f.loss = 0.005;
            f.burst_loss = Some(GilbertElliott { good_to_bad: 0.005, bad_to_good: 0.3, loss_good: 0.0, loss_bad: 0.4 });
            f.jitter_us = 10 * MS;
            let mut p = one(f, 120.0, seed);
            p.feedback.loss = 0.01;
            p
        }
        "rfc8867-5.1" => one(
            LinkConfig::new(schedule(&[(0, 1000), (40, 2500), (60, 600), (80, 1000)]), 50 * MS, 300 * MS, seed),
            100.0,
            seed,
        ),
        "rfc8867-5.2" => NetworkProfile {
            cameras: 2,
            shared_bottleneck: true,
            ..one(
                LinkConfig::new(
                    schedule(&[(0, 4000), (25, 2000), (50, 3500), (75, 1000), (100, 2000)]),
                    50 * MS,
                    300 * MS,
                    seed,
                ),
                125.0,
                seed,
            )
        },
        "rfc8867-5.4" => NetworkProfile {
            cameras: 3,
            shared_bottleneck: true,
            start_offsets_us: vec![0, 20 * S, 40 * S],
            ..one(LinkConfig::new(Capacity::Fixed(3_500_000), 50 * MS, 300 * MS, seed), 120.0, seed)
        },
        "lossy-2m" => one(
            LinkConfig { loss: 0.05, ..LinkConfig::new(Capacity::Fixed(2_000_000), 50 * MS, 300 * MS, seed) },
            60.0,
            seed,
        ),
        other => {
            return Err(Error::InvalidInput(format!("unknown network '{other}' (one of: {})", PROFILES.join(", "))))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_builds_and_unknown_names_are_refused() {
        for n in PROFILES {
            let p = network(n, 1).unwrap();
            assert!(p.seconds > 0.0 && p.cameras >= 1);
        }
        assert!(network("dialup", 1).unwrap_err().to_string().contains("rfc8867-5.1"));
    }

    #[test]
    fn poor_has_outages_and_stays_in_range() {
        let c = poor_capacity(120.0, 4);
        assert_eq!(c.at(20 * S + 500 * MS), 0);
        assert_eq!(c.at(81 * S), 0);
        for t in (0..120).map(|s| s * S + 100 * MS) {
            let r = c.at(t);
            assert!(r == 0 || (250_000..=1_500_000).contains(&r), "{r} at {t}");
        }
    }
}
