//! The camera side: `sealcam_sender`, its config, stats and rate-controller state.

use std::mem::offset_of;
use std::ptr;

use super::image::{matrix_of, sealcam_image};
use super::result::sealcam_result::{self, *};
use super::{
    bytes, bytes_mut, free_handle, give, guard, optional_bytes, read_growable, try_c, try_mut, try_ref, try_rs,
    write_growable, write_len, write_or_again, Growable,
};
use crate::abr::delay::Usage;
use crate::sender::{FrameOutcome, Sender, SenderConfig, SenderStats};
use crate::{CipherSuite, Codec};

/// RFC 9605 cipher suite AES_128_CTR_HMAC_SHA256_80.
pub const SEALCAM_SUITE_AES_128_CTR_HMAC_SHA256_80: u16 = 1;
/// RFC 9605 cipher suite AES_128_CTR_HMAC_SHA256_64.
pub const SEALCAM_SUITE_AES_128_CTR_HMAC_SHA256_64: u16 = 2;
/// RFC 9605 cipher suite AES_128_CTR_HMAC_SHA256_32.
pub const SEALCAM_SUITE_AES_128_CTR_HMAC_SHA256_32: u16 = 3;
/// RFC 9605 cipher suite AES_128_GCM_SHA256_128 (the default).
pub const SEALCAM_SUITE_AES_128_GCM_SHA256_128: u16 = 4;
/// RFC 9605 cipher suite AES_256_GCM_SHA512_128.
pub const SEALCAM_SUITE_AES_256_GCM_SHA512_128: u16 = 5;

/// Codec: H.264.
pub const SEALCAM_CODEC_H264: u8 = 1;
/// Codec: AV1.
pub const SEALCAM_CODEC_AV1: u8 = 2;

/// Rate controller's delay detector: queues are stable.
pub const SEALCAM_USAGE_NORMAL: u8 = 0;
/// Queues are growing: the camera sends above the path's capacity.
pub const SEALCAM_USAGE_OVERUSING: u8 = 1;
/// Queues are draining.
pub const SEALCAM_USAGE_UNDERUSING: u8 = 2;

/// Sender settings. Set `struct_size`, then fill with `sealcam_sender_config_default`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_sender_config {
    /// `sizeof(sealcam_sender_config)`: set it before the call.
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
    /// Key epoch, 0 to 65535 (the low 16 bits of the SFrame KID; epochs only move forward).
    pub key_epoch: u64,
    /// `SEALCAM_SUITE_*` (default AES_128_GCM_SHA256_128).
    pub cipher_suite: u16,
    /// `SEALCAM_CODEC_*`.
    pub codec: u8,
    /// RTP payload type (at most 127).
    pub payload_type: u8,
    /// Frame rate.
    pub framerate_fps: f32,
    /// Target bitrate, and the start rate when adaptive (10 kbit/s to 100 Mbit/s).
    pub bitrate_bps: u32,
    /// Path MTU in bytes.
    pub mtu_bytes: u32,
    /// Pacing rate over target bitrate (1 to 10).
    pub pacing_factor: f32,
    /// Send queue limit in ms at the pacing rate.
    pub max_queue_delay_ms: u32,
    /// Periodic keyframe interval in frames (0 = on request only).
    pub keyframe_interval_frames: u32,
    /// Floor of the adaptive bitrate.
    pub min_bitrate_bps: u32,
    /// Ceiling of the adaptive bitrate.
    pub max_bitrate_bps: u32,
    /// 1: adapt the bitrate to the path from the hub's transport-wide feedback, starting at
    /// `bitrate_bps`, within `[min_bitrate_bps, max_bitrate_bps]`, with the resolution
    /// ladder; 0 (the default): fixed.
    pub adaptive_bitrate: u8,
    /// 1: convert capture frames in two row bands on a worker pool where that pays on a
    /// 2-core board (RGB from 640x480, YUYV/UYVY at 1080p); the library then starts that
    /// pool's threads. 0 (the default): on the calling thread only.
    pub parallel_conversion: u8,
    /// `SEALCAM_MATRIX_*` for RGB captures (default BT.601). New in 0.2: zero for older callers.
    pub color_matrix: u32,
    /// Encode width in pixels (0 with `encode_height` 0: the capture size). New in 0.2.
    pub encode_width: u32,
    /// Encode height in pixels. New in 0.2.
    pub encode_height: u32,
    /// 1: send media without waiting for the hub's nonce (a one-way path; the hub must set
    /// `one_way` too, and cannot then tell a replayed recording from a live stream after it
    /// restarts). 0 (the default): hellos go out every 100 ms until the hub's nonce comes
    /// back, and frames pushed before it are not encoded. New in 0.2.
    pub one_way: u8,
    /// 1 (the default): FlexFEC repair packets (RFC 8627) where the path needs them, with
    /// `adaptive_bitrate`: a path round trip of 150 ms or more and 0.5 % loss or more, their
    /// share taken from the encoder's bitrate. 0: never (what older callers get). New in 0.2.
    pub fec: u8,
    /// RTP payload type of the repair packets (0: 97). New in 0.2.
    pub fec_payload_type: u8,
    /// SSRC of the repair stream (0: derived from `ssrc`). New in 0.2.
    pub fec_ssrc: u32,
}

