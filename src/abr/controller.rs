//! The camera's rate controller: turns transport-wide feedback into a target bitrate.
//!
//! target = min(delay-based AIMD target, loss-based bound), raised at once by probe
//! results; while a queue stands, at most 1.25x the acknowledged rate and scaled down to
//! drain it; bounded by the sender's floor and ceiling. It also keeps the RTT, the
//! acknowledged (receive) rate, the queueing delay, the bytes in flight with their
//! congestion window, and whether the sender is application-limited (ALR).
//!
//! Sans-IO and allocation-free per packet: the sender calls [`RateController::on_sent`]
//! for every packet it sends, [`RateController::on_result`] for every packet a feedback
//! message reports, then [`RateController::on_feedback`] once per message.

use std::collections::VecDeque;

use super::aimd::Aimd;
use super::delay::{DelayDetector, Usage};
use super::loss::LossController;
use super::probe::{ProbeCluster, Prober};
use crate::codec::MIN_BITRATE_BPS;

/// Window of the acknowledged-rate measurement (receive time).
pub(crate) const ACKED_WINDOW_US: i64 = 300_000;
/// ... holding at least this many packets (at 100 kbit/s a 300 ms window holds three) ...
pub(crate) const ACKED_MIN_PACKETS: usize = 8;
/// ... as long as they arrived within this time.
pub(crate) const ACKED_MAX_WINDOW_US: i64 = 2_000_000;
/// Window of the ALR measurement (send time).
pub(crate) const ALR_WINDOW_US: u64 = 500_000;
/// Application-limited when media is sent below this fraction of the target
/// (libwebrtc's ALR detector uses 65 % of the estimate as its usage bound).
pub(crate) const ALR_USAGE: f64 = 0.65;
/// Data in flight may reach the target rate times (min RTT + this); above it the sender
/// stops sending and drops new frames (libwebrtc's congestion-window pushback uses a
/// queue allowance of the same kind). 300 ms: measured against 200 and 400 ms on the
/// RFC 8867 and cellular runs, it lowers p95 delay on 5.1, 5.4 and LTE with utilization
/// unchanged or higher.
pub(crate) const CWND_QUEUE_ALLOWANCE_MS: f64 = 300.0;
/// The congestion window never falls below this many bytes.
pub(crate) const CWND_MIN_BYTES: u64 = 6_000;
/// Memory of the minimum one-way delay (the queue-free base) and of the minimum RTT.
pub(crate) const BASE_DELAY_WINDOW_US: u64 = 10_000_000;
/// RTT assumed until one is measured.
pub(crate) const DEFAULT_RTT_MS: f64 = 200.0;
/// Without feedback for this long (while data is in flight), the target halves, once per
/// this interval: the path may have gone away entirely.
pub(crate) const FEEDBACK_TIMEOUT_US: u64 = 1_000_000;

/// The least silence that counts as lost feedback (see `RateController::first_timeout_us`).
pub(crate) const FIRST_TIMEOUT_MIN_US: u64 = 300_000;

/// Overuse after a decrease is ignored while the queueing delay is below this fraction of
/// what it was at the decrease (the queue is draining).
pub(crate) const DRAINING_FRACTION: f64 = 0.75;
/// A target below this fraction of the link capacity estimate arms a recovery probe.
pub(crate) const FAR_BELOW_CAPACITY: f64 = 0.7;

/// Decreases less than this apart form one run (one congestion event seen over several
/// round trips).
pub(crate) const DECREASE_RUN_US: u64 = 1_000_000;
/// A run of decreases that leaves the target under this fraction of where it began arms a
/// recovery probe towards the old rate (libwebrtc's probe controller probes after a drop
/// below 66 % of the estimate, `kBitrateDropThreshold`; 80 % here: on the T-Mobile UMTS trace
/// utilization 0.68 -> 0.70 with p95 378 ms, on four other windows of it 0.72-0.80, on the LTE
/// trace 0.85 -> 0.81 but p95 165 -> 141 ms and 23 -> 16 freezes; links that do not stall are
/// unaffected) ...
pub(crate) const LARGE_DROP_FRACTION: f64 = 0.8;
/// ... when the link stalled lately: two packets arrived this much further apart than they
/// were sent (a radio link's scheduling gap or a capacity dip; flows sharing a wired
/// bottleneck do not stall each other this long, and there a recovery probe would only
/// take back a newcomer's share) ...
pub(crate) const STALL_US: i64 = 40_000;
/// ... within this time.
pub(crate) const STALL_MEMORY_US: u64 = 2_000_000;

/// Time constant of the queueing-delay average (arrival time) ...
pub(crate) const QUEUE_SMOOTHING_US: f64 = 50_000.0;
/// ... and the least weight a sample gets, as if this long had passed (packets arriving
/// together): 0.1 at 5.3 ms, the per-packet weight of earlier versions at about 2 Mbit/s.
pub(crate) const QUEUE_SMOOTHING_MIN_DT_US: f64 = 5_300.0;

/// Queueing delay above which the target is scaled down to drain the queue (25 ms, was 50:
/// with AIMD's gentler 0.9x decrease the drain does more of the work; see `aimd::BETA`) ...
pub(crate) const DRAIN_FROM_MS: f64 = 25.0;
/// ... and the queueing delay beyond `DRAIN_FROM_MS` that would scale the target to zero
/// (200 ms, was 400: 100 ms of queue now scales the target by 0.63).
pub(crate) const DRAIN_SCALE_MS: f64 = 200.0;
/// The drain never scales the target below this fraction.
pub(crate) const DRAIN_MIN_FACTOR: f64 = 0.5;
/// While queueing delay is above `DRAIN_FROM_MS`, the target is at most this multiple of
/// the acknowledged rate (before the drain scaling). A standing queue means the link
/// delivers less than is sent; a target far above what it delivers keeps the queue growing
/// for as long as the trend line takes to call overuse, which on a radio link's noisy
/// arrivals can be most of a second. Such targets come from a rate restored after an
/// outage (the T-Mobile UMTS trace at 84 s: AIMD back at 0.89 Mbit/s, the link delivering
/// 0.25-0.43; the drain's half-rate floor held the target at 0.44 while the queue grew from
/// 110 to 250 ms with the detector reading "normal") and from probes whose short clusters
/// arrived in a radio burst. libwebrtc's AIMD bounds its increases by 1.5x the acknowledged
/// throughput (`aimd_rate_control.cc`) for the same reason; here the bound applies only
/// while a queue stands, so probing and growth on an empty path are untouched. Measured
/// side by side (T-Mobile UMTS, 40 start shifts): p95 delay median 319 -> 298 ms, mean 329
/// -> 304 ms, utilization 0.745 -> 0.746; Verizon LTE (40 shifts): utilization 0.860 ->
/// 0.854, p95 142 -> 140 ms, freezes 17 both. 1.0x: UMTS 303 ms but LTE utilization 0.845
/// (20 shifts); 1.5x: UMTS 315 ms.
pub(crate) const QUEUE_ACKED_MULTIPLE: f64 = 1.25;

