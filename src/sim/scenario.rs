//! The camera-to-hub scenario runner: one camera's [`Sender`] and the hub's [`Receiver`]
//! joined by two emulated [`Link`]s (media forward, RTCP back), driven in virtual time.
//!
//! It measures what a person at the hub would see, independently of the receiver's own
//! counters: every frame the hub outputs is compared with what the sender produced for that
//! frame id (a SHA-256 of the bitstream), decoded, and compared with the source picture.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use super::link::{Capacity, Link, LinkConfig};
use super::scene::FrameSource;
use crate::codec::{Codec, H264Decoder};
use crate::error::{Error, Result};
use crate::frame::I420Buffer;
use crate::receiver::{DropReason, ReceivedFrame, Receiver, ReceiverConfig};
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
}

impl Scenario {
    /// A clean link: `capacity_bps`, `delay_ms` one way, `queue_ms` drop-tail, random `loss`.
    pub fn simple(
        seconds: f64,
        capacity_bps: u64,
        delay_ms: u64,
        queue_ms: u64,
        loss: f64,
        seed: u64,
    ) -> Self {
        let forward = LinkConfig {
            loss,
            ..LinkConfig::new(
                Capacity::Fixed(capacity_bps),
                delay_ms * 1000,
                queue_ms * 1000,
                seed,
            )
        };
        let feedback = LinkConfig::new(
            Capacity::Fixed(10_000_000),
            delay_ms * 1000,
            1_000_000,
            seed ^ 0xfeed,
        );
        Scenario {
            codec: Codec::H264,
            seconds,
            seed,
            forward,
            feedback,
            bitrate_bps: 1_000_000,
            suite: CipherSuite::AesGcm128Sha256,
            measure_psnr: true,
        }
    }
}

