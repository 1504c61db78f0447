//! Playout: when the hub should show each frame it outputs.
//!
//! A frame is output as soon as it is complete, authenticated and decodable; a recorder
//! takes it then. A display that also shows it then inherits every repair's delay as a
//! stall: on a path with steady random loss a frame that needs one retransmission comes a
//! repair round trip late, and one whose retransmission was lost too comes two or three
//! round trips late, which is a freeze at 30 fps (a gap of 150 ms over the frame interval).
//!
//! [`Playout`] gives each frame a render time. While repairs are frequent (at least
//! [`REPAIR_BURST`] loss events within [`REPAIR_WINDOW_US`]; repairs less than
//! [`REPAIR_EVENT_GAP_US`] apart are one event, a burst) frames are shown one measured
//! repair round trip after the path's fastest transit, at most the receiver's
//! `max_playout_hold_ms`. A frame that needed one repair is then on time, and one that
//! needed a second is late by about one round trip, less than a freeze. libwebrtc's jitter
//! buffer does the same once a stream has been NACKed a few times: its jitter estimate
//! gains one round trip (`nack_limit` 3, RTT multiplier 1, in `jitter_estimator.cc`).
//! Here the hold is also released once the repairs stop, so a burst of congestion losses
//! does not cost every later frame a round trip. When repairs are rare a frame renders
//! when it is output.
//!
//! The camera's clock is never compared with the hub's: only differences of transit
//! (`output - capture`) are, so a constant offset between the clocks cancels, and the
//! fastest transit is re-learned every [`BASE_WINDOW_US`] so drift does not accumulate.

/// Loss events within [`REPAIR_WINDOW_US`] that switch the hold on.
pub const REPAIR_BURST: usize = 8;
/// Window for [`REPAIR_BURST`]: 8 isolated losses in 2 s is about 2.5 % of packets at
/// 1 Mbit/s, a rate at which a lost retransmission (p^2 per loss with two copies) is
/// expected every few minutes.
pub const REPAIR_WINDOW_US: u64 = 2_000_000;
/// Repairs less than this apart count as one loss event: a queue overflow loses
/// packets in a burst, which stalls one frame, not one per packet.
pub const REPAIR_EVENT_GAP_US: u64 = 50_000;
/// The fastest transit is the least over the current and the previous window of this length.
pub const BASE_WINDOW_US: u64 = 5_000_000;

/// Render times for one stream's frames.
#[derive(Debug, Clone)]
pub struct Playout {
    max_hold_us: u64,
    /// Times of the last [`REPAIR_BURST`] loss events, a ring.
    events: [u64; REPAIR_BURST],
    events_seen: usize,
    last_repair_us: Option<u64>,
    /// Least transit in the current and in the previous base window.
    base_cur: Option<i64>,
    base_prev: Option<i64>,
    window_start_us: u64,
    last_render_us: u64,
}

impl Playout {
    /// A playout clock that holds frames at most `max_hold_us` (0: never holds).
    pub fn new(max_hold_us: u64) -> Self {
        Playout {
            max_hold_us,
            events: [0; REPAIR_BURST],
            events_seen: 0,
            last_repair_us: None,
            base_cur: None,
            base_prev: None,
            window_start_us: 0,
            last_render_us: 0,
        }
    }

    /// Records a packet repaired by retransmission at `now_us`.
    pub fn on_repair(&mut self, now_us: u64) {
        let burst = self.last_repair_us.is_some_and(|t| now_us.saturating_sub(t) < REPAIR_EVENT_GAP_US);
        self.last_repair_us = Some(now_us);
        if burst {
            return;
        }
        self.events[self.events_seen % REPAIR_BURST] = now_us;
        self.events_seen += 1;
    }

    /// Whether frames are held for repairs at `now_us`.
    pub fn holding(&self, now_us: u64) -> bool {
        // The ring's next slot holds the oldest of the last REPAIR_BURST events.
        self.max_hold_us > 0
            && self.events_seen >= REPAIR_BURST
            && now_us.saturating_sub(self.events[self.events_seen % REPAIR_BURST]) < REPAIR_WINDOW_US
    }

