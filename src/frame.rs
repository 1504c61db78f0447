//! Frames: what a camera hands over (borrowed, any stride) and what the encoders take
//! (an owned, tightly packed I420 buffer that is reused from frame to frame).
//!
//! Guarantees: a [`CaptureFrame`] is validated before any pixel is read; every plane
//! must cover `stride * (rows - 1) + row_bytes` bytes and every stride must be at least
//! the row width, so no kernel can read out of bounds. Odd widths and heights are
//! accepted; chroma planes of 4:2:0 formats have `ceil(w / 2) x ceil(h / 2)` samples.

use crate::error::{invalid, Result};

/// Largest width or height accepted anywhere in the library.
pub const MAX_DIMENSION_PX: u32 = 16384;

/// Pixel layouts a camera may hand over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PixelFormat {
    /// Planar 4:2:0: Y, then U, then V (three planes).
    I420 = 0,
    /// Semi-planar 4:2:0: Y, then interleaved U,V (two planes). What most SoC ISPs emit.
    Nv12 = 1,
    /// Semi-planar 4:2:0 with V before U (Android camera default).
    Nv21 = 2,
    /// Planar 4:2:0: Y, then V, then U (three planes).
    Yv12 = 3,
    /// Packed 4:2:2, bytes Y0 U Y1 V (USB/UVC cameras).
    Yuyv = 4,
    /// Packed 4:2:2, bytes U Y0 V Y1.
    Uyvy = 5,
    /// Packed RGB, bytes R G B per pixel.
    Rgb24 = 6,
    /// Packed 32-bit, bytes B G R A per pixel (little-endian ARGB).
    Bgra = 7,
    /// Packed 32-bit, bytes R G B A per pixel.
    Rgba = 8,
}

/// The RGB to YUV matrix used for RGB inputs (limited range output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u32)]
pub enum ColorMatrix {
    /// ITU-R BT.601, limited range (libyuv's default for RGB sources).
    #[default]
    Bt601 = 0,
    /// ITU-R BT.709, limited range.
    Bt709 = 1,
}

impl ColorMatrix {
    /// The matrix with this C value (`SEALCAM_MATRIX_*`).
    pub fn from_u32(v: u32) -> Option<ColorMatrix> {
        match v {
            0 => Some(ColorMatrix::Bt601),
            1 => Some(ColorMatrix::Bt709),
            _ => None,
        }
    }
}

impl PixelFormat {
    /// Every format, in C enum order.
    pub const ALL: [PixelFormat; 9] = [
        PixelFormat::I420,
        PixelFormat::Nv12,
        PixelFormat::Nv21,
        PixelFormat::Yv12,
        PixelFormat::Yuyv,
        PixelFormat::Uyvy,
        PixelFormat::Rgb24,
        PixelFormat::Bgra,
        PixelFormat::Rgba,
    ];

    /// The format with this C value.
    pub fn from_u32(v: u32) -> Option<PixelFormat> {
        PixelFormat::ALL.get(v as usize).copied()
    }

    /// Number of planes the format uses.
    pub fn plane_count(self) -> usize {
        match self {
            PixelFormat::I420 | PixelFormat::Yv12 => 3,
            PixelFormat::Nv12 | PixelFormat::Nv21 => 2,
            _ => 1,
        }
    }

    /// `(row_bytes, rows)` of plane `i` for a `width x height` image.
    pub fn plane_shape(self, i: usize, width: u32, height: u32) -> (usize, usize) {
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        match (self, i) {
            (PixelFormat::Yuyv | PixelFormat::Uyvy, _) => (cw * 4, h),
            (PixelFormat::Rgb24, _) => (w * 3, h),
            (PixelFormat::Bgra | PixelFormat::Rgba, _) => (w * 4, h),
            (_, 0) => (w, h),
            (PixelFormat::I420 | PixelFormat::Yv12, _) => (cw, ch),
            (_, _) => (cw * 2, ch),
        }
    }
}

/// One plane of a borrowed image: its bytes and the distance between row starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plane<'a> {
    /// Bytes of the plane, from its first row's first sample.
    pub data: &'a [u8],
    /// Bytes from the start of one row to the start of the next.
    pub stride: usize,
}

/// A capture buffer as the camera hands it over: borrowed, never copied until conversion.
#[derive(Debug, Clone, Copy)]
pub struct CaptureFrame<'a> {
    /// Pixel layout of `planes`.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Planes in the format's order; unused trailing planes are empty.
    pub planes: [Plane<'a>; 3],
    /// Capture time in microseconds on the caller's monotonic clock.
    pub timestamp_us: u64,
}