/// Packets sent at most this far apart measure jitter by their difference in delay.
pub(crate) const JITTER_PAIR_US: u64 = 10_000;
/// Gain of the jitter average per pair (RFC 3550's interarrival jitter uses 1/16).
pub(crate) const JITTER_GAIN: f64 = 1.0 / 16.0;
/// Below this mean jitter the delay signals take every packet's own delay (a bottleneck's
/// serialization alone moves the delay of paced packets by a few ms; a radio link's
/// scheduling by 10-15 ms: at 10 ms the Verizon LTE trace lost 0.03 of utilization and gained
/// 90 ms of p95 delay on two of two start shifts) ...
pub(crate) const JITTER_FLOOR_US: f64 = 15_000.0;
/// ... above it, the least delay over this multiple of the jitter ...
pub(crate) const JITTER_WINDOW_MULTIPLE: f64 = 2.0;
/// ... of send time, at most this long.
pub(crate) const JITTER_WINDOW_MAX_US: f64 = 200_000.0;
/// Entries of the sliding minimum (bounds memory at any packet rate).
const OWD_MIN_CAPACITY: usize = 1024;

/// The trend line counts as slow when its full window spans more than this (at 100 kbit/s its
/// 20 points take two seconds, at 2 Mbit/s about 150 ms) or under `ACKED_MIN_PACKETS` packets
/// arrived in the acked rate's window. Counting a window emptied by a reset after a stall as
/// slow cost the Verizon LTE trace 90 ms of p95 delay on a start shift ...
pub(crate) const SLOW_TREND_SPAN_MS: f64 = 1000.0;
/// ... and then a smoothed queueing delay above this ...
pub(crate) const QUEUE_OVERUSE_MS: f64 = 100.0;
/// ... with the delay-based target above this multiple of the acknowledged rate is overuse,
/// whatever the trend line says.
pub(crate) const QUEUE_OVERUSE_ACKED_MULTIPLE: f64 = 2.0;

/// The path counts as steady (probes may go out) while queueing delay is below this ...
pub(crate) const STEADY_QUEUE_MS: f64 = 30.0;
/// ... or below this on a link that stalled lately (see `STALL_US`). On the T-Mobile UMTS
/// trace the 50 ms average of queueing delay crossed 30 ms every second or so from radio
/// scheduling alone, so the 300 ms of steadiness a recovery probe waits for never came and
/// the target climbed back from an outage at 8 %/s for 12 s at half the capacity. 60 ms:
/// utilization on the UMTS trace 0.72 -> 0.73, on its four other windows 0.72-0.81 ->
/// 0.75-0.83, LTE 0.86 -> 0.87 (windows 0.83-0.85 -> 0.84-0.87); links that do not stall
/// unchanged.
pub(crate) const STEADY_QUEUE_STALLING_MS: f64 = 60.0;

/// Without feedback, a full window lets one packet through this often.
pub(crate) const TRICKLE_INTERVAL_US: u64 = 200_000;
/// Without feedback the target halves once per [`FEEDBACK_TIMEOUT_US`] down to this fraction
/// of the rate before, and is sent at, window or not: the feedback path alone may be gone
/// (a router dropping RTCP) while media still arrives, and video must keep flowing; a
/// quarter of the rate bounds what a dead media path is offered.
pub(crate) const SAFE_RATE_FRACTION: f64 = 0.25;

/// Periodic probes need this long without an overuse.
pub(crate) const QUIET_BEFORE_PROBE_US: u64 = 3_000_000;

/// A probe result counts up to this multiple of the acknowledged rate (or the target).
pub(crate) const PROBE_MAX_ACKED_MULTIPLE: f64 = 2.0;

/// A path estimate that falls below this fraction of what it was in one step is a collapse
/// of the path: the sender drops its unsent queue and sends a keyframe at the new rate
/// (`Sender::apply_target`), and the controller may undo it ...
pub(crate) const COLLAPSE_RATIO: f64 = 0.5;
/// ... and it may be undone if no loss was reported for this long before it: a radio link
/// that loses nothing but stalls for 150-200 ms (the Verizon LTE trace at 12.8 and 14 s)
/// halves the acknowledged rate without any congestion. On a link that loses packets every
/// few seconds (the T-Mobile UMTS trace) the same fall is usually real ...
pub(crate) const UNDO_QUIET_LOSS_US: u64 = 2_000_000;
/// ... within this time, if no loss is reported meanwhile ...
pub(crate) const UNDO_WITHIN_US: u64 = 500_000;
/// ... once the newest arrivals over this window (at least `UNDO_MIN_PACKETS` packets over
/// `UNDO_MIN_SPAN_US`) come at `UNDO_RATE_FRACTION` of the earlier estimate or more: the
/// stall is over and the path carries what it did. The estimate is then set back to that
/// fraction of it. This is TCP's undo of a spurious retransmission timeout (Eifel, RFC 3522;
/// F-RTO, RFC 5682) applied to a rate: later feedback shows the loss of rate was not one.
/// Measured (20 start shifts each, before -> after): Verizon LTE utilization 0.854 -> 0.866,
/// p95 160 -> 160 ms, freezes 14 -> 13; T-Mobile UMTS 0.746 / 291 ms / 25 -> 0.745 / 294 /
/// 25. Without the loss condition UMTS p95 rose to 312 ms (there a burst delivering the
/// backlog after a dip is not the rate the link keeps).
pub(crate) const UNDO_RATE_WINDOW_US: i64 = 100_000;
/// See `UNDO_RATE_WINDOW_US`.
pub(crate) const UNDO_MIN_PACKETS: usize = 8;
/// See `UNDO_RATE_WINDOW_US`.
pub(crate) const UNDO_MIN_SPAN_US: i64 = 10_000;
/// See `UNDO_RATE_WINDOW_US`.
pub(crate) const UNDO_RATE_FRACTION: f64 = 0.9;

