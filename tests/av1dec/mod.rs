//! An in-process AV1 decoder for the tests: rav1d (the Rust port of dav1d, pure Rust without
//! its assembly) through its dav1d-compatible API. A dev-dependency only: the library itself
//! ships no AV1 decoder (a hub decodes with its platform's, and rav1d exports dav1d's C
//! symbols, which would clash with a libdav1d the hub application links).

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use rav1d::include::dav1d::data::Dav1dData;
use rav1d::include::dav1d::dav1d::{Dav1dContext, Dav1dSettings};
use rav1d::include::dav1d::picture::Dav1dPicture;
use rav1d::src::lib::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture, dav1d_open,
    dav1d_picture_unref, dav1d_send_data,
};
use sealcam::I420Buffer;

/// dav1d's "try again" (-EAGAIN).
const AGAIN: i32 = -11;

pub struct Av1Decoder {
    ctx: Option<Dav1dContext>,
}

impl Av1Decoder {
    /// A single-threaded decoder with no frame delay: one temporal unit in, one picture out.
    pub fn new() -> Av1Decoder {
        let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
        // SAFETY: dav1d_default_settings writes a whole Dav1dSettings.
        let mut settings = unsafe {
            dav1d_default_settings(NonNull::new(settings.as_mut_ptr()).unwrap());
            settings.assume_init()
        };
        settings.n_threads = 1;
        settings.max_frame_delay = 1;
        let mut ctx = None;
        // SAFETY: both pointers are to live locals.
        let r = unsafe { dav1d_open(Some(NonNull::from(&mut ctx)), Some(NonNull::from(&mut settings))) };
        assert_eq!(r.0, 0, "dav1d_open");
        Av1Decoder { ctx }
    }

    /// Decodes one temporal unit (what the encoder emitted for one frame). Returns whether a
    /// picture came out, written into `out`; `Err` with dav1d's code for a broken stream.
    pub fn decode(&mut self, unit: &[u8], out: &mut I420Buffer) -> Result<bool, i32> {
        let mut data = Dav1dData::default();
        // SAFETY: `data` is a live local; the buffer dav1d_data_create returns holds
        // `unit.len()` bytes and is released by dav1d_send_data / dav1d_data_unref.
        unsafe {
            let p = dav1d_data_create(Some(NonNull::from(&mut data)), unit.len());
            assert!(!p.is_null(), "dav1d_data_create");
            std::ptr::copy_nonoverlapping(unit.as_ptr(), p, unit.len());
            let r = dav1d_send_data(self.ctx, Some(NonNull::from(&mut data)));
            if data.sz > 0 {
                dav1d_data_unref(Some(NonNull::from(&mut data)));
            }
            if r.0 != 0 && r.0 != AGAIN {
                return Err(r.0);
            }
            let mut pic = Dav1dPicture::default();
            let r = dav1d_get_picture(self.ctx, Some(NonNull::from(&mut pic)));
            if r.0 == AGAIN {
                return Ok(false);
            }
            if r.0 != 0 {
                return Err(r.0);
            }
            let (w, h) = (pic.p.w as u32, pic.p.h as u32);
            assert_eq!(pic.p.bpc, 8);
            out.resize(w, h).unwrap();
            let (ys, cs) = (out.y_stride(), out.uv_stride());
            let (dy, du, dv) = out.planes_mut();
            let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
            for (plane, dst, dst_stride, pw, ph, src_stride) in [
                (0, dy, ys, w as usize, h as usize, pic.stride[0]),
                (1, du, cs, cw, ch, pic.stride[1]),
                (2, dv, cs, cw, ch, pic.stride[1]),
            ] {
                let base = pic.data[plane].unwrap().as_ptr() as *const u8;
                for row in 0..ph {
                    let src = std::slice::from_raw_parts(base.offset(row as isize * src_stride), pw);
                    dst[row * dst_stride..row * dst_stride + pw].copy_from_slice(src);
                }
            }
            dav1d_picture_unref(Some(NonNull::from(&mut pic)));
            Ok(true)
        }
    }
}

impl Drop for Av1Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from dav1d_open and is closed once.
        unsafe { dav1d_close(Some(NonNull::from(&mut self.ctx))) };
    }
}
