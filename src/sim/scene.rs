//! Frame sources for the emulator: the [`FrameSource`] trait and a built-in synthetic
//! camera scene that needs no files.
//!
//! The synthetic scene is built to cost an encoder what a real camera costs: a detailed
//! textured background that pans (motion the encoder can predict), objects that move
//! along their own paths, and per-frame sensor noise (which no prediction removes), so
//! that a 640x480 stream can fill several Mbit/s.

use crate::error::Result;
use crate::frame::I420Buffer;

/// Something that yields I420 frames at a fixed rate.
pub trait FrameSource {
    /// Frames per second.
    fn fps(&self) -> f64;
    /// Width and height of the frames.
    fn size(&self) -> (u32, u32);
    /// Writes the next frame into `out`; `Ok(false)` when the source is exhausted.
    fn next_frame(&mut self, out: &mut I420Buffer) -> Result<bool>;
}

/// The built-in moving scene.
#[derive(Debug, Clone)]
pub struct SyntheticScene {
    width: u32,
    height: u32,
    fps: f64,
    index: u64,
    /// Amplitude of the per-frame sensor noise in code values (default 3).
    pub noise: u8,
}

fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

impl SyntheticScene {
    /// A scene of the given size and rate.
    pub fn new(width: u32, height: u32, fps: f64) -> Result<Self> {
        crate::frame::check_dimensions(width, height)?;
        Ok(SyntheticScene { width, height, fps, index: 0, noise: 3 })
    }

    /// Starts the sequence at frame `n` (cameras in one run use different offsets so no two
    /// show the same picture).
    pub fn starting_at(mut self, n: u64) -> Self {
        self.index = n;
        self
    }

    /// Renders frame `n` (the scene is a pure function of `n`).
    pub fn render(&self, n: u64, out: &mut I420Buffer) -> Result<()> {
        out.resize(self.width, self.height)?;
        let (w, h) = (self.width as i64, self.height as i64);
        let t = n as f64 / self.fps;
        let pan_x = (t * 24.0) as i64;
        let pan_y = ((t * 0.7).sin() * 20.0) as i64;
        let objects: [(i64, i64, i64, u8); 3] = [
            (
                (w / 2) + ((t * 1.1).cos() * w as f64 * 0.35) as i64,
                (h / 2) + ((t * 1.7).sin() * h as f64 * 0.3) as i64,
                h / 6,
                230,
            ),
            ((t * 90.0) as i64 % (w + 80) - 40, h / 3, h / 10, 40),
            (w / 3 + ((t * 0.6).sin() * w as f64 * 0.2) as i64, (2 * h) / 3, h / 8, 180),
        ];
        let frame_seed = hash(n as u32 ^ 0x9e37_79b9);
        let noise = self.noise as i32;
        let (ys, cs) = (out.y_stride(), out.uv_stride());
        let (py, pu, pv) = out.planes_mut();
        for y in 0..h {
            let row = &mut py[y as usize * ys..y as usize * ys + w as usize];
            let by = (y + pan_y).rem_euclid(4096);
            for (x, px) in row.iter_mut().enumerate() {
                let x = x as i64;
                let bx = (x + pan_x).rem_euclid(4096);
                // Texture: coarse blocks plus fine detail plus a soft gradient.
                let coarse = hash(((bx / 8) as u32) << 12 | (by / 8) as u32) & 0x7f;
                let fine = hash((bx as u32) << 12 | by as u32) & 0x1f;
                let mut v = 40 + coarse as i32 + fine as i32 + ((x + y) & 0x3f) as i32 / 2;
                for &(ox, oy, r, lum) in &objects {
                    let (dx, dy) = (x - ox, y - oy);
                    if dx * dx + dy * dy <= r * r {
                        let stripe = ((dx + dy + (n as i64 * 3)).rem_euclid(16) < 8) as i32 * 24;
                        v = lum as i32 - 12 + stripe;
                    }
                }
                if noise > 0 {
                    let nz = hash(frame_seed ^ ((x as u32) << 16 | y as u32)) % (2 * noise as u32 + 1);
                    v += nz as i32 - noise;
                }
                *px = v.clamp(16, 235) as u8;
            }
        }
        let (cw, ch) = ((w + 1) / 2, (h + 1) / 2);
        for y in 0..ch {
            for x in 0..cw {
                let i = y as usize * cs + x as usize;
                let u = 128.0 + 40.0 * ((x as f64 / 37.0) + t * 0.5).sin();
                let v = 128.0 + 40.0 * ((y as f64 / 29.0) - t * 0.4).cos();
                pu[i] = u as u8;
                pv[i] = v as u8;
            }
        }
        Ok(())
    }
}

impl FrameSource for SyntheticScene {
    fn fps(&self) -> f64 {
        self.fps
    }
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
    fn next_frame(&mut self, out: &mut I420Buffer) -> Result<bool> {
        self.render(self.index, out)?;
        self.index += 1;
        Ok(true)
    }
}
