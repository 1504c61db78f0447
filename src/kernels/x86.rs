//! SSE2 row kernels (x86-64 baseline, so no run-time detection is needed). Each processes
//! the bulk of a row with 16-byte vectors and leaves the tail to the caller's scalar code;
//! each equals the scalar reference bit for bit (tested in `super::tests`).

#![allow(unsafe_code)]

use std::arch::x86_64::*;

/// Splits interleaved pairs into two rows: `a[i] = src[2i]`, `b[i] = src[2i + 1]`. Returns
/// how many pairs it handled (a multiple of 16).
pub(super) fn deinterleave(src: &[u8], a: &mut [u8], b: &mut [u8]) -> usize {
    let n = a.len().min(b.len()).min(src.len() / 2) / 16 * 16;
    let mask = unsafe { _mm_set1_epi16(0x00ff) };
    let mut i = 0;
    while i < n {
        // SAFETY: i + 16 <= n pairs, so 32 source bytes and 16 bytes of each output exist;
        // unaligned loads and stores are used throughout.
        unsafe {
            let s0 = _mm_loadu_si128(src.as_ptr().add(2 * i).cast());
            let s1 = _mm_loadu_si128(src.as_ptr().add(2 * i + 16).cast());
            let lo = _mm_packus_epi16(_mm_and_si128(s0, mask), _mm_and_si128(s1, mask));
            let hi = _mm_packus_epi16(_mm_srli_epi16(s0, 8), _mm_srli_epi16(s1, 8));
            _mm_storeu_si128(a.as_mut_ptr().add(i).cast(), lo);
            _mm_storeu_si128(b.as_mut_ptr().add(i).cast(), hi);
        }
        i += 16;
    }
    n
}

/// One packed 4:2:2 row's luma: `y[x]` from the Y bytes of each 4-byte macropixel.
/// `y_odd` says whether luma sits in the odd bytes (UYVY) or the even ones (YUYV).
/// Returns how many luma samples it wrote (a multiple of 16).
pub(super) fn packed422_luma(row: &[u8], y: &mut [u8], y_odd: bool) -> usize {
    let n = y.len().min(row.len() / 2) / 16 * 16;
    let mask = unsafe { _mm_set1_epi16(0x00ff) };
    let mut i = 0;
    while i < n {
        // SAFETY: 32 row bytes and 16 output bytes exist at these offsets.
        unsafe {
            let s0 = _mm_loadu_si128(row.as_ptr().add(2 * i).cast());
            let s1 = _mm_loadu_si128(row.as_ptr().add(2 * i + 16).cast());
            let (a, b) = if y_odd {
                (_mm_srli_epi16(s0, 8), _mm_srli_epi16(s1, 8))
            } else {
                (_mm_and_si128(s0, mask), _mm_and_si128(s1, mask))
            };
            _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), _mm_packus_epi16(a, b));
        }
        i += 16;
    }
    n
}

/// Chroma of two packed 4:2:2 rows: per macropixel, `u = avg(row0.u, row1.u)` and likewise
/// for v, with `(a + b + 1) >> 1` rounding. `c_odd` says whether chroma sits in the odd
/// bytes (YUYV) or the even ones (UYVY). Returns how many chroma pairs it wrote (a
/// multiple of 8).
pub(super) fn packed422_chroma(r0: &[u8], r1: &[u8], u: &mut [u8], v: &mut [u8], c_odd: bool) -> usize {
    let n = u.len().min(v.len()).min(r0.len() / 4).min(r1.len() / 4) / 8 * 8;
    let mask = unsafe { _mm_set1_epi16(0x00ff) };
    let mut i = 0;
    while i < n {
        // SAFETY: 32 bytes of each row and 8 bytes of each output exist at these offsets.
        unsafe {
            let a = _mm_loadu_si128(r0.as_ptr().add(4 * i).cast());
            let b = _mm_loadu_si128(r0.as_ptr().add(4 * i + 16).cast());
            let c = _mm_loadu_si128(r1.as_ptr().add(4 * i).cast());
            let d = _mm_loadu_si128(r1.as_ptr().add(4 * i + 16).cast());
            // Rows averaged first (pavgb rounds up, as the reference does).
            let (m0, m1) = (_mm_avg_epu8(a, c), _mm_avg_epu8(b, d));
            // Keep the chroma bytes: 16 bytes of U V U V ...
            let (c0, c1) = if c_odd {
                (_mm_srli_epi16(m0, 8), _mm_srli_epi16(m1, 8))
            } else {
                (_mm_and_si128(m0, mask), _mm_and_si128(m1, mask))
            };
            let uv = _mm_packus_epi16(c0, c1);
            let uu = _mm_packus_epi16(_mm_and_si128(uv, mask), _mm_setzero_si128());
            let vv = _mm_packus_epi16(_mm_srli_epi16(uv, 8), _mm_setzero_si128());
            _mm_storel_epi64(u.as_mut_ptr().add(i).cast(), uu);
            _mm_storel_epi64(v.as_mut_ptr().add(i).cast(), vv);
        }
        i += 8;
    }
    n
}

