//! The camera side: composes kernels -> codec -> seal -> rtp -> pacer. Sans-IO: the caller
//! pushes capture frames, drains packets with `poll_transmit`, feeds RTCP back with
//! `handle_feedback`, and sleeps until `poll_timeout`.
//!
//! Guarantees: every packet carries one fragment of one SFrame sealed under this stream's
//! key, with this stream's identity, SSRC and RTP timestamp in its authenticated data.
//! Buffers (I420, bitstream, sealed frame, packet history) are reused: after warm-up,
//! steady-state streaming does not allocate per frame. The send queue is bounded in time:
//! when it would exceed `max_queue_delay_ms` at the pacing rate, new frames are dropped
//! before encoding (so no reference chain breaks).
//!
//! With `adaptive_bitrate` on, transport-wide feedback drives a [`RateController`]: its
//! target sets the encoder's bitrate, the pacing rate, the congestion window (when the
//! bytes in flight fill it, nothing more is sent and new frames are dropped before
//! encoding) and the resolution [`Ladder`]; its probe clusters are sent at their rate,
//! padded with copies of recent packets (the hub counts them as duplicates).

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::abr::controller::COLLAPSE_RATIO;
use crate::abr::ladder::Ladder;
use crate::abr::pacer::{Pacer, DEFAULT_PACING_FACTOR};
use crate::abr::probe::ProbeCluster;
use crate::abr::{AbrConfig, AbrState, RateController};
use crate::codec::av1::{Av1Encoder, Av1Settings};
use crate::codec::h264::{H264Encoder, H264Settings};
use crate::codec::{Codec, RateSettings, VideoEncoder};
use crate::error::{invalid, Error, Result};
use crate::frame::{CaptureFrame, ColorMatrix, I420Buffer};
use crate::kernels;
use crate::rtp::fec::{self, FecEncoder};
use crate::rtp::{self, packet, rtcp, twcc, PacketFields};
use crate::seal::{self, CipherSuite, FrameInfo, SealKey};

/// Sender settings. Build with [`SenderConfig::new`] and change fields as needed.
#[derive(Clone)]
#[non_exhaustive]
pub struct SenderConfig {
    /// The stream's identity (1 to 255 bytes), e.g. a device id. Bound into every frame.
    pub stream_id: Vec<u8>,
    /// RTP SSRC of the stream.
    pub ssrc: u32,
    /// Secret shared with the hub (at least 16 bytes); per-stream keys derive from it.
    pub base_secret: Zeroizing<Vec<u8>>,
    /// Key epoch, 0 to 65535 (the low 16 bits of the SFrame KID; epochs only move forward).
    pub key_epoch: u64,
    /// SFrame cipher suite.
    pub suite: CipherSuite,
    /// Video codec.
    pub codec: Codec,
    /// Nominal frame rate.
    pub framerate_fps: f32,
    /// Target bitrate.
    pub bitrate_bps: u32,
    /// Path MTU in bytes (IP packet size); RTP packets are sized to fit.
    pub mtu_bytes: usize,
    /// RTP payload type.
    pub payload_type: u8,
    /// Send FlexFEC repair packets (RFC 8627) where the path needs them: with
    /// `adaptive_bitrate`, a path round trip of 150 ms or more and background loss of 0.5 %
    /// or more ([`crate::rtp::fec::group_size`]); their share comes out of the encoder's
    /// bitrate. On by default; off on a short or clean path whatever this says.
    pub fec: bool,
    /// RTP payload type of the repair packets (the hub's `fec_payload_type`).
    pub fec_payload_type: u8,
    /// SSRC of the repair stream (its CSRC names the media SSRC).
    pub fec_ssrc: u32,
    /// Pacing rate as a multiple of the target bitrate.
    pub pacing_factor: f32,
    /// Longest the send queue may grow, in milliseconds at the pacing rate.
    pub max_queue_delay_ms: u32,
    /// Packets kept for retransmission (and queueing).
    pub history_packets: usize,
    /// Oldest packet that is still retransmitted on NACK, in milliseconds since first send.
    pub max_retransmit_age_ms: u32,
    /// Periodic keyframe interval in frames (0 = only on request).
    pub keyframe_interval_frames: u32,
    /// Least time between two keyframes sent in answer to PLI.
    pub min_keyframe_interval_ms: u32,
    /// Encoder threads.
    pub encoder_threads: u16,
    /// Temporal layers (1 = none, 2 = L1T2, 3 = L1T3): a hub that loses a top-layer frame
    /// keeps showing the base layer.
    pub temporal_layers: u8,
    /// Matrix for RGB capture formats.
    pub color_matrix: ColorMatrix,
    /// Encode at this size instead of the capture size (a rung of the resolution ladder):
    /// exact halves use the 2x2 box kernel, other sizes bilinear scaling. With
    /// `resolution_ladder` on, the ladder sets it.
    pub encode_size: Option<(u32, u32)>,
    /// Adapt the bitrate to the path from transport-wide feedback (the hub sends it).
    /// Off: `bitrate_bps` holds until [`Sender::set_target_bitrate`].
    pub adaptive_bitrate: bool,
    /// Floor of the adaptive bitrate.
    pub min_bitrate_bps: u32,
    /// Ceiling of the adaptive bitrate (and the start rate's upper bound).
    pub max_bitrate_bps: u32,
    /// With `adaptive_bitrate`: lower the encode size and then the frame rate when the
    /// target leaves too few bits per pixel ([`crate::abr::ladder`]).
    pub resolution_ladder: bool,
    /// Convert capture frames in two row bands on rayon's pool where that pays on a 2-core
    /// board ([`kernels::bands_that_pay`]: RGB from 640x480, YUYV/UYVY at 1080p). Off by
    /// default: then the Sender starts no thread of its own.
    pub parallel_conversion: bool,
    /// Seeds the session's random values (the session in every KID, the initial RTP
    /// sequence number and timestamp offset), for deterministic tests and the emulator; never
    /// in production, where a fixed seed would repeat sessions across restarts. `None` (the default): the operating
    /// system's randomness, as RFC 3550 asks of every new session.
    pub rng_seed: Option<u64>,
    /// Send media without waiting for the hub's nonce (a one-way path, such as a recording
    /// relay with no feedback). The hub must accept one-way streams, and then cannot tell a
    /// recording of an earlier session replayed to it after a restart from a live stream.
    /// Off (the default): the sender asks for a hub nonce with a hello every 100 ms, sends
    /// media only once a nonce whose MAC verifies has come back, and seals under it.
    pub one_way: bool,
}

