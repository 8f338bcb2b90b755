//! The engine's view of a trace: every op resolved (its devices, its
//! dependencies as indices, a collective's bytes per device, a transfer's
//! peer), in the order the engine may start them.
//!
//! Building an [`OpGraph`] is the trace's validation: [`super::load`] and
//! [`super::validate`] build one and keep only the verdict, so a trace that
//! loaded always yields its graph. Rules between ops live in [`build`]
//! (references, kinds of inputs, groups, sizes, chunking) and [`order`]
//! (transfers matched, cycles, the topological order).
//!
//! How the engine must run the graph (traces/README.md, "Running the
//! graph", is the full statement):
//! - an op starts on device `d` when every dependency has finished on `d`;
//!   a dependency that does not run on `d` (another group, a transfer) must
//!   have finished on every device it runs on;
//! - a recv also waits for the data of its send (`Transfer::peer`);
//! - ops with no path between them may run at the same time.

mod build;
mod order;

use super::schema::{GemmOp, Group, OP_KINDS, Trace};
use super::span::Problem;
use crate::error::{InputError, Location, Result};
use std::collections::HashMap;

/// A validated trace as the engine consumes it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpGraph {
    tp: u32,
    ops: Vec<GraphOp>,
    groups: Vec<Group>,
    succs: Vec<Vec<usize>>,
    by_name: HashMap<String, usize>,
}

/// One op, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphOp {
    /// Position in [`OpGraph::ops`]: a topological order, program order
    /// among ops that are ready together.
    pub index: usize,
    /// Position in the trace's `ops`.
    pub trace_index: usize,
    /// The op's name.
    pub name: String,
    /// What it does, with every size resolved.
    pub kind: OpKind,
    /// The devices it runs on, ascending: its group's, all `0..tp` without
    /// one, a send's `src`, a recv's `dst`.
    pub devices: Vec<u32>,
    /// The named group it runs on, if any.
    pub group: Option<String>,
    /// Indices of the ops it waits for (`deps` and `input`), ascending, all
    /// below `index`.
    pub deps: Vec<usize>,
    /// The op that takes this op's output as its `input`, if any.
    pub consumer: Option<usize>,
}

/// What an op does.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    /// A per-device GEMM.
    Gemm(GemmNode),
    /// A collective over the op's devices.
    Collective(CollectiveNode),
    /// Work known by its duration or its FLOPs and bytes.
    Compute(ComputeNode),
    /// The sending side of a transfer (runs on `src`).
    Send(Transfer),
    /// The receiving side of a transfer (runs on `dst`).
    Recv(Transfer),
}

/// A GEMM and where its operand A comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmNode {
    /// The trace's GEMM (shape, dtype, tiles).
    pub gemm: GemmOp,
    /// The op whose output is A (its output bytes equal A's), if any.
    pub input: Option<usize>,
}

/// The four collectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollectiveKind {
    /// Each device ends with the sum of one chunk.
    ReduceScatter,
    /// Each device ends with every device's chunk.
    AllGather,
    /// Each device ends with the sum of the whole buffer (a reduce-scatter
    /// then an all-gather).
    AllReduce,
    /// Device `i` sends its chunk `j` to device `j` and receives every
    /// device's chunk `i`.
    AllToAll,
}

impl CollectiveKind {
    /// The `kind` spelling.
    pub fn name(self) -> &'static str {
        match self {
            CollectiveKind::ReduceScatter => "reduce-scatter",
            CollectiveKind::AllGather => "all-gather",
            CollectiveKind::AllReduce => "all-reduce",
            CollectiveKind::AllToAll => "all-to-all",
        }
    }
}

/// A collective with its sizes per device. The full buffer splits into
/// one chunk per device of the group (`chunk_bytes` each).
#[derive(Debug, Clone, PartialEq)]
pub struct CollectiveNode {
    /// Which collective.
    pub kind: CollectiveKind,
    /// The op whose output it takes (a GEMM, or an RS for an all-gather).
    pub input: Option<usize>,
    /// The GEMM whose output C it takes directly (RS, AR, A2A on a GEMM):
    /// the pairs a mode may fuse.
    pub gemm: Option<usize>,
    /// The full buffer per device: RS input, AG output, AR and A2A buffer.
    pub buffer_bytes: u64,
    /// Bytes each device holds before the collective.
    pub input_bytes: u64,
    /// Bytes each device holds after it.
    pub output_bytes: u64,
    /// One device's share: `buffer_bytes / devices`.
    pub chunk_bytes: u64,
}

