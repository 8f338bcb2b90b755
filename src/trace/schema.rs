//! The t3sim trace: an op graph (GEMMs, collectives, compute, point-to-point
//! transfers) run by the `tp` devices of a tensor-parallel group. Stored as
//! versioned JSON; traces/README.md describes the format.
//!
//! The accessors below assume a trace that passed [`super::validate`]
//! (everything [`super::load`], [`super::parse`] and the generators return):
//! sizes then fit in `u64` and divide as documented, so they never saturate.
//! [`super::OpGraph`] is the engine's resolved view of the same trace.

use serde::{Deserialize, Serialize};

/// The newest format version this build reads and writes.
pub const TRACE_VERSION: u32 = 2;

/// Every format version this build reads. Version 1 is the fixed GEMM ->
/// reduce-scatter (-> all-gather) sub-layer; version 2 adds the op kinds
/// and fields listed in traces/README.md. A writer emits the lowest version
/// that holds the trace ([`Trace::required_version`]).
pub const SUPPORTED_VERSIONS: [u32; 2] = [1, 2];

/// Largest per-device buffer (GEMM operand or output, collective buffer,
/// transfer) a trace may describe: 1 TiB. Keeps every derived size, FLOP
/// count and address well inside `u64`.
pub const MAX_BUFFER_BYTES: u64 = 1 << 40;

/// Largest tensor-parallel degree accepted.
pub const MAX_TP: u32 = 1024;

/// Most ops a trace may hold (an imported training step has tens of
/// thousands per rank; this bounds memory and validation time).
pub const MAX_OPS: usize = 1 << 20;

/// Most dependency edges (`deps` entries) over all ops.
pub const MAX_DEPS: usize = 1 << 23;

/// Most (op, device) pairs over all ops: what the resolved graph stores
/// (an op on all of 1024 devices counts 1024).
pub const MAX_DEVICE_SLOTS: u64 = 1 << 26;

/// Most named device groups.
pub const MAX_GROUPS: usize = 1 << 16;

/// Longest op or group name, in bytes.
pub const MAX_NAME_BYTES: usize = 4096;

/// Longest fixed duration of a `compute` op: 1000 s.
pub const MAX_DURATION_NS: u64 = 1_000_000_000_000;

/// Largest FLOP count of a `compute` op (about 20 minutes at 1 PFLOP/s).
pub const MAX_FLOPS: u64 = 1 << 60;

/// Largest DRAM traffic of a `compute` op, bytes per device (16 TiB).
pub const MAX_COMPUTE_BYTES: u64 = 1 << 44;

/// Collective and transfer buffers move in whole lines of this many bytes
/// (the engine's DRAM and link granule, `gpu::gemm::LINE`).
pub const LINE_BYTES: u64 = 64;

/// An op graph, replayed on every device of a tensor-parallel group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    /// Format version, one of [`SUPPORTED_VERSIONS`].
    pub version: u32,
    /// e.g. `tnlg-tp8-fc2`.
    pub name: String,
    /// Tensor-parallel degree = devices, numbered `0..tp`.
    pub tp: u32,
    /// Named device sets that ops run on (version 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// Operations, in program order. Each names the ops it depends on.
    pub ops: Vec<Op>,
    /// Per-device differences for skew studies (empty: all identical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceOverride>,
    /// Free-form provenance (generator, model, tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

/// A named set of devices: the ring of a collective, or where a GEMM or a
/// compute op runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Unique group name, referenced by ops' `group`.
    pub name: String,
    /// Devices in ascending order (a ring visits them in this order).
    pub devices: Vec<u32>,
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

/// One operation of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Op {
    /// Per-device GEMM: C[M x N] (partial sum) = A[M x K] * B[K x N].
    Gemm(GemmOp),
    /// Reduce-scatter of a GEMM's output or of a plain buffer.
    ReduceScatter(CollectiveOp),
    /// All-gather of a reduce-scatter's output or of a plain buffer.
    AllGather(CollectiveOp),
    /// All-reduce (a reduce-scatter then an all-gather) of a GEMM's output
    /// or of a plain buffer (version 2).
    AllReduce(CollectiveOp),
    /// All-to-all of a GEMM's output or of a plain buffer (version 2).
    AllToAll(CollectiveOp),
    /// Work known by its duration or by its FLOPs and DRAM bytes (version 2).
    Compute(ComputeOp),
    /// One device sends a buffer to another (version 2).
    Send(P2pOp),
    /// One device receives the buffer a `send` sent it (version 2).
    Recv(P2pOp),
}

/// Op kinds as spelled in the `kind` field.
pub const OP_KINDS: [&str; 8] = [
    "gemm",
    "reduce-scatter",
    "all-gather",
    "all-reduce",
    "all-to-all",
    "compute",
    "send",
    "recv",
];

/// Op kinds of format version 1.
pub const V1_OP_KINDS: [&str; 3] = ["gemm", "reduce-scatter", "all-gather"];

