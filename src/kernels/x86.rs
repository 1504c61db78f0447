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

/// Copies at least this long go through `rep movsb` when the CPU has ERMS (see
/// `super::copy_bytes`).
pub(super) const REP_MOVSB_FROM: usize = 1 << 20;

/// Whether the CPU reports enhanced `rep movsb` (CPUID leaf 7, EBX bit 9).
pub(super) fn has_erms() -> bool {
    use std::sync::OnceLock;
    static ERMS: OnceLock<bool> = OnceLock::new();
    *ERMS.get_or_init(|| {
        // Leaf 7 only when the highest leaf reports it.
        __cpuid(0).eax >= 7 && __cpuid_count(7, 0).ebx & (1 << 9) != 0
    })
}

/// Copies `src` into `dst` (equal lengths) with `rep movsb`.
pub(super) fn copy_rep_movsb(src: &[u8], dst: &mut [u8]) {
    assert_eq!(src.len(), dst.len(), "copy_rep_movsb needs equal lengths");
    // SAFETY: rcx bytes are read from rsi and written to rdi; both slices hold that many,
    // and they cannot overlap (one is borrowed mutably). The direction flag is clear per the
    // ABI.
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") src.len() => _,
            inout("rsi") src.as_ptr() => _,
            inout("rdi") dst.as_mut_ptr() => _,
            options(nostack, preserves_flags)
        );
    }
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

/// [`half_row_avx2`], then [`half_row`] for what is left of the row (8 outputs a step).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn half_row_avx2_then_sse2(r0: &[u8], r1: &[u8], out: &mut [u8]) -> usize {
    // SAFETY: the caller guarantees AVX2.
    let done = unsafe { half_row_avx2(r0, r1, out) };
    done + half_row(&r0[2 * done..], &r1[2 * done..], &mut out[done..])
}

/// The box filter over every output row of a plane (`dh` rows of `dw` from `h` rows of `w`,
/// strides `ss` and `ds`), in one call: per-row dispatch costs about as much as the filter
/// itself on a small plane. Returns how many leading columns of each row it wrote.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn half_rows_avx2(
    src: &[u8],
    ss: usize,
    w: usize,
    h: usize,
    dst: &mut [u8],
    ds: usize,
    dw: usize,
    dh: usize,
) -> usize {
    let mut done = 0;
    for r in 0..dh {
        let (r0, r1) = super::scale::box_rows(src, ss, w, h, r);
        // SAFETY: the caller guarantees AVX2.
        done = unsafe { half_row_avx2_then_sse2(r0, r1, &mut dst[r * ds..r * ds + dw]) };
    }
    done
}

/// How far ahead of the box filter's loads the source rows are prefetched.
const BOX_PREFETCH_BYTES: usize = 256;

/// AVX2 [`half_row`]: 32 outputs a step.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn half_row_avx2(r0: &[u8], r1: &[u8], out: &mut [u8]) -> usize {
    let n = out.len().min(r0.len() / 2).min(r1.len() / 2) / 32 * 32;
    let ones = _mm256_set1_epi8(1);
    let two = _mm256_set1_epi16(2);
    let mut i = 0;
    while i < n {
        // SAFETY: 64 bytes of each row and 32 output bytes exist at these offsets.
        unsafe {
            // Both source rows four cache lines ahead: measured in alternation with libyuv
            // (`SEALCAM_BENCH_PAIRED=box`), 1.03-1.06x -> 0.97-0.99x at 720p and 1080p; the
            // hardware prefetcher alone falls behind on two strided rows. (The address may
            // lie past the row: a prefetch never faults.)
            _mm_prefetch::<_MM_HINT_T0>(r0.as_ptr().wrapping_add(2 * i + BOX_PREFETCH_BYTES).cast());
            _mm_prefetch::<_MM_HINT_T0>(r1.as_ptr().wrapping_add(2 * i + BOX_PREFETCH_BYTES).cast());
            // Pair sums of each row (pmaddubsw by ones), the two rows added, rounded, / 4.
            let box4 = |k: usize| {
                let a = _mm256_loadu_si256(r0.as_ptr().add(2 * i + 32 * k).cast());
                let b = _mm256_loadu_si256(r1.as_ptr().add(2 * i + 32 * k).cast());
                let sum = _mm256_add_epi16(_mm256_maddubs_epi16(a, ones), _mm256_maddubs_epi16(b, ones));
                _mm256_srli_epi16::<2>(_mm256_add_epi16(sum, two))
            };
            let packed = fix_lanes(_mm256_packus_epi16(box4(0), box4(1)));
            _mm256_storeu_si256(out.as_mut_ptr().add(i).cast(), packed);
        }
        i += 32;
    }
    n
}

