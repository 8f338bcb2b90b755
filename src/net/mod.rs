//! Inter-device links and the ring topology.
//!
//! - [`link`]: one direction of a link: serialisation at an exact rate,
//!   latency, packets and credit flow control, all event-driven.
//! - [`topology`]: the ring, its link indices, per-device bandwidth skew,
//!   and the analytic ring reduce-scatter time.

pub mod link;
pub mod topology;

pub use link::{Delivery, Link, LinkError, LinkStats};
pub use topology::{Dir, Ring, ring_reduce_scatter_ps};
