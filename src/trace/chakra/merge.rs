//! From per-rank Chakra programs to one op graph.
//!
//! - Sends and receives stay per rank: each becomes a `send` or `recv` op
//!   on its rank.
//! - Every other mapped node is aligned by position across ranks (the
//!   k-th such node of every rank): ranks run one SPMD program. At each
//!   position, a collective becomes one op per process group (every member
//!   must run it there, of the same type and size); a GEMM or compute node
//!   becomes one op per set of ranks whose nodes agree on their shape or
//!   time (split further where one op would add a wait a rank did not have).
//! - Dependencies (`data_deps`, `ctrl_deps`) between mapped nodes are kept,
//!   also through nodes that map to nothing (metadata, dropped nodes). In
//!   the trace they are per device (traces/README.md), so merging ranks
//!   into one op never adds a wait a rank did not have; where it would,
//!   the import is refused.
//! - A reduce-scatter, all-reduce or all-to-all that depends on a GEMM
//!   whose output C is exactly its buffer takes that GEMM as `input` (the
//!   pair a mode may fuse); an all-gather that depends on a reduce-scatter
//!   of the same buffer and devices takes it as `input`.

use super::classify::{Coll, Item, Shape, Timing};
use super::groups::{self, Groups};
use super::proto::Node;
use super::{MappedNode, UnsupportedNode};
use crate::error::{InputError, Location, Result};
use crate::trace::generator::{tile_k_for, tile_m_for, tile_n_for};
use crate::trace::schema::{
    CollectiveOp, ComputeOp, GemmOp, Group, LINE_BYTES, MAX_BUFFER_BYTES, Op, P2pOp,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// One decoded rank file with its nodes classified.
pub(super) struct RankFile {
    pub path: PathBuf,
    pub nodes: Vec<Node>,
    pub items: Vec<std::result::Result<Item, String>>,
}

/// What the merge produced.
pub(super) struct Merged {
    pub ops: Vec<Op>,
    pub groups: Vec<Group>,
    pub mapped: Vec<MappedNode>,
    /// Nodes that classified but cannot be placed (unknown process group,
    /// a size that does not chunk over its group).
    pub unsupported: Vec<UnsupportedNode>,
}

/// A node with its process group resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inst {
    Work(Item),
    Coll {
        coll: Coll,
        /// The full per-device buffer in the trace's meaning.
        full: u64,
        devices: Vec<u32>,
    },
    P2p(Item),
    /// Metadata: no op.
    Meta(Item),
    /// Not replayed (listed as unsupported).
    None,
}

/// An op under construction.
struct Draft {
    kind: DraftKind,
    devices: Vec<u32>,
    deps: BTreeSet<usize>,
    /// (rank, node index) of every node merged into it, rank ascending.
    nodes: Vec<(u32, usize)>,
    /// Position in the emitted program.
    key: (usize, u8, u32, usize),
    input: Option<usize>,
    name: String,
}

enum DraftKind {
    Gemm {
        shape: Shape,
        chunks: Option<u64>,
    },
    Compute(Timing),
    Coll {
        coll: Coll,
        full: u64,
    },
    Send {
        src: u32,
        dst: u32,
        tag: u64,
        bytes: u64,
    },
    Recv {
        src: u32,
        dst: u32,
        tag: u64,
        bytes: u64,
    },
}

fn err(r: &RankFile, field: impl Into<String>, msg: impl Into<String>) -> crate::Error {
    InputError::new(Location::file(r.path.display().to_string()), field, msg).into()
}

fn node_label(r: &RankFile, i: usize) -> String {
    format!("nodes[{i}] (id {}, `{}`)", r.nodes[i].id, r.nodes[i].name)
}

