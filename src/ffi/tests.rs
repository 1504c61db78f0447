//! Tests of the C layer's own rules: versions, result texts, NULL pointers at every entry
//! point, and growable structs read and written only up to their `struct_size`.

use std::collections::BTreeSet;
use std::mem::size_of;
use std::ptr::{null, null_mut};

use super::hub::*;
use super::image::*;
use super::kernels::*;
use super::receiver::*;
use super::result::sealcam_result_text;
use super::sender::*;
use super::sframe::*;
use super::*;

const SECRET: &[u8] = b"ffi unit test secret, 32 bytes!!";
const ID: &[u8] = b"cam";

#[test]
fn version_macros_match_cargo_toml() {
    let v = format!("{SEALCAM_VERSION_MAJOR}.{SEALCAM_VERSION_MINOR}.{SEALCAM_VERSION_PATCH}");
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let c = unsafe { std::ffi::CStr::from_ptr(sealcam_version()) };
    assert_eq!(c.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(
        sealcam_version_number(),
        SEALCAM_VERSION_MAJOR << 16 | SEALCAM_VERSION_MINOR << 8 | SEALCAM_VERSION_PATCH
    );
}

#[test]
fn result_text_answers_any_value() {
    for code in (0..=200).chain([u32::MAX, 1 << 31]) {
        let t = unsafe { std::ffi::CStr::from_ptr(sealcam_result_text(code)) }.to_str().unwrap();
        assert!(!t.is_empty());
        assert_eq!(t == "unknown result code", code > SEALCAM_DROPPED as u32, "code {code}: {t}");
    }
}

fn sender_config() -> sealcam_sender_config {
    let mut c: sealcam_sender_config = unsafe { std::mem::zeroed() };
    c.struct_size = size_of::<sealcam_sender_config>() as u32;
    assert_eq!(unsafe { sealcam_sender_config_default(&mut c) }, SEALCAM_OK);
    (c.stream_id, c.stream_id_len, c.base_secret, c.base_secret_len) =
        (ID.as_ptr(), ID.len(), SECRET.as_ptr(), SECRET.len());
    c
}

fn receiver_config() -> sealcam_receiver_config {
    let mut c: sealcam_receiver_config = unsafe { std::mem::zeroed() };
    c.struct_size = size_of::<sealcam_receiver_config>() as u32;
    assert_eq!(unsafe { sealcam_receiver_config_default(&mut c) }, SEALCAM_OK);
    (c.stream_id, c.stream_id_len, c.base_secret, c.base_secret_len) =
        (ID.as_ptr(), ID.len(), SECRET.as_ptr(), SECRET.len());
    c
}

fn hub_config() -> sealcam_hub_config {
    let mut c = sealcam_hub_config {
        struct_size: size_of::<sealcam_hub_config>() as u32,
        max_streams: 0,
        max_stream_memory_bytes: 0,
    };
    assert_eq!(unsafe { sealcam_hub_config_default(&mut c) }, SEALCAM_OK);
    c
}

fn gray_image(y: &[u8], uv: &[u8]) -> sealcam_image {
    sealcam_image {
        struct_size: size_of::<sealcam_image>() as u32,
        format: SEALCAM_FORMAT_NV12,
        width: 16,
        height: 16,
        timestamp_us: 0,
        planes: [y.as_ptr(), uv.as_ptr(), null()],
        strides: [16, 16, 0],
        plane_lens: [y.len(), uv.len(), 0],
    }
}

/// The functions `include/sealcam.h` declares.
fn header_functions() -> BTreeSet<String> {
    let h = include_str!("../../include/sealcam.h");
    h.lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with('*'))
        .filter_map(|l| {
            let name = l.split('(').next()?.rsplit([' ', '*']).next()?;
            (l.contains('(') && name.starts_with("sealcam_")).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn every_entry_point_refuses_each_null_pointer() {
    let mut covered = BTreeSet::new();
    macro_rules! null {
        ($name:ident, $call:expr) => {{
            covered.insert(stringify!($name).to_string());
            assert_eq!(unsafe { $call }, SEALCAM_NULL_PARAMETER, "{}: {}", stringify!($name), stringify!($call));
        }};
    }
    macro_rules! no_arg {
        ($name:ident) => {
            covered.insert(stringify!($name).to_string());
        };
    }
    let (y, uv) = (vec![128u8; 256], vec![128u8; 128]);
    let img = gray_image(&y, &uv);
    let (sc, rc, hc) = (sender_config(), receiver_config(), hub_config());
    let (mut tx, mut rx, mut hub) = (null_mut(), null_mut(), null_mut());
    let (mut sk, mut ok) = (null_mut(), null_mut());
    unsafe {
        assert_eq!(sealcam_sender_new(&sc, &mut tx), SEALCAM_OK);
        assert_eq!(sealcam_receiver_new(&rc, &mut rx), SEALCAM_OK);
        assert_eq!(sealcam_hub_new(&hc, &mut hub), SEALCAM_OK);
        assert_eq!(sealcam_seal_key_new(4, 1, SECRET.as_ptr(), 16, null(), 0, &mut sk), SEALCAM_OK);
        assert_eq!(sealcam_open_key_new(4, 1, SECRET.as_ptr(), 16, null(), 0, &mut ok), SEALCAM_OK);
    }
    let (mut buf, mut n, mut t, mut v32, mut v32b) = ([0u8; 64], 0usize, 0u64, 0u32, 0u32);
    let b = buf.as_mut_ptr();
    let mut frame: sealcam_frame = unsafe { std::mem::zeroed() };
    frame.struct_size = size_of::<sealcam_frame>() as u32;
    let mut rstats =
        sealcam_receiver_stats { struct_size: size_of::<sealcam_receiver_stats>() as u32, ..Default::default() };
    let mut sstats =
        sealcam_sender_stats { struct_size: size_of::<sealcam_sender_stats>() as u32, ..Default::default() };
    let mut rate = sealcam_rate_state { struct_size: size_of::<sealcam_rate_state>() as u32, ..Default::default() };
    let mut ptr: *const u8 = null();
    let (mut scm, mut rcm, mut hcm) = (sc, rc, hc);
    let mut newtx = null_mut();
    let mut newrx = null_mut();
    let mut newhub = null_mut();
    let mut newsk = null_mut();
    let mut newok = null_mut();
    no_arg!(sealcam_version);
    no_arg!(sealcam_version_number);
    no_arg!(sealcam_result_text);
    // Sender.
    null!(sealcam_sender_config_default, sealcam_sender_config_default(null_mut()));
    null!(sealcam_sender_new, sealcam_sender_new(null(), &mut newtx));
    null!(sealcam_sender_new, sealcam_sender_new(&sc, null_mut()));
    scm.stream_id = null();
    null!(sealcam_sender_new, sealcam_sender_new(&scm, &mut newtx));
    scm = sc;
    scm.base_secret = null();
    null!(sealcam_sender_new, sealcam_sender_new(&scm, &mut newtx));
    assert!(newtx.is_null());
    null!(sealcam_sender_push_frame, sealcam_sender_push_frame(null_mut(), 0, &img, null_mut()));
    null!(sealcam_sender_push_frame, sealcam_sender_push_frame(tx, 0, null(), null_mut()));
    let mut noplane = img;
    noplane.planes[1] = null();
    null!(sealcam_sender_push_frame, sealcam_sender_push_frame(tx, 0, &noplane, null_mut()));
    null!(sealcam_sender_poll_transmit, sealcam_sender_poll_transmit(null_mut(), 0, b, 64, &mut n));
    null!(sealcam_sender_poll_transmit, sealcam_sender_poll_transmit(tx, 0, null_mut(), 64, &mut n));
    null!(sealcam_sender_poll_transmit, sealcam_sender_poll_transmit(tx, 0, b, 64, null_mut()));
    null!(sealcam_sender_poll_timeout, sealcam_sender_poll_timeout(null(), &mut t));
    null!(sealcam_sender_poll_timeout, sealcam_sender_poll_timeout(tx, null_mut()));
    null!(sealcam_sender_handle_feedback, sealcam_sender_handle_feedback(null_mut(), 0, b, 4));
    null!(sealcam_sender_handle_feedback, sealcam_sender_handle_feedback(tx, 0, null(), 4));
    null!(sealcam_sender_set_target_bitrate, sealcam_sender_set_target_bitrate(null_mut(), 100_000));
    null!(sealcam_sender_set_bitrate_bounds, sealcam_sender_set_bitrate_bounds(null_mut(), 100_000, 200_000));
    null!(sealcam_sender_target_bitrate, sealcam_sender_target_bitrate(null(), &mut v32));
    null!(sealcam_sender_target_bitrate, sealcam_sender_target_bitrate(tx, null_mut()));
    null!(sealcam_sender_encode_size, sealcam_sender_encode_size(null(), &mut v32, &mut v32b));
    null!(sealcam_sender_encode_size, sealcam_sender_encode_size(tx, null_mut(), &mut v32b));
    null!(sealcam_sender_encode_size, sealcam_sender_encode_size(tx, &mut v32, null_mut()));
    null!(sealcam_sender_set_encode_size, sealcam_sender_set_encode_size(null_mut(), 0, 0));
    null!(sealcam_sender_get_stats, sealcam_sender_get_stats(null(), &mut sstats));
    null!(sealcam_sender_get_stats, sealcam_sender_get_stats(tx, null_mut()));
    null!(sealcam_sender_rate_state, sealcam_sender_rate_state(null(), &mut rate));
    null!(sealcam_sender_rate_state, sealcam_sender_rate_state(tx, null_mut()));
    null!(sealcam_sender_request_keyframe, sealcam_sender_request_keyframe(null_mut()));
    null!(sealcam_sender_last_bitstream, sealcam_sender_last_bitstream(null(), &mut ptr, &mut n));
    null!(sealcam_sender_last_bitstream, sealcam_sender_last_bitstream(tx, null_mut(), &mut n));
    null!(sealcam_sender_last_bitstream, sealcam_sender_last_bitstream(tx, &mut ptr, null_mut()));
    null!(sealcam_sender_rekey, sealcam_sender_rekey(null_mut(), 1, null(), 0));
    null!(sealcam_sender_rekey, sealcam_sender_rekey(tx, 1, null(), 16));
    // Receiver.
    null!(sealcam_receiver_config_default, sealcam_receiver_config_default(null_mut()));
    null!(sealcam_receiver_new, sealcam_receiver_new(null(), &mut newrx));
    null!(sealcam_receiver_new, sealcam_receiver_new(&rc, null_mut()));
    rcm.stream_id = null();
    null!(sealcam_receiver_new, sealcam_receiver_new(&rcm, &mut newrx));
    rcm = rc;
    rcm.base_secret = null();
    null!(sealcam_receiver_new, sealcam_receiver_new(&rcm, &mut newrx));
    assert!(newrx.is_null());
    null!(sealcam_receiver_handle_packet, sealcam_receiver_handle_packet(null_mut(), 0, b, 12));
    null!(sealcam_receiver_handle_packet, sealcam_receiver_handle_packet(rx, 0, null(), 12));
    null!(sealcam_receiver_handle_timeout, sealcam_receiver_handle_timeout(null_mut(), 0));
    null!(sealcam_receiver_poll_frame, sealcam_receiver_poll_frame(null_mut(), &mut frame));
    null!(sealcam_receiver_poll_frame, sealcam_receiver_poll_frame(rx, null_mut()));
    null!(sealcam_receiver_render_at, sealcam_receiver_render_at(null(), &mut t));
    null!(sealcam_receiver_render_at, sealcam_receiver_render_at(rx, null_mut()));
    null!(sealcam_receiver_poll_feedback, sealcam_receiver_poll_feedback(null_mut(), 0, b, 64, &mut n));
    null!(sealcam_receiver_poll_feedback, sealcam_receiver_poll_feedback(rx, 0, null_mut(), 64, &mut n));
    null!(sealcam_receiver_poll_feedback, sealcam_receiver_poll_feedback(rx, 0, b, 64, null_mut()));
    null!(sealcam_receiver_poll_timeout, sealcam_receiver_poll_timeout(null(), &mut t));
    null!(sealcam_receiver_poll_timeout, sealcam_receiver_poll_timeout(rx, null_mut()));
    null!(sealcam_receiver_get_stats, sealcam_receiver_get_stats(null(), &mut rstats));
    null!(sealcam_receiver_get_stats, sealcam_receiver_get_stats(rx, null_mut()));
    null!(sealcam_receiver_install_key, sealcam_receiver_install_key(null_mut(), 1, null(), 0));
    null!(sealcam_receiver_install_key, sealcam_receiver_install_key(rx, 1, null(), 16));
    // Hub.
    null!(sealcam_hub_config_default, sealcam_hub_config_default(null_mut()));
    null!(sealcam_hub_new, sealcam_hub_new(null(), &mut newhub));
    null!(sealcam_hub_new, sealcam_hub_new(&hc, null_mut()));
    null!(sealcam_hub_add_stream, sealcam_hub_add_stream(null_mut(), &rc));
    null!(sealcam_hub_add_stream, sealcam_hub_add_stream(hub, null()));
    hcm.max_streams = 4;
    assert_eq!(unsafe { sealcam_hub_add_stream(hub, &rc) }, SEALCAM_OK);
    null!(sealcam_hub_remove_stream, sealcam_hub_remove_stream(null_mut(), 0));
    null!(sealcam_hub_handle_packet, sealcam_hub_handle_packet(null_mut(), 0, b, 12));
    null!(sealcam_hub_handle_packet, sealcam_hub_handle_packet(hub, 0, null(), 12));
    null!(sealcam_hub_handle_timeout, sealcam_hub_handle_timeout(null_mut(), 0));
    null!(sealcam_hub_poll_frame, sealcam_hub_poll_frame(null_mut(), &mut frame));
    null!(sealcam_hub_poll_frame, sealcam_hub_poll_frame(hub, null_mut()));
    null!(sealcam_hub_poll_feedback, sealcam_hub_poll_feedback(null_mut(), 0, b, 64, &mut v32, &mut n));
    null!(sealcam_hub_poll_feedback, sealcam_hub_poll_feedback(hub, 0, null_mut(), 64, &mut v32, &mut n));
    null!(sealcam_hub_poll_feedback, sealcam_hub_poll_feedback(hub, 0, b, 64, null_mut(), &mut n));
    null!(sealcam_hub_poll_feedback, sealcam_hub_poll_feedback(hub, 0, b, 64, &mut v32, null_mut()));
    null!(sealcam_hub_poll_timeout, sealcam_hub_poll_timeout(null(), &mut t));
    null!(sealcam_hub_poll_timeout, sealcam_hub_poll_timeout(hub, null_mut()));
    null!(sealcam_hub_stream_stats, sealcam_hub_stream_stats(null(), 0, &mut rstats));
    null!(sealcam_hub_stream_stats, sealcam_hub_stream_stats(hub, 0, null_mut()));
    null!(sealcam_hub_render_at, sealcam_hub_render_at(null(), 0, &mut t));
    null!(sealcam_hub_render_at, sealcam_hub_render_at(hub, 0, null_mut()));
    null!(sealcam_hub_install_key, sealcam_hub_install_key(null_mut(), 0, 1, null(), 0));
    null!(sealcam_hub_install_key, sealcam_hub_install_key(hub, 0, 1, null(), 16));
    // SFrame alone.
    null!(sealcam_seal_key_new, sealcam_seal_key_new(4, 1, null(), 16, null(), 0, &mut newsk));
    null!(sealcam_seal_key_new, sealcam_seal_key_new(4, 1, SECRET.as_ptr(), 16, null(), 3, &mut newsk));
    null!(sealcam_seal_key_new, sealcam_seal_key_new(4, 1, SECRET.as_ptr(), 16, null(), 0, null_mut()));
    null!(sealcam_open_key_new, sealcam_open_key_new(4, 1, null(), 16, null(), 0, &mut newok));
    null!(sealcam_open_key_new, sealcam_open_key_new(4, 1, SECRET.as_ptr(), 16, null(), 3, &mut newok));
    null!(sealcam_open_key_new, sealcam_open_key_new(4, 1, SECRET.as_ptr(), 16, null(), 0, null_mut()));
    assert!(newsk.is_null() && newok.is_null());
    let md = [1u8; 8];
    null!(sealcam_sframe_protect, sealcam_sframe_protect(null_mut(), md.as_ptr(), 8, md.as_ptr(), 8, b, 64, &mut n));
    null!(sealcam_sframe_protect, sealcam_sframe_protect(sk, null(), 8, md.as_ptr(), 8, b, 64, &mut n));
    null!(sealcam_sframe_protect, sealcam_sframe_protect(sk, md.as_ptr(), 8, null(), 8, b, 64, &mut n));
    null!(sealcam_sframe_protect, sealcam_sframe_protect(sk, md.as_ptr(), 8, md.as_ptr(), 8, null_mut(), 64, &mut n));
    null!(sealcam_sframe_protect, sealcam_sframe_protect(sk, md.as_ptr(), 8, md.as_ptr(), 8, b, 64, null_mut()));
    null!(
        sealcam_sframe_unprotect,
        sealcam_sframe_unprotect(null_mut(), md.as_ptr(), 8, md.as_ptr(), 8, b, 64, &mut n)
    );
    null!(sealcam_sframe_unprotect, sealcam_sframe_unprotect(ok, null(), 8, md.as_ptr(), 8, b, 64, &mut n));
    null!(sealcam_sframe_unprotect, sealcam_sframe_unprotect(ok, md.as_ptr(), 8, null(), 8, b, 64, &mut n));
    null!(
        sealcam_sframe_unprotect,
        sealcam_sframe_unprotect(ok, md.as_ptr(), 8, md.as_ptr(), 8, null_mut(), 64, &mut n)
    );
    null!(sealcam_sframe_unprotect, sealcam_sframe_unprotect(ok, md.as_ptr(), 8, md.as_ptr(), 8, b, 64, null_mut()));
    null!(sealcam_stream_metadata, sealcam_stream_metadata(null(), 3, 1, 0, b, 64, &mut n));
    null!(sealcam_stream_metadata, sealcam_stream_metadata(ID.as_ptr(), 3, 1, 0, null_mut(), 64, &mut n));
    null!(sealcam_stream_metadata, sealcam_stream_metadata(ID.as_ptr(), 3, 1, 0, b, 64, null_mut()));
    // Kernels.
    let mut dst = vec![0u8; 16 * 16 * 3 / 2];
    null!(sealcam_i420_len, sealcam_i420_len(16, 16, null_mut()));
    null!(sealcam_convert_to_i420, sealcam_convert_to_i420(null(), 0, dst.as_mut_ptr(), dst.len()));
    null!(sealcam_convert_to_i420, sealcam_convert_to_i420(&img, 0, null_mut(), dst.len()));
    null!(sealcam_convert_to_i420, sealcam_convert_to_i420(&noplane, 0, dst.as_mut_ptr(), dst.len()));
    null!(sealcam_scale_i420, sealcam_scale_i420(null(), 8, 8, dst.as_mut_ptr(), dst.len()));
    null!(sealcam_scale_i420, sealcam_scale_i420(&img, 8, 8, null_mut(), dst.len()));
    // Frees accept NULL.
    unsafe {
        sealcam_sender_free(null_mut());
        sealcam_receiver_free(null_mut());
        sealcam_hub_free(null_mut());
        sealcam_seal_key_free(null_mut());
        sealcam_open_key_free(null_mut());
        for name in ["sender", "receiver", "hub", "seal_key", "open_key"] {
            covered.insert(format!("sealcam_{name}_free"));
        }
        sealcam_sender_free(tx);
        sealcam_receiver_free(rx);
        sealcam_hub_free(hub);
        sealcam_seal_key_free(sk);
        sealcam_open_key_free(ok);
    }
    let _ = (&mut hcm, &mut buf);
    let missing: Vec<_> = header_functions().difference(&covered).cloned().collect();
    assert!(missing.is_empty(), "entry points without a NULL-pointer case: {missing:?}");
}

#[test]
fn calls_before_anything_exists_answer_again() {
    let (sc, rc) = (sender_config(), receiver_config());
    let (mut tx, mut rx) = (null_mut(), null_mut());
    unsafe {
        assert_eq!(sealcam_sender_new(&sc, &mut tx), SEALCAM_OK);
        assert_eq!(sealcam_receiver_new(&rc, &mut rx), SEALCAM_OK);
        let (mut p, mut n, mut t) = (null(), 0usize, 0u64);
        assert_eq!(sealcam_sender_last_bitstream(tx, &mut p, &mut n), SEALCAM_AGAIN);
        assert!(p.is_null() && n == 0, "nothing written before a push");
        // A new sender's first hello is due at once; a one-way sender has nothing to send.
        assert_eq!(sealcam_sender_poll_timeout(tx, &mut t), SEALCAM_OK);
        assert_eq!(t, 0);
        let mut one_way = sender_config();
        one_way.one_way = 1;
        let mut ow = null_mut();
        assert_eq!(sealcam_sender_new(&one_way, &mut ow), SEALCAM_OK);
        assert_eq!(sealcam_sender_poll_timeout(ow, &mut t), SEALCAM_AGAIN);
        sealcam_sender_free(ow);
        assert_eq!(sealcam_receiver_render_at(rx, &mut t), SEALCAM_AGAIN);
        let mut f: sealcam_frame = std::mem::zeroed();
        f.struct_size = size_of::<sealcam_frame>() as u32;
        assert_eq!(sealcam_receiver_poll_frame(rx, &mut f), SEALCAM_AGAIN);
        let mut buf = [0u8; 64];
        assert_eq!(sealcam_receiver_poll_feedback(rx, 0, buf.as_mut_ptr(), 64, &mut n), SEALCAM_AGAIN);
        sealcam_sender_free(tx);
        sealcam_receiver_free(rx);
    }
}

#[test]
fn inputs_that_make_no_sense_are_refused() {
    unsafe {
        let mut hc = hub_config();
        let mut hub = null_mut();
        hc.max_streams = 0;
        assert_eq!(sealcam_hub_new(&hc, &mut hub), SEALCAM_INVALID_INPUT);
        hc = hub_config();
        hc.max_stream_memory_bytes = 100;
        assert_eq!(sealcam_hub_new(&hc, &mut hub), SEALCAM_INVALID_INPUT);
        assert!(hub.is_null());
        let mut sc = sender_config();
        let mut tx = null_mut();
        sc.adaptive_bitrate = 2;
        assert_eq!(sealcam_sender_new(&sc, &mut tx), SEALCAM_INVALID_INPUT);
        sc = sender_config();
        sc.color_matrix = 7;
        assert_eq!(sealcam_sender_new(&sc, &mut tx), SEALCAM_INVALID_INPUT);
        sc = sender_config();
        sc.encode_width = 320; // and height 0
        assert_eq!(sealcam_sender_new(&sc, &mut tx), SEALCAM_INVALID_INPUT);
        sc = sender_config();
        sc.cipher_suite = 9;
        assert_eq!(sealcam_sender_new(&sc, &mut tx), SEALCAM_UNSUPPORTED);
        assert!(tx.is_null());
        sc = sender_config();
        assert_eq!(sealcam_sender_new(&sc, &mut tx), SEALCAM_OK);
        // The rate floors are one: what the bounds accept, the target accepts.
        let floor = crate::MIN_BITRATE_BPS;
        assert_eq!(sealcam_sender_set_bitrate_bounds(tx, floor - 1, 200_000), SEALCAM_INVALID_INPUT);
        assert_eq!(sealcam_sender_set_bitrate_bounds(tx, floor, 200_000), SEALCAM_OK);
        assert_eq!(sealcam_sender_set_target_bitrate(tx, floor), SEALCAM_OK);
        assert_eq!(sealcam_sender_set_target_bitrate(tx, floor - 1), SEALCAM_INVALID_INPUT);
        assert_eq!(sealcam_sender_set_encode_size(tx, 0, 240), SEALCAM_INVALID_INPUT);
        assert_eq!(sealcam_sender_set_encode_size(tx, 320, 240), SEALCAM_OK);
        let (mut w, mut h) = (0, 0);
        assert_eq!(sealcam_sender_encode_size(tx, &mut w, &mut h), SEALCAM_OK);
        assert_eq!((w, h), (320, 240));
        // Epochs only move forward; short raw keys are refused.
        assert_eq!(sealcam_sender_rekey(tx, 1, null(), 0), SEALCAM_OK);
        assert_eq!(sealcam_sender_rekey(tx, 0, null(), 0), SEALCAM_INVALID_INPUT);
        let mut k = null_mut();
        assert_eq!(sealcam_seal_key_new(4, 1, SECRET.as_ptr(), 0, null(), 0, &mut k), SEALCAM_INVALID_INPUT);
        assert_eq!(sealcam_open_key_new(4, 1, SECRET.as_ptr(), 15, null(), 0, &mut k.cast()), SEALCAM_INVALID_INPUT);
        sealcam_sender_free(tx);
    }
}

#[test]
fn a_config_from_an_older_caller_reads_its_missing_tail_as_zero() {
    // An older caller's sealcam_sender_config ends before color_matrix (the first field
    // added in 0.2): it is accepted, and the fields it lacks take their zero defaults.
    let min = sealcam_sender_config::MIN_SIZE;
    assert!(min < size_of::<sealcam_sender_config>());
    let full = sender_config();
    let mut old = vec![0xAAu8; min];
    // SAFETY: the buffer has `min` bytes; copy the first `min` bytes of a full config.
    unsafe {
        std::ptr::copy_nonoverlapping((&full as *const sealcam_sender_config).cast::<u8>(), old.as_mut_ptr(), min)
    };
    old[..4].copy_from_slice(&(min as u32).to_ne_bytes());
    // The old caller's _default fills only its own bytes.
    let mut fresh = vec![0xAAu8; min + 16];
    fresh[..4].copy_from_slice(&(min as u32).to_ne_bytes());
    unsafe {
        assert_eq!(sealcam_sender_config_default(fresh.as_mut_ptr().cast()), SEALCAM_OK);
        assert!(fresh[min..].iter().all(|&b| b == 0xAA), "nothing written past struct_size");
        let c = read_growable(old.as_ptr().cast::<sealcam_sender_config>()).unwrap();
        assert_eq!((c.color_matrix, c.encode_width, c.encode_height), (0, 0, 0));
        let mut tx = null_mut();
        assert_eq!(sealcam_sender_new(old.as_ptr().cast(), &mut tx), SEALCAM_OK);
        sealcam_sender_free(tx);
        // Smaller than the first release: refused.
        old[..4].copy_from_slice(&((min - 4) as u32).to_ne_bytes());
        assert_eq!(sealcam_sender_new(old.as_ptr().cast(), &mut tx), SEALCAM_INVALID_INPUT);
    }
}

#[test]
fn a_newer_callers_struct_is_accepted_only_when_its_unknown_tail_is_zero() {
    let ours = size_of::<sealcam_receiver_config>();
    let mut newer = vec![0u8; ours + 16];
    newer[..4].copy_from_slice(&((ours + 16) as u32).to_ne_bytes());
    unsafe {
        assert_eq!(sealcam_receiver_config_default(newer.as_mut_ptr().cast()), SEALCAM_OK);
        assert_eq!(u32::from_ne_bytes(newer[..4].try_into().unwrap()) as usize, ours + 16, "struct_size kept");
        let c = &mut *newer.as_mut_ptr().cast::<sealcam_receiver_config>();
        (c.stream_id, c.stream_id_len, c.base_secret, c.base_secret_len) =
            (ID.as_ptr(), ID.len(), SECRET.as_ptr(), SECRET.len());
        let mut rx = null_mut();
        assert_eq!(sealcam_receiver_new(newer.as_ptr().cast(), &mut rx), SEALCAM_OK);
        sealcam_receiver_free(rx);
        newer[ours + 3] = 1; // a field this library does not know, set
        assert_eq!(sealcam_receiver_new(newer.as_ptr().cast(), &mut rx), SEALCAM_UNSUPPORTED);
    }
}

#[test]
fn an_output_struct_is_written_only_up_to_its_struct_size() {
    let rc = receiver_config();
    let mut rx = null_mut();
    unsafe {
        assert_eq!(sealcam_receiver_new(&rc, &mut rx), SEALCAM_OK);
        assert_eq!(sealcam_receiver_handle_packet(rx, 0, [0u8; 3].as_ptr(), 3), SEALCAM_DROPPED);
        // An older caller's stats: struct_size and two counters.
        let mut old = [0xAAAA_AAAA_AAAA_AAAAu64; 6];
        let n = std::mem::offset_of!(sealcam_receiver_stats, frames_undecodable);
        (old.as_mut_ptr() as *mut u32).write(n as u32);
        assert_eq!(sealcam_receiver_get_stats(rx, old.as_mut_ptr().cast()), SEALCAM_OK);
        assert_eq!(old[1], 0, "frames_output written");
        assert!(old[n / 8..].iter().all(|&w| w == 0xAAAA_AAAA_AAAA_AAAA), "nothing past struct_size");
        // A newer caller's: our fields, then zeros.
        let mut newer = vec![0xAAu8; size_of::<sealcam_receiver_stats>() + 24];
        let len = newer.len() as u32;
        newer[..4].copy_from_slice(&len.to_ne_bytes());
        assert_eq!(sealcam_receiver_get_stats(rx, newer.as_mut_ptr().cast()), SEALCAM_OK);
        assert!(newer[size_of::<sealcam_receiver_stats>()..].iter().all(|&b| b == 0));
        let got = newer.as_ptr().cast::<sealcam_receiver_stats>().read_unaligned();
        assert_eq!((got.packets_received, got.dropped_malformed), (1, 1));
        // Under 4 bytes: refused, nothing written.
        let mut tiny = [2u32, 0xAAAA_AAAA];
        assert_eq!(sealcam_receiver_get_stats(rx, tiny.as_mut_ptr().cast()), SEALCAM_INVALID_INPUT);
        assert_eq!(tiny, [2, 0xAAAA_AAAA]);
        sealcam_receiver_free(rx);
    }
}

#[test]
fn buffer_too_small_reports_the_size_needed_and_changes_nothing() {
    let mut sk = null_mut();
    let mut ok = null_mut();
    let md = b"metadata";
    let pt = b"a frame of forty bytes, give or take it.";
    unsafe {
        assert_eq!(sealcam_seal_key_new(4, 3, SECRET.as_ptr(), 16, null(), 0, &mut sk), SEALCAM_OK);
        assert_eq!(sealcam_open_key_new(4, 3, SECRET.as_ptr(), 16, null(), 0, &mut ok), SEALCAM_OK);
        let mut out = [0u8; 128];
        let mut n = 0usize;
        assert_eq!(
            sealcam_sframe_protect(sk, md.as_ptr(), 8, pt.as_ptr(), pt.len(), out.as_mut_ptr(), 10, &mut n),
            SEALCAM_BUFFER_TOO_SMALL
        );
        let needed = n;
        assert_eq!(needed, 1 + pt.len() + 16);
        assert_eq!(
            sealcam_sframe_protect(sk, md.as_ptr(), 8, pt.as_ptr(), pt.len(), out.as_mut_ptr(), needed, &mut n),
            SEALCAM_OK
        );
        assert_eq!(n, needed, "the failed call used no counter: CTR 0 still fits the header byte");
        let mut clear = [0u8; 64];
        let mut m = 0usize;
        assert_eq!(
            sealcam_sframe_unprotect(ok, md.as_ptr(), 8, out.as_ptr(), n, clear.as_mut_ptr(), 3, &mut m),
            SEALCAM_BUFFER_TOO_SMALL
        );
        assert_eq!(m, pt.len());
        assert_eq!(
            sealcam_sframe_unprotect(ok, md.as_ptr(), 8, out.as_ptr(), n, clear.as_mut_ptr(), 64, &mut m),
            SEALCAM_OK
        );
        assert_eq!(&clear[..m], pt);
        assert_eq!(
            sealcam_sframe_unprotect(ok, md.as_ptr(), 8, out.as_ptr(), n, clear.as_mut_ptr(), 64, &mut m),
            SEALCAM_REPLAY
        );
        let mut mdbuf = [0u8; 8];
        assert_eq!(
            sealcam_stream_metadata(ID.as_ptr(), 3, 1, 2, mdbuf.as_mut_ptr(), 8, &mut m),
            SEALCAM_BUFFER_TOO_SMALL
        );
        assert_eq!(m, crate::sframe::stream_metadata_len(3));
        let mut l = 0usize;
        assert_eq!(sealcam_i420_len(5, 3, &mut l), SEALCAM_OK);
        assert_eq!(l, 15 + 2 * 3 * 2);
        sealcam_seal_key_free(sk);
        sealcam_open_key_free(ok);
    }
}
