//! The C ABI. Only translation lives here: every function checks its pointers, catches
//! panics, converts C structs to the Rust API and back. No logic the Rust API lacks.
//!
//! Conventions (rustls-ffi is the model): prefix `sealcam_`; opaque handles made by
//! `_new` and released by `_free` (which accepts NULL); fallible calls return
//! [`sealcam_result`] and write outputs only on success; byte buffers are followed by their
//! length; config structs are filled by `_default` and carry `struct_size` plus reserved
//! bytes so they can grow. Thread rules: one handle is used by one thread at a time;
//! different handles are independent; kernels are reentrant.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::error::Error;
use crate::frame::{CaptureFrame, PixelFormat, Plane};
use crate::hub::{Hub, HubConfig};
use crate::receiver::{ReceivedFrame, Receiver, ReceiverConfig, ReceiverStats};
use crate::seal::CipherSuite;
use crate::seal::{OpenKey, SealKey};
use crate::sender::{FrameOutcome, Sender, SenderConfig};
use crate::Codec;

/// Major version (tested to equal Cargo.toml's).
pub const SEALCAM_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const SEALCAM_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const SEALCAM_VERSION_PATCH: u32 = 0;

/// Result of every fallible call. Numbers are never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sealcam_result {
    /// Success.
    SEALCAM_OK = 0,
    /// A required pointer was NULL.
    SEALCAM_NULL_PARAMETER = 1,
    /// An argument is out of range or inconsistent (sizes, strides, config values).
    SEALCAM_INVALID_INPUT = 2,
    /// Valid in general but not supported by this build.
    SEALCAM_UNSUPPORTED = 3,
    /// The codec failed.
    SEALCAM_CODEC_ERROR = 4,
    /// A packet or frame did not parse.
    SEALCAM_MALFORMED = 5,
    /// SFrame authentication failed.
    SEALCAM_AUTH_FAILED = 6,
    /// The SFrame KID names no key held.
    SEALCAM_UNKNOWN_KEY = 7,
    /// The SFrame counter was seen before.
    SEALCAM_REPLAY = 8,
    /// The key's counter space is used up; rekey.
    SEALCAM_COUNTER_EXHAUSTED = 9,
    /// The output buffer is too small.
    SEALCAM_BUFFER_TOO_SMALL = 10,
    /// A bug inside sealcam was caught at the boundary; the handle should be freed.
    SEALCAM_PANIC = 11,
    /// Nothing to return now (poll again after the next input or timeout).
    SEALCAM_AGAIN = 12,
    /// The receiver dropped the packet (counted by reason in its stats).
    SEALCAM_DROPPED = 13,
}

use sealcam_result::*;

impl From<&Error> for sealcam_result {
    fn from(e: &Error) -> Self {
        match e {
            Error::InvalidInput(_) => SEALCAM_INVALID_INPUT,
            Error::Unsupported(_) => SEALCAM_UNSUPPORTED,
            Error::Codec(_) => SEALCAM_CODEC_ERROR,
            Error::Malformed(_) => SEALCAM_MALFORMED,
            Error::AuthenticationFailed => SEALCAM_AUTH_FAILED,
            Error::UnknownKey(_) => SEALCAM_UNKNOWN_KEY,
            Error::Replay => SEALCAM_REPLAY,
            Error::CounterExhausted => SEALCAM_COUNTER_EXHAUSTED,
            Error::BufferTooSmall { .. } => SEALCAM_BUFFER_TOO_SMALL,
        }
    }
}

/// Runs `f`, turning a panic into `SEALCAM_PANIC`.
fn guard(f: impl FnOnce() -> sealcam_result) -> sealcam_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(SEALCAM_PANIC)
}

macro_rules! try_ref {
    ($p:expr) => {
        match unsafe { $p.as_ref() } {
            Some(r) => r,
            None => return SEALCAM_NULL_PARAMETER,
        }
    };
}
macro_rules! try_mut {
    ($p:expr) => {
        match unsafe { $p.as_mut() } {
            Some(r) => r,
            None => return SEALCAM_NULL_PARAMETER,
        }
    };
}
macro_rules! try_rs {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(ref e) => return sealcam_result::from(e),
        }
    };
}

/// A byte slice from a pointer and length; NULL is allowed only with length 0.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller promises `p` points to `len` readable bytes.
    Some(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A writable byte slice from a pointer and length.
unsafe fn bytes_mut<'a>(p: *mut u8, len: usize) -> Option<&'a mut [u8]> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller promises `p` points to `len` writable bytes.
    Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// Writes `value` to `out` and returns `SEALCAM_OK`, or returns `SEALCAM_AGAIN` (leaving `out`
/// as it is) when there is none: the shape of every `poll` entry point.
fn write_or_again<T>(value: Option<T>, out: &mut T) -> sealcam_result {
    match value {
        Some(v) => {
            *out = v;
            SEALCAM_OK
        }
        None => SEALCAM_AGAIN,
    }
}

/// Drops a handle made by `Box::into_raw`; NULL is allowed; a panic in a destructor is
/// caught. Every `sealcam_*_free` goes through here.
///
/// # Safety
/// `p` is NULL or a pointer from `Box::into_raw` not freed before.
unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(p) })));
    }
}

/// Static text for a result code (never NULL).
#[no_mangle]
pub extern "C" fn sealcam_result_text(r: sealcam_result) -> *const c_char {
    let s: &'static [u8] = match r {
        SEALCAM_OK => b"ok\0",
        SEALCAM_NULL_PARAMETER => b"a required pointer was NULL\0",
        SEALCAM_INVALID_INPUT => b"invalid input (size, stride, length or config value)\0",
        SEALCAM_UNSUPPORTED => b"not supported by this build\0",
        SEALCAM_CODEC_ERROR => b"the video codec failed\0",
        SEALCAM_MALFORMED => b"malformed packet or frame\0",
        SEALCAM_AUTH_FAILED => b"SFrame authentication failed\0",
        SEALCAM_UNKNOWN_KEY => b"no key for this SFrame KID\0",
        SEALCAM_REPLAY => b"SFrame counter replayed\0",
        SEALCAM_COUNTER_EXHAUSTED => b"SFrame counter exhausted: rekey\0",
        SEALCAM_BUFFER_TOO_SMALL => b"output buffer too small\0",
        SEALCAM_PANIC => b"internal error caught at the C boundary\0",
        SEALCAM_AGAIN => b"nothing available now\0",
        SEALCAM_DROPPED => b"packet dropped (see the receiver's stats)\0",
    };
    s.as_ptr().cast()
}

