//! Interoperability with the independent `sframe` crate (RFC 9605): frames sealed here open
//! there and frames sealed there open here, for every cipher suite, with metadata.

use sealcam::sframe::{CipherSuite, OpenKey, SealKey};
use sframe::frame::{EncryptedFrameView, MediaFrameView, MonotonicCounter};
use sframe::key::{DecryptionKey, EncryptionKey};

const SUITES: [(CipherSuite, sframe::CipherSuite); 5] = [
    (CipherSuite::AesCtr128HmacSha256_80, sframe::CipherSuite::AesCtr128HmacSha256_80),
    (CipherSuite::AesCtr128HmacSha256_64, sframe::CipherSuite::AesCtr128HmacSha256_64),
    (CipherSuite::AesCtr128HmacSha256_32, sframe::CipherSuite::AesCtr128HmacSha256_32),
    (CipherSuite::AesGcm128Sha256, sframe::CipherSuite::AesGcm128Sha256),
    (CipherSuite::AesGcm256Sha512, sframe::CipherSuite::AesGcm256Sha512),
];

const BASE_KEY: &[u8] = b"an SFrame base key shared by both";
const METADATA: &[u8] = b"sealcam/1 stream metadata";

fn payload(i: u64) -> Vec<u8> {
    (0..(100 + i as usize * 997 % 5000)).map(|k| (k as u64 * 31 + i) as u8).collect()
}

#[test]
fn frames_sealed_by_sealcam_open_in_the_sframe_crate() {
    for (ours, theirs) in SUITES {
        for kid in [0u64, 7, 300] {
            let mut seal = SealKey::new(ours, kid, BASE_KEY).unwrap();
            let dec = DecryptionKey::derive_from(theirs, kid, BASE_KEY).unwrap();
            for i in 0..20u64 {
                let mut sealed = Vec::new();
                seal.seal(METADATA, &payload(i), &mut sealed).unwrap();
                let view = EncryptedFrameView::try_with_meta_data(&sealed, METADATA).unwrap();
                let mut buf = Vec::new();
                let media = view.decrypt_into(&dec, &mut buf).unwrap();
                assert_eq!(media.payload(), payload(i).as_slice(), "{ours:?} kid {kid} frame {i}");
            }
        }
    }
}

#[test]
fn frames_sealed_by_the_sframe_crate_open_in_sealcam() {
    for (ours, theirs) in SUITES {
        for kid in [0u64, 9, 70_000] {
            let enc = EncryptionKey::derive_from(theirs, kid, BASE_KEY).unwrap();
            let mut open = OpenKey::new(ours, kid, BASE_KEY).unwrap();
            let mut counter = MonotonicCounter::default();
            for i in 0..20u64 {
                let p = payload(i);
                let media = MediaFrameView::try_with_meta_data(&mut counter, &p, METADATA).unwrap();
                let mut buf = Vec::new();
                let sealed = media.encrypt_into(&enc, &mut buf).unwrap();
                let mut out = Vec::new();
                open.open(METADATA, sealed.sframe_cipher_text(), &mut out).unwrap();
                assert_eq!(out, p, "{ours:?} kid {kid} frame {i}");
                // And a replay of the same bytes is refused here.
                assert!(open.open(METADATA, sealed.sframe_cipher_text(), &mut out).is_err());
            }
        }
    }
}
