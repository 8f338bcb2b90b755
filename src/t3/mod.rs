//! T3's track-and-trigger hardware.
//!
//! - [`tracker`]: the tracker table at each memory controller (the model
//!   the RTL is checked against).
//! - [`tracking`]: a device's tracker in use: counting updates,
//!   back-pressure, firing.
//! - [`dma`]: the DMA engines that send triggered tiles.

pub mod dma;
pub mod tracker;
pub mod tracking;

pub use dma::{Dma, DmaEnv};
pub use tracker::{Tracker, TrackerError, TrackerIn, TrackerOut};
pub use tracking::{TrackEnv, Tracking, Updates};