/// One output row of the 2x2 box filter: `out[x] = (r0[2x] + r0[2x+1] + r1[2x] + r1[2x+1] + 2) >> 2`.
/// Returns how many outputs it wrote (a multiple of 8).
pub(super) fn half_row(r0: &[u8], r1: &[u8], out: &mut [u8]) -> usize {
    let n = out.len().min(r0.len() / 2).min(r1.len() / 2) / 8 * 8;
    let mask = unsafe { _mm_set1_epi16(0x00ff) };
    let two = unsafe { _mm_set1_epi16(2) };
    let mut i = 0;
    while i < n {
        // SAFETY: 16 bytes of each row and 8 output bytes exist at these offsets.
        unsafe {
            let a = _mm_loadu_si128(r0.as_ptr().add(2 * i).cast());
            let b = _mm_loadu_si128(r1.as_ptr().add(2 * i).cast());
            let sum_a = _mm_add_epi16(_mm_and_si128(a, mask), _mm_srli_epi16(a, 8));
            let sum_b = _mm_add_epi16(_mm_and_si128(b, mask), _mm_srli_epi16(b, 8));
            let s = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(sum_a, sum_b), two), 2);
            _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), _mm_packus_epi16(s, s));
        }
        i += 8;
    }
    n
}

static AVX2_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the AVX2 paths run: the CPU has AVX2 (checked once) and tests did not turn them
/// off to exercise the SSE2 paths.
pub(super) fn has_avx2() -> bool {
    use std::sync::OnceLock;
    static AVX2: OnceLock<bool> = OnceLock::new();
    *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
        && !AVX2_OFF.load(std::sync::atomic::Ordering::Relaxed)
}

/// Turns the AVX2 paths off or back on (tests; the results are the same either way).
#[cfg(test)]
pub(super) fn set_avx2_off(off: bool) {
    AVX2_OFF.store(off, std::sync::atomic::Ordering::Relaxed);
}

/// Reorders the 64-bit quarters `[a0 a1 b0 b1]` produced by a lane-wise pack of `a` and `b`
/// into `[a0 b0 a1 b1]`... i.e. back to memory order after `_mm256_packus_epi16`.
#[inline]
#[target_feature(enable = "avx2")]
fn fix_lanes(x: __m256i) -> __m256i {
    _mm256_permute4x64_epi64(x, 0b11_01_10_00)
}

/// AVX2 [`deinterleave`]: 32 pairs a step. Returns how many pairs it handled.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn deinterleave_avx2(src: &[u8], a: &mut [u8], b: &mut [u8]) -> usize {
    let n = a.len().min(b.len()).min(src.len() / 2) / 32 * 32;
    let mask = _mm256_set1_epi16(0x00ff);
    let mut i = 0;
    while i < n {
        // SAFETY: 64 source bytes and 32 bytes of each output exist at these offsets.
        unsafe {
            let s0 = _mm256_loadu_si256(src.as_ptr().add(2 * i).cast());
            let s1 = _mm256_loadu_si256(src.as_ptr().add(2 * i + 32).cast());
            let lo = fix_lanes(_mm256_packus_epi16(_mm256_and_si256(s0, mask), _mm256_and_si256(s1, mask)));
            let hi = fix_lanes(_mm256_packus_epi16(_mm256_srli_epi16(s0, 8), _mm256_srli_epi16(s1, 8)));
            _mm256_storeu_si256(a.as_mut_ptr().add(i).cast(), lo);
            _mm256_storeu_si256(b.as_mut_ptr().add(i).cast(), hi);
        }
        i += 32;
    }
    n
}

