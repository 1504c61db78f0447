//! Forward error correction over the sealed packets: FlexFEC repair packets (RFC 8627,
//! flexible mask, R=0 F=0), one XOR parity over each group of consecutive media packets.
//!
//! A repair packet is an RTP packet of its own SSRC and payload type whose CSRC names the
//! protected stream (RFC 8627 section 4.2.1); sealcam's transport-wide sequence extension
//! follows, so congestion control counts it like any packet. Its FEC header (section 4.2.2.1):
//!
//! ```text
//! |0|0|P|X|  CC   |M| PT recovery |        length recovery        |
//! |                          TS recovery                          |
//! |           SN base             |k|          Mask [0-14]        |
//! |k|                   Mask [15-45] (when the first k is 0)      |
//! |                     Mask [46-109] (when the second k is 0)    |
//! ```
//!
//! then the XOR of the protected packets' bytes after their 12-byte RTP header. The XOR is
//! taken over the packets as they leave (their transport-wide sequence already written),
//! so a repair is built from ciphertext only: FEC and any relay never see plaintext, and a
//! recovered packet is still authenticated with its frame. A recovered packet is handed to
//! the stream as received, except that its transport-wide arrival is not reported: the
//! network lost it, and congestion control must know.
//!
//! The sender turns FEC on only where a retransmission costs too much: a path round trip
//! (its least, without queueing) of at least [`FEC_MIN_RTT_MS`] with background loss of at least [`FEC_MIN_LOSS`]
//! ([`group_size`]). Its overhead (one repair per group) comes out of the encoder's share
//! of the target, as libwebrtc's media optimization takes its protection rate out of the
//! video rate.

use std::collections::VecDeque;

use super::packet::{EXTENSION_BYTES, RTP_HEADER_BYTES, TWCC_EXT_ID};
use crate::error::{Error, Result};

/// Bytes of the recovery fields (P/X/CC, M/PT, length and TS recovery).
pub(crate) const RECOVERY_BYTES: usize = 8;
/// The most media packets one repair packet names (15 + 31 + 64 mask bits).
pub const MAX_MASK_BITS: usize = 110;
/// Bytes of a repair packet before its FEC header: RTP header, one CSRC, the extension.
pub(crate) const REPAIR_PREFIX_BYTES: usize = RTP_HEADER_BYTES + 4 + EXTENSION_BYTES;

/// Bytes a repair packet has beyond the longest packet it protects: its CSRC and the FEC
/// header with the longest mask (recovery fields, SN base, 14 mask bytes).
pub const REPAIR_EXTRA_BYTES: usize = 4 + RECOVERY_BYTES + 2 + 14;

/// FEC pays where the path's own round trip is at least this long (shorter links repair by
/// NACK in time: the hub's 200 ms playout hold covers a retransmission and its wait) ...
pub const FEC_MIN_RTT_MS: f64 = 150.0;
/// ... and background loss at least this (below it NACK alone leaves almost nothing).
pub const FEC_MIN_LOSS: f64 = 0.005;
/// One repair per this many lost packets expected per group: `group = FEC_LOSSES_PER_GROUP /
/// loss`, so about one group in ten loses a packet (and a group of n + 1 loses two with
/// probability about `C(n + 1, 2) loss^2`: 0.6 % of groups at 2 % loss).
pub const FEC_LOSSES_PER_GROUP: f64 = 0.1;
/// Smallest group (a third of the media rate at most goes to repair) ...
pub const FEC_MIN_GROUP: usize = 3;
/// ... and largest.
pub const FEC_MAX_GROUP: usize = 24;
/// A group open this long is closed with what it has (the tail of a burst, an idle stream):
/// its repair must not wait for packets that come a frame or more later.
pub const FEC_GROUP_MAX_US: u64 = 40_000;

/// While a stream sends repairs the hub waits this long before its first NACK of a gap
/// (a group closes within `FEC_GROUP_MAX_US`, and its repair is paced behind it) ...
pub const FEC_NACK_WAIT_US: u64 = 60_000;
/// ... for as long as repairs came within this time.
pub const FEC_ACTIVE_US: u64 = 2_000_000;

