//! Bandwidth probing: short bursts sent faster than the target, whose arrival spacing
//! measures how much the path can carry without waiting for the 8 %/s growth of AIMD.
//! GCC probes at 3x and 6x the start rate and again at 2x a result that came close to the
//! probed rate (libwebrtc `probe_controller`); a cluster needs 5 packets and 15 ms, and at
//! least 80 % of it must arrive; the estimate is the lower of the send and receive rates,
//! or 95 % of the receive rate when the receiver saw less than 90 % of the send rate
//! (libwebrtc `probe_bitrate_estimator`). sealcam also probes at 2x the target after it
//! has held a steady state for a while (capacity may have grown while the sender filled
//! the old one, the 1 -> 2.5 Mbit/s step of RFC 8867 5.1), every 2 s, backing off to every
//! 4 s while those probes find nothing, and when application-limited (GCC's ALR probing).

/// Probe multiples of the start rate.
pub(crate) const INITIAL_PROBE_SCALES: [f64; 2] = [3.0, 6.0];
/// Rounds of initial probes at most (a round none of whose clusters is answered is
/// repeated once the path delivers).
pub(crate) const INITIAL_PROBE_ROUNDS: u32 = 3;
/// A result above this fraction of the probed rate triggers a further probe.
pub(crate) const FURTHER_PROBE_THRESHOLD: f64 = 0.7;
/// Multiple of the last result for further probes.
pub(crate) const FURTHER_PROBE_SCALE: f64 = 2.0;
/// Multiple of the target for periodic (steady-state) probes: small enough that a probe
/// into a full link adds little queue, large enough to climb a capacity step in a few
/// probes (1 -> 1.5 -> 2.25 -> 2.5 Mbit/s).
pub(crate) const STEADY_PROBE_SCALE: f64 = 1.5;
/// Least packets in a cluster.
pub(crate) const MIN_CLUSTER_PACKETS: u32 = 5;
/// Least duration of a cluster at its rate.
pub(crate) const MIN_CLUSTER_US: u64 = 15_000;
/// Steady-state clusters last this long and hold at least this many packets: long enough
/// that a probe into a full queue (shared with other flows) comes out visibly slower.
pub(crate) const STEADY_CLUSTER: (u64, u32) = (30_000, 6);
/// Fraction of a cluster that must arrive for a result.
pub(crate) const MIN_RECEIVED_FRACTION: f64 = 0.8;
/// Receive/send ratio under which the link is taken to be saturated by the probe.
pub(crate) const SATURATED_RATIO: f64 = 0.9;
/// Fraction of the receive rate used when saturated.
pub(crate) const SATURATED_UTILIZATION: f64 = 0.95;
/// First wait before a steady-state probe; doubled while probes find nothing, up to the max.
pub(crate) const STEADY_PROBE_INTERVAL_US: (u64, u64) = (1_500_000, 1_500_000);
/// The recovery probe goes to this fraction of the rate before the drop (libwebrtc's
/// probe after a large drop uses 0.85) ...
pub(crate) const RECOVERY_PROBE_FRACTION: f64 = 0.85;
/// ... once the path has been steady this long, within this time of the drop.
pub(crate) const RECOVERY_STEADY_US: u64 = 300_000;
/// A drop older than this no longer triggers a recovery probe.
pub(crate) const RECOVERY_WINDOW_US: u64 = 5_000_000;
/// A probe whose result has not come in after this long is given up.
pub(crate) const PROBE_TIMEOUT_US: u64 = 1_000_000;
/// Interval of probes while application-limited.
pub(crate) const ALR_PROBE_INTERVAL_US: u64 = 5_000_000;

/// A burst the sender should send at `rate_bps`, `bytes` long, tagged `id`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeCluster {
    /// Identifier (never 0).
    pub id: u16,
    /// Rate to send it at.
    pub rate_bps: f64,
    /// Bytes to send.
    pub bytes: usize,
    /// Least packets.
    pub packets: u32,
    /// A probe after the start (periodic, recovery or ALR): its result only counts when
    /// the probe did not saturate the path. On a path shared with other flows a probe always "finds" more than the
    /// flow's share (its packets push into everyone's queue); acting on that would let the
    /// largest flow grow at the others' expense.
    pub steady: bool,
}

