//! H.264 through openh264: camera real-time usage, bitrate rate control with encoder frame
//! skipping off (sealcam decides what to drop), Annex B output, IDR on request, optional
//! temporal layers (L1T2, L1T3), bitrate and frame-rate changes at run time through
//! openh264's `SetOption` (no IDR), and resolution changes (with an IDR). The encoder is
//! driven through openh264's own C API (`openh264-sys2`), because the `openh264` crate's
//! wrapper exposes neither temporal layers nor run-time rate changes.

use std::ffi::c_void;
use std::ptr;

use openh264::formats::YUVSource;
use openh264::OpenH264API;
use openh264_sys2::{
    videoFormatI420, videoFrameTypeI, videoFrameTypeIDR, videoFrameTypeInvalid, videoFrameTypeSkip, ISVCEncoder,
    SBitrateInfo, SEncParamExt, SEncoderStatistics, SFrameBSInfo, SSourcePicture, API, CAMERA_VIDEO_REAL_TIME,
    CONSTANT_ID, ENCODER_OPTION, ENCODER_OPTION_BITRATE, ENCODER_OPTION_DATAFORMAT, ENCODER_OPTION_FRAME_RATE,
    ENCODER_OPTION_GET_STATISTICS, ENCODER_OPTION_MAX_BITRATE, ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
    ENCODER_OPTION_TRACE_LEVEL, LOW_COMPLEXITY, RC_BITRATE_MODE, SM_SINGLE_SLICE, SPATIAL_LAYER_0, SPATIAL_LAYER_ALL,
    VIDEO_CODING_LAYER, WELS_LOG_QUIET,
};

use super::{Codec, EncodedInfo, RateSettings, VideoEncoder};
use crate::error::{invalid, Error, Result};
use crate::frame::I420Buffer;
use crate::kernels::copy_plane;

/// Lowest quantizer the rate control may use (openh264's own floor in bitrate mode,
/// `GOM_MIN_QP_MODE`).
pub(crate) const H264_MIN_QP: i32 = 12;
/// Highest quantizer the rate control may use. openh264 caps it at 42 (`MAX_LOW_BR_QP`)
/// unless told otherwise; a cap below the top of the scale means a detailed picture at a
/// low target overshoots, and openh264 carries the excess as a debt that it pays back by
/// undershooting later targets (after a keyframe at 150 kbit/s, a step to 1 Mbit/s produced
/// about 0.5 Mbit/s for four seconds in a test here). The ladder steps down to a smaller
/// picture when the quantizer stays above 42 anyway.
pub(crate) const H264_MAX_QP: i32 = 51;

/// H.264 encoder settings.
#[derive(Debug, Clone, Copy)]
pub struct H264Settings {
    /// Initial rates.
    pub rates: RateSettings,
    /// Encoder threads (1 keeps output deterministic).
    pub threads: u16,
    /// Periodic IDR interval in frames (0 = only on request).
    pub keyframe_interval_frames: u32,
    /// Temporal layers: 1 (none), 2 (L1T2) or 3 (L1T3).
    pub temporal_layers: u8,
}

/// The openh264 encoder behind [`VideoEncoder`].
pub struct H264Encoder {
    api: OpenH264API,
    enc: *mut ISVCEncoder,
    settings: H264Settings,
    rates: RateSettings,
    applied: RateSettings,
    size: Option<(u32, u32)>,
    info: SFrameBSInfo,
    /// Frame id (count of encoded frames) of the last frame of each temporal layer.
    last_of_layer: [Option<u64>; 4],
    encoded: u64,
}

// SAFETY: the encoder handle is owned by this value and only used through `&mut self`.
unsafe impl Send for H264Encoder {}

fn rc(code: i32, what: &str) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(Error::Codec(format!("openh264 {what} failed ({code})")))
    }
}

