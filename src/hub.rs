//! The hub: one object that receives packets for many camera streams, routes each by SSRC
//! to that stream's own [`Receiver`], and hands out frames labelled with the stream they
//! authenticated for.
//!
//! Guarantees: nothing is shared between streams. Each stream has its own keys, replay
//! windows, packet ring, frame buffers and memory bound (checked against the hub's per-stream
//! limit when the stream is added). A packet for an SSRC the hub does not serve is dropped
//! and counted; it touches no stream's state. Streams are added and removed at run time;
//! removing one destroys its keys and buffers.

use std::collections::HashMap;

use crate::error::{invalid, Result};
use crate::receiver::{DropReason, ReceivedFrame, Receiver, ReceiverConfig, ReceiverStats};
use crate::rtp::RtpView;

/// Hub limits.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct HubConfig {
    /// Most streams served at once.
    pub max_streams: usize,
    /// Largest memory bound a stream's receiver config may have.
    pub max_stream_memory_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig { max_streams: 256, max_stream_memory_bytes: 64 << 20 }
    }
}

/// Most streams one hub serves (each has its own state; the SSRC map is sized by it).
pub const MAX_HUB_STREAMS: usize = 65536;

/// A frame from one of the hub's streams.
#[derive(Debug, Clone, Copy)]
pub struct HubFrame<'a> {
    /// The stream identity the frame authenticated for.
    pub stream_id: &'a [u8],
    /// The stream's SSRC.
    pub ssrc: u32,
    /// The frame.
    pub frame: ReceivedFrame<'a>,
}

/// Hub-level counters (per-stream counters live in each stream's [`ReceiverStats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubStats {
    /// Packets for no stream the hub serves (or too short to carry an SSRC).
    pub unknown_stream: u64,
}

/// Many streams, one object.
pub struct Hub {
    cfg: HubConfig,
    streams: Vec<Receiver>,
    by_ssrc: HashMap<u32, usize>,
    next_frame: usize,
    next_feedback: usize,
    stats: HubStats,
}

impl Hub {
    /// An empty hub. Refused when `max_streams` is 0 or over [`MAX_HUB_STREAMS`], or the
    /// per-stream memory limit is under 64 KiB: no stream could be served.
    pub fn new(cfg: HubConfig) -> Result<Self> {
        if !(1..=MAX_HUB_STREAMS).contains(&cfg.max_streams) {
            return Err(invalid!("max_streams {} is outside 1 to {MAX_HUB_STREAMS}", cfg.max_streams));
        }
        if cfg.max_stream_memory_bytes < 64 << 10 {
            return Err(invalid!("a per-stream memory limit of {} bytes is under 64 KiB", cfg.max_stream_memory_bytes));
        }
        Ok(Hub {
            cfg,
            streams: Vec::new(),
            by_ssrc: HashMap::new(),
            next_frame: 0,
            next_feedback: 0,
            stats: HubStats::default(),
        })
    }

    /// Starts serving a stream. Refused when its SSRC or stream id is already served, when
    /// the hub is full, or when the config's memory bound exceeds the per-stream limit.
    pub fn add_stream(&mut self, cfg: ReceiverConfig) -> Result<()> {
        if self.by_ssrc.contains_key(&cfg.ssrc) {
            return Err(invalid!("SSRC {:#010x} is already served", cfg.ssrc));
        }
        if self.streams.iter().any(|r| r.config().stream_id == cfg.stream_id) {
            return Err(invalid!("stream id {:?} is already served", String::from_utf8_lossy(&cfg.stream_id)));
        }
        if self.streams.len() >= self.cfg.max_streams {
            return Err(invalid!("the hub serves its maximum of {} streams", self.cfg.max_streams));
        }
        if cfg.memory_bound_bytes() > self.cfg.max_stream_memory_bytes {
            return Err(invalid!(
                "stream memory bound {} bytes exceeds the hub's per-stream limit {}",
                cfg.memory_bound_bytes(),
                self.cfg.max_stream_memory_bytes
            ));
        }
        let ssrc = cfg.ssrc;
        self.streams.push(Receiver::new(cfg)?);
        self.by_ssrc.insert(ssrc, self.streams.len() - 1);
        Ok(())
    }

