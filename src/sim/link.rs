//! One direction of an emulated path: a bottleneck with a capacity (fixed, scheduled, or a
//! mahimahi delivery trace), a drop-tail queue bounded in milliseconds or bytes, random or
//! Gilbert-Elliott burst loss, a propagation delay, and after the bottleneck optional
//! jitter, reordering and duplication. Packets leave the bottleneck in order; jitter and
//! reordering can change the arrival order. Every random process is seeded.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Bytes one mahimahi delivery opportunity lets through (its `PACKET_SIZE`, one Ethernet MTU).
pub const TRACE_OPPORTUNITY_BYTES: u64 = 1500;

/// A mahimahi uplink/downlink trace: one line per 1500-byte delivery opportunity, a
/// millisecond timestamp per line, ascending; the trace repeats with the last timestamp
/// as its period (as mahimahi's link shell replays it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTrace {
    opportunities_ms: Vec<u64>,
    period_ms: u64,
}

impl DeliveryTrace {
    /// Parses trace text. Blank lines are ignored; anything else that is not a
    /// non-decreasing millisecond count is an error naming the line.
    pub fn parse(text: &str) -> Result<Self> {
        let mut ops = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let t: u64 = line.parse().map_err(|_| {
                Error::InvalidInput(format!("trace line {}: {line:?} is not a millisecond count", n + 1))
            })?;
            if ops.last().is_some_and(|&l| t < l) {
                return Err(Error::InvalidInput(format!("trace line {}: {t} ms goes back in time", n + 1)));
            }
            ops.push(t);
        }
        Self::new(ops)
    }

    /// Reads and parses a trace file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidInput(format!("cannot read trace {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// A trace from opportunity timestamps in milliseconds (non-decreasing, last one > 0).
    pub fn new(opportunities_ms: Vec<u64>) -> Result<Self> {
        let period_ms = *opportunities_ms.last().ok_or_else(|| Error::InvalidInput("trace is empty".into()))?;
        if period_ms == 0 {
            return Err(Error::InvalidInput("trace ends at 0 ms: it has no duration".into()));
        }
        if opportunities_ms.windows(2).any(|w| w[1] < w[0]) {
            return Err(Error::InvalidInput("trace timestamps go back in time".into()));
        }
        Ok(DeliveryTrace { opportunities_ms, period_ms })
    }

    /// The repeat period in milliseconds.
    pub fn period_ms(&self) -> u64 {
        self.period_ms
    }

    /// Opportunities before global index `i` wrap into later periods.
    fn time_us(&self, i: u64) -> u64 {
        let n = self.opportunities_ms.len() as u64;
        ((i / n) * self.period_ms + self.opportunities_ms[(i % n) as usize]) * 1000
    }

    /// The global index of the first opportunity at or after `t_us`.
    fn first_at_or_after(&self, t_us: u64) -> u64 {
        let n = self.opportunities_ms.len() as u64;
        let t_ms = t_us.div_ceil(1000);
        let cycle = t_ms / self.period_ms;
        let within = t_ms % self.period_ms;
        let k = self.opportunities_ms.partition_point(|&o| o < within) as u64;
        // Timestamps equal to the period belong to the next cycle's 0 as well; either is fine.
        cycle * n + k
    }

    /// Bits the trace can deliver in `[from_us, to_us)`.
    pub fn bits_between(&self, from_us: u64, to_us: u64) -> u64 {
        if to_us <= from_us {
            return 0;
        }
        (self.first_at_or_after(to_us) - self.first_at_or_after(from_us)) * TRACE_OPPORTUNITY_BYTES * 8
    }

    /// Gaps of at least `min_us` between two consecutive delivery opportunities inside
    /// `[from_us, to_us]` (the trace repeating). No packet arrives during one: a stream
    /// shown at a frame rate whose freeze limit is `min_us` freezes at each, whatever its
    /// sender does, unless the receiver holds frames back for as long. (Spans before the
    /// window's first opportunity or after its last are not between two frames: no freeze.)
    pub fn silences(&self, from_us: u64, to_us: u64, min_us: u64) -> u64 {
        let mut count = 0;
        let mut i = self.first_at_or_after(from_us);
        let mut last = self.time_us(i);
        loop {
            i += 1;
            let t = self.time_us(i);
            if t > to_us {
                return count;
            }
            if t - last >= min_us {
                count += 1;
            }
            last = t;
        }
    }

    /// The same trace started `offset_ms` into it (modulo its period): what was at
    /// `offset_ms` is at 0, and what came before it follows its end. The period is kept, so
    /// any window of the original trace can be replayed from time 0.
    pub fn starting_at(&self, offset_ms: u64) -> DeliveryTrace {
        let offset = offset_ms % self.period_ms;
        let split = self.opportunities_ms.partition_point(|&t| t < offset);
        let (before, after) = self.opportunities_ms.split_at(split);
        let opportunities_ms =
            after.iter().map(|&t| t - offset).chain(before.iter().map(|&t| t + self.period_ms - offset)).collect();
        DeliveryTrace { opportunities_ms, period_ms: self.period_ms }
    }

    /// Mean capacity over one period, bits per second.
    pub fn mean_bps(&self) -> u64 {
        self.opportunities_ms.len() as u64 * TRACE_OPPORTUNITY_BYTES * 8 * 1000 / self.period_ms
    }
}

