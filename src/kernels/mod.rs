//! Pixel kernels: capture formats to I420, the layout both encoders take.
//!
//! Guarantees: each kernel validates its source first (see [`CaptureFrame::validate`])
//! and writes every byte of the destination, so a reused buffer never leaks pixels of an
//! earlier frame. Kernels are reentrant and allocate only when the destination must grow.

use crate::error::Result;
use crate::frame::{CaptureFrame, I420Buffer, PixelFormat};

/// Converts any supported capture frame to I420 at the same size. `dst` is resized to
/// the source size (keeping its allocation when it is large enough).
pub fn to_i420(src: &CaptureFrame<'_>, dst: &mut I420Buffer) -> Result<()> {
    src.validate()?;
    dst.resize(src.width, src.height)?;
    let (w, h) = (src.width as usize, src.height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y_stride, uv_stride) = (dst.y_stride(), dst.uv_stride());
    let (dy, du, dv) = dst.planes_mut();
    copy_plane(src.planes[0].data, src.planes[0].stride, dy, y_stride, w, h);
    match src.format {
        PixelFormat::I420 => {
            copy_plane(src.planes[1].data, src.planes[1].stride, du, uv_stride, cw, ch);
            copy_plane(src.planes[2].data, src.planes[2].stride, dv, uv_stride, cw, ch);
        }
        PixelFormat::Nv12 => {
            deinterleave_plane(src.planes[1].data, src.planes[1].stride, du, dv, uv_stride, cw, ch);
        }
    }
    Ok(())
}

/// Copies `rows` rows of `row_bytes` between strided planes.
pub(crate) fn copy_plane(
    src: &[u8],
    src_stride: usize,
    dst: &mut [u8],
    dst_stride: usize,
    row_bytes: usize,
    rows: usize,
) {
    for r in 0..rows {
        let s = &src[r * src_stride..r * src_stride + row_bytes];
        dst[r * dst_stride..r * dst_stride + row_bytes].copy_from_slice(s);
    }
}

/// Splits an interleaved UV plane (`cw` pairs a row) into separate U and V planes.
fn deinterleave_plane(
    src: &[u8],
    src_stride: usize,
    du: &mut [u8],
    dv: &mut [u8],
    dst_stride: usize,
    cw: usize,
    ch: usize,
) {
    for r in 0..ch {
        let s = &src[r * src_stride..r * src_stride + 2 * cw];
        let u = &mut du[r * dst_stride..r * dst_stride + cw];
        let v = &mut dv[r * dst_stride..r * dst_stride + cw];
        for ((pair, u), v) in s.chunks_exact(2).zip(u.iter_mut()).zip(v.iter_mut()) {
            *u = pair[0];
            *v = pair[1];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    #[test]
    fn nv12_with_padded_stride_converts_exactly() {
        for (w, h) in [(1u32, 1u32), (2, 2), (5, 3), (16, 9), (33, 17)] {
            let (wu, hu) = (w as usize, h as usize);
            let (cw, ch) = (wu.div_ceil(2), hu.div_ceil(2));
            let ys = wu + 7;
            let uvs = 2 * cw + 3;
            let y = pattern(ys * hu, 1);
            let uv = pattern(uvs * ch, 2);
            let f = CaptureFrame::nv12(w, h, &y, ys, &uv, uvs, 0);
            let mut out = I420Buffer::default();
            to_i420(&f, &mut out).unwrap();
            let (oy, ou, ov) = out.planes();
            for r in 0..hu {
                assert_eq!(&oy[r * wu..(r + 1) * wu], &y[r * ys..r * ys + wu]);
            }
            for r in 0..ch {
                for c in 0..cw {
                    assert_eq!(ou[r * cw + c], uv[r * uvs + 2 * c]);
                    assert_eq!(ov[r * cw + c], uv[r * uvs + 2 * c + 1]);
                }
            }
        }
    }

    #[test]
    fn i420_round_trips_through_as_capture() {
        let mut a = I420Buffer::new(7, 5).unwrap();
        let (y, u, v) = a.planes_mut();
        y.copy_from_slice(&pattern(35, 3));
        u.copy_from_slice(&pattern(12, 4));
        v.copy_from_slice(&pattern(12, 5));
        let mut b = I420Buffer::default();
        to_i420(&a.as_capture(0), &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_source_leaves_destination_untouched() {
        let mut dst = I420Buffer::new(4, 4).unwrap();
        let before = dst.clone();
        let y = vec![0u8; 3];
        let f = CaptureFrame::nv12(4, 4, &y, 4, &y, 4, 0);
        assert!(to_i420(&f, &mut dst).is_err());
        assert_eq!(dst, before);
    }
}
