//! Result codes: one per kind of outcome, numbers never reused, a text for any value.

use std::ffi::c_char;

use crate::error::Error;

/// Result of every fallible call. Numbers are never reused; a code added later gets the
/// next free number, so a caller should treat an unknown code as a failure.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sealcam_result {
    /// Success.
    SEALCAM_OK = 0,
    /// A required pointer was NULL.
    SEALCAM_NULL_PARAMETER = 1,
    /// An argument is out of range or inconsistent (sizes, strides, config values, a
    /// `struct_size` under the first release's).
    SEALCAM_INVALID_INPUT = 2,
    /// Valid in general but not supported by this build (a cipher suite, a codec, a newer
    /// caller's struct that sets a field this library does not know).
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
    /// The output buffer is too small; the call's `out_len` holds the size needed.
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

/// A static NUL-terminated message for any result code, known or not. Never NULL.
#[no_mangle]
pub extern "C" fn sealcam_result_text(code: u32) -> *const c_char {
    let s: &'static [u8] = match code {
        0 => b"ok\0",
        1 => b"a required pointer was NULL\0",
        2 => b"invalid input (size, stride, length or config value)\0",
        3 => b"not supported by this build\0",
        4 => b"the video codec failed\0",
        5 => b"malformed packet or frame\0",
        6 => b"SFrame authentication failed\0",
        7 => b"no key for this SFrame KID\0",
        8 => b"SFrame counter replayed\0",
        9 => b"SFrame counter exhausted: rekey\0",
        10 => b"output buffer too small (out_len holds the size needed)\0",
        11 => b"internal error caught at the C boundary\0",
        12 => b"nothing available now\0",
        13 => b"packet dropped (see the receiver's stats)\0",
        _ => b"unknown result code\0",
    };
    s.as_ptr().cast()
}
