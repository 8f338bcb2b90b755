//! The t3sim trace: one tensor-parallel sub-layer (a GEMM whose per-device
//! output is a partial sum, the reduce-scatter of that output, optionally
//! an all-gather), for a ring of `tp` devices. Stored as versioned JSON;
//! traces/README.md describes the format.
//!
//! The accessors below assume a trace that passed [`super::validate`]
//! (everything [`super::load`], [`super::parse`] and the generators return):
//! sizes then fit in `u64` and divide as documented, so they never saturate.

use serde::{Deserialize, Serialize};

/// The format version this build reads and writes.
pub const TRACE_VERSION: u32 = 1;

/// Largest per-device buffer (GEMM operand or output, collective buffer) a
/// trace may describe: 1 TiB. Keeps every derived size, FLOP count and
/// address well inside `u64`.
pub const MAX_BUFFER_BYTES: u64 = 1 << 40;

/// Largest tensor-parallel degree accepted.
pub const MAX_TP: u32 = 1024;

/// One tensor-parallel sub-layer, replayed on every device of a ring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    /// Format version; must equal [`TRACE_VERSION`].
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

/// Element type of the GEMM output and of the reduced buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// IEEE half precision.
    Fp16,
    /// bfloat16.
    Bf16,
}

impl Dtype {
    /// Bytes per element.
    pub fn bytes(self) -> u64 {
        2
    }
}

/// One operation of the sub-layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Op {
    /// Per-device GEMM: C[M x N] (partial sum) = A[M x K] * B[K x N].
    Gemm(GemmOp),
    /// Ring reduce-scatter of a GEMM's output or of a plain buffer.
    ReduceScatter(ReduceScatterOp),
    /// Ring all-gather of a reduce-scatter's output or of a plain buffer.
    AllGather(AllGatherOp),
}

/// Op kinds as spelled in the `kind` field.
pub const OP_KINDS: [&str; 3] = ["gemm", "reduce-scatter", "all-gather"];

/// A per-device GEMM producing a partial sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GemmOp {
    /// Unique op name.
    pub name: String,
    /// Output rows (tokens). Split into `tp` RS chunks along M.
    pub m: u64,
    /// Output columns (hidden size).
    pub n: u64,
    /// Reduction dimension (sliced by TP).
    pub k: u64,
    /// Element type of A, B and C.
    pub dtype: Dtype,
    /// Output tile (workgroup) rows.
    pub tile_m: u32,
    /// Output tile (workgroup) columns.
    pub tile_n: u32,
    /// K-loop step of a tile.
    pub tile_k: u32,
    /// Ops that must finish first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
}

/// Ring reduce-scatter. Exactly one of `input` and `bytes` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReduceScatterOp {
    /// Unique op name.
    pub name: String,
    /// The GEMM whose output is reduced (T3 fuses with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Size of a plain buffer to reduce, bytes per device (before the RS;
    /// each device ends with `bytes / tp`). Used by imported traces whose
    /// collectives have no GEMM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Ops that must finish first (besides `input`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
}

/// Ring all-gather. Exactly one of `input` and `bytes` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllGatherOp {
    /// Unique op name.
    pub name: String,
    /// The reduce-scatter whose output is gathered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Size of the gathered buffer, bytes per device (after the AG; each
    /// device contributes `bytes / tp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Ops that must finish first (besides `input`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
}

/// One device that differs from the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceOverride {
    /// Device index in the ring, `0..tp`.
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

impl DeviceOverride {
    /// A device like every other (all scales 1).
    pub fn nominal(device: u32) -> Self {
        DeviceOverride {
            device,
            compute_scale: 1.0,
            link_bw_scale: 1.0,
            mem_bw_scale: 1.0,
        }
    }

    /// True when every scale is exactly 1.
    pub fn is_nominal(&self) -> bool {
        self.compute_scale == 1.0 && self.link_bw_scale == 1.0 && self.mem_bw_scale == 1.0
    }
}

impl Op {
    /// The op's unique name.
    pub fn name(&self) -> &str {
        match self {
            Op::Gemm(g) => &g.name,
            Op::ReduceScatter(r) => &r.name,
            Op::AllGather(a) => &a.name,
        }
    }

    /// Explicit dependencies (an RS or AG also depends on its `input`).
    pub fn deps(&self) -> &[String] {
        match self {
            Op::Gemm(g) => &g.deps,
            Op::ReduceScatter(r) => &r.deps,
            Op::AllGather(a) => &a.deps,
        }
    }

    /// The op whose output this op consumes, if any.
    pub fn input(&self) -> Option<&str> {
        match self {
            Op::Gemm(_) => None,
            Op::ReduceScatter(r) => r.input.as_deref(),
            Op::AllGather(a) => a.input.as_deref(),
        }
    }

    /// The `kind` spelling of this op.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Gemm(_) => OP_KINDS[0],
            Op::ReduceScatter(_) => OP_KINDS[1],
            Op::AllGather(_) => OP_KINDS[2],
        }
    }
}

