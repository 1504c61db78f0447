//! The hub side for one stream: `sealcam_receiver`, its config, the frames it outputs and
//! its counters.

use std::ptr;

use super::result::sealcam_result::{self, *};
use super::{
    bytes, bytes_mut, free_handle, give, guard, optional_bytes, read_growable, try_c, try_mut, try_ref, try_rs,
    write_growable, write_len, write_or_again, Growable,
};
use crate::receiver::{DropReason, ReceivedFrame, Receiver, ReceiverConfig, ReceiverStats};
use crate::{CipherSuite, Codec};

/// Receiver settings. Set `struct_size`, then fill with `sealcam_receiver_config_default`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_receiver_config {
    /// `sizeof(sealcam_receiver_config)`: set it before the call.
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
    /// `SEALCAM_SUITE_*`.
    pub cipher_suite: u16,
    /// `SEALCAM_CODEC_*`.
    pub codec: u8,
    /// RTP payload type.
    pub payload_type: u8,
    /// Packet slots in the reassembly ring (16 to 65536).
    pub slots: u32,
    /// Largest sealed frame accepted, bytes (1 KiB to 64 MiB).
    pub max_frame_bytes: u32,
    /// Frame buffers, pending plus ready (2 to 1024).
    pub frame_buffers: u32,
    /// Wait for a missing predecessor before declaring the chain broken, ms.
    pub max_wait_ms: u32,
    /// Longest render-time hold while repairs or delay spikes are frequent, ms (at most
    /// 5000); 0: never hold (see `sealcam_receiver_render_at`).
    pub max_playout_hold_ms: u32,
    /// A frame later than the fastest transit by more than this plus the playout hold is
    /// output with `stale` set, ms (50 to 60000; 0: the default, 500). New in 0.2.
    pub max_frame_age_ms: u32,
    /// 1: a one-way stream (the camera's `one_way`): no hub nonce is given, so a recording
    /// of an earlier session replayed after this hub restarts is not told from a live one.
    /// 0 (the default): frames open only under the nonce this hub gave. New in 0.2.
    pub one_way: u8,
    /// RTP payload type of the stream's FEC repair packets (0: 97). New in 0.2.
    pub fec_payload_type: u8,
}

// SAFETY: repr(C), starts with struct_size, integers and pointers only.
unsafe impl Growable for sealcam_receiver_config {
    const MIN_SIZE: usize = std::mem::offset_of!(sealcam_receiver_config, max_frame_age_ms);
}

/// A frame output by a receiver or a hub. Set `struct_size` before the call. `data` and
/// `stream_id` stay valid until the next poll_frame or free on the same handle (for a hub,
/// also until a stream is added or removed).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_frame {
    /// `sizeof(sealcam_frame)`: set it before the call.
    pub struct_size: u32,
    /// SSRC of the stream the frame authenticated for.
    pub ssrc: u32,
    /// Frame number in the stream.
    pub frame_id: u64,
    /// Capture time on the camera's clock, microseconds.
    pub capture_time_us: u64,
    /// When to show it, on the clock passed to handle_packet (see `sealcam_receiver_render_at`).
    pub render_at_us: u64,
    /// The encoded bitstream.
    pub data: *const u8,
    /// Its length.
    pub len: usize,
    /// Identity of the stream the frame authenticated for.
    pub stream_id: *const u8,
    /// Length of `stream_id`.
    pub stream_id_len: usize,
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
    /// 1 when the frame arrived later than the path explains (it may have been held back):
    /// decode it, since later frames reference it, but do not show it as live. New in 0.2.
    pub stale: u8,
}

// SAFETY: repr(C), starts with struct_size, integers and pointers only.
unsafe impl Growable for sealcam_frame {
    const MIN_SIZE: usize = 4;
}

