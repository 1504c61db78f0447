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
//! - A frame is output only if it was sealed under the nonce this receiver gave the
//!   camera's session ([`ReceiverConfig::one_way`] aside): a recording of any earlier
//!   session, or of this session under an earlier nonce, never opens, whichever side
//!   restarted.
//! - A frame that arrives later than the path explains is output marked
//!   [`ReceivedFrame::stale`], never as live.
//! - Every dropped packet is counted by reason ([`RejectCounts`]); nothing else changes.
//! - Memory is fixed at creation: `slots x max_packet_bytes` of packets plus
//!   `frame_buffers x max_frame_bytes` of frames, whatever arrives.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::codec::Codec;
use crate::error::{invalid, Error, Result};
use crate::playout::Playout;
use crate::rtp::fec::{self, FecDecoder};
use crate::rtp::nack::NackTracker;
use crate::rtp::packet::SeqUnwrapper;
use crate::rtp::reassembly::{Inserted, Reassembler, Refusal};
use crate::rtp::{packet, rtcp, twcc, RtpView};
use crate::seal::{self, CipherSuite, FrameInfo, HubNonce, Keyring, HUB_NONCE_SESSIONS};

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

/// How long the stream's sender session must be silent before another may replace it: a
/// camera restarts in no less (a watchdog, a power cut), while a live camera sends a frame
/// every 33-200 ms, so a second session cannot take over a live stream.
const SESSION_IDLE_US: u64 = 300_000;

/// Sender sessions a stream remembers having followed, never to follow again (a recording
/// of one replayed later is refused).
const RETIRED_SESSIONS: usize = 64;

/// A session that said hello replaces the stream's once this much more than the stream's
/// own lag has passed with no frame of the stream's captured after the hello: had the
/// camera been live, one would have arrived (a frame interval at 10 fps).
const HELLO_WAIT_US: u64 = 100_000;

/// Least time between two hub nonce messages to one session (hellos come every 100 ms).
const CHALLENGE_INTERVAL_US: u64 = 50_000;
/// The first packet under a new hub nonce must arrive within this of a message carrying the
/// nonce: one round trip and the camera's next frame. Later, the whole session may have been
/// held back, and its frames are marked stale.
const FIRST_PACKET_WITHIN_US: u64 = 2_000_000;
/// Sends of one nonce remembered for the freshness check (hellos every 100 ms: 0.8 s of them).
const SENDS_KEPT: usize = 8;
/// Least time between two fresh nonces given to a session found held back.
const RECHALLENGE_US: u64 = 5_000_000;

/// The hub nonce given to one sender session, and when it went out.
#[derive(Debug, Clone, Copy)]
struct Challenge {
    session: u64,
    /// The KID the session last named (its epoch picks the MAC key).
    kid: u64,
    /// When the last [`SENDS_KEPT`] messages carrying the nonce went out.
    sent_us: [u64; SENDS_KEPT],
    sends: usize,
    first_sent_us: Option<u64>,
    due: bool,
    /// Whether the first frame under this nonce came in time (`None`: none yet).
    fresh: Option<bool>,
    /// When its first hello arrived, and the id of the request it carried.
    hello_us: Option<u64>,
    hello_id: Option<u64>,
}

