//! Helpers shared by the integration tests: a camera that renders the synthetic scene and
//! hands back the packets of each frame.

#![allow(dead_code)]

use sealcam::sframe::{self, FrameInfo, SealKey};
use sealcam::sim::SyntheticScene;
use sealcam::wire::{self, PacketFields};
use sealcam::FrameOutcome;
use sealcam::{Hub, I420Buffer, Receiver, ReceiverConfig, Sender, SenderConfig};

pub const SECRET: &[u8] = b"test base secret, 32 bytes long!";
pub const FRAME_US: u64 = 33_333;

/// A camera driven by hand: each call captures one frame and drains its packets.
pub struct Camera {
    pub tx: Sender,
    scene: SyntheticScene,
    pic: I420Buffer,
    pub n: u64,
    buf: Vec<u8>,
}

impl Camera {
    pub fn new(stream_id: &[u8], ssrc: u32, secret: &[u8]) -> Camera {
        let mut s = SenderConfig::new(stream_id, ssrc, secret);
        s.bitrate_bps = 2_000_000;
        Camera::with_config(s)
    }

    pub fn with_config(cfg: SenderConfig) -> Camera {
        let offset = cfg.ssrc as u64 * 1000;
        Camera {
            tx: Sender::new(cfg).unwrap(),
            scene: SyntheticScene::new(176, 144, 30.0).unwrap().starting_at(offset),
            pic: I420Buffer::default(),
            n: 0,
            buf: vec![0u8; 2048],
        }
    }

    pub fn now(&self) -> u64 {
        self.n * FRAME_US
    }

    /// Gets the hub nonce from `rx` (the handshake a new camera makes).
    pub fn connect(&mut self, rx: &mut Receiver) {
        let now = self.now();
        handshake(
            &mut self.tx,
            rx,
            |rx, p| rx.handle_packet(now, p).is_ok(),
            |rx, b| rx.poll_feedback(now, b).unwrap(),
            now,
        );
    }

    /// Gets the hub nonce from the hub serving this camera's stream.
    pub fn connect_hub(&mut self, hub: &mut Hub) {
        let ssrc = self.tx.config().ssrc;
        let now = self.now();
        handshake(
            &mut self.tx,
            hub,
            |hub, p| hub.handle_packet(now, p).is_ok(),
            |hub, b| hub.poll_feedback(now, b).unwrap().map(|(s, n)| if s == ssrc { n } else { 0 }),
            now,
        );
    }

    /// Captures and encodes one frame; returns its outcome and all its packets (a hello
    /// alone while the camera waits for a hub nonce).
    pub fn next_packets(&mut self) -> (FrameOutcome, Vec<Vec<u8>>) {
        self.scene.render(self.n, &mut self.pic).unwrap();
        let now = self.now();
        let out = self.tx.push_frame(now, &self.pic.as_capture(now)).unwrap();
        self.n += 1;
        let mut pk = Vec::new();
        if self.tx.awaiting_hub() {
            if let Some(len) = self.tx.poll_transmit(now, &mut self.buf).unwrap() {
                pk.push(self.buf[..len].to_vec());
            }
            return (out, pk);
        }
        let mut t = now;
        while let Some(next) = self.tx.poll_timeout() {
            t = t.max(next);
            while let Some(len) = self.tx.poll_transmit(t, &mut self.buf).unwrap() {
                pk.push(self.buf[..len].to_vec());
            }
        }
        (out, pk)
    }
}

/// The hub-nonce handshake at `now`: the sender's hello goes to `deliver`, the feedback
/// `poll` writes comes back to the sender, which must then have its nonce.
pub fn handshake<H>(
    tx: &mut Sender,
    hub: &mut H,
    deliver: impl Fn(&mut H, &[u8]) -> bool,
    poll: impl Fn(&mut H, &mut [u8]) -> Option<usize>,
    now: u64,
) {
    let mut buf = [0u8; 1500];
    let n = tx.poll_transmit(now, &mut buf).unwrap().expect("a hello is due");
    assert!(deliver(hub, &buf[..n]), "the hello was refused");
    while let Some(m) = poll(hub, &mut buf) {
        tx.handle_feedback(now, &buf[..m]).unwrap();
    }
    assert!(!tx.awaiting_hub(), "no hub nonce came back");
}

/// A receiver config for frames sealed by hand ([`sealed_frame`]): keys bound to no session
/// and no hub nonce, as a one-way stream's.
pub fn one_way_receiver(stream_id: &[u8], ssrc: u32, secret: &[u8]) -> ReceiverConfig {
    let mut c = ReceiverConfig::new(stream_id, ssrc, secret);
    c.one_way = true;
    c
}

/// Seals and packetizes a frame with a given description, as a sender of stream
/// `stream_id` (SSRC `ssrc`) would; `seq` is the next RTP sequence number.
pub fn sealed_frame(key: &mut SealKey, stream_id: &[u8], ssrc: u32, info: FrameInfo, seq: &mut u16) -> Vec<Vec<u8>> {
    let mut plain = Vec::new();
    info.encode(&mut plain);
    plain.extend_from_slice(&[0x55; 3000]);
    let ts = (info.frame_id * 3000) as u32;
    let mut md = Vec::new();
    sframe::stream_metadata(stream_id, ssrc, ts, &mut md);
    let mut sealed = Vec::new();
    key.seal(&md, &plain, &mut sealed).unwrap();
    let mut out = Vec::new();
    wire::packetize(&sealed, 1100, |descriptor, marker, chunk| {
        let f = PacketFields { payload_type: 96, seq: *seq, timestamp: ts, ssrc, marker, descriptor };
        let mut p = Vec::new();
        wire::packet::write_packet(&f, chunk, &mut p);
        out.push(p);
        *seq = seq.wrapping_add(1);
    });
    out
}
