//! The compute side of a device.
//!
//! - [`gemm`]: a GEMM's tiles, blocks and memory layout.
//! - [`kernel`]: kernels as workgroups of steps (a GEMM's tiles, a
//!   streaming compute kernel).
//! - [`cus`]: the CUs: workgroup slots, FLOPs, the L2, and how launched
//!   kernels share the slots.
//! - [`l2`]: the set-associative L2 cache, with a bypass path for uncached
//!   (T3 output) accesses.

pub mod cus;
pub mod gemm;
pub mod kernel;
pub mod l2;

pub use cus::{Cus, GemmEnv, GemmEvent, GemmStep};
pub use kernel::{GemmKernel, Kernel, StreamKernel};
