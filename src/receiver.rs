//! The hub side for one stream: packets -> reassembly -> SFrame open with this stream's
//! own key -> decodability check -> frames. Sans-IO: `handle_packet`, `handle_timeout`,
//! then drain `poll_frame` and `poll_feedback`.
//!
//! Guarantees:
//! - A frame is output only if it authenticated under this stream's key with this stream's
//!   identity, SSRC and RTP timestamp as metadata, and its counter was never seen before.
//! - A frame is output only if its reference chain is intact: frames are released in
//!   frame-id order, a delta frame only after the frame it predicts from. After a break it
//!   drops everything until the next keyframe and asks for one with a rate-limited PLI.
//! - Every dropped packet is counted by reason ([`RejectCounts`]); nothing else changes.
//! - Memory is fixed at creation: `slots x max_packet_bytes` of packets plus
//!   `frame_buffers x max_frame_bytes` of frames, whatever arrives.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::codec::Codec;
use crate::error::{invalid, Error, Result};
use crate::playout::Playout;
use crate::rtp::nack::NackTracker;
use crate::rtp::packet::SeqUnwrapper;
use crate::rtp::reassembly::{Inserted, Reassembler, Refusal};
use crate::rtp::{rtcp, twcc, RtpView};
use crate::seal::{self, CipherSuite, FrameInfo, Keyring, OpenKey};

/// A missing packet is asked for during at most this long (the sender keeps packets for
/// retransmission for one second by default; queueing on a poor uplink adds to the RTT).
const NACK_MAX_AGE_US: u64 = 1_500_000;

/// Repair round trips a frame may wait for its predecessor (one NACK, one retry, margin).
const WAIT_REPAIR_ROUND_TRIPS: u64 = 3;

/// Interval between two transport-wide feedback messages (libwebrtc sends them every 50 to
/// 100 ms).
const TWCC_INTERVAL_US: u64 = 50_000;
/// Most packet arrivals held for the next transport-wide feedback message.
const TWCC_MAX_PENDING: usize = 2048;

/// Age after which a packet still held below a frame that completed is asked for again.
const STALE_HELD_US: u64 = 30_000;

/// Receiver settings. Build with [`ReceiverConfig::new`].
#[derive(Clone)]
#[non_exhaustive]
pub struct ReceiverConfig {
    /// The stream's identity; must equal the sender's.
    pub stream_id: Vec<u8>,
    /// RTP SSRC of the stream.
    pub ssrc: u32,
    /// Secret shared with the camera.
    pub base_secret: Zeroizing<Vec<u8>>,
    /// Key epoch (SFrame KID) to accept.
    pub key_epoch: u64,
    /// SFrame cipher suite.
    pub suite: CipherSuite,
    /// Codec expected in the frames.
    pub codec: Codec,
    /// RTP payload type expected.
    pub payload_type: u8,
    /// SSRC this hub writes into its RTCP feedback.
    pub feedback_ssrc: u32,
    /// Packet slots in the reassembly ring.
    pub slots: usize,
    /// Largest RTP payload accepted.
    pub max_packet_bytes: usize,
    /// Largest sealed frame accepted.
    pub max_frame_bytes: usize,
    /// Frames held while waiting for a predecessor, plus frames ready for `poll_frame`.
    pub frame_buffers: usize,
    /// How long an authenticated frame may wait for a missing predecessor before the
    /// chain is declared broken; the receiver waits at least three measured repair round
    /// trips (`WAIT_REPAIR_ROUND_TRIPS`) when that is longer.
    pub max_wait_ms: u32,
    /// Interval between NACKs for the same packet.
    pub nack_retry_ms: u32,
    /// NACKs per packet before giving up.
    pub nack_max_sends: u32,
    /// Least time between two PLIs.
    pub pli_interval_ms: u32,
    /// How long the previous key epoch stays usable after the first frame under a new one.
    pub key_overlap_ms: u32,
    /// With no frame authenticated for this long while packets keep being refused (out of
    /// window or failing authentication), the receiver forgets its packet state and
    /// resynchronises on what arrives next (recovery after a long outage).
    pub resync_after_ms: u32,
    /// Longest a frame's render time is held back while repairs or delay spikes are
    /// frequent (see [`crate::playout`]); 0: every frame renders when it is output.
    pub max_playout_hold_ms: u32,
}