/// The library version as a static NUL-terminated string, e.g. "0.1.0".
#[no_mangle]
pub extern "C" fn sealcam_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Pixel format of a [`sealcam_image`]: I420.
pub const SEALCAM_FORMAT_I420: u32 = 0;
/// Pixel format of a [`sealcam_image`]: NV12.
pub const SEALCAM_FORMAT_NV12: u32 = 1;
/// Pixel format: NV21 (V before U).
pub const SEALCAM_FORMAT_NV21: u32 = 2;
/// Pixel format: YV12 (planes Y, V, U).
pub const SEALCAM_FORMAT_YV12: u32 = 3;
/// Pixel format: YUYV packed 4:2:2 (one plane).
pub const SEALCAM_FORMAT_YUYV: u32 = 4;
/// Pixel format: UYVY packed 4:2:2 (one plane).
pub const SEALCAM_FORMAT_UYVY: u32 = 5;
/// Pixel format: RGB24, bytes R G B (one plane).
pub const SEALCAM_FORMAT_RGB24: u32 = 6;
/// Pixel format: BGRA, bytes B G R A (one plane).
pub const SEALCAM_FORMAT_BGRA: u32 = 7;
/// Pixel format: RGBA, bytes R G B A (one plane).
pub const SEALCAM_FORMAT_RGBA: u32 = 8;
/// Codec: H.264.
pub const SEALCAM_CODEC_H264: u8 = 1;
/// Codec: AV1.
pub const SEALCAM_CODEC_AV1: u8 = 2;

/// A borrowed capture image: planes with their strides and lengths in bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_image {
    /// `SEALCAM_FORMAT_*`.
    pub format: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Plane pointers in the format's order (unused ones NULL).
    pub planes: [*const u8; 3],
    /// Bytes between row starts of each plane.
    pub strides: [usize; 3],
    /// Readable bytes of each plane.
    pub plane_lens: [usize; 3],
    /// Capture time in microseconds.
    pub timestamp_us: u64,
}

impl sealcam_image {
    /// Borrows the planes as a capture frame.
    ///
    /// # Safety
    /// Each used plane pointer must point to `plane_lens[i]` readable bytes.
    unsafe fn as_capture(&self) -> Result<CaptureFrame<'_>, sealcam_result> {
        let format = PixelFormat::from_u32(self.format).ok_or(SEALCAM_INVALID_INPUT)?;
        let mut planes = [Plane::default(); 3];
        for (i, p) in planes.iter_mut().enumerate().take(format.plane_count()) {
            let data = unsafe { bytes(self.planes[i], self.plane_lens[i]) }.ok_or(SEALCAM_NULL_PARAMETER)?;
            *p = Plane { data, stride: self.strides[i] };
        }
        Ok(CaptureFrame { format, width: self.width, height: self.height, planes, timestamp_us: self.timestamp_us })
    }
}

/// Sender settings; fill with [`sealcam_sender_config_default`] first.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_sender_config {
    /// `sizeof(sealcam_sender_config)`, set by the default function.
    pub struct_size: u32,
    /// RTP SSRC.
    pub ssrc: u32,
    /// Stream identity bytes (1 to 255).
    pub stream_id: *const u8,
    /// Length of `stream_id`.
    pub stream_id_len: usize,
    /// Base secret bytes (at least 16).
    pub base_secret: *const u8,
    /// Length of `base_secret`.
    pub base_secret_len: usize,
    /// Key epoch (SFrame KID).
    pub key_epoch: u64,
    /// RFC 9605 cipher suite number (default 4, AES_128_GCM_SHA256_128).
    pub cipher_suite: u16,
    /// `SEALCAM_CODEC_*`.
    pub codec: u8,
    /// RTP payload type.
    pub payload_type: u8,
    /// Frame rate.
    pub framerate_fps: f32,
    /// Target bitrate.
    pub bitrate_bps: u32,
    /// Path MTU.
    pub mtu_bytes: u32,
    /// Pacing rate over target bitrate.
    pub pacing_factor: f32,
    /// Send queue limit in ms at the pacing rate.
    pub max_queue_delay_ms: u32,
    /// Periodic keyframe interval in frames (0 = on request only).
    pub keyframe_interval_frames: u32,
    /// 1: adapt the bitrate to the path from the hub's transport-wide feedback, starting at
    /// `bitrate_bps`, within `[min_bitrate_bps, max_bitrate_bps]`, with the resolution
    /// ladder; 0 (the default, and what older callers' zeroed reserved bytes mean): fixed.
    pub adaptive_bitrate: u32,
    /// Floor of the adaptive bitrate (0 = the default, 50 kbit/s).
    pub min_bitrate_bps: u32,
    /// Ceiling of the adaptive bitrate (0 = the default, 2.5 Mbit/s).
    pub max_bitrate_bps: u32,
    /// 1: convert capture frames in two row bands on a worker pool where that pays on a
    /// 2-core board (RGB from 640x480, YUYV/UYVY at 1080p; the library then starts that
    /// pool's threads); 0 (the default): on the calling thread only.
    pub parallel_conversion: u32,
    /// Reserved for growth; must be zero.
    pub reserved: [u8; 48],
}

/// Receiver settings; fill with [`sealcam_receiver_config_default`] first.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_receiver_config {
    /// `sizeof(sealcam_receiver_config)`, set by the default function.
    pub struct_size: u32,
    /// RTP SSRC of the stream.
    pub ssrc: u32,
    /// Stream identity bytes; must equal the sender's.
    pub stream_id: *const u8,
    /// Length of `stream_id`.
    pub stream_id_len: usize,
    /// Base secret bytes.
    pub base_secret: *const u8,
    /// Length of `base_secret`.
    pub base_secret_len: usize,
    /// Key epoch to accept.
    pub key_epoch: u64,
    /// RFC 9605 cipher suite number.
    pub cipher_suite: u16,
    /// `SEALCAM_CODEC_*`.
    pub codec: u8,
    /// RTP payload type.
    pub payload_type: u8,
    /// Packet slots in the reassembly ring.
    pub slots: u32,
    /// Largest sealed frame accepted.
    pub max_frame_bytes: u32,
    /// Frame buffers (pending plus ready).
    pub frame_buffers: u32,
    /// Wait for a missing predecessor before declaring the chain broken.
    pub max_wait_ms: u32,
    /// Longest render-time hold while repairs or delay spikes are frequent; 0: never
    /// hold (see `sealcam_receiver_render_at`).
    pub max_playout_hold_ms: u32,
    /// Reserved for growth; must be zero.
    pub reserved: [u8; 60],
}