/// Horizontal bilinear taps, 8 outputs a step: `out[k] = (row[o] (w & 0xffff) + row[o + 1]
/// (w >> 16) + 128) >> 8` with `o = offsets[k]`, `w = weights[k]` (one gather of 4 bytes at
/// each offset, `pmaddwd` of the pair by the weights). Offsets are clamped to the row so no
/// load leaves it. Returns how many outputs it wrote (a multiple of 8).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn bilinear_taps_avx2(row: &[u8], offsets: &[i32], weights: &[i32], out: &mut [u8]) -> usize {
    if row.len() < 4 || row.len() > i32::MAX as usize {
        return 0;
    }
    let n = out.len().min(offsets.len()).min(weights.len()) / 8 * 8;
    let (zero, last) = (_mm256_setzero_si256(), _mm256_set1_epi32((row.len() - 4) as i32));
    let (low, high, round) = (_mm256_set1_epi32(0xff), _mm256_set1_epi32(0xff00), _mm256_set1_epi32(128));
    let mut i = 0;
    while i < n {
        // SAFETY: 8 offsets, weights and outputs exist at i; every gathered offset is clamped
        // to [0, row.len() - 4], so each 4-byte load stays inside the row.
        unsafe {
            let o = _mm256_loadu_si256(offsets.as_ptr().add(i).cast());
            let o = _mm256_min_epi32(_mm256_max_epi32(o, zero), last);
            let g = _mm256_i32gather_epi32::<1>(row.as_ptr().cast(), o);
            // The two neighbours as 16-bit halves of each lane, times the weight pair.
            let pair = _mm256_or_si256(_mm256_and_si256(g, low), _mm256_slli_epi32::<8>(_mm256_and_si256(g, high)));
            let w = _mm256_loadu_si256(weights.as_ptr().add(i).cast());
            let v = _mm256_srli_epi32::<8>(_mm256_add_epi32(_mm256_madd_epi16(pair, w), round));
            let bytes = _mm256_packus_epi16(_mm256_packus_epi32(v, v), zero);
            let p = out.as_mut_ptr().add(i) as *mut i32;
            p.write_unaligned(_mm_cvtsi128_si32(_mm256_castsi256_si128(bytes)));
            p.add(1).write_unaligned(_mm_cvtsi128_si32(_mm256_extracti128_si256::<1>(bytes)));
        }
        i += 8;
    }
    n
}

/// Sums of adjacent 32-bit lane pairs of `lo` and `hi`: `[lo0+lo1, lo2+lo3, hi0+hi1, hi2+hi3]`.
#[inline]
fn pair_sums(lo: __m128i, hi: __m128i) -> __m128i {
    // SAFETY: plain SSE2 register operations.
    unsafe {
        let (l, h) = (_mm_castsi128_ps(lo), _mm_castsi128_ps(hi));
        let even = _mm_castps_si128(_mm_shuffle_ps(l, h, 0b10_00_10_00));
        let odd = _mm_castps_si128(_mm_shuffle_ps(l, h, 0b11_01_11_01));
        _mm_add_epi32(even, odd)
    }
}

