//! AV1 through rav1e, tuned for live cameras: low latency (no frame reordering, the minimum
//! look-ahead of one frame, no scene-cut look-ahead), a real-time speed preset by default,
//! tiles and threads for 2-core boards. The frame delay is one frame: each call returns the
//! previous frame's packet, labelled with that frame's capture time.
//!
//! rav1e cannot change the bitrate of a running context (rav1e issue 3382). sealcam's
//! answer: a target change of more than `RESTART_RATIO` starts a new context at once (its
//! first frame is a keyframe, which is what makes the output follow within a frame); smaller
//! changes wait for the next keyframe the stream needs anyway (a PLI or the periodic one),
//! so a slowly drifting estimate does not cost keyframes. `tests/codec.rs` measures how fast
//! the output follows a step.

use std::sync::Arc;

use rav1e::prelude::*;

use super::{Codec, EncodedInfo, RateSettings, VideoEncoder};
use crate::error::{invalid, Error, Result};
use crate::frame::I420Buffer;

/// A change of target bitrate larger than this ratio (either way) restarts the context ...
pub(crate) const RESTART_RATIO: f64 = 1.3;
/// ... once the context has run this long (seconds of frames).
pub(crate) const RESTART_MIN_AGE_S: f64 = 2.0;

/// The largest quantizer index (of 255) rav1e's rate control may pick.
const MAX_QUANTIZER: usize = 240;

/// Rate-control reservoir of rav1e in frames (its minimum is 12).
const RESERVOIR_FRAMES: i32 = 12;

/// rav1e's largest keyframe interval, used when keyframes come only on request.
const MAX_KEYFRAME_INTERVAL: u64 = 715_827_882;

/// AV1 encoder settings.
#[derive(Debug, Clone, Copy)]
pub struct Av1Settings {
    /// Initial rates.
    pub rates: RateSettings,
    /// rav1e speed preset, 0 (slowest) to 10 (fastest); real-time default 10.
    pub speed: u8,
    /// Encoder threads (0 = rav1e's default).
    pub threads: usize,
    /// Tile columns and rows (log2 each is chosen by rav1e from the count).
    pub tiles: usize,
    /// Periodic keyframe interval in frames (0 = only on request).
    pub keyframe_interval_frames: u32,
}

impl Av1Settings {
    /// Real-time defaults for a 2-core board: speed 10, 2 threads, 2 tiles.
    pub fn realtime(rates: RateSettings) -> Self {
        Av1Settings { rates, speed: 10, threads: 2, tiles: 2, keyframe_interval_frames: 0 }
    }
}

/// The rav1e encoder behind [`VideoEncoder`].
pub struct Av1Encoder {
    settings: Av1Settings,
    rates: RateSettings,
    ctx: Option<Context<u8>>,
    ctx_rates: RateSettings,
    size: (u32, u32),
    encoded: u64,
    last_qp: Option<u8>,
    /// Frames given to the current context.
    ctx_frames: u64,
}

impl Av1Encoder {
    /// A low-latency encoder; width and height come from the frames.
    pub fn new(settings: Av1Settings) -> Result<Self> {
        check(settings)?;
        Ok(Av1Encoder {
            settings,
            rates: settings.rates,
            ctx: None,
            ctx_rates: settings.rates,
            size: (0, 0),
            encoded: 0,
            last_qp: None,
            ctx_frames: 0,
        })
    }

    /// The quantizer (qindex, 0-255) of the last frame encoded.
    pub fn last_qp(&self) -> Option<u8> {
        self.last_qp
    }

    fn new_context(&mut self, w: u32, h: u32) -> Result<()> {
        let mut enc = EncoderConfig::with_speed_preset(self.settings.speed);
        enc.width = w as usize;
        enc.height = h as usize;
        enc.bit_depth = 8;
        enc.chroma_sampling = ChromaSampling::Cs420;
        enc.low_latency = true;
        // The least look-ahead rav1e allows (one frame): a frame comes out of the next
        // frame's encode call, so AV1 adds one frame interval of delay.
        enc.speed_settings.rdo_lookahead_frames = 1;
        enc.speed_settings.scene_detection_mode = SceneDetectionSpeed::None;
        enc.bitrate = self.rates.bitrate_bps.min(i32::MAX as u32) as i32;
        // In bitrate mode rav1e's `quantizer` is the largest quantizer its rate control may
        // pick; its default (100 of 255) made detailed scenes overshoot low targets by
        // 1.5-1.9x. Nearly the whole range is allowed: the rate is what the path can carry.
        // (255 itself switches rav1e to an uncapped mode that, measured here, spends 15
        // frames' budget in the first three and then skips eight.)
        enc.quantizer = MAX_QUANTIZER;
        // A short rate-control reservoir (half a second of frames): a live stream must not
        // borrow seconds of bitrate the uplink does not have.
        enc.reservoir_frame_delay = Some(RESERVOIR_FRAMES);
        let fps = self.rates.framerate_fps.round().max(1.0) as u64;
        enc.time_base = Rational::new(1, fps);
        enc.min_key_frame_interval = 0;
        enc.max_key_frame_interval = if self.settings.keyframe_interval_frames == 0 {
            MAX_KEYFRAME_INTERVAL
        } else {
            self.settings.keyframe_interval_frames as u64
        };
        enc.tiles = self.settings.tiles;
        let cfg = Config::new().with_encoder_config(enc).with_threads(self.settings.threads);
        self.ctx = Some(cfg.new_context().map_err(|e| Error::Codec(format!("rav1e config: {e}")))?);
        self.ctx_rates = self.rates;
        self.ctx_frames = 0;
        self.size = (w, h);
        Ok(())
    }

