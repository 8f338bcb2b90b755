//! The rules one field (or one op) must follow on its own: the top level,
//! the groups, each op's fields, the device overrides. Rules between ops
//! (references, sizes, chunking, transfers, cycles) are the op graph's
//! (`graph::build`). Each failure is (field path, message).

use super::schema::{
    CollectiveOp, ComputeOp, GemmOp, LINE_BYTES, MAX_BUFFER_BYTES, MAX_COMPUTE_BYTES, MAX_DEPS,
    MAX_DEVICE_SLOTS, MAX_DURATION_NS, MAX_FLOPS, MAX_GROUPS, MAX_NAME_BYTES, MAX_OPS, MAX_TP, Op,
    P2pOp, SUPPORTED_VERSIONS, Trace,
};
use super::span::{FieldPath, Problem};
use std::collections::HashMap;

type Check = Result<(), Problem>;

fn fail(path: FieldPath, msg: impl Into<String>) -> Check {
    Err((path, msg.into()))
}

/// Largest scale factor a device override may carry; anything beyond is
/// a typo rather than a skew study.
const MAX_SCALE: f64 = 1000.0;

/// Every per-field rule, in the order a reader meets the fields.
pub(crate) fn check(t: &Trace) -> Check {
    let root = FieldPath::root();
    if !SUPPORTED_VERSIONS.contains(&t.version) {
        return fail(root.key("version"), version_message(t.version));
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
    if t.version == 1
        && let Some((path, what)) = t.first_v2_feature()
    {
        return fail(
            path,
            format!("{what} trace version 2 (this trace says \"version\": 1)"),
        );
    }
    check_groups(t)?;
    if t.ops.is_empty() {
        return fail(root.key("ops"), "must contain at least one op");
    }
    if t.ops.len() > MAX_OPS {
        return fail(
            root.key("ops"),
            format!("{} ops exceed the limit of {MAX_OPS}", t.ops.len()),
        );
    }
    let deps: usize = t.ops.iter().map(|o| o.deps().len()).sum();
    if deps > MAX_DEPS {
        return fail(
            root.key("ops"),
            format!("{deps} dependencies exceed the limit of {MAX_DEPS}"),
        );
    }
    let sizes: HashMap<&str, u64> = t
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.devices.len() as u64))
        .collect();
    let slots: u64 = t
        .ops
        .iter()
        .map(|o| match (o, o.group()) {
            (Op::Send(_) | Op::Recv(_), _) => 1,
            (_, Some(g)) => sizes.get(g).copied().unwrap_or(0),
            (_, None) => u64::from(t.tp),
        })
        .sum();
    if slots > MAX_DEVICE_SLOTS {
        return fail(
            root.key("ops"),
            format!(
                "the ops run on {slots} (op, device) pairs in all, beyond the limit of {MAX_DEVICE_SLOTS}"
            ),
        );
    }
    let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(t.ops.len());
    for (i, op) in t.ops.iter().enumerate() {
        let at = root.key("ops").index(i);
        check_name(op.name(), &at.key("name"))?;
        if let Some(first) = by_name.insert(op.name(), i) {
            return fail(
                at.key("name"),
                format!("duplicate op name `{}` (also ops[{first}])", op.name()),
            );
        }
    }
    for (i, op) in t.ops.iter().enumerate() {
        check_op(t, op, &root.key("ops").index(i))?;
    }
    check_devices(t)
}

/// The message for an unsupported `version`.
pub(crate) fn version_message(v: impl std::fmt::Display) -> String {
    format!("version {v} is not supported; this build reads versions 1 and 2")
}

fn check_name(name: &str, at: &FieldPath) -> Check {
    if name.trim().is_empty() {
        return fail(at.clone(), "must not be empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return fail(
            at.clone(),
            format!(
                "a name of {} bytes exceeds the limit of {MAX_NAME_BYTES}",
                name.len()
            ),
        );
    }
    Ok(())
}

fn check_groups(t: &Trace) -> Check {
    let root = FieldPath::root();
    if t.groups.len() > MAX_GROUPS {
        return fail(
            root.key("groups"),
            format!("{} groups exceed the limit of {MAX_GROUPS}", t.groups.len()),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, g) in t.groups.iter().enumerate() {
        let at = root.key("groups").index(i);
        check_name(&g.name, &at.key("name"))?;
        if let Some(first) = seen.insert(g.name.as_str(), i) {
            return fail(
                at.key("name"),
                format!("duplicate group name `{}` (also groups[{first}])", g.name),
            );
        }
        if g.devices.is_empty() {
            return fail(at.key("devices"), "must name at least one device");
        }
        for (j, &d) in g.devices.iter().enumerate() {
            let here = at.key("devices").index(j);
            if d >= t.tp {
                return fail(
                    here,
                    format!(
                        "device {d} does not exist (tp = {}: devices are 0..{})",
                        t.tp, t.tp
                    ),
                );
            }
            if j > 0 {
                let prev = g.devices[j - 1];
                if d == prev {
                    return fail(here, format!("device {d} appears twice"));
                }
                if d < prev {
                    return fail(
                        here,
                        format!(
                            "device {d} follows {prev}: list devices in ascending order \
                             (a ring visits them in that order)"
                        ),
                    );
                }
            }
        }
    }
    Ok(())
}

fn check_op(t: &Trace, op: &Op, at: &FieldPath) -> Check {
    match op {
        Op::Gemm(g) => check_gemm(g, at),
        Op::ReduceScatter(c) | Op::AllGather(c) | Op::AllReduce(c) | Op::AllToAll(c) => {
            check_collective(c, at)
        }
        Op::Compute(c) => check_compute(c, at),
        Op::Send(p) | Op::Recv(p) => check_p2p(t, p, at),
    }
}

fn check_gemm(g: &GemmOp, at: &FieldPath) -> Check {
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
                    format!("{what} of {a} x {b} x {el} B exceeds the limit of 1 TiB per device"),
                );
            }
        }
    }
    Ok(())
}

