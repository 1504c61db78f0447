//! Transport: sealed frames into MTU-bounded RTP packets and back, and the RTCP feedback
//! that flows the other way.
//!
//! - [`packet`]: the RTP wire format (RFC 3550, RFC 8285 extension, SFrame descriptor).
//! - [`packetize`]: splits one SFrame into packets (S on the first, E and the marker on the last).
//! - [`reassembly`]: the hub's bounded ring that turns packets back into SFrames.
//! - [`nack`]: the hub's bounded list of missing packets.
//! - [`rtcp`]: NACK and PLI messages.
//! - [`fec`]: FlexFEC repair packets (RFC 8627) over the sealed packets, and recovery.

pub mod fec;
pub mod nack;
pub mod packet;
pub mod reassembly;
pub mod rtcp;
pub mod twcc;

pub use packet::{PacketFields, RtpView, PACKET_OVERHEAD_BYTES};

/// Smallest MTU sealcam accepts (IPv6's minimum link MTU).
pub const MIN_MTU_BYTES: usize = 576;
/// IPv4 + UDP header bytes, counted when fitting packets into an MTU.
pub(crate) const IP_UDP_OVERHEAD_BYTES: usize = 28;

/// Largest SFrame fragment per packet for a path MTU.
pub fn max_fragment_bytes(mtu: usize) -> usize {
    mtu.saturating_sub(IP_UDP_OVERHEAD_BYTES + PACKET_OVERHEAD_BYTES)
}

/// Splits `sframe` into fragments of at most `max_fragment` bytes of nearly equal size and
/// calls `emit(descriptor, marker, fragment)` for each, in order.
pub fn packetize(sframe: &[u8], max_fragment: usize, mut emit: impl FnMut(u8, bool, &[u8])) {
    let count = sframe.len().div_ceil(max_fragment.max(1)).max(1);
    let base = sframe.len() / count;
    let extra = sframe.len() % count;
    let mut pos = 0;
    for i in 0..count {
        let len = base + usize::from(i < extra);
        let mut desc = 0;
        if i == 0 {
            desc |= packet::DESC_START;
        }
        if i + 1 == count {
            desc |= packet::DESC_END;
        }
        emit(desc, i + 1 == count, &sframe[pos..pos + len]);
        pos += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reassembly::Reassembler;

    fn packets_of(sframe: &[u8], seq0: u16, ts: u32, frag: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut seq = seq0;
        packetize(sframe, frag, |descriptor, marker, chunk| {
            let mut p = Vec::new();
            let f = PacketFields { payload_type: 96, seq, timestamp: ts, ssrc: 5, marker, descriptor };
            packet::write_packet(&f, chunk, &mut p);
            out.push(p);
            seq = seq.wrapping_add(1);
        });
        out
    }

    #[test]
    fn fragments_are_balanced_and_bounded() {
        let mut sizes = Vec::new();
        packetize(&[0u8; 2501], 1000, |_, _, c| sizes.push(c.len()));
        assert_eq!(sizes, [834, 834, 833]);
    }

    #[test]
    fn out_of_order_packets_reassemble_once() {
        let frame: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let mut pk = packets_of(&frame, 65533, 900, 1200);
        pk.reverse();
        let mut r = Reassembler::new(64, 1500, 1 << 20);
        let mut out = Vec::new();
        let mut done = 0;
        for p in &pk {
            let v = RtpView::parse(p).unwrap();
            let (e, _) = r.insert(0, &v).unwrap();
            if r.take_frame(e, &mut out).is_some() {
                done += 1;
                assert_eq!(out, frame);
            }
        }
        assert_eq!(done, 1);
        let v = RtpView::parse(&pk[0]).unwrap();
        assert_eq!(r.insert(0, &v), Err(reassembly::Refusal::Duplicate));
    }

    #[test]
    fn mixed_timestamps_never_splice() {
        let a = packets_of(&[1u8; 3000], 10, 100, 1200);
        let b = packets_of(&[2u8; 3000], 10, 200, 1200);
        let mut r = Reassembler::new(64, 1500, 1 << 20);
        let mut out = Vec::new();
        let (e0, _) = r.insert(0, &RtpView::parse(&a[0]).unwrap()).unwrap();
        r.insert(0, &RtpView::parse(&b[1]).unwrap()).unwrap();
        let (e2, _) = r.insert(0, &RtpView::parse(&a[2]).unwrap()).unwrap();
        assert!(r.take_frame(e0, &mut out).is_none());
        assert!(r.take_frame(e2, &mut out).is_none());
    }
}