impl sealcam_frame {
    /// The C view of a frame the stream `stream_id` (SSRC `ssrc`) output.
    pub(crate) fn new(ssrc: u32, stream_id: &[u8], f: &ReceivedFrame<'_>) -> Self {
        sealcam_frame {
            struct_size: std::mem::size_of::<Self>() as u32,
            ssrc,
            frame_id: f.info.frame_id,
            capture_time_us: f.info.capture_time_us,
            render_at_us: f.render_at_us,
            data: f.data.as_ptr(),
            len: f.data.len(),
            stream_id: stream_id.as_ptr(),
            stream_id_len: stream_id.len(),
            rtp_timestamp: f.rtp_timestamp,
            width: f.info.width,
            height: f.info.height,
            keyframe: f.info.keyframe as u8,
            codec: f.info.codec as u8,
            stale: f.stale as u8,
        }
    }
}

/// Receiver counters since creation. Set `struct_size` before the call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct sealcam_receiver_stats {
    /// `sizeof(sealcam_receiver_stats)`: set it before the call.
    pub struct_size: u32,
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
    /// Sequence numbers NACKed.
    pub nacked: u64,
    /// Reference chains found broken.
    pub chain_breaks: u64,
    /// Packets dropped: their frame authenticated under another sender session (an earlier
    /// one replayed, or a second one while the stream's is live).
    pub dropped_other_session: u64,
    /// Times the stream followed a new sender session (a camera that restarted).
    pub session_switches: u64,
    /// Hellos received (camera sessions asking for a hub nonce). New in 0.2.
    pub hellos_received: u64,
    /// Hub nonce messages sent. New in 0.2.
    pub hub_nonces_sent: u64,
    /// Frames output with `stale` set. New in 0.2.
    pub frames_stale: u64,
    /// FEC repair packets of this stream that parsed. New in 0.2.
    pub repair_packets_received: u64,
    /// Media packets rebuilt from FEC repairs (not in `packets_accepted`). New in 0.2.
    pub packets_recovered: u64,
}

// SAFETY: repr(C), starts with struct_size, integers only.
unsafe impl Growable for sealcam_receiver_stats {
    const MIN_SIZE: usize = 4;
}

impl From<ReceiverStats> for sealcam_receiver_stats {
    fn from(s: ReceiverStats) -> Self {
        let d = |x| s.rejected.get(x);
        sealcam_receiver_stats {
            struct_size: std::mem::size_of::<Self>() as u32,
            frames_output: s.frames_output,
            frames_authenticated: s.frames_authenticated,
            frames_undecodable: s.frames_undecodable,
            dropped_malformed: d(DropReason::Malformed),
            dropped_unknown_stream: d(DropReason::UnknownStream),
            dropped_too_late: d(DropReason::TooLate),
            dropped_duplicate: d(DropReason::Duplicate),
            dropped_auth: d(DropReason::Auth),
            dropped_replay: d(DropReason::Replay),
            dropped_unknown_key: d(DropReason::UnknownKey),
            dropped_undecodable: d(DropReason::Undecodable),
            plis_sent: s.plis_sent,
            dropped_out_of_window: d(DropReason::OutOfWindow),
            packets_received: s.packets_received,
            packets_accepted: s.packets_accepted,
            nacked: s.nacked,
            chain_breaks: s.chain_breaks,
            dropped_other_session: d(DropReason::OtherSession),
            session_switches: s.session_switches,
            hellos_received: s.hellos_received,
            hub_nonces_sent: s.hub_nonces_sent,
            frames_stale: s.frames_stale,
            repair_packets_received: s.repair_packets_received,
            packets_recovered: s.packets_recovered,
        }
    }
}

/// Hub-side handle for one stream.
pub struct sealcam_receiver {
    inner: Receiver,
}