/// Refuses adaptive bitrate bounds that are empty or outside what the encoders accept.
fn check_bounds(min_bps: u32, max_bps: u32) -> Result<()> {
    crate::codec::check_bitrate(min_bps)?;
    crate::codec::check_bitrate(max_bps)?;
    if min_bps > max_bps {
        return Err(invalid!("bitrate bounds {min_bps}..{max_bps} bit/s are empty"));
    }
    Ok(())
}

impl SenderConfig {
    /// Defaults: AES-128-GCM, H.264, 30 fps, 1 Mbit/s, 1200-byte MTU, pacing 2.5x.
    pub fn new(stream_id: &[u8], ssrc: u32, base_secret: &[u8]) -> Self {
        SenderConfig {
            stream_id: stream_id.to_vec(),
            ssrc,
            base_secret: Zeroizing::new(base_secret.to_vec()),
            key_epoch: 0,
            suite: CipherSuite::AesGcm128Sha256,
            codec: Codec::H264,
            framerate_fps: 30.0,
            bitrate_bps: 1_000_000,
            mtu_bytes: 1200,
            payload_type: 96,
            fec: true,
            fec_payload_type: 97,
            fec_ssrc: ssrc ^ 0x0fec_0fec,
            pacing_factor: DEFAULT_PACING_FACTOR,
            max_queue_delay_ms: 500,
            history_packets: 2048,
            max_retransmit_age_ms: 1000,
            keyframe_interval_frames: 0,
            min_keyframe_interval_ms: 300,
            encoder_threads: 1,
            temporal_layers: 1,
            color_matrix: ColorMatrix::Bt601,
            encode_size: None,
            adaptive_bitrate: false,
            min_bitrate_bps: 50_000,
            max_bitrate_bps: 2_500_000,
            resolution_ladder: true,
            parallel_conversion: false,
            rng_seed: None,
            one_way: false,
        }
    }

    fn validate(&self) -> Result<()> {
        seal::check_stream_id(&self.stream_id)?;
        if self.mtu_bytes < rtp::MIN_MTU_BYTES || self.mtu_bytes > 9000 {
            return Err(invalid!("MTU {} is outside {} to 9000 bytes", self.mtu_bytes, rtp::MIN_MTU_BYTES));
        }
        if self.payload_type > 127 || self.fec_payload_type > 127 || self.fec_payload_type == self.payload_type {
            return Err(invalid!(
                "payload types {} (media) and {} (FEC) must differ and be at most 127",
                self.payload_type,
                self.fec_payload_type
            ));
        }
        if self.fec_ssrc == self.ssrc {
            return Err(invalid!("the FEC SSRC must differ from the media SSRC {}", self.ssrc));
        }
        if !(self.pacing_factor >= 1.0 && self.pacing_factor <= 10.0) {
            return Err(invalid!("pacing factor {} is outside 1 to 10", self.pacing_factor));
        }
        if !(64..=65536).contains(&self.history_packets) {
            return Err(invalid!("history of {} packets is outside 64 to 65536", self.history_packets));
        }
        if self.max_queue_delay_ms == 0 {
            return Err(invalid!("max queue delay must be positive"));
        }
        crate::codec::check_bitrate(self.bitrate_bps)?;
        if self.adaptive_bitrate {
            check_bounds(self.min_bitrate_bps, self.max_bitrate_bps)?;
        }
        Ok(())
    }
}

/// What transport-wide feedback said about one packet the sender sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketResult {
    /// Transport-wide sequence number.
    pub twcc_seq: u16,
    /// When the packet left (`poll_transmit` time).
    pub sent_us: u64,
    /// Its size in bytes.
    pub size: u16,
    /// When it reached the hub, on the hub's clock; `None` if reported lost.
    pub arrival_us: Option<i64>,
}

/// Background (non-congestive) loss above which retransmissions are sent twice.
const REDUNDANT_RTX_LOSS: f64 = 0.01;

/// 64 bits from the operating system's randomness.
fn os_random_u64() -> Result<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| Error::Unsupported(format!("no operating-system randomness: {e}")))?;
    Ok(u64::from_le_bytes(b))
}

/// The first extended sequence number is above 2^16, so counting back never underflows.
const EXT_SEQ_START: u64 = 1 << 16;

/// The extended sequence number of the newest packet sent whose low 16 bits are `seq`
/// (RFC 3550 appendix A.1's extension, against the newest sent): what a NACK names.
fn extend_seq(newest: u64, seq: u16) -> u64 {
    newest - (newest as u16).wrapping_sub(seq) as u64
}

/// Packets whose send time is remembered for matching transport-wide feedback.
const TWCC_HISTORY: usize = 4096;

/// Interval between hellos while the sender waits for a hub nonce (a tenth of the 1 s a
/// restarted camera has to be shown again).
const HELLO_INTERVAL_US: u64 = 100_000;
/// Hub nonces a sender remembers having used, never to use again.
const USED_HUB_NONCES: usize = 64;
/// A hub nonce not used for any frame this long after it came is given back, and a fresh
/// one asked for: the hub judges a session's first packet by the nonce's age (a camera that
/// connects and streams later, such as on motion, costs one round trip then).
const UNUSED_NONCE_US: u64 = 1_000_000;

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameOutcome {
    /// Encoded, sealed and queued as packets.
    Queued {
        /// The frame id sealed with it.
        frame_id: u64,
        /// Whether it is a keyframe.
        keyframe: bool,
        /// Bytes of the encoded bitstream.
        encoded_bytes: usize,
        /// Packets queued.
        packets: usize,
    },
    /// Dropped before encoding because the send queue or the congestion window is full.
    DroppedQueueFull,
    /// Dropped before encoding because the ladder lowered the frame rate.
    DroppedFrameRate,
    /// The encoder produced nothing for it.
    Skipped,
    /// Not encoded: no hub has given this session its nonce yet (hellos are going out).
    AwaitingHub,
}

