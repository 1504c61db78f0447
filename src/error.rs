//! Errors returned by every fallible sealcam call.
//!
//! One enum for the whole crate: each variant maps to one stable C result code
//! (`crate::ffi::sealcam_result`), and every variant carries enough text to tell a
//! firmware engineer what was wrong without reading our source.

use std::fmt;

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong. Input errors never change the state of the object
/// that reported them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An argument is out of range or inconsistent (sizes, strides, plane lengths, config values).
    InvalidInput(String),
    /// The request is valid in general but not supported by this build or this codec.
    Unsupported(String),
    /// The video codec reported a failure.
    Codec(String),
    /// A packet or frame did not parse (truncated, wrong version, bad lengths).
    Malformed(&'static str),
    /// SFrame authentication failed: wrong key, wrong stream, tampered bytes.
    AuthenticationFailed,
    /// The SFrame KID names no key this object holds.
    UnknownKey(u64),
    /// The SFrame counter was already seen (or is too old for the replay window).
    Replay,
    /// The key has sealed as many frames as its counter allows; rekey before sealing more.
    CounterExhausted,
    /// An output buffer is too small; `needed` bytes are required.
    BufferTooSmall {
        /// Bytes the call needs to write.
        needed: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Codec(m) => write!(f, "codec error: {m}"),
            Error::Malformed(m) => write!(f, "malformed packet: {m}"),
            Error::AuthenticationFailed => f.write_str("SFrame authentication failed"),
            Error::UnknownKey(kid) => write!(f, "no key for SFrame KID {kid}"),
            Error::Replay => f.write_str("SFrame counter replayed or too old"),
            Error::CounterExhausted => f.write_str("SFrame counter exhausted for this key: rekey"),
            Error::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for `Err(Error::InvalidInput(..))` with formatting.
macro_rules! invalid {
    ($($arg:tt)*) => {
        $crate::error::Error::InvalidInput(format!($($arg)*))
    };
}
pub(crate) use invalid;