/// Resolves process groups and sizes; nodes that cannot be placed join
/// `unsupported`.
fn resolve(
    rank: u32,
    r: &RankFile,
    ranks: u32,
    pgs: &Groups,
    unsupported: &mut Vec<UnsupportedNode>,
) -> Vec<Inst> {
    let all: Vec<u32> = (0..ranks).collect();
    let mut out = Vec::with_capacity(r.nodes.len());
    for (i, item) in r.items.iter().enumerate() {
        let placed = match item {
            Err(_) => Ok(Inst::None),
            Ok(it @ Item::Meta(_)) => Ok(Inst::Meta(it.clone())),
            Ok(it @ (Item::Send { .. } | Item::Recv { .. })) => Ok(Inst::P2p(it.clone())),
            Ok(it @ (Item::Gemm(_) | Item::Compute(_))) => Ok(Inst::Work(it.clone())),
            Ok(Item::Coll {
                coll,
                comm_size,
                pg,
            }) => place(*coll, *comm_size, pg, rank, &all, pgs),
        };
        match placed {
            Ok(inst) => out.push(inst),
            Err(reason) => {
                unsupported.push(UnsupportedNode {
                    rank,
                    index: i,
                    id: r.nodes[i].id,
                    name: r.nodes[i].name.clone(),
                    reason,
                });
                out.push(Inst::None);
            }
        }
    }
    out
}

/// A collective's devices and full buffer in the trace's meaning:
/// ASTRA-sim's `comm_size` is each device's input (`Ring.cc`: an
/// all-gather ends with `data_size * nodes_in_ring`; a reduce-scatter with
/// `data_size / nodes_in_ring`; an all-reduce and an all-to-all with
/// `data_size`), and the trace's `bytes` is the full buffer.
fn place(
    coll: Coll,
    comm_size: u64,
    pg: &str,
    rank: u32,
    all: &[u32],
    pgs: &Groups,
) -> std::result::Result<Inst, String> {
    let devices = if groups::is_default(pg) {
        all.to_vec()
    } else {
        match pgs.get(pg) {
            Some(d) => d.clone(),
            None => {
                return Err(format!(
                    "{} on process group `{pg}`, which no `process_group:init` metadata node \
                     defines (give its ranks with --comm-groups FILE)",
                    coll.proto_name()
                ));
            }
        }
    };
    if devices.binary_search(&rank).is_err() {
        return Err(format!(
            "{} on process group `{pg}` (ranks {}), which does not include rank {rank}",
            coll.proto_name(),
            groups::ranks_text(&devices)
        ));
    }
    let n = devices.len() as u64;
    if n < 2 {
        return Err(format!(
            "{} on process group `{pg}` of one rank moves no data (t3sim needs at least two)",
            coll.proto_name()
        ));
    }
    let full = match coll {
        Coll::AllGather => comm_size.checked_mul(n).filter(|&b| b <= MAX_BUFFER_BYTES),
        _ => Some(comm_size),
    };
    let Some(full) = full else {
        return Err(format!(
            "ALL_GATHER of comm_size {comm_size} B over {n} ranks gathers more than 1 TiB per device"
        ));
    };
    if full % (LINE_BYTES * n) != 0 {
        return Err(format!(
            "{} of {full} B does not split into {n} equal chunks of whole {LINE_BYTES}-B lines \
             (t3sim moves whole lines)",
            coll.proto_name()
        ));
    }
    Ok(Inst::Coll {
        coll,
        full,
        devices,
    })
}

fn is_op(i: &Inst) -> bool {
    matches!(i, Inst::Work(_) | Inst::Coll { .. } | Inst::P2p(_))
}