/// Fills `cfg` with defaults (stream id and secret NULL: set them).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_config_default(cfg: *mut sealcam_sender_config) -> sealcam_result {
    guard(|| {
        let out = try_mut!(cfg);
        let d = SenderConfig::new(b"x", 0, &[0; 16]);
        *out = sealcam_sender_config {
            struct_size: std::mem::size_of::<sealcam_sender_config>() as u32,
            ssrc: 0,
            stream_id: ptr::null(),
            stream_id_len: 0,
            base_secret: ptr::null(),
            base_secret_len: 0,
            key_epoch: d.key_epoch,
            cipher_suite: d.suite as u16,
            codec: d.codec as u8,
            payload_type: d.payload_type,
            framerate_fps: d.framerate_fps,
            bitrate_bps: d.bitrate_bps,
            mtu_bytes: d.mtu_bytes as u32,
            pacing_factor: d.pacing_factor,
            max_queue_delay_ms: d.max_queue_delay_ms,
            keyframe_interval_frames: d.keyframe_interval_frames,
            adaptive_bitrate: d.adaptive_bitrate as u32,
            min_bitrate_bps: d.min_bitrate_bps,
            max_bitrate_bps: d.max_bitrate_bps,
            parallel_conversion: d.parallel_conversion as u32,
            reserved: [0; 48],
        };
        SEALCAM_OK
    })
}

/// Fills `cfg` with defaults (stream id and secret NULL: set them).
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_config_default(cfg: *mut sealcam_receiver_config) -> sealcam_result {
    guard(|| {
        let out = try_mut!(cfg);
        let d = ReceiverConfig::new(b"x", 0, &[0; 16]);
        *out = sealcam_receiver_config {
            struct_size: std::mem::size_of::<sealcam_receiver_config>() as u32,
            ssrc: 0,
            stream_id: ptr::null(),
            stream_id_len: 0,
            base_secret: ptr::null(),
            base_secret_len: 0,
            key_epoch: d.key_epoch,
            cipher_suite: d.suite as u16,
            codec: d.codec as u8,
            payload_type: d.payload_type,
            slots: d.slots as u32,
            max_frame_bytes: d.max_frame_bytes as u32,
            frame_buffers: d.frame_buffers as u32,
            max_wait_ms: d.max_wait_ms,
            max_playout_hold_ms: d.max_playout_hold_ms,
            reserved: [0; 60],
        };
        SEALCAM_OK
    })
}

fn check_struct(size: u32, expected: usize, reserved: &[u8]) -> Result<(), sealcam_result> {
    if size as usize != expected || reserved.iter().any(|&b| b != 0) {
        return Err(SEALCAM_INVALID_INPUT);
    }
    Ok(())
}

fn codec_of(v: u8) -> Result<Codec, sealcam_result> {
    Codec::from_u8(v).ok_or(SEALCAM_INVALID_INPUT)
}

/// The parts both config structs share, checked: struct size, reserved bytes, stream id and
/// secret pointers, cipher suite and codec.
struct StreamParams<'a> {
    stream_id: &'a [u8],
    secret: &'a [u8],
    suite: CipherSuite,
    codec: Codec,
}

#[allow(clippy::too_many_arguments)]
unsafe fn stream_params<'a, T>(
    size: u32,
    reserved: &[u8],
    stream_id: *const u8,
    stream_id_len: usize,
    secret: *const u8,
    secret_len: usize,
    suite: u16,
    codec: u8,
) -> Result<StreamParams<'a>, sealcam_result> {
    check_struct(size, std::mem::size_of::<T>(), reserved)?;
    let stream_id = unsafe { bytes(stream_id, stream_id_len) }.ok_or(SEALCAM_NULL_PARAMETER)?;
    let secret = unsafe { bytes(secret, secret_len) }.ok_or(SEALCAM_NULL_PARAMETER)?;
    let suite = CipherSuite::from_u16(suite).map_err(|e| sealcam_result::from(&e))?;
    Ok(StreamParams { stream_id, secret, suite, codec: codec_of(codec)? })
}

/// Camera-side handle.
pub struct sealcam_sender {
    inner: Sender,
}

/// Hub-side handle for one stream.
pub struct sealcam_receiver {
    inner: Receiver,
}

/// Creates a sender. On success `*out` owns a handle to release with `sealcam_sender_free`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_new(
    cfg: *const sealcam_sender_config,
    out: *mut *mut sealcam_sender,
) -> sealcam_result {
    guard(|| {
        let c = try_ref!(cfg);
        let out = try_mut!(out);
        let p = match unsafe {
            stream_params::<sealcam_sender_config>(
                c.struct_size,
                &c.reserved,
                c.stream_id,
                c.stream_id_len,
                c.base_secret,
                c.base_secret_len,
                c.cipher_suite,
                c.codec,
            )
        } {
            Ok(p) => p,
            Err(e) => return e,
        };
        let mut s = SenderConfig::new(p.stream_id, c.ssrc, p.secret);
        s.key_epoch = c.key_epoch;
        s.suite = p.suite;
        s.codec = p.codec;
        s.payload_type = c.payload_type;
        s.framerate_fps = c.framerate_fps;
        s.bitrate_bps = c.bitrate_bps;
        s.mtu_bytes = c.mtu_bytes as usize;
        s.pacing_factor = c.pacing_factor;
        s.max_queue_delay_ms = c.max_queue_delay_ms;
        s.keyframe_interval_frames = c.keyframe_interval_frames;
        if c.adaptive_bitrate > 1 || c.parallel_conversion > 1 {
            return SEALCAM_INVALID_INPUT;
        }
        s.adaptive_bitrate = c.adaptive_bitrate == 1;
        s.parallel_conversion = c.parallel_conversion == 1;
        if c.min_bitrate_bps != 0 {
            s.min_bitrate_bps = c.min_bitrate_bps;
        }
        if c.max_bitrate_bps != 0 {
            s.max_bitrate_bps = c.max_bitrate_bps;
        }
        let inner = try_rs!(Sender::new(s));
        *out = Box::into_raw(Box::new(sealcam_sender { inner }));
        SEALCAM_OK
    })
}

/// Releases a sender (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_free(s: *mut sealcam_sender) {
    unsafe { free_handle(s) }
}

/// Converts, encodes, seals and queues one image. `*queued` (optional) is set to 1 when the
/// frame was queued, 0 when it was dropped (send queue full) or skipped.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_push_frame(
    s: *mut sealcam_sender,
    now_us: u64,
    image: *const sealcam_image,
    queued: *mut u8,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        let img = try_ref!(image);
        let frame = match unsafe { img.as_capture() } {
            Ok(f) => f,
            Err(r) => return r,
        };
        let outcome = try_rs!(s.inner.push_frame(now_us, &frame));
        if let Some(q) = unsafe { queued.as_mut() } {
            *q = matches!(outcome, FrameOutcome::Queued { .. }) as u8;
        }
        SEALCAM_OK
    })
}

