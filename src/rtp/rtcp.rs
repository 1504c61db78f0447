//! RTCP feedback (RFC 3550, RFC 4585): generic NACK (PT 205, FMT 1) and Picture Loss
//! Indication (PT 206, FMT 1), written as reduced-size compound packets (RFC 5506), and
//! sealcam's hub nonce, an application-defined packet (RFC 3550 section 6.7, PT 204, name
//! "SCAM"):
//!
//! ```text
//! | V=2 P=0 subtype=0 | PT=204 | length=13 | hub SSRC | "SCAM" |
//! | media SSRC, 4 B | KID, 8 B | hub nonce, 16 B | MAC, 16 B |
//! ```
//!
//! Parsing walks a compound packet and skips types it does not know.

use crate::error::{Error, Result};
use crate::seal::{HubNonce, HUB_NONCE_BYTES, HUB_NONCE_MAC_BYTES};

/// RTCP packet type of application-defined packets (RFC 3550 section 6.7).
pub(crate) const PT_APP: u8 = 204;
/// The APP name sealcam's hub nonce carries.
pub(crate) const APP_NAME: &[u8; 4] = b"SCAM";
/// Bytes of a hub-nonce packet.
pub const HUB_NONCE_PACKET_BYTES: usize = 16 + 8 + HUB_NONCE_BYTES + HUB_NONCE_MAC_BYTES;

/// RTCP packet type of transport-layer feedback (RFC 4585).
pub(crate) const PT_RTPFB: u8 = 205;
/// RTCP packet type of payload-specific feedback (RFC 4585).
pub(crate) const PT_PSFB: u8 = 206;
/// FMT of a generic NACK.
pub(crate) const FMT_NACK: u8 = 1;
/// FMT of a PLI.
pub(crate) const FMT_PLI: u8 = 1;
/// Most NACK items (PID + BLP) written into one packet.
pub(crate) const MAX_NACK_ITEMS: usize = 64;

fn write_common(fmt: u8, pt: u8, words_after_header: usize, sender: u32, media: u32, out: &mut Vec<u8>) {
    out.push(0x80 | fmt);
    out.push(pt);
    out.extend_from_slice(&((words_after_header) as u16).to_be_bytes());
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&media.to_be_bytes());
}

/// Appends a PLI asking `media_ssrc` for a keyframe.
pub fn write_pli(sender_ssrc: u32, media_ssrc: u32, out: &mut Vec<u8>) {
    write_common(FMT_PLI, PT_PSFB, 2, sender_ssrc, media_ssrc, out);
}

/// Appends a generic NACK for `seqs` (ascending, unwrapped order; at most
/// `MAX_NACK_ITEMS` PID/BLP items are written). Returns how many sequence numbers it covered.
pub fn write_nack(sender_ssrc: u32, media_ssrc: u32, seqs: &[u16], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    write_common(FMT_NACK, PT_RTPFB, 2, sender_ssrc, media_ssrc, out);
    let mut items = 0;
    let mut covered = 0;
    let mut i = 0;
    while i < seqs.len() && items < MAX_NACK_ITEMS {
        let pid = seqs[i];
        let mut blp = 0u16;
        i += 1;
        covered += 1;
        while i < seqs.len() {
            let d = seqs[i].wrapping_sub(pid);
            if d == 0 || d > 16 {
                break;
            }
            blp |= 1 << (d - 1);
            i += 1;
            covered += 1;
        }
        out.extend_from_slice(&pid.to_be_bytes());
        out.extend_from_slice(&blp.to_be_bytes());
        items += 1;
    }
    let words = (out.len() - start) / 4 - 1;
    out[start + 2..start + 4].copy_from_slice(&(words as u16).to_be_bytes());
    covered
}

/// Appends the packet giving `nonce` to the sender session of `kid` on `media_ssrc`.
pub fn write_hub_nonce(
    sender_ssrc: u32,
    media_ssrc: u32,
    kid: u64,
    nonce: &HubNonce,
    mac: &[u8; HUB_NONCE_MAC_BYTES],
    out: &mut Vec<u8>,
) {
    out.push(0x80);
    out.push(PT_APP);
    out.extend_from_slice(&((HUB_NONCE_PACKET_BYTES / 4 - 1) as u16).to_be_bytes());
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(APP_NAME);
    out.extend_from_slice(&media_ssrc.to_be_bytes());
    out.extend_from_slice(&kid.to_be_bytes());
    out.extend_from_slice(nonce);
    out.extend_from_slice(mac);
}

/// One feedback message found in a compound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback<'a> {
    /// Generic NACK: `items` holds 4-byte PID/BLP pairs (see [`nack_seqs`]).
    Nack {
        /// SSRC of the stream whose packets are missing.
        media_ssrc: u32,
        /// Raw FCI bytes.
        items: &'a [u8],
    },
    /// Picture Loss Indication.
    Pli {
        /// SSRC of the stream that should send a keyframe.
        media_ssrc: u32,
    },
    /// Transport-wide congestion control feedback (PT 205, FMT 15), raw FCI.
    TransportCc {
        /// SSRC of the media source field.
        media_ssrc: u32,
        /// Raw FCI bytes.
        fci: &'a [u8],
    },
    /// A hub nonce for one sender session (not yet verified: check its MAC).
    HubNonce {
        /// SSRC of the stream.
        media_ssrc: u32,
        /// The KID of the session (and epoch) it is for.
        kid: u64,
        /// The nonce.
        nonce: HubNonce,
        /// Its MAC.
        mac: [u8; HUB_NONCE_MAC_BYTES],
    },
    /// Any other RTCP packet.
    Other,
}

