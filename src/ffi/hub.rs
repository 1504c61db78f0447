//! Many streams behind one handle: `sealcam_hub` routes packets by SSRC to each stream's own
//! receiver.

use super::receiver::{receiver_config_from_c, sealcam_frame, sealcam_receiver_config, sealcam_receiver_stats};
use super::result::sealcam_result::{self, *};
use super::{
    bytes, bytes_mut, free_handle, give, guard, optional_bytes, read_growable, try_c, try_mut, try_ref, try_rs,
    write_growable, write_len, write_or_again, Growable,
};
use crate::hub::{Hub, HubConfig};

/// Hub limits. Set `struct_size`, then fill with `sealcam_hub_config_default`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_hub_config {
    /// `sizeof(sealcam_hub_config)`: set it before the call.
    pub struct_size: u32,
    /// Most streams served at once (1 to 65536).
    pub max_streams: u32,
    /// Largest memory bound one stream's receiver config may have, bytes (at least 64 KiB).
    pub max_stream_memory_bytes: u64,
}

// SAFETY: repr(C), starts with struct_size, integers only.
unsafe impl Growable for sealcam_hub_config {
    const MIN_SIZE: usize = std::mem::size_of::<sealcam_hub_config>();
}

/// Many streams, one handle.
pub struct sealcam_hub {
    inner: Hub,
}

/// Fills `cfg` (up to its `struct_size`, which must be set) with the defaults. Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER` or `SEALCAM_INVALID_INPUT` (`struct_size` too small).
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_config_default(cfg: *mut sealcam_hub_config) -> sealcam_result {
    guard(|| {
        let size = try_ref!(cfg).struct_size as usize;
        if size < sealcam_hub_config::MIN_SIZE {
            return SEALCAM_INVALID_INPUT;
        }
        let d = HubConfig::default();
        let c = sealcam_hub_config {
            struct_size: size as u32,
            max_streams: d.max_streams as u32,
            max_stream_memory_bytes: d.max_stream_memory_bytes as u64,
        };
        unsafe { write_growable(cfg, &c) }
    })
}

/// Creates an empty hub; on success `*out` owns the handle. Returns `SEALCAM_OK`,
/// `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` (`max_streams` 0 or over 65536, a
/// per-stream limit under 64 KiB) or `SEALCAM_UNSUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_new(cfg: *const sealcam_hub_config, out: *mut *mut sealcam_hub) -> sealcam_result {
    guard(|| {
        let out = try_mut!(out);
        let c = try_c!(unsafe { read_growable(cfg) });
        let inner = try_rs!(Hub::new(HubConfig {
            max_streams: c.max_streams as usize,
            max_stream_memory_bytes: c.max_stream_memory_bytes.min(usize::MAX as u64) as usize,
        }));
        give(sealcam_hub { inner }, out)
    })
}

/// Releases a hub and every stream in it, zeroizing their keys (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_free(h: *mut sealcam_hub) {
    unsafe { free_handle(h) }
}

/// Starts serving a stream (its own keys, buffers and memory bound). Returns `SEALCAM_OK`,
/// `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` (its SSRC or stream id already served,
/// the hub full, the stream's memory bound over the hub's limit, a bad config) or
/// `SEALCAM_UNSUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_add_stream(
    h: *mut sealcam_hub,
    cfg: *const sealcam_receiver_config,
) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let c = try_c!(unsafe { read_growable(cfg) });
        let r = try_c!(unsafe { receiver_config_from_c(&c) });
        try_rs!(h.inner.add_stream(r));
        SEALCAM_OK
    })
}

/// Stops serving a stream and destroys its keys and buffers. Returns `SEALCAM_OK`,
/// `SEALCAM_NULL_PARAMETER`, or `SEALCAM_INVALID_INPUT` when the SSRC is not served.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_remove_stream(h: *mut sealcam_hub, ssrc: u32) -> sealcam_result {
    guard(|| if try_mut!(h).inner.remove_stream(ssrc) { SEALCAM_OK } else { SEALCAM_INVALID_INPUT })
}

/// Routes one RTP datagram to its stream. Returns `SEALCAM_OK`, `SEALCAM_DROPPED` when it
/// was refused (counted by reason), or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_handle_packet(
    h: *mut sealcam_hub,
    now_us: u64,
    data: *const u8,
    len: usize,
) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let d = try_c!(unsafe { bytes(data, len) });
        match h.inner.handle_packet(now_us, d) {
            Ok(_) => SEALCAM_OK,
            Err(_) => SEALCAM_DROPPED,
        }
    })
}