/// Writes the next packet due at `now_us` into `buf`; `SEALCAM_AGAIN` when none is due.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_poll_transmit(
    s: *mut sealcam_sender,
    now_us: u64,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        let out_len = try_mut!(out_len);
        let Some(buf) = (unsafe { bytes_mut(buf, buf_len) }) else {
            return SEALCAM_NULL_PARAMETER;
        };
        write_or_again(try_rs!(s.inner.poll_transmit(now_us, buf)), out_len)
    })
}

/// When the next packet will be due; `SEALCAM_AGAIN` when nothing is queued.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_poll_timeout(s: *const sealcam_sender, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        let out = try_mut!(out_us);
        write_or_again(s.inner.poll_timeout(), out)
    })
}

/// Handles an RTCP datagram from the hub (NACK, PLI).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_handle_feedback(
    s: *mut sealcam_sender,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        let Some(d) = (unsafe { bytes(data, len) }) else {
            return SEALCAM_NULL_PARAMETER;
        };
        try_rs!(s.inner.handle_feedback(now_us, d));
        SEALCAM_OK
    })
}

/// Sets the target bitrate.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_set_target_bitrate(s: *mut sealcam_sender, bitrate_bps: u32) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        try_rs!(s.inner.set_target_bitrate(bitrate_bps));
        SEALCAM_OK
    })
}

/// Changes the adaptive bitrate's floor and ceiling (`SEALCAM_INVALID_INPUT` when
/// `min_bps` is below 1000 or above `max_bps`).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_set_bitrate_bounds(
    s: *mut sealcam_sender,
    min_bps: u32,
    max_bps: u32,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        try_rs!(s.inner.set_bitrate_bounds(min_bps, max_bps));
        SEALCAM_OK
    })
}

/// The encoder's current target bitrate (what the rate controller chose, when adaptive).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_target_bitrate(s: *const sealcam_sender, out_bps: *mut u32) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        *try_mut!(out_bps) = s.inner.target_bitrate_bps();
        SEALCAM_OK
    })
}

/// Forces a keyframe on the next pushed image.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_request_keyframe(s: *mut sealcam_sender) -> sealcam_result {
    guard(|| {
        try_mut!(s).inner.request_keyframe();
        SEALCAM_OK
    })
}

/// The bitstream of the last encoded frame, valid until the next push or free.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_last_bitstream(
    s: *const sealcam_sender,
    data: *mut *const u8,
    len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        let (d, l) = (try_mut!(data), try_mut!(len));
        let b = s.inner.last_bitstream();
        *d = b.as_ptr();
        *l = b.len();
        SEALCAM_OK
    })
}

/// Checks a C receiver config and converts it.
///
/// # Safety
/// The config's pointers must point to their stated lengths.
unsafe fn receiver_config_from_c(c: &sealcam_receiver_config) -> Result<ReceiverConfig, sealcam_result> {
    let p = unsafe {
        stream_params::<sealcam_receiver_config>(
            c.struct_size,
            &c.reserved,
            c.stream_id,
            c.stream_id_len,
            c.base_secret,
            c.base_secret_len,
            c.cipher_suite,
            c.codec,
        )
    }?;
    let mut r = ReceiverConfig::new(p.stream_id, c.ssrc, p.secret);
    r.key_epoch = c.key_epoch;
    r.suite = p.suite;
    r.codec = p.codec;
    r.payload_type = c.payload_type;
    r.slots = c.slots as usize;
    r.max_frame_bytes = c.max_frame_bytes as usize;
    r.frame_buffers = c.frame_buffers as usize;
    r.max_wait_ms = c.max_wait_ms;
    r.max_playout_hold_ms = c.max_playout_hold_ms;
    Ok(r)
}

/// Creates a receiver for one stream. On success `*out` owns the handle.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_new(
    cfg: *const sealcam_receiver_config,
    out: *mut *mut sealcam_receiver,
) -> sealcam_result {
    guard(|| {
        let c = try_ref!(cfg);
        let out = try_mut!(out);
        let r = match unsafe { receiver_config_from_c(c) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        let inner = try_rs!(Receiver::new(r));
        *out = Box::into_raw(Box::new(sealcam_receiver { inner }));
        SEALCAM_OK
    })
}

/// Releases a receiver (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_free(r: *mut sealcam_receiver) {
    unsafe { free_handle(r) }
}

/// Handles one RTP datagram. `SEALCAM_DROPPED` when the packet was refused; the reason is
/// counted in the stats.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_handle_packet(
    r: *mut sealcam_receiver,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> sealcam_result {
    guard(|| {
        let r = try_mut!(r);
        let Some(d) = (unsafe { bytes(data, len) }) else {
            return SEALCAM_NULL_PARAMETER;
        };
        match r.inner.handle_packet(now_us, d) {
            Ok(()) => SEALCAM_OK,
            Err(_) => SEALCAM_DROPPED,
        }
    })
}

/// Advances the receiver's timers.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_handle_timeout(r: *mut sealcam_receiver, now_us: u64) -> sealcam_result {
    guard(|| {
        try_mut!(r).inner.handle_timeout(now_us);
        SEALCAM_OK
    })
}

/// A frame output by the receiver. `data` stays valid until the next
/// `sealcam_receiver_poll_frame` or `sealcam_receiver_free` on the same handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_frame {
    /// Frame number in the stream.
    pub frame_id: u64,
    /// Capture time on the camera's clock, microseconds.
    pub capture_time_us: u64,
    /// RTP timestamp.
    pub rtp_timestamp: u32,
    /// Encoded width.
    pub width: u16,
    /// Encoded height.
    pub height: u16,
    /// 1 for a keyframe.
    pub keyframe: u8,
    /// `SEALCAM_CODEC_*`.
    pub codec: u8,
    /// The encoded bitstream.
    pub data: *const u8,
    /// Its length.
    pub len: usize,
}

impl From<&ReceivedFrame<'_>> for sealcam_frame {
    fn from(f: &ReceivedFrame<'_>) -> Self {
        sealcam_frame {
            frame_id: f.info.frame_id,
            capture_time_us: f.info.capture_time_us,
            rtp_timestamp: f.rtp_timestamp,
            width: f.info.width,
            height: f.info.height,
            keyframe: f.info.keyframe as u8,
            codec: f.info.codec as u8,
            data: f.data.as_ptr(),
            len: f.data.len(),
        }
    }
}