/// Checks a C receiver config (read with [`read_growable`]) and converts it.
///
/// # Safety
/// The config's pointers point to their stated lengths.
pub(crate) unsafe fn receiver_config_from_c(c: &sealcam_receiver_config) -> Result<ReceiverConfig, sealcam_result> {
    let stream_id = unsafe { bytes(c.stream_id, c.stream_id_len) }?;
    let secret = unsafe { bytes(c.base_secret, c.base_secret_len) }?;
    let mut r = ReceiverConfig::new(stream_id, c.ssrc, secret);
    r.key_epoch = c.key_epoch;
    r.suite = CipherSuite::from_u16(c.cipher_suite).map_err(|e| sealcam_result::from(&e))?;
    r.codec = Codec::from_u8(c.codec).ok_or(SEALCAM_INVALID_INPUT)?;
    r.payload_type = c.payload_type;
    r.slots = c.slots as usize;
    r.max_frame_bytes = c.max_frame_bytes as usize;
    r.frame_buffers = c.frame_buffers as usize;
    r.max_wait_ms = c.max_wait_ms;
    r.max_playout_hold_ms = c.max_playout_hold_ms;
    if c.max_frame_age_ms != 0 {
        r.max_frame_age_ms = c.max_frame_age_ms;
    }
    if c.one_way > 1 {
        return Err(SEALCAM_INVALID_INPUT);
    }
    r.one_way = c.one_way == 1;
    if c.fec_payload_type != 0 {
        r.fec_payload_type = c.fec_payload_type;
    }
    Ok(r)
}

/// Fills `cfg` (up to its `struct_size`, which must be set) with the defaults; the stream id
/// and secret are left NULL. Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, or
/// `SEALCAM_INVALID_INPUT` when `struct_size` is under the first release's size.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_config_default(cfg: *mut sealcam_receiver_config) -> sealcam_result {
    guard(|| {
        let size = try_ref!(cfg).struct_size as usize;
        if size < sealcam_receiver_config::MIN_SIZE {
            return SEALCAM_INVALID_INPUT;
        }
        let d = ReceiverConfig::new(b"x", 0, &[]);
        let c = sealcam_receiver_config {
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
            slots: d.slots as u32,
            max_frame_bytes: d.max_frame_bytes as u32,
            frame_buffers: d.frame_buffers as u32,
            max_wait_ms: d.max_wait_ms,
            max_playout_hold_ms: d.max_playout_hold_ms,
            max_frame_age_ms: d.max_frame_age_ms,
            one_way: d.one_way as u8,
            fec_payload_type: d.fec_payload_type,
        };
        unsafe { write_growable(cfg, &c) }
    })
}

/// Creates a receiver for one stream; on success `*out` owns the handle. Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` or `SEALCAM_UNSUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_new(
    cfg: *const sealcam_receiver_config,
    out: *mut *mut sealcam_receiver,
) -> sealcam_result {
    guard(|| {
        let out = try_mut!(out);
        let c = try_c!(unsafe { read_growable(cfg) });
        let r = try_c!(unsafe { receiver_config_from_c(&c) });
        give(sealcam_receiver { inner: try_rs!(Receiver::new(r)) }, out)
    })
}

/// Releases a receiver and zeroizes its keys (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_free(r: *mut sealcam_receiver) {
    unsafe { free_handle(r) }
}

/// Handles one RTP datagram. Returns `SEALCAM_OK`, `SEALCAM_DROPPED` when the packet was
/// refused (the reason is counted in the stats; nothing else changes), or
/// `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_handle_packet(
    r: *mut sealcam_receiver,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> sealcam_result {
    guard(|| {
        let r = try_mut!(r);
        let d = try_c!(unsafe { bytes(data, len) });
        match r.inner.handle_packet(now_us, d) {
            Ok(()) => SEALCAM_OK,
            Err(_) => SEALCAM_DROPPED,
        }
    })
}

/// Advances the receiver's timers. Returns `SEALCAM_OK` or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_handle_timeout(r: *mut sealcam_receiver, now_us: u64) -> sealcam_result {
    guard(|| {
        try_mut!(r).inner.handle_timeout(now_us);
        SEALCAM_OK
    })
}

