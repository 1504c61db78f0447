//! The camera-to-hub scenario runner: N cameras' [`Sender`]s and one [`Hub`], each camera
//! joined to the hub by its own two emulated [`Link`]s (media forward, RTCP back), with an
//! optional [`Adversary`] on the media path, driven in virtual time.
//!
//! It measures what a person at the hub would see, independently of the hub's own counters:
//! every frame the hub outputs for a stream is compared with what that stream's sender
//! produced for that frame id (a SHA-256 of the bitstream) and with every other stream's
//! frames, decoded, and compared with the source picture.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::adversary::{insider_key, Adversary, AttackCounts, Target};
use super::link::{Capacity, Link, LinkConfig};
use super::scene::FrameSource;
use crate::codec::{Codec, H264Decoder};
use crate::error::{Error, Result};
use crate::frame::I420Buffer;
use crate::hub::{Hub, HubConfig};
use crate::receiver::{DropReason, ReceivedFrame, ReceiverConfig, ReceiverStats};
use crate::seal::CipherSuite;
use crate::sender::{FrameOutcome, Sender, SenderConfig, SenderStats};

/// What the restart of `side` at `at_us` cost the cameras.
fn restart_outcome(cams: &[Camera], side: &'static str, at_us: u64) -> RestartOutcome {
    let mut out = RestartOutcome { side, at_us, first_frame_ms: None, frames_captured_later: 0, frames_shown_later: 0 };
    let mut worst: Option<f64> = None;
    for c in cams {
        // The first frame shown live after the restart: for a camera, one it captured after
        // (its new life); for a hub, any the new hub output.
        let first = c
            .shown
            .iter()
            .filter(|&&(cap, out)| if side == "camera" { cap >= at_us } else { out >= at_us })
            .min_by_key(|s| s.1);
        let Some(&(first_capture, first_out)) = first else {
            worst = Some(f64::INFINITY);
            continue;
        };
        let ms = (first_out - at_us) as f64 / 1000.0;
        worst = Some(worst.map_or(ms, |w| w.max(ms)));
        out.frames_captured_later += c.capture_times.iter().filter(|&&t| t >= first_capture).count() as u64;
        out.frames_shown_later += c.shown.iter().filter(|s| s.0 >= first_capture).count() as u64;
    }
    out.first_frame_ms = worst.filter(|w| w.is_finite());
    out
}

/// Length of one `series` interval.
pub const SERIES_INTERVAL_US: u64 = 100_000;
/// Time the runner keeps going after the last capture so frames in flight can arrive.
pub const DRAIN_US: u64 = 2_000_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Codec.
    pub codec: Codec,
    /// Seconds of capture.
    pub seconds: f64,
    /// Seed of every random process.
    pub seed: u64,
    /// Media path (camera to hub).
    pub forward: LinkConfig,
    /// Feedback path (hub to camera).
    pub feedback: LinkConfig,
    /// The sender's fixed target bitrate, or with `adaptive` its ceiling.
    pub bitrate_bps: u32,
    /// Adaptive bitrate (the rate controller) on; off = the fixed `bitrate_bps` baseline.
    pub adaptive: bool,
    /// With `adaptive`: the rate to start at.
    pub start_bitrate_bps: u32,
    /// The offer utilization is measured against is capped at this rate per camera
    /// (default: `bitrate_bps`); set it equal across runs that compare senders.
    pub utilization_cap_bps: Option<u32>,
    /// All cameras share one bottleneck (the `forward` link) instead of one link each.
    pub shared_bottleneck: bool,
    /// When each camera starts capturing (missing entries: at 0); all stop at `seconds`.
    pub start_offsets_us: Vec<u64>,
    /// SFrame cipher suite.
    pub suite: CipherSuite,
    /// Decode displayed frames and measure PSNR.
    pub measure_psnr: bool,
    /// Fraction of media packets the adversary tampers with (0 = no adversary).
    pub attack: f64,
    /// All cameras share one base secret (a misconfiguration the stream binding survives).
    pub shared_secret: bool,
    /// Every camera restarts at this time (a new `Sender`, same config, as a firmware that
    /// lost power).
    pub restart_camera_at_us: Option<u64>,
    /// The hub restarts at this time (a new `Hub` serving the same streams).
    pub restart_hub_at_us: Option<u64>,
    /// The adversary records what reaches the hub before `record_until_us` and plays it to
    /// the hub again from `replay_at_us`, as recorded.
    pub replay_session: Option<ReplaySession>,
    /// FEC where the path needs it (the sender's `fec`; on by default).
    pub fec: bool,
}

/// A recording of the start of every stream, replayed later ([`Scenario::replay_session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaySession {
    /// Packets reaching the hub before this are recorded.
    pub record_until_us: u64,
    /// The recording is played from this time on, with its original spacing.
    pub replay_at_us: u64,
}

/// Most packets the replaying adversary records.
const REPLAY_MAX_PACKETS: usize = 200_000;