/// The next authenticated, decodable frame; `SEALCAM_AGAIN` when none is ready.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_poll_frame(
    r: *mut sealcam_receiver,
    out: *mut sealcam_frame,
) -> sealcam_result {
    guard(|| {
        let r = try_mut!(r);
        let out = try_mut!(out);
        write_or_again(r.inner.poll_frame().map(|f| sealcam_frame::from(&f)), out)
    })
}

/// When to show the frame the last `sealcam_receiver_poll_frame` returned, on the clock
/// passed to `handle_packet` (never before it was output): frames are held back about one
/// repair round trip while retransmissions are frequent, and 100 ms while the path stalls
/// every few seconds, so a repair or a short radio stall does not stall the display. A
/// recorder can ignore it. `SEALCAM_AGAIN` when no frame has been polled.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_render_at(r: *const sealcam_receiver, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let r = try_ref!(r);
        let out_us = try_mut!(out_us);
        write_or_again(r.inner.polled_render_at_us(), out_us)
    })
}

/// Writes the next RTCP feedback datagram due at `now_us`; `SEALCAM_AGAIN` when none.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_poll_feedback(
    r: *mut sealcam_receiver,
    now_us: u64,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let r = try_mut!(r);
        let out_len = try_mut!(out_len);
        let Some(buf) = (unsafe { bytes_mut(buf, buf_len) }) else {
            return SEALCAM_NULL_PARAMETER;
        };
        write_or_again(try_rs!(r.inner.poll_feedback(now_us, buf)), out_len)
    })
}

/// When the receiver next has timer work; `SEALCAM_AGAIN` when none.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_poll_timeout(r: *const sealcam_receiver, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let r = try_ref!(r);
        let out = try_mut!(out_us);
        write_or_again(r.inner.poll_timeout(), out)
    })
}

/// Receiver counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sealcam_receiver_stats {
    /// Frames output.
    pub frames_output: u64,
    /// Frames that authenticated.
    pub frames_authenticated: u64,
    /// Authenticated frames dropped for a broken chain.
    pub frames_undecodable: u64,
    /// Packets dropped: malformed.
    pub dropped_malformed: u64,
    /// Packets dropped: another stream's SSRC.
    pub dropped_unknown_stream: u64,
    /// Packets dropped: too late.
    pub dropped_too_late: u64,
    /// Packets dropped: duplicate.
    pub dropped_duplicate: u64,
    /// Packets dropped: failed authentication.
    pub dropped_auth: u64,
    /// Packets dropped: replayed counter.
    pub dropped_replay: u64,
    /// Packets dropped: unknown key id.
    pub dropped_unknown_key: u64,
    /// Packets dropped: undecodable frame.
    pub dropped_undecodable: u64,
    /// PLIs sent.
    pub plis_sent: u64,
    /// Packets dropped: too far ahead of the last authenticated packet.
    pub dropped_out_of_window: u64,
    /// Datagrams handed to the receiver.
    pub packets_received: u64,
    /// Packets accepted into reassembly.
    pub packets_accepted: u64,
}

impl From<ReceiverStats> for sealcam_receiver_stats {
    fn from(s: ReceiverStats) -> Self {
        use crate::receiver::DropReason as D;
        let d = |x| s.rejected.get(x);
        sealcam_receiver_stats {
            frames_output: s.frames_output,
            frames_authenticated: s.frames_authenticated,
            frames_undecodable: s.frames_undecodable,
            dropped_malformed: d(D::Malformed),
            dropped_unknown_stream: d(D::UnknownStream),
            dropped_too_late: d(D::TooLate),
            dropped_duplicate: d(D::Duplicate),
            dropped_auth: d(D::Auth),
            dropped_replay: d(D::Replay),
            dropped_unknown_key: d(D::UnknownKey),
            dropped_undecodable: d(D::Undecodable),
            plis_sent: s.plis_sent,
            dropped_out_of_window: d(D::OutOfWindow),
            packets_received: s.packets_received,
            packets_accepted: s.packets_accepted,
        }
    }
}

/// Copies the receiver's counters.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_get_stats(
    r: *const sealcam_receiver,
    out: *mut sealcam_receiver_stats,
) -> sealcam_result {
    guard(|| {
        let r = try_ref!(r);
        *try_mut!(out) = r.inner.stats().into();
        SEALCAM_OK
    })
}

/// An optional byte string: NULL with length 0 means "none".
unsafe fn optional_bytes<'a>(p: *const u8, len: usize) -> Result<Option<&'a [u8]>, sealcam_result> {
    if p.is_null() && len == 0 {
        return Ok(None);
    }
    unsafe { bytes(p, len) }.map(Some).ok_or(SEALCAM_NULL_PARAMETER)
}

/// Switches the sender to key epoch `epoch` (the SFrame KID), derived from its base secret
/// or from `new_secret` (NULL and 0 for none). Install the epoch at the hub first.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_rekey(
    s: *mut sealcam_sender,
    epoch: u64,
    new_secret: *const u8,
    new_secret_len: usize,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        let secret = match unsafe { optional_bytes(new_secret, new_secret_len) } {
            Ok(v) => v,
            Err(e) => return e,
        };
        try_rs!(s.inner.rekey(epoch, secret));
        SEALCAM_OK
    })
}

/// Installs the key of epoch `epoch` beside the current one (see `sealcam_sender_rekey`).
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_install_key(
    r: *mut sealcam_receiver,
    epoch: u64,
    new_secret: *const u8,
    new_secret_len: usize,
) -> sealcam_result {
    guard(|| {
        let r = try_mut!(r);
        let secret = match unsafe { optional_bytes(new_secret, new_secret_len) } {
            Ok(v) => v,
            Err(e) => return e,
        };
        try_rs!(r.inner.install_key(epoch, secret));
        SEALCAM_OK
    })
}

/// Hub limits; fill with [`sealcam_hub_config_default`] first.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_hub_config {
    /// `sizeof(sealcam_hub_config)`, set by the default function.
    pub struct_size: u32,
    /// Most streams served at once.
    pub max_streams: u32,
    /// Largest memory bound one stream's receiver config may have, bytes.
    pub max_stream_memory_bytes: u64,
    /// Reserved for growth; must be zero.
    pub reserved: [u8; 64],
}

/// Many streams, one handle: packets are routed by SSRC to each stream's own receiver.
pub struct sealcam_hub {
    inner: Hub,
}

/// A frame from one of the hub's streams. Pointers stay valid until the next
/// `sealcam_hub_poll_frame`, a change of streams, or `sealcam_hub_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_hub_frame {
    /// SSRC of the stream.
    pub ssrc: u32,
    /// Identity of the stream the frame authenticated for.
    pub stream_id: *const u8,
    /// Length of `stream_id`.
    pub stream_id_len: usize,
    /// The frame.
    pub frame: sealcam_frame,
}