/// Calls `f` for every sequence number a NACK's items name.
pub fn nack_seqs(items: &[u8], mut f: impl FnMut(u16)) {
    for it in items.chunks_exact(4) {
        let pid = u16::from_be_bytes([it[0], it[1]]);
        let blp = u16::from_be_bytes([it[2], it[3]]);
        f(pid);
        for b in 0..16 {
            if blp & (1 << b) != 0 {
                f(pid.wrapping_add(b + 1));
            }
        }
    }
}

/// Iterates the packets of a compound RTCP datagram. Stops with an error at the first
/// malformed packet; packets before it are still yielded.
pub fn parse(data: &[u8]) -> impl Iterator<Item = Result<Feedback<'_>>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let rest = &data[pos..];
        if rest.len() < 4 || rest[0] >> 6 != 2 {
            pos = data.len();
            return Some(Err(Error::Malformed("RTCP header")));
        }
        let len = (u16::from_be_bytes([rest[2], rest[3]]) as usize + 1) * 4;
        if len > rest.len() {
            pos = data.len();
            return Some(Err(Error::Malformed("RTCP length exceeds datagram")));
        }
        pos += len;
        let (fmt, pt) = (rest[0] & 0x1f, rest[1]);
        let body = &rest[4..len];
        let media = || -> Result<u32> {
            let b = body.get(4..8).ok_or(Error::Malformed("RTCP feedback too short"))?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        Some(match (pt, fmt) {
            (PT_RTPFB, FMT_NACK) => media().map(|media_ssrc| Feedback::Nack { media_ssrc, items: &body[8..] }),
            (PT_RTPFB, 15) => media().map(|media_ssrc| Feedback::TransportCc { media_ssrc, fci: &body[8..] }),
            (PT_PSFB, FMT_PLI) => media().map(|media_ssrc| Feedback::Pli { media_ssrc }),
            (PT_APP, 0) if body.get(4..8) == Some(APP_NAME) => parse_hub_nonce(body),
            _ => Ok(Feedback::Other),
        })
    })
}

fn parse_hub_nonce(body: &[u8]) -> Result<Feedback<'_>> {
    if body.len() != HUB_NONCE_PACKET_BYTES - 4 {
        return Err(Error::Malformed("hub nonce packet length"));
    }
    let b = &body[8..];
    let mut nonce = [0u8; HUB_NONCE_BYTES];
    nonce.copy_from_slice(&b[12..12 + HUB_NONCE_BYTES]);
    let mut mac = [0u8; HUB_NONCE_MAC_BYTES];
    mac.copy_from_slice(&b[12 + HUB_NONCE_BYTES..]);
    Ok(Feedback::HubNonce {
        media_ssrc: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        kid: u64::from_be_bytes([b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11]]),
        nonce,
        mac,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nack_and_pli_round_trip() {
        let mut out = Vec::new();
        let seqs = [65530u16, 65531, 65535, 3, 40];
        assert_eq!(write_nack(1, 2, &seqs, &mut out), 5);
        write_pli(1, 2, &mut out);
        let mut got = Vec::new();
        let mut plis = 0;
        for fb in parse(&out) {
            match fb.unwrap() {
                Feedback::Nack { media_ssrc, items } => {
                    assert_eq!(media_ssrc, 2);
                    nack_seqs(items, |s| got.push(s));
                }
                Feedback::Pli { media_ssrc } => {
                    assert_eq!(media_ssrc, 2);
                    plis += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, seqs);
        assert_eq!(plis, 1);
    }

    #[test]
    fn hub_nonce_round_trips_and_a_wrong_length_is_malformed() {
        let mut out = Vec::new();
        write_pli(1, 2, &mut out);
        write_hub_nonce(1, 2, 0x1234_5678_9abc_0003, &[7; 16], &[9; 16], &mut out);
        assert_eq!(out.len(), 12 + HUB_NONCE_PACKET_BYTES);
        let got: Vec<_> = parse(&out).map(|r| r.unwrap()).collect();
        assert_eq!(
            got[1],
            Feedback::HubNonce { media_ssrc: 2, kid: 0x1234_5678_9abc_0003, nonce: [7; 16], mac: [9; 16] }
        );
        let mut short = out[12..].to_vec();
        short.truncate(HUB_NONCE_PACKET_BYTES - 4);
        short[3] -= 1;
        assert!(parse(&short).next().unwrap().is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for n in 0..16 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37) as u8 | 0x80).collect();
            for r in parse(&junk) {
                let _ = r;
            }
        }
        assert!(parse(&[0x81, 205, 0, 9]).next().unwrap().is_err());
    }
}