/// The next authenticated, decodable frame into `*out` (up to its `struct_size`). Returns
/// `SEALCAM_OK`, `SEALCAM_AGAIN` when none is ready, `SEALCAM_NULL_PARAMETER`, or
/// `SEALCAM_INVALID_INPUT` when `struct_size` is under 4 (the frame stays queued).
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_poll_frame(
    r: *mut sealcam_receiver,
    out: *mut sealcam_frame,
) -> sealcam_result {
    guard(|| {
        let r = try_mut!(r);
        if try_ref!(out).struct_size < 4 {
            return SEALCAM_INVALID_INPUT;
        }
        let ssrc = r.inner.config().ssrc;
        match r.inner.poll_frame_labeled() {
            Some((id, f)) => unsafe { write_growable(out, &sealcam_frame::new(ssrc, id, &f)) },
            None => SEALCAM_AGAIN,
        }
    })
}

/// When to show the frame the last `sealcam_receiver_poll_frame` returned, on the clock
/// passed to `handle_packet` (never before it was output): frames are held back about one
/// repair round trip while retransmissions are frequent, and 100 ms while the path stalls
/// every few seconds, so a repair or a short radio stall does not stall the display. A
/// recorder can ignore it; `sealcam_frame.render_at_us` carries the same value. Returns
/// `SEALCAM_OK`, `SEALCAM_AGAIN` when no frame has been polled, or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_render_at(r: *const sealcam_receiver, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let r = try_ref!(r);
        let out_us = try_mut!(out_us);
        write_or_again(r.inner.polled_render_at_us(), out_us)
    })
}

/// Writes the next RTCP feedback datagram due at `now_us` into `buf`, to be sent to the
/// camera. Returns `SEALCAM_OK` with its length in `*out_len`, `SEALCAM_AGAIN` when none is
/// due, `SEALCAM_BUFFER_TOO_SMALL` with the size needed in `*out_len`, or
/// `SEALCAM_NULL_PARAMETER`.
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
        let buf = try_c!(unsafe { bytes_mut(buf, buf_len) });
        write_len(r.inner.poll_feedback(now_us, buf), out_len)
    })
}

/// When the receiver next has timer work, in `*out_us`. Returns `SEALCAM_OK`,
/// `SEALCAM_AGAIN` when none, or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_poll_timeout(r: *const sealcam_receiver, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let r = try_ref!(r);
        let out = try_mut!(out_us);
        write_or_again(r.inner.poll_timeout(), out)
    })
}

/// Copies the receiver's counters into `*out` (up to its `struct_size`). Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER` or `SEALCAM_INVALID_INPUT` (`struct_size` under 4).
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_get_stats(
    r: *const sealcam_receiver,
    out: *mut sealcam_receiver_stats,
) -> sealcam_result {
    guard(|| {
        let r = try_ref!(r);
        unsafe { write_growable(out, &r.inner.stats().into()) }
    })
}

/// Installs the key of a later epoch `epoch`, derived from the stream's base secret or from
/// `new_secret` (NULL and 0 for none, else at least 16 bytes); see `sealcam_sender_rekey`.
/// Older epochs stay accepted for `key_overlap_ms` (2 s) from the next packet or timeout
/// on, then are destroyed. Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER` or
/// `SEALCAM_INVALID_INPUT` (an epoch not after every installed one, a short secret, or eight
/// epochs still accepted: nothing is evicted).
#[no_mangle]
pub unsafe extern "C" fn sealcam_receiver_install_key(
    r: *mut sealcam_receiver,
    epoch: u64,
    new_secret: *const u8,
    new_secret_len: usize,
) -> sealcam_result {
    guard(|| {
        let r = try_mut!(r);
        let secret = try_c!(unsafe { optional_bytes(new_secret, new_secret_len) });
        try_rs!(r.inner.install_key(epoch, secret));
        SEALCAM_OK
    })
}
