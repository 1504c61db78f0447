//! Pixel kernels: every capture format to I420 (the layout both encoders take), and I420
//! scaling for the resolution ladder.
//!
//! Guarantees: each kernel validates its source first (see [`CaptureFrame::validate`])
//! and writes every byte of the destination, so a reused buffer never leaks pixels of an
//! earlier frame. Kernels are reentrant and allocate only when the destination must grow.
//!
//! Chroma rounding, written down: 4:2:0 chroma planes have `ceil(w/2) x ceil(h/2)` samples.
//! Packed 4:2:2 sources (YUYV, UYVY) give each output chroma sample the rounded mean of the two
//! source rows (`(a + b + 1) >> 1`); an odd last row is taken as it is. RGB sources give each
//! chroma sample the matrix applied to the rounded mean RGB of its (up to) 2x2 pixels. The RGB
//! matrices are the 8-bit fixed-point BT.601 and BT.709 limited-range ones (as libyuv uses).
//! These scalar kernels are the reference any SIMD path must match.

#[cfg(target_arch = "aarch64")]
mod neon;
mod scale;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use scale::{
    half_fused_pays, scale_i420_bilinear, scale_i420_bilinear_scalar, scale_i420_half, scale_i420_half_scalar,
    scale_i420_planes, to_i420_half, to_i420_half_scalar, to_i420_half_with,
};

use crate::error::Result;
use crate::frame::{CaptureFrame, ColorMatrix, I420Buffer, PixelFormat};

/// Converts any supported capture frame to I420 at the same size (BT.601 for RGB sources).
/// `dst` is resized to the source size (keeping its allocation when it is large enough).
pub fn to_i420(src: &CaptureFrame<'_>, dst: &mut I420Buffer) -> Result<()> {
    to_i420_with(src, dst, ColorMatrix::Bt601)
}

/// [`to_i420`] with an explicit matrix for RGB sources (ignored for YUV sources).
pub fn to_i420_with(src: &CaptureFrame<'_>, dst: &mut I420Buffer, matrix: ColorMatrix) -> Result<()> {
    convert(src, dst, matrix, true)
}

/// [`to_i420_with`] split into `bands` horizontal bands converted at once on rayon's global
/// pool (which starts its threads on first use; nothing else in the library does). Same
/// output as [`to_i420_with`]. `bands` 0 or 1 converts on the calling thread.
pub fn to_i420_in_bands(src: &CaptureFrame<'_>, dst: &mut I420Buffer, matrix: ColorMatrix, bands: usize) -> Result<()> {
    src.validate()?;
    dst.resize(src.width, src.height)?;
    let (ys, cs) = (dst.y_stride(), dst.uv_stride());
    let (dy, du, dv) = dst.planes_mut();
    convert_bands(*src, dy, du, dv, ys, cs, matrix, bands);
    Ok(())
}

/// How many bands pay for a conversion on a 2-core board (`cargo bench --bench kernels --
/// 2_bands`: two bands convert RGB 1.2-1.8x faster from 640x480 and YUYV/UYVY 1.2-1.5x
/// faster at 1080p; NV12 is memory-bound, from 0.7x at 720p to 1.0-1.4x at 1080p between
/// runs, so it stays in one). 1 where it does not pay.
pub fn bands_that_pay(format: PixelFormat, width: u32, height: u32) -> usize {
    let pixels = width as u64 * height as u64;
    match format {
        PixelFormat::Rgb24 | PixelFormat::Bgra | PixelFormat::Rgba if pixels >= 640 * 480 => 2,
        PixelFormat::Yuyv | PixelFormat::Uyvy if pixels >= 1920 * 1080 => 2,
        _ => 1,
    }
}

#[allow(clippy::too_many_arguments)]
fn convert_bands(
    src: CaptureFrame<'_>,
    dy: &mut [u8],
    du: &mut [u8],
    dv: &mut [u8],
    ys: usize,
    cs: usize,
    matrix: ColorMatrix,
    bands: usize,
) {
    // Bands start on even rows, so each band's chroma rows are its own.
    let top = (src.height as usize * (bands / 2) / bands.max(1)) & !1;
    if bands <= 1 || top == 0 {
        convert_into(&src, dy, du, dv, ys, cs, matrix, true);
        return;
    }
    let (y0, y1) = dy.split_at_mut(top * ys);
    let (u0, u1) = du.split_at_mut(top / 2 * cs);
    let (v0, v1) = dv.split_at_mut(top / 2 * cs);
    let (a, b) = (src.rows(0, top as u32), src.rows(top as u32, src.height - top as u32));
    let (half, rest) = (bands / 2, bands - bands / 2);
    if cfg!(miri) {
        // rayon's crossbeam-epoch trips Miri's Stacked Borrows check (in its own code): under
        // Miri the bands run one after the other, which still checks the splitting.
        convert_bands(a, y0, u0, v0, ys, cs, matrix, half);
        convert_bands(b, y1, u1, v1, ys, cs, matrix, rest);
    } else {
        rayon::join(
            || convert_bands(a, y0, u0, v0, ys, cs, matrix, half),
            || convert_bands(b, y1, u1, v1, ys, cs, matrix, rest),
        );
    }
}

/// The scalar reference of [`to_i420_with`] (what every SIMD path must equal; for tests
/// and benchmarks).
#[doc(hidden)]
pub fn to_i420_scalar(src: &CaptureFrame<'_>, dst: &mut I420Buffer, matrix: ColorMatrix) -> Result<()> {
    convert(src, dst, matrix, false)
}

fn convert(src: &CaptureFrame<'_>, dst: &mut I420Buffer, matrix: ColorMatrix, simd: bool) -> Result<()> {
    src.validate()?;
    dst.resize(src.width, src.height)?;
    let (ys, cs) = (dst.y_stride(), dst.uv_stride());
    let (dy, du, dv) = dst.planes_mut();
    convert_into(src, dy, du, dv, ys, cs, matrix, simd);
    Ok(())
}

