//! Rate adaptation: how fast the camera may send, from transport-wide feedback.
//!
//! - [`delay`]: send-time groups, trend line, adaptive threshold (GCC's delay detector).
//! - [`aimd`]: additive-increase multiplicative-decrease on the detector's signal.
//! - [`loss`]: loss-based bound that learns the background (non-congestive) loss.
//! - [`probe`]: probe clusters and their results.
//! - [`controller`]: all of it together, with RTT, acknowledged rate, ALR and the
//!   congestion window.
//! - [`ladder`]: resolution and frame rate from the target and the encoder's QP.
//! - [`pacer`]: spreads packets at a multiple of the target.

pub mod aimd;
pub mod controller;
pub mod delay;
pub mod ladder;
pub mod loss;
pub mod pacer;
pub mod probe;

pub use controller::{AbrConfig, AbrState, RateController};
pub use pacer::Pacer;
