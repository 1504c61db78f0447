//! RTP packets (RFC 3550) as sealcam sends them:
//!
//! ```text
//! | RTP header, 12 B | one-byte header extension (RFC 8285), 8 B | SFrame descriptor, 1 B | SFrame bytes |
//!                      0xBEDE, len 1, id=TWCC_EXT_ID: 16-bit transport-wide sequence number
//! ```
//!
//! The SFrame payload descriptor follows draft-ietf-avtcore-rtp-sframe: `S` marks the
//! packet that starts an SFrame, `E` the one that ends it, `T` = 0 says the SFrame covers a
//! whole encoded frame (per-frame mode, the only mode sealcam sends); the other bits are 0.
//! One bit of sealcam's own, `H`, marks a hello: a sender session asking the hub for its
//! nonce before it sends media; its body is the session's 8-byte KID and an 8-byte request
//! id, and it uses no sequence number of the stream's.

use crate::error::{Error, Result};

/// Bytes of the fixed RTP header.
pub(crate) const RTP_HEADER_BYTES: usize = 12;
/// Bytes of sealcam's header extension block (profile, length, one element, padding).
pub(crate) const EXTENSION_BYTES: usize = 8;
/// Bytes of the SFrame payload descriptor.
pub(crate) const DESCRIPTOR_BYTES: usize = 1;
/// Bytes sealcam adds in front of each SFrame fragment.
pub const PACKET_OVERHEAD_BYTES: usize = RTP_HEADER_BYTES + EXTENSION_BYTES + DESCRIPTOR_BYTES;
/// RFC 8285 extension id of the transport-wide sequence number.
pub(crate) const TWCC_EXT_ID: u8 = 1;
/// Offset of the transport-wide sequence number inside a packet sealcam built.
pub(crate) const TWCC_OFFSET: usize = RTP_HEADER_BYTES + 5;
/// Clock rate of video RTP timestamps.
pub(crate) const VIDEO_CLOCK_HZ: u64 = 90_000;

/// Descriptor bit: first packet of an SFrame.
pub const DESC_START: u8 = 0x80;
/// Descriptor bit: last packet of an SFrame.
pub const DESC_END: u8 = 0x40;
/// Descriptor bit: per-packet SFrame (not used by sealcam; refused on receive).
pub const DESC_PER_PACKET: u8 = 0x20;
/// Descriptor bit (sealcam's own): a hello, asking the hub for a nonce.
pub const DESC_HELLO: u8 = 0x10;

/// A parsed RTP packet, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpView<'a> {
    /// Marker bit (last packet of a frame).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Transport-wide sequence number, when the extension is present.
    pub twcc_seq: Option<u16>,
    /// Payload after the header, extensions and padding are removed.
    pub payload: &'a [u8],
}

impl<'a> RtpView<'a> {
    /// Parses an RTP packet. Accepts CSRCs, padding, one-byte and two-byte extensions.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        if data.len() < RTP_HEADER_BYTES {
            return Err(Error::Malformed("RTP packet shorter than its header"));
        }
        if data[0] >> 6 != 2 {
            return Err(Error::Malformed("RTP version is not 2"));
        }
        let padding = data[0] & 0x20 != 0;
        let has_ext = data[0] & 0x10 != 0;
        let csrcs = (data[0] & 0x0f) as usize;
        let mut pos = RTP_HEADER_BYTES + 4 * csrcs;
        let mut end = data.len();
        if padding {
            let pad = *data.last().unwrap_or(&0) as usize;
            if pad == 0 || pad > end.saturating_sub(pos) {
                return Err(Error::Malformed("RTP padding length"));
            }
            end -= pad;
        }
        if pos > end {
            return Err(Error::Malformed("RTP CSRC list truncated"));
        }
        let mut twcc_seq = None;
        if has_ext {
            let h = data.get(pos..pos + 4).ok_or(Error::Malformed("RTP extension truncated"))?;
            let profile = u16::from_be_bytes([h[0], h[1]]);
            let words = u16::from_be_bytes([h[2], h[3]]) as usize;
            let ext = data.get(pos + 4..pos + 4 + 4 * words).ok_or(Error::Malformed("RTP extension truncated"))?;
            twcc_seq = find_twcc(profile, ext)?;
            pos += 4 + 4 * words;
            if pos > end {
                return Err(Error::Malformed("RTP extension overlaps padding"));
            }
        }
        Ok(RtpView {
            marker: data[1] & 0x80 != 0,
            payload_type: data[1] & 0x7f,
            seq: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            twcc_seq,
            payload: &data[pos..end],
        })
    }

    /// Reads the SSRC of a datagram without parsing the rest (for routing).
    pub fn peek_ssrc(data: &[u8]) -> Option<u32> {
        let b = data.get(8..12)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn find_twcc(profile: u16, ext: &[u8]) -> Result<Option<u16>> {
    let mut i = 0;
    let mut found = None;
    if profile == 0xBEDE {
        while i < ext.len() {
            let b = ext[i];
            if b == 0 {
                i += 1;
                continue;
            }
            let id = b >> 4;
            if id == 15 {
                break;
            }
            let len = (b & 0x0f) as usize + 1;
            let v = ext.get(i + 1..i + 1 + len).ok_or(Error::Malformed("RTP extension element"))?;
            if id == TWCC_EXT_ID && len == 2 {
                found = Some(u16::from_be_bytes([v[0], v[1]]));
            }
            i += 1 + len;
        }
    } else if profile & 0xfff0 == 0x1000 {
        while i < ext.len() {
            if ext[i] == 0 {
                i += 1;
                continue;
            }
            let (id, len) = (ext[i], *ext.get(i + 1).ok_or(Error::Malformed("RTP extension element"))? as usize);
            let v = ext.get(i + 2..i + 2 + len).ok_or(Error::Malformed("RTP extension element"))?;
            if id == TWCC_EXT_ID && len == 2 {
                found = Some(u16::from_be_bytes([v[0], v[1]]));
            }
            i += 2 + len;
        }
    }
    Ok(found)
}

/// Fields the sender sets on each packet it builds.
#[derive(Debug, Clone, Copy)]
pub struct PacketFields {
    /// Payload type.
    pub payload_type: u8,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Marker bit.
    pub marker: bool,
    /// SFrame descriptor byte (`DESC_START` / `DESC_END` bits).
    pub descriptor: u8,
}

/// Writes a full packet (header, TWCC extension with sequence 0, descriptor, payload) into
/// `out` (cleared first). The transport-wide sequence is set at send time with
/// [`set_twcc_seq`].
pub fn write_packet(f: &PacketFields, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(0x90); // V=2, X=1
    out.push(((f.marker as u8) << 7) | (f.payload_type & 0x7f));
    out.extend_from_slice(&f.seq.to_be_bytes());
    out.extend_from_slice(&f.timestamp.to_be_bytes());
    out.extend_from_slice(&f.ssrc.to_be_bytes());
    out.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, (TWCC_EXT_ID << 4) | 1, 0, 0, 0]);
    out.push(f.descriptor);
    out.extend_from_slice(payload);
}

