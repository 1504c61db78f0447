//! Hub-side reassembly: RTP packets back into whole SFrames, in a fixed ring of slots
//! indexed by sequence number (no allocation once every slot has held a full packet).
//!
//! Guarantees: memory is `slots x max_packet_bytes` whatever arrives; a frame is handed on
//! only when one contiguous run of packets goes from an `S` packet to an `E` packet, all
//! with the same RTP timestamp and payload type; a packet already held or consumed is a
//! duplicate; a packet older than the ring is too late. Once a frame has authenticated, the
//! ring is anchored to it: packets more than half a ring ahead of the newest authenticated
//! packet are refused, so forged sequence numbers cannot sweep real packets out.

use super::packet::{RtpView, SeqUnwrapper, DESC_END, DESC_START};

/// Most packets of one frame whose two candidate bodies are tried in combination (at most
/// 2^6 - 1 extra decryptions of the frame).
pub(crate) const MAX_ALTERNATES: usize = 6;

/// What became of an accepted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored in an empty slot.
    New,
    /// Replaced a different packet under the same number whose header differed (ask the
    /// sender again).
    Replaced,
    /// Kept beside a different body under the same header (one of them was tampered with).
    Alternate,
    /// A third copy matched the alternate body, which replaced the held one.
    Settled,
}

/// Why the reassembler refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Bad descriptor, empty payload or oversized packet.
    Malformed,
    /// Older than anything the ring still covers.
    TooLate,
    /// That sequence number is held already, or was already used in a frame.
    Duplicate,
    /// Further ahead of the last authenticated packet than the ring may move.
    OutOfWindow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum SlotState {
    #[default]
    Empty,
    Held,
    Consumed,
}

#[derive(Debug, Default)]
struct Slot {
    ext_seq: u64,
    state: SlotState,
    timestamp: u32,
    payload_type: u8,
    descriptor: u8,
    arrived_us: u64,
    rerequested: bool,
    /// A second, identical copy arrived: a different copy can no longer replace it.
    confirmed: bool,
    data: Vec<u8>,
    /// A second, different body with the same header: one of the two was tampered with.
    /// The frame is tried with either; a third copy equal to one of them settles it.
    alt: Option<Vec<u8>>,
}

/// A frame whose packets are all present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Unwrapped sequence number of the first packet.
    pub first: u64,
    /// Unwrapped sequence number of the last packet.
    pub last: u64,
    /// RTP timestamp shared by the packets.
    pub timestamp: u32,
    /// When the earliest of its packets arrived.
    pub first_arrived_us: u64,
}

/// The ring of packet slots.
#[derive(Debug)]
pub struct Reassembler {
    slots: Box<[Slot]>,
    unwrap: SeqUnwrapper,
    anchor: Option<u64>,
    max_packet_bytes: usize,
    max_frame_bytes: usize,
}

impl Reassembler {
    /// A ring of `slots` packets of at most `max_packet_bytes` each, assembling frames of
    /// at most `max_frame_bytes`.
    pub fn new(slots: usize, max_packet_bytes: usize, max_frame_bytes: usize) -> Self {
        Reassembler {
            slots: (0..slots.max(2)).map(|_| Slot::default()).collect(),
            unwrap: SeqUnwrapper::default(),
            anchor: None,
            max_packet_bytes,
            max_frame_bytes,
        }
    }