/// Bottleneck capacity over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Capacity {
    /// The same rate throughout, in bits per second.
    Fixed(u64),
    /// `(from_us, bps)` steps, ascending; the first step should start at 0.
    Schedule(Vec<(u64, u64)>),
    /// Delivery opportunities from a mahimahi trace.
    Trace(Arc<DeliveryTrace>),
}

impl Capacity {
    /// The capacity at `t_us` (for a trace: its mean over the 100 ms from `t_us`).
    pub fn at(&self, t_us: u64) -> u64 {
        match self {
            Capacity::Fixed(b) => *b,
            Capacity::Schedule(s) => s.iter().rev().find(|(from, _)| *from <= t_us).or(s.first()).map_or(0, |x| x.1),
            Capacity::Trace(tr) => tr.bits_between(t_us, t_us + 100_000) * 10,
        }
    }

    /// When `bits` that start serializing at `start_us` are through a rate-based
    /// bottleneck: the capacity is integrated across schedule steps (a packet caught by an
    /// outage waits for the capacity to return). Rates below 1 kbit/s count as none; a
    /// schedule that never carries the bits again ends at `u64::MAX`.
    fn finish_us(&self, start_us: u64, bits: u64) -> u64 {
        match self {
            Capacity::Schedule(steps) => {
                let mut t = start_us;
                let mut left = bits as u128 * 1_000_000; // bit-microseconds still owed
                loop {
                    let rate = self.at(t) as u128;
                    let next = steps.iter().map(|x| x.0).find(|&f| f > t);
                    if rate >= 1000 {
                        let need_us = left.div_ceil(rate) as u64;
                        if next.is_none_or(|n| t + need_us <= n) {
                            return t + need_us;
                        }
                    }
                    let Some(n) = next else { return u64::MAX };
                    if rate >= 1000 {
                        left -= rate * (n - t) as u128;
                    }
                    t = n;
                }
            }
            cap => start_us + (bits * 1_000_000).div_ceil(cap.at(start_us).max(1000)),
        }
    }

    /// Bits the bottleneck can carry in `[from_us, to_us)`.
    pub fn bits_between(&self, from_us: u64, to_us: u64) -> u64 {
        if to_us <= from_us {
            return 0;
        }
        match self {
            Capacity::Fixed(b) => (*b as u128 * (to_us - from_us) as u128 / 1_000_000) as u64,
            Capacity::Schedule(s) => {
                let mut bits = 0u128;
                let mut t = from_us;
                while t < to_us {
                    let next = s.iter().map(|x| x.0).find(|&f| f > t).unwrap_or(u64::MAX).min(to_us);
                    bits += self.at(t) as u128 * (next - t) as u128 / 1_000_000;
                    t = next;
                }
                bits as u64
            }
            Capacity::Trace(tr) => tr.bits_between(from_us, to_us),
        }
    }
}