/// Settings of the controller.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AbrConfig {
    /// The rate to start at.
    pub start_bps: u32,
    /// The floor.
    pub min_bps: u32,
    /// The ceiling.
    pub max_bps: u32,
}

impl AbrConfig {
    /// Starts at `start_bps`, within `[min_bps, max_bps]`.
    pub fn new(start_bps: u32, min_bps: u32, max_bps: u32) -> Self {
        AbrConfig { start_bps, min_bps, max_bps }
    }
}

/// A snapshot of what the controller believes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct AbrState {
    /// The target bitrate.
    pub target_bps: u32,
    /// The delay-based (AIMD) target.
    pub delay_based_bps: u32,
    /// The loss-based bound, if any.
    pub loss_bound_bps: Option<u32>,
    /// The acknowledged (receive) rate.
    pub acked_bps: Option<u32>,
    /// Smoothed RTT.
    pub rtt_ms: f64,
    /// Queueing delay over the path's base delay.
    pub queue_delay_ms: f64,
    /// Loss of the last report, and the learnt background loss.
    pub loss: f64,
    /// Background (non-congestive) loss.
    pub background_loss: f64,
    /// Detector conclusion.
    pub usage: Usage,
    /// Application-limited.
    pub alr: bool,
    /// Bytes sent and not yet reported.
    pub in_flight_bytes: u64,
    /// The congestion window.
    pub cwnd_bytes: u64,
    /// Probe results applied.
    pub probes_applied: u32,
    /// AIMD's link capacity estimate, if set.
    pub link_capacity_kbps: Option<u32>,
    /// Collapses of the estimate undone because the path turned out to have stalled only
    /// (see [`UNDO_RATE_WINDOW_US`]).
    pub collapses_undone: u32,
}

/// Windowed minimum over time, in two halves (a cheap approximation of a sliding min).
#[derive(Debug, Clone, Copy)]
struct WindowMin {
    window_us: u64,
    cur: Option<(u64, i64)>,
    prev: Option<i64>,
}

impl WindowMin {
    fn new(window_us: u64) -> Self {
        WindowMin { window_us, cur: None, prev: None }
    }
    fn update(&mut self, now_us: u64, v: i64) {
        match self.cur {
            Some((start, m)) if now_us < start + self.window_us / 2 => self.cur = Some((start, m.min(v))),
            Some((_, m)) => {
                self.prev = Some(m);
                self.cur = Some((now_us, v));
            }
            None => self.cur = Some((now_us, v)),
        }
    }
    fn get(&self) -> Option<i64> {
        match (self.cur, self.prev) {
            (Some((_, a)), Some(b)) => Some(a.min(b)),
            (Some((_, a)), None) => Some(a),
            _ => None,
        }
    }
}

/// The rate controller.
#[derive(Debug, Clone)]
pub struct RateController {
    cfg: AbrConfig,
    detector: DelayDetector,
    aimd: Aimd,
    loss: LossController,
    prober: Prober,
    target_bps: f64,
    srtt_ms: Option<f64>,
    min_rtt: WindowMin,
    base_owd: WindowMin,
    queue_delay_ms: f64,
    acked: VecDeque<(i64, u32)>,
    acked_bytes: u64,
    media_sent: VecDeque<(u64, u32)>,
    media_sent_bytes: u64,
    total_sent: u64,
    reported_upto: u64,
    newest_reported_send_us: u64,
    last_feedback_us: Option<u64>,
    last_timeout_cut_us: u64,
    probes_applied: u32,
    started_us: Option<u64>,
    /// The delay-based target before feedback timeouts cut it (restored when feedback
    /// returns: an outage is not a measure of capacity).
    before_timeout_bps: Option<f64>,
    last_sent_us: u64,
    queue_delay_at_decrease: Option<f64>,
    /// The delay-based target before the current run of decreases began, and when the
    /// last decrease of the run happened.
    before_decreases: Option<(f64, u64)>,
    /// Send and arrival time of the newest packet that arrived, in sequence order.
    prev_arrival: Option<(u64, i64)>,
    /// Mean change of one-way delay between packets sent close together (µs): the path's
    /// random jitter.
    jitter_us: f64,
    /// Send time and one-way delay of the previous packet reported (for `jitter_us`).
    prev_owd: Option<(u64, i64)>,
    /// Sliding minimum of one-way delay over the last [`RateController::jitter_window_us`]
    /// of send time: (send time, delay), delays increasing.
    owd_min: VecDeque<(u64, i64)>,
    /// When the link last stalled.
    last_stall_us: Option<u64>,
    /// When feedback last reported a lost packet.
    last_loss_us: Option<u64>,
    /// A collapse that may still be undone: when, and the path estimate before it.
    undo: Option<(u64, f64)>,
    collapses_undone: u32,
}

impl RateController {
    /// A controller starting at `cfg.start_bps` (clamped into `[min, max]`).
    pub fn new(cfg: AbrConfig) -> Self {
        let (min, max) =
            (cfg.min_bps.max(MIN_BITRATE_BPS) as f64, cfg.max_bps.max(cfg.min_bps).max(MIN_BITRATE_BPS) as f64);
        let start = (cfg.start_bps as f64).clamp(min, max);
        RateController {
            cfg,
            detector: DelayDetector::new(),
            aimd: Aimd::new(start, min, max),
            loss: LossController::new(),
            prober: Prober::new(max),
            target_bps: start,
            srtt_ms: None,
            min_rtt: WindowMin::new(BASE_DELAY_WINDOW_US),
            base_owd: WindowMin::new(BASE_DELAY_WINDOW_US),
            queue_delay_ms: 0.0,
            acked: VecDeque::with_capacity(1024),
            acked_bytes: 0,
            media_sent: VecDeque::with_capacity(1024),
            media_sent_bytes: 0,
            total_sent: 0,
            reported_upto: 0,
            newest_reported_send_us: 0,
            last_feedback_us: None,
            last_timeout_cut_us: 0,
            probes_applied: 0,
            started_us: None,
            before_timeout_bps: None,
            last_sent_us: 0,
            queue_delay_at_decrease: None,
            before_decreases: None,
            prev_arrival: None,
            jitter_us: 0.0,
            prev_owd: None,
            owd_min: VecDeque::with_capacity(OWD_MIN_CAPACITY),
            last_stall_us: None,
            last_loss_us: None,
            undo: None,
            collapses_undone: 0,
        }
    }