impl ProbeCluster {
    fn new(id: u16, rate_bps: f64) -> Self {
        let bytes = (rate_bps * MIN_CLUSTER_US as f64 / 8e6).ceil() as usize;
        ProbeCluster { id, rate_bps, bytes, packets: MIN_CLUSTER_PACKETS, steady: false }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    id: u16,
    steady: bool,
    rate_bps: f64,
    sent: u32,
    received: u32,
    bytes: u64,
    first_send: Option<u64>,
    last_send: u64,
    last_send_size: u64,
    first_arrival: Option<(i64, u64)>,
    last_arrival: i64,
}

/// Plans probes and turns their feedback into rates.
#[derive(Debug, Clone)]
pub struct Prober {
    next_id: u16,
    pending: Vec<ProbeCluster>,
    tallies: Vec<Tally>,
    max_bps: f64,
    steady_since_us: Option<u64>,
    steady_wait_us: u64,
    last_probe_us: Option<u64>,
    in_flight_id: Option<(u16, u64)>,
    started: bool,
    /// Rounds of initial probes planned, and whether one of them produced a result.
    initial_rounds: u32,
    initial_result: bool,
    drop: Option<(u64, f64)>,
    /// The link stalls (radio): see [`Prober::set_stalling`].
    stalling: bool,
}

impl Prober {
    /// A prober for a sender whose ceiling is `max_bps`.
    pub fn new(max_bps: f64) -> Self {
        Prober {
            next_id: 1,
            pending: Vec::new(),
            tallies: Vec::new(),
            max_bps,
            steady_since_us: None,
            steady_wait_us: STEADY_PROBE_INTERVAL_US.0,
            last_probe_us: None,
            in_flight_id: None,
            started: false,
            initial_rounds: 0,
            initial_result: false,
            drop: None,
            stalling: false,
        }
    }

    /// Changes the ceiling.
    pub fn set_max(&mut self, max_bps: f64) {
        self.max_bps = max_bps;
    }

    fn plan(&mut self, now_us: u64, rate_bps: f64, steady: bool) {
        let rate = rate_bps.min(self.max_bps);
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        let mut cluster = ProbeCluster { steady, ..ProbeCluster::new(id, rate) };
        if steady {
            cluster.bytes = (rate * STEADY_CLUSTER.0 as f64 / 8e6).ceil() as usize;
            cluster.packets = STEADY_CLUSTER.1;
        }
        self.pending.push(cluster);
        self.tallies.push(Tally { id, steady, rate_bps: rate, ..Tally::default() });
        if self.tallies.len() > 8 {
            self.tallies.remove(0);
        }
        self.last_probe_us = Some(now_us);
        self.in_flight_id = Some((id, now_us));
    }

    /// Feedback came back after an outage; the rate was `before_bps`: once the path is
    /// steady again, probe for it (a cellular outage often ends at the old capacity).
    pub fn on_drop(&mut self, now_us: u64, before_bps: f64) {
        self.drop = Some((now_us, before_bps));
    }

    /// Whether the link stalled lately (packets arriving well behind their send spacing: a
    /// radio link). There a recovery probe that saturates the path still counts (at 95 % of
    /// its receive rate, as the initial probes): with no other flow in the queue to take a
    /// share from, what came through is the capacity. On the T-Mobile UMTS trace recovery
    /// probes aimed at the rate before an outage saturated a path that had come back at a
    /// third of it, were thrown away, and the target crawled back at 8 %/s; counting them:
    /// utilization 0.73 -> 0.75, 33 -> 24 freezes (p95 316 -> 338 ms), its other windows
    /// 0.75-0.83 -> 0.76-0.80 (0.78, 0.77, 0.80, 0.76), LTE 0.87 with 20 -> 18 freezes; links
    /// that do not stall unchanged.
    pub fn set_stalling(&mut self, stalling: bool) {
        self.stalling = stalling;
    }

    /// Arms a recovery probe towards `capacity_bps` unless one is armed already.
    pub fn arm_recovery(&mut self, now_us: u64, capacity_bps: f64) {
        if self.drop.is_none() && !self.outstanding(now_us) {
            self.drop = Some((now_us, capacity_bps));
        }
    }

