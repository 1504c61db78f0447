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
    data: Vec<u8>,
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

    /// Whether `ext` is held or was consumed (so it need not be asked for again).
    pub fn has(&self, ext: u64) -> bool {
        let s = self.slot(ext);
        s.state != SlotState::Empty && s.ext_seq == ext
    }

    /// Stores a packet; returns its unwrapped sequence number.
    pub fn insert(&mut self, p: &RtpView<'_>) -> Result<u64, Refusal> {
        let (&descriptor, body) = p.payload.split_first().ok_or(Refusal::Malformed)?;
        if descriptor & !(DESC_START | DESC_END) != 0
            || body.is_empty()
            || body.len() > self.max_packet_bytes
        {
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
        if slot.state != SlotState::Empty {
            if slot.ext_seq == ext {
                return Err(Refusal::Duplicate);
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
        slot.data.clear();
        if slot.data.capacity() < self.max_packet_bytes {
            slot.data.reserve_exact(self.max_packet_bytes);
        }
        slot.data.extend_from_slice(body);
        self.unwrap.advance(ext);
        Ok(ext)
    }

    fn held(&self, ext: u64, ts: u32, pt: u8) -> Option<&Slot> {
        let s = self.slot(ext);
        (s.state == SlotState::Held
            && s.ext_seq == ext
            && s.timestamp == ts
            && s.payload_type == pt)
            .then_some(s)
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
            self.release(first, last);
            return None;
        }
        out.clear();
        for e in first..=last {
            let i = (e % limit) as usize;
            out.extend_from_slice(&self.slots[i].data);
            self.slots[i].state = SlotState::Consumed;
        }
        Some(Span {
            first,
            last,
            timestamp: ts,
        })
    }

    /// Anchors the ring at `ext`, the last packet of a frame that authenticated.
    pub fn confirm(&mut self, ext: u64) {
        self.anchor = Some(self.anchor.map_or(ext, |a| a.max(ext)));
    }

    /// Whether a frame has authenticated since the last reset.
    pub fn anchored(&self) -> bool {
        self.anchor.is_some()
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

    /// Empties the slots of a span (after its frame failed to authenticate) so that
    /// retransmitted packets can fill them again.
    pub fn release(&mut self, first: u64, last: u64) {
        let n = self.slots.len() as u64;
        for e in first..=last {
            let s = &mut self.slots[(e % n) as usize];
            if s.ext_seq == e {
                s.state = SlotState::Empty;
            }
        }
    }

    /// Bytes the ring holds in packet buffers (at most `slots x max_packet_bytes`).
    pub fn buffered_capacity_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.data.capacity()).sum()
    }

    /// The most the ring's packet buffers can hold.
    pub fn capacity_bound_bytes(&self) -> usize {
        self.slots.len() * self.max_packet_bytes
    }
}