/// Counters since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SenderStats {
    /// Frames given to `push_frame` that passed validation.
    pub frames_pushed: u64,
    /// Frames encoded and queued.
    pub frames_sent: u64,
    /// Frames dropped because the queue was full.
    pub frames_dropped: u64,
    /// Keyframes queued.
    pub keyframes: u64,
    /// Packets sent for the first time.
    pub packets_sent: u64,
    /// Packets retransmitted on NACK.
    pub packets_retransmitted: u64,
    /// Bytes handed to `poll_transmit` callers (RTP packets, both kinds).
    pub bytes_sent: u64,
    /// NACKed sequence numbers received.
    pub nacks_received: u64,
    /// PLIs received.
    pub plis_received: u64,
    /// PLIs not answered with another keyframe because they left the hub before the newest
    /// keyframe could reach it (it was still queued here, or sent less than a round trip ago).
    pub plis_superseded: u64,
    /// RTCP datagrams that did not parse.
    pub malformed_feedback: u64,
    /// Transport-wide feedback messages received.
    pub transport_feedback: u64,
    /// Probe padding packets sent (copies of recent packets).
    pub probe_padding_packets: u64,
    /// Frames dropped because the congestion window was full.
    pub frames_dropped_congestion: u64,
    /// Retransmissions refused because the packet was older than the last keyframe or
    /// the retransmission age limit.
    pub nacks_too_old: u64,
    /// Resolution or frame-rate switches made by the ladder.
    pub ladder_switches: u64,
    /// Times the target fell below half the rate in use at once: the unsent queue was
    /// dropped and a keyframe sent at the new rate.
    pub collapses: u64,
    /// Hellos sent while waiting for a hub nonce.
    pub hellos_sent: u64,
    /// Hub nonces taken (the first, and one after every hub restart).
    pub hub_nonces_accepted: u64,
    /// Hub nonce messages refused: a MAC that did not verify, another session's KID, or a
    /// nonce used before.
    pub hub_nonces_refused: u64,
    /// Frames not encoded because no hub nonce had come yet.
    pub frames_awaiting_hub: u64,
    /// FEC repair packets sent (also in `bytes_sent`).
    pub repair_packets_sent: u64,
}

/// One sent packet, remembered for matching transport-wide feedback.
#[derive(Debug, Clone, Copy)]
struct SentRecord {
    seq: u16,
    sent_us: u64,
    size: u16,
    cluster: u16,
    cumulative: u64,
}

/// A probe cluster being sent.
#[derive(Debug, Clone, Copy)]
struct ActiveProbe {
    cluster: ProbeCluster,
    bytes: usize,
    packets: u32,
    /// Next history sequence number (going back) to copy as padding.
    pad_seq: u64,
    pad_tries: u32,
}

#[derive(Debug, Default)]
struct HistorySlot {
    /// Extended (64-bit) sequence number of the packet held; its low 16 bits are the RTP one.
    seq: u64,
    in_use: bool,
    first_sent_us: Option<u64>,
    data: Vec<u8>,
}

/// The camera-side pipeline for one stream.
pub struct Sender {
    cfg: SenderConfig,
    encoder: Box<dyn VideoEncoder>,
    key: SealKey,
    pacer: Pacer,
    i420: I420Buffer,
    scaled: I420Buffer,
    bitstream: Vec<u8>,
    plaintext: Vec<u8>,
    sealed: Vec<u8>,
    metadata: Vec<u8>,
    history: Vec<HistorySlot>,
    queue: VecDeque<u64>,
    /// Retransmissions waiting: sequence number and copies still to send.
    rtx_queue: VecDeque<(u64, u8)>,
    queued_bytes: usize,
    /// Extended sequence number of the next new packet (the RTP one is its low 16 bits).
    next_seq: u64,
    /// Random offset of this session's RTP timestamps (RFC 3550 section 5.1).
    rtp_ts_offset: u32,
    next_twcc: u16,
    next_frame_id: u64,
    keyframe_requested: bool,
    last_keyframe_us: Option<u64>,
    /// Recent packets, indexed by transport-wide sequence number.
    twcc_sent: Vec<SentRecord>,
    results: VecDeque<PacketResult>,
    stats: SenderStats,
    abr: Option<RateController>,
    ladder: Option<Ladder>,
    probe: Option<ActiveProbe>,
    bytes_cumulative: u64,
    /// Sequence number of the first packet of the newest keyframe queued.
    keyframe_seq: Option<u64>,
    /// Sequence number of the last packet of the newest keyframe queued (when it left is
    /// its history slot's `first_sent_us`).
    keyframe_end_seq: Option<u64>,
    /// The controller's path estimate at the last feedback (collapse detection).
    last_estimate_bps: u32,
    /// The nonce the hub gave this session, which every frame is sealed under.
    hub_nonce: Option<seal::HubNonce>,
    /// Hub nonces used in this life, newest last.
    used_nonces: VecDeque<seal::HubNonce>,
    next_hello_us: u64,
    /// Names the current request for a nonce (hellos of one request repeat it, so the hub
    /// tells a retry from a new request).
    hello_id: u64,
    /// When the hub nonce came, and whether a frame has been queued under it.
    nonce_at_us: u64,
    nonce_used: bool,
    rng: fastrand::Rng,
    /// The open FEC group, and media packets per repair while FEC is on.
    fec: FecEncoder,
    fec_group: Option<usize>,
    /// A repair packet waiting to go (sent before anything else), when not empty.
    fec_packet: Vec<u8>,
}

