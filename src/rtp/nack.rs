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

/// Longest wait before the first NACK of a gap, however far the path reorders: a packet
/// later than this costs one needless retransmission, which is cheaper than holding every
/// repair (and every frame behind it) longer. 100 ms (was 50): 100 ms of random jitter on
/// 2 Mbit/s (reordering every packet by up to 100 ms) drew 3371 needless retransmissions a
/// minute at 50 ms, a quarter of the link, and 7 at 100 ms; at 150 ms the 32-camera attack run
/// (replays open the window) froze 403 times against 118.
pub(crate) const MAX_REORDER_WAIT_US: u64 = 100_000;

/// Repairs without any reordering seen after which the reordering window closes again
/// (RACK's `reo_wnd_persist`, RFC 8985 section 6.2, is 16 loss recoveries).
pub(crate) const REORDER_PERSIST_REPAIRS: u32 = 16;

/// Repairs measured before [`NackTracker::min_rtt_us`] answers.
pub(crate) const MIN_RTT_SAMPLES: u32 = 4;
/// The window of [`NackTracker::min_rtt_us`] (a current and a previous one).
pub(crate) const MIN_RTT_WINDOW_US: u64 = 10_000_000;

/// Longest wait between two NACKs of one packet while no round trip is measured.
pub(crate) const UNKNOWN_RTT_RETRY_MAX_US: u64 = 1_000_000;

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
    /// The least round-trip sample of the current and the previous [`MIN_RTT_WINDOW_US`]
    /// (the path's own, without queueing), and when the current window began.
    min_rtt: (Option<u64>, Option<u64>, u64),
    /// Round-trip samples taken (the path's own round trip needs a few).
    rtt_samples: u32,
    /// NACKs sent for one packet before giving up.
    pub max_sends: u32,
    /// Age after which a missing packet is no longer asked for.
    pub max_age_us: u64,
    /// Wait before the first NACK of a gap: the reordering window. As in RACK (RFC 8985
    /// section 6.2) it is 0 until the path is seen to reorder, so a loss costs no more than
    /// a round trip; a gap's packet that arrives by itself (never asked for, or sooner
    /// after the NACK than a repair can come) widens it to that packet's lateness, up to
    /// [`MAX_REORDER_WAIT_US`]; [`REORDER_PERSIST_REPAIRS`] repairs without reordering
    /// close it again.
    pub reorder_wait_us: u64,
    /// Repairs left before the window closes.
    reorder_persist: u32,
    /// Least wait before the first NACK of a gap while the stream sends FEC (its repair
    /// may rebuild the packet without a round trip); 0 without FEC.
    pub fec_wait_us: u64,
    /// The round trip the hub-nonce exchange measured, if any.
    seed_us: Option<u64>,
}

impl NackTracker {
    /// A tracker for at most `capacity` missing packets.
    pub fn new(capacity: usize, retry_interval_us: u64, max_sends: u32, max_age_us: u64) -> Self {
        NackTracker {
            missing: VecDeque::with_capacity(capacity),
            capacity,
            retry_interval_us,
            rtt_us: None,
            min_rtt: (None, None, 0),
            rtt_samples: 0,
            reorder_wait_us: 0,
            reorder_persist: REORDER_PERSIST_REPAIRS,
            fec_wait_us: 0,
            seed_us: None,
            max_sends,
            max_age_us,
        }
    }