/// Media packets per repair for a path of `loss` background loss and `rtt_ms` round trip,
/// or `None` where FEC does not pay (see [`FEC_MIN_RTT_MS`], [`FEC_MIN_LOSS`]).
pub fn group_size(loss: f64, rtt_ms: f64) -> Option<usize> {
    if rtt_ms < FEC_MIN_RTT_MS || loss.is_nan() || loss < FEC_MIN_LOSS {
        return None;
    }
    Some(((FEC_LOSSES_PER_GROUP / loss).round() as usize).clamp(FEC_MIN_GROUP, FEC_MAX_GROUP))
}

/// XORs `packet`'s FEC bit string (RFC 8627 section 6.2: its first 8 bytes with the
/// length of what follows the 12-byte header in place of the sequence number, then those
/// bytes) into `acc`, growing it with zeros.
fn xor_bit_string(acc: &mut Vec<u8>, packet: &[u8]) {
    let rest = &packet[RTP_HEADER_BYTES..];
    let need = RECOVERY_BYTES + rest.len();
    if acc.len() < need {
        acc.resize(need, 0);
    }
    let len = (rest.len() as u16).to_be_bytes();
    let head = [packet[0], packet[1], len[0], len[1], packet[4], packet[5], packet[6], packet[7]];
    for (a, b) in acc.iter_mut().zip(head.iter().chain(rest)) {
        *a ^= b;
    }
}

fn write_mask(offsets: u128, top: usize, out: &mut Vec<u8>) {
    let bit = |i: usize| (offsets >> i) & 1 != 0;
    let mut w0: u16 = 0;
    for i in 0..15 {
        if bit(i) {
            w0 |= 1 << (14 - i);
        }
    }
    if top < 15 {
        out.extend_from_slice(&(w0 | 0x8000).to_be_bytes());
        return;
    }
    out.extend_from_slice(&w0.to_be_bytes());
    let mut w1: u32 = 0;
    for i in 15..46 {
        if bit(i) {
            w1 |= 1 << (30 - (i - 15));
        }
    }
    if top < 46 {
        out.extend_from_slice(&(w1 | 0x8000_0000).to_be_bytes());
        return;
    }
    out.extend_from_slice(&w1.to_be_bytes());
    let mut w2: u64 = 0;
    for i in 46..MAX_MASK_BITS {
        if bit(i) {
            w2 |= 1 << (63 - (i - 46));
        }
    }
    out.extend_from_slice(&w2.to_be_bytes());
}

/// Reads a flexible mask: the offsets it names (bit i = SN base + i) and its length.
fn read_mask(b: &[u8]) -> Result<(u128, usize)> {
    let short = Error::Malformed("FEC mask truncated");
    let w0 = u16::from_be_bytes(b.get(..2).ok_or(short.clone())?.try_into().expect("2 bytes"));
    let mut offsets: u128 = 0;
    for i in 0..15 {
        if w0 & (1 << (14 - i)) != 0 {
            offsets |= 1 << i;
        }
    }
    if w0 & 0x8000 != 0 {
        return Ok((offsets, 2));
    }
    let w1 = u32::from_be_bytes(b.get(2..6).ok_or(short.clone())?.try_into().expect("4 bytes"));
    for i in 15..46 {
        if w1 & (1 << (30 - (i - 15))) != 0 {
            offsets |= 1 << i;
        }
    }
    if w1 & 0x8000_0000 != 0 {
        return Ok((offsets, 6));
    }
    let w2 = u64::from_be_bytes(b.get(6..14).ok_or(short)?.try_into().expect("8 bytes"));
    for i in 46..MAX_MASK_BITS {
        if w2 & (1 << (63 - (i - 46))) != 0 {
            offsets |= 1 << i;
        }
    }
    Ok((offsets, 14))
}