impl Sender {
    /// Creates a sender; checks the whole config first.
    pub fn new(cfg: SenderConfig) -> Result<Self> {
        cfg.validate()?;
        let rates = RateSettings { bitrate_bps: cfg.bitrate_bps, framerate_fps: cfg.framerate_fps };
        let mut rng = fastrand::Rng::with_seed(match cfg.rng_seed {
            Some(seed) => seed,
            None => os_random_u64()?,
        });
        let mut encoder: Box<dyn VideoEncoder> = match cfg.codec {
            Codec::H264 => Box::new(H264Encoder::new(H264Settings {
                rates,
                threads: cfg.encoder_threads,
                keyframe_interval_frames: cfg.keyframe_interval_frames,
                temporal_layers: cfg.temporal_layers,
            })?),
            Codec::Av1 => Box::new(Av1Encoder::new(Av1Settings {
                keyframe_interval_frames: cfg.keyframe_interval_frames,
                threads: cfg.encoder_threads.max(1) as usize,
                ..Av1Settings::realtime(rates)
            })?),
        };
        // This sender's session: its own keys under every epoch, so a restart never seals
        // under a (key, nonce) pair an earlier session used.
        let session = rng.u64(1..=seal::MAX_SESSION);
        // Until a hub nonce comes, a one-way key (used only with `one_way`).
        let key = SealKey::for_session(cfg.suite, &cfg.base_secret, &cfg.stream_id, cfg.key_epoch, session, None)?;
        let start_bps = if cfg.adaptive_bitrate {
            cfg.bitrate_bps.clamp(cfg.min_bitrate_bps, cfg.max_bitrate_bps)
        } else {
            cfg.bitrate_bps
        };
        let rates = RateSettings { bitrate_bps: start_bps, ..rates };
        encoder.set_rates(rates)?;
        let pacer = Pacer::new((start_bps as f64 * cfg.pacing_factor as f64) as u64);
        // Every slot holds one packet of at most the MTU: allocated once, here.
        let history = (0..cfg.history_packets)
            .map(|_| HistorySlot { data: Vec::with_capacity(cfg.mtu_bytes), ..HistorySlot::default() })
            .collect();
        Ok(Sender {
            encoder,
            key,
            pacer,
            i420: I420Buffer::default(),
            scaled: I420Buffer::default(),
            bitstream: Vec::new(),
            plaintext: Vec::new(),
            sealed: Vec::new(),
            metadata: Vec::new(),
            history,
            queue: VecDeque::with_capacity(cfg.history_packets),
            rtx_queue: VecDeque::with_capacity(cfg.history_packets),
            queued_bytes: 0,
            next_seq: EXT_SEQ_START | rng.u16(..) as u64,
            rtp_ts_offset: rng.u32(..),
            next_twcc: 0,
            next_frame_id: 0,
            keyframe_requested: true,
            last_keyframe_us: None,
            twcc_sent: vec![SentRecord { seq: 0, sent_us: u64::MAX, size: 0, cluster: 0, cumulative: 0 }; TWCC_HISTORY],
            results: VecDeque::with_capacity(TWCC_HISTORY),
            stats: SenderStats::default(),
            abr: cfg.adaptive_bitrate.then(|| {
                RateController::new(AbrConfig {
                    start_bps: cfg.bitrate_bps,
                    min_bps: cfg.min_bitrate_bps,
                    max_bps: cfg.max_bitrate_bps,
                })
            }),
            ladder: None,
            probe: None,
            bytes_cumulative: 0,
            keyframe_seq: None,
            keyframe_end_seq: None,
            last_estimate_bps: 0,
            hub_nonce: None,
            used_nonces: VecDeque::with_capacity(USED_HUB_NONCES),
            next_hello_us: 0,
            hello_id: rng.u64(..),
            nonce_at_us: 0,
            nonce_used: false,
            fec: FecEncoder::new(rng.u16(..)),
            fec_group: None,
            fec_packet: Vec::with_capacity(cfg.mtu_bytes),
            rng,
            cfg,
        })
    }

    // ---- getters ----

    /// Counters since creation.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }
    /// The config it runs with.
    pub fn config(&self) -> &SenderConfig {
        &self.cfg
    }
    /// This sender's session: random at creation, the high 48 bits of every KID it seals.
    pub fn session(&self) -> u64 {
        seal::kid_session(self.key.kid())
    }
    /// The bitstream of the last frame encoded (for recording or verification).
    pub fn last_bitstream(&self) -> &[u8] {
        &self.bitstream
    }
    /// Current target bitrate.
    pub fn target_bitrate_bps(&self) -> u32 {
        self.encoder.rates().bitrate_bps
    }
    /// Bytes waiting in the send queue.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }
    /// What the rate controller believes (`None` without `adaptive_bitrate`).
    pub fn abr_state(&self) -> Option<AbrState> {
        self.abr.as_ref().map(|a| a.state())
    }
    /// The size frames are encoded at now (`None`: the capture size).
    pub fn encode_size(&self) -> Option<(u32, u32)> {
        self.cfg.encode_size
    }

    // ---- mutators ----

    /// Sets the encoder's target bitrate (and the pacing rate with it). With
    /// `adaptive_bitrate` on, the controller overrides it at its next feedback: use
    /// [`Sender::set_bitrate_bounds`] there.
    pub fn set_target_bitrate(&mut self, bitrate_bps: u32) -> Result<()> {
        crate::codec::check_bitrate(bitrate_bps)?;
        let mut r = self.encoder.rates();
        r.bitrate_bps = bitrate_bps;
        self.encoder.set_rates(r)?;
        if self.probe.is_none() {
            self.pacer.set_rate((bitrate_bps as f64 * self.cfg.pacing_factor as f64) as u64);
        }
        Ok(())
    }

    /// Changes the adaptive bitrate's floor and ceiling at run time.
    pub fn set_bitrate_bounds(&mut self, min_bps: u32, max_bps: u32) -> Result<()> {
        check_bounds(min_bps, max_bps)?;
        self.cfg.min_bitrate_bps = min_bps;
        self.cfg.max_bitrate_bps = max_bps;
        match self.abr.as_mut() {
            Some(a) => {
                a.set_bounds(min_bps, max_bps);
                let t = a.target_bps();
                self.set_target_bitrate(t)
            }
            None => Ok(()),
        }
    }

    /// Hands the controller's target to the encoder (when it moved by more than 2 %), the
    /// pacer and the ladder.
    fn apply_target(&mut self, now_us: u64) -> Result<()> {
        let Some(abr) = self.abr.as_ref() else { return Ok(()) };
        let target = abr.target_bps();
        let estimate = abr.path_estimate_bps();
        // An outage (no feedback) says nothing about the picture size the path can afford.
        let outage = abr.in_feedback_timeout();
        let current = self.encoder.rates().bitrate_bps;
        let fec_group = abr
            .min_rtt_ms()
            .and_then(|rtt| fec::group_size(abr.background_loss(), rtt))
            .filter(|_| self.cfg.fec && !outage);
        let collapsed = (estimate as f64) < COLLAPSE_RATIO * self.last_estimate_bps as f64;
        if collapsed {
            // The path lost most of its capacity: what is queued and in flight was sized for
            // a rate it no longer has, and much of it is being dropped in the network.
            // Repairing it would take longer than starting over: drop the unsent packets
            // and send a keyframe at the new rate (earlier packets are then not repaired).
            self.drop_unsent();
            self.keyframe_requested = true;
            self.stats.collapses += 1;
        }
        self.last_estimate_bps = estimate;
        // FEC where a repair round trip is long and the path loses packets by itself; its
        // repairs come out of the encoder's share of the target.

        self.fec_group = fec_group;
        let media = match self.fec_group {
            Some(n) => (target as f64 * n as f64 / (n + 1) as f64) as u32,
            None => target,
        }
        .max(crate::codec::MIN_BITRATE_BPS);
        if (media as f64 - current as f64).abs() > 0.02 * current as f64 {
            let mut r = self.encoder.rates();
            r.bitrate_bps = media;
            self.encoder.set_rates(r)?;
            if self.probe.is_none() {
                self.pacer.set_rate((target as f64 * self.cfg.pacing_factor as f64) as u64);
            }
        }
        if let (Some(ladder), true, false) = (self.ladder.as_mut(), self.cfg.resolution_ladder, outage) {
            // The ladder follows the path estimate, not the short dips that drain a queue.
            let choice = if collapsed {
                ladder.update_collapsed(now_us, estimate as f64)
            } else {
                ladder.update(now_us, estimate as f64)
            };
            if let Some(c) = choice {
                self.stats.ladder_switches += 1;
                self.cfg.encode_size = Some((c.width, c.height));
                let mut r = self.encoder.rates();
                r.framerate_fps = self.cfg.framerate_fps / c.frame_divisor as f32;
                self.encoder.set_rates(r)?;
            }
        }
        Ok(())
    }

