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
