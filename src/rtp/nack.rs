//! Which packets the hub is missing and when to ask for them again (generic NACK,
//! RFC 4585). Bounded: at most `capacity` sequence numbers are tracked; the oldest are
//! given up first.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy)]
struct Missing {
    ext: u64,
    first_seen_us: u64,
    first_sent_us: Option<u64>,
    last_sent_us: Option<u64>,
    sends: u32,
}

/// Default wait before the first NACK of a gap.
pub const DEFAULT_REORDER_WAIT_US: u64 = 10_000;

/// The missing-packet list.
#[derive(Debug)]
pub struct NackTracker {
    missing: VecDeque<Missing>,
    capacity: usize,
    /// Least interval between two NACKs for the same packet (the retry waits at least
    /// 1.125 x the measured repair round trip when that is longer).
    pub retry_interval_us: u64,
    /// Smoothed time from a NACK to the repaired packet's arrival (RFC 6298-style EWMA).
    rtt_us: Option<u64>,
    /// NACKs sent for one packet before giving up.
    pub max_sends: u32,
    /// Age after which a missing packet is no longer asked for.
    pub max_age_us: u64,
    /// Wait before the first NACK of a gap, so that packets merely reordered by a few
    /// milliseconds are not retransmitted.
    pub reorder_wait_us: u64,
}

impl NackTracker {
    /// A tracker for at most `capacity` missing packets.
    pub fn new(capacity: usize, retry_interval_us: u64, max_sends: u32, max_age_us: u64) -> Self {
        NackTracker {
            missing: VecDeque::with_capacity(capacity),
            capacity,
            retry_interval_us,
            rtt_us: None,
            reorder_wait_us: DEFAULT_REORDER_WAIT_US,
            max_sends,
            max_age_us,
        }
    }

    /// Records the arrival of `ext` when the newest before it was `highest`.
    pub fn on_packet(&mut self, ext: u64, highest: Option<u64>, now_us: u64) {
        match highest {
            Some(h) if ext > h + 1 => {
                let from = (h + 1).max(ext.saturating_sub(self.capacity as u64));
                for e in from..ext {
                    if self.missing.len() == self.capacity {
                        self.missing.pop_front();
                    }
                    self.missing.push_back(Missing {
                        ext: e,
                        first_seen_us: now_us,
                        first_sent_us: None,
                        last_sent_us: None,
                        sends: 0,
                    });
                }
            }
            _ => {
                if let Some(m) = self.take(ext) {
                    if let Some(sent) = m.first_sent_us {
                        // From the first NACK: an upper bound when retries were sent, which
                        // errs towards fewer duplicate retransmissions.
                        let sample = now_us.saturating_sub(sent);
                        self.rtt_us = Some(self.rtt_us.map_or(sample, |r| (7 * r + sample) / 8));
                    }
                }
            }
        }
    }

    /// Stops asking for `ext` (it arrived).
    pub fn remove(&mut self, ext: u64) {
        self.take(ext);
    }

    fn take(&mut self, ext: u64) -> Option<Missing> {
        let i = self.missing.iter().position(|m| m.ext == ext)?;
        self.missing.remove(i)
    }

    /// The measured repair round trip (NACK to repaired packet), if any repair happened.
    pub fn rtt_us(&self) -> Option<u64> {
        self.rtt_us
    }

    /// The current retry interval.
    pub fn retry_us(&self) -> u64 {
        self.retry_interval_us.max(self.rtt_us.map_or(0, |r| r * 9 / 8))
    }

    /// Asks again for packets whose frame failed (for example a forged packet took a
    /// real one's place).
    pub fn readd(&mut self, ext: u64, now_us: u64) {
        if self.missing.iter().any(|m| m.ext == ext) {
            return;
        }
        if self.missing.len() == self.capacity {
            self.missing.pop_front();
        }
        let at = self.missing.iter().position(|m| m.ext > ext).unwrap_or(self.missing.len());
        self.missing.insert(
            at,
            Missing {
                ext,
                first_seen_us: now_us.saturating_sub(self.reorder_wait_us),
                first_sent_us: None,
                last_sent_us: None,
                sends: 0,
            },
        );
    }

    /// Drops every entry older than `ext` (the frames they belonged to are given up).
    pub fn forget_before(&mut self, ext: u64) {
        while self.missing.front().is_some_and(|m| m.ext < ext) {
            self.missing.pop_front();
        }
    }

    /// Appends the sequence numbers due for a NACK now to `out`, ascending, and marks them
    /// sent. Entries past their age or send budget are dropped.
    pub fn due(&mut self, now_us: u64, out: &mut Vec<u16>) {
        let (max_age, max_sends, retry) = (self.max_age_us, self.max_sends, self.retry_us());
        self.missing.retain(|m| now_us.saturating_sub(m.first_seen_us) <= max_age && m.sends < max_sends);
        for m in self.missing.iter_mut() {
            let due = match m.last_sent_us {
                None => now_us >= m.first_seen_us + self.reorder_wait_us,
                Some(t) => now_us >= t + retry,
            };
            if due {
                m.last_sent_us = Some(now_us);
                m.first_sent_us.get_or_insert(now_us);
                m.sends += 1;
                out.push(m.ext as u16);
            }
        }
    }

    /// The next time an entry becomes due, if any.
    pub fn next_due_us(&self) -> Option<u64> {
        self.missing
            .iter()
            .map(|m| m.last_sent_us.map_or(m.first_seen_us + self.reorder_wait_us, |t| t + self.retry_us()))
            .min()
    }

    /// Number of packets currently missing.
    pub fn len(&self) -> usize {
        self.missing.len()
    }

    /// Whether nothing is missing.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_is_nacked_then_retried_then_given_up() {
        let mut t = NackTracker::new(8, 100, 2, 10_000);
        t.reorder_wait_us = 0;
        t.on_packet(10, Some(7), 0);
        let mut out = Vec::new();
        t.due(0, &mut out);
        assert_eq!(out, [8, 9]);
        out.clear();
        t.on_packet(8, Some(10), 50);
        t.due(50, &mut out);
        assert!(out.is_empty());
        t.due(100, &mut out);
        assert_eq!(out, [9]);
        out.clear();
        t.due(300, &mut out);
        assert!(out.is_empty() && t.is_empty());
    }

    #[test]
    fn huge_gap_stays_bounded() {
        let mut t = NackTracker::new(16, 100, 3, 10_000);
        t.on_packet(1_000_000, Some(0), 0);
        assert_eq!(t.len(), 16);
    }
}