/// Builds repair packets over media packets as they are sent.
#[derive(Debug)]
pub struct FecEncoder {
    acc: Vec<u8>,
    base: u16,
    offsets: u128,
    top: usize,
    count: usize,
    opened_us: u64,
    timestamp: u32,
    repair_seq: u16,
}

impl FecEncoder {
    /// An encoder whose repair stream starts at sequence number `first_seq`.
    pub fn new(first_seq: u16) -> Self {
        FecEncoder {
            acc: Vec::with_capacity(1600),
            base: 0,
            offsets: 0,
            top: 0,
            count: 0,
            opened_us: 0,
            timestamp: 0,
            repair_seq: first_seq,
        }
    }

    /// Media packets in the open group.
    pub fn count(&self) -> usize {
        self.count
    }

    /// When the open group must be closed (if one is open).
    pub fn deadline_us(&self) -> Option<u64> {
        (self.count > 0).then_some(self.opened_us + FEC_GROUP_MAX_US)
    }

    /// Whether a media packet of sequence `seq` fits the open group's mask.
    pub fn fits(&self, seq: u16) -> bool {
        self.count == 0 || (seq.wrapping_sub(self.base) as usize) < MAX_MASK_BITS
    }

    /// Adds a media packet as sent (header and extension as on the wire). The caller closes
    /// the group first when it does not [`fit`](Self::fits).
    pub fn add(&mut self, now_us: u64, packet: &[u8]) {
        if packet.len() < RTP_HEADER_BYTES {
            return;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        if self.count == 0 {
            self.acc.clear();
            self.base = seq;
            self.offsets = 0;
            self.top = 0;
            self.opened_us = now_us;
        }
        let off = seq.wrapping_sub(self.base) as usize;
        if off >= MAX_MASK_BITS || self.offsets >> off & 1 != 0 {
            return;
        }
        xor_bit_string(&mut self.acc, packet);
        self.offsets |= 1 << off;
        self.top = self.top.max(off);
        self.count += 1;
        self.timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    }

    /// Closes the open group into a repair packet in `out` (cleared first): `pt` and
    /// `repair_ssrc` are the repair stream's, `media_ssrc` the protected stream's. The
    /// transport-wide sequence is written at send time (`packet::set_twcc_seq`). Returns
    /// false, writing nothing, when no group is open.
    pub fn finish(&mut self, pt: u8, repair_ssrc: u32, media_ssrc: u32, out: &mut Vec<u8>) -> bool {
        if self.count == 0 {
            return false;
        }
        out.clear();
        out.push(0x91); // V=2, X=1, CC=1
        out.push(pt & 0x7f);
        out.extend_from_slice(&self.repair_seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&repair_ssrc.to_be_bytes());
        out.extend_from_slice(&media_ssrc.to_be_bytes());
        out.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, (TWCC_EXT_ID << 4) | 1, 0, 0, 0]);
        out.push(self.acc[0] & 0x3f); // R=0, F=0
        out.extend_from_slice(&self.acc[1..RECOVERY_BYTES]);
        out.extend_from_slice(&self.base.to_be_bytes());
        write_mask(self.offsets, self.top, out);
        out.extend_from_slice(&self.acc[RECOVERY_BYTES..]);
        self.repair_seq = self.repair_seq.wrapping_add(1);
        self.count = 0;
        true
    }
}

