//! The HBM memory system: address map, channels, banks, timing,
//! per-channel controllers with their schedulers and stream arbitration,
//! refresh, and near-memory updates.

pub mod address;
pub mod arbiter;
mod bank_queue;
pub mod nmc_alu;
pub mod request;
pub mod scheduler;

pub use request::{Completion, Op, Request, Stream, StreamClass};
pub mod controller;
pub mod stats;
pub mod system;
pub mod timing;

pub use stats::MemStats;
pub use system::{MemorySystem, Reject};
pub mod trace_file;
pub mod trace_replay;
pub mod workload;