    /// Forgets every packet not yet sent and every retransmission waiting.
    fn drop_unsent(&mut self) {
        let n = self.history.len();
        for seq in self.queue.drain(..) {
            self.history[seq as usize % n].in_use = false;
        }
        self.queued_bytes = 0;
        self.rtx_queue.clear();
    }

    /// Whether frames wait for a hub nonce (none has come, and the stream is not one-way).
    pub fn awaiting_hub(&self) -> bool {
        self.hub_nonce.is_none() && !self.cfg.one_way
    }

    /// Takes a hub nonce message for this stream: its KID must be the one this sender seals
    /// under now (one for another KID is ignored), its MAC must verify under the current
    /// secret, and the nonce must not have been used in this life. From the next frame on, frames are sealed under it (a new key,
    /// its counter still moving forward), the first a keyframe; what was queued under the
    /// previous nonce is dropped, since the hub that chose the new one cannot open it.
    fn take_hub_nonce(&mut self, now_us: u64, kid: u64, nonce: &seal::HubNonce, mac: &[u8]) -> Result<()> {
        if kid != self.key.kid() {
            // For another session (an earlier life, or KIDs an attacker made up): not ours.
            self.stats.hub_nonces_refused += 1;
            return Ok(());
        }
        let expected = seal::hub_nonce_mac(&self.cfg.base_secret, &self.cfg.stream_id, self.cfg.ssrc, kid, nonce)?;
        if !seal::mac_eq(&expected, mac) {
            self.stats.hub_nonces_refused += 1;
            return Err(Error::AuthenticationFailed);
        }
        if self.hub_nonce.as_ref() == Some(nonce) || self.cfg.one_way {
            return Ok(()); // a repeat of the nonce in use
        }
        if self.used_nonces.contains(nonce) {
            self.stats.hub_nonces_refused += 1;
            return Err(Error::Replay);
        }
        let epoch = seal::kid_epoch(kid);
        let key = SealKey::for_session(
            self.cfg.suite,
            &self.cfg.base_secret,
            &self.cfg.stream_id,
            epoch,
            self.session(),
            Some(nonce),
        )?;
        // A nonce given twice in one life (beyond the remembered ones) still never repeats a
        // (key, nonce) pair: the counter continues.
        self.key = key.starting_at(self.key.next_counter());
        if self.used_nonces.len() == USED_HUB_NONCES {
            self.used_nonces.pop_front();
        }
        self.used_nonces.push_back(*nonce);
        self.hub_nonce = Some(*nonce);
        self.nonce_at_us = now_us;
        self.nonce_used = false;
        self.stats.hub_nonces_accepted += 1;
        self.drop_unsent();
        self.request_keyframe();
        Ok(())
    }

    /// Switches sealing to a new key epoch (the SFrame KID), derived from this stream's base
    /// secret or from `new_base_secret`. The hub should install the same epoch first
    /// ([`crate::Receiver::install_key`]); it keeps the old key for an overlap, so no frame is
    /// lost. The old key is zeroized when dropped here.
    pub fn rekey(&mut self, epoch: u64, new_base_secret: Option<&[u8]>) -> Result<()> {
        let current = seal::kid_epoch(self.key.kid());
        if epoch <= current {
            // A key is derived from (secret, stream, epoch, session): going back would seal
            // under (key, nonce) pairs already used.
            return Err(invalid!("key epochs only move forward: {epoch} is not after {current}"));
        }
        let secret = new_base_secret.unwrap_or(&self.cfg.base_secret);
        self.key = SealKey::for_session(
            self.cfg.suite,
            secret,
            &self.cfg.stream_id,
            epoch,
            self.session(),
            self.hub_nonce.as_ref(),
        )?;
        if let Some(s) = new_base_secret {
            self.cfg.base_secret = Zeroizing::new(s.to_vec());
        }
        self.cfg.key_epoch = epoch;
        Ok(())
    }

    /// Encodes at `size` from the next frame on (`None`: the capture size). The encoder starts
    /// the new size with a keyframe.
    pub fn set_encode_size(&mut self, size: Option<(u32, u32)>) -> Result<()> {
        if let Some((w, h)) = size {
            crate::frame::check_dimensions(w, h)?;
        }
        self.cfg.encode_size = size;
        Ok(())
    }

