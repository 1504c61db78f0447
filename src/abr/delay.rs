//! Delay-based congestion detection: packets are grouped by send time, the change in
//! one-way delay between consecutive groups is smoothed and fitted with a trend line, and
//! the trend is compared with a threshold that adapts to the path. The method and every
//! default are those of Google Congestion Control (draft-ietf-rmcat-gcc-02, sections 5.2-5.4,
//! with the trend-line filter that replaced its Kalman filter in libwebrtc; constants as
//! libwebrtc's `inter_arrival` and `trendline_estimator` use them).

use std::collections::VecDeque;

/// Packets sent within this span of the group's first packet form one group (GCC 5.2).
pub(crate) const SEND_GROUP_US: i64 = 5_000;
/// A packet that arrives within this time of the previous one, earlier than its send
/// spacing predicts, joins the previous group (a burst the network delivered at once).
pub(crate) const BURST_ARRIVAL_US: i64 = 5_000;
/// A burst group spans at most this much arrival time.
pub(crate) const MAX_BURST_US: i64 = 100_000;
/// Points in the trend-line regression window.
pub(crate) const TREND_WINDOW: usize = 20;
/// Exponential smoothing of the accumulated delay.
pub(crate) const TREND_SMOOTHING: f64 = 0.9;
/// Gain applied to the trend before comparing it with the threshold.
pub(crate) const TREND_GAIN: f64 = 4.0;
/// Cap on the number of deltas that scale the trend.
pub(crate) const TREND_MAX_DELTAS: f64 = 60.0;
/// Initial adaptive threshold, milliseconds.
pub(crate) const THRESHOLD_INITIAL_MS: f64 = 12.5;
/// Threshold adaptation gain when the signal is above it (per ms of time).
pub(crate) const THRESHOLD_K_UP: f64 = 0.0087;
/// Threshold adaptation gain when the signal is below it.
pub(crate) const THRESHOLD_K_DOWN: f64 = 0.039;
/// Bounds of the threshold, milliseconds.
pub(crate) const THRESHOLD_RANGE_MS: (f64, f64) = (6.0, 600.0);
/// A signal this far above the threshold does not move it (a sudden spike is not noise).
pub(crate) const THRESHOLD_MAX_OFFSET_MS: f64 = 15.0;
/// Overuse is signalled once the trend has stayed above the threshold this long.
pub(crate) const OVERUSE_TIME_MS: f64 = 10.0;

/// What the detector concludes about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Usage {
    /// Queues are stable.
    #[default]
    Normal,
    /// Queues are growing: the sender is above the path's capacity.
    Overusing,
    /// Queues are draining.
    Underusing,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    first_send_us: i64,
    last_send_us: i64,
    first_arrival_us: i64,
    last_arrival_us: i64,
}

/// Send-time grouping, trend line, adaptive threshold and overuse decision.
#[derive(Debug, Clone)]
pub struct DelayDetector {
    current: Option<Group>,
    previous: Option<Group>,
    first_arrival_us: Option<i64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    window: VecDeque<(f64, f64)>,
    deltas: u32,
    trend: f64,
    prev_trend: f64,
    threshold_ms: f64,
    last_threshold_update_ms: Option<f64>,
    overuse_time_ms: Option<f64>,
    overuse_count: u32,
    usage: Usage,
}

impl Default for DelayDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DelayDetector {
    /// A detector with no history.
    pub fn new() -> Self {
        DelayDetector {
            current: None,
            previous: None,
            first_arrival_us: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            window: VecDeque::with_capacity(TREND_WINDOW),
            deltas: 0,
            trend: 0.0,
            prev_trend: 0.0,
            threshold_ms: THRESHOLD_INITIAL_MS,
            last_threshold_update_ms: None,
            overuse_time_ms: None,
            overuse_count: 0,
            usage: Usage::Normal,
        }
    }

    /// The current conclusion.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Arrival time the trend line's window spans, once it holds its [`TREND_WINDOW`]
    /// points (how fast the detector can react at the current packet rate).
    pub fn window_span_ms(&self) -> Option<f64> {
        let (first, last) = (self.window.front()?, self.window.back()?);
        (self.window.len() == TREND_WINDOW).then_some(last.0 - first.0)
    }