/// What one restart cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartOutcome {
    /// `"camera"` or `"hub"`.
    pub side: &'static str,
    /// When it restarted.
    pub at_us: u64,
    /// From the restart to the first frame shown live after it (for a camera: of its new
    /// life), worst camera; `None` if none was.
    pub first_frame_ms: Option<f64>,
    /// Frames captured from that first frame's capture on (all cameras).
    pub frames_captured_later: u64,
    /// Of those, frames shown live.
    pub frames_shown_later: u64,
}

impl Scenario {
    /// A clean link: `capacity_bps`, `delay_ms` one way, `queue_ms` drop-tail, random `loss`.
    pub fn simple(seconds: f64, capacity_bps: u64, delay_ms: u64, queue_ms: u64, loss: f64, seed: u64) -> Self {
        let forward = LinkConfig {
            loss,
            ..LinkConfig::new(Capacity::Fixed(capacity_bps), delay_ms * 1000, queue_ms * 1000, seed)
        };
        let feedback = LinkConfig::new(Capacity::Fixed(10_000_000), delay_ms * 1000, 1_000_000, seed ^ 0xfeed);
        Scenario {
            codec: Codec::H264,
            seconds,
            seed,
            forward,
            feedback,
            bitrate_bps: 1_000_000,
            adaptive: false,
            start_bitrate_bps: 500_000,
            utilization_cap_bps: None,
            shared_bottleneck: false,
            start_offsets_us: Vec::new(),
            suite: CipherSuite::AesGcm128Sha256,
            measure_psnr: true,
            attack: 0.0,
            shared_secret: false,
            restart_camera_at_us: None,
            restart_hub_at_us: None,
            replay_session: None,
            fec: true,
        }
    }
}

impl Scenario {
    /// A scenario on a built-in network ([`crate::sim::profiles`]): its links, duration,
    /// flows and start times, with the adaptive bitrate on (ceiling `max_bps`, starting
    /// at 500 kbit/s) and utilization measured against `max_bps`.
    pub fn from_profile(p: &crate::sim::NetworkProfile, max_bps: u32, seed: u64) -> Self {
        Scenario {
            forward: p.forward.clone(),
            feedback: p.feedback.clone(),
            shared_bottleneck: p.shared_bottleneck,
            start_offsets_us: p.start_offsets_us.clone(),
            adaptive: true,
            bitrate_bps: max_bps,
            utilization_cap_bps: Some(max_bps),
            ..Scenario::simple(p.seconds, 1, 0, 0, 0.0, seed)
        }
    }
}

