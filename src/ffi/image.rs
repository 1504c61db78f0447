//! `sealcam_image`, the borrowed capture buffer every frame and kernel call takes, and the
//! pixel-format and colour-matrix constants.

use super::result::sealcam_result::{self, *};
use super::{bytes, Growable};
use crate::frame::{CaptureFrame, ColorMatrix, PixelFormat, Plane};

/// Pixel format of a `sealcam_image`: I420 (planes Y, U, V).
pub const SEALCAM_FORMAT_I420: u32 = 0;
/// Pixel format: NV12 (planes Y, interleaved UV).
pub const SEALCAM_FORMAT_NV12: u32 = 1;
/// Pixel format: NV21 (planes Y, interleaved VU).
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

/// Colour matrix for RGB sources: BT.601, limited range (the default).
pub const SEALCAM_MATRIX_BT601: u32 = 0;
/// Colour matrix for RGB sources: BT.709, limited range.
pub const SEALCAM_MATRIX_BT709: u32 = 1;

/// A borrowed capture image: planes with their strides and lengths in bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sealcam_image {
    /// `sizeof(sealcam_image)`: set it before the call.
    pub struct_size: u32,
    /// `SEALCAM_FORMAT_*`.
    pub format: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Capture time in microseconds.
    pub timestamp_us: u64,
    /// Plane pointers in the format's order (unused ones NULL).
    pub planes: [*const u8; 3],
    /// Bytes between row starts of each plane.
    pub strides: [usize; 3],
    /// Readable bytes of each plane.
    pub plane_lens: [usize; 3],
}

// SAFETY: repr(C), starts with struct_size, integers and pointers only.
unsafe impl Growable for sealcam_image {
    const MIN_SIZE: usize = std::mem::size_of::<sealcam_image>();
}

impl sealcam_image {
    /// Borrows the planes as a capture frame.
    ///
    /// # Safety
    /// Each used plane pointer must point to `plane_lens[i]` readable bytes.
    pub(crate) unsafe fn as_capture(&self) -> Result<CaptureFrame<'_>, sealcam_result> {
        let format = PixelFormat::from_u32(self.format).ok_or(SEALCAM_INVALID_INPUT)?;
        let mut planes = [Plane::default(); 3];
        for (i, p) in planes.iter_mut().enumerate().take(format.plane_count()) {
            *p = Plane { data: unsafe { bytes(self.planes[i], self.plane_lens[i]) }?, stride: self.strides[i] };
        }
        Ok(CaptureFrame { format, width: self.width, height: self.height, planes, timestamp_us: self.timestamp_us })
    }
}

/// The colour matrix a `SEALCAM_MATRIX_*` value names.
pub(crate) fn matrix_of(v: u32) -> Result<ColorMatrix, sealcam_result> {
    ColorMatrix::from_u32(v).ok_or(SEALCAM_INVALID_INPUT)
}
