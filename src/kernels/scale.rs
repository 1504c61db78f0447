//! I420 downscaling for the resolution ladder.
//!
//! - [`scale_i420_half`]: 2:1 in both directions with a 2x2 box filter, `(a + b + c + d + 2) >> 2`;
//!   an odd last row or column is averaged with itself.
//! - [`scale_i420_bilinear`]: any size, bilinear with 16.16 fixed-point positions sampled at
//!   pixel centres (`src_x = (dst_x + 0.5) * src_w / dst_w - 0.5`, clamped to the image), 8-bit
//!   weights, vertical blend then horizontal (each rounded), as libyuv's filter does.

use crate::error::{invalid, Result};
use crate::frame::{CaptureFrame, ColorMatrix, I420Buffer, PixelFormat};

/// Halves an I420 image: `dst` becomes `ceil(w/2) x ceil(h/2)`.
pub fn scale_i420_half(src: &I420Buffer, dst: &mut I420Buffer) -> Result<()> {
    half(src, dst, true)
}

/// The scalar reference of [`scale_i420_half`].
#[doc(hidden)]
pub fn scale_i420_half_scalar(src: &I420Buffer, dst: &mut I420Buffer) -> Result<()> {
    half(src, dst, false)
}

fn half(src: &I420Buffer, dst: &mut I420Buffer, simd: bool) -> Result<()> {
    let (w, h) = (src.width() as usize, src.height() as usize);
    if w == 0 || h == 0 {
        return Err(invalid!("source image is empty"));
    }
    dst.resize(w.div_ceil(2) as u32, h.div_ceil(2) as u32)?;
    let (dw, dh) = (dst.width() as usize, dst.height() as usize);
    let (sy, su, sv) = src.planes();
    let (ss_y, ss_c, ds_y, ds_c) = (src.y_stride(), src.uv_stride(), dst.y_stride(), dst.uv_stride());
    let (dy, du, dv) = dst.planes_mut();
    half_plane(sy, ss_y, w, h, dy, ds_y, dw, dh, simd);
    let (cw, ch, dcw, dch) = (w.div_ceil(2), h.div_ceil(2), dw.div_ceil(2), dh.div_ceil(2));
    half_plane(su, ss_c, cw, ch, du, ds_c, dcw, dch, simd);
    half_plane(sv, ss_c, cw, ch, dv, ds_c, dcw, dch, simd);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn half_plane(
    src: &[u8],
    ss: usize,
    w: usize,
    h: usize,
    dst: &mut [u8],
    ds: usize,
    dw: usize,
    dh: usize,
    simd: bool,
) {
    // Columns every row gets from the SIMD path (one dispatch per plane), then the rest.
    let done = if simd { simd_half_rows(src, ss, w, h, dst, ds, dw, dh) } else { 0 };
    if done == dw {
        return;
    }
    for r in 0..dh {
        let (r0, r1) = box_rows(src, ss, w, h, r);
        let out = &mut dst[r * ds..r * ds + dw];
        for (x, o) in out.iter_mut().enumerate().skip(done) {
            let (x0, x1) = (2 * x, (2 * x + 1).min(w - 1));
            let sum = r0[x0] as u16 + r0[x1] as u16 + r1[x0] as u16 + r1[x1] as u16;
            *o = ((sum + 2) >> 2) as u8;
        }
    }
}

/// The source rows of box output row `r`: rows `2r` and `2r + 1` of a plane `w` wide and `h`
/// high with stride `ss` (an odd last row pairs with itself).
#[inline]
pub(super) fn box_rows(src: &[u8], ss: usize, w: usize, h: usize, r: usize) -> (&[u8], &[u8]) {
    let (a, b) = (2 * r * ss, (2 * r + 1).min(h - 1) * ss);
    (&src[a..a + w], &src[b..b + w])
}

/// The SIMD box filter over every output row of a plane; returns how many leading columns
/// of each row it wrote (the same for all rows).
#[allow(clippy::too_many_arguments)]
fn simd_half_rows(src: &[u8], ss: usize, w: usize, h: usize, dst: &mut [u8], ds: usize, dw: usize, dh: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if super::x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        return unsafe { super::x86::half_rows_avx2(src, ss, w, h, dst, ds, dw, dh) };
    }
    let mut done = 0;
    for r in 0..dh {
        let (r0, r1) = box_rows(src, ss, w, h, r);
        done = simd_half_row(r0, r1, &mut dst[r * ds..r * ds + dw]);
    }
    done
}