/// Observers of what crosses the link and what the hub outputs (pcap files, bitstreams).
pub trait Tap {
    /// A media packet left camera `camera` at `t_us`.
    fn media_sent(&mut self, _camera: usize, _t_us: u64, _packet: &[u8]) {}
    /// A feedback packet left the hub for camera `camera` at `t_us`.
    fn feedback_sent(&mut self, _camera: usize, _t_us: u64, _packet: &[u8]) {}
    /// The hub output a frame of camera `camera`'s stream at `t_us`.
    fn frame_output(&mut self, _camera: usize, _t_us: u64, _frame: &ReceivedFrame<'_>) {}
}

/// A tap that observes nothing.
pub struct NoTap;
impl Tap for NoTap {}

/// One `series` sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesPoint {
    /// Interval start, milliseconds.
    pub t_ms: u64,
    /// Link capacity at the interval start.
    pub capacity_bps: u64,
    /// Sender target bitrate at the interval end.
    pub target_bps: u64,
    /// Bits the sender put on the link during the interval, per second.
    pub sent_bps: u64,
    /// Mean capture-to-display delay of frames displayed in the interval.
    pub delay_ms: Option<f64>,
    /// Bits delivered to the hub during the interval, per second.
    pub delivered_bps: u64,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Codec name.
    pub codec: &'static str,
    /// Seconds of capture.
    pub seconds: f64,
    /// Frames the camera captured.
    pub frames_captured: u64,
    /// Frames encoded and sent.
    pub frames_sent: u64,
    /// Frames pushed before the hub's nonce came back (not encoded).
    pub frames_awaiting_hub: u64,
    /// Frames the hub output.
    pub frames_displayed: u64,
    /// Frames the sender dropped before encoding (queue full).
    pub frames_dropped_sender: u64,
    /// Frames sent but never output by the hub (lost, late or undecodable).
    pub frames_dropped_receiver: u64,
    /// Keyframes sent.
    pub keyframes_sent: u64,
    /// Times a camera answered a collapse of its path (dropped its unsent queue and sent
    /// a keyframe at the new rate).
    pub collapses: u64,
    /// Collapses of the estimate the rate controller undid when later feedback showed the
    /// path had only stalled (`abr::controller::UNDO_RATE_WINDOW_US`).
    pub collapses_undone: u64,
    /// Spans of the run with no delivery opportunity on a trace link at least as long as
    /// the freeze limit of a stream shown at its full frame rate (183 ms at 30 fps): no
    /// frame can arrive during one, so any sender's stream freezes there (0 for links
    /// given as rates).
    pub link_silences: u64,
    /// RTP bytes sent (first transmissions and retransmissions).
    pub bytes_sent: u64,
    /// Frames that failed authentication at the hub (from its counters).
    pub auth_failures: u64,
    /// Packets dropped as replays (from its counters).
    pub replays_rejected: u64,
    /// Packets the hub dropped, by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Output frames equal to a frame of another stream and not this one's (independent check).
    pub wrong_stream_frames: u64,
    /// Output frames that differ from what the sender produced (independent check).
    pub corrupt_frames_displayed: u64,
    /// Freezes on the displayed timeline (WebRTC's definition), frames shown at the render
    /// time the hub gives them.
    pub freezes: u64,
    /// Freezes had every frame been shown the moment the hub output it (no playout hold).
    pub freezes_at_output: u64,
    /// Median capture-to-display delay.
    pub delay_ms_p50: f64,
    /// 95th percentile capture-to-display delay.
    pub delay_ms_p95: f64,
    /// Packets lost on the media link (queue and random) over packets offered.
    pub loss_rate: f64,
    /// Bits delivered to the hub over what the link could have delivered, per 100 ms
    /// interval: the offer capped at the sender's maximum bitrate, delivered bits capped at
    /// the offer (so a backlog drained later does not count twice).
    pub utilization: f64,
    /// Mean PSNR (Y, U and V samples together) of displayed frames against the source
    /// (H.264, decoded with openh264; 0 for AV1, which has no in-process decoder here).
    pub psnr_db_mean: f64,
    /// Retransmitted packets.
    pub retransmissions: u64,
    /// FEC repair packets sent.
    pub repair_packets_sent: u64,
    /// Media packets the hub rebuilt from FEC repairs.
    pub packets_recovered: u64,
    /// PLIs the hub sent.
    pub plis_sent: u64,
    /// Cameras streamed.
    pub cameras: usize,
    /// Media packets that reached the hub (after the adversary).
    pub packets_at_hub: u64,
    /// What the adversary did.
    pub attacks: AttackCounts,
    /// Largest memory any stream's receiver held, bytes.
    pub max_stream_memory_bytes: usize,
    /// The per-stream memory bound of the receiver config, bytes.
    pub stream_memory_bound_bytes: usize,
    /// Packets delivered to the hub that no counter accounts for (must be 0).
    pub uncounted_packets: u64,
    /// Per-interval samples (sums over cameras).
    pub series: Vec<SeriesPoint>,
    /// Media packets (first transmissions) that never reached the hub, even after
    /// retransmission, over media packets sent.
    pub post_repair_loss: f64,
    /// Each camera's delivered rate over the second half of the time every camera
    /// streamed, kbit/s.
    pub flow_kbps: Vec<f64>,
    /// Jain's fairness index of `flow_kbps` (1 = equal shares).
    pub jain_index: f64,
    /// Frames dropped at the camera because its congestion window was full.
    pub frames_dropped_congestion: u64,
    /// Resolution or frame-rate switches of the ladder.
    pub ladder_switches: u64,
    /// Probe padding packets sent.
    pub probe_padding_packets: u64,
    /// Mean of the sender's target over the capture, kbit/s (sum over cameras).
    pub mean_target_kbps: f64,
    /// Every freeze: camera, start (ms) and length (ms).
    pub freeze_list: Vec<(usize, u64, u64)>,
    /// Frames shown live (not marked stale by the hub) that are not newer than a frame
    /// already shown for their stream: a replay, or a frame of an earlier camera life shown
    /// after the new one (independent check, from capture times).
    pub stale_frames_displayed: u64,
    /// Frames the hub output marked stale (decoded, not shown as live).
    pub frames_marked_stale: u64,
    /// Packets the replaying adversary played to the hub.
    pub replayed_packets: u64,
    /// Each restart, in time order.
    pub restarts: Vec<RestartOutcome>,
    /// From the start of the run to the first frame shown (the slowest camera's), if any.
    pub first_frame_ms: Option<f64>,
}

/// Jain's fairness index of `x`: `(sum x)^2 / (n * sum x^2)`; 1 when all are equal.
pub fn jain_index(x: &[f64]) -> f64 {
    let (s, s2) = x.iter().fold((0.0, 0.0), |(a, b), v| (a + v, b + v * v));
    if s2 == 0.0 {
        return 0.0;
    }
    s * s / (x.len() as f64 * s2)
}

/// The key `(ssrc, seq, timestamp)` of an RTP packet, for loss accounting.
fn rtp_key(p: &[u8]) -> Option<(u32, u16, u32)> {
    if p.len() < 12 {
        return None;
    }
    let seq = u16::from_be_bytes([p[2], p[3]]);
    let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
    let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
    Some((ssrc, seq, ts))
}

fn digest(data: &[u8]) -> [u8; 16] {
    let d = Sha256::digest(data);
    d[..16].try_into().expect("16 bytes")
}

/// PSNR between two images of the same size, over all samples; 99 dB when identical.
pub fn psnr(a: &I420Buffer, b: &I420Buffer) -> Option<f64> {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return None;
    }
    let sse: u64 = a
        .as_bytes()
        .iter()
        .zip(b.as_bytes())
        .map(|(x, y)| {
            let d = *x as i64 - *y as i64;
            (d * d) as u64
        })
        .sum();
    if sse == 0 {
        return Some(99.0);
    }
    let mse = sse as f64 / a.as_bytes().len() as f64;
    Some((10.0 * (255.0f64 * 255.0 / mse).log10()).min(99.0))
}

