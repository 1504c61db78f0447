//! The C ABI: one file per C concept, as in rustls-ffi. Only translation lives here: every
//! entry point checks its pointers, catches panics and converts C structs to the Rust API and
//! back. Logic that a C caller needs lives in the Rust API, so both faces behave alike.
//!
//! - [`result`]: the result codes and their text.
//! - [`image`]: `sealcam_image` and the pixel-format and colour-matrix constants.
//! - [`sender`], [`receiver`], [`hub`]: the three handles and their structs.
//! - [`sframe`]: SFrame keys used alone.
//! - [`kernels`]: the pixel kernels used alone.
//!
//! Growable structs: every struct crossing the boundary starts with `struct_size`, which the
//! caller sets to `sizeof` of its own copy before any call. The library reads and writes no
//! more than that many bytes: a config's missing tail reads as zero, a tail the library does
//! not know must be zero, and an output struct is filled up to the smaller of the two sizes.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod hub;
pub mod image;
pub mod kernels;
pub mod receiver;
pub mod result;
pub mod sender;
pub mod sframe;

use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use result::sealcam_result;
use result::sealcam_result::*;

/// Major version (tested to equal Cargo.toml's).
pub const SEALCAM_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const SEALCAM_VERSION_MINOR: u32 = 2;
/// Patch version.
pub const SEALCAM_VERSION_PATCH: u32 = 0;
/// The version as one number, `major << 16 | minor << 8 | patch`, as `sealcam_version_number`.
pub const SEALCAM_VERSION_NUMBER: u32 =
    SEALCAM_VERSION_MAJOR << 16 | SEALCAM_VERSION_MINOR << 8 | SEALCAM_VERSION_PATCH;

/// The library's version as a static NUL-terminated string, e.g. "0.2.0". Never NULL.
#[no_mangle]
pub extern "C" fn sealcam_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The library's version as `major << 16 | minor << 8 | patch`: compare it with
/// `SEALCAM_VERSION_NUMBER` from the header the caller was built with.
#[no_mangle]
pub extern "C" fn sealcam_version_number() -> u32 {
    SEALCAM_VERSION_NUMBER
}

/// Runs `f`, turning a panic into `SEALCAM_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> sealcam_result) -> sealcam_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(SEALCAM_PANIC)
}

/// `&T` from a C pointer, or return `SEALCAM_NULL_PARAMETER`.
macro_rules! try_ref {
    ($p:expr) => {
        match unsafe { $p.as_ref() } {
            Some(r) => r,
            None => return $crate::ffi::sealcam_result::SEALCAM_NULL_PARAMETER,
        }
    };
}
/// `&mut T` from a C pointer, or return `SEALCAM_NULL_PARAMETER`.
macro_rules! try_mut {
    ($p:expr) => {
        match unsafe { $p.as_mut() } {
            Some(r) => r,
            None => return $crate::ffi::sealcam_result::SEALCAM_NULL_PARAMETER,
        }
    };
}
/// The value of a `Result<T, sealcam_result>`, or return its code.
macro_rules! try_c {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
/// The value of a `crate::Result<T>`, or return the error's code.
macro_rules! try_rs {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(ref e) => return $crate::ffi::sealcam_result::from(e),
        }
    };
}
pub(crate) use {try_c, try_mut, try_ref, try_rs};

/// A byte slice from a pointer and length; NULL is allowed only with length 0.
///
/// # Safety
/// A non-NULL `p` points to `len` readable bytes.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], sealcam_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(SEALCAM_NULL_PARAMETER);
    }
    // SAFETY: the caller promises `p` points to `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A writable byte slice from a pointer and length; NULL is refused whatever the length.
///
/// # Safety
/// A non-NULL `p` points to `len` writable bytes.
pub(crate) unsafe fn bytes_mut<'a>(p: *mut u8, len: usize) -> Result<&'a mut [u8], sealcam_result> {
    if p.is_null() {
        return Err(SEALCAM_NULL_PARAMETER);
    }
    // SAFETY: the caller promises `p` points to `len` writable bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len) })
}

/// An optional byte string: NULL with length 0 means "none".
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn optional_bytes<'a>(p: *const u8, len: usize) -> Result<Option<&'a [u8]>, sealcam_result> {
    if p.is_null() && len == 0 {
        return Ok(None);
    }
    unsafe { bytes(p, len) }.map(Some)
}

/// Writes `value` to `out` and returns `SEALCAM_OK`, or returns `SEALCAM_AGAIN` (leaving `out`
/// as it is) when there is none: the shape of every `poll` entry point.
pub(crate) fn write_or_again<T>(value: Option<T>, out: &mut T) -> sealcam_result {
    match value {
        Some(v) => {
            *out = v;
            SEALCAM_OK
        }
        None => SEALCAM_AGAIN,
    }
}