impl Challenge {
    fn last_sent(&self) -> Option<u64> {
        (self.sends > 0).then(|| self.sent_us[(self.sends - 1) % SENDS_KEPT])
    }
}

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
    /// RTP payload type of the stream's FEC repair packets (the sender's
    /// [`crate::SenderConfig::fec_payload_type`]).
    pub fec_payload_type: u8,
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
    /// A frame that took longer than the fastest transit by more than this plus the playout
    /// hold's ceiling (`max_playout_hold_ms`, or 1.25 of the path's own round trip when that
    /// is longer, at most 2 s) is output marked stale ([`ReceivedFrame::stale`]).
    pub max_frame_age_ms: u32,
    /// A one-way stream (the sender's [`crate::SenderConfig::one_way`]): no hub nonce is
    /// given, and frames of sessions bound to none are opened. Such a hub cannot tell a
    /// recording of an earlier session replayed after it restarted from a live one.
    pub one_way: bool,
    /// Seeds the hub nonces, for deterministic tests and the emulator; never in production.
    /// `None` (the default): the operating system's randomness.
    pub rng_seed: Option<u64>,
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
            fec_payload_type: 97,
            feedback_ssrc: ssrc ^ 0xffff_ffff,
            slots: 1024,
            max_packet_bytes: 1500,
            max_frame_bytes: 512 << 10,
            frame_buffers: 64,
            max_wait_ms: 400,
            nack_retry_ms: 60,
            nack_max_sends: 8,
            pli_interval_ms: 300,
            key_overlap_ms: 2000,
            resync_after_ms: 3000,
            max_playout_hold_ms: 200,
            max_frame_age_ms: 500,
            one_way: false,
            rng_seed: None,
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
        if !(50..=60_000).contains(&self.max_frame_age_ms) {
            return Err(invalid!("a frame age bound of {} ms is outside 50 to 60000 ms", self.max_frame_age_ms));
        }
        if self.payload_type > 127 || self.fec_payload_type > 127 || self.fec_payload_type == self.payload_type {
            return Err(invalid!(
                "payload types {} (media) and {} (FEC) must differ and be at most 127",
                self.payload_type,
                self.fec_payload_type
            ));
        }
        Ok(())
    }

    /// The most memory a receiver with this config can hold, in bytes: packet slots (each
    /// with room for a second candidate body), frame buffers, the three per-frame working
    /// buffers and the FEC window (held once repair packets arrive).
    pub fn memory_bound_bytes(&self) -> usize {
        2 * self.slots * self.max_packet_bytes
            + (self.frame_buffers + 3) * self.max_frame_bytes
            + self.slots / 2 * 32
            + FecDecoder::memory_bound_bytes(self.max_packet_bytes)
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
    /// It authenticated, but under a sender session other than the stream's: an earlier one
    /// (a recording replayed) or a second one while the stream's is live.
    OtherSession,
}

impl DropReason {
    /// Every reason, in a fixed order.
    pub const ALL: [DropReason; 10] = [
        DropReason::Malformed,
        DropReason::UnknownStream,
        DropReason::TooLate,
        DropReason::Duplicate,
        DropReason::Auth,
        DropReason::Replay,
        DropReason::UnknownKey,
        DropReason::Undecodable,
        DropReason::OutOfWindow,
        DropReason::OtherSession,
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
            DropReason::OtherSession => "other_session",
        }
    }
}

/// Dropped packets by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RejectCounts([u64; 10]);

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
    /// `packets_received == packets_accepted + packets_refused + repair_packets_received`.
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
    /// Times the stream followed a new sender session (a camera that restarted).
    pub session_switches: u64,
    /// Hellos received (sessions asking for a hub nonce).
    pub hellos_received: u64,
    /// Hub nonce messages sent.
    pub hub_nonces_sent: u64,
    /// Frames output marked stale.
    pub frames_stale: u64,
    /// FEC repair packets of this stream that parsed (never accepted into reassembly
    /// themselves).
    pub repair_packets_received: u64,
    /// Media packets rebuilt from FEC repairs and taken into reassembly (not counted in
    /// `packets_accepted`).
    pub packets_recovered: u64,
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
    /// It arrived later than the path explains (over `max_frame_age_ms` beyond the fastest
    /// transit and the playout hold), or its session's first packet came too long after the
    /// hub nonce went out: it may have been held back. Decode it (later frames reference it)
    /// but do not show it as live.
    pub stale: bool,
}

#[derive(Debug, Default)]
struct FrameBuf {
    info: Option<FrameInfo>,
    rtp_timestamp: u32,
    arrived_us: u64,
    render_us: u64,
    packets: u64,
    /// Sealed under the newest epoch seen: its transit may teach the playout.
    teaches_playout: bool,
    /// Its session's first packet under the nonce came too late.
    held_session: bool,
    stale: bool,
    data: Vec<u8>,
}