impl GemmOp {
    /// Bytes of the per-device output C (M x N partial sums).
    pub fn output_bytes(&self) -> u64 {
        self.m
            .saturating_mul(self.n)
            .saturating_mul(self.dtype.bytes())
    }

    /// Bytes of the A operand (M x K).
    pub fn a_bytes(&self) -> u64 {
        self.m
            .saturating_mul(self.k)
            .saturating_mul(self.dtype.bytes())
    }

    /// Bytes of the B operand (K x N).
    pub fn b_bytes(&self) -> u64 {
        self.k
            .saturating_mul(self.n)
            .saturating_mul(self.dtype.bytes())
    }

    /// Floating-point operations (an FMA counts as 2).
    pub fn flops(&self) -> u64 {
        2u64.saturating_mul(self.m)
            .saturating_mul(self.n)
            .saturating_mul(self.k)
    }

    /// Output rows in one RS chunk (one stage of T3's staged GEMM).
    pub fn chunk_rows(&self, tp: u32) -> u64 {
        self.m / u64::from(tp.max(1))
    }

    /// Tile rows in one chunk (whole, by validation).
    pub fn tile_rows_per_chunk(&self, tp: u32) -> u64 {
        self.chunk_rows(tp) / u64::from(self.tile_m.max(1))
    }

    /// Tile columns across N; the last one is partial when `tile_n` does not
    /// divide N.
    pub fn tile_cols(&self) -> u64 {
        self.n.div_ceil(u64::from(self.tile_n.max(1)))
    }

    /// Output tiles (workgroups) in one chunk.
    pub fn tiles_per_chunk(&self, tp: u32) -> u64 {
        self.tile_rows_per_chunk(tp)
            .saturating_mul(self.tile_cols())
    }

    /// Output tiles of the whole GEMM.
    pub fn tiles(&self) -> u64 {
        (self.m / u64::from(self.tile_m.max(1))).saturating_mul(self.tile_cols())
    }

    /// K-loop iterations of one tile; the last one is partial when `tile_k`
    /// does not divide K.
    pub fn k_steps(&self) -> u64 {
        self.k.div_ceil(u64::from(self.tile_k.max(1)))
    }

    /// Width in columns of tile column `col` (the last may be partial).
    pub fn tile_width(&self, col: u64) -> u64 {
        let tn = u64::from(self.tile_n);
        self.n.saturating_sub(col.saturating_mul(tn)).min(tn)
    }
}

impl Trace {
    /// What a simulation of this trace depends on, as a string: equal keys
    /// simulate identically. The trace's name, its provenance and its ops'
    /// names are labels: op names become their positions (references
    /// follow), with the order of the original names kept in case anything
    /// iterates ops by name. FC-1 and FC-2 of a model, for one, differ only
    /// in labels.
    pub fn simulation_key(&self) -> String {
        let pos = |n: &str| {
            self.ops
                .iter()
                .position(|o| o.name() == n)
                .map_or_else(|| format!("?{n}"), |i| format!("#{i}"))
        };
        let mut t = self.clone();
        t.name.clear();
        t.meta = None;
        for op in &mut t.ops {
            let (name, deps, input) = match op {
                Op::Gemm(g) => (&mut g.name, &mut g.deps, None),
                Op::ReduceScatter(r) => (&mut r.name, &mut r.deps, Some(&mut r.input)),
                Op::AllGather(a) => (&mut a.name, &mut a.deps, Some(&mut a.input)),
            };
            *name = pos(name);
            for d in deps.iter_mut() {
                *d = pos(d);
            }
            if let Some(Some(i)) = input {
                *i = pos(i);
            }
        }
        let mut by_name: Vec<usize> = (0..self.ops.len()).collect();
        by_name.sort_by_key(|&i| self.ops[i].name());
        let body = serde_json::to_string(&t)
            .unwrap_or_else(|e| format!("unserialisable {}: {e}", self.name));
        format!("{by_name:?}{body}")
    }

    /// True when no device differs from the others (the ring is symmetric).
    pub fn is_symmetric(&self) -> bool {
        self.devices.iter().all(DeviceOverride::is_nominal)
    }

    /// The op called `name`.
    pub fn op(&self, name: &str) -> Option<&Op> {
        self.ops.iter().find(|o| o.name() == name)
    }

    /// The first reduce-scatter in program order.
    pub fn reduce_scatter(&self) -> Option<&ReduceScatterOp> {
        self.ops.iter().find_map(|o| match o {
            Op::ReduceScatter(r) => Some(r),
            _ => None,
        })
    }

    /// The first all-gather in program order.
    pub fn all_gather(&self) -> Option<&AllGatherOp> {
        self.ops.iter().find_map(|o| match o {
            Op::AllGather(a) => Some(a),
            _ => None,
        })
    }

    /// The GEMM feeding the first reduce-scatter; without such an RS, the
    /// first GEMM.
    pub fn gemm(&self) -> Option<&GemmOp> {
        let fed = self
            .reduce_scatter()
            .and_then(|r| r.input.as_deref())
            .and_then(|i| self.op(i));
        match fed {
            Some(Op::Gemm(g)) => Some(g),
            _ => self.ops.iter().find_map(|o| match o {
                Op::Gemm(g) => Some(g),
                _ => None,
            }),
        }
    }