/// Sets the transport-wide sequence number of a packet built by [`write_packet`] (or a
/// FEC repair packet, whose CSRC comes before the extension).
pub fn set_twcc_seq(packet: &mut [u8], seq: u16) {
    let at = TWCC_OFFSET + 4 * (packet[0] & 0x0f) as usize;
    packet[at..at + 2].copy_from_slice(&seq.to_be_bytes());
}

/// Unwraps 16-bit sequence numbers to 64 bits, relative to the last value it returned.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqUnwrapper {
    last: Option<u64>,
}

impl SeqUnwrapper {
    /// The 64-bit value of `seq` nearest the last one (does not remember it).
    pub fn peek(&self, seq: u16) -> u64 {
        match self.last {
            None => seq as u64 + (1 << 16),
            Some(last) => {
                let delta = seq.wrapping_sub(last as u16) as i16 as i64;
                (last as i64 + delta).max(0) as u64
            }
        }
    }
    /// Remembers `ext` as the reference for later values when it is newer.
    pub fn advance(&mut self, ext: u64) {
        if self.last.is_none_or(|l| ext > l) {
            self.last = Some(ext);
        }
    }
    /// The newest value remembered.
    pub fn last(&self) -> Option<u64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_packet_parses_back() {
        let f = PacketFields {
            payload_type: 96,
            seq: 65535,
            timestamp: 123456,
            ssrc: 0xdeadbeef,
            marker: true,
            descriptor: DESC_START | DESC_END,
        };
        let mut p = Vec::new();
        write_packet(&f, b"abc", &mut p);
        set_twcc_seq(&mut p, 513);
        let v = RtpView::parse(&p).unwrap();
        assert_eq!((v.seq, v.timestamp, v.ssrc, v.marker, v.payload_type), (65535, 123456, 0xdeadbeef, true, 96));
        assert_eq!(v.twcc_seq, Some(513));
        assert_eq!(v.payload, &[DESC_START | DESC_END, b'a', b'b', b'c']);
        assert_eq!(p.len(), PACKET_OVERHEAD_BYTES + 3);
    }

    #[test]
    fn truncated_packets_are_malformed_not_panics() {
        let f = PacketFields { payload_type: 96, seq: 1, timestamp: 2, ssrc: 3, marker: false, descriptor: 0 };
        let mut p = Vec::new();
        write_packet(&f, b"xyz", &mut p);
        for n in 0..p.len() {
            let _ = RtpView::parse(&p[..n]);
        }
        assert!(RtpView::parse(&p[..RTP_HEADER_BYTES + 2]).is_err());
        let mut padded = p.clone();
        padded[0] |= 0x20;
        *padded.last_mut().unwrap() = 200;
        assert!(RtpView::parse(&padded).is_err());
    }

    #[test]
    fn unwrapper_crosses_the_wrap() {
        let mut u = SeqUnwrapper::default();
        let a = u.peek(65534);
        u.advance(a);
        let b = u.peek(1);
        assert_eq!(b, a + 3);
        u.advance(b);
        assert_eq!(u.peek(65535), a + 1);
    }
}
