//! t3sim: a cycle-level simulator of fused compute-collectives hardware
//! (T3: track & trigger, near-memory reduction, memory-controller
//! arbitration) for tensor-parallel GEMM + reduce-scatter.
//!
//! Data flows one way: trace -> engine -> components -> stats -> report.
//!
//! - [`config`]: hardware presets, overrides and validation.
//! - [`trace`]: the trace format, generators and importers.
//! - [`engine`]: the time base (clock domains) and event queue.
//! - [`gpu`]: the compute side (L2 cache).
//! - [`mem`]: the HBM memory system (controllers, banks, timing, NMC).
//! - [`net`]: inter-device links and the ring topology.
//! - [`t3`]: track & trigger: the tracker table.
//! - [`cosim`]: lockstep checking of the Rust models against the RTL.
//! - [`error`]: input errors that name file, line and field.
//! - [`report`]: plots (PNG/SVG) and the Perfetto timeline export.
//! - [`sweep`]: parameter sweeps, shards, merge and resume.

pub mod config;
pub mod cosim;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod mem;
pub mod modes;
pub mod net;
pub mod report;
pub mod sweep;
pub mod t3;
pub mod trace;

pub use error::{Error, InputError, Result};
