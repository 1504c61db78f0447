//! A leaky-bucket pacer: packets leave no faster than the pacing rate, so a large keyframe
//! does not hit the bottleneck queue as one burst. libwebrtc paces at 2.5x the target
//! (`kDefaultPaceMultiplier` in its pacing controller); sealcam uses the same default.

use crate::codec::MIN_BITRATE_BPS;

/// Pacing rate as a multiple of the target bitrate (libwebrtc's default).
pub(crate) const DEFAULT_PACING_FACTOR: f32 = 2.5;

/// Bytes the pacer lets out at once without waiting (one full packet).
const BURST_BYTES: u64 = 1500;

/// The pacer's clock and rate.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate_bps: u64,
    next_send_us: u64,
}

impl Pacer {
    /// A pacer at `rate_bps` (at least [`MIN_BITRATE_BPS`]).
    pub fn new(rate_bps: u64) -> Self {
        Pacer { rate_bps: rate_bps.max(MIN_BITRATE_BPS as u64), next_send_us: 0 }
    }

    /// Changes the rate for packets not yet sent.
    pub fn set_rate(&mut self, rate_bps: u64) {
        self.rate_bps = rate_bps.max(MIN_BITRATE_BPS as u64);
    }

    /// The pacing rate.
    pub fn rate_bps(&self) -> u64 {
        self.rate_bps
    }

    /// Whether a packet may leave at `now_us`.
    pub fn can_send(&self, now_us: u64) -> bool {
        now_us >= self.next_send_us
    }

    /// The earliest time the next packet may leave.
    pub fn next_send_us(&self) -> u64 {
        self.next_send_us
    }

    /// Accounts a packet of `bytes` sent at `now_us`.
    pub fn on_sent(&mut self, now_us: u64, bytes: usize) {
        // An idle pacer may let one packet's worth out at once.
        let credit_floor = now_us.saturating_sub(self.transmit_time_us(BURST_BYTES as usize));
        let start = self.next_send_us.max(credit_floor);
        self.next_send_us = start + self.transmit_time_us(bytes);
    }

    /// Time to send `bytes` at the pacing rate.
    pub fn transmit_time_us(&self, bytes: usize) -> u64 {
        (bytes as u64 * 8 * 1_000_000).div_ceil(self.rate_bps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_packets_at_the_rate() {
        let mut p = Pacer::new(1_200_000); // 150 bytes per ms
        let mut now = 0;
        let mut sent = 0;
        while now < 1_000_000 {
            if p.can_send(now) {
                p.on_sent(now, 1500);
                sent += 1;
            }
            now += 100;
        }
        assert!((99..=102).contains(&sent), "{sent}");
    }
}
