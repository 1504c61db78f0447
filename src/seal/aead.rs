//! The five RFC 9605 cipher suites behind one type: AES-GCM (suites 4, 5) from RustCrypto's
//! `aes-gcm`, and AES-CTR with truncated HMAC-SHA256 (suites 1-3) built as RFC 9605
//! section 4.5.1 specifies. Key schedules are zeroized on drop.

use aes::cipher::{KeyIvInit, StreamCipher};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

type Aes128Ctr = ctr::Ctr32BE<aes::Aes128>;

/// SFrame nonce length for every suite (Nn).
pub(crate) const NONCE_BYTES: usize = 12;

/// RFC 9605 cipher suites (section 4.5 and the IANA registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CipherSuite {
    /// AES_128_CTR_HMAC_SHA256_80
    AesCtr128HmacSha256_80 = 1,
    /// AES_128_CTR_HMAC_SHA256_64
    AesCtr128HmacSha256_64 = 2,
    /// AES_128_CTR_HMAC_SHA256_32
    AesCtr128HmacSha256_32 = 3,
    /// AES_128_GCM_SHA256_128 (sealcam's default)
    AesGcm128Sha256 = 4,
    /// AES_256_GCM_SHA512_128
    AesGcm256Sha512 = 5,
}

impl CipherSuite {
    /// The suite with this IANA value.
    pub fn from_u16(v: u16) -> Result<Self> {
        Ok(match v {
            1 => CipherSuite::AesCtr128HmacSha256_80,
            2 => CipherSuite::AesCtr128HmacSha256_64,
            3 => CipherSuite::AesCtr128HmacSha256_32,
            4 => CipherSuite::AesGcm128Sha256,
            5 => CipherSuite::AesGcm256Sha512,
            _ => return Err(Error::Unsupported(format!("SFrame cipher suite {v}"))),
        })
    }
    /// Key length Nk in bytes (CTR-HMAC suites: 16 encryption + 32 authentication bytes).
    pub fn key_bytes(self) -> usize {
        match self {
            CipherSuite::AesGcm128Sha256 => 16,
            CipherSuite::AesGcm256Sha512 => 32,
            _ => 48,
        }
    }
    /// Authentication tag length Nt in bytes.
    pub fn tag_bytes(self) -> usize {
        match self {
            CipherSuite::AesCtr128HmacSha256_80 => 10,
            CipherSuite::AesCtr128HmacSha256_64 => 8,
            CipherSuite::AesCtr128HmacSha256_32 => 4,
            _ => 16,
        }
    }
    /// Whether the suite's KDF hash is SHA-512 (else SHA-256).
    pub fn uses_sha512(self) -> bool {
        self == CipherSuite::AesGcm256Sha512
    }
}

/// An initialised AEAD for one suite and key.
pub(crate) enum Aead {
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
    CtrHmac { enc_key: Zeroizing<[u8; 16]>, auth_key: Zeroizing<[u8; 32]>, tag_bytes: usize },
}