    /// Feeds one received packet, in send order: its send time on the sender's clock and
    /// its arrival on the receiver's. Returns the usage after it.
    pub fn on_packet(&mut self, sent_us: i64, arrival_us: i64) -> Usage {
        let Some(cur) = self.current.as_mut() else {
            self.current = Some(Group {
                first_send_us: sent_us,
                last_send_us: sent_us,
                first_arrival_us: arrival_us,
                last_arrival_us: arrival_us,
            });
            return self.usage;
        };
        if sent_us < cur.first_send_us {
            // Older than the group being built (reordered feedback): not usable.
            return self.usage;
        }
        let in_group = sent_us - cur.first_send_us <= SEND_GROUP_US;
        let arrival_delta = arrival_us - cur.last_arrival_us;
        let propagation_delta = arrival_delta - (sent_us - cur.last_send_us);
        let burst = (0..=BURST_ARRIVAL_US).contains(&arrival_delta)
            && propagation_delta < 0
            && arrival_us - cur.first_arrival_us < MAX_BURST_US;
        if in_group || burst {
            cur.last_send_us = cur.last_send_us.max(sent_us);
            cur.last_arrival_us = cur.last_arrival_us.max(arrival_us);
            return self.usage;
        }
        let finished = *cur;
        let mut usable = true;
        if let Some(prev) = self.previous {
            let send_delta = finished.last_send_us - prev.last_send_us;
            let arrival_delta = finished.last_arrival_us - prev.last_arrival_us;
            if arrival_delta >= 0 && send_delta > 0 {
                self.update_trend(send_delta as f64 / 1000.0, arrival_delta as f64 / 1000.0, finished.last_arrival_us);
            } else if arrival_delta < -3_000_000 {
                // The receiver's clock jumped: start over.
                *self = DelayDetector { threshold_ms: self.threshold_ms, ..DelayDetector::new() };
            } else {
                // The group overtook the one before it (the path reorders). It is no sample,
                // and it must not become the reference either: the next delta is taken from
                // the last group in order, so the accumulated delay still telescopes to the
                // true one-way delay change. (Skipping only the negative deltas would add
                // up to a rising trend out of pure jitter: overuse on an empty link.)
                usable = false;
            }
        }
        if usable {
            self.previous = Some(finished);
        }
        self.current = Some(Group {
            first_send_us: sent_us,
            last_send_us: sent_us,
            first_arrival_us: arrival_us,
            last_arrival_us: arrival_us,
        });
        self.usage
    }

    fn update_trend(&mut self, send_delta_ms: f64, arrival_delta_ms: f64, arrival_us: i64) {
        let first = *self.first_arrival_us.get_or_insert(arrival_us);
        let now_ms = (arrival_us - first) as f64 / 1000.0;
        self.deltas = (self.deltas + 1).min(1000);
        self.accumulated_ms += arrival_delta_ms - send_delta_ms;
        self.smoothed_ms = TREND_SMOOTHING * self.smoothed_ms + (1.0 - TREND_SMOOTHING) * self.accumulated_ms;
        if self.window.len() == TREND_WINDOW {
            self.window.pop_front();
        }
        self.window.push_back((now_ms, self.smoothed_ms));
        if self.window.len() == TREND_WINDOW {
            if let Some(slope) = linear_slope(&self.window) {
                self.trend = slope;
            }
        }
        self.detect(send_delta_ms, now_ms);
    }