impl H264Encoder {
    /// A camera real-time encoder in bitrate mode. Width and height come from the frames.
    pub fn new(s: H264Settings) -> Result<Self> {
        s.rates.validate()?;
        if !(1..=3).contains(&s.temporal_layers) {
            return Err(invalid!("{} temporal layers: 1 to 3 are supported", s.temporal_layers));
        }
        let api = OpenH264API::from_source();
        let mut enc: *mut ISVCEncoder = ptr::null_mut();
        // SAFETY: WelsCreateSVCEncoder writes a valid encoder pointer on success.
        rc(unsafe { api.WelsCreateSVCEncoder(&mut enc) } as i32, "WelsCreateSVCEncoder")?;
        if enc.is_null() {
            return Err(Error::Codec("openh264 returned no encoder".into()));
        }
        Ok(H264Encoder {
            api,
            enc,
            settings: s,
            rates: s.rates,
            applied: s.rates,
            size: None,
            info: SFrameBSInfo::default(),
            last_of_layer: [None; 4],
            encoded: 0,
        })
    }

    /// The encoder's vtable.
    fn vt(&self) -> &openh264_sys2::ISVCEncoderVtbl {
        // SAFETY: `enc` is a live encoder created in `new`; its vtable outlives it.
        unsafe { &**self.enc }
    }

    fn set_option<T>(&mut self, opt: ENCODER_OPTION, value: &mut T) -> Result<()> {
        let f = self.vt().SetOption.ok_or_else(|| Error::Codec("openh264 vtable lacks SetOption".into()))?;
        // SAFETY: each option used here takes a pointer to the type passed, alive for the call.
        let code = unsafe { f(self.enc, opt, (value as *mut T).cast::<c_void>()) };
        if code != 0 {
            return Err(Error::Codec(format!("openh264 SetOption {opt} failed ({code})")));
        }
        Ok(())
    }

    fn params(&self, width: u32, height: u32) -> Result<SEncParamExt> {
        let mut p = SEncParamExt::default();
        let f =
            self.vt().GetDefaultParams.ok_or_else(|| Error::Codec("openh264 vtable lacks GetDefaultParams".into()))?;
        // SAFETY: `p` is a valid SEncParamExt for the call.
        rc(unsafe { f(self.enc, &mut p) }, "GetDefaultParams")?;
        let bps = self.rates.bitrate_bps as i32;
        p.iUsageType = CAMERA_VIDEO_REAL_TIME;
        p.iPicWidth = width as i32;
        p.iPicHeight = height as i32;
        p.iTargetBitrate = bps;
        p.iMaxBitrate = bps.saturating_mul(2);
        p.iRCMode = RC_BITRATE_MODE;
        p.fMaxFrameRate = self.rates.framerate_fps;
        p.iTemporalLayerNum = self.settings.temporal_layers as i32;
        p.iSpatialLayerNum = 1;
        p.iComplexityMode = LOW_COMPLEXITY;
        p.uiIntraPeriod = self.settings.keyframe_interval_frames;
        p.eSpsPpsIdStrategy = CONSTANT_ID;
        p.bEnableFrameSkip = false;
        p.bEnableSceneChangeDetect = false;
        p.bEnableBackgroundDetection = false;
        p.bEnableAdaptiveQuant = true;
        p.iMinQp = H264_MIN_QP;
        p.iMaxQp = H264_MAX_QP;
        // With this on, openh264 carries bits a frame took beyond its share (a keyframe's,
        // mostly) into the following frames of the window *and* scales that debt with a
        // raised target: the output then lags a rate increase by seconds. Off, each window
        // of 8 frames starts from the current target.
        p.bFixRCOverShoot = false;
        p.bEnableDenoise = false;
        p.iMultipleThreadIdc = self.settings.threads.max(1);
        p.iLoopFilterDisableIdc = 0;
        let l = &mut p.sSpatialLayers[0];
        l.iVideoWidth = width as i32;
        l.iVideoHeight = height as i32;
        l.fFrameRate = self.rates.framerate_fps;
        l.iSpatialBitrate = bps;
        l.iMaxSpatialBitrate = bps.saturating_mul(2);
        l.sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
        l.sSliceArgument.uiSliceNum = 1;
        Ok(p)
    }