/// Converts into caller-owned I420 planes with their own strides (nothing is allocated).
/// Each destination stride must cover its row and each plane its rows, or nothing is
/// written and an error says which.
#[allow(clippy::too_many_arguments)]
pub fn to_i420_planes(
    src: &CaptureFrame<'_>,
    dst_y: &mut [u8],
    y_stride: usize,
    dst_u: &mut [u8],
    dst_v: &mut [u8],
    uv_stride: usize,
    matrix: ColorMatrix,
) -> Result<()> {
    src.validate()?;
    check_destination(src.width, src.height, [dst_y.len(), dst_u.len(), dst_v.len()], y_stride, uv_stride)?;
    convert_into(src, dst_y, dst_u, dst_v, y_stride, uv_stride, matrix, true);
    Ok(())
}

/// Checks that caller-owned I420 planes of `[y, u, v]` bytes with these strides hold a
/// `width x height` image.
pub(crate) fn check_destination(
    width: u32,
    height: u32,
    lens: [usize; 3],
    y_stride: usize,
    uv_stride: usize,
) -> Result<()> {
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    for (name, len, stride, row, rows) in
        [("Y", lens[0], y_stride, w, h), ("U", lens[1], uv_stride, cw, ch), ("V", lens[2], uv_stride, cw, ch)]
    {
        if stride < row || len < stride * (rows - 1) + row {
            return Err(crate::error::invalid!(
                "destination {name} plane: stride {stride} and {len} bytes cannot hold {rows} rows of {row}"
            ));
        }
    }
    Ok(())
}

/// The conversion proper, on a validated source and destinations known to be large enough.
#[allow(clippy::too_many_arguments)]
fn convert_into(
    src: &CaptureFrame<'_>,
    dy: &mut [u8],
    du: &mut [u8],
    dv: &mut [u8],
    ys: usize,
    cs: usize,
    matrix: ColorMatrix,
    simd: bool,
) {
    let (w, h) = (src.width as usize, src.height as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let p = &src.planes;
    match src.format {
        PixelFormat::I420 | PixelFormat::Yv12 => {
            let (u, v) = if src.format == PixelFormat::I420 { (&p[1], &p[2]) } else { (&p[2], &p[1]) };
            copy_plane(p[0].data, p[0].stride, dy, ys, w, h);
            copy_plane(u.data, u.stride, du, cs, cw, ch);
            copy_plane(v.data, v.stride, dv, cs, cw, ch);
        }
        PixelFormat::Nv12 | PixelFormat::Nv21 => {
            copy_plane(p[0].data, p[0].stride, dy, ys, w, h);
            let (first, second) = if src.format == PixelFormat::Nv12 { (du, dv) } else { (dv, du) };
            deinterleave_plane(p[1].data, p[1].stride, first, second, cs, cw, ch, simd);
        }
        PixelFormat::Yuyv => packed422_to_i420(p[0].data, p[0].stride, [0, 1, 2, 3], w, h, dy, du, dv, ys, cs, simd),
        PixelFormat::Uyvy => packed422_to_i420(p[0].data, p[0].stride, [1, 0, 3, 2], w, h, dy, du, dv, ys, cs, simd),
        PixelFormat::Rgb24 | PixelFormat::Bgra | PixelFormat::Rgba => {
            let pass = rgb_pass(src.format, false).expect("an RGB format");
            pass(p[0].data, p[0].stride, matrix, w, h, dy, du, dv, ys, cs, simd)
        }
    }
}

/// An RGB conversion: source, stride, matrix, width, height, the Y/U/V planes with their
/// strides, whether SIMD may be used ([`rgb_rows`] or [`rgb_half`] for one pixel layout).
pub(crate) type RgbPass =
    fn(&[u8], usize, ColorMatrix, usize, usize, &mut [u8], &mut [u8], &mut [u8], usize, usize, bool);

/// The full-size (`half` false) or half-size conversion for an RGB format, `None` for the
/// others. Monomorphised per pixel size and channel order (byte offsets of R, G, B) so the
/// inner loops have constant offsets; RGB24's SIMD paths widen it to 4-byte pixels.
pub(crate) fn rgb_pass(format: PixelFormat, half: bool) -> Option<RgbPass> {
    fn pick<const BPP: usize, const R: usize, const G: usize, const B: usize>(half: bool) -> RgbPass {
        if half {
            rgb_half::<BPP, R, G, B>
        } else {
            rgb_rows::<BPP, R, G, B>
        }
    }
    match format {
        PixelFormat::Rgb24 => Some(pick::<3, 0, 1, 2>(half)),
        PixelFormat::Bgra => Some(pick::<4, 2, 1, 0>(half)),
        PixelFormat::Rgba => Some(pick::<4, 0, 1, 2>(half)),
        _ => None,
    }
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
    if src_stride == row_bytes && dst_stride == row_bytes {
        // Both planes are tightly packed: one copy.
        let n = row_bytes * rows;
        copy_bytes(&src[..n], &mut dst[..n]);
        return;
    }
    for r in 0..rows {
        let s = &src[r * src_stride..r * src_stride + row_bytes];
        dst[r * dst_stride..r * dst_stride + row_bytes].copy_from_slice(s);
    }
}

/// Copies `src` into `dst` (equal lengths). On x86-64 with fast `rep movsb` (ERMS), copies of
/// at least [`x86::REP_MOVSB_FROM`] bytes use it: glibc's `memcpy` leaves `rep movsb` above
/// the L2 size on AMD CPUs for a vector loop that measured 14 % slower for a 1080p luma plane
/// (2 MB) here, against libyuv, which copies planes with `rep movsb`
/// (`SEALCAM_BENCH_PAIRED=Nv12 cargo bench --bench kernels`: NV12 1080p 1.14x -> 1.00x libyuv).
fn copy_bytes(src: &[u8], dst: &mut [u8]) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if src.len() >= x86::REP_MOVSB_FROM && x86::has_erms() {
        x86::copy_rep_movsb(src, dst);
        return;
    }
    dst.copy_from_slice(src);
}

