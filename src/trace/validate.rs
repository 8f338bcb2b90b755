//! Rejects traces no ring can replay. Each failure is (field path,
//! message); the caller places the field in the source.

use super::schema::{MAX_BUFFER_BYTES, MAX_TP, Op, TRACE_VERSION, Trace};
use super::span::FieldPath;
use std::collections::HashMap;

/// A rejected field and why.
pub(crate) type Problem = (FieldPath, String);

type Check = Result<(), Problem>;

fn fail(path: FieldPath, msg: impl Into<String>) -> Check {
    Err((path, msg.into()))
}

/// Largest scale factor a device override may carry; anything beyond is
/// a typo rather than a skew study.
const MAX_SCALE: f64 = 1000.0;

pub(crate) fn check(t: &Trace) -> Check {
    let root = FieldPath::root();
    if t.version != TRACE_VERSION {
        return fail(
            root.key("version"),
            format!(
                "version {} is not supported; this build reads version {TRACE_VERSION}",
                t.version
            ),
        );
    }
    if t.name.trim().is_empty() {
        return fail(root.key("name"), "must not be empty");
    }
    if t.tp < 2 || t.tp > MAX_TP {
        return fail(
            root.key("tp"),
            format!(
                "tp = {} is outside the supported range 2..={MAX_TP} (a ring needs at least two devices)",
                t.tp
            ),
        );
    }
    if t.ops.is_empty() {
        return fail(root.key("ops"), "must contain at least one op");
    }
    let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(t.ops.len());
    for (i, op) in t.ops.iter().enumerate() {
        let at = root.key("ops").index(i);
        if op.name().trim().is_empty() {
            return fail(at.key("name"), "must not be empty");
        }
        if let Some(first) = by_name.insert(op.name(), i) {
            return fail(
                at.key("name"),
                format!("duplicate op name `{}` (also ops[{first}])", op.name()),
            );
        }
    }
    for (i, op) in t.ops.iter().enumerate() {
        let at = root.key("ops").index(i);
        check_op(t, op, &at)?;
        check_refs(t, op, &at, &by_name)?;
    }
    check_single_consumers(t)?;
    check_cycles(t, &by_name)?;
    check_devices(t)
}

fn check_op(t: &Trace, op: &Op, at: &FieldPath) -> Check {
    let tp = u64::from(t.tp);
    match op {
        Op::Gemm(g) => {
            for (field, v) in [("m", g.m), ("n", g.n), ("k", g.k)] {
                if v == 0 {
                    return fail(at.key(field), "must be greater than 0");
                }
            }
            for (field, v, dim, dim_name) in [
                ("tile_m", g.tile_m, g.m, "m"),
                ("tile_n", g.tile_n, g.n, "n"),
                ("tile_k", g.tile_k, g.k, "k"),
            ] {
                if v == 0 {
                    return fail(at.key(field), "must be greater than 0");
                }
                if u64::from(v) > dim {
                    return fail(
                        at.key(field),
                        format!("{field} = {v} is larger than the matrix ({dim_name} = {dim})"),
                    );
                }
            }
            let el = g.dtype.bytes();
            for (field, what, a, b) in [
                ("m", "output C (M x N)", g.m, g.n),
                ("m", "operand A (M x K)", g.m, g.k),
                ("k", "operand B (K x N)", g.k, g.n),
            ] {
                match a.checked_mul(b).and_then(|x| x.checked_mul(el)) {
                    Some(bytes) if bytes <= MAX_BUFFER_BYTES => {}
                    _ => {
                        return fail(
                            at.key(field),
                            format!(
                                "{what} of {a} x {b} x {el} B exceeds the limit of 1 TiB per device"
                            ),
                        );
                    }
                }
            }
            if g.m % tp != 0 {
                return fail(
                    at.key("m"),
                    format!(
                        "m = {} does not split into tp = {tp} equal reduce-scatter chunks (m % tp = {})",
                        g.m,
                        g.m % tp
                    ),
                );
            }
            let rows = g.m / tp;
            if rows % u64::from(g.tile_m) != 0 {
                return fail(
                    at.key("tile_m"),
                    format!(
                        "a chunk of m / tp = {rows} rows is not a whole number of tile_m = {} rows \
                         (T3's staged GEMM computes one chunk per stage)",
                        g.tile_m
                    ),
                );
            }
            Ok(())
        }
        Op::ReduceScatter(r) => buffer_source(t, at, r.input.as_deref(), r.bytes, "a gemm"),
        Op::AllGather(a) => buffer_source(t, at, a.input.as_deref(), a.bytes, "a reduce-scatter"),
    }
}

