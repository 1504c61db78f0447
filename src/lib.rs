//! sealcam: a real-time video pipeline kernel library with a stable C ABI.
//!
//! Camera side: capture buffer -> [`convert`] (to I420) -> [`encoders`] (H.264, AV1) ->
//! [`sframe`] (RFC 9605) -> [`wire`] (RTP packets) -> pacer, composed by [`Sender`], with
//! [`rate`] adapting it to the path. Hub side: packets -> reassembly -> SFrame open with the
//! stream's own key -> decodability check -> frames, composed by [`Receiver`] and, for many
//! streams, [`Hub`]. [`sim`] emulates the network in virtual time.
//!
//! Everything is sans-IO: the library never opens a socket and never reads the clock. Time is
//! a `u64` microsecond count the caller passes in. Threads are started only by the encoders
//! and where a config asks for them: rav1e's pool for AV1 (`SenderConfig::encoder_threads`
//! workers, at least one), openh264's workers when `encoder_threads` is above 1, and the
//! two-band conversion pool (`SenderConfig::parallel_conversion`).
//!
//! Each stage can be used alone. Sealing a frame for one stream and opening it on the hub:
//!
//! ```
//! use sealcam::sframe::{stream_metadata, CipherSuite, OpenKey, SealKey};
//!
//! let secret = b"32 bytes provisioned per home...";
//! let suite = CipherSuite::AesGcm128Sha256;
//! let mut seal = SealKey::for_stream(suite, secret, b"front-door", 0)?;
//! let mut open = OpenKey::for_stream(suite, secret, b"front-door", 0)?;
//! let mut metadata = Vec::new();
//! stream_metadata(b"front-door", 0x1234, 90_000, &mut metadata);
//! let (mut sealed, mut frame) = (Vec::new(), Vec::new());
//! seal.seal(&metadata, b"an encoded frame", &mut sealed)?;
//! open.open(&metadata, &sealed, &mut frame)?;
//! assert_eq!(frame, b"an encoded frame");
//!
//! // The same bytes never open for another stream, nor twice.
//! let mut other = OpenKey::for_stream(suite, secret, b"back-door", 0)?;
//! assert!(other.open(&metadata, &sealed, &mut frame).is_err());
//! assert!(open.open(&metadata, &sealed, &mut frame).is_err());
//! # Ok::<(), sealcam::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod abr;
mod codec;
mod error;
#[doc(hidden)]
pub mod ffi;
mod frame;
mod hub;
mod kernels;
mod playout;
mod receiver;
mod rtp;
mod seal;
mod sender;
pub mod sim;

pub use abr::delay::Usage;
pub use abr::AbrState;
pub use codec::{Codec, MAX_BITRATE_BPS, MIN_BITRATE_BPS};
pub use error::{Error, Result};
pub use frame::{packed_i420_len, CaptureFrame, ColorMatrix, I420Buffer, PixelFormat, Plane, MAX_DIMENSION_PX};
pub use hub::{Hub, HubConfig, HubFrame, HubStats, MAX_HUB_STREAMS};
pub use receiver::{DropReason, ReceivedFrame, Receiver, ReceiverConfig, ReceiverStats, RejectCounts};
pub use seal::CipherSuite;
pub use sender::{FrameOutcome, PacketResult, Sender, SenderConfig, SenderStats};

/// SFrame (RFC 9605) used alone: keys, the metadata sealcam binds, and the header and
/// frame-description codecs, for SDKs with their own transport.
pub mod sframe {
    pub use crate::seal::{
        check_stream_id, kid_epoch, kid_session, session_kid, stream_metadata, stream_metadata_into,
        stream_metadata_len, CipherSuite, FrameInfo, Header, OpenKey, SealKey, FRAME_INFO_BYTES, MAX_EPOCH,
        MAX_HEADER_BYTES, MAX_OVERHEAD_BYTES, MAX_STREAM_ID_BYTES,
    };
}

/// The pixel kernels used alone: any capture format to I420, and I420 scaling. Reentrant;
/// the `_planes` forms write caller-owned planes and allocate nothing.
pub mod convert {
    pub use crate::frame::{packed_i420_planes, PackedPlanes};
    pub use crate::kernels::{
        bands_that_pay, scale_i420_bilinear, scale_i420_half, scale_i420_planes, to_i420, to_i420_half,
        to_i420_half_with, to_i420_in_bands, to_i420_planes, to_i420_with,
    };
    /// The scalar references every SIMD path must equal, for tests and benchmarks.
    #[doc(hidden)]
    pub use crate::kernels::{scale_i420_bilinear_scalar, scale_i420_half_scalar, to_i420_half_scalar, to_i420_scalar};
}

/// The software encoders (openh264's H.264, rav1e's AV1) and the H.264 decoder the tests
/// check output with, usable without a [`Sender`].
pub mod encoders {
    pub use crate::codec::av1::{Av1Encoder, Av1Settings};
    pub use crate::codec::h264::{H264Decoder, H264Encoder, H264Settings};
    pub use crate::codec::{EncodedInfo, RateSettings, VideoEncoder};
}

/// The rate controller used alone: feed it transport-wide feedback, read its target.
pub mod rate {
    pub use crate::abr::delay::Usage;
    pub use crate::abr::ladder::{Ladder, LadderChoice};
    pub use crate::abr::{AbrConfig, AbrState, Pacer, RateController};
}

/// The wire formats: RTP packets with the SFrame payload descriptor, and the RTCP feedback
/// sealcam sends (transport-wide CC, NACK, PLI), for hub SDKs with their own RTP stack.
pub mod wire {
    pub use crate::rtp::packet::{self, PacketFields, RtpView, PACKET_OVERHEAD_BYTES};
    pub use crate::rtp::{fec, max_fragment_bytes, packetize, rtcp, twcc, MIN_MTU_BYTES};
}

/// The crate version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