    /// Bytes per device that `rs` reduces (its GEMM's output or its `bytes`).
    pub fn rs_input_bytes(&self, rs: &ReduceScatterOp) -> u64 {
        if let Some(b) = rs.bytes {
            return b;
        }
        match rs.input.as_deref().and_then(|i| self.op(i)) {
            Some(Op::Gemm(g)) => g.output_bytes(),
            _ => 0,
        }
    }

    /// Bytes per device of the buffer `ag` gathers into.
    pub fn ag_output_bytes(&self, ag: &AllGatherOp) -> u64 {
        if let Some(b) = ag.bytes {
            return b;
        }
        match ag.input.as_deref().and_then(|i| self.op(i)) {
            Some(Op::ReduceScatter(r)) => self.rs_input_bytes(r),
            _ => 0,
        }
    }

    /// Bytes per device reduced by the first reduce-scatter (the sub-layer
    /// output), if the trace has one.
    pub fn output_bytes(&self) -> Option<u64> {
        self.reduce_scatter().map(|r| self.rs_input_bytes(r))
    }

    /// Bytes of one RS chunk (each device ends with one).
    pub fn chunk_bytes(&self) -> Option<u64> {
        self.output_bytes().map(|b| b / u64::from(self.tp.max(1)))
    }

    /// The scales of `device`: its override, or all 1 when it has none.
    pub fn device(&self, device: u32) -> DeviceOverride {
        self.devices
            .iter()
            .find(|d| d.device == device)
            .cloned()
            .unwrap_or_else(|| DeviceOverride::nominal(device))
    }

    /// Op indices in an order that respects every dependency (and `input`),
    /// stable with respect to program order. Returns `None` on a cycle or an
    /// unknown reference (validation rejects both).
    pub fn topo_order(&self) -> Option<Vec<usize>> {
        let index = |n: &str| self.ops.iter().position(|o| o.name() == n);
        let mut preds: Vec<Vec<usize>> = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            let mut p = Vec::new();
            for d in op.deps().iter().map(String::as_str).chain(op.input()) {
                p.push(index(d)?);
            }
            preds.push(p);
        }
        // Kahn's algorithm, always taking the lowest ready index, so the
        // order is program order wherever the dependencies allow it.
        let mut waiting: Vec<usize> = preds.iter().map(Vec::len).collect();
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); self.ops.len()];
        for (i, p) in preds.iter().enumerate() {
            for &q in p {
                succs[q].push(i);
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..self.ops.len()).filter(|&i| waiting[i] == 0).collect();
        let mut order = Vec::with_capacity(self.ops.len());
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &s in &succs[i] {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    ready.insert(s);
                }
            }
        }
        if order.len() != self.ops.len() {
            return None;
        }
        Some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemm(name: &str, m: u64, n: u64) -> GemmOp {
        GemmOp {
            name: name.into(),
            m,
            n,
            k: 64,
            dtype: Dtype::Fp16,
            tile_m: 128,
            tile_n: 128,
            tile_k: 32,
            deps: Vec::new(),
        }
    }

    #[test]
    fn edge_tiles_are_partial_and_chunks_are_whole_tile_rows() {
        let g = gemm("g", 8192, 4256);
        assert_eq!(g.tile_cols(), 34);
        assert_eq!(g.tile_width(0), 128);
        assert_eq!(g.tile_width(33), 32);
        assert_eq!(g.tile_width(34), 0);
        assert_eq!(g.chunk_rows(8), 1024);
        assert_eq!(g.tile_rows_per_chunk(8), 8);
        assert_eq!(g.tiles(), 64 * 34);
        assert_eq!(g.k_steps(), 2);
        assert_eq!(g.flops(), 2 * 8192 * 4256 * 64);
    }

    #[test]
    fn topo_order_follows_inputs_and_keeps_program_order_otherwise() {
        let t = Trace {
            version: TRACE_VERSION,
            name: "t".into(),
            tp: 8,
            ops: vec![
                Op::ReduceScatter(ReduceScatterOp {
                    name: "rs".into(),
                    input: Some("g".into()),
                    bytes: None,
                    deps: Vec::new(),
                }),
                Op::Gemm(gemm("g", 1024, 256)),
                Op::Gemm(gemm("h", 1024, 256)),
            ],
            devices: Vec::new(),
            meta: None,
        };
        assert_eq!(t.topo_order(), Some(vec![1, 0, 2]));
        assert_eq!(t.gemm().unwrap().name, "g");
        assert_eq!(t.output_bytes(), Some(1024 * 256 * 2));
        assert_eq!(t.chunk_bytes(), Some(1024 * 256 * 2 / 8));
        let mut cyclic = t.clone();
        if let Op::Gemm(g) = &mut cyclic.ops[1] {
            g.deps.push("rs".into());
        }
        assert_eq!(cyclic.topo_order(), None);
    }
}
