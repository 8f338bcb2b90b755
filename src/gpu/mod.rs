//! The compute side of a device.
//!
//! - [`gemm`]: a GEMM's tiles, blocks and memory layout.
//! - [`engine`]: the GEMM engine: tiles on CU slots, the K-loop, the L2.
//! - [`l2`]: the set-associative L2 cache, with a bypass path for uncached
//!   (T3 output) accesses.

pub mod engine;
pub mod gemm;
pub mod l2;

pub use engine::{GemmEngine, GemmEnv, GemmEvent, GemmStep};