impl ReceiverConfig {
    /// Defaults matching [`crate::SenderConfig::new`].
    pub fn new(stream_id: &[u8], ssrc: u32, base_secret: &[u8]) -> Self {
        ReceiverConfig {
            stream_id: stream_id.to_vec(),
            ssrc,
            base_secret: Zeroizing::new(base_secret.to_vec()),
            key_epoch: 0,
            suite: CipherSuite::AesGcm128Sha256,
            codec: Codec::H264,
            payload_type: 96,
            feedback_ssrc: ssrc ^ 0xffff_ffff,
            slots: 1024,
            max_packet_bytes: 1500,
            max_frame_bytes: 512 << 10,
            frame_buffers: 32,
            max_wait_ms: 400,
            nack_retry_ms: 60,
            nack_max_sends: 8,
            pli_interval_ms: 300,
            key_overlap_ms: 2000,
            resync_after_ms: 3000,
            max_playout_hold_ms: 200,
        }
    }

    fn validate(&self) -> Result<()> {
        seal::check_stream_id(&self.stream_id)?;
        if !(16..=65536).contains(&self.slots) {
            return Err(invalid!("{} packet slots is outside 16 to 65536", self.slots));
        }
        if !(64..=9000).contains(&self.max_packet_bytes) {
            return Err(invalid!("max packet size {} is outside 64 to 9000", self.max_packet_bytes));
        }
        if !(1024..=64 << 20).contains(&self.max_frame_bytes) {
            return Err(invalid!("max frame size {} is outside 1 KiB to 64 MiB", self.max_frame_bytes));
        }
        if !(2..=1024).contains(&self.frame_buffers) {
            return Err(invalid!("{} frame buffers is outside 2 to 1024", self.frame_buffers));
        }
        if self.max_playout_hold_ms > 5000 {
            return Err(invalid!("a playout hold of {} ms is over 5000 ms", self.max_playout_hold_ms));
        }
        Ok(())
    }

    /// The most memory a receiver with this config can hold, in bytes: packet slots (each
    /// with room for a second candidate body), frame buffers and the three per-frame working
    /// buffers.
    pub fn memory_bound_bytes(&self) -> usize {
        2 * self.slots * self.max_packet_bytes
            + (self.frame_buffers + 3) * self.max_frame_bytes
            + self.slots / 2 * 32
            + 4096
    }
}

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Did not parse, or carried an invalid descriptor or frame description.
    Malformed,
    /// Its SSRC is not this stream's.
    UnknownStream,
    /// Older than the receiver still tracks, or its frame is older than one already output.
    TooLate,
    /// A copy of a packet already received.
    Duplicate,
    /// Its frame failed SFrame authentication.
    Auth,
    /// Its frame's SFrame counter was already used.
    Replay,
    /// Its frame names an SFrame key (KID) this receiver does not hold.
    UnknownKey,
    /// Its frame authenticated but could not be decoded (broken reference chain).
    Undecodable,
    /// Too far ahead of the last authenticated packet (a forged sequence number, or a
    /// stream that must resynchronise).
    OutOfWindow,
}

impl DropReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DropReason; 9] = [
        DropReason::Malformed,
        DropReason::UnknownStream,
        DropReason::TooLate,
        DropReason::Duplicate,
        DropReason::Auth,
        DropReason::Replay,
        DropReason::UnknownKey,
        DropReason::Undecodable,
        DropReason::OutOfWindow,
    ];

    /// A short snake_case name (used in reports).
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::UnknownStream => "unknown_stream",
            DropReason::TooLate => "too_late",
            DropReason::Duplicate => "duplicate",
            DropReason::Auth => "auth",
            DropReason::Replay => "replay",
            DropReason::UnknownKey => "unknown_key",
            DropReason::Undecodable => "undecodable",
            DropReason::OutOfWindow => "out_of_window",
        }
    }
}

/// Dropped packets by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectCounts([u64; 9]);