/// Splits an interleaved chroma plane (`cw` pairs a row) into its two planes.
#[allow(clippy::too_many_arguments)]
fn deinterleave_plane(
    src: &[u8],
    src_stride: usize,
    first: &mut [u8],
    second: &mut [u8],
    dst_stride: usize,
    cw: usize,
    ch: usize,
    simd: bool,
) {
    if src_stride == 2 * cw && dst_stride == cw {
        // Tightly packed: the whole plane is one long row.
        let (s, a, b) = (&src[..2 * cw * ch], &mut first[..cw * ch], &mut second[..cw * ch]);
        let done = if simd { simd_deinterleave(s, a, b) } else { 0 };
        for ((pair, a), b) in s[2 * done..].chunks_exact(2).zip(a[done..].iter_mut()).zip(b[done..].iter_mut()) {
            *a = pair[0];
            *b = pair[1];
        }
        return;
    }
    for r in 0..ch {
        let s = &src[r * src_stride..r * src_stride + 2 * cw];
        let a = &mut first[r * dst_stride..r * dst_stride + cw];
        let b = &mut second[r * dst_stride..r * dst_stride + cw];
        let done = if simd { simd_deinterleave(s, a, b) } else { 0 };
        for ((pair, a), b) in s[2 * done..].chunks_exact(2).zip(a[done..].iter_mut()).zip(b[done..].iter_mut()) {
            *a = pair[0];
            *b = pair[1];
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn simd_deinterleave(s: &[u8], a: &mut [u8], b: &mut [u8]) -> usize {
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        let done = unsafe { x86::deinterleave_avx2(s, a, b) };
        done + x86::deinterleave(&s[2 * done..], &mut a[done..], &mut b[done..])
    } else {
        x86::deinterleave(s, a, b)
    }
}
#[cfg(target_arch = "aarch64")]
fn simd_deinterleave(s: &[u8], a: &mut [u8], b: &mut [u8]) -> usize {
    neon::deinterleave(s, a, b)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_deinterleave(_: &[u8], _: &mut [u8], _: &mut [u8]) -> usize {
    0
}

/// Packed 4:2:2 to I420. `order` gives the byte offsets of `[Y0, U, Y1, V]` in each
/// 4-byte macropixel.
#[allow(clippy::too_many_arguments)]
fn packed422_to_i420(
    src: &[u8],
    stride: usize,
    order: [usize; 4],
    w: usize,
    h: usize,
    dy: &mut [u8],
    du: &mut [u8],
    dv: &mut [u8],
    ys: usize,
    cs: usize,
    simd: bool,
) {
    let cw = w.div_ceil(2);
    let [oy0, ou, oy1, ov] = order;
    let luma_odd = oy0 == 1;
    let luma_row = |r: usize, out: &mut [u8]| {
        let row = &src[r * stride..r * stride + 4 * cw];
        let done = if simd { simd_packed422_luma(row, out, luma_odd) } else { 0 };
        for (x, px) in out.iter_mut().enumerate().skip(done) {
            let m = &row[(x / 2) * 4..];
            *px = if x % 2 == 0 { m[oy0] } else { m[oy1] };
        }
    };
    // One pass per pair of rows: both rows' luma, then their chroma, while the rows are
    // still in cache.
    for cr in 0..h.div_ceil(2) {
        let r0 = 2 * cr;
        let r1 = (r0 + 1).min(h - 1);
        luma_row(r0, &mut dy[r0 * ys..r0 * ys + w]);
        if r1 != r0 {
            luma_row(r1, &mut dy[r1 * ys..r1 * ys + w]);
        }
        let a = &src[r0 * stride..r0 * stride + 4 * cw];
        let b = &src[r1 * stride..r1 * stride + 4 * cw];
        let u = &mut du[cr * cs..cr * cs + cw];
        let v = &mut dv[cr * cs..cr * cs + cw];
        let done = if simd { simd_packed422_chroma(a, b, u, v, !luma_odd) } else { 0 };
        for x in done..cw {
            let (ma, mb) = (&a[4 * x..4 * x + 4], &b[4 * x..4 * x + 4]);
            u[x] = avg2(ma[ou], mb[ou]);
            v[x] = avg2(ma[ov], mb[ov]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn simd_packed422_luma(row: &[u8], y: &mut [u8], odd: bool) -> usize {
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        let done = unsafe { x86::packed422_luma_avx2(row, y, odd) };
        done + x86::packed422_luma(&row[2 * done..], &mut y[done..], odd)
    } else {
        x86::packed422_luma(row, y, odd)
    }
}
#[cfg(target_arch = "aarch64")]
fn simd_packed422_luma(row: &[u8], y: &mut [u8], odd: bool) -> usize {
    neon::packed422_luma(row, y, odd)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_packed422_luma(_: &[u8], _: &mut [u8], _: bool) -> usize {
    0
}
#[cfg(target_arch = "x86_64")]
fn simd_packed422_chroma(a: &[u8], b: &[u8], u: &mut [u8], v: &mut [u8], odd: bool) -> usize {
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        let done = unsafe { x86::packed422_chroma_avx2(a, b, u, v, odd) };
        done + x86::packed422_chroma(&a[4 * done..], &b[4 * done..], &mut u[done..], &mut v[done..], odd)
    } else {
        x86::packed422_chroma(a, b, u, v, odd)
    }
}
#[cfg(target_arch = "aarch64")]
fn simd_packed422_chroma(a: &[u8], b: &[u8], u: &mut [u8], v: &mut [u8], odd: bool) -> usize {
    neon::packed422_chroma(a, b, u, v, odd)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_packed422_chroma(_: &[u8], _: &[u8], _: &mut [u8], _: &mut [u8], _: bool) -> usize {
    0
}

#[inline]
fn avg2(a: u8, b: u8) -> u8 {
    ((a as u16 + b as u16 + 1) >> 1) as u8
}

/// Fixed-point RGB to YUV coefficients: `[yr, yg, yb, ur, ug, ub, vr, vg, vb]`.
fn coefficients(m: ColorMatrix) -> [i32; 9] {
    match m {
        ColorMatrix::Bt601 => [66, 129, 25, -38, -74, 112, 112, -94, -18],
        ColorMatrix::Bt709 => [47, 157, 16, -26, -87, 112, 112, -102, -10],
    }
}

#[inline]
fn luma(c: &[i32; 9], r: i32, g: i32, b: i32) -> u8 {
    (((c[0] * r + c[1] * g + c[2] * b + 128) >> 8) + 16) as u8
}

#[inline]
fn chroma(c: &[i32; 9], r: i32, g: i32, b: i32) -> (u8, u8) {
    let u = (c[3] * r + c[4] * g + c[5] * b + 32896) >> 8;
    let v = (c[6] * r + c[7] * g + c[8] * b + 32896) >> 8;
    (u.clamp(0, 255) as u8, v.clamp(0, 255) as u8)
}

/// Packed RGB (3 or 4 bytes a pixel, R, G, B at byte offsets `R`, `G`, `B`) to I420, one
/// pair of rows at a time (their luma, then their chroma while both rows are in cache).
#[allow(clippy::too_many_arguments)]
fn rgb_rows<const BPP: usize, const R: usize, const G: usize, const B: usize>(
    src: &[u8],
    stride: usize,
    matrix: ColorMatrix,
    w: usize,
    h: usize,
    dy: &mut [u8],
    du: &mut [u8],
    dv: &mut [u8],
    ys: usize,
    cs: usize,
    simd: bool,
) {
    let c = coefficients(matrix);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let k = RgbCoefficients::at::<R, G, B>(&c);
    let scalar_luma = |row: &[u8], out: &mut [u8], from: usize| {
        for (p, y) in row.chunks_exact(BPP).zip(out.iter_mut()).skip(from) {
            *y = luma(&c, p[R] as i32, p[G] as i32, p[B] as i32);
        }
    };
    let full = w / 2;
    for cr in 0..ch {
        let (r0, r1) = (2 * cr, (2 * cr + 1).min(h - 1));
        let a = &src[r0 * stride..r0 * stride + w * BPP];
        let b = &src[r1 * stride..r1 * stride + w * BPP];
        let (top, bottom) = dy.split_at_mut(r1 * ys);
        let mut y0 = &mut top[r0 * ys..];
        let mut y1 = &mut bottom[..w];
        if r1 == r0 {
            // An odd last row: its luma row is the bottom half's first.
            y0 = &mut y1[..];
            y1 = &mut [];
        }
        let y0 = &mut y0[..w];
        let u = &mut du[cr * cs..cr * cs + cw];
        let v = &mut dv[cr * cs..cr * cs + cw];
        let (pa, pb) = (&a[..full * 2 * BPP], &b[..full * 2 * BPP]);
        // RGB24: both rows and their chroma in one pass where the CPU allows, so each pixel
        // is widened once; then the separate kernels for the rest. (4-byte pixels load
        // cheaply twice; held for both passes at once they spill registers: 1.19x libyuv at
        // 720p fused against 1.14x in two passes.)
        let f = if simd { simd_rgb_pair::<BPP>(a, b, y0, y1, u, v, k) } else { 0 };
        if f == w && w % 2 == 0 {
            // Both rows and their chroma done in the one pass: nothing left for the tails
            // (skipping their calls is 10 % of the time at 640x480).
            continue;
        }
        let (fa, fb, fpa, fpb) = (&a[f * BPP..], &b[f * BPP..], &pa[f * BPP..], &pb[f * BPP..]);
        let (fy0, fy1, fu, fv) = (&mut y0[f..], &mut y1[f..], &mut u[f / 2..], &mut v[f / 2..]);
        let (l0, l1, done) = match (simd, BPP) {
            (true, 4) => (
                simd_rgba_luma(fa, fy0, k.y),
                simd_rgba_luma(fb, fy1, k.y),
                simd_rgba_chroma(fpa, fpb, fu, fv, k.u, k.v),
            ),
            (true, 3) => simd_rgb24_pair(fa, fb, fy0, fy1, fpa, fpb, fu, fv, k).unwrap_or_else(|| {
                let px = rgb24_pair_chunks(fpa, fpb, fy0, fy1, fu, fv, k);
                (px, px, px / 2)
            }),
            _ => (0, 0, 0),
        };
        let (l0, l1, done) = (f + l0, f + l1, f / 2 + done);
        scalar_luma(a, y0, l0);
        scalar_luma(b, y1, l1);
        let pairs = pa.chunks_exact(2 * BPP).zip(pb.chunks_exact(2 * BPP)).zip(u.iter_mut()).zip(v.iter_mut());
        for (((pa, pb), u), v) in pairs.skip(done) {
            let ch = |k: usize| mean(pa[k] as i32, pa[BPP + k] as i32, pb[k] as i32, pb[BPP + k] as i32);
            let (uu, vv) = chroma(&c, ch(R), ch(G), ch(B));
            *u = uu;
            *v = vv;
        }
        if cw > full {
            let (pa, pb) = (&a[full * 2 * BPP..], &b[full * 2 * BPP..]);
            let ch = |k: usize| mean(pa[k] as i32, pa[k] as i32, pb[k] as i32, pb[k] as i32);
            let (uu, vv) = chroma(&c, ch(R), ch(G), ch(B));
            u[full] = uu;
            v[full] = vv;
        }
    }
}

/// The RGB-to-YUV matrix rows at the byte positions of a 4-byte pixel.
#[derive(Clone, Copy)]
struct RgbCoefficients {
    y: [i16; 4],
    u: [i16; 4],
    v: [i16; 4],
}

impl RgbCoefficients {
    /// The matrix `c` at the byte positions `R`, `G`, `B` of a 4-byte pixel (alpha gets 0).
    fn at<const R: usize, const G: usize, const B: usize>(c: &[i32; 9]) -> Self {
        let at = |cr: i32, cg: i32, cb: i32| {
            let mut k = [0i16; 4];
            k[R] = cr as i16;
            k[G] = cg as i16;
            k[B] = cb as i16;
            k
        };
        RgbCoefficients { y: at(c[0], c[1], c[2]), u: at(c[3], c[4], c[5]), v: at(c[6], c[7], c[8]) }
    }
}

/// Rounded mean of a 2x2 block `p q / s t`: the two rows averaged first, then the pair
/// (libyuv's order, which lets SIMD code average whole rows before any shuffle).
fn mean(p: i32, q: i32, s: i32, t: i32) -> i32 {
    ((p + s + 1) / 2 + (q + t + 1) / 2 + 1) / 2
}

/// RGB (3 or 4 bytes a pixel, as in [`rgb_rows`]) straight to the ladder's half-size I420
/// picture, `ceil(w/2) x ceil(h/2)`: each output pixel is the luma of the [`mean`] of its 2x2
/// source block (an odd last row or column pairs with itself), each chroma sample the chroma
/// of the mean of four such means. Within 2 of converting at full size and box-filtering
/// (`kernels::tests::fused_half_equals_convert_then_box`), with a quarter of the luma
/// arithmetic and none of the full-size picture's memory traffic.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rgb_half<const BPP: usize, const R: usize, const G: usize, const B: usize>(
    src: &[u8],
    stride: usize,
    matrix: ColorMatrix,
    w: usize,
    h: usize,
    dy: &mut [u8],
    du: &mut [u8],
    dv: &mut [u8],
    ys: usize,
    cs: usize,
    simd: bool,
) {
    let c = coefficients(matrix);
    let k = RgbCoefficients::at::<R, G, B>(&c);
    let (dw, dh) = (w.div_ceil(2), h.div_ceil(2));
    let (dcw, dch) = (dw.div_ceil(2), dh.div_ceil(2));
    let row = |r: usize| &src[r.min(h - 1) * stride..r.min(h - 1) * stride + w * BPP];
    // The mean pixel of output (x, y), as [R, G, B].
    let px = |x: usize, y: usize| {
        let (a, b) = (row(2 * y), row(2 * y + 1));
        let (x0, x1) = (2 * x * BPP, (2 * x + 1).min(w - 1) * BPP);
        [R, G, B].map(|o| mean(a[x0 + o] as i32, a[x1 + o] as i32, b[x0 + o] as i32, b[x1 + o] as i32))
    };
    for cy in 0..dch {
        let (ya, yb) = (2 * cy, (2 * cy + 1).min(dh - 1));
        let (top, bottom) = dy.split_at_mut(yb * ys);
        let (y0, y1) = (&mut top[ya * ys..], &mut bottom[..dw]);
        let (u, v) = (&mut du[cy * cs..cy * cs + dcw], &mut dv[cy * cs..cy * cs + dcw]);
        // Two distinct output rows: four source rows (the last repeated at an odd bottom).
        let done = if simd && yb != ya {
            let rows = [row(2 * ya), row(2 * ya + 1), row(2 * yb), row(2 * yb + 1)];
            simd_rgb_half::<BPP>(rows, &mut y0[..dw], y1, u, v, k)
        } else {
            0
        };
        for x in done..dw {
            let [r, g, b] = px(x, ya);
            let yv = luma(&c, r, g, b);
            if yb == ya {
                // An odd last output row: it lives in the bottom half.
                y1[x] = yv;
            } else {
                y0[x] = yv;
                let [r, g, b] = px(x, yb);
                y1[x] = luma(&c, r, g, b);
            }
        }
        for cx in done / 2..dcw {
            let (xa, xb) = (2 * cx, (2 * cx + 1).min(dw - 1));
            let (p, q, s, t) = (px(xa, ya), px(xb, ya), px(xa, yb), px(xb, yb));
            let m = |i: usize| mean(p[i], q[i], s[i], t[i]);
            (u[cx], v[cx]) = chroma(&c, m(0), m(1), m(2));
        }
    }
}

/// [`rgb_half`]'s SIMD rows: output pixels of each row done (chroma: half).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn simd_rgb_half<const BPP: usize>(
    rows: [&[u8]; 4],
    y0: &mut [u8],
    y1: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
    k: RgbCoefficients,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        return unsafe { x86::rgb_half_avx2::<BPP>(rows, y0, y1, u, v, k.y, (k.u, k.v)) };
    }
    0
}

/// Without AVX2, RGB24 goes through the 4-byte SIMD kernels a chunk of this many pixels at a
/// time, widened to 4 bytes a pixel in a stack buffer (NEON `vld3`/`vst4`; scalar on SSE2).
const RGB24_CHUNK: usize = 64;

/// Widens `dst.len() / 4` RGB24 pixels of `src` to 4 bytes each (the fourth byte 0).
fn widen_rgb24(src: &[u8], dst: &mut [u8]) {
    let done = simd_widen_rgb24(src, dst);
    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)).skip(done) {
        d[..3].copy_from_slice(s);
        d[3] = 0;
    }
}

/// A pair of RGB24 rows (`a` over `b`, whole pixel pairs only) by whole chunks: each chunk
/// of both rows widened once, then the luma of both (`y1` empty when `b` is `a`, an odd last
/// row) and their chroma. Returns how many pixels of each row it did (chroma: half).
#[allow(clippy::too_many_arguments)]
fn rgb24_pair_chunks(
    a: &[u8],
    b: &[u8],
    y0: &mut [u8],
    y1: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
    k: RgbCoefficients,
) -> usize {
    let (mut wa, mut wb) = ([0u8; 4 * RGB24_CHUNK], [0u8; 4 * RGB24_CHUNK]);
    let (n, half) = (a.len() / 3, RGB24_CHUNK / 2);
    let mut done = 0;
    while done + RGB24_CHUNK <= n {
        let (px, c) = (done..done + RGB24_CHUNK, done / 2..done / 2 + half);
        widen_rgb24(&a[3 * done..], &mut wa);
        let mut whole = simd_rgba_luma(&wa, &mut y0[px.clone()], k.y) == RGB24_CHUNK;
        if y1.is_empty() {
            wb = wa;
        } else {
            widen_rgb24(&b[3 * done..], &mut wb);
            whole &= simd_rgba_luma(&wb, &mut y1[px], k.y) == RGB24_CHUNK;
        }
        whole &= simd_rgba_chroma(&wa, &wb, &mut u[c.clone()], &mut v[c], k.u, k.v) == half;
        if !whole {
            // A kernel left part of the chunk: the caller's scalar code redoes it all.
            break;
        }
        done += RGB24_CHUNK;
    }
    done
}

/// RGB24 straight from the rows where the CPU can widen in registers (AVX2): the luma of
/// both rows and their chroma, as (pixels of `a`, pixels of `b`, chroma samples) done; `None`
/// where the chunked widening path is used instead.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn simd_rgb24_pair(
    a: &[u8],
    b: &[u8],
    y0: &mut [u8],
    y1: &mut [u8],
    pa: &[u8],
    pb: &[u8],
    u: &mut [u8],
    v: &mut [u8],
    k: RgbCoefficients,
) -> Option<(usize, usize, usize)> {
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        return unsafe {
            Some((
                x86::rgb_luma_avx2::<3>(a, y0, k.y),
                x86::rgb_luma_avx2::<3>(b, y1, k.y),
                x86::rgb_chroma_avx2::<3>(pa, pb, u, v, k.u, k.v),
            ))
        };
    }
    None
}