// SAFETY: repr(C), starts with struct_size, integers, floats and pointers only.
unsafe impl Growable for sealcam_sender_config {
    const MIN_SIZE: usize = offset_of!(sealcam_sender_config, color_matrix);
}

/// Sender counters since creation. Set `struct_size` before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sealcam_sender_stats {
    /// `sizeof(sealcam_sender_stats)`: set it before the call.
    pub struct_size: u32,
    /// Frames pushed that passed validation.
    pub frames_pushed: u64,
    /// Frames encoded and queued.
    pub frames_sent: u64,
    /// Frames dropped because the send queue was full.
    pub frames_dropped: u64,
    /// Frames dropped because the congestion window was full.
    pub frames_dropped_congestion: u64,
    /// Keyframes queued.
    pub keyframes: u64,
    /// Packets sent for the first time.
    pub packets_sent: u64,
    /// Packets retransmitted on NACK.
    pub packets_retransmitted: u64,
    /// Bytes handed out by `sealcam_sender_poll_transmit`.
    pub bytes_sent: u64,
    /// NACKed sequence numbers received.
    pub nacks_received: u64,
    /// Retransmissions refused: older than the last keyframe or the age limit.
    pub nacks_too_old: u64,
    /// PLIs received.
    pub plis_received: u64,
    /// PLIs answered by a keyframe already on its way.
    pub plis_superseded: u64,
    /// Feedback datagrams that did not parse.
    pub malformed_feedback: u64,
    /// Transport-wide feedback messages received.
    pub transport_feedback: u64,
    /// Probe padding packets sent.
    pub probe_padding_packets: u64,
    /// Resolution or frame-rate switches made by the ladder.
    pub ladder_switches: u64,
    /// Collapses of the path estimate (unsent queue dropped, keyframe at the new rate).
    pub collapses: u64,
    /// Hellos sent while waiting for a hub nonce. New in 0.2.
    pub hellos_sent: u64,
    /// Hub nonces taken (the first, and one after every hub restart). New in 0.2.
    pub hub_nonces_accepted: u64,
    /// Hub nonce messages refused (bad MAC, another session, a nonce used before). New in 0.2.
    pub hub_nonces_refused: u64,
    /// Frames not encoded because no hub nonce had come yet. New in 0.2.
    pub frames_awaiting_hub: u64,
    /// FEC repair packets sent (also in `bytes_sent`). New in 0.2.
    pub repair_packets_sent: u64,
}

// SAFETY: repr(C), starts with struct_size, integers only.
unsafe impl Growable for sealcam_sender_stats {
    const MIN_SIZE: usize = 4;
}