/// The media SSRC a repair packet protects (its first CSRC), if the datagram has one.
pub fn protected_ssrc(datagram: &[u8]) -> Option<u32> {
    let cc = (datagram.first()? & 0x0f) as usize;
    if cc == 0 {
        return None;
    }
    let b = datagram.get(RTP_HEADER_BYTES..RTP_HEADER_BYTES + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[derive(Debug, Clone)]
struct Repair {
    base: u16,
    offsets: u128,
    /// The recovery fields and XOR payload, as a bit string.
    bits: Vec<u8>,
}

/// Slots of the hub's copy of recent media packets per stream.
pub const FEC_WINDOW_PACKETS: usize = 128;
/// Repair packets kept while two or more of their packets are missing.
pub const FEC_PENDING_REPAIRS: usize = 16;

/// The hub's side: recent media packets of one stream and the repairs that could not be
/// used yet. Memory: [`FecDecoder::memory_bound_bytes`], allocated at the first repair.
#[derive(Debug)]
pub struct FecDecoder {
    slots: Vec<(u16, bool, Vec<u8>)>,
    pending: VecDeque<Repair>,
    max_packet: usize,
    /// The XOR being taken, and the packet it rebuilds (both reused).
    acc: Vec<u8>,
    scratch: Vec<u8>,
}

impl FecDecoder {
    /// A decoder for media packets of at most `max_packet` bytes.
    pub fn new(max_packet: usize) -> Self {
        FecDecoder { slots: Vec::new(), pending: VecDeque::new(), max_packet, acc: Vec::new(), scratch: Vec::new() }
    }

    /// The most memory it holds.
    pub fn memory_bound_bytes(max_packet: usize) -> usize {
        (FEC_WINDOW_PACKETS + FEC_PENDING_REPAIRS + 2) * (max_packet + RECOVERY_BYTES + 32)
    }

    /// Whether repairs wait for more of their packets.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether a repair has been seen (media packets are kept from then on).
    pub fn active(&self) -> bool {
        !self.slots.is_empty()
    }

    fn slot(&self, seq: u16) -> Option<&[u8]> {
        let (s, used, data) = self.slots.get(seq as usize % FEC_WINDOW_PACKETS)?;
        (*used && *s == seq).then_some(data.as_slice())
    }

    /// Keeps a copy of a media packet that reached the stream (once a repair was seen).
    pub fn on_media(&mut self, datagram: &[u8]) {
        if !self.active() || datagram.len() > self.max_packet || datagram.len() < RTP_HEADER_BYTES {
            return;
        }
        let seq = u16::from_be_bytes([datagram[2], datagram[3]]);
        let slot = &mut self.slots[seq as usize % FEC_WINDOW_PACKETS];
        slot.0 = seq;
        slot.1 = true;
        slot.2.clear();
        slot.2.extend_from_slice(datagram);
    }

    /// Takes a repair packet of the stream `media_ssrc` (already routed to it). Each packet
    /// it lets rebuild is passed to `recovered` (a full RTP packet); a repair with two or
    /// more of its packets missing is kept for later ([`FecDecoder::retry`]).
    pub fn on_repair(&mut self, datagram: &[u8], media_ssrc: u32, mut recovered: impl FnMut(&[u8])) -> Result<()> {
        if datagram.len() < REPAIR_PREFIX_BYTES + RECOVERY_BYTES + 4 || datagram[0] >> 6 != 2 {
            return Err(Error::Malformed("FEC repair packet truncated"));
        }
        if protected_ssrc(datagram) != Some(media_ssrc) || datagram[0] & 0x0f != 1 || datagram[0] & 0x30 != 0x10 {
            return Err(Error::Malformed("FEC repair packet layout"));
        }
        let fec = &datagram[REPAIR_PREFIX_BYTES..];
        if fec[0] & 0xc0 != 0 {
            return Err(Error::Malformed("FEC repair packet is not a flexible-mask one"));
        }
        let base = u16::from_be_bytes([fec[8], fec[9]]);
        let (offsets, mask_len) = read_mask(&fec[10..])?;
        let payload = &fec[10 + mask_len..];
        if offsets == 0 || payload.len() + RTP_HEADER_BYTES > self.max_packet {
            return Err(Error::Malformed("FEC repair packet protects nothing or too much"));
        }
        if self.slots.is_empty() {
            self.slots = (0..FEC_WINDOW_PACKETS).map(|_| (0, false, Vec::with_capacity(self.max_packet))).collect();
        }
        let mut bits = Vec::with_capacity(RECOVERY_BYTES + payload.len());
        bits.extend_from_slice(&fec[..RECOVERY_BYTES]);
        bits.extend_from_slice(payload);
        if self.pending.len() == FEC_PENDING_REPAIRS {
            self.pending.pop_front();
        }
        self.pending.push_back(Repair { base, offsets, bits });
        self.retry(media_ssrc, &mut recovered);
        Ok(())
    }

    /// Uses every kept repair that now misses exactly one packet (newly arrived or
    /// recovered packets make more of them usable); drops those that miss none.
    pub fn retry(&mut self, media_ssrc: u32, mut recovered: impl FnMut(&[u8])) {
        loop {
            let mut progress = false;
            let mut i = 0;
            while i < self.pending.len() {
                let r = &self.pending[i];
                let mut missing = None;
                let mut n_missing = 0;
                for off in (0..MAX_MASK_BITS).filter(|&o| r.offsets >> o & 1 != 0) {
                    let seq = r.base.wrapping_add(off as u16);
                    if self.slot(seq).is_none() {
                        n_missing += 1;
                        missing = Some(seq);
                    }
                }
                match (n_missing, missing) {
                    (0, _) => {
                        self.pending.remove(i);
                    }
                    (1, Some(seq)) => {
                        let r = self.pending.remove(i).expect("index checked");
                        if self.rebuild(&r, seq, media_ssrc) {
                            let pkt = std::mem::take(&mut self.scratch);
                            self.on_media(&pkt);
                            recovered(&pkt);
                            self.scratch = pkt;
                            progress = true;
                        }
                    }
                    _ => i += 1,
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// XORs the repair with the packets it names but `seq`, into `self.scratch` as a packet.
    fn rebuild(&mut self, r: &Repair, seq: u16, media_ssrc: u32) -> bool {
        let mut acc = std::mem::take(&mut self.acc);
        acc.clear();
        acc.extend_from_slice(&r.bits);
        for off in (0..MAX_MASK_BITS).filter(|&o| r.offsets >> o & 1 != 0) {
            let s = r.base.wrapping_add(off as u16);
            if s != seq {
                if let Some(p) = self.slot(s) {
                    xor_bit_string(&mut acc, p);
                }
            }
        }
        let len = u16::from_be_bytes([acc[2], acc[3]]) as usize;
        if RECOVERY_BYTES + len > acc.len() || RTP_HEADER_BYTES + len > self.max_packet {
            self.acc = acc;
            return false;
        }
        let mut pkt = std::mem::take(&mut self.scratch);
        pkt.clear();
        pkt.push(0x80 | (acc[0] & 0x3f));
        pkt.push(acc[1]);
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(&acc[4..8]);
        pkt.extend_from_slice(&media_ssrc.to_be_bytes());
        pkt.extend_from_slice(&acc[RECOVERY_BYTES..RECOVERY_BYTES + len]);
        self.acc = acc;
        self.scratch = pkt;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::packet::{self, PacketFields, RtpView};
    use super::*;

    fn media(seq: u16, body: &[u8], marker: bool) -> Vec<u8> {
        let f = PacketFields { payload_type: 96, seq, timestamp: 9000 + seq as u32, ssrc: 77, marker, descriptor: 0 };
        let mut p = Vec::new();
        packet::write_packet(&f, body, &mut p);
        packet::set_twcc_seq(&mut p, seq.wrapping_mul(3));
        p
    }

    #[test]
    fn any_one_lost_packet_of_a_group_comes_back_byte_for_byte() {
        // Unequal lengths, a marker, a wrap of the sequence number.
        let pkts: Vec<Vec<u8>> = (0..5u16)
            .map(|i| media(65533u16.wrapping_add(i), &vec![i as u8 + 1; 50 + 37 * i as usize], i == 4))
            .collect();
        for lost in 0..pkts.len() {
            let mut enc = FecEncoder::new(10);
            for p in &pkts {
                assert!(enc.fits(u16::from_be_bytes([p[2], p[3]])));
                enc.add(0, p);
            }
            let mut repair = Vec::new();
            assert!(enc.finish(100, 5, 77, &mut repair));
            let v = RtpView::parse(&repair).unwrap();
            assert_eq!((v.payload_type, v.ssrc, v.seq, v.twcc_seq), (100, 5, 10, Some(0)));
            let mut dec = FecDecoder::new(1500);
            let mut got = Vec::new();
            // The first repair activates the decoder; packets before it are not kept.
            dec.on_repair(&repair, 77, |p| got.push(p.to_vec())).unwrap();
            assert!(got.is_empty());
            for (i, p) in pkts.iter().enumerate() {
                if i != lost {
                    dec.on_media(p);
                }
            }
            dec.retry(77, |p| got.push(p.to_vec()));
            assert_eq!(got, vec![pkts[lost].clone()], "lost {lost}");
        }
    }

    #[test]
    fn two_losses_wait_for_one_to_come_back() {
        let pkts: Vec<Vec<u8>> = (0..4u16).map(|i| media(100 + i, &[i as u8; 80], false)).collect();
        let mut enc = FecEncoder::new(0);
        pkts.iter().for_each(|p| enc.add(0, p));
        let mut repair = Vec::new();
        enc.finish(100, 5, 77, &mut repair);
        let mut dec = FecDecoder::new(1500);
        let mut got = Vec::new();
        dec.on_repair(&repair, 77, |p| got.push(p.to_vec())).unwrap();
        dec.on_media(&pkts[0]);
        dec.on_media(&pkts[1]);
        dec.retry(77, |p| got.push(p.to_vec()));
        assert!(got.is_empty());
        dec.on_media(&pkts[3]); // a retransmission of one of the two
        dec.retry(77, |p| got.push(p.to_vec()));
        assert_eq!(got, vec![pkts[2].clone()]);
    }

    #[test]
    fn masks_of_every_length_round_trip() {
        for top in [0usize, 14, 15, 45, 46, 109] {
            let offsets: u128 = 1 | (1u128 << top) | if top > 20 { 1u128 << 20 } else { 0 };
            let mut out = Vec::new();
            write_mask(offsets, top, &mut out);
            let (back, len) = read_mask(&out).unwrap();
            assert_eq!((back, len), (offsets, out.len()), "top {top}");
            assert!(read_mask(&out[..len - 1]).is_err());
        }
    }

    #[test]
    fn forged_or_truncated_repairs_are_refused_not_panics() {
        let pkts: Vec<Vec<u8>> = (0..3u16).map(|i| media(7 + i, &[3; 40], false)).collect();
        let mut enc = FecEncoder::new(0);
        pkts.iter().for_each(|p| enc.add(0, p));
        let mut repair = Vec::new();
        enc.finish(100, 5, 77, &mut repair);
        let mut dec = FecDecoder::new(1500);
        for n in 0..repair.len() {
            let _ = dec.on_repair(&repair[..n], 77, |_| {});
        }
        assert!(dec.on_repair(&repair, 78, |_| {}).is_err(), "another stream's");
        // A repair claiming a length beyond the packet recovers nothing.
        let mut bad = repair.clone();
        bad[REPAIR_PREFIX_BYTES + 2] ^= 0x7f;
        let mut dec = FecDecoder::new(1500);
        let mut got = 0;
        dec.on_repair(&bad, 77, |_| got += 1).unwrap();
        dec.on_media(&pkts[0]);
        dec.on_media(&pkts[1]);
        dec.retry(77, |_| got += 1);
        assert_eq!(got, 0);
    }

    #[test]
    fn fec_only_on_long_lossy_paths_and_bounded() {
        assert_eq!(group_size(0.02, 100.0), None);
        assert_eq!(group_size(0.001, 600.0), None);
        assert_eq!(group_size(0.02, 300.0), Some(5));
        assert_eq!(group_size(0.005, 300.0), Some(20));
        assert_eq!(group_size(0.2, 300.0), Some(FEC_MIN_GROUP));
        assert_eq!(group_size(f64::NAN, 300.0), None);
    }
}