/// Luma of both rows and their chroma in one pass (AVX2): pixels of each row done.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn simd_rgb_pair<const BPP: usize>(
    a: &[u8],
    b: &[u8],
    y0: &mut [u8],
    y1: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
    k: RgbCoefficients,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        return unsafe { x86::rgb_pair_avx2::<BPP>(a, b, y0, y1, u, v, k.y, (k.u, k.v)) };
    }
    0
}

#[cfg(target_arch = "x86_64")]
fn simd_widen_rgb24(_: &[u8], _: &mut [u8]) -> usize {
    // With AVX2, RGB24 is widened in registers (`simd_rgb24_pair`); without, here by scalar code.
    0
}
#[cfg(target_arch = "aarch64")]
fn simd_widen_rgb24(src: &[u8], dst: &mut [u8]) -> usize {
    neon::widen_rgb24(src, dst)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_widen_rgb24(_: &[u8], _: &mut [u8]) -> usize {
    0
}

#[cfg(target_arch = "x86_64")]
fn simd_rgba_luma(row: &[u8], y: &mut [u8], k: [i16; 4]) -> usize {
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        let done = unsafe { x86::rgb_luma_avx2::<4>(row, y, k) };
        done + x86::rgba_luma(&row[4 * done..], &mut y[done..], k)
    } else {
        x86::rgba_luma(row, y, k)
    }
}
#[cfg(target_arch = "aarch64")]
fn simd_rgba_luma(row: &[u8], y: &mut [u8], k: [i16; 4]) -> usize {
    neon::rgba_luma(row, y, k)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_rgba_luma(_: &[u8], _: &mut [u8], _: [i16; 4]) -> usize {
    0
}
#[cfg(target_arch = "x86_64")]
fn simd_rgba_chroma(a: &[u8], b: &[u8], u: &mut [u8], v: &mut [u8], ku: [i16; 4], kv: [i16; 4]) -> usize {
    if x86::has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        let done = unsafe { x86::rgb_chroma_avx2::<4>(a, b, u, v, ku, kv) };
        done + x86::rgba_chroma(&a[8 * done..], &b[8 * done..], &mut u[done..], &mut v[done..], ku, kv)
    } else {
        x86::rgba_chroma(a, b, u, v, ku, kv)
    }
}
#[cfg(target_arch = "aarch64")]
fn simd_rgba_chroma(a: &[u8], b: &[u8], u: &mut [u8], v: &mut [u8], ku: [i16; 4], kv: [i16; 4]) -> usize {
    neon::rgba_chroma(a, b, u, v, ku, kv)
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_rgba_chroma(_: &[u8], _: &[u8], _: &mut [u8], _: &mut [u8], _: [i16; 4], _: [i16; 4]) -> usize {
    0
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
            // NV21 is the same with the chroma order swapped.
            let f = CaptureFrame { format: PixelFormat::Nv21, ..f };
            let mut out21 = I420Buffer::default();
            to_i420(&f, &mut out21).unwrap();
            assert_eq!(out21.planes().1, out.planes().2);
            assert_eq!(out21.planes().2, out.planes().1);
        }
    }

    #[test]
    fn i420_and_yv12_round_trip() {
        let mut a = I420Buffer::new(7, 5).unwrap();
        let (y, u, v) = a.planes_mut();
        y.copy_from_slice(&pattern(35, 3));
        u.copy_from_slice(&pattern(12, 4));
        v.copy_from_slice(&pattern(12, 5));
        let mut b = I420Buffer::default();
        to_i420(&a.as_capture(0), &mut b).unwrap();
        assert_eq!(a, b);
        let mut f = a.as_capture(0);
        f.format = PixelFormat::Yv12;
        f.planes.swap(1, 2);
        to_i420(&f, &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    #[cfg_attr(miri, ignore = "2 MiB planes are slow under Miri, and its build has no rep movsb path")]
    fn planes_of_a_megabyte_and_more_copy_exactly() {
        // 1920x1088: the luma plane (2 MiB) goes through `copy_bytes`' large-copy path
        // (`rep movsb` on x86-64 CPUs with ERMS), the chroma planes through the small one.
        let (w, h) = (1920u32, 1088u32);
        let mut a = I420Buffer::new(w, h).unwrap();
        let (y, u, v) = a.planes_mut();
        y.copy_from_slice(&pattern(y.len(), 9));
        u.copy_from_slice(&pattern(u.len(), 10));
        v.copy_from_slice(&pattern(v.len(), 11));
        let mut b = I420Buffer::default();
        to_i420(&a.as_capture(0), &mut b).unwrap();
        assert_eq!(a, b);
        let mut big = vec![0u8; (1 << 20) + 77];
        let src = pattern(big.len(), 12);
        copy_bytes(&src, &mut big);
        assert_eq!(src, big);
    }

    /// Packs an I420 image as YUYV or UYVY with both rows of a chroma pair equal, so that
    /// converting back is exact.
    fn pack422(src: &I420Buffer, uyvy: bool, stride: usize) -> Vec<u8> {
        let (w, h) = (src.width() as usize, src.height() as usize);
        let cw = w.div_ceil(2);
        let (y, u, v) = src.planes();
        let mut out = vec![0xAAu8; stride * h];
        for r in 0..h {
            for x in 0..cw {
                let y0 = y[r * w + 2 * x];
                let y1 = if 2 * x + 1 < w { y[r * w + 2 * x + 1] } else { 0 };
                let (cu, cv) = (u[(r / 2) * cw + x], v[(r / 2) * cw + x]);
                let m = if uyvy { [cu, y0, cv, y1] } else { [y0, cu, y1, cv] };
                out[r * stride + 4 * x..r * stride + 4 * x + 4].copy_from_slice(&m);
            }
        }
        out
    }

    #[test]
    fn yuyv_and_uyvy_convert_exactly_at_odd_sizes() {
        for (w, h) in [(1u32, 1u32), (2, 2), (5, 3), (17, 9)] {
            let mut img = I420Buffer::new(w, h).unwrap();
            let (y, u, v) = img.planes_mut();
            let (ny, nc) = (y.len(), u.len());
            y.copy_from_slice(&pattern(ny, 9));
            u.copy_from_slice(&pattern(nc, 10));
            v.copy_from_slice(&pattern(nc, 11));
            for (uyvy, format) in [(false, PixelFormat::Yuyv), (true, PixelFormat::Uyvy)] {
                let stride = 4 * (w as usize).div_ceil(2) + 5;
                let packed = pack422(&img, uyvy, stride);
                let f = CaptureFrame::packed(format, w, h, &packed, stride, 0);
                let mut out = I420Buffer::default();
                to_i420(&f, &mut out).unwrap();
                assert_eq!(out, img, "{format:?} {w}x{h}");
            }
        }
    }

    #[test]
    fn packed422_chroma_is_the_rounded_mean_of_two_rows() {
        // 2x2 YUYV: row 0 has U=10, V=20; row 1 has U=13, V=21.
        let src = [1, 10, 2, 20, 3, 13, 4, 21];
        let f = CaptureFrame::packed(PixelFormat::Yuyv, 2, 2, &src, 4, 0);
        let mut out = I420Buffer::default();
        to_i420(&f, &mut out).unwrap();
        assert_eq!(out.planes(), (&[1u8, 2, 3, 4][..], &[12u8][..], &[21u8][..]));
    }

    fn reference(m: ColorMatrix, r: f64, g: f64, b: f64) -> (f64, f64, f64) {
        let (kr, kb) = if m == ColorMatrix::Bt601 { (0.299, 0.114) } else { (0.2126, 0.0722) };
        let kg = 1.0 - kr - kb;
        let y = kr * r + kg * g + kb * b;
        let (pb, pr) = ((b - y) / (2.0 * (1.0 - kb)), (r - y) / (2.0 * (1.0 - kr)));
        (16.0 + 219.0 * y / 255.0, 128.0 + 224.0 * pb / 255.0, 128.0 + 224.0 * pr / 255.0)
    }

    #[test]
    fn rgb_sources_are_within_one_of_the_reference_formula() {
        for m in [ColorMatrix::Bt601, ColorMatrix::Bt709] {
            for (format, bpp, off) in [
                (PixelFormat::Rgb24, 3, [0, 1, 2]),
                (PixelFormat::Bgra, 4, [2, 1, 0]),
                (PixelFormat::Rgba, 4, [0, 1, 2]),
            ] {
                // Flat 2x2 blocks so chroma has one well-defined colour per block.
                let (w, h) = (32usize, 8usize);
                let mut src = vec![0u8; w * h * bpp];
                for r in 0..h {
                    for x in 0..w {
                        let block = (r / 2) * 16 + x / 2;
                        let (cr, cg, cb) = ((block * 37) % 256, (block * 91) % 256, (block * 53 + 7) % 256);
                        let p = &mut src[(r * w + x) * bpp..];
                        p[off[0]] = cr as u8;
                        p[off[1]] = cg as u8;
                        p[off[2]] = cb as u8;
                    }
                }
                let f = CaptureFrame::packed(format, w as u32, h as u32, &src, w * bpp, 0);
                let mut out = I420Buffer::default();
                to_i420_with(&f, &mut out, m).unwrap();
                let (y, u, v) = out.planes();
                for r in 0..h {
                    for x in 0..w {
                        let p = &src[(r * w + x) * bpp..];
                        let (ry, ru, rv) = reference(m, p[off[0]] as f64, p[off[1]] as f64, p[off[2]] as f64);
                        assert!((y[r * w + x] as f64 - ry).abs() <= 1.0, "{m:?} {format:?} Y");
                        if r % 2 == 0 && x % 2 == 0 {
                            let c = (r / 2) * (w / 2) + x / 2;
                            assert!((u[c] as f64 - ru).abs() <= 1.5, "{m:?} {format:?} U {} vs {ru}", u[c]);
                            assert!((v[c] as f64 - rv).abs() <= 1.5, "{m:?} {format:?} V {} vs {rv}", v[c]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn simd_paths_equal_the_scalar_reference_bit_for_bit() {
        simd_matches_scalar();
        #[cfg(target_arch = "x86_64")]
        {
            x86::set_avx2_off(true);
            simd_matches_scalar();
            x86::set_avx2_off(false);
        }
    }

    fn simd_matches_scalar() {
        let mut rng = fastrand::Rng::with_seed(42);
        let mut sizes = vec![(1u32, 1u32), (2, 2), (3, 3), (31, 17), (33, 5), (64, 2), (65, 3)];
        // Miri interprets every instruction: a few sizes that still reach every SIMD path.
        let random = if cfg!(miri) { 0 } else { 40 };
        if cfg!(miri) {
            sizes.truncate(5);
            sizes.push((70, 2));
        }
        for _ in 0..random {
            sizes.push((rng.u32(1..200), rng.u32(1..40)));
        }
        for (w, h) in sizes {
            for format in PixelFormat::ALL {
                let n = format.plane_count();
                let mut planes = Vec::new();
                let mut strides = Vec::new();
                for i in 0..n {
                    let (row, rows) = format.plane_shape(i, w, h);
                    let stride = row + rng.usize(0..9);
                    // One spare byte in front so the plane starts unaligned.
                    let data: Vec<u8> = (0..stride * rows + 1).map(|_| rng.u8(..)).collect();
                    planes.push(data);
                    strides.push(stride);
                }
                let mut f = CaptureFrame::packed(format, w, h, &planes[0][1..], strides[0], 0);
                for i in 1..n {
                    f.planes[i] = crate::frame::Plane { data: &planes[i][1..], stride: strides[i] };
                }
                let (mut a, mut b) = (I420Buffer::default(), I420Buffer::default());
                for m in [ColorMatrix::Bt601, ColorMatrix::Bt709] {
                    to_i420_scalar(&f, &mut a, m).unwrap();
                    to_i420_with(&f, &mut b, m).unwrap();
                    assert_eq!(a, b, "{format:?} {w}x{h} {m:?}");
                }
            }
            let mut src = I420Buffer::new(w, h).unwrap();
            let (y, u, v) = src.planes_mut();
            y.iter_mut().chain(u.iter_mut()).chain(v.iter_mut()).for_each(|p| *p = rng.u8(..));
            let (mut a, mut b) = (I420Buffer::default(), I420Buffer::default());
            scale::scale_i420_half_scalar(&src, &mut a).unwrap();
            scale_i420_half(&src, &mut b).unwrap();
            assert_eq!(a, b, "half {w}x{h}");
            for (dw, dh) in [(w * 2 / 3 + 1, h * 3 / 4 + 1), (w + 7, h + 1), ((w / 3).max(1), (h / 2).max(1))] {
                scale::scale_i420_bilinear_scalar(&src, dw, dh, &mut a).unwrap();
                scale_i420_bilinear(&src, dw, dh, &mut b).unwrap();
                assert_eq!(a, b, "bilinear {w}x{h} -> {dw}x{dh}");
            }
        }
    }

    #[test]
    fn fused_half_equals_convert_then_box() {
        let mut rng = fastrand::Rng::with_seed(11);
        // 1101 wide: NV12 chroma spans more than one split chunk, ending on an odd one.
        let sizes: &[(u32, u32)] =
            if cfg!(miri) { &[(7, 5)] } else { &[(1, 1), (2, 2), (7, 5), (64, 48), (131, 77), (1101, 5), (2050, 4)] };
        for &(w, h) in sizes {
            for format in PixelFormat::ALL {
                let (planes, strides): (Vec<Vec<u8>>, Vec<usize>) = (0..format.plane_count())
                    .map(|i| {
                        let (row, rows) = format.plane_shape(i, w, h);
                        let stride = row + rng.usize(0..5);
                        ((0..stride * rows).map(|_| rng.u8(..)).collect(), stride)
                    })
                    .unzip();
                let mut f = CaptureFrame::packed(format, w, h, &planes[0], strides[0], 0);
                for (i, p) in planes.iter().enumerate().skip(1) {
                    f.planes[i] = crate::frame::Plane { data: p, stride: strides[i] };
                }
                let mut fused = I420Buffer::default();
                if !scale::half_fusable(format) {
                    assert!(to_i420_half(&f, &mut fused).is_err(), "{format:?}");
                    continue;
                }
                for matrix in [ColorMatrix::Bt601, ColorMatrix::Bt709] {
                    let (mut full, mut want) = (I420Buffer::default(), I420Buffer::default());
                    to_i420_with(&f, &mut full, matrix).unwrap();
                    scale_i420_half(&full, &mut want).unwrap();
                    to_i420_half_with(&f, &mut fused, matrix).unwrap();
                    // Every path of the fused kernel equals its scalar reference.
                    let mut reference = I420Buffer::default();
                    to_i420_half_scalar(&f, &mut reference, matrix).unwrap();
                    assert_eq!(fused, reference, "{format:?} {w}x{h} {matrix:?}: SIMD against scalar");
                    if matches!(format, PixelFormat::Rgb24 | PixelFormat::Bgra | PixelFormat::Rgba) {
                        // RGB: converted from the 2x2 means, within 2 of the two passes.
                        assert_eq!((fused.width(), fused.height()), (want.width(), want.height()));
                        let worst = fused.as_bytes().iter().zip(want.as_bytes()).map(|(a, b)| a.abs_diff(*b)).max();
                        assert!(worst.unwrap_or(0) <= 2, "{format:?} {w}x{h} {matrix:?}: off by {worst:?}");
                    } else {
                        assert_eq!(fused, want, "{format:?} {w}x{h}");
                    }
                }
            }
        }
    }

    #[test]
    fn bands_convert_exactly_like_one_pass() {
        let mut rng = fastrand::Rng::with_seed(5);
        // Miri: one small size still splits into bands.
        let sizes: &[(u32, u32)] = if cfg!(miri) { &[(9, 7)] } else { &[(9, 7), (64, 2), (33, 45), (130, 67)] };
        for &(w, h) in sizes {
            for format in PixelFormat::ALL {
                let planes: Vec<Vec<u8>> = (0..format.plane_count())
                    .map(|i| {
                        let (row, rows) = format.plane_shape(i, w, h);
                        (0..row * rows).map(|_| rng.u8(..)).collect()
                    })
                    .collect();
                let mut f = CaptureFrame::packed(format, w, h, &planes[0], format.plane_shape(0, w, h).0, 0);
                for (i, p) in planes.iter().enumerate().skip(1) {
                    f.planes[i] = crate::frame::Plane { data: p, stride: format.plane_shape(i, w, h).0 };
                }
                let mut want = I420Buffer::default();
                to_i420_with(&f, &mut want, ColorMatrix::Bt709).unwrap();
                for bands in 0..=4 {
                    let mut got = I420Buffer::default();
                    to_i420_in_bands(&f, &mut got, ColorMatrix::Bt709, bands).unwrap();
                    assert_eq!(got, want, "{format:?} {w}x{h} in {bands} bands");
                }
            }
        }
    }

    #[test]
    fn caller_planes_are_filled_or_refused_whole() {
        let img = {
            let mut b = I420Buffer::new(6, 4).unwrap();
            let (y, u, v) = b.planes_mut();
            y.copy_from_slice(&pattern(24, 1));
            u.copy_from_slice(&pattern(6, 2));
            v.copy_from_slice(&pattern(6, 3));
            b
        };
        let f = img.as_capture(0);
        let (mut y, mut u, mut v) = (vec![0u8; 8 * 4], vec![0u8; 5 * 2], vec![0u8; 5 * 2]);
        to_i420_planes(&f, &mut y, 8, &mut u, &mut v, 5, ColorMatrix::Bt601).unwrap();
        assert_eq!(&y[8..14], &img.planes().0[6..12]);
        assert_eq!(&u[5..8], &img.planes().1[3..6]);
        let mut short = vec![7u8; 8 * 3];
        let e = to_i420_planes(&f, &mut short, 8, &mut u, &mut v, 5, ColorMatrix::Bt601).unwrap_err();
        assert!(e.to_string().contains("destination Y plane"), "{e}");
        assert!(short.iter().all(|&b| b == 7));
        assert!(to_i420_planes(&f, &mut y, 5, &mut u, &mut v, 5, ColorMatrix::Bt601).is_err(), "stride < width");
    }

    #[test]
    fn bad_source_leaves_destination_untouched() {
        let mut dst = I420Buffer::new(4, 4).unwrap();
        let before = dst.clone();
        let y = vec![0u8; 3];
        for f in [
            CaptureFrame::nv12(4, 4, &y, 4, &y, 4, 0),
            CaptureFrame::packed(PixelFormat::Yuyv, 4, 4, &y, 8, 0),
            CaptureFrame::packed(PixelFormat::Bgra, 4, 4, &[0u8; 64], 15, 0),
        ] {
            assert!(to_i420(&f, &mut dst).is_err());
            assert_eq!(dst, before);
        }
    }
}
