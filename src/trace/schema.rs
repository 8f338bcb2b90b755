//! The t3sim trace: one tensor-parallel sub-layer (a GEMM whose per-device
//! output is a partial sum, the reduce-scatter of that output, optionally
//! an all-gather), for a ring of `tp` devices. Stored as versioned JSON;
//! traces/README.md describes the format.

use serde::{Deserialize, Serialize};

/// The format version this build reads and writes.
pub const TRACE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub version: u32,
    /// e.g. `tnlg-tp8-fc2`.
    pub name: String,
    /// Tensor-parallel degree = devices in the ring.
    pub tp: u32,
    /// Operations, in program order. Each names the ops it depends on.
    pub ops: Vec<Op>,
    /// Per-device differences for skew studies (empty: all identical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceOverride>,
    /// Free-form provenance (generator, model, tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    Fp16,
    Bf16,
}

impl Dtype {
    pub fn bytes(self) -> u64 {
        2
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Op {
    /// Per-device GEMM: C[M x N] (partial sum) = A[M x K] * B[K x N].
    Gemm(GemmOp),
    /// Ring reduce-scatter of a GEMM's output.
    ReduceScatter {
        name: String,
        /// The op whose output is reduced.
        input: String,
        #[serde(default)]
        deps: Vec<String>,
    },
    /// Ring all-gather of a reduce-scatter's output.
    AllGather {
        name: String,
        input: String,
        #[serde(default)]
        deps: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GemmOp {
    pub name: String,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub dtype: Dtype,
    /// Output tile (workgroup) shape.
    pub tile_m: u32,
    pub tile_n: u32,
    /// K-loop step of a tile.
    pub tile_k: u32,
    #[serde(default)]
    pub deps: Vec<String>,
}

/// One device that differs from the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceOverride {
    pub device: u32,
    /// Multiplies the device's compute throughput (0.8 = 20 % slower).
    #[serde(default = "one")]
    pub compute_scale: f64,
    /// Multiplies the bandwidth of the device's outgoing link.
    #[serde(default = "one")]
    pub link_bw_scale: f64,
    /// Multiplies the device's DRAM clock (memory bandwidth).
    #[serde(default = "one")]
    pub mem_bw_scale: f64,
}

fn one() -> f64 {
    1.0
}

impl Op {
    pub fn name(&self) -> &str {
        match self {
            Op::Gemm(g) => &g.name,
            Op::ReduceScatter { name, .. } | Op::AllGather { name, .. } => name,
        }
    }

    pub fn deps(&self) -> &[String] {
        match self {
            Op::Gemm(g) => &g.deps,
            Op::ReduceScatter { deps, .. } | Op::AllGather { deps, .. } => deps,
        }
    }
}

impl Trace {
    /// True when no device differs from the others (the ring is symmetric).
    pub fn is_symmetric(&self) -> bool {
        self.devices
            .iter()
            .all(|d| d.compute_scale == 1.0 && d.link_bw_scale == 1.0 && d.mem_bw_scale == 1.0)
    }
}
