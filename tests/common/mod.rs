//! Helpers shared by the integration tests: a camera that renders the synthetic scene and
//! hands back the packets of each frame.

#![allow(dead_code)]

use sealcam::sframe::{self, FrameInfo, SealKey};
use sealcam::sim::SyntheticScene;
use sealcam::wire::{self, PacketFields};
use sealcam::FrameOutcome;
use sealcam::{I420Buffer, Sender, SenderConfig};

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

    /// Captures and encodes one frame; returns its outcome and all its packets.
    pub fn next_packets(&mut self) -> (FrameOutcome, Vec<Vec<u8>>) {
        self.scene.render(self.n, &mut self.pic).unwrap();
        let now = self.now();
        let out = self.tx.push_frame(now, &self.pic.as_capture(now)).unwrap();
        self.n += 1;
        let mut pk = Vec::new();
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