impl From<SenderStats> for sealcam_sender_stats {
    fn from(s: SenderStats) -> Self {
        sealcam_sender_stats {
            struct_size: std::mem::size_of::<Self>() as u32,
            frames_pushed: s.frames_pushed,
            frames_sent: s.frames_sent,
            frames_dropped: s.frames_dropped,
            frames_dropped_congestion: s.frames_dropped_congestion,
            keyframes: s.keyframes,
            packets_sent: s.packets_sent,
            packets_retransmitted: s.packets_retransmitted,
            bytes_sent: s.bytes_sent,
            nacks_received: s.nacks_received,
            nacks_too_old: s.nacks_too_old,
            plis_received: s.plis_received,
            plis_superseded: s.plis_superseded,
            malformed_feedback: s.malformed_feedback,
            transport_feedback: s.transport_feedback,
            probe_padding_packets: s.probe_padding_packets,
            ladder_switches: s.ladder_switches,
            collapses: s.collapses,
            hellos_sent: s.hellos_sent,
            hub_nonces_accepted: s.hub_nonces_accepted,
            hub_nonces_refused: s.hub_nonces_refused,
            frames_awaiting_hub: s.frames_awaiting_hub,
            repair_packets_sent: s.repair_packets_sent,
        }
    }
}

/// What the rate controller believes. Set `struct_size` before the call. Without
/// `adaptive_bitrate` only `target_bps` is set and `adaptive` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sealcam_rate_state {
    /// `sizeof(sealcam_rate_state)`: set it before the call.
    pub struct_size: u32,
    /// 1 when the sender adapts its bitrate.
    pub adaptive: u8,
    /// `SEALCAM_USAGE_*`: the delay detector's conclusion.
    pub usage: u8,
    /// 1 while the encoder sends less than the target allows (application-limited).
    pub application_limited: u8,
    /// The target bitrate handed to the encoder.
    pub target_bps: u32,
    /// The delay-based (AIMD) target.
    pub delay_based_bps: u32,
    /// The loss-based bound (0: none).
    pub loss_bound_bps: u32,
    /// The acknowledged (receive) rate (0: none measured yet).
    pub acked_bps: u32,
    /// AIMD's link capacity estimate in kbit/s (0: none).
    pub link_capacity_kbps: u32,
    /// Probe results applied.
    pub probes_applied: u32,
    /// Collapses of the estimate undone because the path had only stalled.
    pub collapses_undone: u32,
    /// Smoothed round trip in ms.
    pub rtt_ms: f64,
    /// Queueing delay over the path's base delay, ms.
    pub queue_delay_ms: f64,
    /// Loss fraction of the last report.
    pub loss: f64,
    /// Background (non-congestive) loss fraction.
    pub background_loss: f64,
    /// Bytes sent and not yet reported.
    pub in_flight_bytes: u64,
    /// The congestion window in bytes.
    pub cwnd_bytes: u64,
}

// SAFETY: repr(C), starts with struct_size, integers and floats only.
unsafe impl Growable for sealcam_rate_state {
    const MIN_SIZE: usize = 4;
}

/// Camera-side handle.
pub struct sealcam_sender {
    inner: Sender,
}