impl RejectCounts {
    /// Packets dropped for `r`.
    pub fn get(&self, r: DropReason) -> u64 {
        self.0[r as usize]
    }
    fn add(&mut self, r: DropReason, n: u64) {
        self.0[r as usize] += n;
    }
    /// All reasons with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.get(r)))
    }
    /// Sum over all reasons.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// Datagrams handed to `handle_packet`.
    pub packets_received: u64,
    /// Packets accepted into reassembly.
    pub packets_accepted: u64,
    /// Packets refused before reassembly (each also counted under its reason); so
    /// `packets_received == packets_accepted + packets_refused`.
    pub packets_refused: u64,
    /// Packets dropped, by reason.
    pub rejected: RejectCounts,
    /// Frames that authenticated.
    pub frames_authenticated: u64,
    /// Frames output by `poll_frame`.
    pub frames_output: u64,
    /// Authenticated frames dropped because their chain was broken.
    pub frames_undecodable: u64,
    /// Times the reference chain broke.
    pub chain_breaks: u64,
    /// Sequence numbers NACKed (counting repeats).
    pub nacked: u64,
    /// PLIs sent.
    pub plis_sent: u64,
    /// Times the receiver forgot its packet state to resynchronise.
    pub resyncs: u64,
}

/// A frame ready for the decoder, borrowed until the next `poll_frame`.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedFrame<'a> {
    /// Frame description, as authenticated.
    pub info: FrameInfo,
    /// RTP timestamp of its packets.
    pub rtp_timestamp: u32,
    /// The encoded bitstream (Annex B for H.264).
    pub data: &'a [u8],
    /// When to show it, on the clock passed to `handle_packet` (never before it was
    /// output): see [`crate::playout`]. A recorder can ignore it.
    pub render_at_us: u64,
}

#[derive(Debug, Default)]
struct FrameBuf {
    info: Option<FrameInfo>,
    rtp_timestamp: u32,
    arrived_us: u64,
    render_us: u64,
    packets: u64,
    data: Vec<u8>,
}

/// The hub-side pipeline for one stream.
pub struct Receiver {
    cfg: ReceiverConfig,
    keys: Keyring,
    reasm: Reassembler,
    nack: NackTracker,
    playout: Playout,
    sframe: Vec<u8>,
    plain: Vec<u8>,
    metadata: Vec<u8>,
    feedback: Vec<u8>,
    nack_seqs: Vec<u16>,
    alts: Vec<u64>,
    bufs: Vec<FrameBuf>,
    free: Vec<usize>,
    pending: Vec<usize>,
    ready: VecDeque<usize>,
    out: Option<usize>,
    last_output: Option<u64>,
    released: u64,
    need_keyframe: bool,
    pli_wanted: bool,
    last_pli_us: Option<u64>,
    last_progress_us: Option<u64>,
    refused_since_progress: u64,
    twcc_unwrap: SeqUnwrapper,
    twcc_arrivals: Vec<(u64, u64)>,
    twcc_last_us: Option<u64>,
    twcc_count: u8,
    stats: ReceiverStats,
}

impl Receiver {
    /// Creates a receiver; checks the whole config first and allocates all its memory.
    pub fn new(cfg: ReceiverConfig) -> Result<Self> {
        cfg.validate()?;
        let mut keys = Keyring::new(cfg.key_overlap_ms as u64 * 1000);
        keys.insert(OpenKey::for_stream(cfg.suite, &cfg.base_secret, &cfg.stream_id, cfg.key_epoch)?)?;
        let nack = NackTracker::new(
            cfg.slots / 2,
            cfg.nack_retry_ms as u64 * 1000,
            cfg.nack_max_sends,
            NACK_MAX_AGE_US.max(cfg.max_wait_ms as u64 * 1000),
        );
        let bufs: Vec<FrameBuf> = (0..cfg.frame_buffers).map(|_| FrameBuf::default()).collect();
        Ok(Receiver {
            keys,
            reasm: Reassembler::new(cfg.slots, cfg.max_packet_bytes, cfg.max_frame_bytes),
            nack,
            playout: Playout::new(cfg.max_playout_hold_ms as u64 * 1000),
            sframe: Vec::new(),
            plain: Vec::new(),
            metadata: Vec::new(),
            feedback: Vec::new(),
            nack_seqs: Vec::new(),
            alts: Vec::with_capacity(crate::rtp::reassembly::MAX_ALTERNATES),
            free: (0..bufs.len()).rev().collect(),
            bufs,
            pending: Vec::new(),
            ready: VecDeque::new(),
            out: None,
            last_output: None,
            released: 0,
            need_keyframe: true,
            pli_wanted: false,
            last_pli_us: None,
            last_progress_us: None,
            refused_since_progress: 0,
            twcc_unwrap: SeqUnwrapper::default(),
            twcc_arrivals: Vec::with_capacity(TWCC_MAX_PENDING),
            twcc_last_us: None,
            twcc_count: 0,
            stats: ReceiverStats::default(),
            cfg,
        })
    }