/// Advances every stream's timers. Returns `SEALCAM_OK` or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_handle_timeout(h: *mut sealcam_hub, now_us: u64) -> sealcam_result {
    guard(|| {
        try_mut!(h).inner.handle_timeout(now_us);
        SEALCAM_OK
    })
}

/// The next frame of any stream into `*out` (up to its `struct_size`), with the SSRC and
/// identity it authenticated for. Returns `SEALCAM_OK`, `SEALCAM_AGAIN` when none is ready,
/// `SEALCAM_NULL_PARAMETER`, or `SEALCAM_INVALID_INPUT` when `struct_size` is under 4.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_poll_frame(h: *mut sealcam_hub, out: *mut sealcam_frame) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        if try_ref!(out).struct_size < 4 {
            return SEALCAM_INVALID_INPUT;
        }
        match h.inner.poll_frame() {
            Some(f) => unsafe { write_growable(out, &sealcam_frame::new(f.ssrc, f.stream_id, &f.frame)) },
            None => SEALCAM_AGAIN,
        }
    })
}

/// The next RTCP feedback datagram of any stream due at `now_us`, written into `buf`, and in
/// `*out_ssrc` the SSRC of the stream it is for: send it to that camera. Returns
/// `SEALCAM_OK` with its length in `*out_len`, `SEALCAM_AGAIN` when none is due,
/// `SEALCAM_BUFFER_TOO_SMALL` with the size needed in `*out_len`, or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_poll_feedback(
    h: *mut sealcam_hub,
    now_us: u64,
    buf: *mut u8,
    buf_len: usize,
    out_ssrc: *mut u32,
    out_len: *mut usize,
) -> sealcam_result {
    guard(|| {
        let h = try_mut!(h);
        let out_ssrc = try_mut!(out_ssrc);
        let out_len = try_mut!(out_len);
        let buf = try_c!(unsafe { bytes_mut(buf, buf_len) });
        let r = h.inner.poll_feedback(now_us, buf).map(|v| {
            v.map(|(ssrc, len)| {
                *out_ssrc = ssrc;
                len
            })
        });
        write_len(r, out_len)
    })
}

/// When any stream next has timer work, in `*out_us`. Returns `SEALCAM_OK`, `SEALCAM_AGAIN`
/// when none, or `SEALCAM_NULL_PARAMETER`.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_poll_timeout(h: *const sealcam_hub, out_us: *mut u64) -> sealcam_result {
    guard(|| {
        let h = try_ref!(h);
        let out = try_mut!(out_us);
        write_or_again(h.inner.poll_timeout(), out)
    })
}

/// Copies one stream's counters into `*out` (up to its `struct_size`). Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, or `SEALCAM_INVALID_INPUT` when the SSRC is not
/// served or `struct_size` is under 4.
#[no_mangle]
pub unsafe extern "C" fn sealcam_hub_stream_stats(
    h: *const sealcam_hub,
    ssrc: u32,
    out: *mut sealcam_receiver_stats,
) -> sealcam_result {
    guard(|| {
        let h = try_ref!(h);
        try_ref!(out);
        match h.inner.stream_stats(ssrc) {
            Some(s) => unsafe { write_growable(out, &s.into()) },
            None => SEALCAM_INVALID_INPUT,
        }
    })
}

/// When to show the frame of stream `ssrc` the last `sealcam_hub_poll_frame` returned (see
/// `sealcam_receiver_render_at`). Returns `SEALCAM_OK`, `SEALCAM_AGAIN` when none of its
/// frames has been polled, `SEALCAM_NULL_PARAMETER`, or `SEALCAM_INVALID_INPUT` for a
/// stream the hub does not serve.
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

/// Installs a new key epoch for one stream (see `sealcam_receiver_install_key`). Returns
/// `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, or `SEALCAM_INVALID_INPUT` (the SSRC is not
/// served, a short secret).
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
        let secret = try_c!(unsafe { optional_bytes(new_secret, new_secret_len) });
        let Some(r) = h.inner.stream_mut(ssrc) else { return SEALCAM_INVALID_INPUT };
        try_rs!(r.install_key(epoch, secret));
        SEALCAM_OK
    })
}