/// For every node, the op-making nodes it depends on directly or through
/// nodes that make none. A cycle is an error naming its nodes (Chakra's
/// converter refuses them too; ASTRA-sim would never issue them).
fn preds(r: &RankFile, insts: &[Inst]) -> Result<Vec<BTreeSet<usize>>> {
    let nodes = &r.nodes;
    let by_id: HashMap<u64, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let deps = |i: usize| -> Vec<usize> {
        nodes[i]
            .data_deps
            .iter()
            .chain(&nodes[i].ctrl_deps)
            .filter_map(|d| by_id.get(d).copied())
            .collect()
    };
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; nodes.len()];
    let mut out: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for start in 0..nodes.len() {
        if mark[start] != Mark::New {
            continue;
        }
        mark[start] = Mark::Open;
        let mut stack = vec![(start, deps(start), 0usize)];
        while let Some((node, ds, next)) = stack.last_mut() {
            if let Some(&d) = ds.get(*next) {
                *next += 1;
                match mark[d] {
                    Mark::New => {
                        mark[d] = Mark::Open;
                        let dd = deps(d);
                        stack.push((d, dd, 0));
                    }
                    Mark::Open => {
                        let from = stack.iter().position(|f| f.0 == d).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[from..].iter().map(|f| node_label(r, f.0)).collect();
                        cycle.push(node_label(r, d));
                        return Err(err(
                            r,
                            format!("nodes[{d}]"),
                            format!("dependency cycle: {}", cycle.join(" -> ")),
                        ));
                    }
                    Mark::Done => {}
                }
                continue;
            }
            let node = *node;
            let mut set = BTreeSet::new();
            for &d in &deps(node) {
                if is_op(&insts[d]) {
                    set.insert(d);
                } else {
                    set.extend(out[d].iter().copied());
                }
            }
            out[node] = set;
            mark[node] = Mark::Done;
            stack.pop();
        }
    }
    Ok(out)
}

