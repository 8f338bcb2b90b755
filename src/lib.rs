//! t3sim: a cycle-level simulator of fused compute-collectives hardware
//! (T3: track & trigger, near-memory reduction, memory-controller
//! arbitration) for tensor-parallel GEMM + reduce-scatter.
//!
//! Data flows one way: trace -> engine -> components -> stats -> report.
//!
//! - [`config`]: hardware presets, overrides and validation.
//! - [`trace`]: the trace format, generators and importers.
//! - [`engine`]: the time base (clock domains) and event queue.
//! - [`gpu`]: the compute side: the GEMM engine (tiles on CUs), the L2.
//! - [`mem`]: the HBM memory system (controllers, banks, timing, NMC).
//! - [`net`]: links, ports and topologies (ring).
//! - [`t3`]: track & trigger: the tracker, its use, the DMA engines.
//! - [`collective`]: collective algorithms (ring reduce-scatter).
//! - [`modes`]: the execution modes as compositions of a run.
//! - [`sim`]: one run, composed from the components.
//! - [`stats`]: what a run produced, as plain data.
//! - [`replay`]: a trace's baselines and modes in parallel, to a report.
//! - [`cosim`]: lockstep checking of the Rust models against the RTL.
//! - [`error`]: input errors that name file, line and field.
//! - [`report`]: plots (PNG/SVG) and the Perfetto timeline export.
//! - [`sweep`]: parameter sweeps, shards, merge and resume.

pub mod collective;
pub mod config;
pub mod cosim;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod mem;
pub mod modes;
pub mod net;
pub mod replay;
pub mod report;
pub mod sim;
pub mod stats;
pub mod sweep;
pub mod t3;
pub mod trace;

pub use error::{Error, InputError, Result};
