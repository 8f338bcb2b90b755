//! The HBM memory system: address map, channels, banks, timing,
//! per-channel controllers with their schedulers and stream arbitration,
//! refresh, and near-memory updates.

pub mod address;
pub mod arbiter;
pub mod nmc_alu;
pub mod request;
pub mod scheduler;

pub use request::{Completion, Op, Request, Stream, StreamClass};
