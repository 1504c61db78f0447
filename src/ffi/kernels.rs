//! The pixel kernels used alone: conversion to I420 and I420 scaling into a caller's
//! buffer. Reentrant, allocation-free, no handle needed.

use super::image::{matrix_of, sealcam_image};
use super::result::sealcam_result::{self, *};
use super::{bytes_mut, guard, read_growable, try_c, try_mut, try_rs};
use crate::frame::{packed_i420_len, packed_i420_planes};

/// Bytes of a tightly packed `width x height` I420 image (`w*h + 2*ceil(w/2)*ceil(h/2)`), in
/// `*out_len`. Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`, or `SEALCAM_INVALID_INPUT` for
/// an empty or oversized size.
#[no_mangle]
pub unsafe extern "C" fn sealcam_i420_len(width: u32, height: u32, out_len: *mut usize) -> sealcam_result {
    guard(|| {
        let out = try_mut!(out_len);
        try_rs!(crate::frame::check_dimensions(width, height));
        *out = packed_i420_len(width, height);
        SEALCAM_OK
    })
}

/// Converts an image to tightly packed I420 in `dst` (Y, U, V; `sealcam_i420_len` bytes),
/// using `matrix` (`SEALCAM_MATRIX_*`) for RGB sources. Returns `SEALCAM_OK`,
/// `SEALCAM_NULL_PARAMETER`, `SEALCAM_INVALID_INPUT` (format, size, stride, plane length,
/// matrix) or `SEALCAM_BUFFER_TOO_SMALL`; nothing is written on error.
#[no_mangle]
pub unsafe extern "C" fn sealcam_convert_to_i420(
    image: *const sealcam_image,
    matrix: u32,
    dst: *mut u8,
    dst_len: usize,
) -> sealcam_result {
    guard(|| {
        let img = try_c!(unsafe { read_growable(image) });
        let frame = try_c!(unsafe { img.as_capture() });
        let matrix = try_c!(matrix_of(matrix));
        try_rs!(frame.validate());
        let buf = try_c!(unsafe { bytes_mut(dst, dst_len) });
        let (y, u, v, ys, cs) = try_rs!(packed_i420_planes(buf, frame.width, frame.height));
        try_rs!(crate::kernels::to_i420_planes(&frame, y, ys, u, v, cs, matrix));
        SEALCAM_OK
    })
}

/// Scales an I420 image (`SEALCAM_FORMAT_I420`, any strides) to `width x height`, written
/// tightly packed into `dst` (`sealcam_i420_len` bytes): the 2x2 box filter for an exact
/// half, bilinear otherwise. Returns `SEALCAM_OK`, `SEALCAM_NULL_PARAMETER`,
/// `SEALCAM_INVALID_INPUT` (another format, an empty size) or `SEALCAM_BUFFER_TOO_SMALL`;
/// nothing is written on error.
#[no_mangle]
pub unsafe extern "C" fn sealcam_scale_i420(
    image: *const sealcam_image,
    width: u32,
    height: u32,
    dst: *mut u8,
    dst_len: usize,
) -> sealcam_result {
    guard(|| {
        let img = try_c!(unsafe { read_growable(image) });
        let frame = try_c!(unsafe { img.as_capture() });
        let buf = try_c!(unsafe { bytes_mut(dst, dst_len) });
        let (y, u, v, ys, cs) = try_rs!(packed_i420_planes(buf, width, height));
        try_rs!(crate::kernels::scale_i420_planes(&frame, width, height, y, ys, u, v, cs));
        SEALCAM_OK
    })
}
