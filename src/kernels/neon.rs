//! NEON row kernels (aarch64 baseline, so no run-time detection is needed). Each processes
//! the bulk of a row with 16-byte vectors and leaves the tail to the caller's scalar code;
//! each equals the scalar reference bit for bit (tested in `super::tests`, run under
//! qemu-user by `.ci/run`).

#![allow(unsafe_code)]

use std::arch::aarch64::*;

/// Splits interleaved pairs into two rows: `a[i] = src[2i]`, `b[i] = src[2i + 1]`. Returns
/// how many pairs it handled (a multiple of 16).
pub(super) fn deinterleave(src: &[u8], a: &mut [u8], b: &mut [u8]) -> usize {
    let n = a.len().min(b.len()).min(src.len() / 2) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n pairs, so 32 source bytes and 16 bytes of each output exist;
        // NEON loads and stores have no alignment requirement.
        unsafe {
            let s = vld2q_u8(src.as_ptr().add(2 * i));
            vst1q_u8(a.as_mut_ptr().add(i), s.0);
            vst1q_u8(b.as_mut_ptr().add(i), s.1);
        }
        i += 16;
    }
    n
}

/// Widens RGB24 pixels to 4 bytes (the fourth 0), 16 pixels a step, for as many of the
/// `dst.len() / 4` pixels as `src` holds. Returns how many it widened (a multiple of 16).
pub(super) fn widen_rgb24(src: &[u8], dst: &mut [u8]) -> usize {
    let n = (dst.len() / 4).min(src.len() / 3) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n pixels, so 48 source bytes and 64 destination bytes exist.
        unsafe {
            let p = vld3q_u8(src.as_ptr().add(3 * i));
            vst4q_u8(dst.as_mut_ptr().add(4 * i), uint8x16x4_t(p.0, p.1, p.2, vdupq_n_u8(0)));
        }
        i += 16;
    }
    n
}

/// One packed 4:2:2 row's luma (`y_odd`: luma in the odd bytes, UYVY; else YUYV). Returns
/// how many luma samples it wrote (a multiple of 16).
pub(super) fn packed422_luma(row: &[u8], y: &mut [u8], y_odd: bool) -> usize {
    let n = y.len().min(row.len() / 2) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: 32 row bytes and 16 output bytes exist at these offsets.
        unsafe {
            let s = vld2q_u8(row.as_ptr().add(2 * i));
            vst1q_u8(y.as_mut_ptr().add(i), if y_odd { s.1 } else { s.0 });
        }
        i += 16;
    }
    n
}

/// Chroma of two packed 4:2:2 rows, `(a + b + 1) >> 1` per sample (`c_odd`: chroma in the
/// odd bytes, YUYV; else UYVY). Returns how many chroma pairs it wrote (a multiple of 16).
pub(super) fn packed422_chroma(r0: &[u8], r1: &[u8], u: &mut [u8], v: &mut [u8], c_odd: bool) -> usize {
    let n = u.len().min(v.len()).min(r0.len() / 4).min(r1.len() / 4) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: 64 bytes of each row and 16 bytes of each output exist at these offsets.
        unsafe {
            // Lanes 0..4 hold byte 0..4 of 16 macropixels.
            let a = vld4q_u8(r0.as_ptr().add(4 * i));
            let b = vld4q_u8(r1.as_ptr().add(4 * i));
            let (ua, va, ub, vb) = if c_odd { (a.1, a.3, b.1, b.3) } else { (a.0, a.2, b.0, b.2) };
            vst1q_u8(u.as_mut_ptr().add(i), vrhaddq_u8(ua, ub));
            vst1q_u8(v.as_mut_ptr().add(i), vrhaddq_u8(va, vb));
        }
        i += 16;
    }
    n
}

/// One row of the 2x2 box downscale: `out[x] = (r0[2x] + r0[2x+1] + r1[2x] + r1[2x+1] + 2) >> 2`.
/// Returns how many outputs it wrote (a multiple of 16).
pub(super) fn half_row(r0: &[u8], r1: &[u8], out: &mut [u8]) -> usize {
    let n = out.len().min(r0.len() / 2).min(r1.len() / 2) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: 32 bytes of each source row and 16 output bytes exist at these offsets.
        unsafe {
            let a = vld1q_u8_x2(r0.as_ptr().add(2 * i));
            let b = vld1q_u8_x2(r1.as_ptr().add(2 * i));
            // Pairwise sums of row 0, plus those of row 1: four samples per u16 lane.
            let lo = vpadalq_u8(vpaddlq_u8(a.0), b.0);
            let hi = vpadalq_u8(vpaddlq_u8(a.1), b.1);
            // Rounding narrow: (sum + 2) >> 2.
            vst1q_u8(out.as_mut_ptr().add(i), vcombine_u8(vrshrn_n_u16::<2>(lo), vrshrn_n_u16::<2>(hi)));
        }
        i += 16;
    }
    n
}