/// Exactly one of `input` and `bytes`; a `bytes` buffer within bounds.
/// (Whether it splits into whole-line chunks depends on the group size,
/// which the graph resolves.)
fn check_collective(c: &CollectiveOp, at: &FieldPath) -> Check {
    match (c.input.as_deref(), c.bytes) {
        (Some(_), Some(_)) => fail(at.key("bytes"), "give either `input` or `bytes`, not both"),
        (None, None) => fail(
            at.key("input"),
            "missing: give `input` (the op whose output it takes) or `bytes` (a plain buffer)",
        ),
        (Some(_), None) => Ok(()),
        (None, Some(b)) => check_bytes(b, MAX_BUFFER_BYTES, &at.key("bytes")),
    }
}

fn check_bytes(b: u64, max: u64, at: &FieldPath) -> Check {
    if b == 0 {
        return fail(at.clone(), "must be greater than 0");
    }
    if b > max {
        return fail(
            at.clone(),
            format!("{b} B exceeds the limit of {} per device", human(max)),
        );
    }
    Ok(())
}

fn human(b: u64) -> String {
    if b >= 1 << 40 && b.is_multiple_of(1 << 40) {
        format!("{} TiB", b >> 40)
    } else {
        format!("{b} B")
    }
}

fn check_compute(c: &ComputeOp, at: &FieldPath) -> Check {
    match (c.duration_ns, c.flops, c.bytes) {
        (Some(_), Some(_), _) => fail(
            at.key("flops"),
            "give either `duration_ns` or `flops` and `bytes`, not both",
        ),
        (Some(_), None, Some(_)) => fail(
            at.key("bytes"),
            "give either `duration_ns` or `flops` and `bytes`, not both",
        ),
        (Some(d), None, None) => {
            if d > MAX_DURATION_NS {
                return fail(
                    at.key("duration_ns"),
                    format!("{d} ns exceeds the limit of {MAX_DURATION_NS} ns (1000 s)"),
                );
            }
            Ok(())
        }
        (None, None, None) => fail(
            at.key("duration_ns"),
            "missing: give `duration_ns` (a fixed time) or `flops` and `bytes` (timed by roofline)",
        ),
        (None, Some(_), None) => fail(
            at.key("bytes"),
            "missing: a roofline-timed compute op needs both `flops` and `bytes`",
        ),
        (None, None, Some(_)) => fail(
            at.key("flops"),
            "missing: a roofline-timed compute op needs both `flops` and `bytes`",
        ),
        (None, Some(f), Some(b)) => {
            if f > MAX_FLOPS {
                return fail(
                    at.key("flops"),
                    format!("{f} FLOPs exceed the limit of {MAX_FLOPS}"),
                );
            }
            if b > MAX_COMPUTE_BYTES {
                return fail(
                    at.key("bytes"),
                    format!("{b} B exceeds the limit of {MAX_COMPUTE_BYTES} B per device"),
                );
            }
            if f == 0 && b == 0 {
                return fail(
                    at.key("flops"),
                    "`flops` and `bytes` are both 0; write `duration_ns: 0` for an op that takes no time",
                );
            }
            Ok(())
        }
    }
}

fn check_p2p(t: &Trace, p: &P2pOp, at: &FieldPath) -> Check {
    for (field, d) in [("src", p.src), ("dst", p.dst)] {
        if d >= t.tp {
            return fail(
                at.key(field),
                format!(
                    "device {d} does not exist (tp = {}: devices are 0..{})",
                    t.tp, t.tp
                ),
            );
        }
    }
    if p.src == p.dst {
        return fail(
            at.key("dst"),
            format!(
                "src and dst are both device {}: a transfer needs two devices",
                p.src
            ),
        );
    }
    check_bytes(p.bytes, MAX_BUFFER_BYTES, &at.key("bytes"))?;
    if !p.bytes.is_multiple_of(LINE_BYTES) {
        return fail(
            at.key("bytes"),
            format!(
                "{} B is not a whole number of {LINE_BYTES}-B lines (the engine moves whole lines)",
                p.bytes
            ),
        );
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
