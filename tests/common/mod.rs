//! Helpers shared by the integration tests: a camera that renders the synthetic scene and
//! hands back the packets of each frame.

#![allow(dead_code)]

use sealcam::sim::SyntheticScene;
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