/// The sender config a C config (read with `read_growable`) describes; the Rust API checks
/// every value.
///
/// # Safety
/// The config's pointers point to their stated lengths.
unsafe fn sender_config_from_c(c: &sealcam_sender_config) -> Result<SenderConfig, sealcam_result> {
    let stream_id = unsafe { bytes(c.stream_id, c.stream_id_len) }?;
    let secret = unsafe { bytes(c.base_secret, c.base_secret_len) }?;
    if c.adaptive_bitrate > 1 || c.parallel_conversion > 1 || c.one_way > 1 || c.fec > 1 {
        return Err(SEALCAM_INVALID_INPUT);
    }
    let mut s = SenderConfig::new(stream_id, c.ssrc, secret);
    s.key_epoch = c.key_epoch;
    s.suite = CipherSuite::from_u16(c.cipher_suite).map_err(|e| sealcam_result::from(&e))?;
    s.codec = Codec::from_u8(c.codec).ok_or(SEALCAM_INVALID_INPUT)?;
    s.payload_type = c.payload_type;
    s.framerate_fps = c.framerate_fps;
    s.bitrate_bps = c.bitrate_bps;
    s.mtu_bytes = c.mtu_bytes as usize;
    s.pacing_factor = c.pacing_factor;
    s.max_queue_delay_ms = c.max_queue_delay_ms;
    s.keyframe_interval_frames = c.keyframe_interval_frames;
    s.min_bitrate_bps = c.min_bitrate_bps;
    s.max_bitrate_bps = c.max_bitrate_bps;
    s.adaptive_bitrate = c.adaptive_bitrate == 1;
    s.parallel_conversion = c.parallel_conversion == 1;
    s.color_matrix = matrix_of(c.color_matrix)?;
    s.encode_size = encode_size_of(c.encode_width, c.encode_height)?;
    s.one_way = c.one_way == 1;
    s.fec = c.fec == 1;
    if c.fec_payload_type != 0 {
        s.fec_payload_type = c.fec_payload_type;
    }
    if c.fec_ssrc != 0 {
        s.fec_ssrc = c.fec_ssrc;
    }
    Ok(s)
}

/// `(0, 0)` is the capture size; anything else is checked by the Rust API.
fn encode_size_of(w: u32, h: u32) -> Result<Option<(u32, u32)>, sealcam_result> {
    match (w, h) {
        (0, 0) => Ok(None),
        (w, h) => crate::frame::check_dimensions(w, h).map(|_| Some((w, h))).map_err(|e| sealcam_result::from(&e)),
    }
}

/// Fills `cfg` (up to its `struct_size`, which must be set) with the defaults. The stream id
/// and secret are left NULL: set them. Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, or
/// `SEALCAM_INVALID_INPUT` when `struct_size` is under the first release's size.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_config_default(cfg: *mut sealcam_sender_config) -> sealcam_result {
    guard(|| {
        let size = try_ref!(cfg).struct_size as usize;
        if size < sealcam_sender_config::MIN_SIZE {
            return SEALCAM_INVALID_INPUT;
        }
        let d = SenderConfig::new(b"x", 0, &[]);
        let c = sealcam_sender_config {
            struct_size: size as u32,
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
            min_bitrate_bps: d.min_bitrate_bps,
            max_bitrate_bps: d.max_bitrate_bps,
            adaptive_bitrate: d.adaptive_bitrate as u8,
            parallel_conversion: d.parallel_conversion as u8,
            color_matrix: d.color_matrix as u32,
            encode_width: 0,
            encode_height: 0,
            one_way: d.one_way as u8,
            fec: d.fec as u8,
            fec_payload_type: d.fec_payload_type,
            fec_ssrc: 0,
        };
        unsafe { write_growable(cfg, &c) }
    })
}

/// Creates a sender; on success `*out` owns a handle to release with `sealcam_sender_free`.
/// Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` (a value out of
/// range, a flag other than 0 or 1, `struct_size` too small), `SEALCAM_UNSUPPORTED` (cipher
/// suite, or a newer caller's field this library does not know) or `SEALCAM_CODEC_ERROR`.
/// Starts the encoder's worker threads when the config asks for more than one.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_new(
    cfg: *const sealcam_sender_config,
    out: *mut *mut sealcam_sender,
) -> sealcam_result {
    guard(|| {
        let out = try_mut!(out);
        let c = try_c!(unsafe { read_growable(cfg) });
        let s = try_c!(unsafe { sender_config_from_c(&c) });
        give(sealcam_sender { inner: try_rs!(Sender::new(s)) }, out)
    })
}

/// Releases a sender and zeroizes its keys (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_free(s: *mut sealcam_sender) {
    unsafe { free_handle(s) }
}

