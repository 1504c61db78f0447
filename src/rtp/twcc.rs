//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
//! extensions-01): RTCP PT 205, FMT 15. The hub reports, per transport-wide sequence number,
//! whether the packet arrived and when; the camera's bandwidth estimator consumes it.
//!
//! Written with 2-bit status-vector chunks (7 packets a chunk) and 250 us receive deltas
//! (one byte when 0 to 63.75 ms, two bytes signed otherwise); parsed in every form the
//! draft allows (run-length and both status-vector chunks).

use crate::error::{Error, Result};

/// RTCP FMT of transport-wide feedback.
pub(crate) const FMT_TWCC: u8 = 15;
/// Unit of receive deltas.
pub(crate) const DELTA_UNIT_US: i64 = 250;
/// Unit of the reference time.
pub(crate) const REFERENCE_UNIT_US: i64 = 64_000;
/// Most packets one feedback message reports.
pub(crate) const MAX_PACKETS_PER_FEEDBACK: usize = 1024;

/// One packet's fate in a feedback message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketReport {
    /// Transport-wide sequence number.
    pub seq: u16,
    /// Arrival time on the hub's clock (reference time plus deltas), if it arrived.
    pub arrival_us: Option<i64>,
}

/// Appends a feedback message for `arrivals` (`(seq, arrival_us)`, sorted by sequence
/// number, unwrapped `u64` sequence numbers so that the range is known) to `out`. Packets
/// inside the range that are not listed are reported as lost. `count` is the feedback packet
/// count (wraps at 256). Returns how many arrivals were covered (the rest need another
/// message).
pub fn write_feedback(
    sender_ssrc: u32,
    media_ssrc: u32,
    count: u8,
    arrivals: &[(u64, u64)],
    out: &mut Vec<u8>,
) -> usize {
    let Some(&(base, first_arrival)) = arrivals.first() else { return 0 };
    // Cover as many arrivals as fit the packet-count limit.
    let covered = arrivals.iter().take_while(|(s, _)| s - base < MAX_PACKETS_PER_FEEDBACK as u64).count();
    let arrivals = &arrivals[..covered];
    let last = arrivals[covered - 1].0;
    let status_count = (last - base + 1) as usize;
    let reference = (first_arrival as i64 / REFERENCE_UNIT_US) & 0x7f_ffff;
    let start = out.len();
    out.extend_from_slice(&[0x80 | FMT_TWCC, super::rtcp::PT_RTPFB, 0, 0]);
    out.extend_from_slice(&sender_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
    out.extend_from_slice(&(base as u16).to_be_bytes());
    out.extend_from_slice(&(status_count as u16).to_be_bytes());
    out.extend_from_slice(&(reference as u32).to_be_bytes()[1..]);
    out.push(count);
    // Symbols and deltas, in sequence order.
    let mut symbols = Vec::with_capacity(status_count);
    let mut deltas = Vec::with_capacity(covered * 2);
    let mut prev = reference * REFERENCE_UNIT_US;
    let mut it = arrivals.iter().peekable();
    for s in base..=last {
        match it.peek() {
            Some(&&(seq, at)) if seq == s => {
                it.next();
                let d = ((at as i64 - prev) / DELTA_UNIT_US).clamp(i16::MIN as i64, i16::MAX as i64);
                prev += d * DELTA_UNIT_US;
                if (0..=255).contains(&d) {
                    symbols.push(1u8);
                    deltas.push(d as u8);
                } else {
                    symbols.push(2u8);
                    deltas.extend_from_slice(&(d as i16).to_be_bytes());
                }
            }
            _ => symbols.push(0u8),
        }
    }
    for chunk in symbols.chunks(7) {
        let mut c: u16 = 0b11 << 14; // status vector, 2-bit symbols
        for (i, &sym) in chunk.iter().enumerate() {
            c |= (sym as u16) << (12 - 2 * i);
        }
        out.extend_from_slice(&c.to_be_bytes());
    }
    out.extend_from_slice(&deltas);
    while (out.len() - start) % 4 != 0 {
        out.push(0);
    }
    let words = (out.len() - start) / 4 - 1;
    out[start + 2..start + 4].copy_from_slice(&(words as u16).to_be_bytes());
    covered
}

/// Parses the FCI of a transport-wide feedback message (after the two SSRCs) and calls
/// `f` for every packet it reports, in sequence order. Returns the feedback packet count.
pub fn parse_feedback(fci: &[u8], mut f: impl FnMut(PacketReport)) -> Result<u8> {
    let bad = || Error::Malformed("transport-wide feedback");
    if fci.len() < 8 {
        return Err(bad());
    }
    let base = u16::from_be_bytes([fci[0], fci[1]]);
    let status_count = u16::from_be_bytes([fci[2], fci[3]]) as usize;
    let reference = {
        let r = ((fci[4] as i32) << 16 | (fci[5] as i32) << 8 | fci[6] as i32) << 8 >> 8; // 24-bit signed
        r as i64 * REFERENCE_UNIT_US
    };
    let count = fci[7];
    // Chunks: collect symbols until `status_count` are known.
    let mut symbols: Vec<u8> = Vec::with_capacity(status_count);
    let mut pos = 8;
    while symbols.len() < status_count {
        let c = u16::from_be_bytes([*fci.get(pos).ok_or_else(bad)?, *fci.get(pos + 1).ok_or_else(bad)?]);
        pos += 2;
        let left = status_count - symbols.len();
        if c & 0x8000 == 0 {
            let sym = ((c >> 13) & 0b11) as u8;
            let run = (c & 0x1fff) as usize;
            symbols.extend(std::iter::repeat_n(sym, run.min(left)));
        } else if c & 0x4000 == 0 {
            symbols.extend((0..14).map(|i| ((c >> (13 - i)) & 1) as u8).take(left));
        } else {
            symbols.extend((0..7).map(|i| ((c >> (12 - 2 * i)) & 0b11) as u8).take(left));
        }
    }
    let mut at = reference;
    for (i, &sym) in symbols.iter().enumerate() {
        let seq = base.wrapping_add(i as u16);
        let arrival_us = match sym {
            0 => None,
            1 => {
                at += *fci.get(pos).ok_or_else(bad)? as i64 * DELTA_UNIT_US;
                pos += 1;
                Some(at)
            }
            2 => {
                let d = i16::from_be_bytes([*fci.get(pos).ok_or_else(bad)?, *fci.get(pos + 1).ok_or_else(bad)?]);
                pos += 2;
                at += d as i64 * DELTA_UNIT_US;
                Some(at)
            }
            _ => return Err(bad()),
        };
        f(PacketReport { seq, arrival_us });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::rtcp::{self, Feedback};

    #[test]
    fn feedback_round_trips_with_losses_reordering_and_large_deltas() {
        // Sequence numbers across the 16-bit wrap, with gaps and one large gap in time.
        let arrivals: Vec<(u64, u64)> = vec![
            (65_533, 1_000_000),
            (65_534, 1_000_250),
            (65_536, 1_010_000),
            (65_537, 1_500_000), // 490 ms later: a two-byte delta
            (65_540, 1_500_750),
        ];
        let mut out = Vec::new();
        assert_eq!(write_feedback(1, 2, 9, &arrivals, &mut out), 5);
        let mut got = Vec::new();
        for fb in rtcp::parse(&out) {
            match fb.unwrap() {
                Feedback::TransportCc { media_ssrc, fci } => {
                    assert_eq!(media_ssrc, 2);
                    assert_eq!(parse_feedback(fci, |r| got.push(r)).unwrap(), 9);
                }
                other => panic!("{other:?}"),
            }
        }
        let seqs: Vec<u16> = got.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [65533, 65534, 65535, 0, 1, 2, 3, 4]);
        let received: Vec<(u16, i64)> = got.iter().filter_map(|r| r.arrival_us.map(|a| (r.seq, a))).collect();
        assert_eq!(received.len(), 5);
        // Arrival times come back within one 250 us unit (they are quantised).
        for ((_, sent), (_, back)) in arrivals.iter().zip(&received) {
            assert!((*sent as i64 - back).abs() < DELTA_UNIT_US, "{sent} vs {back}");
        }
    }

    #[test]
    fn run_length_and_one_bit_chunks_parse() {
        // base 10, 20 packets: a run of 14 "not received", then a 1-bit vector with the
        // first of 6 received (delta 4 = 1 ms).
        let mut fci = vec![0, 10, 0, 20, 0, 0, 1, 7];
        fci.extend_from_slice(&(14u16).to_be_bytes()); // run-length chunk, symbol 0, run 14
        fci.extend_from_slice(&(0x8000u16 | 0x2000).to_be_bytes()); // 1-bit vector, first received
        fci.push(4);
        let mut got = Vec::new();
        assert_eq!(parse_feedback(&fci, |r| got.push(r)).unwrap(), 7);
        assert_eq!(got.len(), 20);
        assert_eq!(got[14], PacketReport { seq: 24, arrival_us: Some(64_000 + 1_000) });
        assert!(got.iter().filter(|r| r.arrival_us.is_some()).count() == 1);
    }

    #[test]
    fn truncated_feedback_is_malformed() {
        let arrivals = [(5u64, 100_000u64), (6, 100_500)];
        let mut out = Vec::new();
        write_feedback(1, 2, 0, &arrivals, &mut out);
        let fci = &out[12..];
        for n in 0..fci.len() - 2 {
            let _ = parse_feedback(&fci[..n], |_| {});
        }
        assert!(parse_feedback(&fci[..9], |_| {}).is_err());
    }
}
