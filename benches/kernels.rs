//! Each capture kernel at 640x480, 1280x720 and 1920x1080, next to a memcpy of the same
//! source bytes in the same run, and next to libyuv's equivalent when the system has
//! libyuv (Debian's libyuv-dev; loaded at run time, skipped with a message otherwise).
//!
//! Run: `cargo bench --bench kernels` (`SEALCAM_BENCH_QUICK=1` shortens it;
//! `SEALCAM_BENCH_PAIRED=1` instead times each kernel against libyuv in alternation and prints
//! the median ratio, the figure least disturbed by a shared machine).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sealcam::convert::{scale_i420_bilinear, scale_i420_half, to_i420, to_i420_half, to_i420_in_bands};
use sealcam::{CaptureFrame, ColorMatrix, I420Buffer, PixelFormat, Plane};

type Packed = unsafe extern "C" fn(*const u8, i32, *mut u8, i32, *mut u8, i32, *mut u8, i32, i32, i32) -> i32;
type SemiPlanar =
    unsafe extern "C" fn(*const u8, i32, *const u8, i32, *mut u8, i32, *mut u8, i32, *mut u8, i32, i32, i32) -> i32;
type Scale = unsafe extern "C" fn(
    *const u8,
    i32,
    *const u8,
    i32,
    *const u8,
    i32,
    i32,
    i32,
    *mut u8,
    i32,
    *mut u8,
    i32,
    *mut u8,
    i32,
    i32,
    i32,
    i32,
) -> i32;

struct LibYuv {
    _lib: libloading::Library,
    nv12: SemiPlanar,
    nv21: SemiPlanar,
    yuy2: Packed,
    uyvy: Packed,
    raw: Packed,
    argb: Packed,
    abgr: Packed,
    scale: Scale,
}

fn libyuv() -> Option<LibYuv> {
    // SAFETY: libyuv's C functions have the signatures declared above (libyuv/convert.h,
    // libyuv/scale.h); the library stays loaded as long as the struct lives.
    unsafe {
        let lib = libloading::Library::new("libyuv.so.0").ok()?;
        let get = |name: &[u8]| lib.get::<*const ()>(name).ok().map(|s| *s);
        Some(LibYuv {
            nv12: std::mem::transmute::<*const (), SemiPlanar>(get(b"NV12ToI420")?),
            nv21: std::mem::transmute::<*const (), SemiPlanar>(get(b"NV21ToI420")?),
            yuy2: std::mem::transmute::<*const (), Packed>(get(b"YUY2ToI420")?),
            uyvy: std::mem::transmute::<*const (), Packed>(get(b"UYVYToI420")?),
            raw: std::mem::transmute::<*const (), Packed>(get(b"RAWToI420")?),
            argb: std::mem::transmute::<*const (), Packed>(get(b"ARGBToI420")?),
            abgr: std::mem::transmute::<*const (), Packed>(get(b"ABGRToI420")?),
            scale: std::mem::transmute::<*const (), Scale>(get(b"I420Scale")?),
            _lib: lib,
        })
    }
}

fn source(format: PixelFormat, w: u32, h: u32) -> (Vec<Vec<u8>>, Vec<usize>) {
    let n = format.plane_count();
    let mut planes = Vec::new();
    let mut strides = Vec::new();
    for i in 0..n {
        let (row, rows) = format.plane_shape(i, w, h);
        planes.push((0..row * rows).map(|k| (k * 7 + i * 13) as u8).collect());
        strides.push(row);
    }
    (planes, strides)
}

