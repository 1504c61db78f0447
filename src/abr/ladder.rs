//! The resolution and frame-rate ladder: when the target leaves too few bits per pixel (or
//! the encoder's quantizer stays high), encode a smaller picture; when there are bits to
//! spare for a larger one (and the quantizer is low), go back up. Each switch costs a
//! keyframe, so the ladder holds a rung for a while and needs a margin to move
//! (hysteresis: the up threshold is 1.75x the down threshold, measured at the larger rung).
//! Below the smallest rung the frame rate halves.
//!
//! Thresholds in bits per pixel per frame (bpp) for H.264 at camera content: 0.04 bpp is
//! where 640x480 at 30 fps gets about 370 kbit/s, the point where openh264's quantizer
//! passes 40 on our noisy scene; the same numbers serve AV1 (more efficient, so it
//! switches later than it could).

/// Scale of each rung, as a fraction of the capture size (numerator, denominator).
pub(crate) const RUNGS: [(u32, u32); 4] = [(1, 1), (3, 4), (1, 2), (1, 4)];
/// Below this many bits per pixel per frame, step down.
pub(crate) const DOWN_BPP: f64 = 0.04;
/// Above this (at the larger rung), step up.
pub(crate) const UP_BPP: f64 = 0.07;
/// Quantizer (H.264 scale, 0-51) above which the picture is too coarse for its size.
pub(crate) const QP_HIGH: f64 = 42.0;
/// Quantizer under which a larger picture is affordable.
pub(crate) const QP_LOW: f64 = 34.0;
/// Quantizer under which the encoder is clearly not using its budget (a small picture at a
/// rate it cannot fill): a larger picture is taken as soon as it gets `UNDERSHOOT_UP_BPP`.
pub(crate) const QP_UNDERSHOOT: f64 = 28.0;
/// Bits per pixel per frame the larger rung needs when the encoder undershoots.
pub(crate) const UNDERSHOOT_UP_BPP: f64 = 0.05;
/// A down condition must hold this long.
pub(crate) const DOWN_HOLD_US: u64 = 2_000_000;
/// An up condition must hold this long.
pub(crate) const UP_HOLD_US: u64 = 4_000_000;
/// Least time between two switches.
pub(crate) const MIN_SWITCH_INTERVAL_US: u64 = 6_000_000;
/// Below this fraction of `DOWN_BPP` the rung is far too large (a start rate far above the
/// link, a collapse): the ladder goes at once to the largest rung the target fits ...
pub(crate) const FAR_DOWN_FRACTION: f64 = 0.5;
/// ... once that holds this long ...
pub(crate) const FAR_DOWN_HOLD_US: u64 = 500_000;
/// ... and this long after the last switch: every frame of a rung that large waits in a
/// queue it overflows, so the keyframe of the switch costs less than staying.
pub(crate) const FAR_DOWN_INTERVAL_US: u64 = 1_000_000;
/// Smoothing of the quantizer per frame.
const QP_ALPHA: f64 = 0.1;

/// What to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LadderChoice {
    /// Encode size.
    pub width: u32,
    /// Encode size.
    pub height: u32,
    /// Send one frame in this many (1 = every frame).
    pub frame_divisor: u32,
}

/// The ladder's state.
#[derive(Debug, Clone)]
pub struct Ladder {
    capture: (u32, u32),
    fps: f64,
    rung: usize,
    divisor: u32,
    qp: Option<f64>,
    down_since: Option<u64>,
    far_down_since: Option<u64>,
    up_since: Option<u64>,
    last_switch_us: Option<u64>,
    /// The capture size may be smaller than some rungs would round to; those are skipped.
    switches: u32,
}

fn rung_size(capture: (u32, u32), rung: usize) -> (u32, u32) {
    let (n, d) = RUNGS[rung];
    let even = |v: u32| ((v * n / d).max(2) + 1) & !1;
    if rung == 0 {
        capture
    } else {
        (even(capture.0).min(capture.0), even(capture.1).min(capture.1))
    }
}

impl Ladder {
    /// A ladder for a camera of `capture` size at `fps`.
    pub fn new(capture: (u32, u32), fps: f64) -> Self {
        Ladder {
            capture,
            fps,
            rung: 0,
            divisor: 1,
            qp: None,
            down_since: None,
            far_down_since: None,
            up_since: None,
            last_switch_us: None,
            switches: 0,
        }
    }