/// A per-device GEMM producing a partial sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GemmOp {
    /// Unique op name.
    pub name: String,
    /// Output rows (tokens). Split into chunks along M by the collective
    /// that consumes C.
    pub m: u64,
    /// Output columns.
    pub n: u64,
    /// Reduction dimension.
    pub k: u64,
    /// Element type of A, B and C.
    pub dtype: Dtype,
    /// Output tile (workgroup) rows.
    pub tile_m: u32,
    /// Output tile (workgroup) columns.
    pub tile_n: u32,
    /// K-loop step of a tile.
    pub tile_k: u32,
    /// The op whose per-device output is this GEMM's A operand (M x K);
    /// an implicit dependency (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The devices it runs on (default: all; version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Ops that must finish first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
}

/// A collective over a group of devices. Exactly one of `input` and
/// `bytes` is given. `bytes` is always the full per-device buffer: the
/// reduce-scatter's input, the all-gather's output, the all-reduce's and
/// all-to-all's buffer (in = out); each device's share is `bytes / n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectiveOp {
    /// Unique op name.
    pub name: String,
    /// The op whose output is the collective's input: a GEMM (its C) for a
    /// reduce-scatter, all-reduce or all-to-all; a reduce-scatter (its
    /// chunk) for an all-gather.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The full per-device buffer of a plain-buffer collective, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The devices taking part (default: all; version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Ops that must finish first (besides `input`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
}

/// A reduce-scatter (the version 1 name of its fields).
pub type ReduceScatterOp = CollectiveOp;
/// An all-gather (the version 1 name of its fields).
pub type AllGatherOp = CollectiveOp;

/// Work other than a GEMM. Exactly one of `duration_ns` and the pair
/// (`flops`, `bytes`) is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeOp {
    /// Unique op name.
    pub name: String,
    /// A fixed duration on each device, nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    /// Floating-point operations per device (timed by roofline with `bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops: Option<u64>,
    /// DRAM bytes read and written per device (timed by roofline with `flops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The devices it runs on (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Ops that must finish first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
}