/// Turns the result of a Rust call that writes into a caller's buffer into a C result: the
/// length on success, `SEALCAM_AGAIN` for nothing, and the size needed in `*out_len` with
/// `SEALCAM_BUFFER_TOO_SMALL`.
pub(crate) fn write_len(r: crate::Result<Option<usize>>, out_len: &mut usize) -> sealcam_result {
    match r {
        Ok(v) => write_or_again(v, out_len),
        Err(crate::Error::BufferTooSmall { needed }) => {
            *out_len = needed;
            SEALCAM_BUFFER_TOO_SMALL
        }
        Err(ref e) => sealcam_result::from(e),
    }
}

/// Drops a handle made by `Box::into_raw`; NULL is allowed; a panic in a destructor is
/// caught. Every `sealcam_*_free` goes through here.
///
/// # Safety
/// `p` is NULL or a pointer from `Box::into_raw` not freed before.
pub(crate) unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(p) })));
    }
}

/// Moves a new handle to the caller.
pub(crate) fn give<T>(value: T, out: &mut *mut T) -> sealcam_result {
    *out = Box::into_raw(Box::new(value));
    SEALCAM_OK
}

/// A `#[repr(C)]` struct that starts with `struct_size: u32` and for which all-zero bytes
/// are a valid value (integers, floats and raw pointers only).
///
/// # Safety
/// Implement only for such structs.
pub(crate) unsafe trait Growable: Copy {
    /// The smallest `struct_size` a caller may pass: the size of the struct's first release.
    const MIN_SIZE: usize;
}

/// Reads a growable struct from the caller: `struct_size` bytes at most, the missing tail
/// zero. `SEALCAM_INVALID_INPUT` below the first release's size; `SEALCAM_UNSUPPORTED` when
/// the caller's larger struct sets a field this library does not know.
///
/// # Safety
/// `p` is NULL or points to a struct of its `struct_size` readable bytes.
pub(crate) unsafe fn read_growable<T: Growable>(p: *const T) -> Result<T, sealcam_result> {
    if p.is_null() {
        return Err(SEALCAM_NULL_PARAMETER);
    }
    let size = unsafe { p.cast::<u32>().read_unaligned() } as usize;
    if size < T::MIN_SIZE {
        return Err(SEALCAM_INVALID_INPUT);
    }
    let ours = std::mem::size_of::<T>();
    // SAFETY: the caller promises `size` readable bytes at `p`.
    let theirs = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), size) };
    if theirs.len() > ours && theirs[ours..].iter().any(|&b| b != 0) {
        return Err(SEALCAM_UNSUPPORTED);
    }
    // SAFETY: all-zero bytes are a valid T (the trait's promise).
    let mut out: T = unsafe { std::mem::zeroed() };
    let n = size.min(ours);
    // SAFETY: `out` has `ours >= n` bytes; the source has `size >= n`.
    unsafe { std::ptr::copy_nonoverlapping(theirs.as_ptr(), (&mut out as *mut T).cast::<u8>(), n) };
    Ok(out)
}

/// Writes a growable struct to the caller: the fields after `struct_size` that fit in the
/// caller's `struct_size` (at least 4), and zeros in any of the caller's bytes past ours, so
/// a newer caller reads the fields this library does not have as zero. `struct_size` is left
/// as the caller set it. `SEALCAM_INVALID_INPUT` (nothing written) when it is under 4.
///
/// # Safety
/// `p` is NULL or points to a struct of its `struct_size` writable bytes.
pub(crate) unsafe fn write_growable<T: Growable>(p: *mut T, value: &T) -> sealcam_result {
    if p.is_null() {
        return SEALCAM_NULL_PARAMETER;
    }
    let size = unsafe { p.cast::<u32>().read_unaligned() } as usize;
    if size < 4 {
        return SEALCAM_INVALID_INPUT;
    }
    let ours = std::mem::size_of::<T>();
    let n = size.min(ours);
    let src = (value as *const T).cast::<u8>();
    let dst = p.cast::<u8>();
    // SAFETY: the caller's struct has `size` writable bytes, ours has `ours`.
    unsafe {
        std::ptr::copy_nonoverlapping(src.add(4), dst.add(4), n - 4);
        if size > ours {
            std::ptr::write_bytes(dst.add(ours), 0, size - ours);
        }
    }
    SEALCAM_OK
}

#[cfg(test)]
mod tests;