    /// Records the arrival of `ext` when the newest before it was `highest`. `overtaken`
    /// tells, when the packet carries a transport-wide sequence number, whether a packet
    /// sent after it has already arrived: a gap's packet that was overtaken is the original,
    /// late; one sent after everything that has arrived is a retransmission. Returns
    /// whether the packet was taken for a repair.
    pub fn on_packet(&mut self, ext: u64, highest: Option<u64>, now_us: u64, overtaken: Option<bool>) -> bool {
        match highest {
            Some(h) if ext > h + 1 => self.add_gap(h, ext, now_us),
            _ => {
                if let Some(m) = self.take(ext) {
                    if m.sends >= self.max_sends && self.rtt_us.is_some() {
                        // Asked for to the end of its budget: its arrival measures the round
                        // trip only while none is known (a long path's first repair).
                        return false;
                    }
                    // Since the first NACK: an upper bound when retries were sent, which errs
                    // towards fewer duplicate retransmissions. Overtaken by packets sent after
                    // it, it is the packet itself, late. Without a send order to go by, no
                    // repair comes back in under half the repair round trip, and a packet
                    // never asked for is late (a time rule that locks once a round trip is
                    // measured too long: shorter repairs then never count, so the send order
                    // comes first).
                    let since_nack = m.first_sent_us.map(|sent| now_us.saturating_sub(sent));
                    match (since_nack, overtaken) {
                        (Some(t), Some(false) | None)
                            if overtaken.is_some() || self.rtt_us.is_none_or(|rtt| t >= rtt / 2) =>
                        {
                            self.on_repaired(now_us, t);
                            return true;
                        }
                        // A later copy (probe padding) before any NACK: says nothing.
                        (None, Some(false)) => {}
                        _ => self.on_reordered(now_us.saturating_sub(m.first_seen_us)),
                    }
                }
            }
        }
        false
    }