    /// A probe is outstanding until it is sent and its result is in, or a second has passed
    /// (its packets may never all be reported).
    fn outstanding(&self, now_us: u64) -> bool {
        self.in_flight_id.is_some_and(|(_, t)| now_us < t + PROBE_TIMEOUT_US) || !self.pending.is_empty()
    }

    /// Decides whether to probe now. `steady` says the detector and the loss controller see
    /// no congestion; `alr` that the encoder does not fill the target.
    /// `quiet` that no overuse was seen lately (periodic probes need it; recovery probes
    /// do not).
    pub fn on_state(&mut self, now_us: u64, target_bps: f64, steady: bool, quiet: bool, alr: bool) {
        // The initial probes again, once the path is steady, when none of them came back
        // (sent into a link that delivered nothing yet: the T-Mobile UMTS trace opens with
        // 637 ms without a delivery opportunity, and the 300 ms queue drops every probe).
        let retry = self.started
            && !self.initial_result
            && self.initial_rounds < INITIAL_PROBE_ROUNDS
            && steady
            && !self.outstanding(now_us);
        if !self.started || retry {
            self.started = true;
            self.initial_rounds += 1;
            for s in INITIAL_PROBE_SCALES {
                if target_bps * s / INITIAL_PROBE_SCALES[0] <= self.max_bps || s == INITIAL_PROBE_SCALES[0] {
                    self.plan(now_us, target_bps * s, false);
                }
            }
            return;
        }
        if self.outstanding(now_us) {
            return;
        }
        if !steady {
            self.steady_since_us = None;
            return;
        }
        if target_bps >= self.max_bps * 0.99 {
            return;
        }
        let since = *self.steady_since_us.get_or_insert(now_us);
        if let Some((at, before)) = self.drop {
            if now_us > at + RECOVERY_WINDOW_US {
                self.drop = None;
            } else if now_us >= since + RECOVERY_STEADY_US {
                self.drop = None;
                let rate = (RECOVERY_PROBE_FRACTION * before).max(target_bps * FURTHER_PROBE_SCALE);
                self.plan(now_us, rate, !self.stalling);
                return;
            }
        }
        if !quiet {
            return;
        }
        let wait = if alr { ALR_PROBE_INTERVAL_US } else { self.steady_wait_us };
        let last = self.last_probe_us.unwrap_or(0).max(since);
        if now_us >= last + wait {
            self.plan(now_us, target_bps * STEADY_PROBE_SCALE, true);
            // Each probe that finds nothing doubles the wait; a success resets it.
            self.steady_wait_us = (self.steady_wait_us * 2).min(STEADY_PROBE_INTERVAL_US.1);
        }
    }

    /// The next cluster to send, if any.
    pub fn take_cluster(&mut self) -> Option<ProbeCluster> {
        (!self.pending.is_empty()).then(|| self.pending.remove(0))
    }

    /// A packet of cluster `id` was sent.
    pub fn on_sent(&mut self, id: u16, sent_us: u64, size: usize) {
        if let Some(t) = self.tallies.iter_mut().find(|t| t.id == id) {
            t.sent += 1;
            t.first_send.get_or_insert(sent_us);
            t.last_send = sent_us;
            t.last_send_size = size as u64;
        }
    }

    /// Feedback for a packet of cluster `id`. Returns a rate once the cluster has enough.
    pub fn on_result(&mut self, id: u16, sent_us: u64, size: usize, arrival_us: Option<i64>) -> Option<f64> {
        let t = self.tallies.iter_mut().find(|t| t.id == id)?;
        let _ = sent_us;
        let arrival = arrival_us?;
        t.received += 1;
        t.bytes += size as u64;
        match t.first_arrival {
            Some((a, _)) if a <= arrival => {}
            _ => t.first_arrival = Some((arrival, size as u64)),
        }
        t.last_arrival = t.last_arrival.max(arrival);
        let min_packets = if t.steady { STEADY_CLUSTER.1 } else { MIN_CLUSTER_PACKETS };
        if t.sent < min_packets || (t.received as f64) < MIN_RECEIVED_FRACTION * t.sent as f64 {
            return None;
        }
        if t.received < t.sent {
            // Wait for the rest; the result is computed when the last one comes in, or
            // here once enough have arrived and none remain outstanding.
            return None;
        }
        self.finish(id)
    }

