//! H.264 through openh264: camera real-time usage, bitrate rate control, Annex B output,
//! IDR on request, and bitrate / frame-rate changes at run time through openh264's
//! `SetOption` (no IDR). The decoder turns Annex B access units back into I420.

use std::ffi::c_void;

use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode, UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;
use openh264_sys2::{SBitrateInfo, ENCODER_OPTION_BITRATE, ENCODER_OPTION_FRAME_RATE, SPATIAL_LAYER_ALL};

use super::{Codec, EncodedInfo, RateSettings, VideoEncoder};
use crate::error::{invalid, Error, Result};
use crate::frame::I420Buffer;
use crate::kernels::copy_plane;

struct Yuv<'a>(&'a I420Buffer);

impl YUVSource for Yuv<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width() as usize, self.0.height() as usize)
    }
    fn strides(&self) -> (usize, usize, usize) {
        (self.0.y_stride(), self.0.uv_stride(), self.0.uv_stride())
    }
    fn y(&self) -> &[u8] {
        self.0.planes().0
    }
    fn u(&self) -> &[u8] {
        self.0.planes().1
    }
    fn v(&self) -> &[u8] {
        self.0.planes().2
    }
}

/// H.264 encoder settings.
#[derive(Debug, Clone, Copy)]
pub struct H264Settings {
    /// Initial rates.
    pub rates: RateSettings,
    /// Encoder threads (1 keeps output deterministic).
    pub threads: u16,
    /// Periodic IDR interval in frames (0 = only on request).
    pub keyframe_interval_frames: u32,
}

/// The openh264 encoder behind [`VideoEncoder`].
pub struct H264Encoder {
    inner: Encoder,
    rates: RateSettings,
    applied: Option<RateSettings>,
    size: Option<(u32, u32)>,
}

impl H264Encoder {
    /// A camera real-time encoder in bitrate mode. Width and height come from the frames.
    pub fn new(s: H264Settings) -> Result<Self> {
        check_rates(s.rates)?;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(s.rates.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(s.rates.framerate_fps))
            .skip_frames(false)
            .complexity(Complexity::Low)
            .background_detection(false)
            .scene_change_detect(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(s.keyframe_interval_frames))
            .num_threads(s.threads.max(1));
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| Error::Codec(format!("openh264 encoder: {e}")))?;
        Ok(H264Encoder { inner, rates: s.rates, applied: None, size: None })
    }

    fn apply_rates(&mut self) -> Result<()> {
        if self.applied == Some(self.rates) {
            return Ok(());
        }
        let raw = unsafe { self.inner.raw_api() };
        let mut br = SBitrateInfo { iLayer: SPATIAL_LAYER_ALL, iBitrate: self.rates.bitrate_bps as i32 };
        let mut fps: f32 = self.rates.framerate_fps;
        // SAFETY: the encoder is initialised (a frame was encoded), and both options take a
        // pointer to the type given here, which lives across the call.
        let (a, b) = unsafe {
            (
                raw.set_option(ENCODER_OPTION_BITRATE, (&raw mut br).cast::<c_void>()),
                raw.set_option(ENCODER_OPTION_FRAME_RATE, (&raw mut fps).cast::<c_void>()),
            )
        };
        if a != 0 || b != 0 {
            return Err(Error::Codec(format!("openh264 SetOption failed ({a}, {b})")));
        }
        self.applied = Some(self.rates);
        Ok(())
    }
}

fn check_rates(r: RateSettings) -> Result<()> {
    if !(10_000..=100_000_000).contains(&r.bitrate_bps) {
        return Err(invalid!("bitrate {} bit/s is outside 10 kbit/s to 100 Mbit/s", r.bitrate_bps));
    }
    if !(r.framerate_fps >= 1.0 && r.framerate_fps <= 240.0) {
        return Err(invalid!("frame rate {} is outside 1 to 240 fps", r.framerate_fps));
    }
    Ok(())
}

impl VideoEncoder for H264Encoder {
    fn codec(&self) -> Codec {
        Codec::H264
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
            return Err(invalid!("H.264 needs even dimensions of at least 16x16, got {w}x{h}"));
        }
        let resized = self.size.is_some_and(|s| s != (w, h));
        if self.size.is_some() {
            self.apply_rates()?;
            if force_keyframe && !resized {
                self.inner.force_intra_frame();
            }
        }
        let ts = openh264::Timestamp::from_millis(timestamp_us / 1000);
        let bs = self.inner.encode_at(&Yuv(frame), ts).map_err(|e| Error::Codec(format!("openh264 encode: {e}")))?;
        let ft = bs.frame_type();
        out.clear();
        bs.write_vec(out);
        if self.size.is_none() {
            // First frame initialised the encoder with the config's rates.
            self.applied = Some(self.rates);
        }
        self.size = Some((w, h));
        if matches!(ft, FrameType::Skip | FrameType::Invalid) || out.is_empty() {
            return Ok(None);
        }
        let keyframe = matches!(ft, FrameType::IDR | FrameType::I);
        Ok(Some(EncodedInfo {
            keyframe,
            temporal_layer: 0,
            ref_distance: if keyframe { 0 } else { 1 },
            width: w,
            height: h,
        }))
    }

    fn set_rates(&mut self, rates: RateSettings) -> Result<()> {
        check_rates(rates)?;
        self.rates = rates;
        Ok(())
    }

    fn rates(&self) -> RateSettings {
        self.rates
    }
}

/// The openh264 decoder: Annex B access units in, I420 out.
pub struct H264Decoder {
    inner: openh264::decoder::Decoder,
}

impl H264Decoder {
    /// A new decoder.
    pub fn new() -> Result<Self> {
        let inner = openh264::decoder::Decoder::with_api_config(
            OpenH264API::from_source(),
            openh264::decoder::DecoderConfig::new(),
        )
        .map_err(|e| Error::Codec(format!("openh264 decoder: {e}")))?;
        Ok(H264Decoder { inner })
    }

    /// Decodes one access unit; writes the picture into `out` and returns `true` when one
    /// is ready.
    pub fn decode(&mut self, access_unit: &[u8], out: &mut I420Buffer) -> Result<bool> {
        let pic = self.inner.decode(access_unit).map_err(|e| Error::Codec(format!("openh264 decode: {e}")))?;
        let Some(pic) = pic else { return Ok(false) };
        let (w, h) = pic.dimensions();
        let (ys, us, vs) = pic.strides();
        out.resize(w as u32, h as u32)?;
        let (yst, cst) = (out.y_stride(), out.uv_stride());
        let (dy, du, dv) = out.planes_mut();
        copy_plane(pic.y(), ys, dy, yst, w, h);
        copy_plane(pic.u(), us, du, cst, w.div_ceil(2), h.div_ceil(2));
        copy_plane(pic.v(), vs, dv, cst, w.div_ceil(2), h.div_ceil(2));
        Ok(true)
    }
}