/// libyuv's conversion of `format` (`planes` at `strides`, `w` x `h`) into `dst`.
fn libyuv_convert(
    y: &LibYuv,
    format: PixelFormat,
    planes: &[Vec<u8>],
    strides: &[usize],
    dst: &mut I420Buffer,
    w: u32,
    h: u32,
) -> i32 {
    let (ys, cs) = (dst.y_stride() as i32, dst.uv_stride() as i32);
    let (dy, du, dv) = dst.planes_mut();
    let (dy, du, dv) = (dy.as_mut_ptr(), du.as_mut_ptr(), dv.as_mut_ptr());
    let (wi, hi) = (w as i32, h as i32);
    let s0 = (planes[0].as_ptr(), strides[0] as i32);
    let uv = || (planes[1].as_ptr(), strides[1] as i32);
    // SAFETY: every pointer covers its plane at the given stride for w x h (`source`), and
    // `dst` is a w x h I420 buffer.
    unsafe {
        match format {
            PixelFormat::Nv12 => (y.nv12)(s0.0, s0.1, uv().0, uv().1, dy, ys, du, cs, dv, cs, wi, hi),
            PixelFormat::Nv21 => (y.nv21)(s0.0, s0.1, uv().0, uv().1, dy, ys, du, cs, dv, cs, wi, hi),
            PixelFormat::Yuyv => (y.yuy2)(s0.0, s0.1, dy, ys, du, cs, dv, cs, wi, hi),
            PixelFormat::Uyvy => (y.uyvy)(s0.0, s0.1, dy, ys, du, cs, dv, cs, wi, hi),
            PixelFormat::Rgb24 => (y.raw)(s0.0, s0.1, dy, ys, du, cs, dv, cs, wi, hi),
            PixelFormat::Bgra => (y.argb)(s0.0, s0.1, dy, ys, du, cs, dv, cs, wi, hi),
            PixelFormat::Rgba => (y.abgr)(s0.0, s0.1, dy, ys, du, cs, dv, cs, wi, hi),
            _ => -1,
        }
    }
}

/// libyuv's `I420Scale` of `src` into `out` (its size) with `filter` (2 bilinear, 3 box).
fn libyuv_scale(y: &LibYuv, src: &I420Buffer, out: &mut I420Buffer, filter: i32) -> i32 {
    let (sy, su, sv) = src.planes();
    let (ss, sc) = (src.y_stride() as i32, src.uv_stride() as i32);
    let (ds, dc) = (out.y_stride() as i32, out.uv_stride() as i32);
    let (dw, dh) = (out.width() as i32, out.height() as i32);
    let (oy, ou, ov) = out.planes_mut();
    // SAFETY: planes and strides describe valid I420 images of the given sizes.
    unsafe {
        (y.scale)(
            sy.as_ptr(),
            ss,
            su.as_ptr(),
            sc,
            sv.as_ptr(),
            sc,
            src.width() as i32,
            src.height() as i32,
            oy.as_mut_ptr(),
            ds,
            ou.as_mut_ptr(),
            dc,
            ov.as_mut_ptr(),
            dc,
            dw,
            dh,
            filter,
        )
    }
}

/// Ours against libyuv measured in alternation: `rounds` rounds, each timing a block of
/// `ours` then a block of `theirs` (the order flips every round so neither always runs on a
/// warmer cache or a quieter machine). Returns the median and the quartiles of the
/// per-round time ratios: drift of the shared machine between rounds cancels out of each.
fn paired(mut ours: impl FnMut(), mut theirs: impl FnMut(), rounds: usize) -> (f64, f64, f64) {
    use std::time::Instant;
    // A block lasts about 2 ms.
    let t = Instant::now();
    let mut per = 0u32;
    while t.elapsed() < Duration::from_millis(20) {
        ours();
        theirs();
        per += 1;
    }
    let block = (per / 10).max(1);
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..block {
            f();
        }
        t.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|r| {
            if r % 2 == 0 {
                let a = time(&mut ours);
                a / time(&mut theirs)
            } else {
                let b = time(&mut theirs);
                time(&mut ours) / b
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.25), q(0.75))
}