/// Counts freezes: gaps `>= max(3 x mean interval, mean interval + 150 ms)` between
/// consecutive displayed frames (the definition WebRTC's video quality stats use).
pub fn count_freezes(display_us: &[u64]) -> u64 {
    freezes(display_us).len() as u64
}

/// The shortest gap counted as a freeze for frames shown every `mean_interval_us` on
/// average.
pub fn freeze_limit_us(mean_interval_us: f64) -> f64 {
    (3.0 * mean_interval_us).max(mean_interval_us + 150_000.0)
}

/// The freezes of [`count_freezes`], as `(start_us, length_us)`.
pub fn freezes(display_us: &[u64]) -> Vec<(u64, u64)> {
    if display_us.len() < 2 {
        return Vec::new();
    }
    let span = display_us[display_us.len() - 1] - display_us[0];
    let limit = freeze_limit_us(span as f64 / (display_us.len() - 1) as f64);
    display_us.windows(2).filter(|w| (w[1] - w[0]) as f64 >= limit).map(|w| (w[0], w[1] - w[0])).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Stream identity of camera `i`.
pub fn stream_id(i: usize) -> Vec<u8> {
    format!("camera-{i}").into_bytes()
}
/// SSRC of camera `i`.
pub fn ssrc(i: usize) -> u32 {
    0x5ea1_0000 + i as u32
}
/// Base secret of camera `i` (tests only; deployments provision their own). With
/// `shared`, every camera gets the same one.
pub fn base_secret(i: usize, shared: bool) -> Vec<u8> {
    let mut s = b"sealcam example base secret ".to_vec();
    s.extend_from_slice(format!("{:04}", if shared { 0 } else { i }).as_bytes());
    s
}

struct Camera {
    sender: Sender,
    /// Camera lives so far (each restart begins one).
    life: u64,
    /// The previous life's frames not yet shown (frame ids start over in a new life).
    prev_sent: HashMap<u64, ([u8; 16], Option<I420Buffer>)>,
    /// Capture times, and (capture, output) times of the frames shown live.
    capture_times: Vec<u64>,
    shown: Vec<(u64, u64)>,
    last_shown_capture_us: Option<u64>,
    fwd: Link,
    back: Link,
    source: Box<dyn FrameSource>,
    total_frames: u64,
    captured: u64,
    next_capture_us: u64,
    start_us: u64,
    frame_interval: f64,
    sent: HashMap<u64, ([u8; 16], Option<I420Buffer>)>,
    decoder: Option<H264Decoder>,
}

impl Scenario {
    /// The receiver config the hub uses for camera `i`.
    pub fn receiver_config(&self, i: usize) -> ReceiverConfig {
        let mut r = ReceiverConfig::new(&stream_id(i), ssrc(i), &base_secret(i, self.shared_secret));
        r.codec = self.codec;
        r.suite = self.suite;
        r.rng_seed = Some(self.seed ^ 0x4ab0_0000 ^ (i as u64) << 40);
        r
    }

    /// The sender config of camera `i` in its `life` (each life draws its own session).
    fn sender_config(&self, i: usize, fps: f64, life: u64) -> SenderConfig {
        let mut scfg = SenderConfig::new(&stream_id(i), ssrc(i), &base_secret(i, self.shared_secret));
        scfg.codec = self.codec;
        scfg.suite = self.suite;
        // Deterministic from the scenario's seed: the session's sequence numbers and
        // timestamp offset too.
        scfg.rng_seed = Some(self.seed ^ 0x5e55_0000 ^ (i as u64) << 40 ^ life << 56);
        scfg.bitrate_bps = self.bitrate_bps;
        scfg.framerate_fps = fps as f32;
        scfg.fec = self.fec;
        if self.adaptive {
            scfg.adaptive_bitrate = true;
            scfg.max_bitrate_bps = self.bitrate_bps;
            scfg.min_bitrate_bps = scfg.min_bitrate_bps.min(self.bitrate_bps);
            scfg.bitrate_bps = self.start_bitrate_bps.min(self.bitrate_bps);
            scfg.max_queue_delay_ms = 150;
        }
        scfg
    }

    /// A hub serving the `n` streams; `generation` counts hub restarts (each draws its own
    /// nonces).
    fn hub(&self, n: usize, generation: u64) -> Result<Hub> {
        let mut hub = Hub::new(HubConfig { max_streams: n, ..HubConfig::default() })?;
        for i in 0..n {
            let mut r = self.receiver_config(i);
            r.rng_seed = r.rng_seed.map(|s| s ^ generation << 56);
            hub.add_stream(r)?;
        }
        Ok(hub)
    }

    /// Runs the scenario with one camera per source.
    pub fn run(&self, sources: Vec<Box<dyn FrameSource>>, tap: &mut dyn Tap) -> Result<Report> {
        if !(self.seconds > 0.0 && self.seconds <= 24.0 * 3600.0) {
            return Err(Error::InvalidInput(format!("duration {} s is not positive", self.seconds)));
        }
        if sources.is_empty() || sources.len() > 1024 {
            return Err(Error::InvalidInput(format!("{} cameras: 1 to 1024 are supported", sources.len())));
        }
        if !(0.0..=1.0).contains(&self.attack) {
            return Err(Error::InvalidInput(format!("attack fraction {} is outside 0..1", self.attack)));
        }
        let n_cams = sources.len();
        let mut hub = self.hub(n_cams, 0)?;
        let mut cams = Vec::with_capacity(n_cams);
        let mut targets = Vec::with_capacity(n_cams);
        for (i, source) in sources.into_iter().enumerate() {
            let fps = source.fps();
            let scfg = self.sender_config(i, fps, 0);
            targets.push(Target {
                stream_id: stream_id(i),
                ssrc: ssrc(i),
                key: insider_key(self.suite, &base_secret(i, self.shared_secret), &stream_id(i), 0)?,
            });
            let seed_of = |c: &LinkConfig, k: u64| LinkConfig { seed: c.seed ^ (k << 32) ^ i as u64, ..c.clone() };
            cams.push(Camera {
                sender: Sender::new(scfg)?,
                life: 0,
                prev_sent: HashMap::new(),
                capture_times: Vec::new(),
                shown: Vec::new(),
                last_shown_capture_us: None,
                fwd: Link::new(seed_of(&self.forward, 1)),
                back: Link::new(seed_of(&self.feedback, 2)),
                // Every camera stops at `seconds`: a late starter streams for less.
                total_frames: ((self.seconds - self.start_offsets_us.get(i).copied().unwrap_or(0) as f64 / 1e6)
                    .max(0.0)
                    * fps)
                    .round() as u64,
                captured: 0,
                next_capture_us: self.start_offsets_us.get(i).copied().unwrap_or(0),
                start_us: self.start_offsets_us.get(i).copied().unwrap_or(0),
                frame_interval: 1e6 / fps,
                source,
                sent: HashMap::new(),
                decoder: if self.measure_psnr && self.codec == Codec::H264 { Some(H264Decoder::new()?) } else { None },
            });
        }
        let intruder = Target {
            stream_id: b"intruder-camera".to_vec(),
            ssrc: 0x0bad_0bad,
            key: insider_key(self.suite, b"the intruder's own base secret..", b"intruder-camera", 0)?,
        };
        let mut adversary = Adversary::new(self.attack, self.seed, targets, intruder);
        let capture_end_us = cams
            .iter()
            .map(|c| c.start_us + (c.total_frames as f64 * c.frame_interval).round() as u64)
            .max()
            .unwrap_or(0);
        // Shares are measured over the second half of the time every camera streams (the
        // first half is for converging).
        let all_streaming_from = cams.iter().map(|c| c.start_us).max().unwrap_or(0);
        let all_streaming_from = all_streaming_from + capture_end_us.saturating_sub(all_streaming_from) / 2;
        let mut shared = self.shared_bottleneck.then(|| Link::new(self.forward.clone()));
        let mut media_keys: HashMap<(u32, u16, u32), bool> = HashMap::new();
        let mut flow_bytes = vec![0u64; n_cams];
        let end_us = capture_end_us + DRAIN_US;

        let mut src = I420Buffer::default();
        let mut decoded = I420Buffer::default();
        let mut buf = vec![0u8; 9000];
        let mut arriving: Vec<Vec<u8>> = Vec::new();
        let mut delivered: Vec<(u64, Vec<u8>)> = Vec::new();
        // Every frame any camera sent, for the cross-stream check: digest -> camera.
        let mut all_sent: HashMap<[u8; 16], usize> = HashMap::new();
        let codec = match self.codec {
            Codec::H264 => "h264",
            Codec::Av1 => "av1",
        };
        let mut rep = Report { codec, seconds: self.seconds, cameras: n_cams, ..Report::default() };
        rep.stream_memory_bound_bytes = self.receiver_config(0).memory_bound_bytes();
        let mut display_us: Vec<Vec<u64>> = vec![Vec::new(); n_cams];
        let mut output_us: Vec<Vec<u64>> = vec![Vec::new(); n_cams];
        let mut delays = Vec::new();
        let mut psnrs = Vec::new();
        let n_intervals = end_us.div_ceil(SERIES_INTERVAL_US) as usize + 1;
        let mut sent_bytes = vec![0u64; n_intervals];
        let mut delivered_bytes = vec![0u64; n_intervals];
        let mut delay_sum = vec![(0f64, 0u32); n_intervals];
        let mut target = vec![0u64; n_intervals];
        let slot = |t: u64| ((t / SERIES_INTERVAL_US) as usize).min(n_intervals - 1);

        let mut restart_camera_at = self.restart_camera_at_us;
        let mut restart_hub_at = self.restart_hub_at_us;
        let mut restarts: Vec<(&'static str, u64)> = Vec::new();
        let mut recording: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut replay_next = 0usize;
        let mut retired_stats: Vec<ReceiverStats> = Vec::new();
        let mut retired_senders: Vec<SenderStats> = Vec::new();
        let mut retired_unknown = 0u64;

        let mut now = 0u64;
        while now <= end_us {
            if restart_camera_at.is_some_and(|t| now >= t) {
                restart_camera_at = None;
                restarts.push(("camera", now));
                for (i, c) in cams.iter_mut().enumerate() {
                    // Its counters carry over into the report; its state does not.
                    c.life += 1;
                    let cfg = self.sender_config(i, 1e6 / c.frame_interval, c.life);
                    let old = std::mem::replace(&mut c.sender, Sender::new(cfg)?);
                    retired_senders.push(old.stats());
                    c.prev_sent = std::mem::take(&mut c.sent);
                }
            }
            if restart_hub_at.is_some_and(|t| now >= t) {
                restart_hub_at = None;
                restarts.push(("hub", now));
                let old = std::mem::replace(&mut hub, self.hub(n_cams, 1)?);
                retired_stats.extend((0..n_cams).filter_map(|i| old.stream_stats(ssrc(i))));
                retired_unknown += old.stats().unknown_stream;
            }
            if let Some(r) = self.replay_session {
                while let Some((t, p)) = recording.get(replay_next).filter(|(t, _)| r.replay_at_us + t <= now) {
                    rep.replayed_packets += 1;
                    rep.packets_at_hub += 1;
                    let _ = hub.handle_packet(r.replay_at_us + t, p);
                    replay_next += 1;
                }
            }
            for (i, c) in cams.iter_mut().enumerate() {
                if c.captured < c.total_frames && now >= c.next_capture_us {
                    if c.source.next_frame(&mut src)? {
                        rep.frames_captured += 1;
                        c.capture_times.push(now);
                        let outcome = c.sender.push_frame(now, &src.as_capture(now))?;
                        if let FrameOutcome::Queued { frame_id, .. } = outcome {
                            let d = digest(c.sender.last_bitstream());
                            all_sent.insert(d, i);
                            let keep = c.decoder.is_some().then(|| src.clone());
                            c.sent.insert(frame_id, (d, keep));
                        }
                        c.captured += 1;
                        c.next_capture_us = c.start_us + (c.captured as f64 * c.frame_interval).round() as u64;
                    } else {
                        c.total_frames = c.captured;
                    }
                }
                while let Some(n) = c.sender.poll_transmit(now, &mut buf)? {
                    tap.media_sent(i, now, &buf[..n]);
                    sent_bytes[slot(now)] += n as u64;
                    if let Some(k) = rtp_key(&buf[..n]) {
                        media_keys.entry(k).or_insert(false);
                    }
                    match shared.as_mut() {
                        Some(l) => l.send(now, &buf[..n]),
                        None => c.fwd.send(now, &buf[..n]),
                    };
                }
                if shared.is_none() {
                    while c.fwd.deliver(now, |t, p| {
                        delivered_bytes[slot(t)] += p.len() as u64;
                        if t >= all_streaming_from && t < capture_end_us {
                            flow_bytes[i] += p.len() as u64;
                        }
                        delivered.push((t, p.to_vec()));
                    }) {}
                }
            }
            if let Some(l) = shared.as_mut() {
                while l.deliver(now, |t, p| {
                    delivered_bytes[slot(t)] += p.len() as u64;
                    if let Some(i) = rtp_key(p).and_then(|k| (0..n_cams).find(|&i| ssrc(i) == k.0)) {
                        if t >= all_streaming_from && t < capture_end_us {
                            flow_bytes[i] += p.len() as u64;
                        }
                    }
                    delivered.push((t, p.to_vec()));
                }) {}
            }
            for (_, p) in &delivered {
                if let Some(v) = rtp_key(p).and_then(|k| media_keys.get_mut(&k)) {
                    *v = true;
                }
            }
            for (t, p) in delivered.drain(..) {
                arriving.clear();
                adversary.intercept(&p, &mut arriving)?;
                for a in &arriving {
                    rep.packets_at_hub += 1;
                    let _ = hub.handle_packet(t, a);
                    if let Some(r) = self.replay_session {
                        if t < r.record_until_us && recording.len() < REPLAY_MAX_PACKETS {
                            recording.push((t, a.clone()));
                        }
                    }
                }
            }
            hub.handle_timeout(now);
            while let Some(f) = hub.poll_frame() {
                let Some(i) = (0..n_cams).find(|&i| ssrc(i) == f.ssrc) else { continue };
                let frame = f.frame;
                tap.frame_output(i, now, &frame);
                rep.frames_displayed += 1;
                // Shown at its render time (the hub's playout hold, `crate::playout`).
                let shown = frame.render_at_us.max(now);
                display_us[i].push(shown);
                output_us[i].push(now);
                let d_ms = shown.saturating_sub(frame.info.capture_time_us) as f64 / 1000.0;
                delays.push(d_ms);
                let s = &mut delay_sum[slot(shown)];
                s.0 += d_ms;
                s.1 += 1;
                let got = digest(frame.data);
                let c = &mut cams[i];
                let capture = frame.info.capture_time_us;
                if frame.stale {
                    rep.frames_marked_stale += 1;
                } else {
                    if c.last_shown_capture_us.is_some_and(|l| capture <= l) {
                        rep.stale_frames_displayed += 1;
                    }
                    c.last_shown_capture_us = Some(c.last_shown_capture_us.map_or(capture, |l| l.max(capture)));
                    c.shown.push((capture, now));
                }
                let id = frame.info.frame_id;
                let sent = match c.sent.remove(&id) {
                    Some(x) if x.0 == got => Some(x),
                    other => {
                        if let Some(x) = other {
                            c.sent.insert(id, x);
                        }
                        c.prev_sent.remove(&id).filter(|x| x.0 == got)
                    }
                };
                match sent {
                    Some((d, source_pic)) if d == got => {
                        if let (Some(dec), Some(pic)) = (c.decoder.as_mut(), source_pic) {
                            match dec.decode(frame.data, &mut decoded) {
                                Ok(true) => psnrs.extend(psnr(&pic, &decoded)),
                                _ => rep.corrupt_frames_displayed += 1,
                            }
                        }
                    }
                    _ => {
                        if all_sent.get(&got).is_some_and(|&owner| owner != i) {
                            rep.wrong_stream_frames += 1;
                        } else {
                            rep.corrupt_frames_displayed += 1;
                        }
                    }
                }
                let shown = frame.info.frame_id;
                c.sent.retain(|&id, _| id > shown);
            }
            while let Some((fb_ssrc, n)) = hub.poll_feedback(now, &mut buf)? {
                let Some(i) = (0..n_cams).find(|&i| ssrc(i) == fb_ssrc) else { continue };
                tap.feedback_sent(i, now, &buf[..n]);
                cams[i].back.send(now, &buf[..n]);
            }
            for c in cams.iter_mut() {
                let sender = &mut c.sender;
                while c.back.deliver(now, |t, p| {
                    let _ = sender.handle_feedback(t, p);
                }) {}
            }
            target[slot(now)] =
                cams.iter().filter(|c| now >= c.start_us).map(|c| c.sender.target_bitrate_bps() as u64).sum();
            for i in 0..n_cams {
                let m = hub.stream(ssrc(i)).map_or(0, |r| r.memory_in_use_bytes());
                rep.max_stream_memory_bytes = rep.max_stream_memory_bytes.max(m);
            }

            let mut next = end_us + 1;
            for c in &cams {
                if c.captured < c.total_frames {
                    next = next.min(c.next_capture_us);
                }
                for t in
                    [c.sender.poll_timeout(), c.fwd.next_delivery_us(), c.back.next_delivery_us()].into_iter().flatten()
                {
                    next = next.min(t);
                }
            }
            if let Some(t) = shared.as_ref().and_then(|l| l.next_delivery_us()) {
                next = next.min(t);
            }
            if let Some(t) = hub.poll_timeout() {
                next = next.min(t);
            }
            for t in [restart_camera_at, restart_hub_at].into_iter().flatten() {
                next = next.min(t);
            }
            if let Some((t, _)) =
                self.replay_session.and_then(|r| recording.get(replay_next).map(|(t, p)| (r.replay_at_us + t, p)))
            {
                next = next.min(t);
            }
            now = next.max(now + 1);
        }

        if let (Capacity::Trace(t), Some(c)) = (&self.forward.capacity, cams.first()) {
            let limit = freeze_limit_us(c.frame_interval).ceil() as u64;
            rep.link_silences = t.silences(0, (self.seconds * 1e6) as u64, limit);
        }
        let mut fwd_in = 0;
        let mut fwd_lost = 0;
        for s in &retired_senders {
            rep.frames_sent += s.frames_sent;
            rep.frames_awaiting_hub += s.frames_awaiting_hub;
            rep.frames_dropped_sender += s.frames_dropped;
            rep.keyframes_sent += s.keyframes;
            rep.collapses += s.collapses;
            rep.bytes_sent += s.bytes_sent;
            rep.retransmissions += s.packets_retransmitted;
            rep.repair_packets_sent += s.repair_packets_sent;
            rep.frames_dropped_congestion += s.frames_dropped_congestion;
            rep.ladder_switches += s.ladder_switches;
            rep.probe_padding_packets += s.probe_padding_packets;
        }
        for rs in &retired_stats {
            rep.plis_sent += rs.plis_sent;
            for (r, k) in rs.rejected.iter() {
                *rep.rejected.entry(r.name()).or_insert(0) += k;
            }
            rep.uncounted_packets +=
                rs.packets_received - rs.packets_accepted - rs.packets_refused - rs.repair_packets_received;
            rep.packets_recovered += rs.packets_recovered;
        }
        for (i, c) in cams.iter().enumerate() {
            let ss = c.sender.stats();
            rep.frames_sent += ss.frames_sent;
            rep.frames_awaiting_hub += ss.frames_awaiting_hub;
            rep.frames_dropped_sender += ss.frames_dropped;
            rep.keyframes_sent += ss.keyframes;
            rep.collapses += ss.collapses;
            rep.collapses_undone += c.sender.abr_state().map_or(0, |a| a.collapses_undone as u64);
            rep.bytes_sent += ss.bytes_sent;
            rep.retransmissions += ss.packets_retransmitted;
            rep.repair_packets_sent += ss.repair_packets_sent;
            let rs = hub.stream_stats(ssrc(i)).expect("stream served");
            rep.packets_recovered += rs.packets_recovered;
            rep.plis_sent += rs.plis_sent;
            for (r, k) in rs.rejected.iter() {
                *rep.rejected.entry(r.name()).or_insert(0) += k;
            }
            rep.uncounted_packets +=
                rs.packets_received - rs.packets_accepted - rs.packets_refused - rs.repair_packets_received;
            let f = freezes(&display_us[i]);
            rep.freezes += f.len() as u64;
            rep.freeze_list.extend(f.iter().map(|&(t, len)| (i, t / 1000, len / 1000)));
            rep.freezes_at_output += count_freezes(&output_us[i]);
            rep.frames_dropped_congestion += ss.frames_dropped_congestion;
            rep.ladder_switches += ss.ladder_switches;
            rep.probe_padding_packets += ss.probe_padding_packets;
            let ls = shared.as_ref().map_or(c.fwd.stats(), |l| if i == 0 { l.stats() } else { Default::default() });
            fwd_in += ls.packets_in;
            fwd_lost += ls.dropped_queue + ls.dropped_random;
        }
        let received: u64 =
            (0..n_cams).map(|i| hub.stream_stats(ssrc(i)).map_or(0, |s| s.packets_received)).sum::<u64>()
                + retired_stats.iter().map(|s| s.packets_received).sum::<u64>();
        let unknown = hub.stats().unknown_stream + retired_unknown;
        rep.uncounted_packets += rep.packets_at_hub - received - unknown;
        *rep.rejected.entry(DropReason::UnknownStream.name()).or_insert(0) += unknown;
        rep.restarts = restarts.iter().map(|&(side, at)| restart_outcome(&cams, side, at)).collect();
        rep.first_frame_ms = restart_outcome(&cams, "hub", 0).first_frame_ms;
        rep.frames_dropped_receiver = rep.frames_sent.saturating_sub(rep.frames_displayed);
        rep.auth_failures = rep.rejected.get("auth").copied().unwrap_or(0);
        rep.replays_rejected = rep.rejected.get("replay").copied().unwrap_or(0);
        rep.attacks = adversary.counts();
        delays.sort_by(f64::total_cmp);
        rep.delay_ms_p50 = percentile(&delays, 0.5);
        rep.delay_ms_p95 = percentile(&delays, 0.95);
        rep.loss_rate = if fwd_in == 0 { 0.0 } else { fwd_lost as f64 / fwd_in as f64 };
        // The link's offer per interval, capped at what the cameras streaming then may send.
        let mut offered_bits = 0f64;
        let mut used_bits = 0f64;
        let capture_intervals = capture_end_us.div_ceil(SERIES_INTERVAL_US) as usize;
        for (k, &delivered) in delivered_bytes.iter().enumerate().take(capture_intervals) {
            let t0 = k as u64 * SERIES_INTERVAL_US;
            let cap = self.forward.capacity.bits_between(t0, t0 + SERIES_INTERVAL_US) as f64;
            let max = self.utilization_cap_bps.unwrap_or(self.bitrate_bps) as f64 * SERIES_INTERVAL_US as f64 / 1e6;
            let active = cams.iter().filter(|c| c.start_us <= t0).count() as f64;
            let offer = if self.shared_bottleneck { cap.min(max * active) } else { cap.min(max) * active };
            offered_bits += offer;
            // Bits delivered beyond the interval's offer (a backlog draining after an
            // outage) do not count: utilization never exceeds 1.
            used_bits += (delivered as f64 * 8.0).min(offer);
        }
        let media_total = media_keys.len() as f64;
        let media_lost = media_keys.values().filter(|&&d| !d).count() as f64;
        rep.post_repair_loss = if media_total > 0.0 { media_lost / media_total } else { 0.0 };
        let span_s = capture_end_us.saturating_sub(all_streaming_from) as f64 / 1e6;
        rep.flow_kbps =
            flow_bytes.iter().map(|&b| if span_s > 0.0 { b as f64 * 8.0 / span_s / 1000.0 } else { 0.0 }).collect();
        rep.jain_index = jain_index(&rep.flow_kbps);
        let capture_slots = (capture_end_us / SERIES_INTERVAL_US).max(1) as usize;
        rep.mean_target_kbps = target[..capture_slots].iter().sum::<u64>() as f64 / capture_slots as f64 / 1000.0;
        rep.utilization = if offered_bits > 0.0 { used_bits / offered_bits } else { 0.0 };
        rep.psnr_db_mean = if psnrs.is_empty() { 0.0 } else { psnrs.iter().sum::<f64>() / psnrs.len() as f64 };
        rep.series = (0..n_intervals)
            .map(|k| SeriesPoint {
                t_ms: k as u64 * SERIES_INTERVAL_US / 1000,
                capacity_bps: self.forward.capacity.at(k as u64 * SERIES_INTERVAL_US)
                    * if self.shared_bottleneck { 1 } else { n_cams as u64 },
                target_bps: target[k],
                sent_bps: sent_bytes[k] * 8 * 1_000_000 / SERIES_INTERVAL_US,
                delay_ms: (delay_sum[k].1 > 0).then(|| delay_sum[k].0 / delay_sum[k].1 as f64),
                delivered_bps: delivered_bytes[k] * 8 * 1_000_000 / SERIES_INTERVAL_US,
            })
            .collect();
        Ok(rep)
    }
}