    /// The config.
    pub fn config(&self) -> AbrConfig {
        self.cfg
    }

    /// Changes floor and ceiling at run time.
    pub fn set_bounds(&mut self, min_bps: u32, max_bps: u32) {
        self.cfg.min_bps = min_bps;
        self.cfg.max_bps = max_bps.max(min_bps);
        let (min, max) = (min_bps.max(MIN_BITRATE_BPS) as f64, self.cfg.max_bps.max(MIN_BITRATE_BPS) as f64);
        self.aimd.set_bounds(min, max);
        self.prober.set_max(max);
        self.target_bps = self.target_bps.clamp(min, max);
    }

    /// The target bitrate now.
    pub fn target_bps(&self) -> u32 {
        self.target_bps as u32
    }

    /// Whether the link stalled (see [`STALL_US`]) within [`STALL_MEMORY_US`].
    fn stalled_lately(&self, now_us: u64) -> bool {
        self.last_stall_us.is_some_and(|t| now_us < t + STALL_MEMORY_US)
    }

    /// Whether feedback has timed out (the target is being halved for lack of it).
    pub fn in_feedback_timeout(&self) -> bool {
        self.before_timeout_bps.is_some()
    }

    /// The target before the queue-drain scaling: what the path is believed to carry.
    pub fn path_estimate_bps(&self) -> u32 {
        let mut t = self.aimd.target_bps();
        if let Some(b) = self.loss.bound_bps() {
            t = t.min(b);
        }
        t as u32
    }

    /// The least RTT of the last 10-20 s (the path's own, without queueing), ms, once
    /// measured.
    pub fn min_rtt_ms(&self) -> Option<f64> {
        self.min_rtt.get().map(|r| r as f64 / 1000.0)
    }

    /// Smoothed RTT, ms (a default until measured).
    pub fn rtt_ms(&self) -> f64 {
        self.srtt_ms.unwrap_or(DEFAULT_RTT_MS)
    }

    /// What it believes, for reports and plots.
    pub fn state(&self) -> AbrState {
        AbrState {
            target_bps: self.target_bps as u32,
            delay_based_bps: self.aimd.target_bps() as u32,
            loss_bound_bps: self.loss.bound_bps().map(|b| b as u32),
            acked_bps: self.acked_bps().map(|b| b as u32),
            rtt_ms: self.rtt_ms(),
            queue_delay_ms: self.queue_delay_ms,
            loss: self.loss.loss(),
            background_loss: self.background_loss(),
            usage: self.detector.usage(),
            alr: self.is_alr(),
            in_flight_bytes: self.in_flight_bytes(),
            cwnd_bytes: self.cwnd_bytes(),
            probes_applied: self.probes_applied,
            link_capacity_kbps: self.aimd.link_capacity().bps().map(|b| (b / 1000.0) as u32),
            collapses_undone: self.collapses_undone,
        }
    }

    /// The learnt background (non-congestive) loss rate.
    pub fn background_loss(&self) -> f64 {
        self.loss.background()
    }

    /// Bytes sent whose fate no feedback has reported yet.
    pub fn in_flight_bytes(&self) -> u64 {
        self.total_sent - self.reported_upto
    }

    /// The congestion window: target x (min RTT + allowance).
    pub fn cwnd_bytes(&self) -> u64 {
        let rtt = self.min_rtt.get().map_or(DEFAULT_RTT_MS, |r| r as f64 / 1000.0);
        ((self.target_bps * (rtt + CWND_QUEUE_ALLOWANCE_MS) / 8000.0) as u64).max(CWND_MIN_BYTES)
    }

    /// Whether the bytes in flight fill the congestion window. After
    /// [`FEEDBACK_TIMEOUT_US`] without feedback a full window lets one packet through every
    /// [`TRICKLE_INTERVAL_US`] until the first timeout cut; from then on the window is open
    /// and the target, falling to [`SAFE_RATE_FRACTION`] of the rate before, paces what is
    /// sent (the feedback path alone may be gone).
    pub fn window_full(&self, now_us: u64) -> bool {
        if self.in_feedback_timeout() {
            return false; // the safe rate, paced
        }
        self.in_flight_bytes() >= self.cwnd_bytes() && self.window_reopens_us().is_none_or(|t| now_us < t)
    }

    /// Silence after which feedback counts as lost: as long as a full window lasts at the
    /// target (min RTT + [`CWND_QUEUE_ALLOWANCE_MS`]), so a path whose feedback alone is gone
    /// goes to the safe rate when the window would close instead of stalling; at least
    /// [`FIRST_TIMEOUT_MIN_US`], at most [`FEEDBACK_TIMEOUT_US`] (that, too, before any
    /// feedback came: the first round trip is not known yet).
    fn first_timeout_us(&self) -> u64 {
        match (self.last_feedback_us, self.min_rtt.get()) {
            (Some(_), Some(rtt)) => (rtt.max(0) as u64 + (CWND_QUEUE_ALLOWANCE_MS * 1000.0) as u64)
                .clamp(FIRST_TIMEOUT_MIN_US, FEEDBACK_TIMEOUT_US),
            _ => FEEDBACK_TIMEOUT_US,
        }
    }

    /// When a full window next lets a packet through without feedback.
    pub fn window_reopens_us(&self) -> Option<u64> {
        let timeout = self.last_feedback_us.or(self.started_us).map(|t| t + self.first_timeout_us())?;
        Some(timeout.max(self.last_sent_us + TRICKLE_INTERVAL_US))
    }

    /// Whether media has been sent well below the target lately.
    pub fn is_alr(&self) -> bool {
        let Some(start) = self.started_us else { return false };
        let Some(&(newest, _)) = self.media_sent.back() else { return false };
        if newest < start + ALR_WINDOW_US {
            return false;
        }
        let rate = self.media_sent_bytes as f64 * 8e6 / ALR_WINDOW_US as f64;
        rate < ALR_USAGE * self.target_bps
    }