    /// The render time of a frame captured at `capture_us` (camera clock) and output at
    /// `now_us` (hub clock), given the measured repair round trip. Never earlier than
    /// `now_us` nor than the previous frame's render time.
    pub fn render_at(&mut self, now_us: u64, capture_us: u64, repair_rtt_us: Option<u64>) -> u64 {
        let transit = now_us.wrapping_sub(capture_us) as i64;
        if self.base_cur.is_none() || now_us.saturating_sub(self.window_start_us) >= BASE_WINDOW_US {
            self.base_prev = self.base_cur.take();
            self.window_start_us = now_us;
        }
        let cur = self.base_cur.map_or(transit, |b| b.min(transit));
        self.base_cur = Some(cur);
        let base = self.base_prev.map_or(cur, |p| p.min(cur));
        let mut render = now_us;
        if let (true, Some(rtt)) = (self.holding(now_us), repair_rtt_us) {
            // Wanted: transit `base + hold`; this frame's is `transit`.
            let hold = rtt.min(self.max_hold_us) as i64;
            let wait = base.saturating_add(hold).saturating_sub(transit);
            if wait > 0 {
                render = now_us.saturating_add(wait as u64);
            }
        }
        render = render.max(self.last_render_us);
        self.last_render_us = render;
        render
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    /// Frames every 33 ms with transit `transit(k)`; returns (output, render) times.
    fn frames(
        p: &mut Playout,
        from: u64,
        n: u64,
        offset: u64,
        rtt: u64,
        transit: impl Fn(u64) -> u64,
    ) -> Vec<(u64, u64)> {
        (0..n)
            .map(|k| {
                let capture = from + k * 33 * MS;
                let out = capture + transit(k);
                (out, p.render_at(out, capture.wrapping_add(offset), Some(rtt)))
            })
            .collect()
    }

    #[test]
    fn frames_render_when_output_while_repairs_are_rare() {
        let mut p = Playout::new(200 * MS);
        // Seven isolated repairs in 2 s: one short of the burst.
        for k in 0..7 {
            p.on_repair(k * 200 * MS);
        }
        let out = frames(&mut p, 0, 60, 0, 100 * MS, |k| 60 * MS + (k % 4) * 10 * MS);
        assert!(out.iter().all(|&(o, r)| o == r), "{out:?}");
    }

    #[test]
    fn frequent_repairs_hold_frames_one_round_trip_above_the_fastest_transit() {
        for offset in [0, 7_000_000_000, u64::MAX - 1_000_000] {
            let mut p = Playout::new(200 * MS);
            let t0 = 10_000 * MS;
            // Transit 60-90 ms; a frame every 10th waits 100 ms more for its repair.
            let transit = |k: u64| 60 * MS + (k % 4) * 10 * MS + if k % 10 == 9 { 100 * MS } else { 0 };
            frames(&mut p, t0, 30, offset, 100 * MS, transit);
            for k in 0..8 {
                p.on_repair(t0 + 1000 * MS + k * 100 * MS);
            }
            let out = frames(&mut p, t0 + 1800 * MS, 30, offset, 100 * MS, transit);
            for (k, &(o, r)) in out.iter().enumerate() {
                let capture = t0 + 1800 * MS + k as u64 * 33 * MS;
                // Fastest transit 60 ms + one round trip; a repaired frame is on time.
                assert_eq!(r, o.max(capture + 160 * MS), "offset {offset} frame {k}");
            }
            // A repaired frame (transit 160-190 ms) is at most 30 ms late: render gaps stay
            // within 33 + 30 ms, where without the hold they reach 33 + 110 ms.
            assert!(out.windows(2).all(|w| w[1].1 - w[0].1 <= 63 * MS), "{out:?}");
            let at_output = out.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)).max();
            assert_eq!(at_output, Some(143 * MS));
        }
    }

    #[test]
    fn a_burst_of_repairs_is_one_event_and_the_hold_ends_when_repairs_stop() {
        let mut p = Playout::new(200 * MS);
        for k in 0..40 {
            p.on_repair(1000 * MS + k * 2 * MS); // one queue overflow: 40 packets in 80 ms
        }
        assert!(!p.holding(1100 * MS));
        for k in 0..8 {
            p.on_repair(2000 * MS + k * 60 * MS);
        }
        assert!(p.holding(2500 * MS));
        assert!(p.holding(2000 * MS + REPAIR_WINDOW_US - 1));
        // 2 s after the 8th-last event the hold is released.
        assert!(!p.holding(2000 * MS + REPAIR_WINDOW_US));
    }

    #[test]
    fn the_hold_is_capped_and_render_times_never_go_back() {
        let mut p = Playout::new(150 * MS);
        for k in 0..8 {
            p.on_repair(k * 100 * MS);
        }
        // A 400 ms round trip holds only 150 ms above the fastest transit.
        let out = frames(&mut p, 800 * MS, 10, 0, 400 * MS, |_| 50 * MS);
        assert_eq!(out[5].1, 800 * MS + 5 * 33 * MS + 200 * MS);
        // Once the hold ends, frames come out sooner but never render before the last one.
        let later = frames(&mut p, 4000 * MS, 5, 0, 400 * MS, |_| 50 * MS);
        assert!(later.iter().all(|&(o, r)| r == o));
        let mut q = Playout::new(0);
        for k in 0..8 {
            q.on_repair(k * 100 * MS);
        }
        assert!(!q.holding(800 * MS));
        let last = p.render_at(10_000 * MS, 9_990 * MS, Some(100 * MS));
        assert!(p.render_at(10_001 * MS, 9_000 * MS, Some(100 * MS)) >= last);
    }
}