/// Converts, encodes, seals and queues one image. `*queued` (optional, may be NULL) is set to
/// 1 when the frame was queued, 0 when it was dropped (send queue or congestion window full,
/// ladder frame rate, no hub nonce yet) or the encoder skipped it. Returns `SEALCAM_OK`,
/// `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` (format, size, stride or plane length),
/// `SEALCAM_CODEC_ERROR` or `SEALCAM_COUNTER_EXHAUSTED`; the sender is unchanged on error.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_push_frame(
    s: *mut sealcam_sender,
    now_us: u64,
    image: *const sealcam_image,
    queued: *mut u8,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        let img = try_c!(unsafe { read_growable(image) });
        let frame = try_c!(unsafe { img.as_capture() });
        let outcome = try_rs!(s.inner.push_frame(now_us, &frame));
        if let Some(q) = unsafe { queued.as_mut() } {
            *q = matches!(outcome, FrameOutcome::Queued { .. }) as u8;
        }
        SEALCAM_OK
    })
}

/// Writes the next packet due at `now_us` into `buf`. Returns `SEALCAM_OK` with its length
/// in `*out_len`, `SEALCAM_AGAIN` when none is due, `SEALCAM_BUFFER_TOO_SMALL` with the size
/// needed in `*out_len` (the packet stays queued), or `SEALCAM_NULL_PARAMETER`.
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
        let buf = try_c!(unsafe { bytes_mut(buf, buf_len) });
        write_len(s.inner.poll_transmit(now_us, buf), out_len)
    })
}

/// When the next packet will be due, in `*out_us`. Returns `SEALCAM_OK`, `SEALCAM_AGAIN`
/// when nothing is queued, or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_poll_timeout(s: *const sealcam_sender, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        let out = try_mut!(out_us);
        write_or_again(s.inner.poll_timeout(), out)
    })
}

/// Handles one RTCP datagram from the hub (transport-wide feedback, NACK, PLI). Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER` or `SEALCAM_MALFORMED` (counted in the stats;
/// nothing else changes).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_handle_feedback(
    s: *mut sealcam_sender,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        let d = try_c!(unsafe { bytes(data, len) });
        try_rs!(s.inner.handle_feedback(now_us, d));
        SEALCAM_OK
    })
}

/// Sets the encoder's target bitrate (10 kbit/s to 100 Mbit/s). With `adaptive_bitrate` the
/// controller overrides it at its next feedback: use `sealcam_sender_set_bitrate_bounds`.
/// Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` or
/// `SEALCAM_CODEC_ERROR`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_set_target_bitrate(s: *mut sealcam_sender, bitrate_bps: u32) -> sealcam_result {
    guard(|| {
        try_rs!(try_mut!(s).inner.set_target_bitrate(bitrate_bps));
        SEALCAM_OK
    })
}

/// Changes the adaptive bitrate's floor and ceiling (each 10 kbit/s to 100 Mbit/s, floor
/// not above ceiling). Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`,
/// `SEALCAM_INVALID_INPUT` or `SEALCAM_CODEC_ERROR`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_set_bitrate_bounds(
    s: *mut sealcam_sender,
    min_bps: u32,
    max_bps: u32,
) -> sealcam_result {
    guard(|| {
        try_rs!(try_mut!(s).inner.set_bitrate_bounds(min_bps, max_bps));
        SEALCAM_OK
    })
}

/// The encoder's current target bitrate in `*out_bps` (what the rate controller chose, when
/// adaptive). Returns `SEALCAM_OK` or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_target_bitrate(s: *const sealcam_sender, out_bps: *mut u32) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        *try_mut!(out_bps) = s.inner.target_bitrate_bps();
        SEALCAM_OK
    })
}

/// The size frames are encoded at now, in `*out_width` and `*out_height`: both 0 when it is
/// the capture size. The ladder changes it when adaptive. Returns `SEALCAM_OK` or
/// `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_encode_size(
    s: *const sealcam_sender,
    out_width: *mut u32,
    out_height: *mut u32,
) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        let (w, h) = (try_mut!(out_width), try_mut!(out_height));
        (*w, *h) = s.inner.encode_size().unwrap_or((0, 0));
        SEALCAM_OK
    })
}