    /// The packets between `highest` and `ext` (both excluded) are missing.
    fn add_gap(&mut self, highest: u64, ext: u64, now_us: u64) {
        let from = (highest + 1).max(ext.saturating_sub(self.capacity as u64));
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

    /// Records `ext` rebuilt from FEC when the newest before it was `highest`: no longer
    /// missing, and neither a round-trip sample nor a sign of reordering.
    pub fn on_recovered(&mut self, ext: u64, highest: Option<u64>, now_us: u64) {
        match highest {
            Some(h) if ext > h + 1 => self.add_gap(h, ext, now_us),
            _ => {
                self.take(ext);
            }
        }
    }

    /// A gap's packet came back by itself, `late_us` after the gap was seen: the path
    /// reorders, so the window opens at least that far.
    fn on_reordered(&mut self, late_us: u64) {
        self.reorder_wait_us = self.reorder_wait_us.max(late_us + late_us / 4).min(MAX_REORDER_WAIT_US);
        self.reorder_persist = REORDER_PERSIST_REPAIRS;
    }

    /// A NACKed packet was repaired `since_nack_us` after the first NACK: a round-trip
    /// sample, and one repair more without reordering.
    fn on_repaired(&mut self, now_us: u64, since_nack_us: u64) {
        self.rtt_us = Some(self.rtt_us.map_or(since_nack_us, |r| (7 * r + since_nack_us) / 8));
        self.sample_min_rtt(now_us, since_nack_us);
        self.reorder_persist -= 1;
        if self.reorder_persist == 0 {
            self.reorder_wait_us = 0;
            self.reorder_persist = REORDER_PERSIST_REPAIRS;
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

    /// How long a missing packet is asked for: the configured age, or three repair round
    /// trips when that is longer (a long path gets as many tries as a short one).
    pub fn max_age_us(&self) -> u64 {
        self.max_age_us.max(self.rtt_us.map_or(0, |r| r * 3))
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
    /// sent. Entries past their age are dropped; one that used its send budget is kept
    /// until then without being asked for again, so that a late repair still measures the
    /// round trip.
    pub fn due(&mut self, now_us: u64, out: &mut Vec<u16>) {
        let (max_age, max_sends) = (self.max_age_us(), self.max_sends);
        self.missing.retain(|m| now_us.saturating_sub(m.first_seen_us) <= max_age);
        for i in 0..self.missing.len() {
            let m = self.missing[i];
            let due = match m.last_sent_us {
                None => now_us >= m.first_seen_us + self.first_wait_us(),
                Some(t) => m.sends < max_sends && now_us >= t + self.retry_after_us(m.sends),
            };
            let m = &mut self.missing[i];
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
            .filter(|m| m.sends < self.max_sends)
            .map(|m| {
                m.last_sent_us.map_or(m.first_seen_us + self.first_wait_us(), |t| t + self.retry_after_us(m.sends))
            })
            .min()
    }

    /// The wait before the first NACK of a gap: the reordering window, or FEC's.
    fn first_wait_us(&self) -> u64 {
        self.reorder_wait_us.max(self.fec_wait_us)
    }

    /// The wait before the next NACK of a packet already asked for `sends` times: the retry
    /// interval; before any round trip is measured it doubles with each send (up to
    /// [`UNKNOWN_RTT_RETRY_MAX_US`]), so a long path is not asked eight times per loss.
    fn retry_after_us(&self, sends: u32) -> u64 {
        match self.rtt_us {
            Some(_) => self.retry_us(),
            None => (self.retry_interval_us << sends.saturating_sub(1).min(8)).min(UNKNOWN_RTT_RETRY_MAX_US),
        }
    }

    /// Takes a round trip measured another way (the hub nonce's), while none is known.
    /// It is an upper bound (the camera's first frame is in it), so it teaches the path's own
    /// round trip ([`NackTracker::min_rtt_us`]) nothing.
    pub fn seed_rtt(&mut self, rtt_us: u64) {
        self.rtt_us.get_or_insert(rtt_us);
        self.seed_us.get_or_insert(rtt_us);
    }

    /// The path's own round trip ([`NackTracker::min_rtt_us`]), or until that is known the
    /// hub-nonce exchange's (an upper bound by one capture interval and one encode).
    pub fn path_rtt_us(&self) -> Option<u64> {
        self.min_rtt_us().or(self.seed_us)
    }

    fn sample_min_rtt(&mut self, now_us: u64, rtt_us: u64) {
        self.rtt_samples = self.rtt_samples.saturating_add(1);
        let (cur, prev, start) = &mut self.min_rtt;
        if now_us.saturating_sub(*start) >= MIN_RTT_WINDOW_US {
            *prev = cur.take();
            *start = now_us;
        }
        *cur = Some(cur.map_or(rtt_us, |c| c.min(rtt_us)));
    }

    /// The path's round trip without queueing: the least sample of the last 10-20 s, once
    /// [`MIN_RTT_SAMPLES`] were taken (a start-up keyframe's repairs come late).
    pub fn min_rtt_us(&self) -> Option<u64> {
        if self.rtt_samples < MIN_RTT_SAMPLES {
            return None;
        }
        match self.min_rtt {
            (Some(c), Some(p), _) => Some(c.min(p)),
            (c, p, _) => c.or(p),
        }
    }

    #[cfg(test)]
    /// Number of packets currently missing.
    pub fn len(&self) -> usize {
        self.missing.len()
    }

    #[cfg(test)]
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
        t.on_packet(10, Some(7), 0, None);
        let mut out = Vec::new();
        t.due(0, &mut out);
        assert_eq!(out, [8, 9]);
        out.clear();
        t.on_packet(8, Some(10), 50, None);
        t.due(50, &mut out);
        assert!(out.is_empty());
        t.due(100, &mut out);
        assert_eq!(out, [9]);
        out.clear();
        // Its two sends spent, 9 is not asked for again, but kept until its age runs out
        // so a late repair still measures the round trip.
        t.due(300, &mut out);
        assert!(out.is_empty() && !t.is_empty());
        t.due(10_001, &mut out);
        assert!(out.is_empty() && t.is_empty());
    }

    #[test]
    fn before_a_round_trip_is_known_retries_back_off() {
        let mut t = NackTracker::new(8, 60_000, 8, 10_000_000);
        t.reorder_wait_us = 0;
        t.on_packet(2, Some(0), 0, None);
        let mut sent_at = Vec::new();
        let mut out = Vec::new();
        for now in (0..2_000_000).step_by(10_000) {
            out.clear();
            t.due(now, &mut out);
            if !out.is_empty() {
                sent_at.push(now / 1000);
            }
        }
        assert_eq!(sent_at, [0, 60, 180, 420, 900, 1860]);
        // The repair 1.9 s after the first NACK still measures it.
        t.on_packet(1, Some(2), 1_900_000, Some(false));
        assert_eq!(t.rtt_us(), Some(1_900_000));
    }

    #[test]
    fn reordering_window_opens_on_late_packets_and_closes_after_repairs() {
        let mut t = NackTracker::new(64, 10_000, 10, 10_000_000);
        let mut out = Vec::new();
        // No reordering seen: a gap is asked for at once.
        t.on_packet(2, Some(0), 0, None);
        t.due(0, &mut out);
        assert_eq!(out, [1]);
        // Repaired after 100 ms: a round trip, not reordering.
        t.on_packet(1, Some(2), 100_000, None);
        assert_eq!((t.reorder_wait_us, t.rtt_us()), (0, Some(100_000)));
        // A packet 8 ms late by itself opens the window to 1.25x that.
        t.on_packet(5, Some(3), 200_000, None);
        t.on_packet(4, Some(5), 208_000, None);
        assert_eq!(t.reorder_wait_us, 10_000);
        out.clear();
        t.on_packet(7, Some(5), 300_000, None);
        t.due(309_000, &mut out);
        assert!(out.is_empty(), "inside the window");
        t.due(310_000, &mut out);
        assert_eq!(out, [6]);
        // Back 20 ms after its NACK: sooner than half the repair round trip, so the packet
        // itself, 30 ms late; the window widens, up to its bound.
        t.on_packet(6, Some(7), 330_000, None);
        assert_eq!(t.reorder_wait_us, 37_500);
        t.on_packet(9, Some(7), 400_000, None);
        t.on_packet(8, Some(9), 900_000, None);
        assert_eq!(t.reorder_wait_us, MAX_REORDER_WAIT_US);
        // Repairs without reordering close it again after REORDER_PERSIST_REPAIRS.
        let mut now = 1_000_000;
        for i in 0..REORDER_PERSIST_REPAIRS as u64 {
            let lost = 10 + 2 * i;
            assert_eq!(t.reorder_wait_us, MAX_REORDER_WAIT_US);
            t.on_packet(lost + 1, Some(lost - 1), now, None);
            out.clear();
            t.due(now + MAX_REORDER_WAIT_US, &mut out);
            assert_eq!(out, [lost as u16]);
            t.on_packet(lost, Some(lost + 1), now + MAX_REORDER_WAIT_US + 100_000, None);
            now += 1_000_000;
        }
        assert_eq!(t.reorder_wait_us, 0);
    }

    #[test]
    fn send_order_tells_a_repair_from_a_late_original_whatever_the_round_trip_estimate() {
        // The first repair comes 300 ms after its NACK (a start-up backlog); the path's real
        // repair round trip is 100 ms.
        let run = |order: [Option<bool>; 3]| {
            let mut t = NackTracker::new(64, 10_000, 10, 10_000_000);
            let mut out = Vec::new();
            t.on_packet(2, Some(0), 0, None);
            t.due(0, &mut out);
            t.on_packet(1, Some(2), 300_000, order[0]);
            for (k, now) in [(4u64, 1_000_000u64), (6, 2_000_000)] {
                t.on_packet(k + 1, Some(k - 1), now, None);
                out.clear();
                t.due(now + MAX_REORDER_WAIT_US, &mut out);
                assert_eq!(out, [k as u16]);
                t.on_packet(k, Some(k + 1), now + MAX_REORDER_WAIT_US + 100_000, order[(k / 2 - 1) as usize]);
            }
            (t.rtt_us(), t.reorder_wait_us)
        };
        // Without the send order, 100 ms is under half the 300 ms estimate: both repairs are
        // taken for late originals, the estimate never comes down and the window opens.
        assert_eq!(run([None; 3]), (Some(300_000), MAX_REORDER_WAIT_US));
        // Sent after everything that had arrived: repairs, and the estimate follows them.
        let (rtt, window) = run([Some(false); 3]);
        assert_eq!((rtt, window), (Some((7 * ((7 * 300_000 + 100_000) / 8) + 100_000) / 8), 0));
        // Overtaken by later packets: the original, late, even after a NACK.
        assert_eq!(run([Some(false), Some(true), Some(true)]).1, MAX_REORDER_WAIT_US);
    }

    #[test]
    fn huge_gap_stays_bounded() {
        let mut t = NackTracker::new(16, 100, 3, 10_000);
        t.on_packet(1_000_000, Some(0), 0, None);
        assert_eq!(t.len(), 16);
    }
}