    /// Computes cluster `id`'s result from what arrived; forgets the cluster.
    fn finish(&mut self, id: u16) -> Option<f64> {
        let pos = self.tallies.iter().position(|t| t.id == id)?;
        let t = self.tallies.remove(pos);
        if self.in_flight_id.is_some_and(|(i, _)| i == id) {
            self.in_flight_id = None;
        }
        let (first_arrival, first_size) = t.first_arrival?;
        let send_us = t.last_send.saturating_sub(t.first_send?) as f64;
        let recv_us = (t.last_arrival - first_arrival) as f64;
        if send_us <= 0.0 || recv_us <= 0.0 || send_us > 1e6 {
            return None;
        }
        let send_bps = (t.bytes.saturating_sub(t.last_send_size)) as f64 * 8e6 / send_us;
        let recv_bps = (t.bytes.saturating_sub(first_size)) as f64 * 8e6 / recv_us;
        // The pacer may let a cluster out faster than planned (an idle pacer's burst
        // allowance): the path is saturated only if it delivered less than the slower of
        // the two.
        let saturated = recv_bps < SATURATED_RATIO * send_bps.min(t.rate_bps);
        if saturated && t.steady {
            return None;
        }
        self.initial_result |= !t.steady;
        let rate = if saturated { SATURATED_UTILIZATION * recv_bps } else { send_bps };
        let rate = rate.min(recv_bps);
        if rate > FURTHER_PROBE_THRESHOLD * t.rate_bps && t.rate_bps < self.max_bps {
            self.steady_wait_us = STEADY_PROBE_INTERVAL_US.0;
            let scale = if t.steady { STEADY_PROBE_SCALE } else { FURTHER_PROBE_SCALE };
            self.plan(t.last_send, rate * scale, t.steady);
        }
        Some(rate)
    }