/// `SEALCAM_BENCH_PAIRED=1`: every kernel against libyuv in alternation (see [`paired`]),
/// printed as one table; criterion is not run.
fn paired_table(y: &LibYuv) {
    let formats = [
        PixelFormat::Nv12,
        PixelFormat::Nv21,
        PixelFormat::Yuyv,
        PixelFormat::Uyvy,
        PixelFormat::Rgb24,
        PixelFormat::Bgra,
        PixelFormat::Rgba,
    ];
    println!("| kernel | size | sealcam / libyuv, median of 101 paired rounds (quartiles) |");
    println!("| --- | --- | --- |");
    // SEALCAM_BENCH_PAIRED=<text>: only the kernels whose name contains it ("1" or "all": every one).
    let only = std::env::var("SEALCAM_BENCH_PAIRED").unwrap_or_default();
    let wanted = |name: &str| only == "1" || only == "all" || name.contains(only.as_str());
    let row = |name: &str, w: u32, h: u32, (m, lo, hi): (f64, f64, f64)| {
        println!("| {name} | {w}x{h} | {m:.3} ({lo:.3}-{hi:.3}) |");
    };
    for (w, h) in [(640u32, 480u32), (1280, 720), (1920, 1080)] {
        for format in formats {
            if !wanted(&format!("{format:?} to I420")) {
                continue;
            }
            let (planes, strides) = source(format, w, h);
            let mut f = CaptureFrame::packed(format, w, h, &planes[0], strides[0], 0);
            for i in 1..planes.len() {
                f.planes[i] = Plane { data: &planes[i], stride: strides[i] };
            }
            let (mut a, mut b) = (I420Buffer::new(w, h).unwrap(), I420Buffer::new(w, h).unwrap());
            let r = paired(
                || to_i420(black_box(&f), &mut a).unwrap(),
                || {
                    black_box(libyuv_convert(y, format, &planes, &strides, &mut b, w, h));
                },
                101,
            );
            row(&format!("{format:?} to I420"), w, h, r);
        }
        let src = i420_source(w, h);
        let (tw, th) = (w * 2 / 3 / 2 * 2, h * 2 / 3 / 2 * 2);
        for (name, dw, dh, filter) in [("I420 1/2 box", w / 2, h / 2, 3), ("I420 2/3 bilinear", tw, th, 2)] {
            if !wanted(name) {
                continue;
            }
            let (mut a, mut b) = (I420Buffer::default(), I420Buffer::new(dw, dh).unwrap());
            let r = paired(
                || {
                    if filter == 3 {
                        scale_i420_half(black_box(&src), &mut a).unwrap()
                    } else {
                        scale_i420_bilinear(black_box(&src), dw, dh, &mut a).unwrap()
                    }
                },
                || {
                    black_box(libyuv_scale(y, &src, &mut b, filter));
                },
                101,
            );
            row(name, w, h, r);
        }
    }
}

/// A `w` x `h` I420 picture with the bench's pattern, the source of the scaling benchmarks.
fn i420_source(w: u32, h: u32) -> I420Buffer {
    let (planes, _) = source(PixelFormat::I420, w, h);
    let mut src = I420Buffer::new(w, h).unwrap();
    let (y, u, v) = src.planes_mut();
    y.copy_from_slice(&planes[0]);
    u.copy_from_slice(&planes[1][..u.len()]);
    v.copy_from_slice(&planes[1][..v.len()]);
    src
}

