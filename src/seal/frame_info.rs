//! The frame description sealed together with each encoded frame, so that everything the
//! hub decides about a frame (which stream, which frame, what it references, when it was
//! captured) is authenticated.
//!
//! ```text
//! | ver=1 | codec | flags (bit 0 keyframe) | temporal layer | frame id (u64) |
//! | ref distance (u16) | width (u16) | height (u16) | capture time us (u64) |   26 bytes, big-endian
//! ```

use crate::codec::Codec;
use crate::error::{Error, Result};

/// Encoded length of a [`FrameInfo`].
pub const FRAME_INFO_BYTES: usize = 26;
const VERSION: u8 = 1;

/// What the hub needs to know about a frame, authenticated with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Codec of the bitstream.
    pub codec: Codec,
    /// Decodable alone.
    pub keyframe: bool,
    /// Temporal layer (0 = base).
    pub temporal_layer: u8,
    /// Frame number in the stream, counting every encoded frame from 0.
    pub frame_id: u64,
    /// `frame_id - ref_distance` is the frame this one predicts from (0 = none).
    pub ref_distance: u16,
    /// Encoded width.
    pub width: u16,
    /// Encoded height.
    pub height: u16,
    /// Capture time in microseconds on the camera's clock.
    pub capture_time_us: u64,
}

impl FrameInfo {
    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(self.codec as u8);
        out.push(self.keyframe as u8);
        out.push(self.temporal_layer);
        out.extend_from_slice(&self.frame_id.to_be_bytes());
        out.extend_from_slice(&self.ref_distance.to_be_bytes());
        out.extend_from_slice(&self.width.to_be_bytes());
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.capture_time_us.to_be_bytes());
    }

    /// Parses the front of a plaintext; returns the info and the bitstream after it.
    pub fn decode(data: &[u8]) -> Result<(FrameInfo, &[u8])> {
        if data.len() < FRAME_INFO_BYTES {
            return Err(Error::Malformed("frame info truncated"));
        }
        if data[0] != VERSION {
            return Err(Error::Malformed("frame info version"));
        }
        let codec = Codec::from_u8(data[1]).ok_or(Error::Malformed("frame info codec"))?;
        if data[2] > 1 {
            return Err(Error::Malformed("frame info flags"));
        }
        let u16_at = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
        let u64_at = |i: usize| u64::from_be_bytes(data[i..i + 8].try_into().expect("8 bytes"));
        let info = FrameInfo {
            codec,
            keyframe: data[2] == 1,
            temporal_layer: data[3],
            frame_id: u64_at(4),
            ref_distance: u16_at(12),
            width: u16_at(14),
            height: u16_at(16),
            capture_time_us: u64_at(18),
        };
        if info.keyframe != (info.ref_distance == 0) || info.ref_distance as u64 > info.frame_id {
            return Err(Error::Malformed("frame info references"));
        }
        Ok((info, &data[FRAME_INFO_BYTES..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_inconsistent_references() {
        let i = FrameInfo {
            codec: Codec::H264,
            keyframe: false,
            temporal_layer: 1,
            frame_id: 77,
            ref_distance: 2,
            width: 640,
            height: 480,
            capture_time_us: 123,
        };
        let mut v = Vec::new();
        i.encode(&mut v);
        v.extend_from_slice(b"bits");
        let (j, rest) = FrameInfo::decode(&v).unwrap();
        assert_eq!((i, &b"bits"[..]), (j, rest));
        let mut k = i;
        k.ref_distance = 0;
        v.clear();
        k.encode(&mut v);
        assert!(FrameInfo::decode(&v).is_err());
        assert!(FrameInfo::decode(&v[..10]).is_err());
    }
}
