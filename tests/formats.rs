//! The Sender takes every capture format a camera hands over, and the ladder's scaling:
//! each format streams to a hub and decodes at the expected size.

use sealcam::encoders::H264Decoder;
use sealcam::sim::SyntheticScene;
use sealcam::{CaptureFrame, I420Buffer, PixelFormat, Receiver, ReceiverConfig, Sender, SenderConfig};

const SECRET: &[u8] = b"formats test secret, 32 bytes...";
const W: u32 = 160;
const H: u32 = 120;

/// The scene's frame `n` in `format`, as the bytes of its planes and their strides.
fn capture(format: PixelFormat, n: u64) -> (Vec<Vec<u8>>, Vec<usize>) {
    let mut pic = I420Buffer::default();
    SyntheticScene::new(W, H, 30.0).unwrap().render(n, &mut pic).unwrap();
    let (y, u, v) = pic.planes();
    let (w, cw) = (W as usize, (W as usize).div_ceil(2));
    let interleave = |a: &[u8], b: &[u8]| a.iter().zip(b).flat_map(|(p, q)| [*p, *q]).collect::<Vec<u8>>();
    match format {
        PixelFormat::I420 => (vec![y.to_vec(), u.to_vec(), v.to_vec()], vec![w, cw, cw]),
        PixelFormat::Yv12 => (vec![y.to_vec(), v.to_vec(), u.to_vec()], vec![w, cw, cw]),
        PixelFormat::Nv12 => (vec![y.to_vec(), interleave(u, v)], vec![w, 2 * cw]),
        PixelFormat::Nv21 => (vec![y.to_vec(), interleave(v, u)], vec![w, 2 * cw]),
        PixelFormat::Yuyv | PixelFormat::Uyvy => {
            let mut out = Vec::new();
            for r in 0..H as usize {
                for x in 0..cw {
                    let (y0, y1) = (y[r * w + 2 * x], y[r * w + 2 * x + 1]);
                    let (cu, cv) = (u[(r / 2) * cw + x], v[(r / 2) * cw + x]);
                    out.extend(if format == PixelFormat::Yuyv { [y0, cu, y1, cv] } else { [cu, y0, cv, y1] });
                }
            }
            (vec![out], vec![4 * cw])
        }
        PixelFormat::Rgb24 | PixelFormat::Bgra | PixelFormat::Rgba => {
            let bpp = if format == PixelFormat::Rgb24 { 3 } else { 4 };
            let mut out = Vec::new();
            for r in 0..H as usize {
                for x in 0..w {
                    // Limited-range luma back to a grey level, tinted by position.
                    let g = ((y[r * w + x] as i32 - 16) * 255 / 219).clamp(0, 255) as u8;
                    let (cr, cg, cb) = (g.saturating_add((x / 4) as u8), g, g.saturating_add((r / 4) as u8));
                    let px = match format {
                        PixelFormat::Bgra => vec![cb, cg, cr, 255],
                        PixelFormat::Rgba => vec![cr, cg, cb, 255],
                        _ => vec![cr, cg, cb],
                    };
                    out.extend(px);
                }
            }
            (vec![out], vec![w * bpp])
        }
    }
}

fn frame<'a>(format: PixelFormat, planes: &'a [Vec<u8>], strides: &[usize], ts: u64) -> CaptureFrame<'a> {
    let mut f = CaptureFrame::packed(format, W, H, &planes[0], strides[0], ts);
    for i in 1..planes.len() {
        f.planes[i] = sealcam::Plane { data: &planes[i], stride: strides[i] };
    }
    f
}

#[test]
fn every_capture_format_streams_and_decodes() {
    for format in PixelFormat::ALL {
        for encode_size in [None, Some((W / 2, H / 2)), Some((96, 72))] {
            let mut cfg = SenderConfig::new(b"cam", 3, SECRET);
            cfg.encode_size = encode_size;
            cfg.one_way = true; // the formats are what is tested here
            let mut tx = Sender::new(cfg).unwrap();
            let mut rc = ReceiverConfig::new(b"cam", 3, SECRET);
            rc.one_way = true;
            let mut rx = Receiver::new(rc).unwrap();
            let mut dec = H264Decoder::new().unwrap();
            let (mut buf, mut shown) = (vec![0u8; 1500], I420Buffer::default());
            let mut decoded = 0;
            for n in 0..5u64 {
                let (planes, strides) = capture(format, n);
                let now = n * 33_333;
                tx.push_frame(now, &frame(format, &planes, &strides, now)).unwrap();
                let mut t = now;
                while let Some(next) = tx.poll_timeout() {
                    t = t.max(next);
                    while let Some(len) = tx.poll_transmit(t, &mut buf).unwrap() {
                        rx.handle_packet(t, &buf[..len]).unwrap();
                    }
                }
                while let Some(f) = rx.poll_frame() {
                    assert!(dec.decode(f.data, &mut shown).unwrap());
                    assert_eq!((shown.width(), shown.height()), encode_size.unwrap_or((W, H)), "{format:?}");
                    decoded += 1;
                }
            }
            assert_eq!(decoded, 5, "{format:?} {encode_size:?}");
        }
    }
}

#[test]
fn parallel_conversion_sends_the_same_packets() {
    // 640x480 BGRA is converted in two bands when `parallel_conversion` is on: the packets
    // must be byte for byte those of the one-pass conversion.
    let (w, h) = (640u32, 480u32);
    let packets = |parallel: bool| {
        let mut cfg = SenderConfig::new(b"cam", 3, SECRET);
        cfg.parallel_conversion = parallel;
        cfg.rng_seed = Some(5); // the same session, sequence numbers and timestamps
        cfg.one_way = true; // no hub here
        let mut tx = Sender::new(cfg).unwrap();
        let mut buf = vec![0u8; 1500];
        let mut out = Vec::new();
        for n in 0..3u64 {
            let px: Vec<u8> = (0..(w * h) as usize)
                .flat_map(|i| [(i + n as usize) as u8, (i / 640) as u8, (i * 7) as u8, 255])
                .collect();
            let now = n * 33_333;
            tx.push_frame(now, &CaptureFrame::packed(PixelFormat::Bgra, w, h, &px, w as usize * 4, now)).unwrap();
            let mut t = now;
            while let Some(next) = tx.poll_timeout() {
                t = t.max(next);
                while let Some(len) = tx.poll_transmit(t, &mut buf).unwrap() {
                    out.push(buf[..len].to_vec());
                }
            }
        }
        out
    };
    assert_eq!(sealcam::convert::bands_that_pay(PixelFormat::Bgra, w, h), 2);
    let (one, two) = (packets(false), packets(true));
    assert!(!one.is_empty());
    assert_eq!(one, two);
}