    /// The newest unwrapped sequence number accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.unwrap.last()
    }

    /// The unwrapped value `seq` would get.
    pub fn unwrap_seq(&self, seq: u16) -> u64 {
        self.unwrap.peek(seq)
    }

    fn slot(&self, ext: u64) -> &Slot {
        &self.slots[(ext % self.slots.len() as u64) as usize]
    }

    /// Stores a packet; returns its unwrapped sequence number and what became of it.
    pub fn insert(&mut self, now_us: u64, p: &RtpView<'_>) -> Result<(u64, Inserted), Refusal> {
        let (&descriptor, body) = p.payload.split_first().ok_or(Refusal::Malformed)?;
        if descriptor & !(DESC_START | DESC_END) != 0 || body.is_empty() || body.len() > self.max_packet_bytes {
            return Err(Refusal::Malformed);
        }
        let ext = self.unwrap.peek(p.seq);
        let n = self.slots.len() as u64;
        if self.anchor.is_some_and(|a| ext > a + n / 2) {
            return Err(Refusal::OutOfWindow);
        }
        if let Some(h) = self.unwrap.last() {
            if ext + n <= h {
                return Err(Refusal::TooLate);
            }
        }
        let slot = &mut self.slots[(ext % n) as usize];
        let mut outcome = Inserted::New;
        if slot.state != SlotState::Empty {
            if slot.ext_seq == ext {
                let same_header = slot.timestamp == p.timestamp
                    && slot.payload_type == p.payload_type
                    && slot.descriptor == descriptor;
                let same = same_header && slot.data == body;
                let held = slot.state == SlotState::Held;
                if held && same_header && !same && !slot.confirmed {
                    // Keep both bodies; a third copy decides between them.
                    match slot.alt.as_mut() {
                        Some(alt) if alt.as_slice() == body => {
                            std::mem::swap(&mut slot.data, alt);
                            slot.alt = None;
                            slot.confirmed = true;
                            return Ok((ext, Inserted::Settled));
                        }
                        Some(alt) => {
                            alt.clear();
                            alt.extend_from_slice(body);
                        }
                        None => {
                            let mut alt = Vec::with_capacity(self.max_packet_bytes);
                            alt.extend_from_slice(body);
                            slot.alt = Some(alt);
                        }
                    }
                    return Ok((ext, Inserted::Alternate));
                }
                if same && held {
                    slot.confirmed = true;
                    slot.alt = None;
                }
                if same || slot.state == SlotState::Consumed || slot.confirmed {
                    return Err(Refusal::Duplicate);
                }
                // Two different packets claim one sequence number: one is forged or tampered.
                // Keep the newer (unless two equal copies confirmed the held one) and let the
                // caller ask the sender again, so a bad packet that arrived first cannot keep
                // the real one out.
                outcome = Inserted::Replaced;
            }
            if slot.ext_seq > ext {
                return Err(Refusal::TooLate);
            }
        }
        slot.ext_seq = ext;
        slot.state = SlotState::Held;
        slot.timestamp = p.timestamp;
        slot.payload_type = p.payload_type;
        slot.descriptor = descriptor;
        slot.arrived_us = now_us;
        slot.rerequested = false;
        slot.confirmed = false;
        slot.alt = None;
        slot.data.clear();
        if slot.data.capacity() < self.max_packet_bytes {
            slot.data.reserve_exact(self.max_packet_bytes);
        }
        slot.data.extend_from_slice(body);
        self.unwrap.advance(ext);
        Ok((ext, outcome))
    }

    /// Up to `MAX_ALTERNATES` packets of a span that hold two candidate bodies.
    pub fn alternates(&self, span: &Span, out: &mut Vec<u64>) {
        out.clear();
        out.extend((span.first..=span.last).filter(|&e| self.slot(e).alt.is_some()).take(MAX_ALTERNATES));
    }

    /// Assembles a span into `out`, taking the alternate body of `alts[i]` where bit `i` of
    /// `mask` is set.
    pub fn assemble_with(&self, span: &Span, alts: &[u64], mask: u32, out: &mut Vec<u8>) {
        out.clear();
        for e in span.first..=span.last {
            let s = self.slot(e);
            let pick = alts.iter().position(|&a| a == e).is_some_and(|i| mask & (1 << i) != 0);
            match (&s.alt, pick) {
                (Some(alt), true) => out.extend_from_slice(alt),
                _ => out.extend_from_slice(&s.data),
            }
        }
    }

    /// Makes the chosen alternates the bodies (after the frame authenticated with them).
    pub fn commit_alternates(&mut self, alts: &[u64], mask: u32) {
        let n = self.slots.len() as u64;
        for (i, &e) in alts.iter().enumerate() {
            let s = &mut self.slots[(e % n) as usize];
            if let Some(mut alt) = s.alt.take() {
                if mask & (1 << i) != 0 {
                    std::mem::swap(&mut s.data, &mut alt);
                }
            }
        }
    }

    fn held(&self, ext: u64, ts: u32, pt: u8) -> Option<&Slot> {
        let s = self.slot(ext);
        (s.state == SlotState::Held && s.ext_seq == ext && s.timestamp == ts && s.payload_type == pt).then_some(s)
    }

    /// If the packet `ext` completes a frame, copies the frame's SFrame bytes into `out`
    /// (cleared first), marks its packets consumed and returns its span.
    pub fn take_frame(&mut self, ext: u64, out: &mut Vec<u8>) -> Option<Span> {
        let s = self.held(ext, self.slot(ext).timestamp, self.slot(ext).payload_type)?;
        let (ts, pt) = (s.timestamp, s.payload_type);
        let limit = self.slots.len() as u64;
        let mut first = ext;
        while self.held(first, ts, pt)?.descriptor & DESC_START == 0 {
            if first == 0 || ext - first + 1 >= limit {
                return None;
            }
            first -= 1;
        }
        let mut last = ext;
        while self.held(last, ts, pt)?.descriptor & DESC_END == 0 {
            if last - first + 1 >= limit {
                return None;
            }
            last += 1;
        }
        // An S or E bit inside the run would splice two frames: refuse it.
        for e in first..=last {
            let d = self.slot(e).descriptor;
            if (e != first && d & DESC_START != 0) || (e != last && d & DESC_END != 0) {
                return None;
            }
        }
        let total: usize = (first..=last).map(|e| self.slot(e).data.len()).sum();
        if total > self.max_frame_bytes {
            self.set_state(first, last, SlotState::Empty);
            return None;
        }
        out.clear();
        let mut first_arrived_us = u64::MAX;
        for e in first..=last {
            let i = (e % limit) as usize;
            out.extend_from_slice(&self.slots[i].data);
            self.slots[i].state = SlotState::Consumed;
            first_arrived_us = first_arrived_us.min(self.slots[i].arrived_us);
        }
        Some(Span { first, last, timestamp: ts, first_arrived_us })
    }

    /// Calls `f` for every packet still held below `before` (the first packet of a frame
    /// that completed) that arrived at least `min_age_us` ago, was not re-requested yet, and
    /// does not fit its neighbours: a timestamp unlike both neighbours that agree with each
    /// other, or a start/end bit inside a run of one timestamp, or a timestamp change without
    /// an end bit before it and a start bit on it. Such a packet keeps its frame from ever
    /// completing (a tampered header, or a forged packet in a real one's place); asking again
    /// lets the real copy replace it. For a held packet that does not start a frame and has
    /// nothing before it, `f` gets the sequence number before it (a lost first packet).
    pub fn stale_held(&mut self, before: u64, now_us: u64, min_age_us: u64, mut f: impl FnMut(u64)) {
        let n = self.slots.len() as u64;
        let lo = before.saturating_sub(n - 1);
        for e in lo..before {
            let s = self.slot(e);
            if s.state != SlotState::Held
                || s.ext_seq != e
                || s.rerequested
                || now_us.saturating_sub(s.arrived_us) < min_age_us
            {
                continue;
            }
            let neighbour = |x: u64| {
                let t = self.slot(x);
                (t.ext_seq == x && t.state != SlotState::Empty).then_some((t.timestamp, t.descriptor))
            };
            let (ts, d) = (s.timestamp, s.descriptor);
            let prev = if e > 0 { neighbour(e - 1) } else { None };
            let next = neighbour(e + 1);
            let odd_ts = matches!((prev, next), (Some((a, _)), Some((b, _))) if a == b && a != ts);
            let bad_start = prev.is_some_and(|(pt, pd)| {
                if pt == ts {
                    d & DESC_START != 0 || pd & DESC_END != 0
                } else {
                    d & DESC_START == 0 || pd & DESC_END == 0
                }
            });
            let bad_end = next.is_some_and(|(nt, _)| nt == ts && d & DESC_END != 0);
            // A frame whose first packets never arrived (lost before the first packet the
            // hub saw, so no gap announced them): ask for the packet before.
            let missing_start = d & DESC_START == 0 && prev.is_none() && e > 0;
            if odd_ts || bad_start || bad_end || missing_start {
                let i = (e % n) as usize;
                self.slots[i].rerequested = true;
                if missing_start {
                    f(e - 1);
                } else {
                    f(e);
                }
            }
        }
    }

    /// Anchors the ring at `ext`, the last packet of a frame that authenticated.
    pub fn confirm(&mut self, ext: u64) {
        self.anchor = Some(self.anchor.map_or(ext, |a| a.max(ext)));
    }

    /// Forgets every packet and the anchor (resynchronisation after a long outage). Buffers
    /// are kept.
    pub fn reset(&mut self) {
        for s in self.slots.iter_mut() {
            s.state = SlotState::Empty;
        }
        self.unwrap = SeqUnwrapper::default();
        self.anchor = None;
    }

    /// Puts the packets of a span back (after its frame failed to authenticate). They stay
    /// held: a retransmitted copy equal to one of them is a duplicate, a different copy
    /// replaces it (see [`Reassembler::insert`]) and the frame is tried again. So only the
    /// tampered packets of a frame are replaced, however many packets it has.
    pub fn unconsume(&mut self, first: u64, last: u64) {
        self.set_state(first, last, SlotState::Held);
    }

    /// Whether the packet `ext` is held and confirmed by a second identical copy.
    pub fn is_confirmed(&self, ext: u64) -> bool {
        let s = self.slot(ext);
        s.ext_seq == ext && s.state == SlotState::Held && s.confirmed
    }

    fn set_state(&mut self, first: u64, last: u64, state: SlotState) {
        let n = self.slots.len() as u64;
        for e in first..=last {
            let s = &mut self.slots[(e % n) as usize];
            if s.ext_seq == e {
                s.state = state;
            }
        }
    }

    /// Bytes the ring holds in packet buffers (at most `2 x slots x max_packet_bytes`).
    pub fn buffered_capacity_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.data.capacity() + s.alt.as_ref().map_or(0, Vec::capacity)).sum()
    }
}