    /// The current choice.
    pub fn choice(&self) -> LadderChoice {
        let (width, height) = rung_size(self.capture, self.rung);
        LadderChoice { width, height, frame_divisor: self.divisor }
    }

    /// Switches made so far.
    pub fn switches(&self) -> u32 {
        self.switches
    }

    /// The capture size changed: start over at the top rung.
    pub fn set_capture(&mut self, capture: (u32, u32)) {
        if capture != self.capture {
            *self = Ladder { last_switch_us: self.last_switch_us, ..Ladder::new(capture, self.fps) };
        }
    }

    /// An encoded frame's quantizer (H.264 scale).
    pub fn on_qp(&mut self, qp: u8) {
        let q = qp as f64;
        self.qp = Some(self.qp.map_or(q, |s| s + QP_ALPHA * (q - s)));
    }

    fn bpp(&self, target_bps: f64, rung: usize, divisor: u32) -> f64 {
        let (w, h) = rung_size(self.capture, rung);
        target_bps / (w as f64 * h as f64 * self.fps / divisor as f64)
    }

    /// Updates with the current target; returns the new choice when it changed.
    pub fn update(&mut self, now_us: u64, target_bps: f64) -> Option<LadderChoice> {
        self.update_after(now_us, target_bps, false)
    }

    /// [`Ladder::update`] after the path estimate collapsed (the sender drops its queue
    /// and sends a keyframe anyway): a rung far too large is left at once, without the
    /// hold, so that keyframe is already of the rung the target fits.
    pub fn update_collapsed(&mut self, now_us: u64, target_bps: f64) -> Option<LadderChoice> {
        self.update_after(now_us, target_bps, true)
    }