/// Fills `cfg` with defaults.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_config_default(cfg: *mut sealcam_hub_config) -> sealcam_result {
    guard(|| {
        let d = HubConfig::default();
        *try_mut!(cfg) = sealcam_hub_config {
            struct_size: std::mem::size_of::<sealcam_hub_config>() as u32,
            max_streams: d.max_streams as u32,
            max_stream_memory_bytes: d.max_stream_memory_bytes as u64,
            reserved: [0; 64],
        };
        SEALCAM_OK
    })
}

/// Creates an empty hub.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_new(cfg: *const sealcam_hub_config, out: *mut *mut sealcam_hub) -> sealcam_result {
    guard(|| {
        let c = try_ref!(cfg);
        let out = try_mut!(out);
        if let Err(e) = check_struct(c.struct_size, std::mem::size_of::<sealcam_hub_config>(), &c.reserved) {
            return e;
        }
        let inner = Hub::new(HubConfig {
            max_streams: c.max_streams as usize,
            max_stream_memory_bytes: c.max_stream_memory_bytes.min(usize::MAX as u64) as usize,
        });
        *out = Box::into_raw(Box::new(sealcam_hub { inner }));
        SEALCAM_OK
    })
}

/// Releases a hub and every stream in it (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_free(h: *mut sealcam_hub) {
    unsafe { free_handle(h) }
}

/// Starts serving a stream (its own keys, buffers and memory bound).
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_add_stream(
    h: *mut sealcam_hub,
    cfg: *const sealcam_receiver_config,
) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let c = try_ref!(cfg);
        let r = match unsafe { receiver_config_from_c(c) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        try_rs!(h.inner.add_stream(r));
        SEALCAM_OK
    })
}

/// Stops serving a stream and destroys its keys and buffers; `SEALCAM_INVALID_INPUT` when
/// the SSRC is not served.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_remove_stream(h: *mut sealcam_hub, ssrc: u32) -> sealcam_result {
    guard(|| if try_mut!(h).inner.remove_stream(ssrc) { SEALCAM_OK } else { SEALCAM_INVALID_INPUT })
}

/// Routes one RTP datagram; `SEALCAM_DROPPED` when it was refused (counted by reason).
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_handle_packet(
    h: *mut sealcam_hub,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let Some(d) = (unsafe { bytes(data, len) }) else { return SEALCAM_NULL_PARAMETER };
        match h.inner.handle_packet(now_us, d) {
            Ok(_) => SEALCAM_OK,
            Err(_) => SEALCAM_DROPPED,
        }
    })
}

/// Advances every stream's timers.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_handle_timeout(h: *mut sealcam_hub, now_us: u64) -> sealcam_result {
    guard(|| {
        try_mut!(h).inner.handle_timeout(now_us);
        SEALCAM_OK
    })
}

/// The next frame of any stream, with the identity it authenticated for; `SEALCAM_AGAIN`
/// when none is ready.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_poll_frame(h: *mut sealcam_hub, out: *mut sealcam_hub_frame) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let out = try_mut!(out);
        match h.inner.poll_frame() {
            Some(f) => {
                *out = sealcam_hub_frame {
                    ssrc: f.ssrc,
                    stream_id: f.stream_id.as_ptr(),
                    stream_id_len: f.stream_id.len(),
                    frame: sealcam_frame::from(&f.frame),
                };
                SEALCAM_OK
            }
            None => SEALCAM_AGAIN,
        }
    })
}

/// The next RTCP feedback datagram of any stream due at `now_us`; `SEALCAM_AGAIN` when none.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_poll_feedback(
    h: *mut sealcam_hub,
    now_us: u64,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let out_len = try_mut!(out_len);
        let Some(buf) = (unsafe { bytes_mut(buf, buf_len) }) else { return SEALCAM_NULL_PARAMETER };
        write_or_again(try_rs!(h.inner.poll_feedback(now_us, buf)), out_len)
    })
}

/// When any stream next has timer work; `SEALCAM_AGAIN` when none.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_poll_timeout(h: *const sealcam_hub, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let h = try_ref!(h);
        let out = try_mut!(out_us);
        write_or_again(h.inner.poll_timeout(), out)
    })
}

/// Copies one stream's counters; `SEALCAM_INVALID_INPUT` when the SSRC is not served.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_stream_stats(
    h: *const sealcam_hub,
    ssrc: u32,
    out: *mut sealcam_receiver_stats,
) -> sealcam_result {
    guard(|| {
        let h = try_ref!(h);
        let out = try_mut!(out);
        match h.inner.stream_stats(ssrc) {
            Some(s) => {
                *out = s.into();
                SEALCAM_OK
            }
            None => SEALCAM_INVALID_INPUT,
        }
    })
}

/// When to show the frame of stream `ssrc` the last `sealcam_hub_poll_frame` returned
/// (see `sealcam_receiver_render_at`). `SEALCAM_INVALID_INPUT` for a stream the hub does
/// not serve, `SEALCAM_AGAIN` when none of its frames has been polled.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_render_at(h: *const sealcam_hub, ssrc: u32, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let h = try_ref!(h);
        let out_us = try_mut!(out_us);
        match h.inner.stream(ssrc) {
            Some(r) => write_or_again(r.polled_render_at_us(), out_us),
            None => SEALCAM_INVALID_INPUT,
        }
    })
}

/// Installs a new key epoch for one stream (see `sealcam_receiver_install_key`).
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_install_key(
    h: *mut sealcam_hub,
    ssrc: u32,
    epoch: u64,
    new_secret: *const u8,
    new_secret_len: usize,
) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let secret = match unsafe { optional_bytes(new_secret, new_secret_len) } {
            Ok(v) => v,
            Err(e) => return e,
        };
        let Some(r) = h.inner.stream_mut(ssrc) else { return SEALCAM_INVALID_INPUT };
        try_rs!(r.install_key(epoch, secret));
        SEALCAM_OK
    })
}

/// Bytes SFrame adds to a frame at most (header and tag): size protect outputs with
/// `plaintext_len + SEALCAM_SFRAME_MAX_OVERHEAD`.
pub const SEALCAM_SFRAME_MAX_OVERHEAD: usize = crate::seal::MAX_OVERHEAD_BYTES;

/// An encrypt-only SFrame key, for hub or camera SDKs with their own transport.
pub struct sealcam_seal_key {
    inner: SealKey,
    scratch: Vec<u8>,
}

/// A decrypt-only SFrame key with its replay window.
pub struct sealcam_open_key {
    inner: OpenKey,
    scratch: Vec<u8>,
}

