//! Which send each recv takes, that the ordering edges have no cycle, and
//! the order the engine starts ops in.

use crate::trace::schema::{Op, Trace};
use crate::trace::span::{FieldPath, Problem};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

fn at(i: usize) -> FieldPath {
    FieldPath::root().key("ops").index(i)
}

/// For each op, its transfer peer: the k-th send and the k-th recv (in
/// program order) with the same (src, dst, tag) are one transfer, as
/// messages between two ranks are matched in order (MPI's non-overtaking
/// rule, NCCL's in-order point-to-point). Every recv needs its send and
/// every send its recv, of the same size.
pub(super) fn match_transfers(t: &Trace) -> Result<Vec<Option<usize>>, Problem> {
    type Key = (u32, u32, u64);
    let mut sends: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    let mut recvs: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, op) in t.ops.iter().enumerate() {
        match op {
            Op::Send(p) => sends.entry((p.src, p.dst, p.tag)).or_default().push(i),
            Op::Recv(p) => recvs.entry((p.src, p.dst, p.tag)).or_default().push(i),
            _ => {}
        }
    }
    let mut peer = vec![None; t.ops.len()];
    let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
    for (i, op) in t.ops.iter().enumerate() {
        let Op::Recv(p) = op else { continue };
        let key = (p.src, p.dst, p.tag);
        let k = seen.entry(key).or_insert(0);
        let nth = *k;
        *k += 1;
        let matching = sends.get(&key).map_or(&[][..], Vec::as_slice);
        let Some(&s) = matching.get(nth) else {
            return Err((
                at(i).key("src"),
                format!(
                    "no send for this recv: it is recv #{} from device {} to device {} with tag {}, \
                     and the trace has {} such send{}",
                    nth + 1,
                    p.src,
                    p.dst,
                    p.tag,
                    matching.len(),
                    if matching.len() == 1 { "" } else { "s" }
                ),
            ));
        };
        let Op::Send(sp) = &t.ops[s] else { continue };
        if sp.bytes != p.bytes {
            return Err((
                at(i).key("bytes"),
                format!(
                    "receives {} B but its send `{}` (ops[{s}]) sends {} B",
                    p.bytes, sp.name, sp.bytes
                ),
            ));
        }
        peer[i] = Some(s);
        peer[s] = Some(i);
    }
    for (i, op) in t.ops.iter().enumerate() {
        if let Op::Send(p) = op
            && peer[i].is_none()
        {
            let n = recvs.get(&(p.src, p.dst, p.tag)).map_or(0, Vec::len);
            return Err((
                at(i).key("dst"),
                format!(
                    "no recv takes this send from device {} to device {} with tag {} \
                     (the trace has {n} such recv{})",
                    p.src,
                    p.dst,
                    p.tag,
                    if n == 1 { "" } else { "s" }
                ),
            ));
        }
    }
    Ok(peer)
}

/// An edge from an op to an op it must follow, and the field spelling it.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    pub to: usize,
    pub field: FieldPath,
    /// The edge is a recv waiting for its send.
    pub transfer: bool,
}

/// Every op's ordering edges: `deps`, `input`, and a recv's send.
pub(super) struct Edges(pub Vec<Vec<Edge>>);

impl Edges {
    pub fn new(
        t: &Trace,
        names: &HashMap<&str, usize>,
        inputs: &[Option<usize>],
        peers: &[Option<usize>],
    ) -> Edges {
        let mut all = Vec::with_capacity(t.ops.len());
        for (i, op) in t.ops.iter().enumerate() {
            let mut e = Vec::new();
            for (j, d) in op.deps().iter().enumerate() {
                if let Some(&to) = names.get(d.as_str()) {
                    e.push(Edge {
                        to,
                        field: at(i).key("deps").index(j),
                        transfer: false,
                    });
                }
            }
            if let Some(to) = inputs[i] {
                e.push(Edge {
                    to,
                    field: at(i).key("input"),
                    transfer: false,
                });
            }
            if let (Op::Recv(_), Some(to)) = (op, peers[i]) {
                e.push(Edge {
                    to,
                    field: at(i).key("src"),
                    transfer: true,
                });
            }
            all.push(e);
        }
        Edges(all)
    }
}

/// Rejects a cycle, naming its ops: `fc2 -> fc2-rs -> fc2`.
pub(super) fn check_cycles(t: &Trace, edges: &Edges) -> Result<(), Problem> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let n = t.ops.len();
    let mut mark = vec![Mark::New; n];
    // Iterative DFS (imported traces can be long chains); each frame is
    // (op, next edge, whether it was reached through a transfer edge).
    for start in 0..n {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize, bool)> = vec![(start, 0, false)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut next, _)) = stack.last_mut() {
            let Some(e) = edges.0[node].get(*next) else {
                mark[node] = Mark::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            match mark[e.to] {
                Mark::New => {
                    mark[e.to] = Mark::Open;
                    stack.push((e.to, 0, e.transfer));
                }
                Mark::Open => {
                    let from = stack.iter().position(|&(k, _, _)| k == e.to).unwrap_or(0);
                    let mut names: Vec<String> = Vec::new();
                    for (j, &(k, _, via)) in stack[from..].iter().enumerate() {
                        let label = t.ops[k].name().to_string();
                        names.push(if via && j > 0 {
                            format!("{label} (its send)")
                        } else {
                            label
                        });
                    }
                    let last = t.ops[e.to].name();
                    names.push(if e.transfer {
                        format!("{last} (its send)")
                    } else {
                        last.to_string()
                    });
                    return Err((
                        e.field.clone(),
                        format!("dependency cycle: {}", names.join(" -> ")),
                    ));
                }
                Mark::Done => {}
            }
        }
    }
    Ok(())
}

/// Kahn's algorithm, always taking the lowest ready trace index, so the
/// order is program order wherever the edges allow it. Assumes no cycle.
pub(super) fn topological(edges: &Edges) -> Vec<usize> {
    let n = edges.0.len();
    let mut waiting: Vec<usize> = edges.0.iter().map(|e| distinct(e).len()).collect();
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in edges.0.iter().enumerate() {
        for to in distinct(e) {
            succs[to].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &s in &succs[i] {
            waiting[s] -= 1;
            if waiting[s] == 0 {
                ready.push(Reverse(s));
            }
        }
    }
    order
}

/// An op's prerequisites without repeats (a dep may also be the input).
fn distinct(e: &[Edge]) -> Vec<usize> {
    let mut v: Vec<usize> = e.iter().map(|x| x.to).collect();
    v.sort_unstable();
    v.dedup();
    v
}