    fn update_after(&mut self, now_us: u64, target_bps: f64, collapsed: bool) -> Option<LadderChoice> {
        let qp = self.qp.unwrap_or(QP_LOW);
        let last = self.rung == RUNGS.len() - 1;
        let can_go_down = !last || self.divisor == 1;
        let down = can_go_down && (self.bpp(target_bps, self.rung, self.divisor) < DOWN_BPP || qp > QP_HIGH);
        let up_target = if self.divisor > 1 { (self.rung, 1) } else { (self.rung.saturating_sub(1), 1) };
        let can_go_up = self.divisor > 1 || self.rung > 0;
        let up_bpp = self.bpp(target_bps, up_target.0, up_target.1);
        let up =
            can_go_up && ((up_bpp > UP_BPP && qp < QP_LOW + 4.0) || (up_bpp > UNDERSHOOT_UP_BPP && qp < QP_UNDERSHOOT));
        let far_down = !last && self.bpp(target_bps, self.rung, self.divisor) < FAR_DOWN_FRACTION * DOWN_BPP;
        self.down_since = if down { Some(self.down_since.unwrap_or(now_us)) } else { None };
        self.far_down_since = if far_down { Some(self.far_down_since.unwrap_or(now_us)) } else { None };
        self.up_since = if up { Some(self.up_since.unwrap_or(now_us)) } else { None };
        let since_switch = |interval| self.last_switch_us.is_none_or(|t| now_us >= t + interval);
        let before = self.choice();
        let far_held = collapsed || self.far_down_since.is_some_and(|t| now_us >= t + FAR_DOWN_HOLD_US);
        if far_down && (collapsed || since_switch(FAR_DOWN_INTERVAL_US)) && far_held {
            // The largest rung the target fits (or the smallest).
            let fits = (self.rung + 1..RUNGS.len()).find(|&r| self.bpp(target_bps, r, 1) >= DOWN_BPP);
            self.rung = fits.unwrap_or(RUNGS.len() - 1);
        } else if !since_switch(MIN_SWITCH_INTERVAL_US) {
            return None;
        } else if self.down_since.is_some_and(|t| now_us >= t + DOWN_HOLD_US) {
            if last {
                self.divisor = 2;
            } else {
                self.rung += 1;
            }
        } else if self.up_since.is_some_and(|t| now_us >= t + UP_HOLD_US) {
            if self.divisor > 1 {
                self.divisor = 1;
            } else {
                self.rung -= 1;
            }
        } else {
            return None;
        }
        self.down_since = None;
        self.far_down_since = None;
        self.up_since = None;
        self.qp = None;
        self.last_switch_us = Some(now_us);
        self.switches += 1;
        let after = self.choice();
        (after != before).then_some(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_down_on_low_rate_and_back_up_with_hysteresis() {
        let mut l = Ladder::new((640, 480), 30.0);
        let mut t = 0;
        let mut step = |l: &mut Ladder, bps: f64, secs: u64| {
            let mut last = None;
            for _ in 0..secs * 10 {
                t += 100_000;
                l.on_qp(30);
                if let Some(c) = l.update(t, bps) {
                    last = Some(c);
                }
            }
            last
        };
        // 0.2 Mbit/s at 640x480x30 is 0.022 bpp: down to 480x360 after two seconds.
        assert_eq!(step(&mut l, 200_000.0, 3).map(|c| (c.width, c.height)), Some((480, 360)));
        // Then again (not before the switch interval).
        assert_eq!(step(&mut l, 200_000.0, 7).map(|c| (c.width, c.height)), Some((320, 240)));
        // 0.35 Mbit/s: 0.15 bpp at 320x240, 0.068 at 480x360: not enough to go up.
        assert_eq!(step(&mut l, 350_000.0, 20), None);
        // 0.5 Mbit/s: 0.096 bpp at 480x360: up.
        assert_eq!(step(&mut l, 500_000.0, 10).map(|c| (c.width, c.height)), Some((480, 360)));
    }

    #[test]
    fn a_rate_far_below_the_rung_goes_to_the_rung_it_fits_at_once() {
        let mut l = Ladder::new((640, 480), 30.0);
        let mut t = 0;
        let mut switches = vec![];
        // 60 kbit/s: 0.0065 bpp at 640x480, 0.10 at 160x120 (0.026 at 320x240: too low).
        for _ in 0..20 {
            t += 100_000;
            l.on_qp(30);
            if let Some(c) = l.update(t, 60_000.0) {
                switches.push((t, c));
            }
        }
        assert_eq!(switches.len(), 1, "{switches:?}");
        assert_eq!((switches[0].1.width, switches[0].1.height, switches[0].1.frame_divisor), (160, 120, 1));
        assert!(switches[0].0 <= 700_000, "after {} us", switches[0].0);
        // 250 kbit/s: 0.027 bpp at 480x360 (below DOWN_BPP but not far): 320x240, by the
        // one-step rule only.
        let mut l = Ladder::new((640, 480), 30.0);
        let mut t = 0;
        let mut first = None;
        while first.is_none() {
            t += 100_000;
            l.on_qp(30);
            first = l.update(t, 250_000.0);
        }
        assert_eq!(first.map(|c| (c.width, c.height)), Some((480, 360)));
        assert!(t >= DOWN_HOLD_US);
    }

    #[test]
    fn halves_the_frame_rate_below_the_smallest_rung() {
        let mut l = Ladder::new((640, 480), 30.0);
        let mut t = 0;
        let mut last = None;
        for _ in 0..600 {
            t += 100_000;
            if let Some(c) = l.update(t, 20_000.0) {
                last = Some(c);
            }
        }
        assert_eq!(last, Some(LadderChoice { width: 160, height: 120, frame_divisor: 2 }));
    }

    #[test]
    fn an_encoder_that_cannot_fill_its_budget_gets_a_larger_picture() {
        let mut l = Ladder::new((640, 480), 30.0);
        let mut t = 0;
        let mut last = None;
        // Down to 320x240 at 0.2 Mbit/s (QP high enough to stay).
        for _ in 0..200 {
            t += 100_000;
            l.on_qp(36);
            last = l.update(t, 200_000.0).or(last);
        }
        assert_eq!(last.map(|c| (c.width, c.height)), Some((320, 240)));
        // 0.3 Mbit/s is 0.058 bpp at 480x360: not enough by the bit budget alone, but the
        // encoder sits at QP 22: it cannot spend the budget on the small picture.
        let mut up = None;
        for _ in 0..200 {
            t += 100_000;
            l.on_qp(22);
            up = l.update(t, 300_000.0).or(up);
        }
        assert_eq!(up.map(|c| (c.width, c.height)), Some((480, 360)));
    }
}
