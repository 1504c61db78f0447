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
//! does not cost every later frame a round trip.
//!
//! A radio uplink stalls for 100-300 ms every few seconds (LTE scheduling, cell load): the
//! frames caught behind the stall arrive together, 150 ms or more later than the path's
//! fastest transit, and shown when output the stream freezes at each one. While such
//! spikes are frequent (at least [`SPIKE_BURST`] within [`SPIKE_WINDOW_US`]; frames less
//! than [`SPIKE_EVENT_GAP_US`] apart are one spike) frames are shown [`SPIKE_HOLD_US`]
//! after the fastest transit, so a stall up to 250 ms long delays the picture without
//! stopping it; a wired path's rare congestion step does not switch it on. libwebrtc's
//! jitter buffer does the same with its frame-delay-variation estimate, which rises at
//! once with a late frame and decays slowly. Both holds are capped at the receiver's
//! `max_playout_hold_ms`; when neither applies a frame renders when it is output.
//!
//! The camera's clock is never compared with the hub's: only differences of transit
//! (`output - capture`) are, so a constant offset between the clocks cancels, and the
//! fastest transit is re-learned every [`BASE_WINDOW_US`] so drift does not accumulate.

/// Loss events within [`REPAIR_WINDOW_US`] that switch the hold on.
pub(crate) const REPAIR_BURST: usize = 8;
/// Window for [`REPAIR_BURST`]: 8 isolated losses in 2 s is about 2.5 % of packets at
/// 1 Mbit/s, a rate at which a lost retransmission (p^2 per loss with two copies) is
/// expected every few minutes.
pub(crate) const REPAIR_WINDOW_US: u64 = 2_000_000;
/// A repair round trip from which one repair, plus a frame interval, outlasts the freeze
/// limit (183 ms at 30 fps): on such a path any repair is held for.
pub(crate) const LONG_PATH_RTT_US: u64 = 150_000;
/// On a long path, frames are held for this long after the last repair.
pub(crate) const SPARSE_REPAIR_WINDOW_US: u64 = 10_000_000;
/// Repairs less than this apart count as one loss event: a queue overflow loses
/// packets in a burst, which stalls one frame, not one per packet.
pub(crate) const REPAIR_EVENT_GAP_US: u64 = 50_000;
/// The fastest transit is the least over the current and the previous window of this length.
pub(crate) const BASE_WINDOW_US: u64 = 5_000_000;
/// A frame output this much later than the fastest transit is a spike: shown then, after
/// frames shown at the fastest transit, it leaves a gap of the frame interval + 150 ms, a
/// freeze at 30 fps (the report's freeze rule, `sim::scenario::freeze_limit_us`).
pub(crate) const SPIKE_US: u64 = 150_000;
/// Spiking frames less than this apart are one spike: one stall delays every frame
/// queued behind it.
pub(crate) const SPIKE_EVENT_GAP_US: u64 = 300_000;
/// Spikes within [`SPIKE_WINDOW_US`] that switch the spike hold on. Three in 20 s: the
/// RFC 8867 links' congestion steps (one or two per 20 s, each a spike) leave it off, so
/// their delay is not raised; the LTE and `poor` uplinks spike every few seconds. Two
/// engaged it on RFC 8867 5.1 and 5.2 (p95 115 -> 177 ms) for no fewer freezes there.
pub(crate) const SPIKE_BURST: usize = 3;
/// Window for [`SPIKE_BURST`].
pub(crate) const SPIKE_WINDOW_US: u64 = 20_000_000;
/// The spike hold above the fastest transit: a stall that delays frames by up to this +
/// 150 ms no longer freezes the picture. 100 ms: on the LTE trace (9 start shifts) 90, 100,
/// 120 and 150 ms took freezes from 16 to 13, 13, 13 and 12 with p95 delay 150, 159, 179
/// and 209 ms (from 142); on `poor` (4 seeds) 67.5 to 28.5, 23, 19.5 and 17.5.
pub(crate) const SPIKE_HOLD_US: u64 = 100_000;

/// The hold never exceeds this, whatever the round trip (a satellite path's 1.2 s round trip
/// fits).
pub(crate) const MAX_HOLD_US: u64 = 2_000_000;

/// The times of the last `N` events, where occurrences less than a gap apart are one
/// event: a ring.
#[derive(Debug, Clone)]
struct Events<const N: usize> {
    times: [u64; N],
    seen: usize,
    last_us: Option<u64>,
}