    fn acked_bps(&self) -> Option<f64> {
        let (&(first, first_size), &(last, _)) = (self.acked.front()?, self.acked.back()?);
        let span = (last - first).max(ACKED_WINDOW_US / 3);
        // With few packets the first one's bytes (they arrived as the span began) would
        // overstate the rate by up to a quarter; with many it is the estimate every AIMD
        // decrease was measured with (leaving it out there cost RFC 8867 5.2 and 5.4 1-2
        // points of utilization).
        let bytes = if self.acked.len() < 2 * ACKED_MIN_PACKETS {
            self.acked_bytes - first_size as u64
        } else {
            self.acked_bytes
        };
        (self.acked.len() >= 4).then(|| bytes as f64 * 8e6 / span as f64)
    }

    /// The rate of the newest [`UNDO_RATE_WINDOW_US`] of arrivals (the first packet's bytes
    /// arrived before the span began and are not counted), if enough of them arrived.
    fn recent_delivery_bps(&self) -> Option<f64> {
        let &(newest, _) = self.acked.back()?;
        let (mut oldest, mut oldest_size, mut bytes, mut n) = (newest, 0u64, 0u64, 0usize);
        for &(t, size) in self.acked.iter().rev().take_while(|&&(t, _)| t >= newest.saturating_sub(UNDO_RATE_WINDOW_US))
        {
            (oldest, oldest_size) = (t, size as u64);
            bytes += size as u64;
            n += 1;
        }
        let span = newest.saturating_sub(oldest);
        (n >= UNDO_MIN_PACKETS && span >= UNDO_MIN_SPAN_US).then(|| (bytes - oldest_size) as f64 * 8e6 / span as f64)
    }

    /// The window of send time whose least one-way delay the delay signals follow: none
    /// below [`JITTER_FLOOR_US`] of jitter, then [`JITTER_WINDOW_MULTIPLE`] times it, at most
    /// [`JITTER_WINDOW_MAX_US`].
    fn jitter_window_us(&self) -> u64 {
        if self.jitter_us < JITTER_FLOOR_US {
            0
        } else {
            (JITTER_WINDOW_MULTIPLE * self.jitter_us).min(JITTER_WINDOW_MAX_US) as u64
        }
    }

    /// A packet left: `cumulative` is the sender's running byte count including it;
    /// `media` says whether it carried a first transmission of a frame (not a repair or a
    /// probe).
    pub fn on_sent(&mut self, now_us: u64, size: usize, cumulative: u64, media: bool) {
        self.started_us.get_or_insert(now_us);
        self.total_sent = cumulative;
        self.last_sent_us = now_us;
        if media {
            while self.media_sent.front().is_some_and(|&(t, _)| t + ALR_WINDOW_US <= now_us) {
                let (_, b) = self.media_sent.pop_front().expect("checked");
                self.media_sent_bytes -= b as u64;
            }
            self.media_sent.push_back((now_us, size as u32));
            self.media_sent_bytes += size as u64;
        }
    }

    /// Bytes in flight no longer counted: `cumulative` is the running byte count at the
    /// newest packet a feedback reported.
    fn on_reported(&mut self, cumulative: u64) {
        self.reported_upto = self.reported_upto.max(cumulative).min(self.total_sent);
    }

    /// The prober's result for a cluster, applied.
    fn apply_probe(&mut self, now_us: u64, rate: f64) {
        // On a bursty link a short cluster can arrive faster than the link's rate; a result
        // is trusted up to twice what the receiver has been getting.
        let rate = match self.acked_bps() {
            Some(a) => rate.min(PROBE_MAX_ACKED_MULTIPLE * a.max(self.aimd.target_bps())),
            None => rate,
        };
        if rate > self.aimd.target_bps() {
            self.aimd.set_target(now_us, rate);
            self.probes_applied += 1;
        }
    }

    /// One packet reported by transport-wide feedback, in sequence order: send time, size,
    /// arrival on the hub's clock (or lost), probe cluster (0 = none), and the sender's
    /// running byte count at that packet.
    pub fn on_result(
        &mut self,
        now_us: u64,
        sent_us: u64,
        size: usize,
        arrival_us: Option<i64>,
        cluster: u16,
        cumulative: u64,
    ) {
        self.on_reported(cumulative);
        self.loss.on_packet(arrival_us.is_some());
        if arrival_us.is_none() {
            self.last_loss_us = Some(now_us);
            self.undo = None;
        }
        if sent_us > self.newest_reported_send_us {
            self.newest_reported_send_us = sent_us;
        }
        if cluster != 0 {
            let r = match arrival_us {
                Some(_) => self.prober.on_result(cluster, sent_us, size, arrival_us),
                None => self.prober.on_lost(cluster),
            };
            if let Some(rate) = r {
                self.apply_probe(now_us, rate);
            }
        }
        let Some(raw_arrival) = arrival_us else { return };
        let raw_owd = raw_arrival - sent_us as i64;
        // Random per-packet delay (a radio's retransmissions, a busy Wi-Fi) is not a queue:
        // the delay signals follow the least delay of the packets sent over a window a few
        // times the measured jitter, which a growing queue still raises and jitter does not.
        if let Some((ps, po)) = self.prev_owd {
            if sent_us.saturating_sub(ps) <= JITTER_PAIR_US {
                self.jitter_us += JITTER_GAIN * ((raw_owd - po).abs() as f64 - self.jitter_us);
            }
        }
        self.prev_owd = Some((sent_us, raw_owd));
        let window = self.jitter_window_us();
        while self.owd_min.back().is_some_and(|&(_, o)| o >= raw_owd) {
            self.owd_min.pop_back();
        }
        if self.owd_min.len() == OWD_MIN_CAPACITY {
            self.owd_min.pop_front();
        }
        self.owd_min.push_back((sent_us, raw_owd));
        while self.owd_min.front().is_some_and(|&(t, _)| t + window < sent_us) {
            self.owd_min.pop_front();
        }
        let owd = self.owd_min.front().map_or(raw_owd, |&(_, o)| o);
        let arrival = sent_us as i64 + owd;
        if let Some((ps, pa)) = self.prev_arrival {
            if (arrival - pa) - (sent_us as i64 - ps as i64) > STALL_US {
                self.last_stall_us = Some(now_us);
            }
        }
        self.detector.on_packet(sent_us as i64, arrival);
        while self.acked.front().is_some_and(|&(t, _)| {
            t + ACKED_MAX_WINDOW_US <= raw_arrival
                || (t + ACKED_WINDOW_US <= raw_arrival && self.acked.len() > ACKED_MIN_PACKETS)
        }) {
            let (_, b) = self.acked.pop_front().expect("checked");
            self.acked_bytes -= b as u64;
        }
        self.acked.push_back((raw_arrival, size as u32));
        self.acked_bytes += size as u64;
        self.base_owd.update(now_us, raw_owd);
        if let Some(base) = self.base_owd.get() {
            // Smoothed over time, not over packets: at a few packets a second a per-packet
            // average would remember a drained queue for seconds (and the drain scaling
            // would hold the rate down meanwhile).
            let q = (owd - base) as f64 / 1000.0;
            let dt = self.prev_arrival.map_or(0, |(_, a)| (arrival - a).max(0)) as f64;
            let alpha = 1.0 - (-dt.max(QUEUE_SMOOTHING_MIN_DT_US) / QUEUE_SMOOTHING_US).exp();
            self.queue_delay_ms += alpha * (q - self.queue_delay_ms);
        }
        self.prev_arrival = Some((sent_us, arrival));
    }

