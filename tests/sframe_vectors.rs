//! RFC 9605 test vectors (tests/data/sframe-rfc9605.json, see tests/data/README.md):
//! header encodings and full SFrame encryption for every cipher suite.

use sealcam::sframe::{CipherSuite, Header, OpenKey, SealKey};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/sframe-rfc9605.json")).expect("vector file parses")
}

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

#[test]
fn every_rfc9605_header_vector_encodes_and_decodes() {
    let v = vectors();
    let headers = v["header"].as_array().unwrap();
    assert_eq!(headers.len(), 289);
    for h in headers {
        let hdr = Header { kid: h["kid"].as_u64().unwrap(), ctr: h["ctr"].as_u64().unwrap() };
        let mut out = Vec::new();
        hdr.encode(&mut out);
        assert_eq!(out, hex(&h["encoded"]), "{hdr:?}");
        assert_eq!(Header::decode(&out).unwrap(), (hdr, out.len()));
    }
}

#[test]
fn every_rfc9605_sframe_vector_seals_and_opens() {
    let v = vectors();
    let cases = v["sframe"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let suite = CipherSuite::from_u16(c["cipher_suite"].as_u64().unwrap() as u16).unwrap();
        let kid = c["kid"].as_u64().unwrap();
        let ctr = c["ctr"].as_u64().unwrap();
        let base_key = hex(&c["base_key"]);
        let metadata = hex(&c["metadata"]);
        let pt = hex(&c["pt"]);
        let ct = hex(&c["ct"]);
        let mut k = SealKey::new(suite, kid, &base_key).unwrap().starting_at(ctr);
        let mut out = Vec::new();
        k.seal(&metadata, &pt, &mut out).unwrap();
        assert_eq!(out, ct, "suite {suite:?}");
        let mut o = OpenKey::new(suite, kid, &base_key).unwrap();
        let mut back = Vec::new();
        o.open(&metadata, &ct, &mut back).unwrap();
        assert_eq!(back, pt, "suite {suite:?}");
        let mut tampered = ct.clone();
        tampered[ct.len() / 2] ^= 0x40;
        let mut o = OpenKey::new(suite, kid, &base_key).unwrap();
        assert!(o.open(&metadata, &tampered, &mut back).is_err());
    }
}
