//! An adversary on the path between the cameras and the hub. With probability `p` per
//! packet it does one of the things that have made hubs show the wrong home or a broken
//! picture: misroute a packet to another stream, swap two streams' SSRCs, replay an old
//! packet (as it was, or with a fresh sequence number), truncate it, flip bits in it, or
//! inject a frame sealed with another stream's key, or with the right key but another
//! stream's metadata. It is an insider: it holds every stream's sealing key.

use std::collections::VecDeque;

use crate::codec::Codec;
use crate::error::Result;
use crate::rtp::{self, packet, PacketFields, RtpView};
use crate::seal::{self, CipherSuite, FrameInfo, SealKey};

/// What the adversary did, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttackCounts {
    /// Packets rewritten to a random other stream's SSRC.
    pub misrouted: u64,
    /// Packets rewritten to their partner stream's SSRC (streams swapped in pairs).
    pub swapped: u64,
    /// Old packets sent again unchanged.
    pub replayed: u64,
    /// Old packets sent again with a fresh sequence number of the target stream.
    pub replayed_resequenced: u64,
    /// Packets cut short.
    pub truncated: u64,
    /// Packets with bits flipped.
    pub bit_flipped: u64,
    /// Frames injected, sealed with another stream's key.
    pub injected_foreign_key: u64,
    /// Frames injected, sealed with the right key but another stream's metadata.
    pub injected_foreign_metadata: u64,
}

impl AttackCounts {
    /// Every action taken.
    pub fn total(&self) -> u64 {
        self.misrouted
            + self.swapped
            + self.replayed
            + self.replayed_resequenced
            + self.truncated
            + self.bit_flipped
            + self.injected_foreign_key
            + self.injected_foreign_metadata
    }
}

/// One stream as the adversary knows it.
pub struct Target {
    /// Stream identity.
    pub stream_id: Vec<u8>,
    /// SSRC.
    pub ssrc: u32,
    /// The stream's sealing key (an insider has it).
    pub key: SealKey,
}

/// The adversary.
pub struct Adversary {
    rng: fastrand::Rng,
    p: f64,
    targets: Vec<Target>,
    /// A stream of the adversary's own (a camera in its own home): a real key and real
    /// metadata, for none of the hub's streams.
    intruder: Target,
    memory: VecDeque<Vec<u8>>,
    scratch: Vec<u8>,
    counts: AttackCounts,
}

const MEMORY_PACKETS: usize = 4096;

impl Adversary {
    /// An adversary acting on a fraction `p` of packets.
    pub fn new(p: f64, seed: u64, targets: Vec<Target>, intruder: Target) -> Self {
        Adversary {
            intruder,
            rng: fastrand::Rng::with_seed(seed ^ 0xbad_5eed),
            p,
            targets,
            memory: VecDeque::with_capacity(MEMORY_PACKETS),
            scratch: Vec::new(),
            counts: AttackCounts::default(),
        }
    }

    /// What it did so far.
    pub fn counts(&self) -> AttackCounts {
        self.counts
    }