/// `(sum(coef . pixel) + add) >> 8` for four 4-byte pixels in `px` (coefficients per byte
/// position in `coef`, repeated twice), as four i32 lanes.
#[inline]
fn dot4(px: __m128i, coef: __m128i, add: __m128i) -> __m128i {
    // SAFETY: plain SSE2 register operations.
    unsafe {
        let zero = _mm_setzero_si128();
        let lo = _mm_madd_epi16(_mm_unpacklo_epi8(px, zero), coef);
        let hi = _mm_madd_epi16(_mm_unpackhi_epi8(px, zero), coef);
        _mm_srai_epi32(_mm_add_epi32(pair_sums(lo, hi), add), 8)
    }
}

/// Luma of one row of 4-byte pixels: `y = ((c . px + 128) >> 8) + 16`, `coef` holding the
/// luma coefficients at the byte positions of R, G, B (0 for alpha). Returns how many
/// pixels it handled (a multiple of 16).
pub(super) fn rgba_luma(row: &[u8], y: &mut [u8], coef: [i16; 4]) -> usize {
    let n = y.len().min(row.len() / 4) / 16 * 16;
    // SAFETY: register setup only.
    let (cv, add, sixteen) = unsafe {
        (
            _mm_setr_epi16(coef[0], coef[1], coef[2], coef[3], coef[0], coef[1], coef[2], coef[3]),
            _mm_set1_epi32(128),
            _mm_set1_epi16(16),
        )
    };
    let mut i = 0;
    while i < n {
        // SAFETY: 64 row bytes and 16 output bytes exist at these offsets.
        unsafe {
            let p = row.as_ptr().add(4 * i);
            let q0 = dot4(_mm_loadu_si128(p.cast()), cv, add);
            let q1 = dot4(_mm_loadu_si128(p.add(16).cast()), cv, add);
            let q2 = dot4(_mm_loadu_si128(p.add(32).cast()), cv, add);
            let q3 = dot4(_mm_loadu_si128(p.add(48).cast()), cv, add);
            let w0 = _mm_add_epi16(_mm_packs_epi32(q0, q1), sixteen);
            let w1 = _mm_add_epi16(_mm_packs_epi32(q2, q3), sixteen);
            _mm_storeu_si128(y.as_mut_ptr().add(i).cast(), _mm_packus_epi16(w0, w1));
        }
        i += 16;
    }
    n
}

/// The four per-byte coefficients as bytes, repeated over a 256-bit register, if each fits
/// `range` (luma: unsigned bytes; chroma: signed bytes).
fn coef_bytes(k: [i16; 4], range: std::ops::RangeInclusive<i16>) -> Option<i32> {
    k.iter().all(|c| range.contains(c)).then(|| i32::from_le_bytes(k.map(|c| c as u8)))
}

/// Eight pixels of `BPP` bytes (3 or 4) at `p` as eight 4-byte pixels. RGB24 is loaded as two
/// 16-byte halves ending exactly at the 24th byte (no read past the pixels) and widened with
/// `pshufb` (the fourth byte of each pixel 0).
///
/// # Safety
/// `8 * BPP` bytes must be readable at `p`; the CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load8<const BPP: usize>(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 8 * BPP readable bytes: 32 for BPP 4; for BPP 3 the
    // halves are bytes 0..16 and 8..24.
    unsafe {
        if BPP == 4 {
            return _mm256_loadu_si256(p.cast());
        }
        let halves = _mm256_loadu2_m128i(p.add(8).cast(), p.cast());
        let widen = _mm256_setr_epi8(
            0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1, 4, 5, 6, -1, 7, 8, 9, -1, 10, 11, 12, -1, 13, 14, 15,
            -1,
        );
        _mm256_shuffle_epi8(halves, widen)
    }
}

/// `phaddw` of `a` and `b` (the sums of adjacent 16-bit pairs, `a`'s then `b`'s in each
/// 128-bit lane) for sums that fit 16 bits, as `pmaddwd` by ones and a signed pack: LLVM
/// rewrites `phaddw` into four shuffles and an add, which left the RGB kernels bound by the
/// shuffle port.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn pair_sums256(a: __m256i, b: __m256i) -> __m256i {
    let ones = _mm256_set1_epi16(1);
    _mm256_packs_epi32(_mm256_madd_epi16(a, ones), _mm256_madd_epi16(b, ones))
}