    fn restart_wanted(&self) -> bool {
        // A restart costs a keyframe, and a keyframe's burst briefly lowers the estimate: a
        // context lives at least RESTART_MIN_AGE_S so that cannot become a keyframe loop.
        if (self.ctx_frames as f64) < RESTART_MIN_AGE_S * self.ctx_rates.framerate_fps as f64 {
            return false;
        }
        let (a, b) = (self.rates.bitrate_bps as f64, self.ctx_rates.bitrate_bps as f64);
        a / b > RESTART_RATIO
            || b / a > RESTART_RATIO
            || (self.rates.framerate_fps - self.ctx_rates.framerate_fps).abs() >= 1.0
    }
}

fn check(s: Av1Settings) -> Result<()> {
    s.rates.validate()?;
    if s.speed > 10 {
        return Err(invalid!("rav1e speed {} is above 10", s.speed));
    }
    Ok(())
}

impl VideoEncoder for Av1Encoder {
    fn codec(&self) -> Codec {
        Codec::Av1
    }

    fn encode(
        &mut self,
        frame: &I420Buffer,
        timestamp_us: u64,
        force_keyframe: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<EncodedInfo>> {
        let (w, h) = (frame.width(), frame.height());
        if w % 2 != 0 || h % 2 != 0 || w < 16 || h < 16 {
            return Err(invalid!("AV1 encoding needs even dimensions of at least 16x16, got {w}x{h}"));
        }
        // A new context starts with a keyframe: on a size change, a large rate change, or
        // when a keyframe is wanted anyway and the rates have drifted.
        let restart = self.ctx.is_none()
            || self.size != (w, h)
            || self.restart_wanted()
            || (force_keyframe && self.rates != self.ctx_rates);
        if restart {
            self.new_context(w, h)?;
        }
        self.ctx_frames += 1;
        let ctx = self.ctx.as_mut().expect("context exists");
        let mut f = ctx.new_frame();
        let (py, pu, pv) = frame.planes();
        f.planes[0].copy_from_raw_u8(py, frame.y_stride(), 1);
        f.planes[1].copy_from_raw_u8(pu, frame.uv_stride(), 1);
        f.planes[2].copy_from_raw_u8(pv, frame.uv_stride(), 1);
        let params = FrameParameters {
            frame_type_override: if force_keyframe && !restart {
                FrameTypeOverride::Key
            } else {
                FrameTypeOverride::No
            },
            opaque: Some(Opaque::new(timestamp_us)),
            ..FrameParameters::default()
        };
        ctx.send_frame((Arc::new(f), params)).map_err(|e| Error::Codec(format!("rav1e send_frame: {e:?}")))?;
        out.clear();
        loop {
            match ctx.receive_packet() {
                Ok(p) => {
                    out.extend_from_slice(&p.data);
                    self.last_qp = Some(p.qp);
                    let keyframe = p.frame_type == FrameType::KEY;
                    self.encoded += 1;
                    let capture_us = p.opaque.and_then(|o| o.downcast::<u64>().ok()).map_or(timestamp_us, |b| *b);
                    return Ok(Some(EncodedInfo {
                        capture_us,
                        keyframe,
                        temporal_layer: 0,
                        ref_distance: u16::from(!keyframe),
                        qp: Some(p.qp),
                        width: w,
                        height: h,
                    }));
                }
                // A frame was encoded but not emitted yet: ask again.
                Err(EncoderStatus::Encoded) => continue,
                Err(EncoderStatus::NeedMoreData) => return Ok(None),
                Err(e) => return Err(Error::Codec(format!("rav1e receive_packet: {e:?}"))),
            }
        }
    }

    fn set_rates(&mut self, rates: RateSettings) -> Result<()> {
        check(Av1Settings { rates, ..self.settings })?;
        self.rates = rates;
        Ok(())
    }

    fn rates(&self) -> RateSettings {
        self.rates
    }
}
