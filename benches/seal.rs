//! Seal and open throughput per cipher suite for 1 KB, 10 KB and 100 KB frames, side by side
//! in one run with (a) the raw AEAD of the same crypto backend (RustCrypto) on the same bytes
//! and (b) the independent `sframe` crate (rust-crypto backend) doing the same SFrame work.
//!
//! Run: `cargo bench --bench seal` (criterion prints throughput per line; the README lists
//! the ratios). `SEALCAM_BENCH_QUICK=1` shortens the measurement.

use std::hint::black_box;
use std::time::Duration;

use aes::cipher::{KeyIvInit, StreamCipher};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sealcam::sframe::{CipherSuite, OpenKey, SealKey};
use sframe::frame::{EncryptedFrameView, MediaFrameView, MonotonicCounter};
use sframe::key::{DecryptionKey, EncryptionKey};
use sha2::Sha256;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Distinct sealed frames each open benchmark cycles through (the opener restarts its
/// replay window after each pass, which costs one key derivation per pass: counted against
/// sealcam).
const OPEN_SET: usize = 64;
const BASE_KEY: &[u8] = b"benchmark base key, 32 bytes....";
const METADATA: &[u8] = b"sealcam/1\x08camera-0\x5e\xa1\x00\x00\x00\x01\x5f\x90";

fn suites() -> [(CipherSuite, sframe::CipherSuite, &'static str); 5] {
    [
        (CipherSuite::AesCtr128HmacSha256_80, sframe::CipherSuite::AesCtr128HmacSha256_80, "ctr_hmac_80"),
        (CipherSuite::AesCtr128HmacSha256_64, sframe::CipherSuite::AesCtr128HmacSha256_64, "ctr_hmac_64"),
        (CipherSuite::AesCtr128HmacSha256_32, sframe::CipherSuite::AesCtr128HmacSha256_32, "ctr_hmac_32"),
        (CipherSuite::AesGcm128Sha256, sframe::CipherSuite::AesGcm128Sha256, "aes_128_gcm"),
        (CipherSuite::AesGcm256Sha512, sframe::CipherSuite::AesGcm256Sha512, "aes_256_gcm"),
    ]
}

/// The primitive alone, keyed once: what sealing must cost at least (encrypt + tag over the
/// frame), and what opening must cost at least (verify + decrypt).
enum Raw {
    Gcm128(Aes128Gcm),
    Gcm256(Aes256Gcm),
    CtrHmac,
}

impl Raw {
    fn new(suite: CipherSuite) -> Raw {
        match suite {
            CipherSuite::AesGcm128Sha256 => Raw::Gcm128(Aes128Gcm::new(&[7u8; 16].into())),
            CipherSuite::AesGcm256Sha512 => Raw::Gcm256(Aes256Gcm::new(&[7u8; 32].into())),
            _ => Raw::CtrHmac,
        }
    }

    fn seal(&self, buf: &mut [u8]) -> [u8; 16] {
        let nonce = [3u8; 12];
        match self {
            Raw::Gcm128(c) => c.encrypt_inout_detached(&nonce.into(), METADATA, buf.into()).unwrap().into(),
            Raw::Gcm256(c) => c.encrypt_inout_detached(&nonce.into(), METADATA, buf.into()).unwrap().into(),
            Raw::CtrHmac => {
                ctr_apply(buf);
                let t = hmac_tag(buf);
                t[..16].try_into().unwrap()
            }
        }
    }

    fn open(&self, buf: &mut [u8], tag: &[u8; 16]) {
        let nonce = [3u8; 12];
        match self {
            Raw::Gcm128(c) => c.decrypt_inout_detached(&nonce.into(), METADATA, buf.into(), tag.into()).unwrap(),
            Raw::Gcm256(c) => c.decrypt_inout_detached(&nonce.into(), METADATA, buf.into(), tag.into()).unwrap(),
            Raw::CtrHmac => {
                black_box(hmac_tag(buf));
                ctr_apply(buf);
            }
        }
    }
}

fn ctr_apply(buf: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..12].copy_from_slice(&[3u8; 12]);
    let mut c = ctr::Ctr32BE::<aes::Aes128>::new(&[7u8; 16].into(), &iv.into());
    c.apply_keystream(buf);
}

fn hmac_tag(buf: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&[9u8; 32]).unwrap();
    m.update(METADATA);
    m.update(buf);
    m.finalize().into_bytes().into()
}

