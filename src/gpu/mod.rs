//! The compute side of a device.
//!
//! - [`l2`]: the set-associative L2 cache, with a bypass path for uncached
//!   (T3 output) accesses.

pub mod gemm;
pub mod l2;