/// Luma of 32 pixels with AVX2, bit-exact with [`rgba_luma`]: `pmaddubsw` multiplies the
/// coefficients (unsigned bytes) by the pixels biased to signed bytes (`p - 128`), pair sums
/// that cannot saturate (`128 x (129 + 66)` at most), [`pair_sums256`] completes each
/// pixel's sum, and adding back `128 x sum(coef)` with the rounding and the +16 offset leaves
/// `y << 8` in an unsigned 16-bit lane.
#[derive(Clone, Copy)]
struct Luma32 {
    coef: __m256i,
    bias: __m256i,
    offset: __m256i,
    order: __m256i,
}

impl Luma32 {
    /// `None` if a coefficient does not fit an unsigned byte or their sum exceeds 255.
    #[target_feature(enable = "avx2")]
    fn new(coef: [i16; 4]) -> Option<Self> {
        let sum: i32 = coef.iter().map(|&k| k as i32).sum();
        let c = coef_bytes(coef, 0..=255).filter(|_| sum <= 255)?;
        Some(Luma32 {
            coef: _mm256_set1_epi32(c),
            bias: _mm256_set1_epi8(-128),
            offset: _mm256_set1_epi16((128 * sum + 128 + (16 << 8)) as u16 as i16),
            // After the lane-wise packs, 4-pixel groups sit in the order 0 2 4 6 1 3 5 7.
            order: _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7),
        })
    }

    /// Four registers of 8 (widened) pixels -> their 32 luma bytes, in order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn y32(&self, px: [__m256i; 4]) -> __m256i {
        let q = |k: usize| _mm256_maddubs_epi16(self.coef, _mm256_xor_si256(px[k], self.bias));
        // SAFETY: AVX2 is enabled for this function.
        let (y0, y1) = unsafe {
            (
                _mm256_srli_epi16::<8>(_mm256_add_epi16(pair_sums256(q(0), q(1)), self.offset)),
                _mm256_srli_epi16::<8>(_mm256_add_epi16(pair_sums256(q(2), q(3)), self.offset)),
            )
        };
        _mm256_permutevar8x32_epi32(_mm256_packus_epi16(y0, y1), self.order)
    }
}

/// Chroma of 32 pixels of two rows (16 samples of U and of V) with AVX2, bit-exact with
/// [`rgba_chroma`]: the 2x2 means as the reference takes them (`pavgb` of the rows, then of
/// the pairs), `pmaddubsw` of the means (unsigned) by the coefficients (signed bytes),
/// [`pair_sums256`], `+ 32896 >> 8` in unsigned 16-bit lanes (the sums stay within +-28560),
/// U and V through one pack.
#[derive(Clone, Copy)]
struct Chroma32 {
    u: __m256i,
    v: __m256i,
    add: __m256i,
    order: __m256i,
}

impl Chroma32 {
    /// `None` if a coefficient does not fit a signed byte.
    #[target_feature(enable = "avx2")]
    fn new(cu: [i16; 4], cv: [i16; 4]) -> Option<Self> {
        Some(Chroma32 {
            u: _mm256_set1_epi32(coef_bytes(cu, -128..=127)?),
            v: _mm256_set1_epi32(coef_bytes(cv, -128..=127)?),
            add: _mm256_set1_epi16(32896u16 as i16),
            // After the pair sums and the pack of U and V, 4-sample groups sit as
            // U0 U2 V0 V2 | U1 U3 V1 V3.
            order: _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7),
        })
    }

    /// Four registers of 8 (widened) pixels of each row -> 16 U bytes (low half) and 16 V
    /// bytes (high half), in order.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn uv16(&self, a: [__m256i; 4], b: [__m256i; 4]) -> __m256i {
        let [m0, m1] = means16(a, b);
        let sum = |c: __m256i| {
            // SAFETY: AVX2 is enabled for this function.
            let s = unsafe { pair_sums256(_mm256_maddubs_epi16(m0, c), _mm256_maddubs_epi16(m1, c)) };
            _mm256_srli_epi16::<8>(_mm256_add_epi16(s, self.add))
        };
        _mm256_permutevar8x32_epi32(_mm256_packus_epi16(sum(self.u), sum(self.v)), self.order)
    }
}