fn bench(c: &mut Criterion) {
    let quick = std::env::var_os("SEALCAM_BENCH_QUICK").is_some();
    let yuv = libyuv();
    if yuv.is_none() {
        eprintln!("libyuv not found (apt-get install libyuv-dev): the libyuv comparison is skipped");
    }
    if std::env::var_os("SEALCAM_BENCH_PAIRED").is_some() {
        match &yuv {
            Some(y) => paired_table(y),
            None => eprintln!("SEALCAM_BENCH_PAIRED needs libyuv"),
        }
        return;
    }
    let formats = [
        PixelFormat::Nv12,
        PixelFormat::Nv21,
        PixelFormat::Yuyv,
        PixelFormat::Uyvy,
        PixelFormat::I420,
        PixelFormat::Rgb24,
        PixelFormat::Bgra,
        PixelFormat::Rgba,
    ];
    for (w, h) in [(640u32, 480u32), (1280, 720), (1920, 1080)] {
        for format in formats {
            let (planes, strides) = source(format, w, h);
            let bytes: usize = planes.iter().map(Vec::len).sum();
            let mut g = c.benchmark_group(format!("kernels/{format:?}/{w}x{h}"));
            g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(if quick {
                700
            } else {
                2000
            }));
            g.throughput(Throughput::Bytes(bytes as u64));
            let mut copy = vec![0u8; bytes];
            g.bench_function(BenchmarkId::new("memcpy", bytes), |b| {
                b.iter(|| {
                    let mut o = 0;
                    for p in &planes {
                        copy[o..o + p.len()].copy_from_slice(p);
                        o += p.len();
                    }
                    black_box(&copy);
                })
            });
            let mut f = CaptureFrame::packed(format, w, h, &planes[0], strides[0], 0);
            for i in 1..planes.len() {
                f.planes[i] = Plane { data: &planes[i], stride: strides[i] };
            }
            let mut dst = I420Buffer::new(w, h).unwrap();
            g.bench_function(BenchmarkId::new("sealcam", bytes), |b| {
                b.iter(|| to_i420(black_box(&f), &mut dst).unwrap())
            });
            // The ladder's half rung from I420, NV12, RGB24 and BGRA: conversion and box filter
            // fused, against the two passes it replaces.
            if matches!(format, PixelFormat::I420 | PixelFormat::Nv12 | PixelFormat::Rgb24 | PixelFormat::Bgra) {
                let mut half = I420Buffer::default();
                g.bench_function(BenchmarkId::new("half_two_pass", bytes), |b| {
                    b.iter(|| {
                        to_i420(black_box(&f), &mut dst).unwrap();
                        scale_i420_half(&dst, &mut half).unwrap();
                    })
                });
                g.bench_function(BenchmarkId::new("half_fused", bytes), |b| {
                    b.iter(|| to_i420_half(black_box(&f), &mut half).unwrap())
                });
            }
            // rayon: the same conversion in two row bands on the pool (one per core here); what
            // `kernels::bands_that_pay` is set from.
            if matches!(format, PixelFormat::Nv12 | PixelFormat::Yuyv | PixelFormat::Bgra | PixelFormat::Rgb24) {
                g.bench_function(BenchmarkId::new("sealcam_2_bands", bytes), |b| {
                    b.iter(|| to_i420_in_bands(black_box(&f), &mut dst, ColorMatrix::Bt601, 2).unwrap())
                });
            }
            if let (Some(y), true) = (&yuv, format != PixelFormat::I420) {
                g.bench_function(BenchmarkId::new("libyuv", bytes), |b| {
                    b.iter(|| black_box(libyuv_convert(y, format, &planes, &strides, &mut dst, w, h)))
                });
            }
            g.finish();
        }

        // Scaling: 1/2 box and 2/3 bilinear of an I420 frame.
        let src = i420_source(w, h);
        let bytes = src.as_bytes().len();
        let mut g = c.benchmark_group(format!("kernels/scale/{w}x{h}"));
        g.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(if quick {
            700
        } else {
            2000
        }));
        g.throughput(Throughput::Bytes(bytes as u64));
        let mut dst = I420Buffer::default();
        g.bench_function("memcpy", |b| {
            let mut copy = vec![0u8; bytes];
            b.iter(|| {
                copy.copy_from_slice(src.as_bytes());
                black_box(&copy);
            })
        });
        g.bench_function("sealcam_half_box", |b| b.iter(|| scale_i420_half(black_box(&src), &mut dst).unwrap()));
        let (tw, th) = (w * 2 / 3 / 2 * 2, h * 2 / 3 / 2 * 2);
        g.bench_function("sealcam_bilinear_2_3", |b| {
            b.iter(|| scale_i420_bilinear(black_box(&src), tw, th, &mut dst).unwrap())
        });
        if let Some(y) = &yuv {
            for (name, dw, dh, filter) in [("libyuv_half_box", w / 2, h / 2, 3), ("libyuv_bilinear_2_3", tw, th, 2)] {
                let mut out = I420Buffer::new(dw, dh).unwrap();
                g.bench_function(name, |b| b.iter(|| libyuv_scale(y, black_box(&src), &mut out, filter)));
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
