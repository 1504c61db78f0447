//! Rate adaptation: how fast the camera may send. This stage holds the pacer that spreads
//! packets at a multiple of the target bitrate; the bandwidth estimator that sets the
//! target from feedback arrives with the adaptive-bitrate work.

pub mod pacer;

pub use pacer::Pacer;