/// Four registers of 8 pixels of `BPP` bytes from `p` on (32 pixels).
///
/// # Safety
/// `32 * BPP` bytes must be readable at `p`; the CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load32<const BPP: usize>(p: *const u8) -> [__m256i; 4] {
    // SAFETY: the caller guarantees the bytes.
    unsafe { [0, 1, 2, 3].map(|k| load8::<BPP>(p.add(8 * BPP * k))) }
}

/// The rounded means of the 2x2 blocks of 32 (widened) pixels of two rows, as 16 pixels in
/// order (two registers): the rows averaged, then the even and odd pixels of that (the
/// lane-wise shuffle leaves them as 0 1 4 5 | 2 3 6 7; a permute puts them in order).
#[inline]
#[target_feature(enable = "avx2")]
fn means16(a: [__m256i; 4], b: [__m256i; 4]) -> [__m256i; 2] {
    let pairs = |k: usize| {
        let f0 = _mm256_castsi256_ps(_mm256_avg_epu8(a[k], b[k]));
        let f1 = _mm256_castsi256_ps(_mm256_avg_epu8(a[k + 1], b[k + 1]));
        let even = _mm256_castps_si256(_mm256_shuffle_ps::<0b10_00_10_00>(f0, f1));
        let odd = _mm256_castps_si256(_mm256_shuffle_ps::<0b11_01_11_01>(f0, f1));
        _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_avg_epu8(even, odd))
    };
    [pairs(0), pairs(2)]
}

/// RGB to the ladder's half-size I420 in one pass, bit-exact with the scalar reference
/// (`super::rgb_half`): four source rows (`rows`, the last ones repeated at the bottom edge)
/// give two output rows of luma, each pixel the luma of its 2x2 block's mean
/// ([`means16`], [`Luma32`]), and their chroma from the means of those means
/// ([`Chroma32`]). 64 source pixels of each row a step. Returns how many output pixels of
/// each row it wrote (a multiple of 32; chroma half that; 0 if the coefficients do not suit
/// it).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn rgb_half_avx2<const BPP: usize>(
    rows: [&[u8]; 4],
    y0: &mut [u8],
    y1: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
    ky: [i16; 4],
    (cu, cv): ([i16; 4], [i16; 4]),
) -> usize {
    let (Some(l), Some(c)) = (Luma32::new(ky), Chroma32::new(cu, cv)) else { return 0 };
    let px = rows.iter().map(|r| r.len() / BPP / 2).min().unwrap_or(0);
    let n = y0.len().min(y1.len()).min(px).min(2 * u.len()).min(2 * v.len()) / 32 * 32;
    let mut i = 0;
    while i < n {
        // SAFETY: 64 pixels of each source row, 32 bytes of each luma row and 16 of each
        // chroma row exist at these offsets.
        unsafe {
            let means = |a: &[u8], b: &[u8]| {
                let (pa, pb) = (a.as_ptr().add(2 * BPP * i), b.as_ptr().add(2 * BPP * i));
                let [m0, m1] = means16(load32::<BPP>(pa), load32::<BPP>(pb));
                let [m2, m3] = means16(load32::<BPP>(pa.add(32 * BPP)), load32::<BPP>(pb.add(32 * BPP)));
                [m0, m1, m2, m3]
            };
            let (top, bottom) = (means(rows[0], rows[1]), means(rows[2], rows[3]));
            _mm256_storeu_si256(y0.as_mut_ptr().add(i).cast(), l.y32(top));
            _mm256_storeu_si256(y1.as_mut_ptr().add(i).cast(), l.y32(bottom));
            store_uv(c.uv16(top, bottom), u.as_mut_ptr().add(i / 2), v.as_mut_ptr().add(i / 2));
        }
        i += 32;
    }
    n
}