#[cfg(target_arch = "x86_64")]
fn simd_half_row(r0: &[u8], r1: &[u8], out: &mut [u8]) -> usize {
    use super::x86;
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        unsafe { x86::half_row_avx2_then_sse2(r0, r1, out) }
    } else {
        x86::half_row(r0, r1, out)
    }
}
#[cfg(target_arch = "aarch64")]
fn simd_half_row(r0: &[u8], r1: &[u8], out: &mut [u8]) -> usize {
    super::neon::half_row(r0, r1, out)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_half_row(_: &[u8], _: &[u8], _: &mut [u8]) -> usize {
    0
}

/// Chroma samples per channel that [`to_i420_half`] splits from NV12/NV21 at a time (an
/// even number, so box pairs never straddle two chunks).
const UV_CHUNK: usize = 512;

/// Whether [`to_i420_half`] takes this format: the YUV 4:2:0 ones, whose planes the box filter
/// reads directly, and the RGB ones, whose 2x2 means are converted. (YUYV/UYVY are not: their
/// conversion is a copy-like pass already, and the Sender converts then box-filters them.)
pub fn half_fusable(format: PixelFormat) -> bool {
    matches!(
        format,
        PixelFormat::I420
            | PixelFormat::Yv12
            | PixelFormat::Nv12
            | PixelFormat::Nv21
            | PixelFormat::Rgb24
            | PixelFormat::Bgra
            | PixelFormat::Rgba
    )
}

/// Whether [`to_i420_half`] is faster than converting and box-filtering on this CPU: for the
/// YUV 4:2:0 formats always; for RGB where its SIMD path exists (AVX2). Elsewhere (aarch64
/// so far) the RGB fused pass is scalar and the NEON conversion and box filter win. The
/// Sender asks this.
pub fn half_fused_pays(format: PixelFormat) -> bool {
    match format {
        PixelFormat::Rgb24 | PixelFormat::Bgra | PixelFormat::Rgba => {
            #[cfg(target_arch = "x86_64")]
            return super::x86::has_avx2();
            #[cfg(not(target_arch = "x86_64"))]
            return false;
        }
        f => half_fusable(f),
    }
}

/// Conversion and the 2x2 box filter in one pass, for the ladder's half rung: a capture frame
/// becomes I420 of `ceil(w/2) x ceil(h/2)` straight from its planes, reading the capture once
/// and writing only the small picture. From I420, YV12, NV12 and NV21 the result equals
/// [`super::to_i420`] followed by [`scale_i420_half`]; from RGB24, BGRA and RGBA (BT.601) each
/// pixel is converted from the mean of its 2x2 block, within 2 of those two passes. Other
/// formats get an error ([`half_fusable`]).
pub fn to_i420_half(src: &CaptureFrame<'_>, dst: &mut I420Buffer) -> Result<()> {
    half_convert(src, dst, ColorMatrix::Bt601, true)
}

/// [`to_i420_half`] with the RGB matrix given (it matters for RGB sources only).
pub fn to_i420_half_with(src: &CaptureFrame<'_>, dst: &mut I420Buffer, matrix: ColorMatrix) -> Result<()> {
    half_convert(src, dst, matrix, true)
}

/// The scalar reference of [`to_i420_half_with`].
#[doc(hidden)]
pub fn to_i420_half_scalar(src: &CaptureFrame<'_>, dst: &mut I420Buffer, matrix: ColorMatrix) -> Result<()> {
    half_convert(src, dst, matrix, false)
}

fn half_convert(src: &CaptureFrame<'_>, dst: &mut I420Buffer, matrix: ColorMatrix, simd: bool) -> Result<()> {
    src.validate()?;
    if !half_fusable(src.format) {
        return Err(invalid!("{:?} has no fused half-size conversion", src.format));
    }
    let (w, h) = (src.width as usize, src.height as usize);
    dst.resize(w.div_ceil(2) as u32, h.div_ceil(2) as u32)?;
    let (dw, dh) = (dst.width() as usize, dst.height() as usize);
    let (ds_y, ds_c) = (dst.y_stride(), dst.uv_stride());
    let (dy, du, dv) = dst.planes_mut();
    let p = &src.planes;
    let (s0, ss) = (p[0].data, p[0].stride);
    if let Some(convert) = super::rgb_pass(src.format, true) {
        convert(s0, ss, matrix, w, h, dy, du, dv, ds_y, ds_c, simd);
        return Ok(());
    }
    half_plane(s0, ss, w, h, dy, ds_y, dw, dh, simd);
    let (cw, ch, dcw, dch) = (w.div_ceil(2), h.div_ceil(2), dw.div_ceil(2), dh.div_ceil(2));
    match src.format {
        PixelFormat::I420 | PixelFormat::Yv12 => {
            let (u, v) = if src.format == PixelFormat::I420 { (&p[1], &p[2]) } else { (&p[2], &p[1]) };
            half_plane(u.data, u.stride, cw, ch, du, ds_c, dcw, dch, simd);
            half_plane(v.data, v.stride, cw, ch, dv, ds_c, dcw, dch, simd);
        }
        _ => {
            // Interleaved chroma: each pair of rows is split (SIMD) into stack buffers a chunk
            // of columns at a time, and each channel box-filtered from there.
            let (first, second) = if src.format == PixelFormat::Nv12 { (du, dv) } else { (dv, du) };
            let (uv, ss) = (p[1].data, p[1].stride);
            let (mut c1, mut c2) = ([0u8; 2 * UV_CHUNK], [0u8; 2 * UV_CHUNK]);
            for r in 0..dch {
                let (r0, rows) = (2 * r, if 2 * r + 1 < ch { 2 } else { 1 });
                let mut x0 = 0;
                while x0 < cw {
                    let n = (cw - x0).min(UV_CHUNK);
                    let rows_src = &uv[r0 * ss + 2 * x0..];
                    super::deinterleave_plane(rows_src, ss, &mut c1, &mut c2, UV_CHUNK, n, rows, simd);
                    let (o, outs) = (r * ds_c + x0 / 2, n.div_ceil(2));
                    half_plane(&c1, UV_CHUNK, n, rows, &mut first[o..], ds_c, outs, 1, simd);
                    half_plane(&c2, UV_CHUNK, n, rows, &mut second[o..], ds_c, outs, 1, simd);
                    x0 += n;
                }
            }
        }
    }
    Ok(())
}

/// Scales an I420 image to `width x height` (bilinear). Both sizes must be at least 1x1;
/// upscaling works too but the ladder only scales down.
pub fn scale_i420_bilinear(src: &I420Buffer, width: u32, height: u32, dst: &mut I420Buffer) -> Result<()> {
    bilinear(src, width, height, dst, true)
}

/// The scalar reference of [`scale_i420_bilinear`].
#[doc(hidden)]
pub fn scale_i420_bilinear_scalar(src: &I420Buffer, width: u32, height: u32, dst: &mut I420Buffer) -> Result<()> {
    bilinear(src, width, height, dst, false)
}

fn bilinear(src: &I420Buffer, width: u32, height: u32, dst: &mut I420Buffer, simd: bool) -> Result<()> {
    let (w, h) = (src.width() as usize, src.height() as usize);
    if w == 0 || h == 0 {
        return Err(invalid!("source image is empty"));
    }
    dst.resize(width, height)?;
    let (dw, dh) = (width as usize, height as usize);
    let (sy, su, sv) = src.planes();
    let (ss_y, ss_c, ds_y, ds_c) = (src.y_stride(), src.uv_stride(), dst.y_stride(), dst.uv_stride());
    let (dy, du, dv) = dst.planes_mut();
    bilinear_plane(sy, ss_y, w, h, dy, ds_y, dw, dh, simd);
    let (cw, ch, dcw, dch) = (w.div_ceil(2), h.div_ceil(2), dw.div_ceil(2), dh.div_ceil(2));
    bilinear_plane(su, ss_c, cw, ch, du, ds_c, dcw, dch, simd);
    bilinear_plane(sv, ss_c, cw, ch, dv, ds_c, dcw, dch, simd);
    Ok(())
}

/// Scales an I420 capture frame (`PixelFormat::I420`, any strides) into caller-owned
/// planes of `width x height`: the 2x2 box filter when the size is exactly the rounded-up
/// half, bilinear otherwise. Nothing is allocated; a source that is not I420, an empty
/// size, or destinations too small for their strides get an error and nothing is written.
#[allow(clippy::too_many_arguments)]
pub fn scale_i420_planes(
    src: &crate::frame::CaptureFrame<'_>,
    width: u32,
    height: u32,
    dst_y: &mut [u8],
    y_stride: usize,
    dst_u: &mut [u8],
    dst_v: &mut [u8],
    uv_stride: usize,
) -> Result<()> {
    src.validate()?;
    if src.format != crate::frame::PixelFormat::I420 {
        return Err(invalid!("scaling takes I420 sources, not {:?}", src.format));
    }
    crate::frame::check_dimensions(width, height)?;
    let (w, h, dw, dh) = (src.width as usize, src.height as usize, width as usize, height as usize);
    let (dcw, dch) = (dw.div_ceil(2), dh.div_ceil(2));
    super::check_destination(width, height, [dst_y.len(), dst_u.len(), dst_v.len()], y_stride, uv_stride)?;
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let [py, pu, pv] = src.planes;
    let half = (dw, dh) == (w.div_ceil(2), h.div_ceil(2));
    for (p, sw, sh, d, ds, ow, oh) in [
        (py, w, h, dst_y, y_stride, dw, dh),
        (pu, cw, ch, dst_u, uv_stride, dcw, dch),
        (pv, cw, ch, dst_v, uv_stride, dcw, dch),
    ] {
        if half {
            half_plane(p.data, p.stride, sw, sh, d, ds, ow, oh, true);
        } else {
            bilinear_plane(p.data, p.stride, sw, sh, d, ds, ow, oh, true);
        }
    }
    Ok(())
}

/// One axis of a bilinear scale: destination index -> source position in 16.16 fixed
/// point, sampled at pixel centres and clamped to the image.
#[derive(Clone, Copy)]
struct Axis {
    step: i64,
    src_len: usize,
}

impl Axis {
    fn new(src_len: usize, dst_len: usize) -> Axis {
        Axis { step: (((src_len as u64) << 16) / dst_len as u64) as i64, src_len }
    }

    /// The neighbour indices of destination index `d` and the weight of the second.
    #[inline]
    fn at(self, d: usize) -> (usize, usize, u32) {
        let pos = ((d as i64 * 2 + 1) * self.step / 2 - (1 << 15)).max(0);
        let i0 = ((pos >> 16) as usize).min(self.src_len - 1);
        let i1 = (i0 + 1).min(self.src_len - 1);
        (i0, i1, (pos & 0xffff) as u32)
    }
}

/// Source pixels one strip of a bilinear row may span (a stack buffer: nothing allocates).
const SPAN_BYTES: usize = 1024;
/// Output columns of one strip at most.
const MAX_STRIP: usize = 256;

/// Bilinear, separable: each output row first blends its two source rows with an 8-bit
/// weight (`(a (256 - fy) + b fy + 128) >> 8`, a loop the compiler vectorises), over the
/// source span one chunk of output columns needs, then blends horizontal neighbours the same
/// way. Weights are the 16.16 positions' fractions rounded to 0..=256; a zero weight copies
/// exactly.
#[allow(clippy::too_many_arguments)]
fn bilinear_plane(
    src: &[u8],
    ss: usize,
    w: usize,
    h: usize,
    dst: &mut [u8],
    ds: usize,
    dw: usize,
    dh: usize,
    simd: bool,
) {
    let (xs, ys) = (Axis::new(w, dw), Axis::new(h, dh));
    // Output columns per chunk, so that their source span ((n - 1) x w / dw + 3 pixels at
    // most) fits the buffer.
    let cols = ((SPAN_BYTES - 4) as u64 * dw as u64 / w as u64).clamp(1, MAX_STRIP as u64) as usize;
    // Spare bytes: the last pixel repeated, so the rightmost column's pair needs no clamp,
    // and room for the SIMD taps' 4-byte loads.
    let mut blended = [0u8; SPAN_BYTES + 4];
    // The plane goes in vertical strips of `cols` output columns: their source offsets and
    // weight pairs (`256 - fx` low, `fx` high) are computed once per strip and serve every row.
    let (mut offset, mut weight) = ([0i32; MAX_STRIP], [0i32; MAX_STRIP]);
    let mut c0 = 0;
    while c0 < dw {
        let c1 = (c0 + cols).min(dw);
        let (lo, hi) = (xs.at(c0).0, xs.at(c1 - 1).1);
        let n = hi - lo + 1;
        // Positions advance by the step ((2x + 1) step / 2 = x step + step / 2 exactly)
        // and never pass the last pixel; only the leftmost can fall below 0.
        let mut pos = c0 as i64 * xs.step + xs.step / 2 - (1 << 15);
        for (o, wt) in offset[..c1 - c0].iter_mut().zip(&mut weight[..c1 - c0]) {
            let at = pos.max(0);
            *o = ((at >> 16) as usize - lo) as i32;
            let fx = (((at & 0xffff) + 128) >> 8) as i32;
            *wt = (256 - fx) | (fx << 16);
            pos += xs.step;
        }
        let (offset, weight) = (&offset[..c1 - c0], &weight[..c1 - c0]);
        for r in 0..dh {
            let (y0, y1, fy) = ys.at(r);
            let fy = ((fy + 128) >> 8) as u16;
            let (a, b) = (&src[y0 * ss + lo..=y0 * ss + hi], &src[y1 * ss + lo..=y1 * ss + hi]);
            for ((o, &p), &q) in blended[..n].iter_mut().zip(a).zip(b) {
                *o = ((p as u16 * (256 - fy) + q as u16 * fy + 128) >> 8) as u8;
            }
            blended[n] = blended[n - 1];
            let row = &blended[..n + 4];
            let out = &mut dst[r * ds + c0..r * ds + c1];
            let done = if simd { simd_bilinear_taps(row, offset, weight, out) } else { 0 };
            for ((o, &i), &wt) in out.iter_mut().zip(offset).zip(weight).skip(done) {
                let pair = &row[i as usize..i as usize + 2];
                *o = ((pair[0] as u32 * (wt & 0xffff) as u32 + pair[1] as u32 * (wt >> 16) as u32 + 128) >> 8) as u8;
            }
        }
        c0 = c1;
    }
}

#[cfg(target_arch = "x86_64")]
fn simd_bilinear_taps(row: &[u8], offsets: &[i32], weights: &[i32], out: &mut [u8]) -> usize {
    if super::x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        unsafe { super::x86::bilinear_taps_avx2(row, offsets, weights, out) }
    } else {
        0
    }
}
#[cfg(not(target_arch = "x86_64"))]
fn simd_bilinear_taps(_: &[u8], _: &[i32], _: &[i32], _: &mut [u8]) -> usize {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(w: u32, h: u32, mut f: impl FnMut(usize, usize) -> u8) -> I420Buffer {
        let mut b = I420Buffer::new(w, h).unwrap();
        let ys = b.y_stride();
        let (y, _, _) = b.planes_mut();
        for r in 0..h as usize {
            for x in 0..w as usize {
                y[r * ys + x] = f(r, x);
            }
        }
        b
    }

    #[test]
    fn half_is_a_rounded_box_filter_with_odd_edges() {
        let src = filled(3, 3, |r, x| (r * 3 + x) as u8 * 10);
        let mut dst = I420Buffer::default();
        scale_i420_half(&src, &mut dst).unwrap();
        assert_eq!((dst.width(), dst.height()), (2, 2));
        // Blocks: [0,10,30,40] -> 20; [20,20,50,50] -> 35; [60,70,60,70] -> 65; [80,80,80,80] -> 80.
        assert_eq!(dst.planes().0, &[20, 35, 65, 80]);
    }

    #[test]
    fn bilinear_identity_copies_and_flat_stays_flat() {
        let src = filled(13, 7, |r, x| (r * 17 + x * 5) as u8);
        let mut dst = I420Buffer::default();
        scale_i420_bilinear(&src, 13, 7, &mut dst).unwrap();
        assert_eq!(dst, src);
        let flat = filled(64, 48, |_, _| 77);
        for (w, h) in [(1, 1), (17, 9), (32, 24), (100, 70)] {
            scale_i420_bilinear(&flat, w, h, &mut dst).unwrap();
            assert!(dst.planes().0.iter().all(|&v| v == 77), "{w}x{h}");
        }
    }

    #[test]
    fn bilinear_is_within_two_of_the_exact_filter() {
        let mut rng = fastrand::Rng::with_seed(9);
        let src = filled(97, 61, |_, _| rng.u8(..));
        let ys = src.y_stride();
        // Two roundings and 8-bit weights: a little over 1.5 at worst here.
        let exact_pos = |d: usize, n: usize, dn: usize| ((d as f64 + 0.5) * n as f64 / dn as f64 - 0.5).max(0.0);
        let mut dst = I420Buffer::default();
        for (dw, dh) in [(72u32, 45u32), (48, 30), (31, 17), (97, 40), (150, 90)] {
            scale_i420_bilinear(&src, dw, dh, &mut dst).unwrap();
            let mut worst = 0f64;
            for r in 0..dh as usize {
                let fy = exact_pos(r, 61, dh as usize);
                let (y0, t) = ((fy as usize).min(60), fy.fract());
                let y1 = (y0 + 1).min(60);
                for x in 0..dw as usize {
                    let fx = exact_pos(x, 97, dw as usize);
                    let (x0, s) = ((fx as usize).min(96), fx.fract());
                    let x1 = (x0 + 1).min(96);
                    let p = |r: usize, c: usize| src.planes().0[r * ys + c] as f64;
                    let want = (p(y0, x0) * (1.0 - s) + p(y0, x1) * s) * (1.0 - t)
                        + (p(y1, x0) * (1.0 - s) + p(y1, x1) * s) * t;
                    let got = dst.planes().0[r * dst.y_stride() + x] as f64;
                    worst = worst.max((got - want).abs());
                }
            }
            assert!(worst <= 2.0, "{dw}x{dh}: off by {worst:.2}");
        }
    }

    #[test]
    fn bilinear_keeps_a_gradient_monotonic() {
        let src = filled(200, 4, |_, x| x as u8);
        let mut dst = I420Buffer::default();
        scale_i420_bilinear(&src, 67, 2, &mut dst).unwrap();
        let row = &dst.planes().0[..67];
        assert!(row.windows(2).all(|p| p[0] <= p[1]), "{row:?}");
        assert!(row[0] <= 2 && row[66] >= 196);
    }

    #[test]
    fn planes_scaling_equals_the_buffer_scalers_and_refuses_bad_input() {
        let src = filled(37, 23, |r, x| (r * 7 + x * 3) as u8);
        for (dw, dh) in [(19u32, 12u32), (20, 11), (5, 3)] {
            let mut want = I420Buffer::default();
            if (dw, dh) == (19, 12) {
                scale_i420_half(&src, &mut want).unwrap();
            } else {
                scale_i420_bilinear(&src, dw, dh, &mut want).unwrap();
            }
            let (cw, ch) = (dw.div_ceil(2) as usize, dh.div_ceil(2) as usize);
            let (mut y, mut u, mut v) = (vec![0u8; dw as usize * dh as usize], vec![0u8; cw * ch], vec![0u8; cw * ch]);
            scale_i420_planes(&src.as_capture(0), dw, dh, &mut y, dw as usize, &mut u, &mut v, cw).unwrap();
            let (wy, wu, wv) = want.planes();
            for r in 0..dh as usize {
                assert_eq!(&y[r * dw as usize..][..dw as usize], &wy[r * want.y_stride()..][..dw as usize]);
            }
            for r in 0..ch {
                assert_eq!(&u[r * cw..][..cw], &wu[r * want.uv_stride()..][..cw]);
                assert_eq!(&v[r * cw..][..cw], &wv[r * want.uv_stride()..][..cw]);
            }
        }
        let (mut y, mut u, mut v) = (vec![7u8; 10], vec![7u8; 4], vec![7u8; 4]);
        assert!(scale_i420_planes(&src.as_capture(0), 5, 3, &mut y, 4, &mut u, &mut v, 3).is_err());
        assert!(scale_i420_planes(&src.as_capture(0), 0, 3, &mut y, 5, &mut u, &mut v, 3).is_err());
        assert!(y.iter().chain(&u).chain(&v).all(|&b| b == 7), "nothing written on error");
    }
}