impl<'a> CaptureFrame<'a> {
    /// Rows `from..from + rows` of a validated frame as a frame of their own (`from` even,
    /// so 4:2:0 chroma rows split with them).
    pub(crate) fn rows(&self, from: u32, rows: u32) -> CaptureFrame<'a> {
        let mut band = *self;
        band.height = rows;
        for (i, p) in band.planes.iter_mut().enumerate().take(self.format.plane_count()) {
            let skip = self.format.plane_shape(i, self.width, from).1 * p.stride;
            p.data = &p.data[skip..];
        }
        band
    }

    /// An I420 frame from three planes.
    #[allow(clippy::too_many_arguments)]
    pub fn i420(
        width: u32,
        height: u32,
        y: &'a [u8],
        y_stride: usize,
        u: &'a [u8],
        u_stride: usize,
        v: &'a [u8],
        v_stride: usize,
        timestamp_us: u64,
    ) -> Self {
        CaptureFrame {
            format: PixelFormat::I420,
            width,
            height,
            planes: [
                Plane { data: y, stride: y_stride },
                Plane { data: u, stride: u_stride },
                Plane { data: v, stride: v_stride },
            ],
            timestamp_us,
        }
    }

    /// An NV12 frame from a luma plane and an interleaved chroma plane.
    pub fn nv12(
        width: u32,
        height: u32,
        y: &'a [u8],
        y_stride: usize,
        uv: &'a [u8],
        uv_stride: usize,
        timestamp_us: u64,
    ) -> Self {
        CaptureFrame {
            format: PixelFormat::Nv12,
            width,
            height,
            planes: [Plane { data: y, stride: y_stride }, Plane { data: uv, stride: uv_stride }, Plane::default()],
            timestamp_us,
        }
    }

    /// A single-plane packed frame (YUYV, UYVY, RGB24, BGRA, RGBA).
    pub fn packed(
        format: PixelFormat,
        width: u32,
        height: u32,
        data: &'a [u8],
        stride: usize,
        timestamp_us: u64,
    ) -> Self {
        CaptureFrame {
            format,
            width,
            height,
            planes: [Plane { data, stride }, Plane::default(), Plane::default()],
            timestamp_us,
        }
    }

    /// Checks sizes, strides and plane lengths. Every kernel calls this before reading.
    pub fn validate(&self) -> Result<()> {
        check_dimensions(self.width, self.height)?;
        for i in 0..self.format.plane_count() {
            let (row_bytes, rows) = self.format.plane_shape(i, self.width, self.height);
            let p = &self.planes[i];
            if p.stride < row_bytes {
                return Err(invalid!("plane {i} stride {} is shorter than its row of {row_bytes} bytes", p.stride));
            }
            let needed = p
                .stride
                .checked_mul(rows - 1)
                .and_then(|n| n.checked_add(row_bytes))
                .ok_or_else(|| invalid!("plane {i} size overflows"))?;
            if p.data.len() < needed {
                return Err(invalid!(
                    "plane {i} has {} bytes, {needed} needed for {}x{} at stride {}",
                    p.data.len(),
                    self.width,
                    self.height,
                    p.stride
                ));
            }
        }
        Ok(())
    }
}

/// Bytes of a tightly packed `width x height` I420 image: `w*h + 2*ceil(w/2)*ceil(h/2)`.
pub fn packed_i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * w.div_ceil(2) * h.div_ceil(2)
}

/// The Y, U and V planes of a caller's buffer, then the Y and the U/V strides.
pub type PackedPlanes<'a> = (&'a mut [u8], &'a mut [u8], &'a mut [u8], usize, usize);

/// A caller's buffer as the Y, U and V planes of a tightly packed `width x height` I420
/// image, with their strides (Y, then U and V), or [`crate::Error::BufferTooSmall`].
pub fn packed_i420_planes(buf: &mut [u8], width: u32, height: u32) -> Result<PackedPlanes<'_>> {
    check_dimensions(width, height)?;
    let needed = packed_i420_len(width, height);
    if buf.len() < needed {
        return Err(crate::Error::BufferTooSmall { needed });
    }
    let (w, cw, ch) = (width as usize, width.div_ceil(2) as usize, height.div_ceil(2) as usize);
    let (y, rest) = buf[..needed].split_at_mut(w * height as usize);
    let (u, v) = rest.split_at_mut(cw * ch);
    Ok((y, u, v, w, cw))
}