/// `acc + k * x` (k >= 0) or `acc - |k| * x` per lane, in wrapping u16 arithmetic.
#[inline(always)]
unsafe fn mac(acc: uint16x8_t, x: uint8x8_t, k: i16) -> uint16x8_t {
    // SAFETY (caller): NEON is baseline on aarch64; pure register arithmetic.
    unsafe {
        if k >= 0 {
            vmlal_u8(acc, x, vdup_n_u8(k as u8))
        } else {
            vmlsl_u8(acc, x, vdup_n_u8(k.unsigned_abs() as u8))
        }
    }
}

/// Luma of one row of 4-byte pixels: `((k . p + 128) >> 8) + 16` with `k` the luma
/// coefficients at each byte position (alpha 0). The coefficients are positive and the sum
/// fits 16 bits, so unsigned 16-bit lanes give the scalar result exactly. Returns how many
/// samples it wrote (a multiple of 16).
pub(super) fn rgba_luma(row: &[u8], y: &mut [u8], k: [i16; 4]) -> usize {
    if k.iter().any(|&c| !(0..=255).contains(&c)) {
        return 0;
    }
    let n = y.len().min(row.len() / 4) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: 64 row bytes and 16 output bytes exist at these offsets.
        unsafe {
            let p = vld4q_u8(row.as_ptr().add(4 * i));
            let ch = [p.0, p.1, p.2, p.3];
            let (mut lo, mut hi) = (vdupq_n_u16(0), vdupq_n_u16(0));
            for (c, &kk) in ch.iter().zip(k.iter()) {
                lo = mac(lo, vget_low_u8(*c), kk);
                hi = mac(hi, vget_high_u8(*c), kk);
            }
            // (sum + 128) >> 8, then + 16.
            let yv = vcombine_u8(vrshrn_n_u16::<8>(lo), vrshrn_n_u16::<8>(hi));
            vst1q_u8(y.as_mut_ptr().add(i), vaddq_u8(yv, vdupq_n_u8(16)));
        }
        i += 16;
    }
    n
}

/// Chroma of two rows of 4-byte pixels: the matrix applied to the rounded mean of each 2x2
/// block (rows first, then pairs, as the scalar reference), plus 128 (`+ 32896 >> 8`). The
/// result lies in 0..65535 before the shift, so wrapping 16-bit lanes give it exactly.
/// Returns how many chroma samples it wrote (a multiple of 16).
pub(super) fn rgba_chroma(r0: &[u8], r1: &[u8], u: &mut [u8], v: &mut [u8], ku: [i16; 4], kv: [i16; 4]) -> usize {
    if ku.iter().chain(kv.iter()).any(|&c| !(-255..=255).contains(&c)) {
        return 0;
    }
    let n = u.len().min(v.len()).min(r0.len() / 8).min(r1.len() / 8) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: 128 bytes of each row (32 pixels) and 16 bytes of each output exist.
        unsafe {
            // Per channel, the rows averaged (rounded), 32 pixels as two halves.
            let rows = |o: usize| {
                let (a, b) = (vld4q_u8(r0.as_ptr().add(o)), vld4q_u8(r1.as_ptr().add(o)));
                [vrhaddq_u8(a.0, b.0), vrhaddq_u8(a.1, b.1), vrhaddq_u8(a.2, b.2), vrhaddq_u8(a.3, b.3)]
            };
            let (h0, h1) = (rows(8 * i), rows(8 * i + 64));
            let mut uo = [vdupq_n_u16(32896); 2];
            let mut vo = [vdupq_n_u16(32896); 2];
            for c in 0..4 {
                // Then the rounded mean of each horizontal pair.
                let mean = vrhaddq_u8(vuzp1q_u8(h0[c], h1[c]), vuzp2q_u8(h0[c], h1[c]));
                for (half, x) in [vget_low_u8(mean), vget_high_u8(mean)].into_iter().enumerate() {
                    uo[half] = mac(uo[half], x, ku[c]);
                    vo[half] = mac(vo[half], x, kv[c]);
                }
            }
            vst1q_u8(u.as_mut_ptr().add(i), vcombine_u8(vshrn_n_u16::<8>(uo[0]), vshrn_n_u16::<8>(uo[1])));
            vst1q_u8(v.as_mut_ptr().add(i), vcombine_u8(vshrn_n_u16::<8>(vo[0]), vshrn_n_u16::<8>(vo[1])));
        }
        i += 16;
    }
    n
}