/// Encodes at `width x height` from the next frame on (0 and 0: the capture size), starting
/// with a keyframe. Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER` or `SEALCAM_INVALID_INPUT`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_set_encode_size(
    s: *mut sealcam_sender,
    width: u32,
    height: u32,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        try_rs!(s.inner.set_encode_size(try_c!(encode_size_of(width, height))));
        SEALCAM_OK
    })
}

/// Copies the sender's counters into `*out` (up to its `struct_size`). Returns `SEALCAM_OK`,
/// `SEALCAM_NULL_PARAMETER` or `SEALCAM_INVALID_INPUT` (`struct_size` under 4).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_get_stats(
    s: *const sealcam_sender,
    out: *mut sealcam_sender_stats,
) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        unsafe { write_growable(out, &s.inner.stats().into()) }
    })
}

/// Copies what the rate controller believes into `*out` (up to its `struct_size`). Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER` or `SEALCAM_INVALID_INPUT` (`struct_size` under 4).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_rate_state(
    s: *const sealcam_sender,
    out: *mut sealcam_rate_state,
) -> sealcam_result {
    guard(|| {
        let s = try_ref!(s);
        let mut r = sealcam_rate_state {
            struct_size: std::mem::size_of::<sealcam_rate_state>() as u32,
            target_bps: s.inner.target_bitrate_bps(),
            ..Default::default()
        };
        if let Some(a) = s.inner.abr_state() {
            r.adaptive = 1;
            r.usage = match a.usage {
                Usage::Normal => SEALCAM_USAGE_NORMAL,
                Usage::Overusing => SEALCAM_USAGE_OVERUSING,
                Usage::Underusing => SEALCAM_USAGE_UNDERUSING,
            };
            r.application_limited = a.alr as u8;
            r.target_bps = a.target_bps;
            r.delay_based_bps = a.delay_based_bps;
            r.loss_bound_bps = a.loss_bound_bps.unwrap_or(0);
            r.acked_bps = a.acked_bps.unwrap_or(0);
            r.link_capacity_kbps = a.link_capacity_kbps.unwrap_or(0);
            r.probes_applied = a.probes_applied;
            r.collapses_undone = a.collapses_undone;
            r.rtt_ms = a.rtt_ms;
            r.queue_delay_ms = a.queue_delay_ms;
            r.loss = a.loss;
            r.background_loss = a.background_loss;
            r.in_flight_bytes = a.in_flight_bytes;
            r.cwnd_bytes = a.cwnd_bytes;
        }
        unsafe { write_growable(out, &r) }
    })
}

/// Forces a keyframe on the next pushed image. Returns `SEALCAM_OK` or
/// `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_request_keyframe(s: *mut sealcam_sender) -> sealcam_result {
    guard(|| {
        try_mut!(s).inner.request_keyframe();
        SEALCAM_OK
    })
}

/// The bitstream of the last encoded frame in `*data` and `*len`, valid until the next push
/// or free. Returns `SEALCAM_OK`, `SEALCAM_AGAIN` before any frame was encoded, or
/// `SEALCAM_NULL_PARAMETER`.
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
        if b.is_empty() {
            return SEALCAM_AGAIN;
        }
        (*d, *l) = (b.as_ptr(), b.len());
        SEALCAM_OK
    })
}

/// Switches the sender to key epoch `epoch` (the SFrame KID), derived from its base secret
/// or from `new_secret` (NULL and 0 for none, else at least 16 bytes). Epochs only move
/// forward. Install the epoch at the hub first: the hub accepts the old epoch for its
/// `key_overlap_ms` (2 s by default) after the install, so switch within that. Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER` or `SEALCAM_INVALID_INPUT` (an epoch not after
/// the current one, a short secret).
#[no_mangle]
pub unsafe extern "C" fn sealcam_sender_rekey(
    s: *mut sealcam_sender,
    epoch: u64,
    new_secret: *const u8,
    new_secret_len: usize,
) -> sealcam_result {
    guard(|| {
        let s = try_mut!(s);
        let secret = try_c!(unsafe { optional_bytes(new_secret, new_secret_len) });
        try_rs!(s.inner.rekey(epoch, secret));
        SEALCAM_OK
    })
}
