//! Tensor-parallel sub-layer traces: schema, loading and validation,
//! generators, importers.

pub mod schema;

pub use schema::{DeviceOverride, Dtype, GemmOp, Op, TRACE_VERSION, Trace};