/// Rejects zero or oversized dimensions.
pub fn check_dimensions(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(invalid!("frame size {width}x{height} is empty"));
    }
    if width > MAX_DIMENSION_PX || height > MAX_DIMENSION_PX {
        return Err(invalid!("frame size {width}x{height} exceeds the {MAX_DIMENSION_PX} pixel limit"));
    }
    Ok(())
}

/// An owned, tightly packed I420 image (strides equal row widths). Reused across frames:
/// [`I420Buffer::resize`] keeps the allocation when the size does not grow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct I420Buffer {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl I420Buffer {
    /// A black (Y=16, U=V=128) image of the given size.
    pub fn new(width: u32, height: u32) -> Result<Self> {
        let mut b = I420Buffer::default();
        b.resize(width, height)?;
        Ok(b)
    }

    /// Changes the size, keeping the allocation where it is large enough. Contents are
    /// reset to black so no pixel of an earlier frame survives a resize.
    pub fn resize(&mut self, width: u32, height: u32) -> Result<()> {
        check_dimensions(width, height)?;
        if (width, height) == (self.width, self.height) {
            return Ok(());
        }
        self.width = width;
        self.height = height;
        let (ys, cs) = self.plane_sizes();
        self.data.clear();
        self.data.resize(ys, 16);
        self.data.resize(ys + 2 * cs, 128);
        Ok(())
    }

    fn plane_sizes(&self) -> (usize, usize) {
        let (w, h) = (self.width as usize, self.height as usize);
        (w * h, w.div_ceil(2) * h.div_ceil(2))
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Luma stride (= width).
    pub fn y_stride(&self) -> usize {
        self.width as usize
    }
    /// Chroma stride (= ceil(width / 2)).
    pub fn uv_stride(&self) -> usize {
        (self.width as usize).div_ceil(2)
    }
    /// The three planes, read-only.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let (ys, cs) = self.plane_sizes();
        let (y, rest) = self.data.split_at(ys);
        let (u, v) = rest.split_at(cs);
        (y, u, v)
    }
    /// The three planes, writable.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (ys, cs) = self.plane_sizes();
        let (y, rest) = self.data.split_at_mut(ys);
        let (u, v) = rest.split_at_mut(cs);
        (y, u, v)
    }
    /// All bytes: Y, then U, then V.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }
    /// Borrows this buffer as a capture frame (for feeding a Sender from owned images).
    pub fn as_capture(&self, timestamp_us: u64) -> CaptureFrame<'_> {
        let (y, u, v) = self.planes();
        CaptureFrame::i420(
            self.width,
            self.height,
            y,
            self.y_stride(),
            u,
            self.uv_stride(),
            v,
            self.uv_stride(),
            timestamp_us,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stride_shorter_than_width_is_refused() {
        let y = vec![0u8; 64 * 4];
        let uv = vec![0u8; 64 * 2];
        let f = CaptureFrame::nv12(64, 4, &y, 63, &uv, 64, 0);
        let e = f.validate().unwrap_err();
        assert!(e.to_string().contains("stride 63"), "{e}");
    }

    #[test]
    fn short_plane_is_refused() {
        let y = vec![0u8; 16 * 16 - 1];
        let c = vec![0u8; 64];
        let f = CaptureFrame::i420(16, 16, &y, 16, &c, 8, &c, 8, 0);
        assert!(matches!(f.validate(), Err(crate::Error::InvalidInput(_))));
    }

    #[test]
    fn zero_size_is_refused() {
        let f = CaptureFrame::i420(0, 16, &[], 0, &[], 0, &[], 0, 0);
        assert!(f.validate().is_err());
        assert!(I420Buffer::new(16, 0).is_err());
    }

    #[test]
    fn odd_sizes_round_chroma_up() {
        let y = vec![0u8; 5 * 3];
        let c = vec![0u8; 3 * 2];
        let f = CaptureFrame::i420(5, 3, &y, 5, &c, 3, &c, 3, 0);
        f.validate().unwrap();
        let b = I420Buffer::new(5, 3).unwrap();
        assert_eq!(b.planes().1.len(), 6);
    }

    #[test]
    fn last_row_may_be_unpadded() {
        // stride 20 for width 16: the last row needs only 16 bytes.
        let y = vec![0u8; 20 * 3 + 16];
        let c = vec![0u8; 12 + 8];
        let f = CaptureFrame::i420(16, 4, &y, 20, &c, 12, &c, 12, 0);
        f.validate().unwrap();
    }
}