impl<const N: usize> Events<N> {
    fn new() -> Self {
        Events { times: [0; N], seen: 0, last_us: None }
    }

    /// Records an occurrence at `now_us`, a new event unless the previous one was less than
    /// `gap_us` before.
    fn record(&mut self, now_us: u64, gap_us: u64) {
        let same = self.last_us.is_some_and(|t| now_us.saturating_sub(t) < gap_us);
        self.last_us = Some(now_us);
        if !same {
            self.times[self.seen % N] = now_us;
            self.seen += 1;
        }
    }

    /// Whether `N` events fell within the `window_us` before `now_us`.
    fn frequent(&self, now_us: u64, window_us: u64) -> bool {
        // The ring's next slot holds the oldest of the last N events.
        self.seen >= N && now_us.saturating_sub(self.times[self.seen % N]) < window_us
    }
}

/// Render times for one stream's frames.
#[derive(Debug, Clone)]
pub struct Playout {
    max_hold_us: u64,
    repairs: Events<REPAIR_BURST>,
    spikes: Events<SPIKE_BURST>,
    /// Least transit in the current and in the previous base window.
    base_cur: Option<i64>,
    base_prev: Option<i64>,
    window_start_us: u64,
    last_render_us: u64,
    last_lateness_us: u64,
    path_rtt_us: Option<u64>,
    /// When a packet was last rebuilt from FEC.
    last_recovered_us: Option<u64>,
}

impl Playout {
    /// A playout clock that holds frames at most `max_hold_us` (0: never holds).
    pub fn new(max_hold_us: u64) -> Self {
        Playout {
            max_hold_us,
            repairs: Events::new(),
            spikes: Events::new(),
            base_cur: None,
            base_prev: None,
            window_start_us: 0,
            last_render_us: 0,
            last_lateness_us: 0,
            path_rtt_us: None,
            last_recovered_us: None,
        }
    }

    /// Records a packet repaired by retransmission at `now_us`.
    pub fn on_repair(&mut self, now_us: u64) {
        self.repairs.record(now_us, REPAIR_EVENT_GAP_US);
    }

    /// Records a packet rebuilt from FEC at `now_us`: the path loses packets, and the one
    /// loss FEC cannot rebuild will need a round trip.
    pub fn on_recovered(&mut self, now_us: u64) {
        self.last_recovered_us = Some(now_us);
    }

    /// The path's own round trip, without queueing (the least repair round trip lately).
    pub fn set_path_rtt(&mut self, rtt_us: Option<u64>) {
        self.path_rtt_us = rtt_us;
    }

    /// The longest repair hold: the configured one, or 1.25 of the path's own round trip when
    /// that is longer (one repair must fit in the hold, however long the path; queueing is
    /// the rate controller's to remove, not the hold's to absorb), at most [`MAX_HOLD_US`];
    /// 0 stays 0 (never hold).
    pub fn max_hold(&self) -> u64 {
        if self.max_hold_us == 0 {
            return 0;
        }
        let rtt_hold = self.path_rtt_us.map_or(0, |r| r * 5 / 4);
        self.max_hold_us.max(rtt_hold.min(MAX_HOLD_US))
    }

    /// Whether frames are held for repairs at `now_us`.
    pub fn holding(&self, now_us: u64) -> bool {
        self.max_hold_us > 0 && self.repairs.frequent(now_us, REPAIR_WINDOW_US)
    }

    /// Whether frames are held for repairs at `now_us`: while repairs are frequent, or on a
    /// path whose own round trip is long after any repair or FEC recovery in the last
    /// [`SPARSE_REPAIR_WINDOW_US`] (there a single repair outlasts a frame gap).
    fn holding_for_repairs(&self, now_us: u64) -> bool {
        let within = |t: Option<u64>| t.is_some_and(|t| now_us.saturating_sub(t) < SPARSE_REPAIR_WINDOW_US);
        let recent = within(self.repairs.last_us) || within(self.last_recovered_us);
        let long = self.path_rtt_us.is_some_and(|r| r >= LONG_PATH_RTT_US);
        self.holding(now_us) || (self.max_hold_us > 0 && long && recent)
    }

    /// Whether frames are held for delay spikes at `now_us`.
    pub fn holding_for_spikes(&self, now_us: u64) -> bool {
        self.max_hold_us > 0 && self.spikes.frequent(now_us, SPIKE_WINDOW_US)
    }

