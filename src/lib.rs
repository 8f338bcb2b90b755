//! t3sim: a cycle-level simulator of fused compute-collectives hardware
//! (T3: track & trigger, near-memory reduction, memory-controller
//! arbitration) for tensor-parallel GEMM + reduce-scatter.
//!
//! Data flows one way: trace -> engine -> components -> stats -> report.
//!
//! - [`config`]: hardware presets, overrides and validation.
//! - [`trace`]: the trace format, generators and importers.
//! - [`engine`]: the time base (clock domains) and event queue.
//! - [`mem`]: the HBM memory system (controllers, banks, timing, NMC).
//! - [`t3`]: track & trigger: the tracker table.
//! - [`cosim`]: lockstep checking of the Rust models against the RTL.
//! - [`error`]: input errors that name file, line and field.

pub mod config;
pub mod cosim;
pub mod engine;
pub mod error;
pub mod mem;
pub mod t3;
pub mod trace;

pub use error::{Error, InputError, Result};