/// [`rgba_luma`] with AVX2 for pixels of `BPP` bytes (3: RGB24, widened in registers; 4), 32
/// pixels a step ([`Luma32`]). Returns how many pixels it handled (a multiple of 32; 0 if
/// the coefficients do not suit it).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn rgb_luma_avx2<const BPP: usize>(row: &[u8], y: &mut [u8], coef: [i16; 4]) -> usize {
    let Some(k) = Luma32::new(coef) else { return 0 };
    let n = y.len().min(row.len() / BPP) / 32 * 32;
    let mut i = 0;
    while i < n {
        // SAFETY: 32 pixels of the row (32 x BPP bytes) and 32 output bytes exist here.
        unsafe { _mm256_storeu_si256(y.as_mut_ptr().add(i).cast(), k.y32(load32::<BPP>(row.as_ptr().add(BPP * i)))) };
        i += 32;
    }
    n
}

/// [`rgba_chroma`] with AVX2 for pixels of `BPP` bytes (3 or 4), 16 outputs (32 pixels of
/// each row) a step ([`Chroma32`]). Returns how many chroma samples it wrote (a multiple of
/// 16; 0 if a coefficient does not fit a signed byte).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn rgb_chroma_avx2<const BPP: usize>(
    r0: &[u8],
    r1: &[u8],
    u: &mut [u8],
    v: &mut [u8],
    cu: [i16; 4],
    cv: [i16; 4],
) -> usize {
    let Some(k) = Chroma32::new(cu, cv) else { return 0 };
    let n = u.len().min(v.len()).min(r0.len() / (2 * BPP)).min(r1.len() / (2 * BPP)) / 16 * 16;
    let mut i = 0;
    while i < n {
        // SAFETY: 32 pixels of each row and 16 bytes of each output exist here.
        unsafe {
            let (a, b) = (load32::<BPP>(r0.as_ptr().add(2 * BPP * i)), load32::<BPP>(r1.as_ptr().add(2 * BPP * i)));
            store_uv(k.uv16(a, b), u.as_mut_ptr().add(i), v.as_mut_ptr().add(i));
        }
        i += 16;
    }
    n
}

/// Stores the U half and the V half of [`Chroma32::uv16`]'s result.
///
/// # Safety
/// 16 bytes must be writable at `u` and at `v`; the CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_uv(uv: __m256i, u: *mut u8, v: *mut u8) {
    // SAFETY: the caller guarantees the bytes.
    unsafe {
        _mm_storeu_si128(u.cast(), _mm256_castsi256_si128(uv));
        _mm_storeu_si128(v.cast(), _mm256_extracti128_si256::<1>(uv));
    }
}