    /// The render time of a frame whose capture time must teach nothing (sealed under an
    /// older key epoch): as soon as it is output, never before the previous frame's.
    pub fn render_untaught(&mut self, now_us: u64) -> u64 {
        self.last_render_us = self.last_render_us.max(now_us);
        self.last_render_us
    }

    /// How much longer than the fastest transit so far a frame captured at `capture_us` and
    /// here at `now_us` took (`None` before any frame taught the playout).
    pub fn lateness_us(&self, now_us: u64, capture_us: u64) -> Option<u64> {
        let transit = now_us.wrapping_sub(capture_us) as i64;
        Some(transit.saturating_sub(self.base()?).max(0) as u64)
    }

    /// The fastest transit of the current and the previous base window.
    fn base(&self) -> Option<i64> {
        match (self.base_cur, self.base_prev) {
            (Some(c), Some(p)) => Some(c.min(p)),
            (c, p) => c.or(p),
        }
    }

    /// How much longer than the fastest transit the frame of the last [`Playout::render_at`]
    /// took (its capture to its output).
    pub fn last_lateness_us(&self) -> u64 {
        self.last_lateness_us
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
        self.base_cur = Some(self.base_cur.map_or(transit, |b| b.min(transit)));
        let base = self.base().expect("the current window has a transit");
        self.last_lateness_us = transit.saturating_sub(base).max(0) as u64;
        if transit.saturating_sub(base) > SPIKE_US as i64 {
            self.spikes.record(now_us, SPIKE_EVENT_GAP_US);
        }
        let repair_hold = repair_rtt_us.filter(|_| self.holding_for_repairs(now_us)).unwrap_or(0);
        let spike_hold = if self.holding_for_spikes(now_us) { SPIKE_HOLD_US } else { 0 };
        // A repair hold may stretch to fit one repair; the spike hold keeps the configured cap.
        let hold = repair_hold.min(self.max_hold()).max(spike_hold.min(self.max_hold_us)) as i64;
        // Wanted: transit `base + hold`; this frame's is `transit`.
        let wait = base.saturating_add(hold).saturating_sub(transit).max(0) as u64;
        let render = now_us.saturating_add(wait).max(self.last_render_us);
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

    /// Transit of frame `k` (every 33 ms) on a path of 60 ms that stalls for 200 ms every
    /// `every` frames: frames captured in the stall wait for its end.
    fn stalling(k: u64, every: u64) -> u64 {
        let into = (k % every) * 33 * MS;
        60 * MS + (200 * MS).saturating_sub(into)
    }

    /// The longest gap between render times among frames `from..to` of `out`.
    fn longest_gap(out: &[(u64, u64)], from: usize, to: usize) -> u64 {
        out[from..to].windows(2).map(|w| w[1].1 - w[0].1).max().unwrap_or(0)
    }

    #[test]
    fn frequent_stalls_hold_frames_so_a_200ms_stall_does_not_freeze() {
        for offset in [0, 7_000_000_000, u64::MAX - 1_000_000] {
            let mut p = Playout::new(200 * MS);
            // A stall every 120 frames (4 s), the first at frame 120; no repairs.
            let out =
                frames(&mut p, 1000 * MS, 600, offset, 100 * MS, |k| if k >= 120 { stalling(k, 120) } else { 60 * MS });
            // The first three stalls render when output: a gap of the frame interval + 200 ms
            // (a freeze).
            for stall in [120, 240, 360] {
                assert_eq!(longest_gap(&out, stall - 1, stall + 10), 233 * MS, "offset {offset} stall {stall}");
                assert_eq!(out[stall - 1].1, out[stall - 1].0);
            }
            // From the third on frames are shown 100 ms after the fastest transit: the next
            // stall's gap is 133 ms, under the 183 ms of a freeze.
            let capture = |k: usize| 1000 * MS + k as u64 * 33 * MS;
            assert_eq!(out[400].1, capture(400) + 160 * MS);
            assert!(p.holding_for_spikes(out[599].0));
            assert!(!p.holding(out[599].0));
            assert_eq!(longest_gap(&out, 479, 490), 133 * MS, "offset {offset}");
            assert!(out.iter().all(|&(o, r)| r >= o));
        }
    }

    #[test]
    fn rare_congestion_steps_do_not_hold_frames_and_the_spike_hold_ends_when_stalls_stop() {
        let mut p = Playout::new(200 * MS);
        // Two stalls 10 s apart (congestion steps on a wired path): one short of the burst.
        let out = frames(&mut p, 1000 * MS, 700, 0, 100 * MS, |k| {
            if (300..310).contains(&k) || (600..610).contains(&k) {
                stalling(k, 300)
            } else {
                60 * MS
            }
        });
        assert!(out.iter().all(|&(o, r)| o == r));
        assert!(!p.holding_for_spikes(out[699].0));
        // Later (over 20 s after those), stalls at frames 60, 120, 180 and 240, 2 s apart:
        // on from the third.
        let t0 = 45_000 * MS;
        let transit = |k: u64| if k >= 60 { stalling(k, 60) } else { 60 * MS };
        let before = frames(&mut p, t0, 180, 0, 100 * MS, transit);
        assert!(!p.holding_for_spikes(before[179].0));
        assert!(before.iter().all(|&(o, r)| o == r));
        let after = frames(&mut p, t0 + 180 * 33 * MS, 120, 0, 100 * MS, |k| transit(k + 180));
        assert!(p.holding_for_spikes(after[0].0));
        // Off once the oldest of the last three (frame 120's) is 20 s old.
        let oldest = before[120].0;
        assert!(p.holding_for_spikes(oldest + SPIKE_WINDOW_US - 1));
        assert!(!p.holding_for_spikes(oldest + SPIKE_WINDOW_US));
        let quiet = frames(&mut p, oldest + SPIKE_WINDOW_US, 30, 0, 100 * MS, |_| 60 * MS);
        assert!(quiet.iter().all(|&(o, r)| o == r));
        // A receiver configured never to hold does not hold for spikes either.
        let mut q = Playout::new(0);
        let out = frames(&mut q, 0, 600, 0, 100 * MS, transit);
        assert!(out.iter().all(|&(o, r)| o == r));
        // One capped at 50 ms holds 50 ms.
        let mut c = Playout::new(50 * MS);
        let out = frames(&mut c, 0, 600, 0, 100 * MS, transit);
        assert_eq!(out[400].1, 400 * 33 * MS + 110 * MS);
    }

    #[test]
    fn the_hold_stretches_to_one_round_trip_is_capped_and_render_times_never_go_back() {
        let mut p = Playout::new(150 * MS);
        p.set_path_rtt(Some(400 * MS));
        for k in 0..8 {
            p.on_repair(k * 100 * MS);
        }
        // A 400 ms round trip: the 150 ms ceiling stretches to 1.25 round trips, so one
        // repair fits and frames are held the full round trip above the fastest transit.
        let out = frames(&mut p, 800 * MS, 10, 0, 400 * MS, |_| 50 * MS);
        assert_eq!(out[5].1, 800 * MS + 5 * 33 * MS + 450 * MS);
        // A 3 s round trip is capped at 2 s; queueing alone (a short path's own round trip)
        // does not stretch it.
        p.set_path_rtt(Some(3_000 * MS));
        assert_eq!(p.max_hold(), MAX_HOLD_US);
        p.set_path_rtt(Some(100 * MS));
        assert_eq!(p.max_hold(), 150 * MS);
        p.set_path_rtt(Some(400 * MS));
        // On so long a path the hold lasts 10 s after the last repair; then frames come out
        // sooner but never render before the last one.
        let held = frames(&mut p, 9_000 * MS, 5, 0, 400 * MS, |_| 50 * MS);
        assert!(held.iter().all(|&(o, r)| r > o));
        let later = frames(&mut p, 11_000 * MS, 5, 0, 400 * MS, |_| 50 * MS);
        assert!(later.iter().all(|&(o, r)| r == o));
        // A short path is not held after sparse repairs.
        let mut s = Playout::new(150 * MS);
        s.set_path_rtt(Some(100 * MS));
        s.on_repair(0);
        let short = frames(&mut s, 100 * MS, 5, 0, 100 * MS, |_| 50 * MS);
        assert!(short.iter().all(|&(o, r)| r == o));
        let mut q = Playout::new(0);
        for k in 0..8 {
            q.on_repair(k * 100 * MS);
        }
        assert!(!q.holding(800 * MS));
        q.set_path_rtt(Some(400 * MS));
        assert_eq!(q.max_hold(), 0);
        let last = p.render_at(20_000 * MS, 19_990 * MS, Some(100 * MS));
        assert!(p.render_at(20_001 * MS, 19_000 * MS, Some(100 * MS)) >= last);
    }
}
