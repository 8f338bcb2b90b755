//! From trace to graph: each op's devices, references and sizes, with the
//! rules between ops that these decide.

use super::order::{self, Edges};
use super::{
    CollectiveKind, CollectiveNode, ComputeNode, GemmNode, GraphOp, OpGraph, OpKind, Transfer,
};
use crate::trace::rules;
use crate::trace::schema::{CollectiveOp, Group, LINE_BYTES, Op, Trace};
use crate::trace::span::{FieldPath, Problem};
use std::collections::HashMap;

type Check<T = ()> = Result<T, Problem>;

fn fail<T>(path: FieldPath, msg: impl Into<String>) -> Check<T> {
    Err((path, msg.into()))
}

fn at(i: usize) -> FieldPath {
    FieldPath::root().key("ops").index(i)
}

/// `kind` with its indefinite article.
fn a(kind: &str) -> String {
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

/// An op's references and devices, in trace order.
struct Refs {
    devices: Vec<u32>,
    deps: Vec<usize>,
    input: Option<usize>,
}

/// Validates `t` and builds its graph.
pub(super) fn build(t: &Trace) -> Check<OpGraph> {
    rules::check(t)?;
    let names: HashMap<&str, usize> = t
        .ops
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name(), i))
        .collect();
    let groups: HashMap<&str, &Group> = t.groups.iter().map(|g| (g.name.as_str(), g)).collect();
    let mut refs = Vec::with_capacity(t.ops.len());
    for (i, op) in t.ops.iter().enumerate() {
        refs.push(resolve(t, i, op, &names, &groups)?);
    }
    for (i, op) in t.ops.iter().enumerate() {
        check_shared_devices(i, op, &refs, &names)?;
        check_input(t, i, op, &refs)?;
    }
    let consumer = consumers(t, &refs)?;
    let mut kinds = Vec::with_capacity(t.ops.len());
    for (i, op) in t.ops.iter().enumerate() {
        kinds.push(kind(t, i, op, &refs)?);
    }
    let peers = order::match_transfers(t)?;
    for (i, p) in peers.iter().enumerate() {
        if let Some(p) = *p
            && let OpKind::Send(x) | OpKind::Recv(x) = &mut kinds[i]
        {
            x.peer = p;
        }
    }
    let inputs: Vec<Option<usize>> = refs.iter().map(|r| r.input).collect();
    let edges = Edges::new(t, &names, &inputs, &peers);
    order::check_cycles(t, &edges)?;
    let mut graph_index = vec![0; t.ops.len()];
    for (g, i) in order::topological(&edges).into_iter().enumerate() {
        graph_index[i] = g;
    }
    let mut ordered: Vec<(usize, usize, OpKind)> = kinds
        .into_iter()
        .enumerate()
        .map(|(i, k)| (graph_index[i], i, k))
        .collect();
    ordered.sort_unstable_by_key(|x| x.0);
    let mut ops = Vec::with_capacity(t.ops.len());
    for (g, i, mut kind) in ordered {
        let r = &refs[i];
        let mut deps: Vec<usize> = r
            .deps
            .iter()
            .chain(&r.input)
            .map(|&d| graph_index[d])
            .collect();
        deps.sort_unstable();
        deps.dedup();
        remap(&mut kind, &graph_index);
        ops.push(GraphOp {
            index: g,
            trace_index: i,
            name: t.ops[i].name().to_string(),
            kind,
            devices: r.devices.clone(),
            group: t.ops[i].group().map(str::to_string),
            deps,
            consumer: consumer[i].map(|c| graph_index[c]),
        });
    }
    let mut succs = vec![Vec::new(); ops.len()];
    for o in &ops {
        for &d in &o.deps {
            succs[d].push(o.index);
        }
    }
    let by_name = ops.iter().map(|o| (o.name.clone(), o.index)).collect();
    Ok(OpGraph {
        tp: t.tp,
        ops,
        groups: t.groups.clone(),
        succs,
        by_name,
    })
}