/// The KID of the SFrame a packet starts, if it starts one.
fn start_kid(p: &RtpView<'_>) -> Option<u64> {
    if p.payload.first().is_none_or(|d| d & packet::DESC_START == 0) {
        return None;
    }
    seal::Header::decode(&p.payload[1..]).ok().map(|(h, _)| h.kid)
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
    /// The newest key epoch a frame authenticated under, and that epoch's first frame id.
    newest_epoch: Option<(u64, u64)>,
    /// The sender session the stream follows (the high bits of its KIDs).
    session: Option<u64>,
    /// When a frame of that session last authenticated.
    session_frame_us: Option<u64>,
    /// When, on this clock, its newest frame was captured (its arrival less its lateness over
    /// the fastest transit), and that lateness.
    session_captured_us: Option<u64>,
    session_lag_us: u64,
    /// Sessions the stream followed before: never followed again.
    retired_sessions: VecDeque<u64>,
    /// The session the packet state was last reset for.
    resynced_for: Option<u64>,
    released: u64,
    need_keyframe: bool,
    pli_wanted: bool,
    last_pli_us: Option<u64>,
    last_progress_us: Option<u64>,
    refused_since_progress: u64,
    /// A frame has authenticated since the packet ring was (re)anchored.
    anchor_proven: bool,
    /// Frames that failed authentication while the anchor was unproven.
    unproven_failures: u32,
    twcc_unwrap: SeqUnwrapper,
    twcc_arrivals: Vec<(u64, u64)>,
    twcc_last_us: Option<u64>,
    twcc_count: u8,
    rng: fastrand::Rng,
    /// Hub nonces given, one per recent session (the keyring holds the nonces).
    challenges: Vec<Challenge>,
    /// Recent packets and kept repairs, for FEC recovery.
    fec: FecDecoder,
    /// When the last repair packet came.
    last_repair_us: Option<u64>,
    stats: ReceiverStats,
}

impl Receiver {
    /// Creates a receiver; checks the whole config first and allocates all its memory.
    pub fn new(cfg: ReceiverConfig) -> Result<Self> {
        cfg.validate()?;
        let mut keys = Keyring::new(cfg.suite, &cfg.stream_id, cfg.key_overlap_ms as u64 * 1000);
        keys.insert(cfg.key_epoch, &cfg.base_secret)?;
        keys.accept_one_way(cfg.one_way);
        let seed = match cfg.rng_seed {
            Some(s) => s,
            None => {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b)
                    .map_err(|e| Error::Unsupported(format!("no operating-system randomness: {e}")))?;
                u64::from_le_bytes(b)
            }
        };
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
            newest_epoch: None,
            session: None,
            session_frame_us: None,
            session_captured_us: None,
            session_lag_us: 0,
            retired_sessions: VecDeque::with_capacity(RETIRED_SESSIONS),
            resynced_for: None,
            released: 0,
            need_keyframe: true,
            pli_wanted: false,
            last_pli_us: None,
            last_progress_us: None,
            refused_since_progress: 0,
            anchor_proven: false,
            unproven_failures: 0,
            twcc_unwrap: SeqUnwrapper::default(),
            twcc_arrivals: Vec::with_capacity(TWCC_MAX_PENDING),
            twcc_last_us: None,
            twcc_count: 0,
            rng: fastrand::Rng::with_seed(seed),
            challenges: Vec::with_capacity(HUB_NONCE_SESSIONS),
            fec: FecDecoder::new(cfg.max_packet_bytes),
            last_repair_us: None,
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
        self.keys.epochs()
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

    /// Installs the key of a later epoch (a rekey), derived from this stream's base secret or
    /// from `new_base_secret`. Epochs only move forward: an epoch not after every installed
    /// one is refused. Frames under older epochs keep opening for `key_overlap_ms` from the
    /// next time input on, whether or not a frame under the new one arrives; then their keys
    /// are destroyed, so the camera must switch within the overlap. Refused, changing
    /// nothing, while eight epochs are still accepted.
    pub fn install_key(&mut self, epoch: u64, new_base_secret: Option<&[u8]>) -> Result<()> {
        let secret = new_base_secret.unwrap_or(&self.cfg.base_secret);
        self.keys.insert(epoch, secret)
    }

    // ---- handle_* ----