    /// A feedback message has been fully reported: updates RTT and the target.
    pub fn on_feedback(&mut self, now_us: u64) {
        let gap = self.last_feedback_us.map_or(0, |t| now_us.saturating_sub(t));
        self.last_feedback_us = Some(now_us);
        let before_outage = self.before_timeout_bps.take();
        if let Some(before) = before_outage {
            self.aimd.set_target(now_us, before);
        }
        if gap > FEEDBACK_TIMEOUT_US / 2 {
            // Packets lost while the path was gone say nothing about congestion; once it is
            // steady again, probe for the rate it had.
            self.loss.discard_report();
            self.prober.on_drop(now_us, before_outage.unwrap_or(self.target_bps));
            // Packets held by the outage arrive late together: their delays measure the
            // outage, not a queue the sender built. Start the delay signals afresh.
            self.queue_delay_ms = 0.0;
            self.detector = DelayDetector::new();
        }
        if self.newest_reported_send_us > 0 && now_us > self.newest_reported_send_us {
            let sample = (now_us - self.newest_reported_send_us) as f64 / 1000.0;
            self.srtt_ms = Some(self.srtt_ms.map_or(sample, |r| 0.875 * r + 0.125 * sample));
            self.min_rtt.update(now_us, (sample * 1000.0) as i64);
        }
        let acked = self.acked_bps();
        // At a few packets a second the trend line takes seconds to gather its points; a
        // standing queue while the target is far above what arrives is overuse meanwhile.
        // Slow: its window spans over a second, or too few packets arrive to fill the acked
        // rate's 300 ms (not a detector reset after a stall, when a radio link's packets
        // still arrive by the hundred a second).
        let few_packets = self.acked.len() <= ACKED_MIN_PACKETS;
        let slow_detector = few_packets || self.detector.window_span_ms().is_some_and(|s| s > SLOW_TREND_SPAN_MS);
        let queue_overuse = slow_detector
            && self.queue_delay_ms > QUEUE_OVERUSE_MS
            && acked.is_some_and(|a| self.aimd.target_bps() > QUEUE_OVERUSE_ACKED_MULTIPLE * a);
        let usage = if queue_overuse { Usage::Overusing } else { self.detector.usage() };
        // The trend line lags: after a decrease, overuse keeps being signalled while the
        // queue is already draining. A second decrease then would only undershoot.
        let draining = self.queue_delay_at_decrease.is_some_and(|q| self.queue_delay_ms < DRAINING_FRACTION * q);
        let aimd_usage = if usage == Usage::Overusing && draining { Usage::Underusing } else { usage };
        let estimate_before = self.path_estimate_bps() as f64;
        let before = self.aimd.last_decrease_us();
        let before_bps = self.aimd.target_bps();
        self.aimd.update(now_us, aimd_usage, acked, self.rtt_ms());
        if self.aimd.last_decrease_us() != before {
            self.queue_delay_at_decrease = Some(self.queue_delay_ms);
            let run_from = match self.before_decreases {
                Some((b, t)) if now_us < t + DECREASE_RUN_US => b,
                _ => before_bps,
            };
            self.before_decreases = Some((run_from, now_us));
            if self.stalled_lately(now_us) && self.aimd.target_bps() < LARGE_DROP_FRACTION * run_from {
                self.prober.arm_recovery(now_us, run_from);
            }
        } else if usage != Usage::Overusing {
            self.queue_delay_at_decrease = None;
        }
        // Far below the capacity the last overuses showed (after a collapse or an outage):
        // probe back towards it instead of climbing there additively.
        if let Some(c) = self.aimd.link_capacity().bps() {
            if self.aimd.target_bps() < FAR_BELOW_CAPACITY * c {
                self.prober.arm_recovery(now_us, c);
            }
        }
        let current = self.target_bps;
        self.loss.update(now_us, self.rtt_ms(), current, self.queue_delay_ms);
        self.recompute();
        self.undo_spurious_collapse(now_us, estimate_before);
        // Draining queues (underuse) are no congestion either.
        // On a link that stalls (radio scheduling) queueing delay jumps by tens of ms without
        // any congestion: there the bound is higher, or probes would never find the path steady.
        let stalling = self.stalled_lately(now_us);
        let steady_queue_ms = if stalling { STEADY_QUEUE_STALLING_MS } else { STEADY_QUEUE_MS };
        let steady =
            usage != Usage::Overusing && self.loss.bound_bps().is_none() && self.queue_delay_ms < steady_queue_ms;
        // Periodic probes wait until no overuse has been seen for a while: flows sharing
        // a bottleneck see overuse every few seconds and converge by AIMD alone (a probe
        // into a shared queue reads more than the flow's share).
        let quiet = self.aimd.last_decrease_us().is_none_or(|t| now_us >= t + QUIET_BEFORE_PROBE_US);
        self.prober.set_stalling(stalling);
        self.prober.on_state(now_us, self.target_bps, steady, quiet, self.is_alr());
    }

