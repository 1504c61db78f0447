//! SFrame (RFC 9605) used alone, for SDKs with their own transport: encrypt-only and
//! decrypt-only keys, protect, unprotect and the stream metadata sealcam binds.

use super::result::sealcam_result;
use super::{bytes, bytes_mut, free_handle, give, guard, optional_bytes, try_c, try_mut, try_rs, write_len};
use crate::seal::{self, OpenKey, SealKey};
use crate::CipherSuite;

/// Bytes SFrame adds to a frame at most (header and tag): `plaintext_len +
/// SEALCAM_SFRAME_MAX_OVERHEAD` always fits the output of `sealcam_sframe_protect`.
pub const SEALCAM_SFRAME_MAX_OVERHEAD: usize = 33;
const _: () = assert!(SEALCAM_SFRAME_MAX_OVERHEAD == seal::MAX_OVERHEAD_BYTES);

/// An encrypt-only SFrame key.
pub struct sealcam_seal_key {
    inner: SealKey,
}

/// A decrypt-only SFrame key with its replay window.
pub struct sealcam_open_key {
    inner: OpenKey,
}

/// Builds a key from the C arguments: with a stream id, `base` is the stream's base secret
/// and `kid` its epoch; without, `base` is the RFC 9605 base key and `kid` the KID.
///
/// # Safety
/// Each pointer points to its stated length.
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
    let base = unsafe { bytes(base, base_len) }?;
    let id = unsafe { optional_bytes(stream_id, stream_id_len) }?;
    let suite = CipherSuite::from_u16(cipher_suite).map_err(|e| sealcam_result::from(&e))?;
    match id {
        Some(id) => for_stream(suite, base, id, kid),
        None => from_base(suite, kid, base),
    }
    .map_err(|e| sealcam_result::from(&e))
}

/// Creates a sealing key in `*out`. With `stream_id` NULL (length 0), `base` is the RFC 9605
/// base key and `kid` the KID; otherwise `base` is the stream's base secret and `kid` the key
/// epoch. Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` or
/// `SEALCAM_UNSUPPORTED` (cipher suite).
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
        let inner = try_c!(unsafe {
            new_key(cipher_suite, kid, base, base_len, stream_id, stream_id_len, SealKey::for_stream, SealKey::new)
        });
        give(sealcam_seal_key { inner }, out)
    })
}

/// Releases and zeroizes a sealing key (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_seal_key_free(k: *mut sealcam_seal_key) {
    unsafe { free_handle(k) }
}

/// Creates an opening key in `*out`; arguments and results as for `sealcam_seal_key_new`.
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
        let inner = try_c!(unsafe {
            new_key(cipher_suite, kid, base, base_len, stream_id, stream_id_len, OpenKey::for_stream, OpenKey::new)
        });
        give(sealcam_open_key { inner }, out)
    })
}

/// Releases and zeroizes an opening key (NULL is allowed).
#[no_mangle]
pub unsafe extern "C" fn sealcam_open_key_free(k: *mut sealcam_open_key) {
    unsafe { free_handle(k) }
}

/// Seals `plaintext` as one SFrame (`header || ciphertext || tag`) bound to `metadata`, into
/// `out`. Returns `SEALCAM_OK` with the length in `*out_len`, `SEALCAM_BUFFER_TOO_SMALL` with
/// the size needed in `*out_len` (no counter is used), `SEALCAM_NULL_PARAMETER`,
/// `SEALCAM_COUNTER_EXHAUSTED` or `SEALCAM_INVALID_INPUT`.
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
        let md = try_c!(unsafe { bytes(metadata, metadata_len) });
        let pt = try_c!(unsafe { bytes(plaintext, plaintext_len) });
        let out = try_c!(unsafe { bytes_mut(out, out_cap) });
        write_len(k.inner.seal_into(md, pt, out).map(Some), out_len)
    })
}

/// Verifies and decrypts one SFrame bound to `metadata` into `out`. Refuses forged, tampered
/// and replayed frames. Returns `SEALCAM_OK` with the plaintext's length in `*out_len`,
/// `SEALCAM_BUFFER_TOO_SMALL` with the size needed in `*out_len`, `SEALCAM_NULL_PARAMETER`,
/// `SEALCAM_AUTH_FAILED`, `SEALCAM_REPLAY`, `SEALCAM_UNKNOWN_KEY` or `SEALCAM_MALFORMED`;
/// the replay window is unchanged and the bytes of `out` unspecified on error.
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
        let md = try_c!(unsafe { bytes(metadata, metadata_len) });
        let sf = try_c!(unsafe { bytes(sframe, sframe_len) });
        let out = try_c!(unsafe { bytes_mut(out, out_cap) });
        write_len(k.inner.open_into(md, sf, out).map(Some), out_len)
    })
}

/// Writes the metadata sealcam binds into each frame of a stream (stream identity, SSRC, RTP
/// timestamp), for `sealcam_sframe_protect` and `unprotect`. Returns `SEALCAM_OK` with the
/// length in `*out_len`, `SEALCAM_BUFFER_TOO_SMALL` with the size needed in `*out_len`,
/// `SEALCAM_NULL_PARAMETER` or `SEALCAM_INVALID_INPUT` (a stream id of 0 or over 255 bytes).
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
        let id = try_c!(unsafe { bytes(stream_id, stream_id_len) });
        try_rs!(seal::check_stream_id(id));
        let out = try_c!(unsafe { bytes_mut(out, out_cap) });
        write_len(seal::stream_metadata_into(id, ssrc, rtp_timestamp, out).map(Some), out_len)
    })
}