impl Aead {
    pub(crate) fn new(suite: CipherSuite, key: &[u8]) -> Result<Self> {
        if key.len() != suite.key_bytes() {
            return Err(Error::InvalidInput(format!(
                "suite {suite:?} needs a {}-byte key, got {}",
                suite.key_bytes(),
                key.len()
            )));
        }
        Ok(match suite {
            CipherSuite::AesGcm128Sha256 => {
                Aead::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).map_err(|_| invalid_key())?))
            }
            CipherSuite::AesGcm256Sha512 => {
                Aead::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).map_err(|_| invalid_key())?))
            }
            _ => {
                let mut enc_key = Zeroizing::new([0u8; 16]);
                let mut auth_key = Zeroizing::new([0u8; 32]);
                enc_key.copy_from_slice(&key[..16]);
                auth_key.copy_from_slice(&key[16..]);
                Aead::CtrHmac { enc_key, auth_key, tag_bytes: suite.tag_bytes() }
            }
        })
    }

    /// Encrypts `buf` in place and returns the tag in `tag[..Nt]`.
    pub(crate) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_BYTES],
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8; 16],
    ) -> Result<usize> {
        match self {
            Aead::Gcm128(c) => {
                let t = c
                    .encrypt_inout_detached(nonce.into(), aad, buf.into())
                    .map_err(|_| Error::InvalidInput("frame too long for AES-GCM".into()))?;
                tag.copy_from_slice(&t);
                Ok(16)
            }
            Aead::Gcm256(c) => {
                let t = c
                    .encrypt_inout_detached(nonce.into(), aad, buf.into())
                    .map_err(|_| Error::InvalidInput("frame too long for AES-GCM".into()))?;
                tag.copy_from_slice(&t);
                Ok(16)
            }
            Aead::CtrHmac { enc_key, auth_key, tag_bytes } => {
                ctr_apply(enc_key, nonce, buf);
                let full = ctr_hmac_tag(auth_key, *tag_bytes, nonce, aad, buf);
                tag[..*tag_bytes].copy_from_slice(&full[..*tag_bytes]);
                Ok(*tag_bytes)
            }
        }
    }

    /// Verifies `tag` and decrypts `buf` in place. On failure `buf` holds unspecified bytes
    /// that the caller must discard.
    pub(crate) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_BYTES],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<()> {
        match self {
            Aead::Gcm128(c) => c
                .decrypt_inout_detached(nonce.into(), aad, buf.into(), &tag_of(tag)?)
                .map_err(|_| Error::AuthenticationFailed),
            Aead::Gcm256(c) => c
                .decrypt_inout_detached(nonce.into(), aad, buf.into(), &tag_of(tag)?)
                .map_err(|_| Error::AuthenticationFailed),
            Aead::CtrHmac { enc_key, auth_key, tag_bytes } => {
                let full = ctr_hmac_tag(auth_key, *tag_bytes, nonce, aad, buf);
                use subtle::ConstantTimeEq;
                if !bool::from(full[..*tag_bytes].ct_eq(tag)) {
                    return Err(Error::AuthenticationFailed);
                }
                ctr_apply(enc_key, nonce, buf);
                Ok(())
            }
        }
    }

    pub(crate) fn tag_bytes(&self) -> usize {
        match self {
            Aead::CtrHmac { tag_bytes, .. } => *tag_bytes,
            _ => 16,
        }
    }
}

fn invalid_key() -> Error {
    Error::InvalidInput("AES-GCM key length".into())
}

fn tag_of(tag: &[u8]) -> Result<Tag> {
    Tag::try_from(tag).map_err(|_| Error::AuthenticationFailed)
}

/// AES-128-CTR with the 16-byte initial counter `nonce || 0x00000000` (RFC 9605 4.5.1).
fn ctr_apply(key: &[u8; 16], nonce: &[u8; NONCE_BYTES], buf: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..NONCE_BYTES].copy_from_slice(nonce);
    let mut c = Aes128Ctr::new(key.into(), (&iv).into());
    c.apply_keystream(buf);
}

/// HMAC-SHA256 over `len(aad) || len(ct) || Nt || nonce || aad || ct` (RFC 9605 4.5.1).
fn ctr_hmac_tag(auth_key: &[u8; 32], tag_bytes: usize, nonce: &[u8; NONCE_BYTES], aad: &[u8], ct: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(auth_key).expect("HMAC takes any key length");
    mac.update(&(aad.len() as u64).to_be_bytes());
    mac.update(&(ct.len() as u64).to_be_bytes());
    mac.update(&(tag_bytes as u64).to_be_bytes());
    mac.update(nonce);
    mac.update(aad);
    mac.update(ct);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// The RFC 9605 AES-CTR-HMAC vectors (suites 1-3) exercise the AEAD alone.
    #[test]
    fn rfc9605_aes_ctr_hmac_vectors() {
        let v: serde_json::Value = serde_json::from_str(include_str!("../../tests/data/sframe-rfc9605.json")).unwrap();
        let cases = v["aes_ctr_hmac"].as_array().unwrap();
        assert_eq!(cases.len(), 3);
        for c in cases {
            let suite = CipherSuite::from_u16(c["cipher_suite"].as_u64().unwrap() as u16).unwrap();
            let key = hex(c["key"].as_str().unwrap());
            let nonce: [u8; NONCE_BYTES] = hex(c["nonce"].as_str().unwrap()).try_into().unwrap();
            let aad = hex(c["aad"].as_str().unwrap());
            let pt = hex(c["pt"].as_str().unwrap());
            let ct = hex(c["ct"].as_str().unwrap());
            let a = Aead::new(suite, &key).unwrap();
            let mut buf = pt.clone();
            let mut tag = [0u8; 16];
            let n = a.seal_in_place(&nonce, &aad, &mut buf, &mut tag).unwrap();
            buf.extend_from_slice(&tag[..n]);
            assert_eq!(buf, ct, "suite {suite:?}");
            let (body, t) = ct.split_at(ct.len() - n);
            let mut back = body.to_vec();
            a.open_in_place(&nonce, &aad, &mut back, t).unwrap();
            assert_eq!(back, pt);
        }
    }
}