    /// Handles one RTP datagram. A dropped packet is counted and its reason returned.
    pub fn handle_packet(&mut self, now_us: u64, datagram: &[u8]) -> std::result::Result<(), DropReason> {
        self.stats.packets_received += 1;
        let (accepted_before, repairs_before) = (self.stats.packets_accepted, self.stats.repair_packets_received);
        let r = self.handle_packet_inner(now_us, datagram, false);
        if self.fec.has_pending() && r.is_ok() {
            // Only repairs' own faults are errors there, and none is passed.
            let _ = self.recover(now_us, None);
        }
        if self.stats.packets_accepted == accepted_before && self.stats.repair_packets_received == repairs_before {
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

    /// Media packets rebuilt from FEC: from the repair `datagram`, or (`None`) from kept
    /// repairs that a newly arrived packet completed. Each goes through the packet path
    /// as if received, but its transport-wide arrival is not reported (the network lost it).
    fn recover(&mut self, now_us: u64, datagram: Option<&[u8]>) -> std::result::Result<(), (DropReason, u64)> {
        let mut rebuilt: Vec<Vec<u8>> = Vec::new();
        let ssrc = self.cfg.ssrc;
        match datagram {
            Some(d) => {
                self.fec.on_repair(d, ssrc, |p| rebuilt.push(p.to_vec())).map_err(|_| (DropReason::Malformed, 1))?;
                self.stats.repair_packets_received += 1;
            }
            None => self.fec.retry(ssrc, |p| rebuilt.push(p.to_vec())),
        }
        for p in rebuilt {
            // Reported lost to congestion control, as it was; its own refusal (a copy that
            // came meanwhile) is not the repair's.
            if self.handle_packet_inner(now_us, &p, true).is_ok() {
                self.stats.packets_recovered += 1;
                self.playout.on_recovered(now_us);
            }
        }
        Ok(())
    }

    fn handle_packet_inner(
        &mut self,
        now_us: u64,
        datagram: &[u8],
        recovered: bool,
    ) -> std::result::Result<(), (DropReason, u64)> {
        self.last_progress_us.get_or_insert(now_us);
        let p = RtpView::parse(datagram).map_err(|_| (DropReason::Malformed, 1))?;
        let repair = !recovered
            && p.payload_type == self.cfg.fec_payload_type
            && fec::protected_ssrc(datagram) == Some(self.cfg.ssrc);
        if p.ssrc != self.cfg.ssrc && !repair {
            return Err((DropReason::UnknownStream, 1));
        }
        if p.payload_type != self.cfg.payload_type && !repair {
            return Err((DropReason::Malformed, 1));
        }
        if p.payload.first().is_some_and(|d| d & packet::DESC_HELLO != 0) && !repair {
            return self.on_hello(now_us, p.payload).map_err(|r| (r, 1));
        }
        // Every packet of this stream that reached the hub counts for congestion control,
        // whatever becomes of it below (a packet rebuilt from FEC did not reach it).
        let mut overtaken = None;
        if let Some(tw) = p.twcc_seq.filter(|_| !recovered) {
            let ext = self.twcc_unwrap.peek(tw);
            overtaken = Some(self.twcc_unwrap.last().is_some_and(|l| ext < l));
            self.twcc_unwrap.advance(ext);
            if self.twcc_arrivals.len() < TWCC_MAX_PENDING {
                self.twcc_arrivals.push((ext, now_us));
            }
        }
        if repair {
            self.last_repair_us = Some(now_us);
            return self.recover(now_us, Some(datagram));
        }
        let fec_on = self.last_repair_us.is_some_and(|t| now_us < t + fec::FEC_ACTIVE_US);
        self.nack.fec_wait_us = if fec_on { fec::FEC_NACK_WAIT_US } else { 0 };
        self.fec.on_media(datagram);
        if let Some(kid) = start_kid(&p) {
            let s = seal::kid_session(kid);
            let unproven = self.challenges.iter().find(|c| c.session == s).is_none_or(|c| c.fresh.is_none());
            if !self.cfg.one_way && unproven && !self.retired_sessions.contains(&s) {
                // A session with no frame under this hub's nonce yet (a camera that
                // restarted, or this hub did): its frames cannot open until it seals under
                // the nonce, which is sent (again).
                self.challenge(now_us, kid);
            }
            if self.new_session(now_us, s) {
                self.resync(now_us);
                self.resynced_for = Some(s);
            }
        }
        let mut highest = self.reasm.highest();
        let mut ext = self.reasm.unwrap_seq(p.seq);
        let mut attempt = self.reasm.insert(now_us, &p);
        if matches!(attempt, Err(Refusal::OutOfWindow | Refusal::TooLate))
            && !self.anchor_proven
            && self.unproven_failures > 0
        {
            // The ring is anchored on packets no frame has authenticated from, and whose
            // frames failed (forged, or another stream's relabelled): anchor on this one.
            self.resync(now_us);
            highest = self.reasm.highest();
            ext = self.reasm.unwrap_seq(p.seq);
            attempt = self.reasm.insert(now_us, &p);
        }
        let (ext, inserted) = attempt.map_err(|r| {
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
        if !recovered {
            self.stats.packets_accepted += 1;
        }
        if recovered {
            self.nack.on_recovered(ext, highest, now_us);
        } else if self.nack.on_packet(ext, highest, now_us, overtaken) {
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
        let header = match opened {
            Ok(h) => h,
            Err(e) => {
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
                if !self.anchor_proven {
                    self.unproven_failures += 1;
                }
                return Err((reason, packets));
            }
        };
        self.follow_session(now_us, header.kid).map_err(|r| (r, packets))?;
        let held_session = self.held_back(now_us, header.kid, span.first_arrived_us);
        self.stats.frames_authenticated += 1;
        self.reasm.confirm(span.last);
        let nack = &mut self.nack;
        self.reasm.stale_held(span.first, now_us, STALE_HELD_US, |e| nack.readd(e, now_us));
        self.last_progress_us = Some(now_us);
        self.refused_since_progress = 0;
        self.anchor_proven = true;
        self.unproven_failures = 0;
        let (info, _) = FrameInfo::decode(&self.plain).map_err(|_| (DropReason::Malformed, packets))?;
        if info.codec != self.cfg.codec {
            return Err((DropReason::Malformed, packets));
        }
        if let Some(lag) = self.playout.lateness_us(now_us, info.capture_time_us) {
            let captured = now_us.saturating_sub(lag);
            if self.session_captured_us.is_none_or(|c| captured > c) {
                self.session_captured_us = Some(captured);
                self.session_lag_us = lag;
            }
        } else {
            self.session_captured_us.get_or_insert(now_us);
        }
        let newest = self.order_by_epoch(header.kid, &info).map_err(|r| (r, packets))?;
        self.accept_frame(now_us, info, span.timestamp, packets, newest, held_session)?;
        Ok(())
    }

    /// A hello: one session's KID and the id of its request for a hub nonce. A new request
    /// from a session that has sent no frame under its nonce yet gets a fresh nonce (its
    /// camera let the old one age unused); a repeat gets the same one.
    fn on_hello(&mut self, now_us: u64, payload: &[u8]) -> std::result::Result<(), DropReason> {
        let (kid, id) = match payload {
            [d, body @ ..] if *d == packet::DESC_HELLO && body.len() == 16 => {
                let word = |i: usize| u64::from_be_bytes(body[i..i + 8].try_into().expect("8 bytes"));
                (word(0), word(8))
            }
            _ => return Err(DropReason::Malformed),
        };
        self.stats.hellos_received += 1;
        if self.cfg.one_way {
            return Ok(());
        }
        if self.retired_sessions.contains(&seal::kid_session(kid)) {
            return Err(DropReason::OtherSession);
        }
        let session = seal::kid_session(kid);
        let renew = self
            .challenges
            .iter()
            .find(|c| c.session == session)
            .is_some_and(|c| c.fresh.is_none() && c.hello_id.is_some_and(|h| h != id));
        if renew {
            self.give_nonce(session, kid);
        } else {
            self.challenge(now_us, kid);
        }
        if let Some(c) = self.challenges.iter_mut().find(|c| c.session == session) {
            c.hello_us.get_or_insert(now_us);
            c.hello_id = Some(id);
        }
        self.stats.packets_accepted += 1;
        Ok(())
    }

    /// Gives the session of `kid` a hub nonce (a fresh one if it has none) and schedules the
    /// message carrying it, at most every [`CHALLENGE_INTERVAL_US`]. The oldest other session
    /// than the stream's makes room.
    fn challenge(&mut self, now_us: u64, kid: u64) {
        let session = seal::kid_session(kid);
        if let Some(c) = self.challenges.iter_mut().find(|c| c.session == session) {
            c.kid = kid;
            c.due |= c.last_sent().is_none_or(|t| now_us >= t + CHALLENGE_INTERVAL_US);
            return;
        }
        if self.challenges.len() == HUB_NONCE_SESSIONS {
            let followed = self.session;
            let evict = self.challenges.iter().position(|c| Some(c.session) != followed).unwrap_or(0);
            self.challenges.remove(evict);
        }
        self.give_nonce(session, kid);
    }

    fn give_nonce(&mut self, session: u64, kid: u64) {
        let mut nonce: HubNonce = [0; seal::HUB_NONCE_BYTES];
        self.rng.fill(&mut nonce);
        self.keys.give_hub_nonce(session, nonce);
        self.challenges.retain(|c| c.session != session);
        self.challenges.push(Challenge {
            session,
            kid,
            sent_us: [0; SENDS_KEPT],
            sends: 0,
            first_sent_us: None,
            due: true,
            fresh: None,
            hello_us: None,
            hello_id: None,
        });
    }

    /// Whether the session of `kid` may have been held back: the first packet of its first
    /// frame under the hub nonce arrived more than [`FIRST_PACKET_WITHIN_US`] after every
    /// message carrying the nonce that went out before it. Then every frame under that nonce
    /// is stale, and a fresh nonce is given (at most every [`RECHALLENGE_US`]) so the camera
    /// can prove itself live again.
    fn held_back(&mut self, now_us: u64, kid: u64, first_arrived_us: u64) -> bool {
        let session = seal::kid_session(kid);
        let Some(c) = self.challenges.iter_mut().find(|c| c.session == session) else {
            return false;
        };
        let sent = &c.sent_us[..c.sends.min(SENDS_KEPT)];
        let first = c.fresh.is_none();
        let fresh = *c.fresh.get_or_insert(
            sent.iter().any(|&t| t < first_arrived_us && first_arrived_us - t <= FIRST_PACKET_WITHIN_US),
        );
        // A first round trip, before any repair measures one: from the first message carrying
        // the nonce to the first packet under it (an upper bound: the camera answers the
        // first message it gets, and later ones are repeats of it).
        if let (true, true, Some(t)) = (first, fresh, c.first_sent_us.filter(|&t| t < first_arrived_us)) {
            self.nack.seed_rtt(first_arrived_us - t);
        }
        if !fresh && c.last_sent().is_none_or(|t| now_us >= t + RECHALLENGE_US) {
            self.give_nonce(session, kid);
        }
        !fresh
    }

    /// Keeps a frame under an older key epoch from moving what frames under the newer one
    /// depend on. Once a frame of a newer epoch has authenticated, an older epoch's frame is
    /// output only if it was sealed before the switch (a lower frame id), and it teaches the
    /// playout nothing. Frame-id state that older-epoch frames set beyond the first frame of
    /// a newer epoch (a retired key's holder sending a huge frame id during the overlap) is
    /// undone: output resumes at the next keyframe, asked for by PLI. Returns whether the
    /// frame is of the newest epoch.
    fn order_by_epoch(&mut self, kid: u64, info: &FrameInfo) -> std::result::Result<bool, DropReason> {
        match self.newest_epoch {
            Some((newest, first_id)) if kid < newest => {
                if info.frame_id >= first_id {
                    return Err(DropReason::TooLate);
                }
                Ok(false)
            }
            Some((newest, _)) if kid == newest => Ok(true),
            _ => {
                self.newest_epoch = Some((kid, info.frame_id));
                if self.last_output.is_some_and(|l| l >= info.frame_id) {
                    self.restart_ordering();
                }
                Ok(true)
            }
        }
    }

    fn accept_frame(
        &mut self,
        now_us: u64,
        info: FrameInfo,
        rtp_timestamp: u32,
        packets: u64,
        teaches_playout: bool,
        held_session: bool,
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
        b.teaches_playout = teaches_playout;
        b.held_session = held_session;
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
            let late = if self.bufs[i].teaches_playout {
                self.playout.set_path_rtt(self.nack.path_rtt_us());
                self.bufs[i].render_us = self.playout.render_at(now_us, info.capture_time_us, self.nack.rtt_us());
                // The hold that follows the path's round trip (at most 2 s): a frame repaired
                // once on a long path is as late as the path explains, not held back.
                let bound = self.cfg.max_frame_age_ms as u64 * 1000 + self.playout.max_hold();
                self.playout.last_lateness_us() > bound
            } else {
                self.bufs[i].render_us = self.playout.render_untaught(now_us);
                false
            };
            self.bufs[i].stale = late || self.bufs[i].held_session;
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

    /// Forgets the packet state and resynchronises on what arrives next.
    fn resync(&mut self, now_us: u64) {
        self.reasm.reset();
        self.nack.forget_before(u64::MAX);
        self.stats.resyncs += 1;
        self.last_progress_us = Some(now_us);
        self.refused_since_progress = 0;
        self.anchor_proven = false;
        self.unproven_failures = 0;
        self.break_chain();
    }

    /// Whether the sender session `s` that starts a frame may replace the stream's:
    /// not one retired, while the stream's own has been silent for [`SESSION_IDLE_US`] (a
    /// camera that restarted). Its sequence numbers start anywhere, so the packet state is
    /// reset for it once; the new session is followed only when one of its frames
    /// authenticates.
    fn new_session(&self, now_us: u64, s: u64) -> bool {
        let Some(current) = self.session else { return false };
        s != current && self.resynced_for != Some(s) && !self.retired_sessions.contains(&s) && self.silent(now_us, s)
    }

    /// Whether the stream's session may be replaced by `s`: it has been silent for
    /// [`SESSION_IDLE_US`], or `s` said hello and none of the stream's frames captured after
    /// that hello arrived within the stream's lag plus [`HELLO_WAIT_US`] (a camera that
    /// restarted, whose last frames are still draining from a queue on the path).
    fn silent(&self, now_us: u64, s: u64) -> bool {
        let idle = self.session_frame_us.is_none_or(|t| now_us.saturating_sub(t) >= SESSION_IDLE_US);
        let hello = self.challenges.iter().find(|c| c.session == s).and_then(|c| c.hello_us);
        let restarted = hello.is_some_and(|h| {
            self.session_captured_us.is_some_and(|cap| cap < h) && now_us >= h + self.session_lag_us + HELLO_WAIT_US
        });
        idle || restarted
    }

    /// Follows the sender session of a frame that authenticated: the first one seen, or one
    /// that replaces a silent session. Refuses a retired session, and a second session while
    /// the stream's is live.
    fn follow_session(&mut self, now_us: u64, kid: u64) -> std::result::Result<(), DropReason> {
        let s = seal::kid_session(kid);
        if self.session == Some(s) {
            self.session_frame_us = Some(now_us);
            return Ok(());
        }
        if self.retired_sessions.contains(&s) || (self.session.is_some() && !self.silent(now_us, s)) {
            return Err(DropReason::OtherSession);
        }
        if let Some(old) = self.session.replace(s) {
            if self.retired_sessions.len() == RETIRED_SESSIONS {
                self.retired_sessions.pop_front();
            }
            self.retired_sessions.push_back(old);
            // The new session's frame ids, clock and key epochs start over.
            self.restart_ordering();
            self.newest_epoch = None;
            self.playout = Playout::new(self.cfg.max_playout_hold_ms as u64 * 1000);
            self.session_captured_us = None;
            self.session_lag_us = 0;
            self.stats.session_switches += 1;
        }
        self.keys.adopt(s);
        self.session_frame_us = Some(now_us);
        self.resynced_for = None;
        Ok(())
    }

    /// Forgets the frame-id order: output resumes at the next keyframe (asked for by PLI).
    fn restart_ordering(&mut self) {
        self.break_chain();
        self.last_output = None;
        self.released = 0;
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
            self.resync(now_us);
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
        if b.stale {
            self.stats.frames_stale += 1;
        }
        let info = b.info.expect("ready frames carry info");
        Some((
            &self.cfg.stream_id,
            ReceivedFrame {
                info,
                rtp_timestamp: b.rtp_timestamp,
                data: &b.data,
                render_at_us: b.render_us,
                stale: b.stale,
            },
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
        for c in self.challenges.iter_mut().filter(|c| c.due) {
            let (Some(nonce), ssrc) = (self.keys.hub_nonce(c.session), self.cfg.ssrc) else { continue };
            let Some(mac) = self.keys.hub_nonce_mac(ssrc, c.kid, nonce) else { continue };
            rtcp::write_hub_nonce(self.cfg.feedback_ssrc, ssrc, c.kid, nonce, &mac, &mut self.feedback);
            c.due = false;
            c.sent_us[c.sends % SENDS_KEPT] = now_us;
            c.sends += 1;
            c.first_sent_us.get_or_insert(now_us);
            self.stats.hub_nonces_sent += 1;
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
        let challenge = self.challenges.iter().any(|c| c.due).then_some(0);
        [wait, pli, self.nack.next_due_us(), self.keys.next_expiry_us(), resync, twcc, challenge]
            .into_iter()
            .flatten()
            .min()
    }
}