/// Trace indices inside a kind become graph indices.
fn remap(kind: &mut OpKind, to: &[usize]) {
    match kind {
        OpKind::Gemm(g) => {
            if let Some(i) = &mut g.input {
                *i = to[*i];
            }
        }
        OpKind::Collective(c) => {
            if let Some(i) = &mut c.input {
                *i = to[*i];
            }
            if let Some(i) = &mut c.gemm {
                *i = to[*i];
            }
        }
        OpKind::Send(x) | OpKind::Recv(x) => x.peer = to[x.peer],
        OpKind::Compute(_) => {}
    }
}

fn resolve(
    t: &Trace,
    i: usize,
    op: &Op,
    names: &HashMap<&str, usize>,
    groups: &HashMap<&str, &Group>,
) -> Check<Refs> {
    let devices = match op {
        Op::Send(p) => vec![p.src],
        Op::Recv(p) => vec![p.dst],
        _ => match op.group() {
            None => (0..t.tp).collect(),
            Some(g) => match groups.get(g) {
                Some(g) => g.devices.clone(),
                None => {
                    let known = if t.groups.is_empty() {
                        "the trace defines no `groups`".to_string()
                    } else {
                        format!(
                            "defined groups: {}",
                            t.groups
                                .iter()
                                .map(|g| format!("`{}`", g.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    return fail(at(i).key("group"), format!("unknown group `{g}` ({known})"));
                }
            },
        },
    };
    let mut deps = Vec::with_capacity(op.deps().len());
    for (j, d) in op.deps().iter().enumerate() {
        let Some(&k) = names.get(d.as_str()) else {
            return fail(
                at(i).key("deps").index(j),
                format!("depends on unknown op `{d}`"),
            );
        };
        if k == i {
            return fail(
                at(i).key("deps").index(j),
                format!("op `{d}` depends on itself"),
            );
        }
        deps.push(k);
    }
    deps.sort_unstable();
    deps.dedup();
    let input = match op.input() {
        None => None,
        Some(n) => match names.get(n) {
            None => return fail(at(i).key("input"), format!("unknown op `{n}`")),
            Some(&k) if k == i => {
                return fail(at(i).key("input"), format!("op `{n}` is its own input"));
            }
            Some(&k) => Some(k),
        },
    };
    Ok(Refs {
        devices,
        deps,
        input,
    })
}

/// Dependencies are per device (an op waits on each of its devices for the
/// dependencies that run there), so each must share a device with the op.
fn check_shared_devices(i: usize, op: &Op, refs: &[Refs], names: &HashMap<&str, usize>) -> Check {
    let mine = &refs[i].devices;
    for (j, d) in op.deps().iter().enumerate() {
        let Some(&k) = names.get(d.as_str()) else {
            continue;
        };
        let theirs = &refs[k].devices;
        if !theirs.iter().any(|x| mine.binary_search(x).is_ok()) {
            return fail(
                at(i).key("deps").index(j),
                format!(
                    "`{d}` runs on devices {} and `{}` on devices {}: a dependency orders work on \
                     the same device (between devices, use a send and recv or a collective)",
                    list(theirs),
                    op.name(),
                    list(mine)
                ),
            );
        }
    }
    Ok(())
}

/// The kinds an `input` may name, and that the consumer runs where its
/// input was produced.
fn check_input(t: &Trace, i: usize, op: &Op, refs: &[Refs]) -> Check {
    let Some(k) = refs[i].input else {
        return Ok(());
    };
    let target = &t.ops[k];
    let (ok, wants) = match op {
        Op::ReduceScatter(_) | Op::AllReduce(_) | Op::AllToAll(_) => {
            (matches!(target, Op::Gemm(_)), "a gemm")
        }
        Op::AllGather(_) => (matches!(target, Op::ReduceScatter(_)), "a reduce-scatter"),
        Op::Gemm(_) => (
            !matches!(target, Op::Compute(_) | Op::Send(_)),
            "an op with an output (a gemm, a collective or a recv; order after a compute or a send with `deps`)",
        ),
        Op::Compute(_) | Op::Send(_) | Op::Recv(_) => (true, ""),
    };
    if !ok {
        return fail(
            at(i).key("input"),
            format!(
                "`{}` is {}; the input of {} must be {wants}",
                target.name(),
                a(target.kind()),
                a(op.kind())
            ),
        );
    }
    let mine = &refs[i].devices;
    let theirs = &refs[k].devices;
    let fits = if matches!(op, Op::AllGather(_)) {
        mine == theirs
    } else {
        mine.iter().all(|d| theirs.binary_search(d).is_ok())
    };
    if !fits {
        let how = if matches!(op, Op::AllGather(_)) {
            "an all-gather must run on exactly the devices of the reduce-scatter it gathers"
        } else {
            "every device of the op must hold its input"
        };
        return fail(
            at(i).key("input"),
            format!(
                "`{}` runs on devices {} but `{}` on devices {}: {how}",
                target.name(),
                list(theirs),
                op.name(),
                list(mine)
            ),
        );
    }
    Ok(())
}

/// Devices as `0-7` or `0,2,4`.
pub(crate) fn list(d: &[u32]) -> String {
    match d {
        [] => "none".into(),
        [first, .., last] if (*last - *first) as usize + 1 == d.len() => {
            format!("{first}-{last}")
        }
        _ => d.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
    }
}

/// Each op's output is the `input` of at most one op: T3 programs one
/// tracker/DMA schedule per output buffer, and a reduction rewrites it.
fn consumers(t: &Trace, refs: &[Refs]) -> Check<Vec<Option<usize>>> {
    let mut consumer: Vec<Option<usize>> = vec![None; t.ops.len()];
    for (i, r) in refs.iter().enumerate() {
        if let Some(k) = r.input {
            if let Some(first) = consumer[k] {
                return fail(
                    at(i).key("input"),
                    format!(
                        "`{}` is already the input of ops[{first}]; an output is the input of one op \
                         (order further ops with `deps`)",
                        t.ops[k].name()
                    ),
                );
            }
            consumer[k] = Some(i);
        }
    }
    Ok(consumer)
}

/// Bytes per device an op leaves as its output (what a consumer's `input`
/// takes), for ops that have one.
fn output_bytes(t: &Trace, k: usize, refs: &[Refs]) -> Option<u64> {
    match &t.ops[k] {
        Op::Gemm(g) => Some(g.output_bytes()),
        Op::Recv(p) => Some(p.bytes),
        Op::Compute(_) | Op::Send(_) => None,
        op => {
            let c = op.collective()?;
            let full = buffer_bytes(t, k, c, refs)?;
            let n = refs[k].devices.len() as u64;
            Some(match op {
                Op::ReduceScatter(_) => full / n.max(1),
                _ => full,
            })
        }
    }
}

/// The full buffer of a collective: its `bytes`, its GEMM's C, or for an
/// all-gather of an RS that RS's full buffer.
fn buffer_bytes(t: &Trace, k: usize, c: &CollectiveOp, refs: &[Refs]) -> Option<u64> {
    if let Some(b) = c.bytes {
        return Some(b);
    }
    let i = refs[k].input?;
    match &t.ops[i] {
        Op::Gemm(g) => Some(g.output_bytes()),
        Op::ReduceScatter(r) => {
            let j = refs[i].input;
            match (r.bytes, j.map(|j| &t.ops[j])) {
                (Some(b), _) => Some(b),
                (None, Some(Op::Gemm(g))) => Some(g.output_bytes()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn kind(t: &Trace, i: usize, op: &Op, refs: &[Refs]) -> Check<OpKind> {
    Ok(match op {
        Op::Gemm(g) => {
            if let Some(k) = refs[i].input {
                let a_bytes = g.a_bytes();
                match output_bytes(t, k, refs) {
                    Some(b) if b == a_bytes => {}
                    Some(b) => {
                        return fail(
                            at(i).key("input"),
                            format!(
                                "`{}` leaves {b} B per device but operand A (m x k = {} x {} x {} B) \
                                 is {a_bytes} B",
                                t.ops[k].name(),
                                g.m,
                                g.k,
                                g.dtype.bytes()
                            ),
                        );
                    }
                    None => {
                        return fail(
                            at(i).key("input"),
                            format!("the output size of `{}` is unknown", t.ops[k].name()),
                        );
                    }
                }
            }
            OpKind::Gemm(GemmNode {
                gemm: g.clone(),
                input: refs[i].input,
            })
        }
        Op::ReduceScatter(c) => collective(t, i, c, CollectiveKind::ReduceScatter, refs)?,
        Op::AllGather(c) => collective(t, i, c, CollectiveKind::AllGather, refs)?,
        Op::AllReduce(c) => collective(t, i, c, CollectiveKind::AllReduce, refs)?,
        Op::AllToAll(c) => collective(t, i, c, CollectiveKind::AllToAll, refs)?,
        Op::Compute(c) => OpKind::Compute(match (c.duration_ns, c.flops, c.bytes) {
            (Some(d), _, _) => ComputeNode::Fixed { duration_ns: d },
            (None, Some(flops), Some(bytes)) => ComputeNode::Roofline { flops, bytes },
            // The field rules leave no other case.
            _ => return fail(at(i).key("duration_ns"), "missing"),
        }),
        Op::Send(p) | Op::Recv(p) => {
            let x = Transfer {
                src: p.src,
                dst: p.dst,
                bytes: p.bytes,
                tag: p.tag,
                peer: i,
            };
            if matches!(op, Op::Send(_)) {
                OpKind::Send(x)
            } else {
                OpKind::Recv(x)
            }
        }
    })
}

/// Where the group size appears in messages.
fn over(t: &Trace, c: &CollectiveOp, n: u64) -> String {
    match &c.group {
        None => format!("tp = {}", t.tp),
        Some(g) => format!("the {n} devices of group `{g}`"),
    }
}

fn collective(
    t: &Trace,
    i: usize,
    c: &CollectiveOp,
    kind: CollectiveKind,
    refs: &[Refs],
) -> Check<OpKind> {
    let n = refs[i].devices.len() as u64;
    if n < 2 {
        return fail(
            at(i).key("group"),
            format!(
                "group `{}` has one device; {} needs at least two",
                c.group.as_deref().unwrap_or(""),
                a(kind.name())
            ),
        );
    }
    let input = refs[i].input;
    let gemm = input.filter(|&k| matches!(t.ops[k], Op::Gemm(_)));
    if let Some(b) = c.bytes
        && b % (LINE_BYTES * n) != 0
    {
        return fail(
            at(i).key("bytes"),
            format!(
                "{b} B does not split into {} equal chunks of whole {LINE_BYTES}-B lines \
                 (bytes must be a multiple of {})",
                over(t, c, n),
                LINE_BYTES * n
            ),
        );
    }
    if let Some(k) = gemm
        && let Op::Gemm(g) = &t.ops[k]
    {
        // The collective splits C along M into n chunks; T3's staged GEMM
        // computes one chunk per stage, so a chunk is whole tile rows.
        if g.m % n != 0 {
            return fail(
                at(k).key("m"),
                format!(
                    "m = {} does not split into {} equal {} chunks (m % {n} = {}){}",
                    g.m,
                    over(t, c, n),
                    kind.name(),
                    g.m % n,
                    named(c, &t.ops[i])
                ),
            );
        }
        let rows = g.m / n;
        if !rows.is_multiple_of(u64::from(g.tile_m)) {
            return fail(
                at(k).key("tile_m"),
                format!(
                    "a chunk of m / {n} = {rows} rows is not a whole number of tile_m = {} rows \
                     (T3's staged GEMM computes one chunk per stage){}",
                    g.tile_m,
                    named(c, &t.ops[i])
                ),
            );
        }
    }
    let Some(full) = buffer_bytes(t, i, c, refs) else {
        return fail(at(i).key("input"), "the size of the input is unknown");
    };
    let chunk = full / n;
    let (input_bytes, output_bytes) = match kind {
        CollectiveKind::ReduceScatter => (full, chunk),
        CollectiveKind::AllGather => (chunk, full),
        CollectiveKind::AllReduce | CollectiveKind::AllToAll => (full, full),
    };
    Ok(OpKind::Collective(CollectiveNode {
        kind,
        input,
        gemm,
        buffer_bytes: full,
        input_bytes,
        output_bytes,
        chunk_bytes: chunk,
    }))
}

/// ` for reduce-scatter `x`` when the collective is not the v1 default.
fn named(c: &CollectiveOp, op: &Op) -> String {
    if c.group.is_some() || !matches!(op, Op::ReduceScatter(_)) {
        format!(" for {} `{}`", op.kind(), c.name)
    } else {
        String::new()
    }
}
