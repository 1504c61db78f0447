//! Codecs: one encoder interface ([`VideoEncoder`]) that the Sender drives, and the H.264
//! decoder a hub (or a test) can use on what the Receiver outputs.
//!
//! Guarantees: encoders take the tightly packed I420 the kernels produce and write the
//! bitstream into a caller-owned, reused buffer; they never skip a frame on their own (the
//! Sender decides what to drop) and report per frame whether it is a keyframe, so the
//! frame's reference structure can be sealed with it.

pub mod av1;
pub mod h264;

use crate::error::Result;
use crate::frame::I420Buffer;

pub use h264::H264Decoder;

/// Video codecs sealcam carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// H.264 (Annex B byte stream) through openh264.
    H264 = 1,
    /// AV1 (low-overhead OBUs) through rav1e.
    Av1 = 2,
}

impl Codec {
    /// The codec with this wire value.
    pub fn from_u8(v: u8) -> Option<Codec> {
        match v {
            1 => Some(Codec::H264),
            2 => Some(Codec::Av1),
            _ => None,
        }
    }
}

/// Lowest bitrate any part of sealcam accepts (encoders, the sender, the rate controller's
/// bounds): below it no codec makes a usable picture.
pub const MIN_BITRATE_BPS: u32 = 10_000;
/// Highest bitrate any part of sealcam accepts.
pub const MAX_BITRATE_BPS: u32 = 100_000_000;

/// Refuses a bitrate outside [`MIN_BITRATE_BPS`] to [`MAX_BITRATE_BPS`].
pub fn check_bitrate(bitrate_bps: u32) -> Result<()> {
    if !(MIN_BITRATE_BPS..=MAX_BITRATE_BPS).contains(&bitrate_bps) {
        return Err(crate::error::invalid!(
            "bitrate {bitrate_bps} bit/s is outside {MIN_BITRATE_BPS} bit/s to {MAX_BITRATE_BPS} bit/s"
        ));
    }
    Ok(())
}

/// Encoder settings that the rate controller may change at run time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSettings {
    /// Target bitrate in bits per second.
    pub bitrate_bps: u32,
    /// Frame rate in frames per second.
    pub framerate_fps: f32,
}

impl RateSettings {
    /// Checks the ranges every encoder accepts: [`MIN_BITRATE_BPS`] to [`MAX_BITRATE_BPS`],
    /// 1 to 240 fps.
    pub fn validate(&self) -> Result<()> {
        check_bitrate(self.bitrate_bps)?;
        if !(self.framerate_fps >= 1.0 && self.framerate_fps <= 240.0) {
            return Err(crate::error::invalid!("frame rate {} is outside 1 to 240 fps", self.framerate_fps));
        }
        Ok(())
    }
}

/// What an encoder reports for each frame it produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedInfo {
    /// Capture time of the frame this output belongs to (an encoder with frame delay
    /// returns an earlier frame than the one just given).
    pub capture_us: u64,
    /// Decodable without any earlier frame.
    pub keyframe: bool,
    /// Temporal layer (0 = base).
    pub temporal_layer: u8,
    /// Frames back to the frame this one predicts from (0 for a keyframe).
    pub ref_distance: u16,
    /// Quantizer of the frame: H.264 QP (0-51; openh264's running average over recent
    /// frames) or AV1 qindex (0-255). `None` when the encoder did not say.
    pub qp: Option<u8>,
    /// Encoded width and height.
    pub width: u32,
    /// Encoded height.
    pub height: u32,
}

/// The interface both codecs implement.
pub trait VideoEncoder: Send {
    /// The codec.
    fn codec(&self) -> Codec;
    /// Encodes one frame into `out` (cleared first). `None` means the encoder produced no
    /// frame (nothing to send).
    fn encode(
        &mut self,
        frame: &I420Buffer,
        timestamp_us: u64,
        force_keyframe: bool,
        out: &mut Vec<u8>,
    ) -> Result<Option<EncodedInfo>>;
    /// Changes bitrate and frame rate for the following frames, without a keyframe.
    fn set_rates(&mut self, rates: RateSettings) -> Result<()>;
    /// The current rate settings.
    fn rates(&self) -> RateSettings;
}