/// One side of a point-to-point transfer: a `send` runs on `src`, its
/// `recv` on `dst`. The k-th send and the k-th recv (in program order) with
/// the same `src`, `dst` and `tag` are one transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pOp {
    /// Unique op name.
    pub name: String,
    /// Sending device.
    pub src: u32,
    /// Receiving device.
    pub dst: u32,
    /// Bytes transferred.
    pub bytes: u64,
    /// Distinguishes transfers between the same two devices.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tag: u64,
    /// Ops that must finish first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deps: Vec<String>,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One device that differs from the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceOverride {
    /// Device index, `0..tp`.
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
            Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => &c.name,
            Op::Compute(c) => &c.name,
            Op::Send(p) | Op::Recv(p) => &p.name,
        }
    }

    /// Explicit dependencies (an op also depends on its `input`).
    pub fn deps(&self) -> &[String] {
        match self {
            Op::Gemm(g) => &g.deps,
            Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => &c.deps,
            Op::Compute(c) => &c.deps,
            Op::Send(p) | Op::Recv(p) => &p.deps,
        }
    }

    /// The op whose output this op consumes, if any.
    pub fn input(&self) -> Option<&str> {
        match self {
            Op::Gemm(g) => g.input.as_deref(),
            Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => {
                c.input.as_deref()
            }
            Op::Compute(_) | Op::Send(_) | Op::Recv(_) => None,
        }
    }

    /// The named group the op runs on (`None`: all devices, or for a send
    /// or recv its own device).
    pub fn group(&self) -> Option<&str> {
        match self {
            Op::Gemm(g) => g.group.as_deref(),
            Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => {
                c.group.as_deref()
            }
            Op::Compute(c) => c.group.as_deref(),
            Op::Send(_) | Op::Recv(_) => None,
        }
    }

    /// The collective's fields, for the four collective kinds.
    pub fn collective(&self) -> Option<&CollectiveOp> {
        match self {
            Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => Some(c),
            _ => None,
        }
    }

    /// The `kind` spelling of this op.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Gemm(_) => OP_KINDS[0],
            Op::ReduceScatter(_) => OP_KINDS[1],
            Op::AllGather(_) => OP_KINDS[2],
            Op::AllReduce(_) => OP_KINDS[3],
            Op::AllToAll(_) => OP_KINDS[4],
            Op::Compute(_) => OP_KINDS[5],
            Op::Send(_) => OP_KINDS[6],
            Op::Recv(_) => OP_KINDS[7],
        }
    }

    /// Mutable name, deps and input, for relabelling.
    fn labels_mut(&mut self) -> (&mut String, &mut Vec<String>, Option<&mut Option<String>>) {
        match self {
            Op::Gemm(g) => (&mut g.name, &mut g.deps, Some(&mut g.input)),
            Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => {
                (&mut c.name, &mut c.deps, Some(&mut c.input))
            }
            Op::Compute(c) => (&mut c.name, &mut c.deps, None),
            Op::Send(p) | Op::Recv(p) => (&mut p.name, &mut p.deps, None),
        }
    }

    fn group_mut(&mut self) -> Option<&mut Option<String>> {
        match self {
            Op::Gemm(g) => Some(&mut g.group),
            Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => {
                Some(&mut c.group)
            }
            Op::Compute(c) => Some(&mut c.group),
            Op::Send(_) | Op::Recv(_) => None,
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
    /// simulate identically. The trace's name, its provenance, its format
    /// version and its op and group names are labels: op names become their
    /// positions (references follow), group names theirs, with the order of
    /// the original op names kept in case anything iterates ops by name.
    /// FC-1 and FC-2 of a model, for one, differ only in labels.
    pub fn simulation_key(&self) -> String {
        let ops: std::collections::HashMap<&str, usize> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name(), i))
            .collect();
        let groups: std::collections::HashMap<&str, usize> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.name.as_str(), i))
            .collect();
        let pos = |n: &str| {
            ops.get(n)
                .map_or_else(|| format!("?{n}"), |i| format!("#{i}"))
        };
        let gpos = |n: &str| {
            groups
                .get(n)
                .map_or_else(|| format!("?{n}"), |i| format!("#g{i}"))
        };
        let mut t = self.clone();
        t.name.clear();
        t.meta = None;
        t.version = 0;
        for g in &mut t.groups {
            g.name = gpos(&g.name);
        }
        for op in &mut t.ops {
            if let Some(Some(g)) = op.group_mut() {
                *g = gpos(g);
            }
            let (name, deps, input) = op.labels_mut();
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

    /// The lowest format version that holds this trace: 2 when it uses any
    /// version-2 feature ([`Trace::first_v2_feature`]), else 1. Writers set
    /// `version` to this, so a version-1 trace stays byte-identical.
    pub fn required_version(&self) -> u32 {
        if self.first_v2_feature().is_some() {
            2
        } else {
            1
        }
    }

    /// The first version-2 feature in the trace, as (field path, what it
    /// is, ending in "need" or "needs"): `groups`, an op kind beyond gemm /
    /// reduce-scatter / all-gather, a `group` on an op, a GEMM's `input`.
    pub fn first_v2_feature(&self) -> Option<(super::FieldPath, String)> {
        let root = super::FieldPath::root();
        if !self.groups.is_empty() {
            return Some((root.key("groups"), "named device groups need".into()));
        }
        for (i, op) in self.ops.iter().enumerate() {
            let at = root.key("ops").index(i);
            if !V1_OP_KINDS.contains(&op.kind()) {
                return Some((at.key("kind"), format!("`{}` ops need", op.kind())));
            }
            if op.group().is_some() {
                return Some((at.key("group"), "an op's `group` needs".into()));
            }
            if let Op::Gemm(g) = op
                && g.input.is_some()
            {
                return Some((at.key("input"), "a GEMM's `input` needs".into()));
            }
        }
        None
    }

    /// True when no device differs from the others (the ring is symmetric).
    pub fn is_symmetric(&self) -> bool {
        self.devices.iter().all(DeviceOverride::is_nominal)
    }

    /// The op called `name`.
    pub fn op(&self, name: &str) -> Option<&Op> {
        self.ops.iter().find(|o| o.name() == name)
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
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

    /// Bytes of one chunk of the first reduce-scatter (each device ends
    /// with one), counting the devices of its group.
    pub fn chunk_bytes(&self) -> Option<u64> {
        let rs = self.reduce_scatter()?;
        let n = match rs.group.as_deref().and_then(|g| self.group(g)) {
            Some(g) => g.devices.len() as u64,
            None => u64::from(self.tp),
        };
        Some(self.rs_input_bytes(rs) / n.max(1))
    }

    /// The scales of `device`: its override, or all 1 when it has none.
    pub fn device(&self, device: u32) -> DeviceOverride {
        self.devices
            .iter()
            .find(|d| d.device == device)
            .cloned()
            .unwrap_or_else(|| DeviceOverride::nominal(device))
    }

    /// Op indices (positions in `ops`) in the order [`super::OpGraph`]
    /// runs them: every dependency, `input` and send -> recv first, program
    /// order among ready ops. `None` when the trace is invalid (validation
    /// rejects a cycle or an unknown reference).
    pub fn topo_order(&self) -> Option<Vec<usize>> {
        super::OpGraph::new(self)
            .ok()
            .map(|g| g.ops().iter().map(|o| o.trace_index).collect())
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
            input: None,
            group: None,
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
            version: 1,
            name: "t".into(),
            tp: 8,
            groups: Vec::new(),
            ops: vec![
                Op::ReduceScatter(ReduceScatterOp {
                    name: "rs".into(),
                    input: Some("g".into()),
                    bytes: None,
                    group: None,
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