    /// Notes a collapse of the path estimate that no loss preceded, and undoes one that later
    /// arrivals show was only a stall (see [`UNDO_RATE_WINDOW_US`]).
    fn undo_spurious_collapse(&mut self, now_us: u64, estimate_before: f64) {
        if let Some((at, pre)) = self.undo {
            if now_us > at + UNDO_WITHIN_US {
                self.undo = None;
            } else if self.recent_delivery_bps().is_some_and(|r| r >= UNDO_RATE_FRACTION * pre) {
                self.aimd.set_target(now_us, UNDO_RATE_FRACTION * pre);
                self.recompute();
                self.undo = None;
                self.collapses_undone += 1;
                return;
            }
        }
        let collapsed = (self.path_estimate_bps() as f64) < COLLAPSE_RATIO * estimate_before;
        let loss_lately = self.last_loss_us.is_some_and(|t| now_us < t + UNDO_QUIET_LOSS_US);
        if collapsed && !loss_lately {
            self.undo = Some((now_us, estimate_before));
        }
    }

    fn recompute(&mut self) {
        let mut t = self.aimd.target_bps();
        if let Some(b) = self.loss.bound_bps() {
            t = t.min(b);
        }
        // A standing queue drains only as fast as the sender leaves room: AIMD's 0.9x
        // leaves 10 %, which takes seconds for a 300 ms queue. While queueing delay is
        // above DRAIN_FROM_MS the target is scaled down with it (at most to half), so the
        // queue empties within a few hundred ms; AIMD's own estimate is left as it is.
        let excess = (self.queue_delay_ms - DRAIN_FROM_MS).max(0.0);
        if let Some(acked) = self.acked_bps().filter(|_| excess > 0.0) {
            t = t.min(QUEUE_ACKED_MULTIPLE * acked);
        }
        t *= (1.0 - excess / DRAIN_SCALE_MS).max(DRAIN_MIN_FACTOR);
        let (min, max) = (self.cfg.min_bps.max(MIN_BITRATE_BPS) as f64, self.cfg.max_bps.max(MIN_BITRATE_BPS) as f64);
        self.target_bps = t.clamp(min, max.max(min));
    }

    /// Time passes without feedback: after [`FEEDBACK_TIMEOUT_US`] with data in flight the
    /// target halves (once per timeout).
    pub fn on_tick(&mut self, now_us: u64) {
        if self.started_us.is_none() {
            // Plan the initial probes before the first packet.
            self.prober.on_state(now_us, self.target_bps, true, true, false);
            self.started_us = Some(now_us);
        }
        let Some(last) = self.last_feedback_us.or(self.started_us) else { return };
        if self.in_flight_bytes() > 0
            && now_us >= last + self.first_timeout_us()
            && now_us >= self.last_timeout_cut_us + FEEDBACK_TIMEOUT_US
        {
            self.last_timeout_cut_us = now_us;
            let before = *self.before_timeout_bps.get_or_insert(self.aimd.target_bps());
            let half = (self.aimd.target_bps() / 2.0).max(SAFE_RATE_FRACTION * before);
            self.aimd.set_target(now_us, half);
            self.recompute();
        }
    }

    /// The next probe cluster to send, if one is planned.
    pub fn take_probe(&mut self) -> Option<ProbeCluster> {
        self.prober.take_cluster()
    }