/// How a compute op is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeNode {
    /// A fixed time on each device; uses no CU, L2, HBM or link.
    Fixed {
        /// Nanoseconds.
        duration_ns: u64,
    },
    /// Timed by roofline on each device: the longer of `flops` at the
    /// device's peak matrix throughput and `bytes` at its DRAM bandwidth.
    Roofline {
        /// Floating-point operations per device.
        flops: u64,
        /// DRAM bytes read and written per device.
        bytes: u64,
    },
}

/// A point-to-point transfer, as seen from one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Sending device.
    pub src: u32,
    /// Receiving device.
    pub dst: u32,
    /// Bytes moved.
    pub bytes: u64,
    /// The trace's tag.
    pub tag: u64,
    /// The other side: a send's recv, a recv's send (a recv's send always
    /// comes first in the order).
    pub peer: usize,
}

/// Every rule a trace must follow (the field rules, then those between
/// ops); the first broken one as (field path, message).
pub(crate) fn check(trace: &Trace) -> std::result::Result<(), Problem> {
    build::build(trace).map(drop)
}

impl OpGraph {
    /// The graph of `trace`, validating it (a trace that loaded never
    /// fails here). Errors name the trace by its `name`.
    pub fn new(trace: &Trace) -> Result<OpGraph> {
        build::build(trace).map_err(|(path, msg)| {
            InputError::new(Location::file(trace.name.clone()), path.to_string(), msg).into()
        })
    }

    /// Devices in the trace (`tp`).
    pub fn tp(&self) -> u32 {
        self.tp
    }

    /// Every op, in topological order (`ops()[i].index == i`).
    pub fn ops(&self) -> &[GraphOp] {
        &self.ops
    }

    /// The op at index `i`.
    pub fn op(&self, i: usize) -> &GraphOp {
        &self.ops[i]
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True for a graph without ops (never, for a valid trace).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The trace's named groups.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The index of the op called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Ops that list op `i` among their `deps` (or `input`), ascending; a
    /// send's recv is not among them (see [`Transfer::peer`]).
    pub fn successors(&self, i: usize) -> &[usize] {
        &self.succs[i]
    }

    /// Every (GEMM, collective) pair where the collective takes the GEMM's
    /// output C directly, in order: what a mode may fuse.
    pub fn gemm_collective_pairs(&self) -> Vec<(usize, usize)> {
        self.ops
            .iter()
            .filter_map(|o| match &o.kind {
                OpKind::Collective(c) => c.gemm.map(|g| (g, o.index)),
                _ => None,
            })
            .collect()
    }

    /// The graph's (GEMM, reduce-scatter) when it is exactly one GEMM and
    /// the reduce-scatter of its output, both on every device, and nothing
    /// else: the version-1 sub-layer the original pipeline replays.
    pub fn single_pair(&self) -> Option<(usize, usize)> {
        let [a, b] = self.ops.as_slice() else {
            return None;
        };
        let all = self.tp as usize;
        match (&a.kind, &b.kind) {
            (OpKind::Gemm(_), OpKind::Collective(c))
                if c.kind == CollectiveKind::ReduceScatter
                    && c.gemm == Some(a.index)
                    && a.devices.len() == all
                    && b.devices.len() == all =>
            {
                Some((a.index, b.index))
            }
            _ => None,
        }
    }

    /// True when [`OpGraph::single_pair`] is.
    pub fn is_single_pair(&self) -> bool {
        self.single_pair().is_some()
    }

    /// Ops per kind, in the order of [`OP_KINDS`], kinds with none left out.
    pub fn kind_counts(&self) -> Vec<(&'static str, usize)> {
        OP_KINDS
            .iter()
            .map(|&k| (k, self.ops.iter().filter(|o| o.kind_name() == k).count()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

impl GraphOp {
    /// The `kind` spelling of the op.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            OpKind::Gemm(_) => "gemm",
            OpKind::Collective(c) => c.kind.name(),
            OpKind::Compute(_) => "compute",
            OpKind::Send(_) => "send",
            OpKind::Recv(_) => "recv",
        }
    }

    /// The collective, if this op is one.
    pub fn collective(&self) -> Option<&CollectiveNode> {
        match &self.kind {
            OpKind::Collective(c) => Some(c),
            _ => None,
        }
    }

    /// The GEMM, if this op is one.
    pub fn gemm(&self) -> Option<&GemmOp> {
        match &self.kind {
            OpKind::Gemm(g) => Some(&g.gemm),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