/// Builds a key from the C arguments: with a stream id, `base` is the stream's base secret
/// and `kid` its epoch; without, `base` is the RFC 9605 base key and `kid` the KID.
#[allow(clippy::too_many_arguments)]
unsafe fn new_key<K>(
    cipher_suite: u16,
    kid: u64,
    base: *const u8,
    base_len: usize,
    stream_id: *const u8,
    stream_id_len: usize,
    for_stream: fn(CipherSuite, &[u8], &[u8], u64) -> crate::Result<K>,
    from_base: fn(CipherSuite, u64, &[u8]) -> crate::Result<K>,
) -> Result<K, sealcam_result> {
    let base = unsafe { bytes(base, base_len) }.ok_or(SEALCAM_NULL_PARAMETER)?;
    let id = unsafe { optional_bytes(stream_id, stream_id_len) }?;
    let suite = CipherSuite::from_u16(cipher_suite).map_err(|e| sealcam_result::from(&e))?;
    match id {
        Some(id) => for_stream(suite, base, id, kid),
        None => from_base(suite, kid, base),
    }
    .map_err(|e| sealcam_result::from(&e))
}

/// Creates a sealing key. With `stream_id` NULL (length 0), `base` is the RFC 9605 base key
/// and `kid` the KID; otherwise `base` is the stream's base secret and `kid` the key epoch.
#[no_mangle]
pub unsafe extern "C" fn sealcam_seal_key_new(
    cipher_suite: u16,
    kid: u64,
    base: *const u8,
    base_len: usize,
    stream_id: *const u8,
    stream_id_len: usize,
    out: *mut *mut sealcam_seal_key,
) -> sealcam_result {
    guard(|| {
        let out = try_mut!(out);
        let key = unsafe {
            new_key(cipher_suite, kid, base, base_len, stream_id, stream_id_len, SealKey::for_stream, SealKey::new)
        };
        match key {
            Ok(inner) => {
                *out = Box::into_raw(Box::new(sealcam_seal_key { inner, scratch: Vec::new() }));
                SEALCAM_OK
            }
            Err(e) => e,
        }
    })
}

/// Releases (and zeroizes) a sealing key (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_seal_key_free(k: *mut sealcam_seal_key) {
    unsafe { free_handle(k) }
}

/// Creates an opening key; arguments as for `sealcam_seal_key_new`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_open_key_new(
    cipher_suite: u16,
    kid: u64,
    base: *const u8,
    base_len: usize,
    stream_id: *const u8,
    stream_id_len: usize,
    out: *mut *mut sealcam_open_key,
) -> sealcam_result {
    guard(|| {
        let out = try_mut!(out);
        let key = unsafe {
            new_key(cipher_suite, kid, base, base_len, stream_id, stream_id_len, OpenKey::for_stream, OpenKey::new)
        };
        match key {
            Ok(inner) => {
                *out = Box::into_raw(Box::new(sealcam_open_key { inner, scratch: Vec::new() }));
                SEALCAM_OK
            }
            Err(e) => e,
        }
    })
}

/// Releases (and zeroizes) an opening key (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_open_key_free(k: *mut sealcam_open_key) {
    unsafe { free_handle(k) }
}

/// Seals `plaintext` as one SFrame (`header || ciphertext || tag`) bound to `metadata`.
/// `out_cap` must be at least `plaintext_len + SEALCAM_SFRAME_MAX_OVERHEAD`; otherwise
/// `SEALCAM_BUFFER_TOO_SMALL` and no counter is used.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sframe_protect(
    k: *mut sealcam_seal_key,
    metadata: *const u8,
    metadata_len: usize,
    plaintext: *const u8,
    plaintext_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let k = try_mut!(k);
        let out_len = try_mut!(out_len);
        let (Some(md), Some(pt)) =
            (unsafe { bytes(metadata, metadata_len) }, unsafe { bytes(plaintext, plaintext_len) })
        else {
            return SEALCAM_NULL_PARAMETER;
        };
        let Some(out) = (unsafe { bytes_mut(out, out_cap) }) else { return SEALCAM_NULL_PARAMETER };
        if out.len() < pt.len() + SEALCAM_SFRAME_MAX_OVERHEAD {
            return SEALCAM_BUFFER_TOO_SMALL;
        }
        try_rs!(k.inner.seal(md, pt, &mut k.scratch));
        out[..k.scratch.len()].copy_from_slice(&k.scratch);
        *out_len = k.scratch.len();
        SEALCAM_OK
    })
}

/// Verifies and decrypts one SFrame bound to `metadata` into `out` (`out_cap` at least
/// `sframe_len`). Refuses forged, tampered and replayed frames (`SEALCAM_AUTH_FAILED`,
/// `SEALCAM_REPLAY`, `SEALCAM_UNKNOWN_KEY`, `SEALCAM_MALFORMED`); nothing is written then.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sframe_unprotect(
    k: *mut sealcam_open_key,
    metadata: *const u8,
    metadata_len: usize,
    sframe: *const u8,
    sframe_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let k = try_mut!(k);
        let out_len = try_mut!(out_len);
        let (Some(md), Some(sf)) = (unsafe { bytes(metadata, metadata_len) }, unsafe { bytes(sframe, sframe_len) })
        else {
            return SEALCAM_NULL_PARAMETER;
        };
        let Some(out) = (unsafe { bytes_mut(out, out_cap) }) else { return SEALCAM_NULL_PARAMETER };
        if out.len() < sf.len() {
            return SEALCAM_BUFFER_TOO_SMALL;
        }
        try_rs!(k.inner.open(md, sf, &mut k.scratch));
        out[..k.scratch.len()].copy_from_slice(&k.scratch);
        *out_len = k.scratch.len();
        SEALCAM_OK
    })
}

/// Writes the metadata sealcam binds into each frame of a stream (stream identity, SSRC,
/// RTP timestamp), for use with `sealcam_sframe_protect`/`unprotect`. `out_cap` must be at
/// least `stream_id_len + 18`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_stream_metadata(
    stream_id: *const u8,
    stream_id_len: usize,
    ssrc: u32,
    rtp_timestamp: u32,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let out_len = try_mut!(out_len);
        let Some(id) = (unsafe { bytes(stream_id, stream_id_len) }) else { return SEALCAM_NULL_PARAMETER };
        try_rs!(crate::seal::check_stream_id(id));
        let Some(out) = (unsafe { bytes_mut(out, out_cap) }) else { return SEALCAM_NULL_PARAMETER };
        let mut md = Vec::with_capacity(id.len() + 18);
        crate::seal::stream_metadata(id, ssrc, rtp_timestamp, &mut md);
        if out.len() < md.len() {
            return SEALCAM_BUFFER_TOO_SMALL;
        }
        out[..md.len()].copy_from_slice(&md);
        *out_len = md.len();
        SEALCAM_OK
    })
}

