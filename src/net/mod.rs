//! Inter-device links, ports and topologies.
//!
//! - [`link`]: one direction of a link: serialisation at an exact rate,
//!   latency, packets and credit flow control, all event-driven.
//! - [`port`]: a device's output port on a link: queued transfers sent
//!   packet by packet.
//! - [`topology`]: the [`Topology`] trait and its implementations (ring),
//!   chosen by name.

pub mod link;
pub mod port;
pub mod topology;

pub use link::{Delivery, Link, LinkError, LinkStats};
pub use port::{Packet, Port};
pub use topology::{Dir, Ring, Topology, ring_reduce_scatter_ps};