    /// Stops serving a stream; its keys and buffers are destroyed. Returns whether it existed.
    pub fn remove_stream(&mut self, ssrc: u32) -> bool {
        let Some(i) = self.by_ssrc.remove(&ssrc) else {
            return false;
        };
        self.streams.swap_remove(i);
        if let Some(moved) = self.streams.get(i) {
            self.by_ssrc.insert(moved.config().ssrc, i);
        }
        true
    }

    /// Number of streams served.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// A stream's receiver, for its stats or a rekey.
    pub fn stream(&self, ssrc: u32) -> Option<&Receiver> {
        self.by_ssrc.get(&ssrc).map(|&i| &self.streams[i])
    }

    /// A stream's receiver, mutable (for [`Receiver::install_key`]).
    pub fn stream_mut(&mut self, ssrc: u32) -> Option<&mut Receiver> {
        self.by_ssrc.get(&ssrc).map(|&i| &mut self.streams[i])
    }

    /// Per-stream counters of a stream.
    pub fn stream_stats(&self, ssrc: u32) -> Option<ReceiverStats> {
        self.stream(ssrc).map(Receiver::stats)
    }

    /// Hub-level counters.
    pub fn stats(&self) -> HubStats {
        self.stats
    }

    /// Routes one RTP datagram to its stream. Returns the SSRC it was routed to, or why it
    /// was dropped (counted in the hub's or the stream's stats).
    pub fn handle_packet(&mut self, now_us: u64, datagram: &[u8]) -> std::result::Result<u32, DropReason> {
        // A FEC repair packet names the stream it protects in its CSRC (RFC 8627 4.2.1);
        // sealcam's media packets carry none.
        let route = crate::rtp::fec::protected_ssrc(datagram).or_else(|| RtpView::peek_ssrc(datagram));
        let Some(&i) = route.and_then(|s| self.by_ssrc.get(&s)) else {
            self.stats.unknown_stream += 1;
            return Err(DropReason::UnknownStream);
        };
        let r = &mut self.streams[i];
        r.handle_packet(now_us, datagram).map(|()| r.config().ssrc)
    }

    /// Advances every stream's timers.
    pub fn handle_timeout(&mut self, now_us: u64) {
        for r in &mut self.streams {
            r.handle_timeout(now_us);
        }
    }

    /// The next frame of any stream, taking streams in turn.
    pub fn poll_frame(&mut self) -> Option<HubFrame<'_>> {
        let n = self.streams.len();
        let i = (0..n).map(|k| (self.next_frame + k) % n).find(|&i| self.streams[i].has_frame())?;
        self.next_frame = (i + 1) % n;
        let r = &mut self.streams[i];
        let ssrc = r.config().ssrc;
        let (stream_id, frame) = r.poll_frame_labeled()?;
        Some(HubFrame { stream_id, ssrc, frame })
    }

    /// The next RTCP feedback datagram of any stream due at `now_us`: the SSRC of the stream
    /// it is for (send it to that camera) and its length in `buf`.
    pub fn poll_feedback(&mut self, now_us: u64, buf: &mut [u8]) -> Result<Option<(u32, usize)>> {
        let n = self.streams.len();
        for k in 0..n {
            let i = (self.next_feedback + k) % n;
            if let Some(len) = self.streams[i].poll_feedback(now_us, buf)? {
                self.next_feedback = (i + 1) % n;
                return Ok(Some((self.streams[i].config().ssrc, len)));
            }
        }
        Ok(None)
    }

    /// The earliest time any stream has timer work.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.streams.iter().filter_map(Receiver::poll_timeout).min()
    }
}