    /// A probe packet of cluster `id` was sent.
    pub fn on_probe_sent(&mut self, id: u16, now_us: u64, size: usize) {
        self.prober.on_sent(id, now_us, size);
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe::RECOVERY_PROBE_FRACTION;
    use super::*;

    /// Drives `c` with one flow through a bottleneck of `capacity(t)` bit/s (0: an outage,
    /// packets wait at the head), served in order; 50 ms each way, feedback every 50 ms,
    /// 1200-byte packets at the target rate while the window allows. Packets `lose(t)` says
    /// of when they are sent are lost (they take no link time and are reported lost in
    /// order). Probes are not sent: `probe` sees each cluster asked for; `fed` sees the
    /// controller after each feedback.
    fn drive(
        c: &mut RateController,
        capacity: impl Fn(u64) -> f64,
        lose: impl Fn(u64) -> bool,
        end_us: u64,
        mut probe: impl FnMut(u64, &ProbeCluster),
        mut fed: impl FnMut(u64, &RateController, i64),
    ) {
        const SIZE: usize = 1200;
        // Send time, arrival (or when it would have arrived, if lost), lost, running bytes.
        let mut sent: VecDeque<(u64, i64, bool, u64)> = VecDeque::new();
        let (mut next_send, mut link_free, mut cumulative) = (0u64, 0i64, 0u64);
        let mut next_feedback = 50_000u64;
        for now in (0..end_us).step_by(1000) {
            c.on_tick(now);
            while let Some(p) = c.take_probe() {
                probe(now, &p);
            }
            if now >= next_send && !c.window_full(now) {
                cumulative += SIZE as u64;
                c.on_sent(now, SIZE, cumulative, true);
                let mut start = link_free.max(now as i64 + 50_000);
                if lose(now) {
                    sent.push_back((now, start, true, cumulative));
                } else {
                    while capacity(start as u64) <= 0.0 {
                        start += 1000;
                    }
                    link_free = start + (SIZE as f64 * 8e6 / capacity(start as u64)) as i64;
                    sent.push_back((now, link_free, false, cumulative));
                }
                next_send = now + (SIZE as f64 * 8e6 / c.target_bps() as f64) as u64;
            }
            if now >= next_feedback {
                next_feedback += 50_000;
                let (mut newest, mut reported) = (None, false);
                while sent.front().is_some_and(|&(_, a, _, _)| a + 50_000 <= now as i64) {
                    let (s, a, lost, cum) = sent.pop_front().expect("checked");
                    c.on_result(now, s, SIZE, (!lost).then_some(a), 0, cum);
                    reported = true;
                    if !lost {
                        newest = Some(a - s as i64);
                    }
                }
                if reported {
                    c.on_feedback(now);
                    if let Some(owd) = newest {
                        fed(now, c, owd);
                    }
                }
            }
        }
    }

    /// One flow through a bottleneck whose capacity is `base_bps`, except `dip_bps` from 3 s
    /// to 3.3 s. Returns the rate of the fastest probe the controller asked for within 2.5 s
    /// of the dip's end (before the quiet period periodic probes wait for has passed).
    fn probe_after_dip(base_bps: f64, dip_bps: f64) -> Option<f64> {
        let mut c = RateController::new(AbrConfig { start_bps: 800_000, min_bps: 50_000, max_bps: 2_500_000 });
        let capacity = |t: u64| if (3_000_000..3_300_000).contains(&t) { dip_bps } else { base_bps };
        let mut fastest: Option<f64> = None;
        drive(
            &mut c,
            capacity,
            |_| false,
            5_800_000,
            |now, p| {
                if now > 3_300_000 {
                    fastest = Some(fastest.map_or(p.rate_bps, |f| f.max(p.rate_bps)));
                }
            },
            |_, _, _| {},
        );
        fastest
    }

    #[test]
    fn a_queue_standing_behind_a_restored_rate_caps_the_target_near_the_acked_rate() {
        // 1 Mbit/s, then 1.5 s with no delivery at all (packets wait, no drop-tail), then
        // the path comes back at a quarter of it. Feedback returning after the outage
        // restores the rate from before it; the link delivers 250 kbit/s. While the queue
        // stands the target stays within QUEUE_ACKED_MULTIPLE of what is acknowledged, and
        // the queue drains.
        let mut c = RateController::new(AbrConfig { start_bps: 1_000_000, min_bps: 50_000, max_bps: 2_500_000 });
        let capacity = |t: u64| match t {
            0..4_000_000 => 1_000_000.0,
            4_000_000..5_500_000 => 0.0,
            _ => 250_000.0,
        };
        let (mut checked, mut worst_late_owd) = (0, 0i64);
        drive(
            &mut c,
            capacity,
            |_| false,
            12_000_000,
            |_, _| {},
            |now, c, owd| {
                let s = c.state();
                if let Some(acked) = s.acked_bps.filter(|_| s.queue_delay_ms > DRAIN_FROM_MS) {
                    let acked = acked as f64;
                    assert!(
                        s.target_bps as f64 <= QUEUE_ACKED_MULTIPLE * acked + 1.0,
                        "{now}: target {} with acked {acked} and queue {:.0} ms",
                        s.target_bps,
                        s.queue_delay_ms
                    );
                    checked += 1;
                }
                if now > 9_000_000 {
                    worst_late_owd = worst_late_owd.max(owd);
                }
            },
        );
        // Without the bound the restored rate (0.46 Mbit/s after the drain's scaling) is
        // kept for the first 0.75 s, 1.5x to 1.8x what the link delivers.
        assert!(checked > 0, "a queue stood after the outage");
        // The outage's backlog (2.6 s at its worst) is gone 3.5 s after the path returned.
        assert!(worst_late_owd < 200_000, "one-way delay {worst_late_owd} us");
    }

    #[test]
    fn a_large_drop_on_a_stalling_link_probes_back_soon() {
        // 0.1 Mbit/s: a 1200-byte packet every 96 ms, where they were sent about every
        // 10 ms: the link stalls (a radio link's dip). The target falls far below where it
        // was; once the queue has drained, a probe towards the old rate is asked for.
        let rate = probe_after_dip(1_000_000.0, 100_000.0).expect("a recovery probe");
        assert!(rate >= RECOVERY_PROBE_FRACTION * 0.95e6, "{rate}");
    }

    /// One flow at 2 Mbit/s on a 3 Mbit/s link, which from 6 s delivers only 0.3 Mbit/s for
    /// `dip_us`, then `after_bps`; packets sent while `lose` says so are lost. Returns the
    /// path estimate just before 6 s, the lowest after, the estimate 1 s after the dip, and
    /// how many collapses were undone.
    fn collapse(dip_us: u64, after_bps: f64, lose: impl Fn(u64) -> bool) -> (f64, f64, f64, u32) {
        let mut c = RateController::new(AbrConfig { start_bps: 2_000_000, min_bps: 50_000, max_bps: 2_000_000 });
        let end_of_dip = 6_000_000 + dip_us;
        let capacity = |t: u64| match t {
            0..6_000_000 => 3_000_000.0,
            t if t < end_of_dip => 300_000.0,
            _ => after_bps,
        };
        let (mut pre, mut lowest, mut later) = (0.0, f64::MAX, 0.0);
        drive(
            &mut c,
            capacity,
            lose,
            end_of_dip + 1_000_000,
            |_, _| {},
            |now, c, _| {
                let e = c.path_estimate_bps() as f64;
                if now < 6_000_000 {
                    pre = e;
                } else {
                    lowest = lowest.min(e);
                    later = e;
                }
            },
        );
        (pre, lowest, later, c.state().collapses_undone)
    }

    #[test]
    fn a_collapse_that_was_only_a_stall_is_undone_unless_loss_came_before_it() {
        // 200 ms at 0.3 Mbit/s: arrivals slow, the trend line calls overuse and AIMD cuts to
        // 0.9x an acknowledged rate the dip has more than halved. Then the link delivers 3
        // Mbit/s again: the newest 100 ms of arrivals show it, and the estimate is set back.
        let (pre, lowest, later, undone) = collapse(200_000, 3e6, |_| false);
        assert!(lowest < COLLAPSE_RATIO * pre, "no collapse: {pre} -> {lowest}");
        assert_eq!(undone, 1);
        assert!(later >= 0.85 * pre, "{pre} -> {lowest} -> {later}");
        // A longer dip, a faster return: the same.
        let (pre, _, later, undone) = collapse(400_000, 5e6, |_| false);
        assert_eq!(undone, 1);
        assert!(later >= 0.85 * pre, "{pre} -> {later}");
        // The same dip, with packets lost 1 s before it: the fall is taken as real and the
        // estimate climbs back by AIMD (and a recovery probe) only.
        let (pre, lowest, later, undone) = collapse(200_000, 3e6, |t| (5_000_000..5_010_000).contains(&t));
        assert!(lowest < COLLAPSE_RATIO * pre, "no collapse: {pre} -> {lowest}");
        assert_eq!(undone, 0);
        assert!(later < 0.5 * pre, "{pre} -> {lowest} -> {later}");
    }

    #[test]
    fn a_real_capacity_drop_is_not_undone() {
        // 3 -> 0.6 Mbit/s for good, at once or after the 200 ms dip: nothing delivers at the
        // old rate afterwards, so nothing is undone and the estimate stays under the link.
        for dip_us in [0, 200_000] {
            let (pre, lowest, later, undone) = collapse(dip_us, 0.6e6, |_| false);
            assert!(lowest < COLLAPSE_RATIO * pre, "no collapse: {pre} -> {lowest}");
            assert_eq!(undone, 0, "dip {dip_us}");
            assert!(later <= 0.6e6, "dip {dip_us}: {later}");
        }
    }
}