/// Observers of what crosses the link and what the hub outputs (pcap files, bitstreams).
pub trait Tap {
    /// A media packet left the camera at `t_us`.
    fn media_sent(&mut self, _t_us: u64, _packet: &[u8]) {}
    /// A feedback packet left the hub at `t_us`.
    fn feedback_sent(&mut self, _t_us: u64, _packet: &[u8]) {}
    /// The hub output a frame at `t_us`.
    fn frame_output(&mut self, _t_us: u64, _frame: &ReceivedFrame<'_>) {}
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
    /// Mean PSNR (Y, U and V samples together) of displayed frames against the source.
    pub psnr_db_mean: f64,
    /// Retransmitted packets.
    pub retransmissions: u64,
    /// PLIs the hub sent.
    pub plis_sent: u64,
    /// Per-interval samples.
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

/// Identity and secret of the camera the runner uses.
pub const STREAM_ID: &[u8] = b"camera-0";
/// The SSRC of that camera.
pub const SSRC: u32 = 0x5ea1_0000;
/// The runner's base secret (tests only; real deployments provision their own).
pub const BASE_SECRET: &[u8] = b"sealcam example base secret 0001";

impl Scenario {
    /// Runs the scenario with frames from `source`.
    pub fn run(&self, source: &mut dyn FrameSource, tap: &mut dyn Tap) -> Result<Report> {
        if !(self.seconds > 0.0 && self.seconds <= 24.0 * 3600.0) {
            return Err(Error::InvalidInput(format!(
                "duration {} s is not positive",
                self.seconds
            )));
        }
        let fps = source.fps();
        let mut scfg = SenderConfig::new(STREAM_ID, SSRC, BASE_SECRET);
        scfg.codec = self.codec;
        scfg.suite = self.suite;
        scfg.bitrate_bps = self.bitrate_bps;
        scfg.framerate_fps = fps as f32;
        let mut rcfg = ReceiverConfig::new(STREAM_ID, SSRC, BASE_SECRET);
        rcfg.codec = self.codec;
        rcfg.suite = self.suite;
        let mut sender = Sender::new(scfg)?;
        let mut receiver = Receiver::new(rcfg)?;
        let mut fwd = Link::new(self.forward.clone());
        let mut back = Link::new(self.feedback.clone());
        let mut decoder = if self.measure_psnr && self.codec == Codec::H264 {
            Some(H264Decoder::new()?)
        } else {
            None
        };

        let total_frames = (self.seconds * fps).round() as u64;
        let capture_at = |i: u64| (i as f64 * 1e6 / fps).round() as u64;
        let capture_end_us = capture_at(total_frames);
        let end_us = capture_end_us + DRAIN_US;
        let mut src = I420Buffer::default();
        let mut decoded = I420Buffer::default();
        let mut buf = vec![0u8; 9000];
        // frame id -> (bitstream digest, source picture)
        let mut sent: HashMap<u64, ([u8; 16], Option<I420Buffer>)> = HashMap::new();
        let mut rep = Report {
            codec: "h264",
            seconds: self.seconds,
            ..Report::default()
        };
        let mut display_us = Vec::new();
        let mut delays = Vec::new();
        let mut psnrs = Vec::new();
        let n_intervals = end_us.div_ceil(SERIES_INTERVAL_US) as usize;
        let mut sent_bytes = vec![0u64; n_intervals];
        let mut delivered_bytes = vec![0u64; n_intervals];
        let mut delay_sum = vec![(0f64, 0u32); n_intervals];
        let mut target = vec![0u64; n_intervals];

        let mut now = 0u64;
        let mut next_capture = 0u64;
        let mut captured = 0u64;
        let mut source_done = false;
        while now <= end_us {
            if !source_done && now >= next_capture && captured < total_frames {
                if source.next_frame(&mut src)? {
                    rep.frames_captured += 1;
                    let outcome = sender.push_frame(now, &src.as_capture(now))?;
                    if let FrameOutcome::Queued { frame_id, .. } = outcome {
                        let keep = decoder.is_some().then(|| src.clone());
                        sent.insert(frame_id, (digest(sender.last_bitstream()), keep));
                    }
                } else {
                    source_done = true;
                }
                captured += 1;
                next_capture = capture_at(captured);
            }
            while let Some(n) = sender.poll_transmit(now, &mut buf)? {
                tap.media_sent(now, &buf[..n]);
                sent_bytes[(now / SERIES_INTERVAL_US) as usize] += n as u64;
                fwd.send(now, &buf[..n]);
            }
            while fwd.deliver(now, |t, p| {
                delivered_bytes[(t / SERIES_INTERVAL_US) as usize] += p.len() as u64;
                let _ = receiver.handle_packet(t, p);
            }) {}
            receiver.handle_timeout(now);
            while let Some(f) = receiver.poll_frame() {
                tap.frame_output(now, &f);
                rep.frames_displayed += 1;
                display_us.push(now);
                let d_ms = (now.saturating_sub(f.info.capture_time_us)) as f64 / 1000.0;
                delays.push(d_ms);
                let slot = &mut delay_sum[(now / SERIES_INTERVAL_US) as usize];
                slot.0 += d_ms;
                slot.1 += 1;
                match sent.remove(&f.info.frame_id) {
                    Some((d, source_pic)) if d == digest(f.data) => {
                        if let (Some(dec), Some(pic)) = (decoder.as_mut(), source_pic) {
                            match dec.decode(f.data, &mut decoded) {
                                Ok(true) => psnrs.extend(psnr(&pic, &decoded)),
                                _ => rep.corrupt_frames_displayed += 1,
                            }
                        }
                    }
                    _ => rep.corrupt_frames_displayed += 1,
                }
                // Frames older than the displayed one will never be shown.
                let shown = f.info.frame_id;
                sent.retain(|&id, _| id > shown);
            }
            while let Some(n) = receiver.poll_feedback(now, &mut buf)? {
                tap.feedback_sent(now, &buf[..n]);
                back.send(now, &buf[..n]);
            }
            while back.deliver(now, |t, p| {
                let _ = sender.handle_feedback(t, p);
            }) {}
            target[((now / SERIES_INTERVAL_US) as usize).min(n_intervals - 1)] =
                sender.target_bitrate_bps() as u64;

            let mut next = end_us + 1;
            if !source_done && captured < total_frames {
                next = next.min(next_capture);
            }
            for t in [
                sender.poll_timeout(),
                fwd.next_delivery_us(),
                back.next_delivery_us(),
                receiver.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            {
                next = next.min(t);
            }
            now = next.max(now + 1);
        }

        let ss = sender.stats();
        let rs = receiver.stats();
        rep.frames_sent = ss.frames_sent;
        rep.frames_dropped_sender = ss.frames_dropped;
        rep.frames_dropped_receiver = ss.frames_sent.saturating_sub(rep.frames_displayed);
        rep.keyframes_sent = ss.keyframes;
        rep.bytes_sent = ss.bytes_sent;
        rep.retransmissions = ss.packets_retransmitted;
        rep.plis_sent = rs.plis_sent;
        rep.auth_failures = rs.rejected.get(DropReason::Auth);
        rep.replays_rejected = rs.rejected.get(DropReason::Replay);
        rep.rejected = rs.rejected.iter().map(|(r, n)| (r.name(), n)).collect();
        rep.freezes = count_freezes(&display_us);
        delays.sort_by(f64::total_cmp);
        rep.delay_ms_p50 = percentile(&delays, 0.5);
        rep.delay_ms_p95 = percentile(&delays, 0.95);
        let ls = fwd.stats();
        rep.loss_rate = if ls.packets_in == 0 {
            0.0
        } else {
            (ls.dropped_queue + ls.dropped_random) as f64 / ls.packets_in as f64
        };
        let mut offered_bits = 0f64;
        for i in 0..(capture_end_us.div_ceil(SERIES_INTERVAL_US) as usize) {
            let cap = self
                .forward
                .capacity
                .at(i as u64 * SERIES_INTERVAL_US)
                .min(self.bitrate_bps as u64);
            offered_bits += cap as f64 * SERIES_INTERVAL_US as f64 / 1e6;
        }
        let delivered_bits: f64 = delivered_bytes.iter().sum::<u64>() as f64 * 8.0;
        rep.utilization = if offered_bits > 0.0 {
            delivered_bits / offered_bits
        } else {
            0.0
        };
        rep.psnr_db_mean = if psnrs.is_empty() {
            0.0
        } else {
            psnrs.iter().sum::<f64>() / psnrs.len() as f64
        };
        rep.series = (0..n_intervals)
            .map(|i| SeriesPoint {
                t_ms: i as u64 * SERIES_INTERVAL_US / 1000,
                capacity_bps: self.forward.capacity.at(i as u64 * SERIES_INTERVAL_US),
                target_bps: target[i],
                sent_bps: sent_bytes[i] * 8 * 1_000_000 / SERIES_INTERVAL_US,
                delay_ms: (delay_sum[i].1 > 0).then(|| delay_sum[i].0 / delay_sum[i].1 as f64),
            })
            .collect();
        Ok(rep)
    }
}