/// Exactly one of `input` and `bytes`; `bytes` must split into `tp` chunks
/// of whole 2-byte elements.
fn buffer_source(
    t: &Trace,
    at: &FieldPath,
    input: Option<&str>,
    bytes: Option<u64>,
    wants: &str,
) -> Check {
    match (input, bytes) {
        (Some(_), Some(_)) => fail(at.key("bytes"), "give either `input` or `bytes`, not both"),
        (None, None) => fail(
            at.key("input"),
            format!("missing: give `input` ({wants}) or `bytes` (a plain buffer)"),
        ),
        (Some(_), None) => Ok(()),
        (None, Some(b)) => {
            let tp = u64::from(t.tp);
            if b == 0 {
                return fail(at.key("bytes"), "must be greater than 0");
            }
            if b > MAX_BUFFER_BYTES {
                return fail(
                    at.key("bytes"),
                    format!("{b} B exceeds the limit of 1 TiB per device"),
                );
            }
            if b % (tp * 2) != 0 {
                return fail(
                    at.key("bytes"),
                    format!(
                        "{b} B does not split into tp = {tp} equal chunks of whole 2-byte elements \
                         (bytes must be a multiple of {})",
                        tp * 2
                    ),
                );
            }
            Ok(())
        }
    }
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

fn check_refs(t: &Trace, op: &Op, at: &FieldPath, by_name: &HashMap<&str, usize>) -> Check {
    for (j, d) in op.deps().iter().enumerate() {
        if !by_name.contains_key(d.as_str()) {
            return fail(
                at.key("deps").index(j),
                format!("depends on unknown op `{d}`"),
            );
        }
        if d == op.name() {
            return fail(
                at.key("deps").index(j),
                format!("op `{d}` depends on itself"),
            );
        }
    }
    let Some(input) = op.input() else {
        return Ok(());
    };
    let Some(&i) = by_name.get(input) else {
        return fail(at.key("input"), format!("unknown op `{input}`"));
    };
    let target = &t.ops[i];
    let ok = matches!(
        (op, target),
        (Op::ReduceScatter(_), Op::Gemm(_)) | (Op::AllGather(_), Op::ReduceScatter(_))
    );
    if !ok {
        let wants = match op {
            Op::AllGather(_) => "a reduce-scatter",
            _ => "a gemm",
        };
        return fail(
            at.key("input"),
            format!(
                "`{input}` is {}; the input of {} must be {wants}",
                a(target.kind()),
                a(op.kind())
            ),
        );
    }
    Ok(())
}

/// A GEMM is reduced by one RS, an RS gathered by one AG: T3 programs one
/// tracker/DMA schedule per output buffer.
fn check_single_consumers(t: &Trace) -> Check {
    let mut consumer: HashMap<&str, usize> = HashMap::new();
    for (i, op) in t.ops.iter().enumerate() {
        if let Some(input) = op.input()
            && let Some(first) = consumer.insert(input, i)
        {
            return fail(
                FieldPath::root().key("ops").index(i).key("input"),
                format!(
                    "`{input}` is already consumed by ops[{first}]; each output is reduced or gathered once"
                ),
            );
        }
    }
    Ok(())
}

fn check_cycles(t: &Trace, by_name: &HashMap<&str, usize>) -> Check {
    // Edges op -> prerequisite, with the field that spells each edge.
    let edges: Vec<Vec<(usize, FieldPath)>> = t
        .ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let at = FieldPath::root().key("ops").index(i);
            let mut e: Vec<(usize, FieldPath)> = op
                .deps()
                .iter()
                .enumerate()
                .filter_map(|(j, d)| {
                    by_name
                        .get(d.as_str())
                        .map(|&k| (k, at.key("deps").index(j)))
                })
                .collect();
            if let Some(&k) = op.input().and_then(|n| by_name.get(n)) {
                e.push((k, at.key("input")));
            }
            e
        })
        .collect();
    // Iterative DFS (imported traces can be long chains).
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; t.ops.len()];
    for start in 0..t.ops.len() {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some((to, field)) = edges[node].get(*next) {
                *next += 1;
                match mark[*to] {
                    Mark::New => {
                        mark[*to] = Mark::Open;
                        stack.push((*to, 0));
                    }
                    Mark::Open => {
                        let from = stack.iter().position(|&(n, _)| n == *to).unwrap_or(0);
                        let mut names: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(n, _)| t.ops[n].name())
                            .collect();
                        names.push(t.ops[*to].name());
                        return fail(
                            field.clone(),
                            format!("dependency cycle: {}", names.join(" -> ")),
                        );
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    Ok(())
}

fn check_devices(t: &Trace) -> Check {
    let mut seen: HashMap<u32, usize> = HashMap::new();
    for (i, d) in t.devices.iter().enumerate() {
        let at = FieldPath::root().key("devices").index(i);
        if d.device >= t.tp {
            return fail(
                at.key("device"),
                format!(
                    "device {} does not exist in a ring of tp = {} (devices are 0..{})",
                    d.device, t.tp, t.tp
                ),
            );
        }
        if let Some(first) = seen.insert(d.device, i) {
            return fail(
                at.key("device"),
                format!(
                    "device {} is already overridden by devices[{first}]",
                    d.device
                ),
            );
        }
        for (field, v) in [
            ("compute_scale", d.compute_scale),
            ("link_bw_scale", d.link_bw_scale),
            ("mem_bw_scale", d.mem_bw_scale),
        ] {
            if !v.is_finite() || v <= 0.0 || v > MAX_SCALE {
                return fail(
                    at.key(field),
                    format!("{v} must be a finite scale in (0, {MAX_SCALE}]"),
                );
            }
        }
    }
    Ok(())
}
