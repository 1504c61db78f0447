//! Network emulation in virtual time, and what a test or the example needs around it: a
//! synthetic camera scene, a pcap writer, and a scenario runner that drives Sender and
//! Receiver through an emulated link and measures what the hub displayed.
//!
//! Guarantees: deterministic from the seed; no wall clock, no sockets, no threads.

pub mod adversary;
pub mod link;
pub mod pcap;
pub mod profiles;
pub mod scenario;
pub mod scene;

pub use link::{Capacity, DeliveryTrace, GilbertElliott, Link, LinkConfig};
pub use profiles::{network, NetworkProfile};
pub use scenario::{Report, Scenario};
pub use scene::{FrameSource, SyntheticScene};