    fn configure(&mut self, width: u32, height: u32) -> Result<()> {
        let mut p = self.params(width, height)?;
        if self.size.is_none() {
            let mut quiet = WELS_LOG_QUIET;
            self.set_option(ENCODER_OPTION_TRACE_LEVEL, &mut quiet)?;
            let f =
                self.vt().InitializeExt.ok_or_else(|| Error::Codec("openh264 vtable lacks InitializeExt".into()))?;
            // SAFETY: `p` is a complete parameter set for the call.
            rc(unsafe { f(self.enc, &p) }, "InitializeExt")?;
            self.set_option(ENCODER_OPTION_TRACE_LEVEL, &mut quiet)?;
            let mut fmt = videoFormatI420;
            self.set_option(ENCODER_OPTION_DATAFORMAT, &mut fmt)?;
        } else {
            self.set_option(ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, &mut p)?;
        }
        self.applied = self.rates;
        self.size = Some((width, height));
        self.last_of_layer = [None; 4];
        Ok(())
    }

    fn apply_rates(&mut self) -> Result<()> {
        if self.applied == self.rates {
            return Ok(());
        }
        // openh264 refuses a target above the configured maximum bitrate: the maximum
        // (2x the target, as configured at start) moves first when the target rises, last
        // when it falls.
        let bps = self.rates.bitrate_bps as i32;
        let mut max = SBitrateInfo { iLayer: SPATIAL_LAYER_ALL, iBitrate: bps.saturating_mul(2) };
        let mut max0 = SBitrateInfo { iLayer: SPATIAL_LAYER_0, iBitrate: bps.saturating_mul(2) };
        let mut br = SBitrateInfo { iLayer: SPATIAL_LAYER_ALL, iBitrate: bps };
        if self.rates.bitrate_bps > self.applied.bitrate_bps {
            self.set_option(ENCODER_OPTION_MAX_BITRATE, &mut max)?;
            self.set_option(ENCODER_OPTION_MAX_BITRATE, &mut max0)?;
            self.set_option(ENCODER_OPTION_BITRATE, &mut br)?;
        } else {
            self.set_option(ENCODER_OPTION_BITRATE, &mut br)?;
            self.set_option(ENCODER_OPTION_MAX_BITRATE, &mut max0)?;
            self.set_option(ENCODER_OPTION_MAX_BITRATE, &mut max)?;
        }
        let mut fps: f32 = self.rates.framerate_fps;
        self.set_option(ENCODER_OPTION_FRAME_RATE, &mut fps)?;
        self.applied = self.rates;
        Ok(())
    }

    fn force_idr(&mut self) -> Result<()> {
        let f =
            self.vt().ForceIntraFrame.ok_or_else(|| Error::Codec("openh264 vtable lacks ForceIntraFrame".into()))?;
        // SAFETY: the encoder is initialised.
        rc(unsafe { f(self.enc, true) }, "ForceIntraFrame")
    }

    /// The encoder's running average frame QP (openh264's statistics).
    pub fn average_qp(&mut self) -> Option<u32> {
        let f = self.vt().GetOption?;
        let mut st = SEncoderStatistics::default();
        // SAFETY: GET_STATISTICS fills an SEncoderStatistics.
        let r = unsafe { f(self.enc, ENCODER_OPTION_GET_STATISTICS, (&raw mut st).cast::<c_void>()) };
        (r == 0 && self.size.is_some()).then_some(st.uiAverageFrameQP)
    }
}

