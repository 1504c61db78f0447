//! sealcam: a real-time video pipeline kernel library with a stable C ABI.
//!
//! Camera side: capture buffer -> [`kernels`] (to I420) -> [`codec`] (H.264) -> [`seal`]
//! (SFrame, RFC 9605) -> [`rtp`] (packets) -> pacer, composed by [`Sender`].
//! Hub side: packets -> reassembly -> SFrame open with the stream's own key -> decodability
//! check -> frames, composed by [`Receiver`]. [`sim`] emulates the network in virtual time.
//!
//! Everything is sans-IO: the library never opens a socket, never reads the clock and never
//! spawns a thread. Time is a `u64` microsecond count the caller passes in.
//!
//! Each stage can be used alone. Sealing a frame for one stream and opening it on the hub:
//!
//! ```
//! use sealcam::seal::{stream_metadata, CipherSuite, OpenKey, SealKey};
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

pub mod abr;
pub mod codec;
pub mod error;
pub mod ffi;
pub mod frame;
pub mod hub;
pub mod kernels;
pub mod playout;
pub mod receiver;
pub mod rtp;
pub mod seal;
pub mod sender;
pub mod sim;

pub use codec::Codec;
pub use error::{Error, Result};
pub use frame::{CaptureFrame, ColorMatrix, I420Buffer, PixelFormat, Plane};
pub use hub::{Hub, HubConfig, HubFrame};
pub use receiver::{ReceivedFrame, Receiver, ReceiverConfig};
pub use seal::CipherSuite;
pub use sender::{Sender, SenderConfig};

/// The crate version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