/// AVX2 [`packed422_luma`]: 32 samples a step.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn packed422_luma_avx2(row: &[u8], y: &mut [u8], y_odd: bool) -> usize {
    let n = y.len().min(row.len() / 2) / 32 * 32;
    let mask = _mm256_set1_epi16(0x00ff);
    let mut i = 0;
    while i < n {
        // SAFETY: 64 row bytes and 32 output bytes exist at these offsets.
        unsafe {
            let s0 = _mm256_loadu_si256(row.as_ptr().add(2 * i).cast());
            let s1 = _mm256_loadu_si256(row.as_ptr().add(2 * i + 32).cast());
            let (a, b) = if y_odd {
                (_mm256_srli_epi16(s0, 8), _mm256_srli_epi16(s1, 8))
            } else {
                (_mm256_and_si256(s0, mask), _mm256_and_si256(s1, mask))
            };
            _mm256_storeu_si256(y.as_mut_ptr().add(i).cast(), fix_lanes(_mm256_packus_epi16(a, b)));
        }
        i += 32;
    }
    n
}

/// AVX2 [`packed422_chroma`]: 16 chroma pairs a step.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn packed422_chroma_avx2(r0: &[u8], r1: &[u8], u: &mut [u8], v: &mut [u8], c_odd: bool) -> usize {
    let n = u.len().min(v.len()).min(r0.len() / 4).min(r1.len() / 4) / 16 * 16;
    let mask = _mm256_set1_epi16(0x00ff);
    let mut i = 0;
    while i < n {
        // SAFETY: 64 bytes of each row and 16 bytes of each output exist at these offsets.
        unsafe {
            let a = _mm256_loadu_si256(r0.as_ptr().add(4 * i).cast());
            let b = _mm256_loadu_si256(r0.as_ptr().add(4 * i + 32).cast());
            let c = _mm256_loadu_si256(r1.as_ptr().add(4 * i).cast());
            let d = _mm256_loadu_si256(r1.as_ptr().add(4 * i + 32).cast());
            let (m0, m1) = (_mm256_avg_epu8(a, c), _mm256_avg_epu8(b, d));
            let (c0, c1) = if c_odd {
                (_mm256_srli_epi16(m0, 8), _mm256_srli_epi16(m1, 8))
            } else {
                (_mm256_and_si256(m0, mask), _mm256_and_si256(m1, mask))
            };
            let uv = fix_lanes(_mm256_packus_epi16(c0, c1));
            let uu = fix_lanes(_mm256_packus_epi16(_mm256_and_si256(uv, mask), _mm256_setzero_si256()));
            let vv = fix_lanes(_mm256_packus_epi16(_mm256_srli_epi16(uv, 8), _mm256_setzero_si256()));
            _mm_storeu_si128(u.as_mut_ptr().add(i).cast(), _mm256_castsi256_si128(uu));
            _mm_storeu_si128(v.as_mut_ptr().add(i).cast(), _mm256_castsi256_si128(vv));
        }
        i += 16;
    }
    n
}

/// AVX2 [`half_row`]: 16 outputs a step.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn half_row_avx2(r0: &[u8], r1: &[u8], out: &mut [u8]) -> usize {
    let n = out.len().min(r0.len() / 2).min(r1.len() / 2) / 16 * 16;
    let mask = _mm256_set1_epi16(0x00ff);
    let two = _mm256_set1_epi16(2);
    let mut i = 0;
    while i < n {
        // SAFETY: 32 bytes of each row and 16 output bytes exist at these offsets.
        unsafe {
            let a = _mm256_loadu_si256(r0.as_ptr().add(2 * i).cast());
            let b = _mm256_loadu_si256(r1.as_ptr().add(2 * i).cast());
            let sum_a = _mm256_add_epi16(_mm256_and_si256(a, mask), _mm256_srli_epi16(a, 8));
            let sum_b = _mm256_add_epi16(_mm256_and_si256(b, mask), _mm256_srli_epi16(b, 8));
            let s = _mm256_srli_epi16(_mm256_add_epi16(_mm256_add_epi16(sum_a, sum_b), two), 2);
            let packed = fix_lanes(_mm256_packus_epi16(s, s));
            _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), _mm256_castsi256_si128(packed));
        }
        i += 16;
    }
    n
}