/// Both rows' luma and their chroma in one pass, 32 pixels of each row a step: every pixel
/// is loaded (and for RGB24 widened) once, where separate luma and chroma passes load it
/// twice. Returns how many pixels of each row it handled (a multiple of 32; the chroma
/// samples are half that; 0 if the coefficients do not suit it or a row is missing).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn rgb_pair_avx2<const BPP: usize>(
    r0: &[u8],
    r1: &[u8],
    y0: &mut [u8],
    y1: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
    ky: [i16; 4],
    (cu, cv): ([i16; 4], [i16; 4]),
) -> usize {
    let (Some(l), Some(c)) = (Luma32::new(ky), Chroma32::new(cu, cv)) else { return 0 };
    let n = y0.len().min(y1.len()).min(r0.len() / BPP).min(r1.len() / BPP).min(2 * u.len()).min(2 * v.len()) / 32 * 32;
    let mut i = 0;
    while i < n {
        // SAFETY: 32 pixels of each row, 32 bytes of each luma row and 16 of each chroma row
        // exist here.
        unsafe {
            let (pa, pb) = (r0.as_ptr().add(BPP * i), r1.as_ptr().add(BPP * i));
            if BPP == 4 {
                // 4-byte pixels are loaded again for the chroma (from L1): holding all eight
                // registers across both lumas spills.
                _mm256_storeu_si256(y0.as_mut_ptr().add(i).cast(), l.y32(load32::<BPP>(pa)));
                _mm256_storeu_si256(y1.as_mut_ptr().add(i).cast(), l.y32(load32::<BPP>(pb)));
                let uv = c.uv16(load32::<BPP>(pa), load32::<BPP>(pb));
                store_uv(uv, u.as_mut_ptr().add(i / 2), v.as_mut_ptr().add(i / 2));
            } else {
                let (a, b) = (load32::<BPP>(pa), load32::<BPP>(pb));
                _mm256_storeu_si256(y0.as_mut_ptr().add(i).cast(), l.y32(a));
                _mm256_storeu_si256(y1.as_mut_ptr().add(i).cast(), l.y32(b));
                store_uv(c.uv16(a, b), u.as_mut_ptr().add(i / 2), v.as_mut_ptr().add(i / 2));
            }
        }
        i += 32;
    }
    n
}

/// Chroma of two rows of 4-byte pixels: each output is the matrix applied to the rounded
/// mean of a 2x2 block (the rows first, then the pairs, `pavgb`), plus 128 (`+ 32896 >> 8`). Returns how many
/// chroma samples it wrote (a multiple of 4).
pub(super) fn rgba_chroma(r0: &[u8], r1: &[u8], u: &mut [u8], v: &mut [u8], cu: [i16; 4], cvv: [i16; 4]) -> usize {
    let n = u.len().min(v.len()).min(r0.len() / 8).min(r1.len() / 8) / 4 * 4;
    // SAFETY: register setup only.
    let (ucoef, vcoef, add) = unsafe {
        (
            _mm_setr_epi16(cu[0], cu[1], cu[2], cu[3], cu[0], cu[1], cu[2], cu[3]),
            _mm_setr_epi16(cvv[0], cvv[1], cvv[2], cvv[3], cvv[0], cvv[1], cvv[2], cvv[3]),
            _mm_set1_epi32(32896),
        )
    };
    let mut i = 0;
    while i < n {
        // SAFETY: 32 bytes of each row (8 pixels) and 4 bytes of each output exist here.
        unsafe {
            let a0 = _mm_loadu_si128(r0.as_ptr().add(8 * i).cast());
            let a1 = _mm_loadu_si128(r0.as_ptr().add(8 * i + 16).cast());
            let b0 = _mm_loadu_si128(r1.as_ptr().add(8 * i).cast());
            let b1 = _mm_loadu_si128(r1.as_ptr().add(8 * i + 16).cast());
            // The rows averaged, then the even and odd pixels of that averaged.
            let (f0, f1) = (_mm_castsi128_ps(_mm_avg_epu8(a0, b0)), _mm_castsi128_ps(_mm_avg_epu8(a1, b1)));
            let even = _mm_castps_si128(_mm_shuffle_ps(f0, f1, 0b10_00_10_00));
            let odd = _mm_castps_si128(_mm_shuffle_ps(f0, f1, 0b11_01_11_01));
            let m = _mm_avg_epu8(even, odd);
            let uq = dot4(m, ucoef, add);
            let vq = dot4(m, vcoef, add);
            let uu = _mm_packus_epi16(_mm_packs_epi32(uq, uq), _mm_setzero_si128());
            let vv = _mm_packus_epi16(_mm_packs_epi32(vq, vq), _mm_setzero_si128());
            (u.as_mut_ptr().add(i) as *mut i32).write_unaligned(_mm_cvtsi128_si32(uu));
            (v.as_mut_ptr().add(i) as *mut i32).write_unaligned(_mm_cvtsi128_si32(vv));
        }
        i += 4;
    }
    n
}