    /// Asks for a keyframe on the next pushed frame (rate limits do not apply).
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
        self.last_keyframe_us = None;
    }

    /// Converts, encodes, seals and queues one capture frame.
    pub fn push_frame(&mut self, now_us: u64, frame: &CaptureFrame<'_>) -> Result<FrameOutcome> {
        frame.validate()?;
        self.stats.frames_pushed += 1;
        if self.hub_nonce.is_some() && !self.nonce_used && now_us >= self.nonce_at_us + UNUSED_NONCE_US {
            // Too old to be a first packet's: ask for a fresh one.
            self.hub_nonce = None;
            self.hello_id = self.rng.u64(..);
            self.next_hello_us = now_us;
        }
        if self.awaiting_hub() {
            self.stats.frames_awaiting_hub += 1;
            return Ok(FrameOutcome::AwaitingHub);
        }
        if let Some(abr) = self.abr.as_mut() {
            abr.on_tick(now_us);
            if self.cfg.resolution_ladder {
                let fps = self.cfg.framerate_fps as f64;
                let ladder = self.ladder.get_or_insert_with(|| Ladder::new((frame.width, frame.height), fps));
                ladder.set_capture((frame.width, frame.height));
                let divisor = ladder.choice().frame_divisor as u64;
                if divisor > 1 && self.stats.frames_pushed % divisor != 0 {
                    return Ok(FrameOutcome::DroppedFrameRate);
                }
            }
        }
        // Without feedback the target falls to a safe rate, window or not: encoder and pacer
        // follow it (feedback restores the rate before).
        if let Some(t) = self.abr.as_ref().filter(|a| a.in_feedback_timeout()).map(|a| a.target_bps()) {
            let current = self.encoder.rates().bitrate_bps;
            if (t as f64 - current as f64).abs() > 0.02 * current as f64 {
                self.set_target_bitrate(t)?;
            }
        }
        let limit_us = self.cfg.max_queue_delay_ms as u64 * 1000;
        if self.pacer.transmit_time_us(self.queued_bytes) > limit_us || self.queue.len() + 64 > self.history.len() / 2 {
            self.stats.frames_dropped += 1;
            return Ok(FrameOutcome::DroppedQueueFull);
        }
        if self.abr.as_ref().is_some_and(|a| a.window_full(now_us)) && self.queued_bytes > 0 {
            self.stats.frames_dropped += 1;
            self.stats.frames_dropped_congestion += 1;
            return Ok(FrameOutcome::DroppedQueueFull);
        }
        let size = (frame.width, frame.height);
        let half = (frame.width.div_ceil(2), frame.height.div_ceil(2));
        let picture = match self.cfg.encode_size {
            // The ladder's half rung from a YUV 4:2:0 or RGB capture: conversion and box
            // filter in one pass over the capture.
            Some(s) if s == half && s != size && kernels::half_fused_pays(frame.format) => {
                kernels::to_i420_half_with(frame, &mut self.scaled, self.cfg.color_matrix)?;
                &self.scaled
            }
            encode_size => {
                let bands = if self.cfg.parallel_conversion {
                    kernels::bands_that_pay(frame.format, frame.width, frame.height)
                } else {
                    1
                };
                kernels::to_i420_in_bands(frame, &mut self.i420, self.cfg.color_matrix, bands)?;
                match encode_size {
                    Some(s) if s == half && s != size => {
                        kernels::scale_i420_half(&self.i420, &mut self.scaled)?;
                        &self.scaled
                    }
                    Some((w, h)) if (w, h) != size => {
                        kernels::scale_i420_bilinear(&self.i420, w, h, &mut self.scaled)?;
                        &self.scaled
                    }
                    _ => &self.i420,
                }
            }
        };
        let force = self.keyframe_requested
            && self
                .last_keyframe_us
                .is_none_or(|t| now_us.saturating_sub(t) >= self.cfg.min_keyframe_interval_ms as u64 * 1000);
        if force {
            // Cleared when asked for, not when it comes out: an encoder with frame delay
            // (AV1) emits it a few calls later, and must not be asked again meanwhile.
            self.keyframe_requested = false;
            self.last_keyframe_us = Some(now_us);
        }
        let Some(info) = self.encoder.encode(picture, frame.timestamp_us, force, &mut self.bitstream)? else {
            return Ok(FrameOutcome::Skipped);
        };
        if info.keyframe {
            self.last_keyframe_us.get_or_insert(now_us);
            self.stats.keyframes += 1;
            self.keyframe_seq = Some(self.next_seq);
        }
        if let (Some(ladder), Some(qp)) = (self.ladder.as_mut(), info.qp) {
            // AV1 reports rav1e's 0-255 quantizer index: brought to H.264's 0-51 scale.
            let qp = if self.encoder.codec() == Codec::Av1 { (qp as u32 * 51 / 255) as u8 } else { qp };
            ladder.on_qp(qp);
        }
        let frame_id = self.next_frame_id;
        self.next_frame_id += 1;
        self.plaintext.clear();
        FrameInfo {
            codec: self.encoder.codec(),
            keyframe: info.keyframe,
            temporal_layer: info.temporal_layer,
            frame_id,
            ref_distance: info.ref_distance,
            width: info.width as u16,
            height: info.height as u16,
            capture_time_us: info.capture_us,
        }
        .encode(&mut self.plaintext);
        self.plaintext.extend_from_slice(&self.bitstream);
        let rtp_ts = rtp_timestamp(info.capture_us).wrapping_add(self.rtp_ts_offset);
        seal::stream_metadata(&self.cfg.stream_id, self.cfg.ssrc, rtp_ts, &mut self.metadata);
        self.key.seal(&self.metadata, &self.plaintext, &mut self.sealed)?;

        let fields = PacketFields {
            payload_type: self.cfg.payload_type,
            seq: 0,
            timestamp: rtp_ts,
            ssrc: self.cfg.ssrc,
            marker: false,
            descriptor: 0,
        };
        let mut packets = 0;
        let (history, queue, next_seq, queued) =
            (&mut self.history, &mut self.queue, &mut self.next_seq, &mut self.queued_bytes);
        let n = history.len();
        // Room for a repair packet's own headers when FEC is on: a repair is as long as the
        // longest packet it protects plus those.
        let fragment = rtp::max_fragment_bytes(self.cfg.mtu_bytes)
            - if self.fec_group.is_some() { fec::REPAIR_EXTRA_BYTES } else { 0 };
        rtp::packetize(&self.sealed, fragment, |descriptor, marker, chunk| {
            let seq = *next_seq;
            *next_seq = seq + 1;
            let slot = &mut history[seq as usize % n];
            packet::write_packet(
                &PacketFields { seq: seq as u16, marker, descriptor, ..fields },
                chunk,
                &mut slot.data,
            );
            slot.seq = seq;
            slot.in_use = true;
            slot.first_sent_us = None;
            queue.push_back(seq);
            *queued += slot.data.len();
            packets += 1;
        });
        if info.keyframe {
            self.keyframe_end_seq = Some(self.next_seq - 1);
        }
        self.stats.frames_sent += 1;
        self.nonce_used = true;
        Ok(FrameOutcome::Queued { frame_id, keyframe: info.keyframe, encoded_bytes: self.bitstream.len(), packets })
    }

    /// Handles one RTCP datagram from the hub: NACKs queue retransmissions, PLIs ask for a
    /// keyframe. Feedback for other SSRCs is ignored.
    pub fn handle_feedback(&mut self, now_us: u64, datagram: &[u8]) -> Result<()> {
        let mut first_err = None;
        for fb in rtcp::parse(datagram) {
            match fb {
                Ok(rtcp::Feedback::Nack { media_ssrc, items }) if media_ssrc == self.cfg.ssrc => {
                    // A long path's repairs come late: three measured round trips at least.
                    let rtt_us = self.abr.as_ref().map_or(0, |a| (a.rtt_ms() * 1000.0) as u64);
                    let max_age = (self.cfg.max_retransmit_age_ms as u64 * 1000).max(3 * rtt_us);
                    let (history, rtx, stats) = (&self.history, &mut self.rtx_queue, &mut self.stats);
                    // On a path with steady non-congestive loss a retransmission is sent
                    // twice: losing both is p^2, so a repair rarely takes a second round trip.
                    let copies =
                        if self.abr.as_ref().is_some_and(|a| a.background_loss() > REDUNDANT_RTX_LOSS) { 2 } else { 1 };
                    let (keyframe_seq, newest) = (self.keyframe_seq, self.next_seq - 1);
                    rtcp::nack_seqs(items, |seq16| {
                        stats.nacks_received += 1;
                        let seq = extend_seq(newest, seq16);
                        let slot = &history[seq as usize % history.len()];
                        let fresh = slot.first_sent_us.is_some_and(|t| now_us.saturating_sub(t) <= max_age);
                        // A packet from before the newest keyframe no longer matters: the
                        // hub resumes from that keyframe. Compared as extended sequence
                        // numbers: a 16-bit comparison turns after 32,768 packets.
                        let superseded = keyframe_seq.is_some_and(|k| seq < k);
                        if slot.in_use && slot.seq == seq && (!fresh || superseded) {
                            stats.nacks_too_old += 1;
                        } else if slot.in_use && slot.seq == seq && !rtx.iter().any(|r| r.0 == seq) {
                            rtx.push_back((seq, copies));
                        }
                    });
                }
                Ok(rtcp::Feedback::TransportCc { media_ssrc, fci }) if media_ssrc == self.cfg.ssrc => {
                    let (sent, results, abr) = (&self.twcc_sent, &mut self.results, &mut self.abr);
                    let parsed = twcc::parse_feedback(fci, |r| {
                        let rec = sent[r.seq as usize % TWCC_HISTORY];
                        if rec.seq == r.seq && rec.sent_us != u64::MAX {
                            if results.len() == TWCC_HISTORY {
                                results.pop_front();
                            }
                            let (sent_us, size) = (rec.sent_us, rec.size);
                            results.push_back(PacketResult {
                                twcc_seq: rec.seq,
                                sent_us,
                                size,
                                arrival_us: r.arrival_us,
                            });
                            if let Some(a) = abr.as_mut() {
                                a.on_result(now_us, sent_us, size as usize, r.arrival_us, rec.cluster, rec.cumulative);
                            }
                        }
                    });
                    match parsed {
                        Ok(_) => {
                            self.stats.transport_feedback += 1;
                            if let Some(a) = self.abr.as_mut() {
                                a.on_feedback(now_us);
                            }
                            self.apply_target(now_us)?;
                        }
                        Err(e) => {
                            self.stats.malformed_feedback += 1;
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Ok(rtcp::Feedback::HubNonce { media_ssrc, kid, nonce, mac }) if media_ssrc == self.cfg.ssrc => {
                    if let Err(e) = self.take_hub_nonce(now_us, kid, &nonce, &mac) {
                        first_err.get_or_insert(e);
                    }
                }
                Ok(rtcp::Feedback::Pli { media_ssrc }) if media_ssrc == self.cfg.ssrc => {
                    self.stats.plis_received += 1;
                    // A PLI that arrives less than a round trip after the newest keyframe's
                    // last packet left (or while that keyframe is still queued) was sent
                    // before the hub could have it: that keyframe answers it. Should it be
                    // lost, the hub asks again (every `pli_interval_ms` while it waits).
                    let rtt_us = self.abr.as_ref().map(|a| (a.rtt_ms() * 1000.0) as u64);
                    // Its last packet's slot: gone when dropped (a collapse) or overwritten.
                    let last = self.keyframe_end_seq.map(|seq| &self.history[seq as usize % self.history.len()]);
                    let on_its_way = last.is_some_and(|s| {
                        Some(s.seq) == self.keyframe_end_seq
                            && s.in_use
                            && rtt_us.is_some_and(|rtt| s.first_sent_us.is_none_or(|t| now_us < t + rtt))
                    });
                    if on_its_way {
                        self.stats.plis_superseded += 1;
                    } else {
                        self.keyframe_requested = true;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    self.stats.malformed_feedback += 1;
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    // ---- polls ----

    /// Writes the next packet due at `now_us` into `buf`; returns its length, or `None` when
    /// nothing may leave yet. `buf` must hold `mtu_bytes`.
    pub fn poll_transmit(&mut self, now_us: u64, buf: &mut [u8]) -> Result<Option<usize>> {
        if self.awaiting_hub() {
            return self.poll_hello(now_us, buf);
        }
        if let Some(abr) = self.abr.as_mut() {
            abr.on_tick(now_us);
            if self.probe.is_none() {
                if let Some(cluster) = abr.take_probe() {
                    self.pacer.set_rate(cluster.rate_bps as u64);
                    self.probe =
                        Some(ActiveProbe { cluster, bytes: 0, packets: 0, pad_seq: self.next_seq - 1, pad_tries: 0 });
                }
            }
        }
        if !self.pacer.can_send(now_us) {
            return Ok(None);
        }
        if self.probe.is_none() && self.abr.as_ref().is_some_and(|a| a.window_full(now_us)) {
            return Ok(None);
        }
        // A repair goes out as soon as its group is complete, or has waited long enough, or
        // FEC was turned off with a group open.
        if self.fec_packet.is_empty() && self.fec.deadline_us().is_some_and(|t| now_us >= t || self.fec_group.is_none())
        {
            self.fec.finish(self.cfg.fec_payload_type, self.cfg.fec_ssrc, self.cfg.ssrc, &mut self.fec_packet);
        }
        if !self.fec_packet.is_empty() {
            let len = self.fec_packet.len();
            if buf.len() < len {
                return Err(Error::BufferTooSmall { needed: len });
            }
            let twcc = self.next_twcc;
            packet::set_twcc_seq(&mut self.fec_packet, twcc);
            self.next_twcc = twcc.wrapping_add(1);
            buf[..len].copy_from_slice(&self.fec_packet);
            self.fec_packet.clear();
            self.stats.repair_packets_sent += 1;
            self.account_sent(now_us, twcc, len, false);
            return Ok(Some(len));
        }
        let n = self.history.len();
        let (seq, kind) = loop {
            if let Some((seq, copies)) = self.rtx_queue.pop_front() {
                let s = &self.history[seq as usize % n];
                if copies > 1 {
                    self.rtx_queue.push_back((seq, copies - 1));
                }
                if s.in_use && s.seq == seq {
                    break (seq, Kind::Retransmission);
                }
            } else if let Some(&seq) = self.queue.front() {
                let len = self.history[seq as usize % n].data.len();
                if buf.len() < len {
                    return Err(Error::BufferTooSmall { needed: len });
                }
                self.queue.pop_front();
                self.queued_bytes -= len;
                break (seq, Kind::Media);
            } else if let Some(p) = self.probe.as_mut() {
                // Padding: a copy of a recent packet that has been sent.
                let seq = p.pad_seq;
                p.pad_seq = seq - 1;
                p.pad_tries += 1;
                let s = &self.history[seq as usize % n];
                if s.in_use && s.seq == seq && s.first_sent_us.is_some() {
                    break (seq, Kind::Padding);
                }
                if p.pad_tries > 64 {
                    self.end_probe();
                    return Ok(None);
                }
            } else {
                return Ok(None);
            }
        };
        let slot = &mut self.history[seq as usize % n];
        let len = slot.data.len();
        if buf.len() < len {
            if kind != Kind::Media {
                self.rtx_queue.push_front((seq, 1));
            }
            return Err(Error::BufferTooSmall { needed: len });
        }
        let twcc = self.next_twcc;
        packet::set_twcc_seq(&mut slot.data, twcc);
        self.next_twcc = twcc.wrapping_add(1);
        buf[..len].copy_from_slice(&slot.data);
        match kind {
            Kind::Retransmission => self.stats.packets_retransmitted += 1,
            Kind::Padding => self.stats.probe_padding_packets += 1,
            Kind::Media => {
                slot.first_sent_us = Some(now_us);
                self.stats.packets_sent += 1;
                if let Some(group) = self.fec_group {
                    self.protect(now_us, group, &buf[..len]);
                }
            }
        }
        self.account_sent(now_us, twcc, len, kind == Kind::Media);
        Ok(Some(len))
    }

    /// Adds a first transmission to the open FEC group (closing the group first when its
    /// mask cannot name the packet) and closes the group once it holds `group` packets.
    fn protect(&mut self, now_us: u64, group: usize, packet: &[u8]) {
        let (pt, ssrc, media) = (self.cfg.fec_payload_type, self.cfg.fec_ssrc, self.cfg.ssrc);
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        // Queued before FEC came on, at full size: its repair would not fit the MTU.
        if packet.len() + fec::REPAIR_EXTRA_BYTES > self.cfg.mtu_bytes - rtp::IP_UDP_OVERHEAD_BYTES {
            return;
        }
        if !self.fec.fits(seq) && self.fec_packet.is_empty() {
            self.fec.finish(pt, ssrc, media, &mut self.fec_packet);
        }
        if self.fec.fits(seq) {
            self.fec.add(now_us, packet);
        }
        if self.fec.count() >= group && self.fec_packet.is_empty() {
            self.fec.finish(pt, ssrc, media, &mut self.fec_packet);
        }
    }

    /// Books a packet of `len` bytes sent now under transport-wide sequence `twcc`: byte
    /// counts, the feedback record, the pacer, the rate controller and an active probe.
    fn account_sent(&mut self, now_us: u64, twcc: u16, len: usize, media: bool) {
        self.stats.bytes_sent += len as u64;
        self.bytes_cumulative += len as u64;
        let cluster = self.probe.map_or(0, |p| p.cluster.id);
        self.twcc_sent[twcc as usize % TWCC_HISTORY] =
            SentRecord { seq: twcc, sent_us: now_us, size: len as u16, cluster, cumulative: self.bytes_cumulative };
        self.pacer.on_sent(now_us, len);
        if let Some(abr) = self.abr.as_mut() {
            abr.on_sent(now_us, len, self.bytes_cumulative, media);
            if let Some(p) = self.probe.as_mut() {
                abr.on_probe_sent(p.cluster.id, now_us, len);
                p.bytes += len;
                p.packets += 1;
                if p.bytes >= p.cluster.bytes && p.packets >= p.cluster.packets {
                    self.end_probe();
                }
            }
        }
    }

    /// A hello when one is due: an RTP packet of the stream with the hello descriptor bit
    /// and this session's KID and the request's id as its body. It uses no sequence number of the stream's (it
    /// carries the one the first media packet will have) and no transport-wide one.
    fn poll_hello(&mut self, now_us: u64, buf: &mut [u8]) -> Result<Option<usize>> {
        if now_us < self.next_hello_us {
            return Ok(None);
        }
        let mut pkt = std::mem::take(&mut self.sealed);
        let fields = PacketFields {
            payload_type: self.cfg.payload_type,
            seq: self.next_seq as u16,
            timestamp: self.rtp_ts_offset,
            ssrc: self.cfg.ssrc,
            marker: false,
            descriptor: packet::DESC_HELLO,
        };
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&self.key.kid().to_be_bytes());
        body[8..].copy_from_slice(&self.hello_id.to_be_bytes());
        packet::write_packet(&fields, &body, &mut pkt);
        let n = pkt.len();
        let r = if buf.len() < n {
            Err(Error::BufferTooSmall { needed: n })
        } else {
            buf[..n].copy_from_slice(&pkt);
            self.next_hello_us = now_us + HELLO_INTERVAL_US;
            self.stats.hellos_sent += 1;
            self.stats.bytes_sent += n as u64;
            Ok(Some(n))
        };
        self.sealed = pkt;
        r
    }

    fn end_probe(&mut self) {
        self.probe = None;
        let rate = self.encoder.rates().bitrate_bps;
        self.pacer.set_rate((rate as f64 * self.cfg.pacing_factor as f64) as u64);
    }

    /// The next per-packet result of transport-wide feedback (send time, size, arrival or
    /// loss), oldest first: the input of a bandwidth estimator. At most 4096 are kept.
    pub fn poll_packet_result(&mut self) -> Option<PacketResult> {
        self.results.pop_front()
    }

    /// When `poll_transmit` will next have a packet, if any is waiting (or a probe is due).
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.awaiting_hub() {
            return Some(self.next_hello_us);
        }
        let waiting =
            !self.queue.is_empty() || !self.rtx_queue.is_empty() || self.probe.is_some() || !self.fec_packet.is_empty();
        // An open FEC group closes at its deadline (sooner when FEC was turned off).
        let group = self.fec.deadline_us().map(|t| if self.fec_group.is_none() { 0 } else { t });
        let next = match (waiting, group) {
            (true, _) => self.pacer.next_send_us(),
            (false, Some(t)) => self.pacer.next_send_us().max(t),
            (false, None) => return None,
        };
        match self.abr.as_ref() {
            // A full window waits for feedback, or for the feedback timeout.
            Some(a) if self.probe.is_none() && a.window_full(next) => a.window_reopens_us().map(|t| t.max(next)),
            _ => Some(next),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Media,
    Retransmission,
    Padding,
}

/// The 90 kHz RTP timestamp of a capture time.
pub fn rtp_timestamp(capture_us: u64) -> u32 {
    ((capture_us as u128 * packet::VIDEO_CLOCK_HZ as u128 / 1_000_000) & 0xffff_ffff) as u32
}