    fn detect(&mut self, send_delta_ms: f64, now_ms: f64) {
        if self.deltas < 2 {
            self.usage = Usage::Normal;
            return;
        }
        let modified = self.deltas.min(TREND_MAX_DELTAS as u32) as f64 * self.trend * TREND_GAIN;
        if modified > self.threshold_ms {
            let t = match self.overuse_time_ms {
                None => send_delta_ms / 2.0,
                Some(t) => t + send_delta_ms,
            };
            self.overuse_time_ms = Some(t);
            self.overuse_count += 1;
            if t > OVERUSE_TIME_MS && self.overuse_count > 1 && self.trend >= self.prev_trend {
                self.overuse_time_ms = Some(0.0);
                self.overuse_count = 0;
                self.usage = Usage::Overusing;
            }
        } else if modified < -self.threshold_ms {
            self.overuse_time_ms = None;
            self.overuse_count = 0;
            self.usage = Usage::Underusing;
        } else {
            self.overuse_time_ms = None;
            self.overuse_count = 0;
            self.usage = Usage::Normal;
        }
        self.prev_trend = self.trend;
        self.update_threshold(modified, now_ms);
    }

    fn update_threshold(&mut self, modified: f64, now_ms: f64) {
        let last = *self.last_threshold_update_ms.get_or_insert(now_ms);
        if modified.abs() > self.threshold_ms + THRESHOLD_MAX_OFFSET_MS {
            self.last_threshold_update_ms = Some(now_ms);
            return;
        }
        let k = if modified.abs() < self.threshold_ms { THRESHOLD_K_DOWN } else { THRESHOLD_K_UP };
        let dt = (now_ms - last).clamp(0.0, 100.0);
        self.threshold_ms += k * (modified.abs() - self.threshold_ms) * dt;
        self.threshold_ms = self.threshold_ms.clamp(THRESHOLD_RANGE_MS.0, THRESHOLD_RANGE_MS.1);
        self.last_threshold_update_ms = Some(now_ms);
    }
}

/// Least-squares slope of `(x, y)` points; `None` when all x are equal.
fn linear_slope(points: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), &(x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), &(x, y)| {
        let dx = x - mx;
        (num + dx * (y - my), den + dx * dx)
    });
    (den != 0.0).then(|| num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets every `gap_us` on the send side, delivered with `extra_per_packet_us` more
    /// delay each time (a growing queue when positive).
    fn run(d: &mut DelayDetector, packets: i64, gap_us: i64, extra_per_packet_us: i64) -> Vec<Usage> {
        (0..packets)
            .map(|i| {
                let sent = i * gap_us;
                d.on_packet(sent, 50_000 + sent + i * extra_per_packet_us)
            })
            .collect()
    }

    #[test]
    fn steady_path_is_normal() {
        let mut d = DelayDetector::new();
        assert!(run(&mut d, 500, 4_000, 0).iter().all(|u| *u == Usage::Normal));
    }

    #[test]
    fn growing_queue_is_overuse_and_draining_is_underuse() {
        let mut d = DelayDetector::new();
        // 0.5 ms more delay per 4 ms of sending: the path carries 8/9 of the send rate.
        let u = run(&mut d, 200, 4_000, 500);
        assert_eq!(*u.last().unwrap(), Usage::Overusing);
        let mut d = DelayDetector::new();
        let mut t = 0;
        for i in 0..200i64 {
            t += 10_000;
            d.on_packet(t, 50_000 + t + 200_000 - (i * 1_000).min(200_000));
        }
        assert_eq!(d.usage(), Usage::Underusing);
    }

    #[test]
    fn jitter_that_reorders_groups_is_not_a_rising_delay() {
        // A packet every 2 ms, each delayed by 0-20 ms at random: groups often overtake the
        // one before them, but the path holds no queue.
        let mut d = DelayDetector::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let overuse = (0..10_000i64)
            .filter(|i| {
                let sent = i * 2_000;
                d.on_packet(sent, 50_000 + sent + rng.i64(0..20_000)) == Usage::Overusing
            })
            .count();
        assert!(overuse < 100, "overuse on an empty path that reorders: {overuse} of 10000 packets");
    }

    #[test]
    fn threshold_adapts_to_jitter() {
        let mut d = DelayDetector::new();
        let mut rng = fastrand::Rng::with_seed(3);
        let mut normal = 0;
        for i in 0..3000i64 {
            let sent = i * 10_000;
            if d.on_packet(sent, 50_000 + sent + rng.i64(0..8_000)) == Usage::Normal {
                normal += 1;
            }
        }
        assert!(normal > 2700, "jitter without a trend is mostly normal: {normal}");
    }
}