/// Converts an image to tightly packed I420 in `dst` (Y then U then V, `dst_len` bytes:
/// `w*h + 2*ceil(w/2)*ceil(h/2)`), BT.601 for RGB sources. Reentrant and allocation-free;
/// usable without a sender.
#[no_mangle]
pub unsafe extern "C" fn sealcam_convert_to_i420(
    image: *const sealcam_image,
    dst: *mut u8,
    dst_len: usize,
) -> sealcam_result {
    unsafe { sealcam_convert_to_i420_matrix(image, 0, dst, dst_len) }
}

/// [`sealcam_convert_to_i420`] with a matrix for RGB sources: 0 = BT.601, 1 = BT.709
/// (limited range).
#[no_mangle]
pub unsafe extern "C" fn sealcam_convert_to_i420_matrix(
    image: *const sealcam_image,
    matrix: u32,
    dst: *mut u8,
    dst_len: usize,
) -> sealcam_result {
    guard(|| {
        let img = try_ref!(image);
        let frame = match unsafe { img.as_capture() } {
            Ok(f) => f,
            Err(r) => return r,
        };
        let matrix = match matrix {
            0 => crate::frame::ColorMatrix::Bt601,
            1 => crate::frame::ColorMatrix::Bt709,
            _ => return SEALCAM_INVALID_INPUT,
        };
        try_rs!(frame.validate());
        let (y, u, v) = match unsafe { packed_i420(dst, dst_len, frame.width, frame.height) } {
            Ok(p) => p,
            Err(r) => return r,
        };
        let (w, cw) = (frame.width as usize, frame.width.div_ceil(2) as usize);
        try_rs!(crate::kernels::to_i420_planes(&frame, y, w, u, v, cw, matrix));
        SEALCAM_OK
    })
}

/// Y, U and V planes borrowed from a caller's buffer.
type Planes<'a> = (&'a mut [u8], &'a mut [u8], &'a mut [u8]);

/// A caller's buffer as the three planes of a tightly packed `width x height` I420 image.
///
/// # Safety
/// `dst` must point to `dst_len` writable bytes (or be NULL).
unsafe fn packed_i420<'a>(dst: *mut u8, dst_len: usize, width: u32, height: u32) -> Result<Planes<'a>, sealcam_result> {
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let need = w * h + 2 * cw * ch;
    let out = unsafe { bytes_mut(dst, dst_len) }.ok_or(SEALCAM_NULL_PARAMETER)?;
    if out.len() < need {
        return Err(SEALCAM_BUFFER_TOO_SMALL);
    }
    let (y, rest) = out[..need].split_at_mut(w * h);
    let (u, v) = rest.split_at_mut(cw * ch);
    Ok((y, u, v))
}

/// Scales an I420 image (`SEALCAM_FORMAT_I420`, any strides) to `width x height`, written
/// tightly packed into `dst` (Y, then U, then V: `w*h + 2*ceil(w/2)*ceil(h/2)` bytes): the
/// 2x2 box filter for an exact half, bilinear otherwise. `SEALCAM_INVALID_INPUT` for another
/// format or an empty size, `SEALCAM_BUFFER_TOO_SMALL` when `dst_len` is short; nothing is
/// written then. Allocates nothing.
#[no_mangle]
pub unsafe extern "C" fn sealcam_scale_i420(
    image: *const sealcam_image,
    width: u32,
    height: u32,
    dst: *mut u8,
    dst_len: usize,
) -> sealcam_result {
    guard(|| {
        let img = try_ref!(image);
        let frame = match unsafe { img.as_capture() } {
            Ok(f) => f,
            Err(r) => return r,
        };
        try_rs!(crate::frame::check_dimensions(width, height));
        let (y, u, v) = match unsafe { packed_i420(dst, dst_len, width, height) } {
            Ok(p) => p,
            Err(r) => return r,
        };
        let (w, cw) = (width as usize, width.div_ceil(2) as usize);
        try_rs!(crate::kernels::scale_i420_planes(&frame, width, height, y, w, u, v, cw));
        SEALCAM_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_macros_match_cargo_toml() {
        let v = format!("{SEALCAM_VERSION_MAJOR}.{SEALCAM_VERSION_MINOR}.{SEALCAM_VERSION_PATCH}");
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        let c = unsafe { std::ffi::CStr::from_ptr(sealcam_version()) };
        assert_eq!(c.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn null_pointers_are_refused_everywhere() {
        unsafe {
            assert_eq!(sealcam_sender_config_default(ptr::null_mut()), SEALCAM_NULL_PARAMETER);
            assert_eq!(sealcam_sender_new(ptr::null(), ptr::null_mut()), SEALCAM_NULL_PARAMETER);
            let mut c = std::mem::zeroed::<sealcam_sender_config>();
            sealcam_sender_config_default(&mut c);
            let mut s = ptr::null_mut();
            // Defaults leave the stream id empty: a clear error, not a crash.
            assert_eq!(sealcam_sender_new(&c, &mut s), SEALCAM_INVALID_INPUT);
            c.stream_id_len = 5; // a length with a NULL pointer
            assert_eq!(sealcam_sender_new(&c, &mut s), SEALCAM_NULL_PARAMETER);
            assert!(s.is_null());
            assert_eq!(
                sealcam_sender_push_frame(ptr::null_mut(), 0, ptr::null(), ptr::null_mut()),
                SEALCAM_NULL_PARAMETER
            );
            let mut n = 0usize;
            assert_eq!(
                sealcam_sender_poll_transmit(ptr::null_mut(), 0, ptr::null_mut(), 0, &mut n),
                SEALCAM_NULL_PARAMETER
            );
            assert_eq!(sealcam_receiver_handle_packet(ptr::null_mut(), 0, ptr::null(), 0), SEALCAM_NULL_PARAMETER);
            assert_eq!(sealcam_receiver_poll_frame(ptr::null_mut(), ptr::null_mut()), SEALCAM_NULL_PARAMETER);
            let mut t = 0u64;
            assert_eq!(sealcam_receiver_render_at(ptr::null(), &mut t), SEALCAM_NULL_PARAMETER);
            assert_eq!(sealcam_hub_render_at(ptr::null(), 1, &mut t), SEALCAM_NULL_PARAMETER);
            sealcam_sender_free(ptr::null_mut());
            sealcam_receiver_free(ptr::null_mut());
        }
    }
}
