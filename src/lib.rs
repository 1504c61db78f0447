//! sealcam: a real-time video pipeline kernel library with a stable C ABI.
//!
//! Camera side: capture buffer -> [`kernels`] (to I420) -> [`codec`] (H.264) -> [`seal`]
//! (SFrame, RFC 9605) -> [`rtp`] (packets) -> pacer, composed by [`Sender`].
//! Hub side: packets -> reassembly -> SFrame open with the stream's own key -> decodability
//! check -> frames, composed by [`Receiver`]. [`sim`] emulates the network in virtual time.
//!
//! Everything is sans-IO: the library never opens a socket, never reads the clock and never
//! spawns a thread. Time is a `u64` microsecond count the caller passes in.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod abr;
pub mod codec;
pub mod error;
pub mod ffi;
pub mod frame;
pub mod kernels;
pub mod receiver;
pub mod rtp;
pub mod seal;
pub mod sender;
pub mod sim;

pub use codec::Codec;
pub use error::{Error, Result};
pub use frame::{CaptureFrame, I420Buffer, PixelFormat, Plane};
pub use receiver::{ReceivedFrame, Receiver, ReceiverConfig};
pub use seal::CipherSuite;
pub use sender::{Sender, SenderConfig};

/// The crate version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