impl Drop for H264Encoder {
    fn drop(&mut self) {
        // SAFETY: `enc` was created in `new` and is destroyed once, here.
        unsafe {
            if self.size.is_some() {
                if let Some(f) = self.vt().Uninitialize {
                    f(self.enc);
                }
            }
            self.api.WelsDestroySVCEncoder(self.enc);
        }
    }
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
        if w % 2 != 0 || h % 2 != 0 || w < 16 || h < 16 || w > 3840 || h > 2160 {
            return Err(invalid!("H.264 needs even dimensions from 16x16 to 3840x2160, got {w}x{h}"));
        }
        match self.size {
            Some(size) if size == (w, h) => {
                self.apply_rates()?;
                if force_keyframe {
                    self.force_idr()?;
                }
            }
            Some(_) => {
                self.configure(w, h)?;
                self.force_idr()?;
            }
            None => self.configure(w, h)?,
        }
        let (ys, us, vs) = (frame.y_stride() as i32, frame.uv_stride() as i32, frame.uv_stride() as i32);
        let (py, pu, pv) = frame.planes();
        let pic = SSourcePicture {
            iColorFormat: videoFormatI420,
            iStride: [ys, us, vs, 0],
            pData: [py.as_ptr().cast_mut(), pu.as_ptr().cast_mut(), pv.as_ptr().cast_mut(), ptr::null_mut()],
            iPicWidth: w as i32,
            iPicHeight: h as i32,
            uiTimeStamp: (timestamp_us / 1000) as i64,
            bPsnrY: false,
            bPsnrU: false,
            bPsnrV: false,
        };
        let f = self.vt().EncodeFrame.ok_or_else(|| Error::Codec("openh264 vtable lacks EncodeFrame".into()))?;
        // SAFETY: `pic` points into `frame`, which outlives the call and is only read;
        // `info` receives pointers into the encoder's own buffers, read below before the
        // next call.
        rc(unsafe { f(self.enc, &pic, &mut self.info) }, "EncodeFrame")?;
        out.clear();
        let info = &self.info;
        let mut temporal_id = 0u8;
        for l in &info.sLayerInfo[..info.iLayerNum.clamp(0, 128) as usize] {
            if l.uiLayerType == VIDEO_CODING_LAYER as u8 {
                temporal_id = l.uiTemporalId;
            }
            let mut total = 0usize;
            for n in 0..l.iNalCount.max(0) as usize {
                // SAFETY: openh264 wrote `iNalCount` lengths for this layer.
                total += unsafe { *l.pNalLengthInByte.add(n) }.max(0) as usize;
            }
            // SAFETY: the NAL units of a layer are contiguous in `pBsBuf`, `total` bytes.
            out.extend_from_slice(unsafe { std::slice::from_raw_parts(l.pBsBuf, total) });
        }
        let ft = info.eFrameType;
        if ft == videoFrameTypeSkip || ft == videoFrameTypeInvalid || out.is_empty() {
            return Ok(None);
        }
        let keyframe = ft == videoFrameTypeIDR || ft == videoFrameTypeI;
        let id = self.encoded;
        self.encoded += 1;
        let t = temporal_id.min(3) as usize;
        if keyframe {
            self.last_of_layer = [None; 4];
        }
        // A frame of layer t predicts from the newest frame of a lower layer (layer 0 from
        // the newest layer-0 frame): openh264's dyadic temporal structure.
        let reference = if keyframe {
            None
        } else if t == 0 {
            self.last_of_layer[0]
        } else {
            self.last_of_layer[..t].iter().flatten().max().copied()
        };
        self.last_of_layer[t] = Some(id);
        let ref_distance = reference.map_or(if keyframe { 0 } else { 1 }, |r| (id - r).min(u16::MAX as u64) as u16);
        let qp = self.average_qp().map(|q| q.min(51) as u8);
        Ok(Some(EncodedInfo {
            capture_us: timestamp_us,
            keyframe,
            temporal_layer: t as u8,
            ref_distance,
            qp,
            width: w,
            height: h,
        }))
    }

    fn set_rates(&mut self, rates: RateSettings) -> Result<()> {
        rates.validate()?;
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