    // ---- getters ----

    /// Counters since creation.
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }
    /// The config it runs with.
    pub fn config(&self) -> &ReceiverConfig {
        &self.cfg
    }
    /// Whether the receiver is dropping frames until a keyframe arrives.
    pub fn waiting_for_keyframe(&self) -> bool {
        self.need_keyframe
    }
    /// The render time of the frame the last `poll_frame` returned (while it is borrowed
    /// it is also in [`ReceivedFrame::render_at_us`]).
    pub fn polled_render_at_us(&self) -> Option<u64> {
        self.out.map(|i| self.bufs[i].render_us)
    }
    /// Whether a frame is ready for `poll_frame`.
    pub fn has_frame(&self) -> bool {
        !self.ready.is_empty()
    }
    /// KIDs (key epochs) this receiver can open.
    pub fn key_epochs(&self) -> impl Iterator<Item = u64> + '_ {
        self.keys.kids()
    }
    /// Bytes this receiver holds in buffers now (never more than
    /// [`ReceiverConfig::memory_bound_bytes`]).
    pub fn memory_in_use_bytes(&self) -> usize {
        self.reasm.buffered_capacity_bytes()
            + self.bufs.iter().map(|b| b.data.capacity()).sum::<usize>()
            + self.sframe.capacity()
            + self.plain.capacity()
            + self.metadata.capacity()
            + self.feedback.capacity()
            + self.nack_seqs.capacity() * 2
    }

    // ---- mutators ----

    /// Installs the key of another epoch (a rekey), derived from this stream's base secret
    /// or from `new_base_secret`. Frames under the current epoch keep opening until the
    /// first frame under the new one, then for `key_overlap_ms` more.
    pub fn install_key(&mut self, epoch: u64, new_base_secret: Option<&[u8]>) -> Result<()> {
        let secret = new_base_secret.unwrap_or(&self.cfg.base_secret);
        let key = OpenKey::for_stream(self.cfg.suite, secret, &self.cfg.stream_id, epoch)?;
        self.keys.insert(key)
    }

    // ---- handle_* ----

    /// Handles one RTP datagram. A dropped packet is counted and its reason returned.
    pub fn handle_packet(&mut self, now_us: u64, datagram: &[u8]) -> std::result::Result<(), DropReason> {
        self.stats.packets_received += 1;
        let accepted_before = self.stats.packets_accepted;
        let r = self.handle_packet_inner(now_us, datagram);
        if self.stats.packets_accepted == accepted_before {
            self.stats.packets_refused += 1;
        }
        if let Err((reason, n)) = r {
            if reason == DropReason::OutOfWindow {
                self.refused_since_progress += 1;
            }
            self.stats.rejected.add(reason, n);
            return Err(reason);
        }
        Ok(())
    }

    fn handle_packet_inner(&mut self, now_us: u64, datagram: &[u8]) -> std::result::Result<(), (DropReason, u64)> {
        self.last_progress_us.get_or_insert(now_us);
        let p = RtpView::parse(datagram).map_err(|_| (DropReason::Malformed, 1))?;
        if p.ssrc != self.cfg.ssrc {
            return Err((DropReason::UnknownStream, 1));
        }
        if p.payload_type != self.cfg.payload_type {
            return Err((DropReason::Malformed, 1));
        }
        // Every packet of this stream that reached the hub counts for congestion control,
        // whatever becomes of it below.
        let mut overtaken = None;
        if let Some(tw) = p.twcc_seq {
            let ext = self.twcc_unwrap.peek(tw);
            overtaken = Some(self.twcc_unwrap.last().is_some_and(|l| ext < l));
            self.twcc_unwrap.advance(ext);
            if self.twcc_arrivals.len() < TWCC_MAX_PENDING {
                self.twcc_arrivals.push((ext, now_us));
            }
        }
        let highest = self.reasm.highest();
        let ext = self.reasm.unwrap_seq(p.seq);
        let (ext, inserted) = self.reasm.insert(now_us, &p).map_err(|r| {
            if r == Refusal::Duplicate {
                self.nack.remove(ext); // it is here: stop asking
            }
            let reason = match r {
                Refusal::OutOfWindow => DropReason::OutOfWindow,
                Refusal::Malformed => DropReason::Malformed,
                Refusal::TooLate => DropReason::TooLate,
                Refusal::Duplicate => DropReason::Duplicate,
            };
            (reason, 1)
        })?;
        self.stats.packets_accepted += 1;
        if self.nack.on_packet(ext, highest, now_us, overtaken) {
            self.playout.on_repair(now_us);
        }
        match inserted {
            // A different packet was here: ask again so the real one comes back.
            Inserted::Replaced | Inserted::Alternate => self.nack.readd(ext, now_us),
            Inserted::Settled => self.nack.remove(ext),
            Inserted::New => {}
        }
        let Some(span) = self.reasm.take_frame(ext, &mut self.sframe) else {
            return Ok(());
        };
        let packets = span.last - span.first + 1;
        seal::stream_metadata(&self.cfg.stream_id, self.cfg.ssrc, span.timestamp, &mut self.metadata);
        let mut opened = self.keys.open(now_us, &self.metadata, &self.sframe, &mut self.plain);
        if matches!(opened, Err(Error::AuthenticationFailed)) {
            // Packets with two candidate bodies: try the combinations (at most 2^6 - 1).
            self.reasm.alternates(&span, &mut self.alts);
            for mask in 1..(1u32 << self.alts.len()) {
                self.reasm.assemble_with(&span, &self.alts, mask, &mut self.sframe);
                opened = self.keys.open(now_us, &self.metadata, &self.sframe, &mut self.plain);
                if opened.is_ok() {
                    self.reasm.commit_alternates(&self.alts, mask);
                    break;
                }
            }
        }
        if let Err(e) = opened {
            let reason = match e {
                Error::Replay => DropReason::Replay,
                Error::UnknownKey(_) => DropReason::UnknownKey,
                Error::Malformed(_) => DropReason::Malformed,
                _ => DropReason::Auth,
            };
            // A forged, tampered or replayed packet may have taken a real one's place: keep the
            // packets and ask for all of them again; a retransmitted copy that differs
            // replaces the bad one and the frame is tried again.
            self.reasm.unconsume(span.first, span.last);
            for e in span.first..=span.last {
                if !self.reasm.is_confirmed(e) {
                    self.nack.readd(e, now_us);
                }
            }
            self.refused_since_progress += 1;
            return Err((reason, packets));
        }
        self.stats.frames_authenticated += 1;
        self.reasm.confirm(span.last);
        let nack = &mut self.nack;
        self.reasm.stale_held(span.first, now_us, STALE_HELD_US, |e| nack.readd(e, now_us));
        self.last_progress_us = Some(now_us);
        self.refused_since_progress = 0;
        let (info, _) = FrameInfo::decode(&self.plain).map_err(|_| (DropReason::Malformed, packets))?;
        if info.codec != self.cfg.codec {
            return Err((DropReason::Malformed, packets));
        }
        self.accept_frame(now_us, info, span.timestamp, packets)?;
        Ok(())
    }

    fn accept_frame(
        &mut self,
        now_us: u64,
        info: FrameInfo,
        rtp_timestamp: u32,
        packets: u64,
    ) -> std::result::Result<(), (DropReason, u64)> {
        if self.last_output.is_some_and(|l| info.frame_id <= l) {
            return Err((DropReason::TooLate, packets));
        }
        // A delta frame while waiting for a keyframe is held, not dropped: the keyframe it
        // builds on may still be arriving or being repaired. If none comes within
        // `max_wait_ms`, the chain is declared broken (and a PLI goes out) by `handle_timeout`.
        if info.keyframe {
            // Frames before a keyframe can no longer be output in order: let them go.
            let bufs = &mut self.bufs;
            let free = &mut self.free;
            self.pending.retain(|&i| {
                let older = bufs[i].info.is_some_and(|p| p.frame_id < info.frame_id);
                if older {
                    bufs[i].info = None;
                    free.push(i);
                }
                !older
            });
        }
        let Some(i) = self.take_buffer() else {
            self.break_chain();
            self.stats.frames_undecodable += 1;
            return Err((DropReason::Undecodable, packets));
        };
        let b = &mut self.bufs[i];
        b.info = Some(info);
        b.rtp_timestamp = rtp_timestamp;
        b.arrived_us = now_us;
        b.packets = packets;
        let body = &self.plain[seal::FRAME_INFO_BYTES..];
        b.data.clear();
        b.data.reserve_exact(body.len());
        b.data.extend_from_slice(body);
        self.pending.push(i);
        self.release_ready(now_us);
        Ok(())
    }

    fn max_wait_us(&self) -> u64 {
        let repair = self.nack.rtt_us().map_or(0, |r| r * WAIT_REPAIR_ROUND_TRIPS);
        (self.cfg.max_wait_ms as u64 * 1000).max(repair)
    }

    fn take_buffer(&mut self) -> Option<usize> {
        if let Some(i) = self.free.pop() {
            return Some(i);
        }
        // All buffers busy: the oldest frame the caller has not polled yet is given up,
        // which breaks the chain for what follows.
        let i = self.ready.pop_front()?;
        self.bufs[i].info = None;
        self.break_chain();
        Some(i)
    }

    fn is_released(&self, id: u64) -> bool {
        match self.last_output {
            Some(l) if id <= l => l - id < 64 && self.released & (1 << (l - id)) != 0,
            _ => false,
        }
    }

    /// Moves every pending frame whose chain is intact to the ready queue, in id order.
    fn release_ready(&mut self, now_us: u64) {
        loop {
            let next = self
                .pending
                .iter()
                .enumerate()
                .filter_map(|(k, &i)| self.bufs[i].info.map(|info| (k, info)))
                .filter(|(_, info)| {
                    info.keyframe || (!self.need_keyframe && self.is_released(info.frame_id - info.ref_distance as u64))
                })
                .min_by_key(|(_, info)| info.frame_id);
            let Some((k, info)) = next else { break };
            let i = self.pending.swap_remove(k);
            if info.keyframe {
                self.need_keyframe = false;
                self.pli_wanted = false;
            }
            self.released = match self.last_output {
                Some(l) if info.frame_id - l < 64 => (self.released << (info.frame_id - l)) | 1,
                _ => 1,
            };
            self.last_output = Some(info.frame_id);
            self.bufs[i].render_us = self.playout.render_at(now_us, info.capture_time_us, self.nack.rtt_us());
            self.ready.push_back(i);
            // Pending frames now older than the output can never be released.
            let bufs = &mut self.bufs;
            let free = &mut self.free;
            let stats = &mut self.stats;
            self.pending.retain(|&j| {
                let stale = bufs[j].info.is_some_and(|p| p.frame_id <= info.frame_id);
                if stale {
                    stats.rejected.add(DropReason::TooLate, bufs[j].packets);
                    bufs[j].info = None;
                    free.push(j);
                }
                !stale
            });
        }
    }

    fn break_chain(&mut self) {
        if !self.need_keyframe {
            self.stats.chain_breaks += 1;
        }
        self.need_keyframe = true;
        self.pli_wanted = true;
        for i in self.pending.drain(..) {
            if let Some(info) = self.bufs[i].info.take() {
                if !info.keyframe {
                    self.stats.frames_undecodable += 1;
                    self.stats.rejected.add(DropReason::Undecodable, self.bufs[i].packets);
                }
            }
            self.free.push(i);
        }
    }

    /// Advances timers: gives up on frames that waited too long for a predecessor.
    pub fn handle_timeout(&mut self, now_us: u64) {
        self.keys.expire(now_us);
        let stalled =
            self.last_progress_us.is_some_and(|t| now_us.saturating_sub(t) >= self.cfg.resync_after_ms as u64 * 1000);
        if stalled && self.refused_since_progress > 0 {
            self.reasm.reset();
            self.nack.forget_before(u64::MAX);
            self.stats.resyncs += 1;
            self.last_progress_us = Some(now_us);
            self.refused_since_progress = 0;
            self.break_chain();
        }
        let max_wait = self.max_wait_us();
        let expired = self.pending.iter().any(|&i| now_us.saturating_sub(self.bufs[i].arrived_us) >= max_wait);
        if expired {
            self.break_chain();
        }
    }

    // ---- polls ----

    /// The next frame to decode, in order. The borrow lasts until the next call.
    pub fn poll_frame(&mut self) -> Option<ReceivedFrame<'_>> {
        self.poll_frame_labeled().map(|(_, f)| f)
    }

    /// [`Receiver::poll_frame`], with the identity of the stream the frame authenticated for.
    pub fn poll_frame_labeled(&mut self) -> Option<(&[u8], ReceivedFrame<'_>)> {
        if let Some(i) = self.out.take() {
            self.bufs[i].info = None;
            self.free.push(i);
        }
        let i = self.ready.pop_front()?;
        self.out = Some(i);
        self.stats.frames_output += 1;
        let b = &self.bufs[i];
        let info = b.info.expect("ready frames carry info");
        Some((
            &self.cfg.stream_id,
            ReceivedFrame { info, rtp_timestamp: b.rtp_timestamp, data: &b.data, render_at_us: b.render_us },
        ))
    }

    /// Writes the next RTCP feedback datagram (NACK and/or PLI) due at `now_us` into `buf`.
    pub fn poll_feedback(&mut self, now_us: u64, buf: &mut [u8]) -> Result<Option<usize>> {
        self.feedback.clear();
        self.nack_seqs.clear();
        self.nack.due(now_us, &mut self.nack_seqs);
        if !self.nack_seqs.is_empty() {
            let n = rtcp::write_nack(self.cfg.feedback_ssrc, self.cfg.ssrc, &self.nack_seqs, &mut self.feedback);
            self.stats.nacked += n as u64;
        }
        let twcc_due =
            !self.twcc_arrivals.is_empty() && self.twcc_last_us.is_none_or(|t| now_us >= t + TWCC_INTERVAL_US);
        if twcc_due {
            self.twcc_arrivals.sort_unstable();
            self.twcc_arrivals.dedup_by_key(|a| a.0);
            let done = twcc::write_feedback(
                self.cfg.feedback_ssrc,
                self.cfg.ssrc,
                self.twcc_count,
                &self.twcc_arrivals,
                &mut self.feedback,
            );
            self.twcc_arrivals.drain(..done);
            self.twcc_count = self.twcc_count.wrapping_add(1);
            self.twcc_last_us = Some(now_us);
        }
        let pli_due =
            self.pli_wanted && self.last_pli_us.is_none_or(|t| now_us >= t + self.cfg.pli_interval_ms as u64 * 1000);
        if pli_due {
            rtcp::write_pli(self.cfg.feedback_ssrc, self.cfg.ssrc, &mut self.feedback);
            self.last_pli_us = Some(now_us);
            self.pli_wanted = self.need_keyframe;
            self.stats.plis_sent += 1;
        }
        if self.feedback.is_empty() {
            return Ok(None);
        }
        let n = self.feedback.len();
        if buf.len() < n {
            return Err(Error::BufferTooSmall { needed: n });
        }
        buf[..n].copy_from_slice(&self.feedback);
        Ok(Some(n))
    }

    /// The next time `handle_timeout` or `poll_feedback` has work, if any.
    pub fn poll_timeout(&self) -> Option<u64> {
        let max_wait = self.max_wait_us();
        let wait = self.pending.iter().map(|&i| self.bufs[i].arrived_us + max_wait).min();
        let pli = self.pli_wanted.then(|| self.last_pli_us.map_or(0, |t| t + self.cfg.pli_interval_ms as u64 * 1000));
        let resync = (self.refused_since_progress > 0)
            .then(|| self.last_progress_us.map(|t| t + self.cfg.resync_after_ms as u64 * 1000))
            .flatten();
        let twcc = (!self.twcc_arrivals.is_empty()).then(|| self.twcc_last_us.map_or(0, |t| t + TWCC_INTERVAL_US));
        [wait, pli, self.nack.next_due_us(), self.keys.next_expiry_us(), resync, twcc].into_iter().flatten().min()
    }
}