/// Gilbert-Elliott burst loss: a two-state Markov chain stepped once per packet, with a
/// loss probability in each state. The mean loss is
/// `(p * loss_bad + r * loss_good) / (p + r)` with `p = good_to_bad`, `r = bad_to_good`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from the good to the bad state, per packet.
    pub good_to_bad: f64,
    /// Probability of moving from the bad to the good state, per packet.
    pub bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// The long-run loss rate.
    pub fn mean_loss(&self) -> f64 {
        let (p, r) = (self.good_to_bad, self.bad_to_good);
        if p + r == 0.0 {
            return self.loss_good;
        }
        (p * self.loss_bad + r * self.loss_good) / (p + r)
    }
}

/// Link settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Bottleneck rate.
    pub capacity: Capacity,
    /// One-way propagation delay.
    pub delay_us: u64,
    /// Drop-tail limit in time: a packet that would wait longer than this before the
    /// bottleneck starts serving it is dropped.
    pub queue_us: u64,
    /// Drop-tail limit in bytes (also applied when set): a packet that would bring the
    /// bottleneck's backlog above this many bytes is dropped.
    pub queue_bytes: Option<u64>,
    /// Probability that a packet is lost at random (0..1), independent of the queue.
    pub loss: f64,
    /// Burst loss on top of `loss`.
    pub burst_loss: Option<GilbertElliott>,
    /// Seed of every random process of the link.
    pub seed: u64,
    /// Extra delay drawn uniformly from `0..=jitter_us` for each packet (may reorder).
    pub jitter_us: u64,
    /// Probability that a packet is held back an extra 5-30 ms (reordering).
    pub reorder: f64,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Spans `[from, to)` in which every packet sent is lost (an outage of this direction
    /// alone, such as a router dropping RTCP).
    pub blackouts: Vec<(u64, u64)>,
}

