//! What a run simulates, decided once before it starts: for every op of
//! the trace's graph, whether the run includes it, where its data lives in
//! each device's memory, and how it executes (a GEMM's outputs stored or
//! fused into its collective; a collective as a kernel after its inputs,
//! beside its producer, or fused).
//!
//! Inputs the engine cannot honour are refused here, before anything is
//! simulated, as input errors naming the op.

use super::SLICE_BYTES;
use super::WINDOW;
use crate::collective::{self, ChunkedBuffer, Collective, KernelExec};
use crate::config::HwConfig;
use crate::error::{InputError, Location, Result};
use crate::gpu::gemm::GemmGeom;
use crate::modes::{PairExec, Reduction, Run};
use crate::net::Topology;
use crate::trace::{CollectiveKind, ComputeNode, OpGraph, OpKind, Trace, Transfer};
use std::sync::Arc;

/// How a GEMM's finished tiles leave the CUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// Stored to local memory.
    Store,
    /// Fused with collective `coll` (T3): remote-mapped or tracked updates.
    Fused { coll: usize },
}

/// A GEMM.
#[derive(Debug, Clone)]
pub(super) struct GemmPlan {
    pub geom: Arc<GemmGeom>,
    /// The collective that reduces C, which decides the tile order (its
    /// stages) and C's chunks.
    pub consumer: Option<usize>,
    pub output: Output,
    /// A collective kernel started together with the GEMM, sending each
    /// slice once its tiles are stored (software overlap).
    pub beside: Option<usize>,
}

/// How a collective executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CollExec {
    /// A kernel, started once its dependencies are done.
    Kernel(KernelExec),
    /// A kernel started with its producer GEMM, following its stores.
    BesideProducer(KernelExec),
    /// Fused with its GEMM; what the algorithm runs after the fused part
    /// (an all-reduce's all-gather) is a kernel run as given.
    Fused { gemm: usize, after: KernelExec },
}

/// A collective.
#[derive(Debug, Clone)]
pub(super) struct CollPlan {
    pub kind: CollectiveKind,
    pub algo: Arc<dyn Collective>,
    pub buffer: ChunkedBuffer,
    /// Devices in rank order.
    pub ranks: Vec<u32>,
    pub exec: CollExec,
    /// The op whose values (functional check) the buffer holds.
    pub values: usize,
    /// The data was reduced before this collective (an all-gather of a
    /// reduce-scatter's output).
    pub gathers_reduced: bool,
    /// Offset of the buffer's tiles in the tracker's tile ids.
    pub tile_base: u64,
}

/// A transfer's side.
#[derive(Debug, Clone, Copy)]
pub(super) struct P2pPlan {
    pub t: Transfer,
    /// Where the data lives (send: read from; recv: written to).
    pub base: u64,
}

/// One op as this run executes it.
#[derive(Debug, Clone)]
pub(super) enum OpPlan {
    Gemm(GemmPlan),
    Coll(CollPlan),
    Compute { node: ComputeNode, base: u64 },
    Send(P2pPlan),
    Recv(P2pPlan),
}

/// The whole run, decided.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub graph: OpGraph,
    pub ops: Vec<OpPlan>,
    /// The run includes the op.
    pub active: Vec<bool>,
    /// Devices each op runs on (its graph devices, for active ops).
    pub devices: Vec<Vec<u32>>,
    /// Dependencies each op waits for (by graph index).
    pub deps: Vec<Vec<usize>>,
    /// Bytes of memory every device needs.
    pub mem_bytes: u64,
    /// The graph is exactly one GEMM and the reduce-scatter of its output
    /// on every device (the sub-layer traces): reports keep their pair
    /// labels.
    pub single_pair: bool,
    /// Fused collectives by the first tracker tile id of their buffer.
    pub fused_bases: Vec<(u64, usize)>,
}

fn refuse(trace: &Trace, field: String, msg: String) -> crate::Error {
    InputError::new(Location::file(trace.name.clone()), field, msg).into()
}

/// The algorithm a collective kind runs.
fn algorithm(kind: CollectiveKind) -> Option<&'static str> {
    match kind {
        CollectiveKind::ReduceScatter => Some("ring-reduce-scatter"),
        CollectiveKind::AllGather => Some("ring-all-gather"),
        CollectiveKind::AllReduce => Some("ring-all-reduce"),
        CollectiveKind::AllToAll => None,
    }
}

