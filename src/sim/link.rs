//! One direction of an emulated path: a bottleneck with a capacity (fixed or scheduled),
//! a drop-tail queue bounded in milliseconds of that capacity, random loss, a propagation
//! delay, and after the bottleneck optional jitter, reordering and duplication. Packets
//! leave the bottleneck in order; jitter and reordering can change the arrival order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bottleneck capacity over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Capacity {
    /// The same rate throughout, in bits per second.
    Fixed(u64),
    /// `(from_us, bps)` steps, ascending; the first step should start at 0.
    Schedule(Vec<(u64, u64)>),
}

impl Capacity {
    /// The capacity at `t_us`.
    pub fn at(&self, t_us: u64) -> u64 {
        match self {
            Capacity::Fixed(b) => *b,
            Capacity::Schedule(s) => s.iter().rev().find(|(from, _)| *from <= t_us).or(s.first()).map_or(0, |x| x.1),
        }
    }
}

/// Link settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Bottleneck rate.
    pub capacity: Capacity,
    /// One-way propagation delay.
    pub delay_us: u64,
    /// Drop-tail limit: a packet that would wait longer than this in the queue is dropped.
    pub queue_us: u64,
    /// Probability that a packet is lost at random (0..1), independent of the queue.
    pub loss: f64,
    /// Seed of every random process of the link.
    pub seed: u64,
    /// Extra delay drawn uniformly from `0..=jitter_us` for each packet (may reorder).
    pub jitter_us: u64,
    /// Probability that a packet is held back an extra 5-30 ms (reordering).
    pub reorder: f64,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
}

impl LinkConfig {
    /// A link with only capacity, delay and queue (no loss or other impairment).
    pub fn new(capacity: Capacity, delay_us: u64, queue_us: u64, seed: u64) -> Self {
        LinkConfig { capacity, delay_us, queue_us, loss: 0.0, seed, jitter_us: 0, reorder: 0.0, duplicate: 0.0 }
    }
}

/// Counters of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets offered.
    pub packets_in: u64,
    /// Packets delivered.
    pub packets_out: u64,
    /// Bytes delivered.
    pub bytes_out: u64,
    /// Packets dropped by the queue limit.
    pub dropped_queue: u64,
    /// Packets dropped at random.
    pub dropped_random: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
}

/// One direction of the path.
#[derive(Debug)]
pub struct Link {
    cfg: LinkConfig,
    rng: fastrand::Rng,
    busy_until_us: u64,
    order: u64,
    in_flight: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    spare: Vec<Vec<u8>>,
    stats: LinkStats,
}

impl Link {
    /// A link; a capacity below 1 kbit/s is treated as 1 kbit/s.
    pub fn new(cfg: LinkConfig) -> Self {
        Link {
            rng: fastrand::Rng::with_seed(cfg.seed),
            cfg,
            busy_until_us: 0,
            order: 0,
            in_flight: BinaryHeap::new(),
            spare: Vec::new(),
            stats: LinkStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// The config.
    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    /// Offers a packet at `now_us`. Returns whether it was accepted (not dropped).
    pub fn send(&mut self, now_us: u64, packet: &[u8]) -> bool {
        self.stats.packets_in += 1;
        if self.cfg.loss > 0.0 && self.rng.f64() < self.cfg.loss {
            self.stats.dropped_random += 1;
            return false;
        }
        let start = self.busy_until_us.max(now_us);
        if start - now_us > self.cfg.queue_us {
            self.stats.dropped_queue += 1;
            return false;
        }
        let bps = self.cfg.capacity.at(start).max(1000);
        let done = start + (packet.len() as u64 * 8 * 1_000_000).div_ceil(bps);
        self.busy_until_us = done;
        let copies = if self.cfg.duplicate > 0.0 && self.rng.f64() < self.cfg.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            let mut at = done + self.cfg.delay_us;
            if self.cfg.jitter_us > 0 {
                at += self.rng.u64(0..=self.cfg.jitter_us);
            }
            if self.cfg.reorder > 0.0 && self.rng.f64() < self.cfg.reorder {
                at += self.rng.u64(5_000..=30_000);
            }
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(packet);
            self.order += 1;
            self.in_flight.push(Reverse((at, self.order, buf)));
        }
        self.stats.duplicated += copies - 1;
        true
    }

    /// When the next packet arrives at the far end, if any is in flight.
    pub fn next_delivery_us(&self) -> Option<u64> {
        self.in_flight.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Delivers the next packet due by `now_us` to `f`; returns whether one was delivered.
    pub fn deliver(&mut self, now_us: u64, f: impl FnOnce(u64, &[u8])) -> bool {
        match self.in_flight.peek() {
            Some(Reverse((t, _, _))) if *t <= now_us => {
                let Reverse((t, _, buf)) = self.in_flight.pop().expect("peeked");
                self.stats.packets_out += 1;
                self.stats.bytes_out += buf.len() as u64;
                f(t, &buf);
                self.spare.push(buf);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(bps: u64, queue_ms: u64, loss: f64) -> Link {
        Link::new(LinkConfig { loss, ..LinkConfig::new(Capacity::Fixed(bps), 50_000, queue_ms * 1000, 7) })
    }

    #[test]
    fn serialises_at_capacity_then_delays() {
        let mut l = link(1_200_000, 1000, 0.0);
        assert!(l.send(0, &[0u8; 1500]));
        assert!(l.send(0, &[0u8; 1500]));
        let mut times = Vec::new();
        while let Some(t) = l.next_delivery_us() {
            l.deliver(t, |t, _| times.push(t));
        }
        assert_eq!(times, [60_000, 70_000]);
    }

    #[test]
    fn drop_tail_bounds_the_queue() {
        let mut l = link(1_200_000, 100, 0.0);
        let accepted = (0..100).filter(|_| l.send(0, &[0u8; 1500])).count();
        assert_eq!(accepted, 11);
        assert_eq!(l.stats().dropped_queue, 89);
    }

    #[test]
    fn random_loss_is_seeded() {
        let count = |seed| {
            let mut l = link(100_000_000, 1000, 0.1);
            l.cfg.seed = seed;
            l.rng = fastrand::Rng::with_seed(seed);
            (0..10_000).filter(|i| l.send(*i * 1000, &[0u8; 100])).count()
        };
        assert_eq!(count(1), count(1));
        assert!((8800..9200).contains(&count(1)));
    }

    #[test]
    fn jitter_reorders_and_duplicates_are_counted() {
        let mut l = Link::new(LinkConfig {
            jitter_us: 20_000,
            duplicate: 0.1,
            ..LinkConfig::new(Capacity::Fixed(100_000_000), 10_000, 1_000_000, 3)
        });
        for i in 0..1000u64 {
            l.send(i * 1000, &i.to_be_bytes());
        }
        let mut got = Vec::new();
        while let Some(t) = l.next_delivery_us() {
            l.deliver(t, |_, p| got.push(u64::from_be_bytes(p.try_into().unwrap())));
        }
        assert_eq!(got.len() as u64, 1000 + l.stats().duplicated);
        assert!(l.stats().duplicated > 50);
        assert!(got.windows(2).any(|w| w[1] < w[0]), "jitter reorders");
    }

    #[test]
    fn schedule_steps() {
        let c = Capacity::Schedule(vec![(0, 1), (10, 2), (20, 3)]);
        assert_eq!((c.at(0), c.at(15), c.at(99)), (1, 2, 3));
    }
}
