//! The SFrame header (RFC 9605 section 4.3): a config byte `X K(3) Y C(3)` followed by
//! the KID and CTR as minimal big-endian integers when they do not fit in three bits.

use crate::error::{Error, Result};

/// Longest possible header: config byte + 8 KID bytes + 8 CTR bytes.
pub const MAX_HEADER_BYTES: usize = 17;

/// A parsed SFrame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Key identifier.
    pub kid: u64,
    /// Frame counter.
    pub ctr: u64,
}

fn min_len(v: u64) -> usize {
    (8 - (v.leading_zeros() as usize) / 8).max(1)
}

impl Header {
    /// Appends the encoded header to `out`; returns its length.
    pub fn encode(&self, out: &mut Vec<u8>) -> usize {
        let mut b = [0u8; MAX_HEADER_BYTES];
        let n = self.encode_into(&mut b);
        out.extend_from_slice(&b[..n]);
        n
    }

    /// Bytes the encoded header takes.
    pub fn encoded_len(&self) -> usize {
        let ext = |v: u64| if v < 8 { 0 } else { min_len(v) };
        1 + ext(self.kid) + ext(self.ctr)
    }

    /// Writes the encoded header at the front of `out` (at least [`Header::encoded_len`]
    /// bytes); returns its length.
    pub fn encode_into(&self, out: &mut [u8]) -> usize {
        let mut pos = 1;
        let mut field = |v: u64, extended_bit: u8| -> u8 {
            if v < 8 {
                return v as u8;
            }
            let n = min_len(v);
            out[pos..pos + n].copy_from_slice(&v.to_be_bytes()[8 - n..]);
            pos += n;
            extended_bit | (n - 1) as u8
        };
        let config = field(self.kid, 0x08) << 4 | field(self.ctr, 0x08);
        out[0] = config;
        pos
    }

    /// Parses a header from the front of `data`; returns it and its encoded length. A value
    /// written in more bytes than it needs is malformed: each header has one encoding.
    pub fn decode(data: &[u8]) -> Result<(Header, usize)> {
        let config = *data.first().ok_or(Error::Malformed("empty SFrame"))?;
        let mut pos = 1;
        let mut field = |extended: bool, bits: u8| -> Result<u64> {
            if !extended {
                return Ok(bits as u64);
            }
            let n = bits as usize + 1;
            let bytes = data.get(pos..pos + n).ok_or(Error::Malformed("SFrame header truncated"))?;
            pos += n;
            // RFC 9605 section 4.3: values 0-7 sit in the config byte, larger ones in the fewest
            // bytes that hold them. Anything else is a second encoding of the same header.
            if (n > 1 && bytes[0] == 0) || (n == 1 && bytes[0] < 8) {
                return Err(Error::Malformed("SFrame header not minimally encoded"));
            }
            Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64))
        };
        let kid = field(config & 0x80 != 0, (config >> 4) & 7)?;
        let ctr = field(config & 0x08 != 0, config & 7)?;
        Ok((Header { kid, ctr }, pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_a_second_encoding_of_the_same_values() {
        // CTR 0 extended to one byte, CTR 5 in one byte, CTR 255 in two, KID 200 in two.
        for bytes in [&[0x08, 0x00][..], &[0x08, 0x05], &[0x09, 0x00, 0xff], &[0x90, 0x00, 0xc8]] {
            assert_eq!(
                Header::decode(bytes),
                Err(Error::Malformed("SFrame header not minimally encoded")),
                "{bytes:02x?}"
            );
        }
        // The minimal forms of the same values.
        assert_eq!(Header::decode(&[0x00]).unwrap(), (Header { kid: 0, ctr: 0 }, 1));
        assert_eq!(Header::decode(&[0x08, 0xff]).unwrap(), (Header { kid: 0, ctr: 255 }, 2));
        assert_eq!(Header::decode(&[0x80, 0xc8]).unwrap(), (Header { kid: 200, ctr: 0 }, 2));
    }

    #[test]
    fn round_trips_extremes() {
        for kid in [0, 7, 8, 255, 256, u64::MAX] {
            for ctr in [0, 7, 8, 65535, 1 << 40, u64::MAX] {
                let h = Header { kid, ctr };
                let mut v = Vec::new();
                let n = h.encode(&mut v);
                assert!(n <= MAX_HEADER_BYTES);
                assert_eq!(n, h.encoded_len());
                assert_eq!(Header::decode(&v).unwrap(), (h, n));
            }
        }
    }

    #[test]
    fn truncated_header_is_malformed() {
        assert!(Header::decode(&[]).is_err());
        assert!(Header::decode(&[0x0a, 1, 2]).is_err());
        assert!(Header::decode(&[0xf0]).is_err());
    }
}