impl LinkConfig {
    /// A link with only capacity, delay and queue (no loss or other impairment).
    pub fn new(capacity: Capacity, delay_us: u64, queue_us: u64, seed: u64) -> Self {
        LinkConfig {
            capacity,
            delay_us,
            queue_us,
            queue_bytes: None,
            loss: 0.0,
            burst_loss: None,
            seed,
            jitter_us: 0,
            reorder: 0.0,
            duplicate: 0.0,
            blackouts: Vec::new(),
        }
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
    /// Packets dropped at random (including burst loss and blackouts).
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
    /// Trace links: the global index of the opportunity in use and the bytes it has left.
    trace_op: u64,
    trace_left: u64,
    /// `(departure_us, bytes)` of packets in the bottleneck, for the byte limit.
    backlog: VecDeque<(u64, u64)>,
    backlog_bytes: u64,
    burst_bad: bool,
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
            trace_op: 0,
            trace_left: 0,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            burst_bad: false,
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

    fn lost_at_random(&mut self) -> bool {
        if let Some(ge) = self.cfg.burst_loss {
            let flip = if self.burst_bad { ge.bad_to_good } else { ge.good_to_bad };
            if self.rng.f64() < flip {
                self.burst_bad = !self.burst_bad;
            }
            let p = if self.burst_bad { ge.loss_bad } else { ge.loss_good };
            if p > 0.0 && self.rng.f64() < p {
                return true;
            }
        }
        self.cfg.loss > 0.0 && self.rng.f64() < self.cfg.loss
    }

    /// When the bottleneck would start and finish serving `bytes` offered at `now_us`, and
    /// the trace state after it. Changes nothing.
    fn service(&self, now_us: u64, bytes: u64) -> (u64, u64, (u64, u64)) {
        match &self.cfg.capacity {
            Capacity::Trace(tr) => {
                let (mut op, mut left) = (self.trace_op, self.trace_left);
                // Credit left in an opportunity that has passed is lost (mahimahi wastes
                // unused opportunities).
                if left > 0 && tr.time_us(op) < now_us {
                    left = 0;
                    op += 1;
                }
                if left == 0 {
                    op = op.max(tr.first_at_or_after(now_us));
                    left = TRACE_OPPORTUNITY_BYTES;
                }
                let start = tr.time_us(op);
                let mut need = bytes;
                loop {
                    let take = need.min(left);
                    need -= take;
                    left -= take;
                    if need == 0 {
                        break;
                    }
                    op += 1;
                    left = TRACE_OPPORTUNITY_BYTES;
                }
                let done = tr.time_us(op);
                if left == 0 {
                    (op, left) = (op + 1, 0);
                }
                (start.max(now_us), done.max(now_us), (op, left))
            }
            cap => {
                let start = self.busy_until_us.max(now_us);
                (start, cap.finish_us(start, bytes * 8), (0, 0))
            }
        }
    }

    /// Offers a packet at `now_us`. Returns whether it was accepted (not dropped).
    pub fn send(&mut self, now_us: u64, packet: &[u8]) -> bool {
        self.stats.packets_in += 1;
        if self.cfg.blackouts.iter().any(|&(from, to)| (from..to).contains(&now_us)) || self.lost_at_random() {
            self.stats.dropped_random += 1;
            return false;
        }
        let bytes = packet.len() as u64;
        while self.backlog.front().is_some_and(|&(d, _)| d <= now_us) {
            let (_, b) = self.backlog.pop_front().expect("checked");
            self.backlog_bytes -= b;
        }
        let (start, done, trace_state) = self.service(now_us, bytes);
        let over_bytes = self.cfg.queue_bytes.is_some_and(|q| self.backlog_bytes + bytes > q);
        if start - now_us > self.cfg.queue_us || over_bytes {
            self.stats.dropped_queue += 1;
            return false;
        }
        (self.trace_op, self.trace_left) = trace_state;
        self.busy_until_us = done;
        self.backlog.push_back((done, bytes));
        self.backlog_bytes += bytes;
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
    fn silences_count_spans_without_an_opportunity_across_repeats() {
        let t = DeliveryTrace::parse("0\n100\n400\n450\n1000\n").unwrap();
        // 100-400 and 450-1000 in each of two periods.
        assert_eq!(t.silences(0, 2_000_000, 200_000), 4);
        assert_eq!(t.silences(0, 2_000_000, 301_000), 2);
        assert_eq!(t.silences(0, 1_999_000, 200_000), 3);
        // Only gaps between two opportunities inside the window.
        assert_eq!(t.silences(150_000, 1_200_000, 200_000), 1);
        assert_eq!(t.silences(50_000, 400_000, 200_000), 1);
        assert_eq!(t.silences(500_000, 500_000, 1), 0);
    }

    #[test]
    fn a_trace_started_later_replays_the_same_opportunities() {
        let t = DeliveryTrace::parse("0\n100\n400\n450\n1000\n").unwrap();
        for offset_ms in [0, 1, 100, 101, 450, 999, 1000, 2450] {
            let r = t.starting_at(offset_ms);
            assert_eq!(r.period_ms(), 1000);
            assert_eq!(r.mean_bps(), t.mean_bps());
            let from = (offset_ms % 1000) * 1000;
            // Every window of the rotated trace delivers what the same window of the
            // original does, `offset_ms` later, across repeats.
            for (a, b) in [(0, 1_000_000), (0, 2_500_000), (50_000, 420_000), (300_000, 1_450_000)] {
                assert_eq!(r.bits_between(a, b), t.bits_between(from + a, from + b), "offset {offset_ms} [{a}, {b})");
            }
            assert_eq!(r.silences(0, 3_000_000, 200_000), t.silences(from, from + 3_000_000, 200_000));
        }
        assert_eq!(t.starting_at(450).opportunities_ms, [0, 550, 550, 650, 950]);
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

    #[test]
    fn trace_delivers_one_mtu_per_opportunity_and_repeats() {
        let tr = DeliveryTrace::parse("10\n10\n20\n\n40\n").unwrap();
        assert_eq!(tr.period_ms(), 40);
        assert_eq!(tr.mean_bps(), 4 * 1500 * 8 * 1000 / 40);
        assert_eq!(tr.bits_between(0, 40_000), 4 * 12_000);
        assert_eq!(tr.bits_between(0, 80_000), 8 * 12_000);
        let mut l = Link::new(LinkConfig::new(Capacity::Trace(Arc::new(tr)), 5_000, 1_000_000, 1));
        // Three 1000-byte packets fill the two opportunities at 10 ms (3000 bytes).
        for _ in 0..6 {
            assert!(l.send(0, &[0u8; 1000]));
        }
        let mut times = Vec::new();
        while let Some(t) = l.next_delivery_us() {
            l.deliver(t, |t, _| times.push(t / 1000));
        }
        // 6000 bytes = 4 opportunities (10, 10, 20, 40 ms), plus 5 ms of propagation.
        assert_eq!(times, [15, 15, 15, 25, 45, 45]);
        // An opportunity nobody used is wasted: a packet at 41 ms waits for 50 ms (10 + 40).
        assert!(l.send(41_000, &[0u8; 100]));
        let t = l.next_delivery_us().unwrap();
        assert_eq!(t, 55_000);
    }

    #[test]
    fn trace_errors_name_the_line() {
        let e = DeliveryTrace::parse("5\nx\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(DeliveryTrace::parse("5\n3\n").unwrap_err().to_string().contains("back in time"));
        assert!(DeliveryTrace::parse("\n").is_err());
        assert!(DeliveryTrace::parse("0\n0\n").is_err());
    }

    #[test]
    fn byte_limited_queue_drops_tail() {
        let mut l = Link::new(LinkConfig {
            queue_bytes: Some(15_000),
            ..LinkConfig::new(Capacity::Fixed(1_200_000), 1_000, 10_000_000, 1)
        });
        let accepted = (0..100).filter(|_| l.send(0, &[0u8; 1500])).count();
        assert_eq!(accepted, 10);
        // One packet's service (10 ms) later there is room for exactly one more.
        assert!(l.send(10_000, &[0u8; 1500]));
        assert!(!l.send(10_000, &[0u8; 1500]));
    }

    #[test]
    fn gilbert_elliott_loss_comes_in_bursts_at_its_mean_rate() {
        let ge = GilbertElliott { good_to_bad: 0.01, bad_to_good: 0.25, loss_good: 0.0, loss_bad: 0.5 };
        let mut l = Link::new(LinkConfig {
            burst_loss: Some(ge),
            ..LinkConfig::new(Capacity::Fixed(1_000_000_000), 0, 1_000_000, 9)
        });
        let lost: Vec<bool> = (0..200_000u64).map(|i| !l.send(i * 100, &[0u8; 100])).collect();
        let rate = lost.iter().filter(|&&x| x).count() as f64 / lost.len() as f64;
        assert!((rate - ge.mean_loss()).abs() < 0.004, "{rate} vs {}", ge.mean_loss());
        // Losses cluster: P(loss | previous lost) is far above the mean.
        let pairs = lost.windows(2).filter(|w| w[0]).count() as f64;
        let both = lost.windows(2).filter(|w| w[0] && w[1]).count() as f64;
        assert!(both / pairs > 4.0 * rate, "{} vs {rate}", both / pairs);
    }

    #[test]
    fn capacity_integrates_over_time() {
        let c = Capacity::Schedule(vec![(0, 1_000_000), (1_000_000, 2_000_000)]);
        assert_eq!(c.bits_between(500_000, 1_500_000), 1_500_000);
        assert_eq!(Capacity::Fixed(8000).bits_between(0, 2_000_000), 16_000);
    }

    #[test]
    fn a_packet_caught_by_an_outage_waits_for_the_capacity_to_return() {
        // 1.2 Mbit/s, nothing from 10 ms to 1 s, then 1.2 Mbit/s again.
        let cap = Capacity::Schedule(vec![(0, 1_200_000), (10_000, 0), (1_000_000, 1_200_000)]);
        let mut l = Link::new(LinkConfig::new(cap, 0, 5_000_000, 1));
        assert!(l.send(5_000, &[0u8; 1500])); // 10 ms of service: 5 before, 5 after the outage
        assert!(l.send(500_000, &[0u8; 1500]));
        let mut times = Vec::new();
        while let Some(t) = l.next_delivery_us() {
            l.deliver(t, |t, _| times.push(t));
        }
        assert_eq!(times, [1_005_000, 1_015_000]);
    }
}
