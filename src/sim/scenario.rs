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
use crate::receiver::{DropReason, ReceivedFrame, ReceiverConfig};
use crate::seal::CipherSuite;
use crate::sender::{FrameOutcome, Sender, SenderConfig};

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
    /// The sender's (fixed) target bitrate, which is also its maximum.
    pub bitrate_bps: u32,
    /// SFrame cipher suite.
    pub suite: CipherSuite,
    /// Decode displayed frames and measure PSNR.
    pub measure_psnr: bool,
    /// Fraction of media packets the adversary tampers with (0 = no adversary).
    pub attack: f64,
    /// All cameras share one base secret (a misconfiguration the stream binding survives).
    pub shared_secret: bool,
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
            suite: CipherSuite::AesGcm128Sha256,
            measure_psnr: true,
            attack: 0.0,
            shared_secret: false,
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
    /// Frames the hub output.
    pub frames_displayed: u64,
    /// Frames the sender dropped before encoding (queue full).
    pub frames_dropped_sender: u64,
    /// Frames sent but never output by the hub (lost, late or undecodable).
    pub frames_dropped_receiver: u64,
    /// Keyframes sent.
    pub keyframes_sent: u64,
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
    /// Freezes on the displayed timeline (WebRTC's definition).
    pub freezes: u64,
    /// Median capture-to-display delay.
    pub delay_ms_p50: f64,
    /// 95th percentile capture-to-display delay.
    pub delay_ms_p95: f64,
    /// Packets lost on the media link (queue and random) over packets offered.
    pub loss_rate: f64,
    /// Bits delivered to the hub over what the link could have delivered (offer capped at
    /// the sender's maximum bitrate).
    pub utilization: f64,
    /// Mean PSNR (Y, U and V samples together) of displayed frames against the source
    /// (H.264, decoded with openh264; 0 for AV1, which has no in-process decoder here).
    pub psnr_db_mean: f64,
    /// Retransmitted packets.
    pub retransmissions: u64,
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
    if display_us.len() < 2 {
        return 0;
    }
    let gaps: Vec<u64> = display_us.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = gaps.iter().sum::<u64>() as f64 / gaps.len() as f64;
    let limit = (3.0 * mean).max(mean + 150_000.0);
    gaps.iter().filter(|&&g| g as f64 >= limit).count() as u64
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
    fwd: Link,
    back: Link,
    source: Box<dyn FrameSource>,
    total_frames: u64,
    captured: u64,
    next_capture_us: u64,
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
        r
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
        let mut hub = Hub::new(HubConfig { max_streams: n_cams, ..HubConfig::default() });
        let mut cams = Vec::with_capacity(n_cams);
        let mut targets = Vec::with_capacity(n_cams);
        for (i, source) in sources.into_iter().enumerate() {
            let fps = source.fps();
            let mut scfg = SenderConfig::new(&stream_id(i), ssrc(i), &base_secret(i, self.shared_secret));
            scfg.codec = self.codec;
            scfg.suite = self.suite;
            scfg.bitrate_bps = self.bitrate_bps;
            scfg.framerate_fps = fps as f32;
            hub.add_stream(self.receiver_config(i))?;
            targets.push(Target {
                stream_id: stream_id(i),
                ssrc: ssrc(i),
                key: insider_key(self.suite, &base_secret(i, self.shared_secret), &stream_id(i), 0)?,
            });
            let seed_of = |c: &LinkConfig, k: u64| LinkConfig { seed: c.seed ^ (k << 32) ^ i as u64, ..c.clone() };
            cams.push(Camera {
                sender: Sender::new(scfg)?,
                fwd: Link::new(seed_of(&self.forward, 1)),
                back: Link::new(seed_of(&self.feedback, 2)),
                total_frames: (self.seconds * fps).round() as u64,
                captured: 0,
                next_capture_us: 0,
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
        let capture_end_us =
            cams.iter().map(|c| (c.total_frames as f64 * c.frame_interval).round() as u64).max().unwrap_or(0);
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
        let mut delays = Vec::new();
        let mut psnrs = Vec::new();
        let n_intervals = end_us.div_ceil(SERIES_INTERVAL_US) as usize + 1;
        let mut sent_bytes = vec![0u64; n_intervals];
        let mut delivered_bytes = vec![0u64; n_intervals];
        let mut delay_sum = vec![(0f64, 0u32); n_intervals];
        let mut target = vec![0u64; n_intervals];
        let slot = |t: u64| ((t / SERIES_INTERVAL_US) as usize).min(n_intervals - 1);

        let mut now = 0u64;
        while now <= end_us {
            for (i, c) in cams.iter_mut().enumerate() {
                if c.captured < c.total_frames && now >= c.next_capture_us {
                    if c.source.next_frame(&mut src)? {
                        rep.frames_captured += 1;
                        let outcome = c.sender.push_frame(now, &src.as_capture(now))?;
                        if let FrameOutcome::Queued { frame_id, .. } = outcome {
                            let d = digest(c.sender.last_bitstream());
                            all_sent.insert(d, i);
                            let keep = c.decoder.is_some().then(|| src.clone());
                            c.sent.insert(frame_id, (d, keep));
                        }
                        c.captured += 1;
                        c.next_capture_us = (c.captured as f64 * c.frame_interval).round() as u64;
                    } else {
                        c.total_frames = c.captured;
                    }
                }
                while let Some(n) = c.sender.poll_transmit(now, &mut buf)? {
                    tap.media_sent(i, now, &buf[..n]);
                    sent_bytes[slot(now)] += n as u64;
                    c.fwd.send(now, &buf[..n]);
                }
                while c.fwd.deliver(now, |t, p| {
                    delivered_bytes[slot(t)] += p.len() as u64;
                    delivered.push((t, p.to_vec()));
                }) {}
            }
            for (t, p) in delivered.drain(..) {
                arriving.clear();
                adversary.intercept(&p, &mut arriving)?;
                for a in &arriving {
                    rep.packets_at_hub += 1;
                    let _ = hub.handle_packet(t, a);
                }
            }
            hub.handle_timeout(now);
            while let Some(f) = hub.poll_frame() {
                let Some(i) = (0..n_cams).find(|&i| ssrc(i) == f.ssrc) else { continue };
                let frame = f.frame;
                tap.frame_output(i, now, &frame);
                rep.frames_displayed += 1;
                display_us[i].push(now);
                let d_ms = now.saturating_sub(frame.info.capture_time_us) as f64 / 1000.0;
                delays.push(d_ms);
                let s = &mut delay_sum[slot(now)];
                s.0 += d_ms;
                s.1 += 1;
                let got = digest(frame.data);
                let c = &mut cams[i];
                match c.sent.remove(&frame.info.frame_id) {
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
            while let Some(n) = hub.poll_feedback(now, &mut buf)? {
                let Some(i) = crate::rtp::rtcp::parse(&buf[..n]).find_map(|fb| match fb {
                    Ok(crate::rtp::rtcp::Feedback::Nack { media_ssrc, .. })
                    | Ok(crate::rtp::rtcp::Feedback::TransportCc { media_ssrc, .. })
                    | Ok(crate::rtp::rtcp::Feedback::Pli { media_ssrc }) => {
                        (0..n_cams).find(|&i| ssrc(i) == media_ssrc)
                    }
                    _ => None,
                }) else {
                    continue;
                };
                tap.feedback_sent(i, now, &buf[..n]);
                cams[i].back.send(now, &buf[..n]);
            }
            for c in cams.iter_mut() {
                let sender = &mut c.sender;
                while c.back.deliver(now, |t, p| {
                    let _ = sender.handle_feedback(t, p);
                }) {}
            }
            target[slot(now)] = cams.iter().map(|c| c.sender.target_bitrate_bps() as u64).sum();
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
            if let Some(t) = hub.poll_timeout() {
                next = next.min(t);
            }
            now = next.max(now + 1);
        }

        let mut fwd_in = 0;
        let mut fwd_lost = 0;
        for (i, c) in cams.iter().enumerate() {
            let ss = c.sender.stats();
            rep.frames_sent += ss.frames_sent;
            rep.frames_dropped_sender += ss.frames_dropped;
            rep.keyframes_sent += ss.keyframes;
            rep.bytes_sent += ss.bytes_sent;
            rep.retransmissions += ss.packets_retransmitted;
            let rs = hub.stream_stats(ssrc(i)).expect("stream served");
            rep.plis_sent += rs.plis_sent;
            for (r, k) in rs.rejected.iter() {
                *rep.rejected.entry(r.name()).or_insert(0) += k;
            }
            rep.uncounted_packets += rs.packets_received - rs.packets_accepted - rs.packets_refused;
            rep.freezes += count_freezes(&display_us[i]);
            let ls = c.fwd.stats();
            fwd_in += ls.packets_in;
            fwd_lost += ls.dropped_queue + ls.dropped_random;
        }
        let received: u64 = (0..n_cams).map(|i| hub.stream_stats(ssrc(i)).map_or(0, |s| s.packets_received)).sum();
        rep.uncounted_packets += rep.packets_at_hub - received - hub.stats().unknown_stream;
        *rep.rejected.entry(DropReason::UnknownStream.name()).or_insert(0) += hub.stats().unknown_stream;
        rep.frames_dropped_receiver = rep.frames_sent.saturating_sub(rep.frames_displayed);
        rep.auth_failures = rep.rejected.get("auth").copied().unwrap_or(0);
        rep.replays_rejected = rep.rejected.get("replay").copied().unwrap_or(0);
        rep.attacks = adversary.counts();
        delays.sort_by(f64::total_cmp);
        rep.delay_ms_p50 = percentile(&delays, 0.5);
        rep.delay_ms_p95 = percentile(&delays, 0.95);
        rep.loss_rate = if fwd_in == 0 { 0.0 } else { fwd_lost as f64 / fwd_in as f64 };
        let mut offered_bits = 0f64;
        for k in 0..(capture_end_us.div_ceil(SERIES_INTERVAL_US) as usize) {
            let cap = self.forward.capacity.at(k as u64 * SERIES_INTERVAL_US).min(self.bitrate_bps as u64);
            offered_bits += (cap * n_cams as u64) as f64 * SERIES_INTERVAL_US as f64 / 1e6;
        }
        let delivered_bits: f64 = delivered_bytes.iter().sum::<u64>() as f64 * 8.0;
        rep.utilization = if offered_bits > 0.0 { delivered_bits / offered_bits } else { 0.0 };
        rep.psnr_db_mean = if psnrs.is_empty() { 0.0 } else { psnrs.iter().sum::<f64>() / psnrs.len() as f64 };
        rep.series = (0..n_intervals)
            .map(|k| SeriesPoint {
                t_ms: k as u64 * SERIES_INTERVAL_US / 1000,
                capacity_bps: self.forward.capacity.at(k as u64 * SERIES_INTERVAL_US) * n_cams as u64,
                target_bps: target[k],
                sent_bps: sent_bytes[k] * 8 * 1_000_000 / SERIES_INTERVAL_US,
                delay_ms: (delay_sum[k].1 > 0).then(|| delay_sum[k].0 / delay_sum[k].1 as f64),
            })
            .collect();
        Ok(rep)
    }
}