impl Plan {
    pub fn new(trace: &Trace, cfg: &HwConfig, run: Run, topo: &dyn Topology) -> Result<Plan> {
        let graph = crate::trace::OpGraph::new(trace)?;
        let n_ops = graph.len();
        let single_pair = graph.is_single_pair();
        let mut active = vec![true; n_ops];
        if let Run::Alone(x) = run {
            if x >= n_ops {
                return Err(refuse(
                    trace,
                    "ops".into(),
                    format!("no op {x} to run alone"),
                ));
            }
            active = (0..n_ops).map(|i| i == x).collect();
        }
        let pair_exec = run.pairs();
        // Which collectives pair with the GEMM whose C they take (the pairs
        // a mode executes its way).
        let mut consumer_of = vec![None; n_ops];
        let mut pair_of = vec![None; n_ops];
        for (g, c) in graph.gemm_collective_pairs() {
            consumer_of[g] = Some(c);
            let kind = graph.op(c).collective().map(|n| n.kind);
            if matches!(
                kind,
                Some(CollectiveKind::ReduceScatter | CollectiveKind::AllReduce)
            ) {
                pair_of[c] = Some(g);
            }
        }
        let mut ops = Vec::with_capacity(n_ops);
        let mut cursor = 0u64;
        let mut tile_base = 0u64;
        let mut devices = Vec::with_capacity(n_ops);
        let mut deps = Vec::with_capacity(n_ops);
        for op in graph.ops() {
            let i = op.index;
            devices.push(op.devices.clone());
            deps.push(op.deps.clone());
            let plan = match &op.kind {
                OpKind::Gemm(node) => {
                    let chunks = consumer_of[i].map_or(1, |c| graph.op(c).devices.len() as u32);
                    let geom = GemmGeom::at(&node.gemm, chunks, cursor);
                    cursor = geom.end;
                    let paired = consumer_of[i].filter(|&c| pair_of[c] == Some(i) && active[c]);
                    let output = match (pair_exec, paired) {
                        (Some(PairExec::Fused { .. }), Some(c)) => Output::Fused { coll: c },
                        _ => Output::Store,
                    };
                    let beside = match (pair_exec, paired) {
                        (Some(PairExec::Decomposed { .. }), Some(c)) => Some(c),
                        _ => None,
                    };
                    OpPlan::Gemm(GemmPlan {
                        geom: Arc::new(geom),
                        consumer: consumer_of[i],
                        output,
                        beside,
                    })
                }
                OpKind::Collective(node) => {
                    let name = algorithm(node.kind).ok_or_else(|| {
                        refuse(
                            trace,
                            format!("ops[{}]", op.trace_index),
                            format!(
                                "{} `{}`: this build simulates no all-to-all algorithm yet",
                                node.kind.name(),
                                op.name
                            ),
                        )
                    })?;
                    let n = op.devices.len() as u32;
                    let algo: Arc<dyn Collective> = collective::by_name(name, n)
                        .expect("every kind's algorithm is registered")
                        .into();
                    // The buffer: the producer GEMM's C, an all-gather's
                    // reduce-scatter's buffer, or a plain buffer of its own.
                    let (buffer, values, gathers_reduced) = match node.input {
                        Some(k) => match &ops[k] {
                            OpPlan::Gemm(gp) => (
                                ChunkedBuffer::over_gemm_output(&gp.geom, SLICE_BYTES),
                                k,
                                false,
                            ),
                            OpPlan::Coll(cp) => (cp.buffer.clone(), cp.values, true),
                            _ => {
                                return Err(refuse(
                                    trace,
                                    format!("ops[{}].input", op.trace_index),
                                    format!(
                                        "{} `{}` takes its input from an op that holds no collective buffer",
                                        node.kind.name(),
                                        op.name
                                    ),
                                ));
                            }
                        },
                        None => {
                            let b = ChunkedBuffer::plain(n, node.chunk_bytes, cursor, SLICE_BYTES);
                            cursor = b.end();
                            (b, i, false)
                        }
                    };
                    let kernel = |reduction, follows_producer| KernelExec {
                        reduction,
                        follows_producer,
                        window: WINDOW,
                    };
                    let exec = match (pair_of[i], pair_exec) {
                        (Some(g), Some(p)) if active[g] => match p {
                            PairExec::Sequential(r) => CollExec::Kernel(kernel(r, false)),
                            PairExec::Fused { .. } => CollExec::Fused {
                                gemm: g,
                                after: kernel(Reduction::Kernel, false),
                            },
                            PairExec::Decomposed { .. } => {
                                CollExec::BesideProducer(kernel(Reduction::Kernel, true))
                            }
                        },
                        _ => CollExec::Kernel(kernel(Reduction::Kernel, false)),
                    };
                    let base = tile_base;
                    if matches!(exec, CollExec::Fused { .. }) {
                        tile_base += buffer.tiles();
                    }
                    OpPlan::Coll(CollPlan {
                        kind: node.kind,
                        algo,
                        buffer,
                        ranks: op.devices.clone(),
                        exec,
                        values,
                        gathers_reduced,
                        tile_base: base,
                    })
                }
                OpKind::Compute(node) => {
                    let base = cursor.div_ceil(1 << 20) << 20;
                    if let ComputeNode::Roofline { bytes, .. } = node {
                        cursor = base + bytes;
                    }
                    OpPlan::Compute { node: *node, base }
                }
                OpKind::Send(t) | OpKind::Recv(t) => {
                    if topo.port_to(t.src, t.dst).is_none() {
                        return Err(refuse(
                            trace,
                            format!("ops[{}]", op.trace_index),
                            format!(
                                "`{}` goes from device {} to device {}, which the {} topology does not link directly (transfers are not routed over several hops)",
                                op.name,
                                t.src,
                                t.dst,
                                topo.name()
                            ),
                        ));
                    }
                    let base = cursor.div_ceil(1 << 20) << 20;
                    cursor = base + t.bytes;
                    let p = P2pPlan { t: *t, base };
                    if matches!(op.kind, OpKind::Send(_)) {
                        OpPlan::Send(p)
                    } else {
                        OpPlan::Recv(p)
                    }
                }
            };
            ops.push(plan);
        }
        if tile_base > (1u64 << cfg.t3.tracker_tag_bits.min(63)) {
            return Err(InputError::new(
                Location::file(cfg.name.clone()),
                "t3.tracker_tag_bits",
                format!(
                    "the fused collectives have {tile_base} tiles in all, more than {} tag bits name",
                    cfg.t3.tracker_tag_bits
                ),
            )
            .into());
        }
        // A pair's collective does not wait for its GEMM when it runs
        // beside it or fused with it.
        for (i, p) in ops.iter().enumerate() {
            if let OpPlan::Coll(c) = p {
                let g = match c.exec {
                    CollExec::Fused { gemm, .. } => Some(gemm),
                    CollExec::BesideProducer(_) => pair_of[i],
                    CollExec::Kernel(_) => None,
                };
                if let Some(g) = g {
                    deps[i].retain(|&d| d != g);
                }
            }
        }
        let fused_bases = ops
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                OpPlan::Coll(c) if matches!(c.exec, CollExec::Fused { .. }) => {
                    Some((c.tile_base, i))
                }
                _ => None,
            })
            .collect();
        Ok(Plan {
            graph,
            ops,
            active,
            devices,
            deps,
            mem_bytes: cursor,
            single_pair,
            fused_bases,
        })
    }

    /// The fused collective and its tile that a tracker tile id names.
    pub fn fused_tile(&self, tracker_tile: u64) -> (usize, u64) {
        let i = self
            .fused_bases
            .partition_point(|&(b, _)| b <= tracker_tile)
            .saturating_sub(1);
        let (base, op) = self.fused_bases[i];
        (op, tracker_tile - base)
    }

    /// The rank of `dev` in collective `op`, or `dev` itself when `op` is
    /// not a collective it takes part in.
    pub fn rank(&self, op: usize, dev: u32) -> u32 {
        match &self.ops[op] {
            OpPlan::Coll(c) => c
                .ranks
                .iter()
                .position(|&d| d == dev)
                .map_or(dev, |r| r as u32),
            _ => dev,
        }
    }

    /// True when `op` runs on `dev` in this run.
    pub fn runs_on(&self, op: usize, dev: u32) -> bool {
        self.active[op] && self.devices[op].binary_search(&dev).is_ok()
    }

    pub fn coll(&self, op: usize) -> &CollPlan {
        match &self.ops[op] {
            OpPlan::Coll(c) => c,
            _ => panic!("op {op} is not a collective"),
        }
    }

    pub fn gemm(&self, op: usize) -> &GemmPlan {
        match &self.ops[op] {
            OpPlan::Gemm(g) => g,
            _ => panic!("op {op} is not a GEMM"),
        }
    }

    /// The block size the device's L2 is modelled at: the largest of its
    /// GEMMs' (a power of two).
    pub fn l2_block_bytes(&self) -> u64 {
        self.ops
            .iter()
            .filter_map(|o| match o {
                OpPlan::Gemm(g) => Some(g.geom.block_bytes),
                _ => None,
            })
            .max()
            .unwrap_or(1 << 13)
    }

    /// True when one simulated device can stand for all (DESIGN.md §7):
    /// every op on every device, no transfers.
    pub fn symmetric(&self, trace: &Trace) -> bool {
        let all = self.graph.tp() as usize;
        trace.is_symmetric()
            && self
                .devices
                .iter()
                .zip(&self.ops)
                .all(|(d, o)| d.len() == all && !matches!(o, OpPlan::Send(_) | OpPlan::Recv(_)))
    }
}
