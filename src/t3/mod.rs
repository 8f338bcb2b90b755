//! T3's track-and-trigger hardware: the tracker at each memory controller.

pub mod tracker;

pub use tracker::{Tracker, TrackerError, TrackerIn, TrackerOut};