/// Aligned positions in an order where rank 0's dependencies come first
/// (program order where they allow), so every node's predecessors have
/// their ops when it is merged.
fn position_order(aligned: &[usize], preds: &[BTreeSet<usize>]) -> Vec<usize> {
    let pos: HashMap<usize, usize> = aligned.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    let mut waiting = vec![0usize; aligned.len()];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); aligned.len()];
    for (k, &i) in aligned.iter().enumerate() {
        for p in &preds[i] {
            if let Some(&q) = pos.get(p) {
                waiting[k] += 1;
                succs[q].push(k);
            }
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..aligned.len())
        .filter(|&k| waiting[k] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(aligned.len());
    while let Some(std::cmp::Reverse(k)) = ready.pop() {
        order.push(k);
        for &s in &succs[k] {
            waiting[s] -= 1;
            if waiting[s] == 0 {
                ready.push(std::cmp::Reverse(s));
            }
        }
    }
    order
}

/// Merges the ranks' programs.
pub(super) fn merge(files: &[RankFile], pgs: &Groups) -> Result<Merged> {
    let ranks = u32::try_from(files.len()).unwrap_or(u32::MAX);
    let mut unsupported = Vec::new();
    let insts: Vec<Vec<Inst>> = (0u32..)
        .zip(files)
        .map(|(rank, r)| resolve(rank, r, ranks, pgs, &mut unsupported))
        .collect();
    let preds: Vec<Vec<BTreeSet<usize>>> = files
        .iter()
        .zip(&insts)
        .map(|(r, i)| preds(r, i))
        .collect::<Result<_>>()?;
    let aligned: Vec<Vec<usize>> = insts
        .iter()
        .map(|v| {
            v.iter()
                .enumerate()
                .filter(|(_, x)| matches!(x, Inst::Work(_) | Inst::Coll { .. }))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    for (r, a) in files.iter().zip(&aligned).skip(1) {
        if a.len() != aligned[0].len() {
            return Err(err(
                r,
                "",
                format!(
                    "has {} mapped nodes besides sends and receives, rank 0 has {}; t3sim aligns the \
                     ranks' programs node by node (one SPMD program)",
                    a.len(),
                    aligned[0].len()
                ),
            ));
        }
    }
    let mut drafts: Vec<Draft> = Vec::new();
    // (rank, node) -> draft.
    let mut op_of: Vec<Vec<Option<usize>>> = insts.iter().map(|v| vec![None; v.len()]).collect();
    // Sends and receives first: they are per rank, so their identity does
    // not depend on anything else.
    for (rank, v) in (0u32..).zip(&insts) {
        for (i, inst) in v.iter().enumerate() {
            let Inst::P2p(item) = inst else { continue };
            let position = aligned[rank as usize].partition_point(|&a| a < i);
            let kind = match *item {
                Item::Send { dst, tag, bytes } => DraftKind::Send {
                    src: rank,
                    dst,
                    tag,
                    bytes,
                },
                Item::Recv { src, tag, bytes } => DraftKind::Recv {
                    src,
                    dst: rank,
                    tag,
                    bytes,
                },
                _ => continue,
            };
            op_of[rank as usize][i] = Some(drafts.len());
            drafts.push(Draft {
                kind,
                devices: vec![rank],
                deps: BTreeSet::new(),
                nodes: vec![(rank, i)],
                key: (position, 0, rank, i),
                input: None,
                name: String::new(),
            });
        }
    }
    for k in position_order(&aligned[0], &preds[0]) {
        let mut at: Vec<(u32, usize, BTreeSet<usize>)> = Vec::with_capacity(files.len());
        for (rank, r) in (0u32..).zip(files) {
            let i = aligned[rank as usize][k];
            let mut deps = BTreeSet::new();
            for &p in &preds[rank as usize][i] {
                match op_of[rank as usize][p] {
                    Some(d) => {
                        deps.insert(d);
                    }
                    None => {
                        return Err(err(
                            r,
                            format!("nodes[{i}]"),
                            format!(
                                "{} depends on {}, which rank 0's program runs later; t3sim \
                                 merges the ranks' programs node by node, so their \
                                 dependencies must agree",
                                node_label(r, i),
                                node_label(r, p)
                            ),
                        ));
                    }
                }
            }
            at.push((rank, i, deps));
        }
        let made = position(files, &insts, &drafts, k, &at)?;
        for mut d in made {
            for &(rank, i) in &d.nodes {
                op_of[rank as usize][i] = Some(drafts.len());
            }
            d.key.0 = k;
            drafts.push(d);
        }
    }
    // Dependencies of sends and receives, now that every op exists.
    for d in drafts.iter_mut() {
        if let [(rank, i)] = d.nodes[..]
            && matches!(d.kind, DraftKind::Send { .. } | DraftKind::Recv { .. })
        {
            for &p in &preds[rank as usize][i] {
                if let Some(o) = op_of[rank as usize][p] {
                    d.deps.insert(o);
                }
            }
        }
    }
    check_transfers(files, &drafts)?;
    fuse(&mut drafts);
    Ok(finish(files, &insts, drafts, ranks, unsupported))
}

/// The ops made at aligned position `k` from each rank's node there.
fn position(
    files: &[RankFile],
    insts: &[Vec<Inst>],
    drafts: &[Draft],
    k: usize,
    at: &[(u32, usize, BTreeSet<usize>)],
) -> Result<Vec<Draft>> {
    let (r0, i0, _) = &at[0];
    let first = &insts[*r0 as usize][*i0];
    let mut out: Vec<Draft> = Vec::new();
    match first {
        Inst::Coll { .. } => {
            // One op per process group; every member runs it here.
            let mut by_group: BTreeMap<Vec<u32>, Vec<usize>> = BTreeMap::new();
            for (j, (rank, i, _)) in at.iter().enumerate() {
                let Inst::Coll { devices, .. } = &insts[*rank as usize][*i] else {
                    return Err(disagree(files, insts, at, 0, j, k));
                };
                by_group.entry(devices.clone()).or_default().push(j);
            }
            let mut groups: Vec<(Vec<u32>, Vec<usize>)> = by_group.into_iter().collect();
            groups.sort_by_key(|(_, members)| members[0]);
            for (devices, members) in groups {
                let lead = members[0];
                let (lr, li, _) = &at[lead];
                let Inst::Coll { coll, full, .. } = &insts[*lr as usize][*li] else {
                    continue;
                };
                let present: Vec<u32> = members.iter().map(|&j| at[j].0).collect();
                if present != devices {
                    let missing = devices
                        .iter()
                        .find(|d| !present.contains(d))
                        .copied()
                        .unwrap_or(0);
                    let j = at.iter().position(|x| x.0 == missing).unwrap_or(0);
                    return Err(disagree(files, insts, at, lead, j, k));
                }
                for &j in &members {
                    let (r, i, _) = &at[j];
                    if let Inst::Coll {
                        coll: c, full: f, ..
                    } = &insts[*r as usize][*i]
                        && (c != coll || f != full)
                    {
                        return Err(disagree(files, insts, at, lead, j, k));
                    }
                }
                let deps: BTreeSet<usize> = members
                    .iter()
                    .flat_map(|&j| at[j].2.iter().copied())
                    .collect();
                out.push(Draft {
                    kind: DraftKind::Coll {
                        coll: *coll,
                        full: *full,
                    },
                    devices,
                    deps,
                    nodes: members.iter().map(|&j| (at[j].0, at[j].1)).collect(),
                    key: (k, 1, at[lead].0, 0),
                    input: None,
                    name: String::new(),
                });
            }
        }
        _ => {
            // One op per set of ranks that agree on the work, waiting on
            // each rank for what that rank's node waited for: ranks whose
            // nodes wait for each one's own copy of a step (real traces,
            // with per-rank times) still make one op.
            let mut classes: Vec<(&Item, Vec<usize>)> = Vec::new();
            for (j, (rank, i, _)) in at.iter().enumerate() {
                let Inst::Work(item) = &insts[*rank as usize][*i] else {
                    return Err(disagree(files, insts, at, 0, j, k));
                };
                match classes.iter_mut().find(|c| c.0 == item) {
                    Some(c) => c.1.push(j),
                    None => classes.push((item, vec![j])),
                }
            }
            for (item, members) in classes {
                let kind = || match item {
                    Item::Gemm(shape) => Some(DraftKind::Gemm {
                        shape: *shape,
                        chunks: None,
                    }),
                    Item::Compute(t) => Some(DraftKind::Compute(*t)),
                    _ => None,
                };
                let union: BTreeSet<usize> = members
                    .iter()
                    .flat_map(|&j| at[j].2.iter().copied())
                    .collect();
                let exact = members
                    .iter()
                    .all(|&j| restricted(&union, at[j].0, drafts) == at[j].2);
                // Otherwise one op per set of ranks with equal dependencies.
                let parts: Vec<(BTreeSet<usize>, Vec<usize>)> = if exact {
                    vec![(union, members)]
                } else {
                    let mut parts: Vec<(BTreeSet<usize>, Vec<usize>)> = Vec::new();
                    for j in members {
                        match parts.iter_mut().find(|p| p.0 == at[j].2) {
                            Some(p) => p.1.push(j),
                            None => parts.push((at[j].2.clone(), vec![j])),
                        }
                    }
                    parts
                };
                for (deps, members) in parts {
                    let Some(kind) = kind() else { continue };
                    out.push(Draft {
                        kind,
                        devices: members.iter().map(|&j| at[j].0).collect(),
                        deps,
                        nodes: members.iter().map(|&j| (at[j].0, at[j].1)).collect(),
                        key: (k, 1, at[members[0]].0, 0),
                        input: None,
                        name: String::new(),
                    });
                }
            }
        }
    }
    // Dependencies are per device: on each of its devices a merged op waits
    // for those of its deps that run there. Work ops are exact by
    // construction; a collective must merge its members, which is exact
    // only when each member's own set is the merged set restricted to its
    // rank.
    for d in &out {
        if !matches!(d.kind, DraftKind::Coll { .. }) {
            continue;
        }
        for &(rank, i) in &d.nodes {
            let Some((_, _, own)) = at.iter().find(|x| x.0 == rank) else {
                continue;
            };
            let seen = restricted(&d.deps, rank, drafts);
            if &seen != own {
                let r = &files[rank as usize];
                let extra: Vec<String> = seen
                    .difference(own)
                    .map(|&p| {
                        let (pr, pi) = drafts[p].nodes[0];
                        node_label(&files[pr as usize], pi)
                    })
                    .collect();
                return Err(err(
                    r,
                    format!("nodes[{i}]"),
                    format!(
                        "{} is one collective with other ranks' nodes that wait for {}, which rank {rank} \
                         also runs but its node does not wait for; t3sim's dependencies are per device \
                         and cannot express that",
                        node_label(r, i),
                        extra.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The ops of `deps` that run on `rank`: what a merged op waits for there.
fn restricted(deps: &BTreeSet<usize>, rank: u32, drafts: &[Draft]) -> BTreeSet<usize> {
    deps.iter()
        .copied()
        .filter(|&p| drafts[p].devices.binary_search(&rank).is_ok())
        .collect()
}

/// The error for ranks whose nodes at position `k` cannot be one op.
fn disagree(
    files: &[RankFile],
    insts: &[Vec<Inst>],
    at: &[(u32, usize, BTreeSet<usize>)],
    a: usize,
    b: usize,
    k: usize,
) -> crate::Error {
    let (ra, ia, _) = at[a];
    let (rb, ib, _) = at[b];
    let what = |r: u32, i: usize| match &insts[r as usize][i] {
        Inst::Work(item) | Inst::P2p(item) | Inst::Meta(item) => item.describe(),
        Inst::Coll {
            coll,
            full,
            devices,
        } => format!(
            "{} of a {full}-B buffer on ranks {}",
            coll.proto_name(),
            groups::ranks_text(devices)
        ),
        Inst::None => "not replayed".into(),
    };
    let fb = &files[rb as usize];
    err(
        fb,
        format!("nodes[{ib}]"),
        format!(
            "differs from rank {ra}: mapped node {k} (sends and receives aside) is {} here, {}, \
             but {} on rank {ra}, {}; t3sim merges the ranks' programs node by node, and a \
             collective must be run there by every member of its group",
            what(rb, ib),
            node_label(fb, ib),
            what(ra, ia),
            node_label(&files[ra as usize], ia),
        ),
    )
}

/// Every recv has its send (the k-th of each (src, dst, tag)), of the same
/// size; named by nodes, before the trace's own check.
fn check_transfers(files: &[RankFile], drafts: &[Draft]) -> Result<()> {
    type Key = (u32, u32, u64);
    let mut sends: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    let mut recvs: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&d| drafts[d].key);
    for &d in &order {
        match drafts[d].kind {
            DraftKind::Send { src, dst, tag, .. } => {
                sends.entry((src, dst, tag)).or_default().push(d)
            }
            DraftKind::Recv { src, dst, tag, .. } => {
                recvs.entry((src, dst, tag)).or_default().push(d)
            }
            _ => {}
        }
    }
    let bytes = |d: usize| match drafts[d].kind {
        DraftKind::Send { bytes, .. } | DraftKind::Recv { bytes, .. } => bytes,
        _ => 0,
    };
    let label = |d: usize| {
        let (rank, i) = drafts[d].nodes[0];
        format!("rank {rank} {}", node_label(&files[rank as usize], i))
    };
    for (key, rs) in &recvs {
        let ss = sends.get(key).map_or(&[][..], Vec::as_slice);
        for (n, &r) in rs.iter().enumerate() {
            let (rank, i) = drafts[r].nodes[0];
            let Some(&s) = ss.get(n) else {
                return Err(err(
                    &files[rank as usize],
                    format!("nodes[{i}]"),
                    format!(
                        "{} receives from rank {} (tag {}), but rank {} has no matching send \
                         (receive #{} of that pair and tag; {} send{})",
                        label(r),
                        key.0,
                        key.2,
                        key.0,
                        n + 1,
                        ss.len(),
                        if ss.len() == 1 { "" } else { "s" }
                    ),
                ));
            };
            if bytes(s) != bytes(r) {
                return Err(err(
                    &files[rank as usize],
                    format!("nodes[{i}]"),
                    format!(
                        "{} receives {} B but its send, {}, sends {} B",
                        label(r),
                        bytes(r),
                        label(s),
                        bytes(s)
                    ),
                ));
            }
        }
    }
    for (key, ss) in &sends {
        let n = recvs.get(key).map_or(0, Vec::len);
        if let Some(&s) = ss.get(n) {
            let (rank, i) = drafts[s].nodes[0];
            return Err(err(
                &files[rank as usize],
                format!("nodes[{i}]"),
                format!(
                    "{} sends to rank {} (tag {}), but rank {} has no matching receive",
                    label(s),
                    key.1,
                    key.2,
                    key.1
                ),
            ));
        }
    }
    Ok(())
}

/// Collectives take the GEMM (or, for an all-gather, the reduce-scatter)
/// they depend on as `input` when it produced exactly their buffer.
fn fuse(drafts: &mut [Draft]) {
    let mut consumed = vec![false; drafts.len()];
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&d| drafts[d].key);
    for &c in &order {
        let DraftKind::Coll { coll, full } = drafts[c].kind else {
            continue;
        };
        let n = drafts[c].devices.len() as u64;
        let devices = drafts[c].devices.clone();
        let pick = drafts[c].deps.iter().copied().find(|&g| {
            if consumed[g] {
                return false;
            }
            let d = &drafts[g];
            let covers = devices.iter().all(|x| d.devices.binary_search(x).is_ok());
            match (&d.kind, coll) {
                (
                    DraftKind::Gemm { shape, .. },
                    Coll::ReduceScatter | Coll::AllReduce | Coll::AllToAll,
                ) => {
                    covers
                        && shape.m * shape.n * shape.dtype.bytes() == full
                        && shape.m % n == 0
                        && tile_m_for(shape.m / n).is_some()
                }
                (
                    DraftKind::Coll {
                        coll: Coll::ReduceScatter,
                        full: f,
                    },
                    Coll::AllGather,
                ) => d.devices == devices && *f == full,
                _ => false,
            }
        });
        if let Some(g) = pick {
            consumed[g] = true;
            drafts[c].input = Some(g);
            drafts[c].deps.remove(&g);
            if let DraftKind::Gemm { chunks, .. } = &mut drafts[g].kind {
                *chunks = Some(n);
            }
        }
    }
}

/// Names, groups, ops in program order, and the report.
fn finish(
    files: &[RankFile],
    insts: &[Vec<Inst>],
    drafts: Vec<Draft>,
    ranks: u32,
    unsupported: Vec<UnsupportedNode>,
) -> Merged {
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&d| drafts[d].key);
    let mut drafts: Vec<Draft> = drafts;
    // Names: `<node name>#<node id>` of the first rank's node, with the
    // ranks when that is not every rank, unique.
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for &d in &order {
        let (rank, i) = drafts[d].nodes[0];
        let node = &files[rank as usize].nodes[i];
        let base = if node.name.is_empty() {
            format!("node#{}", node.id)
        } else {
            format!("{}#{}", node.name, node.id)
        };
        let mut name = if drafts[d].devices.len() == ranks as usize {
            base
        } else if drafts[d].devices.len() == 1 {
            format!("{base}@r{rank}")
        } else {
            format!("{base}@ranks{}", groups::ranks_text(&drafts[d].devices))
        };
        if taken.contains(&name) {
            let stem = name.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{stem}~{n}");
                n += 1;
            }
        }
        taken.insert(name.clone());
        drafts[d].name = name;
    }
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: BTreeMap<Vec<u32>, String> = BTreeMap::new();
    let mut ops = Vec::with_capacity(drafts.len());
    let mut mapped = Vec::new();
    for &d in &order {
        let x = &drafts[d];
        let group = if x.devices.len() == ranks as usize
            || matches!(x.kind, DraftKind::Send { .. } | DraftKind::Recv { .. })
        {
            None
        } else {
            let name = group_of.entry(x.devices.clone()).or_insert_with(|| {
                let name = format!("ranks{}", groups::ranks_text(&x.devices));
                groups.push(Group {
                    name: name.clone(),
                    devices: x.devices.clone(),
                });
                name
            });
            Some(name.clone())
        };
        let mut deps: Vec<usize> = x.deps.iter().copied().collect();
        deps.sort_by_key(|&p| drafts[p].key);
        let deps: Vec<String> = deps.iter().map(|&p| drafts[p].name.clone()).collect();
        let input = x.input.map(|i| drafts[i].name.clone());
        let op = match x.kind {
            DraftKind::Gemm { shape, chunks } => {
                let tile_m = chunks
                    .and_then(|n| tile_m_for(shape.m / n))
                    .unwrap_or_else(|| u32::try_from(shape.m.min(128)).unwrap_or(128));
                Op::Gemm(GemmOp {
                    name: x.name.clone(),
                    m: shape.m,
                    n: shape.n,
                    k: shape.k,
                    dtype: shape.dtype,
                    tile_m,
                    tile_n: tile_n_for(shape.n),
                    tile_k: tile_k_for(shape.k),
                    input: None,
                    group,
                    deps,
                })
            }
            DraftKind::Compute(t) => {
                let (duration_ns, flops, bytes) = match t {
                    Timing::Fixed(ns) => (Some(ns), None, None),
                    Timing::Roofline { flops, bytes } => (None, Some(flops), Some(bytes)),
                };
                Op::Compute(ComputeOp {
                    name: x.name.clone(),
                    duration_ns,
                    flops,
                    bytes,
                    group,
                    deps,
                })
            }
            DraftKind::Coll { coll, full } => {
                let c = CollectiveOp {
                    name: x.name.clone(),
                    bytes: input.is_none().then_some(full),
                    input,
                    group,
                    deps,
                };
                match coll {
                    Coll::ReduceScatter => Op::ReduceScatter(c),
                    Coll::AllGather => Op::AllGather(c),
                    Coll::AllReduce => Op::AllReduce(c),
                    Coll::AllToAll => Op::AllToAll(c),
                }
            }
            DraftKind::Send {
                src,
                dst,
                tag,
                bytes,
            }
            | DraftKind::Recv {
                src,
                dst,
                tag,
                bytes,
            } => {
                let p = P2pOp {
                    name: x.name.clone(),
                    src,
                    dst,
                    bytes,
                    tag,
                    deps,
                };
                if matches!(x.kind, DraftKind::Send { .. }) {
                    Op::Send(p)
                } else {
                    Op::Recv(p)
                }
            }
        };
        let (rank, i) = x.nodes[0];
        let node = &files[rank as usize].nodes[i];
        let item = match &files[rank as usize].items[i] {
            Ok(item) => item.describe(),
            Err(e) => e.clone(),
        };
        mapped.push(MappedNode {
            ranks: x.nodes.iter().map(|n| n.0).collect(),
            index: i,
            id: node.id,
            name: node.name.clone(),
            what: item,
            ops: vec![x.name.clone()],
        });
        ops.push(op);
    }
    // Metadata nodes map to no op; report each distinct one once.
    let mut meta: BTreeMap<(usize, u64, String, String), Vec<u32>> = BTreeMap::new();
    for (rank, v) in (0u32..).zip(insts) {
        for (i, inst) in v.iter().enumerate() {
            if let Inst::Meta(item) = inst {
                let n = &files[rank as usize].nodes[i];
                meta.entry((i, n.id, n.name.clone(), item.describe()))
                    .or_default()
                    .push(rank);
            }
        }
    }
    for ((index, id, name, what), ranks) in meta {
        mapped.push(MappedNode {
            ranks,
            index,
            id,
            name,
            what,
            ops: Vec::new(),
        });
    }
    Merged {
        ops,
        groups,
        mapped,
        unsupported,
    }
}