fn bench(c: &mut Criterion) {
    let quick = std::env::var_os("SEALCAM_BENCH_QUICK").is_some();
    for (ours, theirs, name) in suites() {
        let mut g = c.benchmark_group(format!("seal/{name}"));
        g.warm_up_time(Duration::from_millis(if quick { 200 } else { 500 }));
        g.measurement_time(Duration::from_millis(if quick { 500 } else { 1500 }));
        for size in SIZES {
            let frame: Vec<u8> = (0..size).map(|i| i as u8).collect();
            g.throughput(Throughput::Bytes(size as u64));

            // Raw primitive, same copy-in as sealing does.
            let prim = Raw::new(ours);
            let mut raw = frame.clone();
            g.bench_with_input(BenchmarkId::new("raw_aead", size), &size, |b, _| {
                b.iter(|| {
                    raw.copy_from_slice(&frame);
                    black_box(prim.seal(&mut raw))
                })
            });
            // Every open benchmark cycles through the same number of distinct frames, so all
            // three see the same cache behaviour.
            let encrypted: Vec<(Vec<u8>, [u8; 16])> = (0..OPEN_SET)
                .map(|_| {
                    let mut e = frame.clone();
                    let t = prim.seal(&mut e);
                    (e, t)
                })
                .collect();
            let mut k = 0usize;
            g.bench_with_input(BenchmarkId::new("raw_aead_open", size), &size, |b, _| {
                b.iter(|| {
                    let (e, t) = &encrypted[k % OPEN_SET];
                    raw.copy_from_slice(e);
                    prim.open(&mut raw, t);
                    k += 1;
                })
            });

            let mut key = SealKey::new(ours, 1, BASE_KEY).unwrap();
            let mut out = Vec::with_capacity(size + 64);
            g.bench_with_input(BenchmarkId::new("sealcam_seal", size), &size, |b, _| {
                b.iter(|| key.seal(METADATA, black_box(&frame), &mut out).unwrap())
            });

            let enc = EncryptionKey::derive_from(theirs, 1u64, BASE_KEY).unwrap();
            let mut counter = MonotonicCounter::default();
            let mut sbuf: Vec<u8> = Vec::with_capacity(size + 64);
            g.bench_with_input(BenchmarkId::new("sframe_crate_seal", size), &size, |b, _| {
                b.iter(|| {
                    let m = MediaFrameView::try_with_meta_data(&mut counter, &frame, METADATA).unwrap();
                    black_box(m.encrypt_into(&enc, &mut sbuf).unwrap());
                })
            });

            // Open: a fresh key each batch would measure derivation; instead open frames with
            // increasing counters sealed ahead of time.
            let mut sealer = SealKey::new(ours, 1, BASE_KEY).unwrap();
            let sealed: Vec<Vec<u8>> = (0..OPEN_SET)
                .map(|_| {
                    let mut o = Vec::new();
                    sealer.seal(METADATA, &frame, &mut o).unwrap();
                    o
                })
                .collect();
            let mut opener = OpenKey::new(ours, 1, BASE_KEY).unwrap();
            let mut plain = Vec::with_capacity(size);
            let mut i = 0usize;
            g.bench_with_input(BenchmarkId::new("sealcam_open", size), &size, |b, _| {
                b.iter(|| {
                    if i == sealed.len() {
                        opener = OpenKey::new(ours, 1, BASE_KEY).unwrap();
                        i = 0;
                    }
                    opener.open(METADATA, &sealed[i], &mut plain).unwrap();
                    i += 1;
                })
            });

            let dec = DecryptionKey::derive_from(theirs, 1u64, BASE_KEY).unwrap();
            let mut dbuf: Vec<u8> = Vec::with_capacity(size);
            let mut j = 0usize;
            g.bench_with_input(BenchmarkId::new("sframe_crate_open", size), &size, |b, _| {
                b.iter(|| {
                    let v = EncryptedFrameView::try_with_meta_data(&sealed[j % sealed.len()], METADATA).unwrap();
                    black_box(v.decrypt_into(&dec, &mut dbuf).unwrap());
                    j += 1;
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