    /// Passes one packet on its way to the hub. Everything to deliver instead (the packet,
    /// altered or not, and anything injected) is pushed to `out`.
    pub fn intercept(&mut self, packet: &[u8], out: &mut Vec<Vec<u8>>) -> Result<()> {
        if self.memory.len() == MEMORY_PACKETS {
            self.memory.pop_front();
        }
        self.memory.push_back(packet.to_vec());
        let victim = RtpView::peek_ssrc(packet).and_then(|s| self.targets.iter().position(|t| t.ssrc == s));
        if self.p <= 0.0 || self.rng.f64() >= self.p || packet.len() < 13 {
            out.push(packet.to_vec());
            return Ok(());
        }
        let n = self.targets.len();
        let mut p = packet.to_vec();
        match self.rng.u8(0..8) {
            0 if n > 1 => {
                let other = self.rng.usize(0..n);
                p[8..12].copy_from_slice(&self.targets[other].ssrc.to_be_bytes());
                self.counts.misrouted += 1;
                out.push(p);
            }
            1 if n > 1 => {
                let partner = victim.map_or(0, |v| (v ^ 1).min(n - 1));
                p[8..12].copy_from_slice(&self.targets[partner].ssrc.to_be_bytes());
                self.counts.swapped += 1;
                out.push(p);
            }
            2 => {
                out.push(p);
                let old = self.rng.usize(0..self.memory.len());
                out.push(self.memory[old].clone());
                self.counts.replayed += 1;
            }
            3 => {
                out.push(p.clone());
                let old = self.rng.usize(0..self.memory.len());
                let mut r = self.memory[old].clone();
                r[2..4].copy_from_slice(&packet[2..4]);
                let seq = u16::from_be_bytes([r[2], r[3]]).wrapping_add(self.rng.u16(1..4));
                r[2..4].copy_from_slice(&seq.to_be_bytes());
                r[8..12].copy_from_slice(&packet[8..12]);
                out.push(r);
                self.counts.replayed_resequenced += 1;
            }
            4 => {
                let keep = self.rng.usize(0..p.len());
                p.truncate(keep);
                self.counts.truncated += 1;
                out.push(p);
            }
            5 => {
                for _ in 0..self.rng.usize(1..4) {
                    let i = self.rng.usize(0..p.len());
                    p[i] ^= 1 << self.rng.u8(0..8);
                }
                self.counts.bit_flipped += 1;
                out.push(p);
            }
            k => {
                out.push(p);
                if let Some(v) = victim {
                    let foreign_key = k == 6;
                    self.inject(v, foreign_key, packet, out)?;
                }
            }
        }
        Ok(())
    }

    /// Seals a plausible frame and sends it as one packet of stream `v`, right after the
    /// packet it saw.
    fn inject(&mut self, v: usize, foreign_key: bool, seen: &[u8], out: &mut Vec<Vec<u8>>) -> Result<()> {
        let n = self.targets.len();
        // Another stream: one of the hub's others, or the intruder's own.
        let other = (v + 1 + self.rng.usize(0..n)) % (n + 1);
        let other = if other == v { n } else { other };
        let view = RtpView::parse(seen).map_err(|_| crate::Error::Malformed("adversary"))?;
        let mut plain = Vec::new();
        FrameInfo {
            codec: Codec::H264,
            keyframe: true,
            temporal_layer: 0,
            frame_id: 1 << 40,
            ref_distance: 0,
            width: 64,
            height: 64,
            capture_time_us: 0,
        }
        .encode(&mut plain);
        plain.extend((0..200).map(|_| self.rng.u8(..)));
        let (key_of, md_of) = if foreign_key { (other, v) } else { (v, other) };
        let mut md = Vec::new();
        let md_target = if md_of == n { &self.intruder } else { &self.targets[md_of] };
        seal::stream_metadata(&md_target.stream_id, md_target.ssrc, view.timestamp.wrapping_add(3000), &mut md);
        let key = if key_of == n { &mut self.intruder.key } else { &mut self.targets[key_of].key };
        key.seal(&md, &plain, &mut self.scratch)?;
        let f = PacketFields {
            payload_type: view.payload_type,
            seq: view.seq.wrapping_add(1 + self.rng.u16(0..3)),
            timestamp: view.timestamp.wrapping_add(3000),
            ssrc: self.targets[v].ssrc,
            marker: true,
            descriptor: packet::DESC_START | packet::DESC_END,
        };
        let mut p = Vec::new();
        packet::write_packet(&f, &self.scratch, &mut p);
        debug_assert!(p.len() <= rtp::PACKET_OVERHEAD_BYTES + self.scratch.len());
        out.push(p);
        if foreign_key {
            self.counts.injected_foreign_key += 1;
        } else {
            self.counts.injected_foreign_metadata += 1;
        }
        Ok(())
    }
}

/// An insider's copy of a stream's sealing key, counting far from the real camera's counter.
pub fn insider_key(suite: CipherSuite, secret: &[u8], stream_id: &[u8], epoch: u64) -> Result<SealKey> {
    Ok(SealKey::for_stream(suite, secret, stream_id, epoch)?.starting_at(1 << 40))
}
