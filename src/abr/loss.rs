//! Loss-based rate bound. GCC's loss controller (draft-ietf-rmcat-gcc-02 section 6) keeps
//! the rate when 2-10 % of packets are lost, cuts it by half the loss fraction above 10 %,
//! and lets it grow below 2 %. Applied to raw loss, that halves the rate on a lossy radio
//! link that is not congested at all. sealcam measures loss against a background rate,
//! learnt while the path shows no queueing (queue delay below 30 ms): only loss above the
//! background counts as congestion. A drop-tail queue only drops when it is full, so
//! congestive loss comes with queueing delay, and random loss does not.

/// Loss above the background below which the bound is released.
pub(crate) const LOW_LOSS: f64 = 0.02;
/// Loss above the background above which the bound falls.
pub(crate) const HIGH_LOSS: f64 = 0.10;
/// Queueing delay under which measured loss is taken to be background (non-congestive).
pub(crate) const QUIET_QUEUE_MS: f64 = 30.0;
/// Smoothing of the background loss per loss report (about 20 reports of memory).
const BACKGROUND_ALPHA: f64 = 0.05;
/// Packets a loss report needs before it is used.
pub(crate) const MIN_PACKETS_PER_REPORT: u32 = 20;
/// Least time between two decreases, beyond one RTT (GCC's loss-based estimator waits
/// 300 ms plus an RTT so that one congestion event is not counted twice).
pub(crate) const DECREASE_INTERVAL_US: u64 = 300_000;

/// The loss-based bound.
#[derive(Debug, Clone, Default)]
pub struct LossController {
    received: u32,
    lost: u32,
    background: f64,
    last_loss: f64,
    bound_bps: Option<f64>,
    last_decrease_us: Option<u64>,
}

impl LossController {
    /// A controller with no bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one packet's fate.
    pub fn on_packet(&mut self, received: bool) {
        if received {
            self.received += 1;
        } else {
            self.lost += 1;
        }
    }

    /// Forgets the packets counted for the report being built.
    pub fn discard_report(&mut self) {
        (self.received, self.lost) = (0, 0);
    }

    /// Loss of the last report.
    pub fn loss(&self) -> f64 {
        self.last_loss
    }

    /// The learnt background (non-congestive) loss.
    pub fn background(&self) -> f64 {
        self.background
    }

    /// The bound, if loss has set one.
    pub fn bound_bps(&self) -> Option<f64> {
        self.bound_bps
    }

    /// Closes a report once enough packets are counted; updates the bound from the rate the
    /// sender uses now (`current_bps`) and the queueing delay. Returns whether it updated.
    pub fn update(&mut self, now_us: u64, rtt_ms: f64, current_bps: f64, queue_delay_ms: f64) -> bool {
        let n = self.received + self.lost;
        if n < MIN_PACKETS_PER_REPORT {
            return false;
        }
        let loss = self.lost as f64 / n as f64;
        (self.received, self.lost) = (0, 0);
        self.last_loss = loss;
        if queue_delay_ms < QUIET_QUEUE_MS {
            self.background += BACKGROUND_ALPHA * (loss - self.background);
        }
        let excess = loss - self.background;
        if excess > HIGH_LOSS {
            let interval = DECREASE_INTERVAL_US + (rtt_ms * 1000.0) as u64;
            if self.last_decrease_us.is_none_or(|t| now_us >= t + interval) {
                let b = current_bps * (1.0 - 0.5 * excess);
                self.bound_bps = Some(self.bound_bps.map_or(b, |x| x.min(b)));
                self.last_decrease_us = Some(now_us);
            }
        } else if excess < LOW_LOSS {
            self.bound_bps = None;
        } else if self.bound_bps.is_none() {
            // Hold where we are.
            self.bound_bps = Some(current_bps);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(c: &mut LossController, loss: f64, queue_ms: f64) {
        let lost = (loss * 100.0).round() as u32;
        for i in 0..100 {
            c.on_packet(i >= lost);
        }
        c.update(0, 100.0, 2e6, queue_ms);
    }

    #[test]
    fn random_loss_without_queueing_becomes_background() {
        let mut c = LossController::new();
        for _ in 0..200 {
            report(&mut c, 0.05, 5.0);
        }
        assert!((c.background() - 0.05).abs() < 0.01);
        assert_eq!(c.bound_bps(), None);
    }

    #[test]
    fn heavy_loss_with_queueing_cuts_the_rate() {
        let mut c = LossController::new();
        report(&mut c, 0.3, 250.0);
        let b = c.bound_bps().unwrap();
        assert!((b - 2e6 * 0.85).abs() < 1.0, "{b}");
        for _ in 0..5 {
            report(&mut c, 0.0, 5.0);
        }
        assert_eq!(c.bound_bps(), None);
    }
}