    /// A packet of cluster `id` was reported lost; finishes the cluster when all are in.
    pub fn on_lost(&mut self, id: u16) -> Option<f64> {
        let t = self.tallies.iter_mut().find(|t| t.id == id)?;
        t.sent = t.sent.saturating_sub(1).max(t.received);
        if t.received >= MIN_CLUSTER_PACKETS && t.received >= t.sent {
            return self.finish(id);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_probes_then_a_result_at_the_bottleneck_rate() {
        let mut p = Prober::new(5e6);
        p.on_state(0, 500_000.0, true, true, false);
        let c1 = p.take_cluster().unwrap();
        let c2 = p.take_cluster().unwrap();
        assert_eq!((c1.rate_bps, c2.rate_bps), (1.5e6, 3e6));
        // Cluster 1 sent at 1.5 Mbit/s (1000 bytes every 5.33 ms), through a 1 Mbit/s
        // bottleneck (one packet every 8 ms).
        let mut res = None;
        for i in 0..6u64 {
            p.on_sent(c1.id, i * 5_333, 1000);
        }
        for i in 0..6u64 {
            res = p.on_result(c1.id, i * 5_333, 1000, Some(50_000 + i as i64 * 8_000)).or(res);
        }
        let r = res.expect("a result");
        assert!((r - 0.95e6).abs() < 1e4, "{r}");
    }

    #[test]
    fn a_probe_that_gets_through_asks_for_a_further_one() {
        let mut p = Prober::new(10e6);
        p.on_state(0, 1e6, true, true, false);
        let c = p.take_cluster().unwrap();
        let _ = p.take_cluster();
        for i in 0..6u64 {
            p.on_sent(c.id, i * 2_666, 1000);
        }
        let mut r = None;
        for i in 0..6u64 {
            r = p.on_result(c.id, 0, 1000, Some(i as i64 * 2_666)).or(r);
        }
        assert!((r.unwrap() - 3e6).abs() < 0.1e6);
        assert!((p.take_cluster().unwrap().rate_bps - 6e6).abs() < 0.3e6);
    }

    #[test]
    fn a_probe_whose_result_never_comes_does_not_block_recovery_probes() {
        let mut p = Prober::new(5e6);
        p.on_state(0, 500_000.0, true, true, false);
        // The first initial cluster gets through; the second and the further probe the
        // first asks for go out into an outage: no packet of them is ever reported.
        let first = p.take_cluster().unwrap();
        for i in 0..6u64 {
            p.on_sent(first.id, i * 5_333, 1000);
        }
        for i in 0..6u64 {
            let _ = p.on_result(first.id, 0, 1000, Some(50_000 + i as i64 * 5_333));
        }
        while let Some(c) = p.take_cluster() {
            for i in 0..c.packets as u64 {
                p.on_sent(c.id, 100_000 + i * 1_000, 1000);
            }
        }
        // Later the rate collapses far below a known capacity: a recovery probe is armed
        // and, once the path is steady, sent.
        let t = 2_000_000;
        p.arm_recovery(t, 2e6);
        p.on_state(t, 400_000.0, true, false, false);
        p.on_state(t + RECOVERY_STEADY_US, 400_000.0, true, false, false);
        let c = p.take_cluster().expect("a recovery probe");
        assert!((c.rate_bps - RECOVERY_PROBE_FRACTION * 2e6).abs() < 1.0, "{}", c.rate_bps);
    }

    #[test]
    fn initial_probes_that_all_go_unanswered_are_sent_again_once_the_path_delivers() {
        let mut p = Prober::new(5e6);
        p.on_state(0, 500_000.0, true, true, false);
        let lost: Vec<_> = std::iter::from_fn(|| p.take_cluster()).collect();
        assert_eq!(lost.len(), INITIAL_PROBE_SCALES.len());
        for c in &lost {
            for i in 0..c.packets as u64 {
                p.on_sent(c.id, i * 1_000, 1000);
            }
        }
        // Nothing is reported (a link that opens with an outage). While they may still come
        // back, and while the path is not steady, nothing new is planned.
        p.on_state(500_000, 500_000.0, true, true, false);
        p.on_state(PROBE_TIMEOUT_US + 1, 500_000.0, false, true, false);
        assert!(p.take_cluster().is_none());
        // Steady after the timeout: the initial round again, from the current target.
        p.on_state(PROBE_TIMEOUT_US + 50_000, 600_000.0, true, true, false);
        let again: Vec<_> = std::iter::from_fn(|| p.take_cluster()).collect();
        let rates: Vec<f64> = again.iter().map(|c| c.rate_bps).collect();
        assert_eq!(rates, INITIAL_PROBE_SCALES.map(|s| 600_000.0 * s).to_vec());
        // This round gets through: no further initial round after its result.
        let c = again[0];
        for i in 0..6u64 {
            p.on_sent(c.id, 2_000_000 + i * 5_000, 1000);
        }
        let mut r = None;
        for i in 0..6u64 {
            r = p.on_result(c.id, 0, 1000, Some(2_050_000 + i as i64 * 8_000)).or(r);
        }
        assert!(r.is_some());
        while p.take_cluster().is_some() {}
        p.on_state(4 * PROBE_TIMEOUT_US, 600_000.0, true, false, false);
        assert!(p.take_cluster().is_none_or(|c| c.steady), "no initial round after a result");
    }

    #[test]
    fn on_a_stalling_link_a_saturated_recovery_probe_still_counts() {
        let result = |stalling: bool| {
            let mut p = Prober::new(5e6);
            p.on_state(0, 500_000.0, true, true, false);
            while p.take_cluster().is_some() {}
            p.initial_result = true;
            p.in_flight_id = None;
            p.set_stalling(stalling);
            p.arm_recovery(1_000_000, 2e6);
            p.on_state(1_000_000, 400_000.0, true, false, false);
            p.on_state(1_000_000 + RECOVERY_STEADY_US, 400_000.0, true, false, false);
            let c = p.take_cluster().expect("a recovery probe");
            // Sent at 1.7 Mbit/s (1000 bytes every 4.7 ms), received at 0.8 Mbit/s (every
            // 10 ms): the path is saturated.
            let n = c.packets.max(MIN_CLUSTER_PACKETS) as u64;
            for i in 0..n {
                p.on_sent(c.id, 2_000_000 + i * 4_700, 1000);
            }
            (0..n).fold(None, |r, i| p.on_result(c.id, 0, 1000, Some(2_050_000 + i as i64 * 10_000)).or(r))
        };
        let r = result(true).expect("a result on a stalling link");
        assert!((r - SATURATED_UTILIZATION * 0.8e6).abs() < 1e4, "{r}");
        assert!(result(false).is_none(), "elsewhere a saturated recovery probe says nothing");
    }
}
