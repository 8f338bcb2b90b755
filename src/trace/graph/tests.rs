use super::*;
use crate::trace::{DEFAULT_TOKENS, Model, SubLayer, generate, generate_layer, parse};

/// A trace from the JSON of its ops (and optional groups) on `tp` devices.
fn trace(tp: u32, groups: &str, ops: &str) -> std::result::Result<Trace, String> {
    let groups = if groups.is_empty() {
        String::new()
    } else {
        format!("\"groups\": {groups},")
    };
    let src = format!("{{\"version\": 2, \"name\": \"t\", \"tp\": {tp}, {groups} \"ops\": {ops}}}");
    parse("t.json", &src).map_err(|e| e.to_string())
}

fn graph(tp: u32, groups: &str, ops: &str) -> OpGraph {
    let t = trace(tp, groups, ops).unwrap_or_else(|e| panic!("{e}"));
    OpGraph::new(&t).unwrap()
}

fn rejected(tp: u32, groups: &str, ops: &str) -> String {
    match trace(tp, groups, ops) {
        Ok(t) => panic!("accepted: {t:?}"),
        Err(e) => e,
    }
}

const G: &str = r#""kind": "gemm", "m": 1024, "n": 256, "k": 64, "dtype": "fp16", "tile_m": 128, "tile_n": 128, "tile_k": 32"#;

fn coll(g: &OpGraph, name: &str) -> CollectiveNode {
    let i = g.index_of(name).unwrap();
    g.op(i).collective().cloned().unwrap()
}

#[test]
fn a_shipped_sub_layer_is_the_single_pair_with_its_sizes() {
    let t = generate(Model::Tnlg, 8, SubLayer::Fc2, DEFAULT_TOKENS).unwrap();
    let g = OpGraph::new(&t).unwrap();
    assert_eq!(g.single_pair(), Some((0, 1)));
    assert!(g.is_single_pair());
    assert_eq!(g.gemm_collective_pairs(), vec![(0, 1)]);
    let rs = coll(&g, "fc2-rs");
    let c = 8192 * 4256 * 2;
    assert_eq!(rs.kind, CollectiveKind::ReduceScatter);
    assert_eq!((rs.input_bytes, rs.output_bytes), (c, c / 8));
    assert_eq!(rs.chunk_bytes, c / 8);
    assert_eq!(rs.gemm, Some(0));
    assert_eq!(g.op(1).deps, vec![0]);
    assert_eq!(g.op(0).consumer, Some(1));
    assert_eq!(g.op(1).devices, (0..8).collect::<Vec<u32>>());
    assert_eq!(g.kind_counts(), vec![("gemm", 1), ("reduce-scatter", 1)]);
}

#[test]
fn two_pairs_are_two_pairs_and_not_the_single_pair() {
    let g = graph(
        4,
        "",
        &format!(
            r#"[{{{G}, "name": "a"}}, {{"kind": "reduce-scatter", "name": "ra", "input": "a"}},
                {{{G}, "name": "b", "deps": ["ra"]}}, {{"kind": "reduce-scatter", "name": "rb", "input": "b"}}]"#
        ),
    );
    assert_eq!(g.single_pair(), None);
    assert_eq!(g.gemm_collective_pairs(), vec![(0, 1), (2, 3)]);
    assert_eq!(g.op(2).deps, vec![1]);
    assert_eq!(g.successors(1), &[2]);
}

#[test]
fn each_collective_states_its_bytes_before_and_after() {
    let g = graph(
        4,
        "",
        r#"[{"kind": "reduce-scatter", "name": "rs", "bytes": 4096},
            {"kind": "all-gather", "name": "ag", "input": "rs"},
            {"kind": "all-gather", "name": "ag2", "bytes": 4096},
            {"kind": "all-reduce", "name": "ar", "bytes": 4096},
            {"kind": "all-to-all", "name": "a2a", "bytes": 4096}]"#,
    );
    let io = |n: &str| {
        let c = coll(&g, n);
        (c.input_bytes, c.output_bytes, c.chunk_bytes, c.buffer_bytes)
    };
    assert_eq!(io("rs"), (4096, 1024, 1024, 4096));
    assert_eq!(io("ag"), (1024, 4096, 1024, 4096));
    assert_eq!(io("ag2"), (1024, 4096, 1024, 4096));
    assert_eq!(io("ar"), (4096, 4096, 1024, 4096));
    assert_eq!(io("a2a"), (4096, 4096, 1024, 4096));
    assert_eq!(coll(&g, "ag").input, Some(0));
    assert_eq!(coll(&g, "ag").gemm, None);
    assert!(g.gemm_collective_pairs().is_empty());
}

#[test]
fn groups_set_devices_and_the_chunking_of_their_collectives() {
    let groups = r#"[{"name": "lo", "devices": [0, 1, 2, 3]}, {"name": "one", "devices": [5]}]"#;
    let g = graph(
        8,
        groups,
        &format!(
            r#"[{{{G}, "name": "a", "group": "lo"}},
                {{"kind": "all-reduce", "name": "ar", "input": "a", "group": "lo"}},
                {{"kind": "compute", "name": "c", "duration_ns": 5, "group": "one"}}]"#
        ),
    );
    assert_eq!(g.op(0).devices, vec![0, 1, 2, 3]);
    assert_eq!(g.op(0).group.as_deref(), Some("lo"));
    assert_eq!(coll(&g, "ar").chunk_bytes, 1024 * 256 * 2 / 4);
    assert_eq!(g.op(2).devices, vec![5]);
    // A collective needs two devices.
    let e = rejected(
        8,
        groups,
        r#"[{"kind": "all-reduce", "name": "ar", "bytes": 4096, "group": "one"}]"#,
    );
    assert!(
        e.contains("ops[0].group") && e.contains("at least two"),
        "{e}"
    );
    // 1024 rows split 8 ways are 128-row chunks, 16 ways 64: not whole tiles.
    let e = rejected(
        16,
        "",
        &format!(
            r#"[{{{G}, "name": "a"}}, {{"kind": "reduce-scatter", "name": "r", "input": "a"}}]"#
        ),
    );
    assert!(
        e.contains("ops[0].tile_m") && e.contains("m / 16 = 64"),
        "{e}"
    );
    // A GEMM that feeds no collective is not chunked.
    graph(16, "", &format!(r#"[{{{G}, "name": "a"}}]"#));
    // The collective runs where its input was produced.
    let e = rejected(
        8,
        groups,
        &format!(
            r#"[{{{G}, "name": "a", "group": "lo"}}, {{"kind": "reduce-scatter", "name": "r", "input": "a"}}]"#
        ),
    );
    assert!(
        e.contains("ops[1].input") && e.contains("devices 0-3"),
        "{e}"
    );
    let e = rejected(
        8,
        groups,
        r#"[{"kind": "compute", "name": "c", "duration_ns": 1, "group": "mid"}]"#,
    );
    assert!(e.contains("unknown group `mid`"), "{e}");
}

#[test]
fn group_device_lists_are_checked() {
    for (groups, words) in [
        (r#"[{"name": "g", "devices": []}]"#, "at least one device"),
        (
            r#"[{"name": "g", "devices": [0, 8]}]"#,
            "device 8 does not exist",
        ),
        (r#"[{"name": "g", "devices": [1, 1]}]"#, "appears twice"),
        (r#"[{"name": "g", "devices": [2, 1]}]"#, "ascending"),
        (
            r#"[{"name": "g", "devices": [1]}, {"name": "g", "devices": [2]}]"#,
            "duplicate group name",
        ),
    ] {
        let e = rejected(
            8,
            groups,
            r#"[{"kind": "compute", "name": "c", "duration_ns": 1}]"#,
        );
        assert!(e.contains(words), "{words}: {e}");
    }
}

#[test]
fn bytes_must_split_into_whole_lines_per_device_of_the_group() {
    let e = rejected(
        4,
        "",
        r#"[{"kind": "all-reduce", "name": "x", "bytes": 4160}]"#,
    );
    assert!(e.contains("multiple of 256"), "{e}");
    let groups = r#"[{"name": "two", "devices": [0, 3]}]"#;
    let g = graph(
        4,
        groups,
        r#"[{"kind": "all-to-all", "name": "x", "bytes": 4224, "group": "two"}]"#,
    );
    assert_eq!(coll(&g, "x").chunk_bytes, 2112);
}

#[test]
fn compute_is_fixed_or_roofline_and_never_both() {
    let g = graph(
        2,
        "",
        r#"[{"kind": "compute", "name": "f", "duration_ns": 0},
            {"kind": "compute", "name": "r", "flops": 10, "bytes": 0}]"#,
    );
    assert_eq!(
        g.op(0).kind,
        OpKind::Compute(ComputeNode::Fixed { duration_ns: 0 })
    );
    assert_eq!(
        g.op(1).kind,
        OpKind::Compute(ComputeNode::Roofline {
            flops: 10,
            bytes: 0
        })
    );
    for (op, words) in [
        (r#"{"kind": "compute", "name": "c"}"#, "missing"),
        (
            r#"{"kind": "compute", "name": "c", "flops": 1}"#,
            "needs both",
        ),
        (
            r#"{"kind": "compute", "name": "c", "duration_ns": 1, "flops": 1, "bytes": 1}"#,
            "not both",
        ),
        (
            r#"{"kind": "compute", "name": "c", "flops": 0, "bytes": 0}"#,
            "both 0",
        ),
        (
            r#"{"kind": "compute", "name": "c", "duration_ns": 1000000000001}"#,
            "1000 s",
        ),
    ] {
        let e = rejected(2, "", &format!("[{op}]"));
        assert!(e.contains(words), "{words}: {e}");
    }
}

#[test]
fn transfers_pair_in_order_and_the_recv_comes_after_its_send() {
    // The recv is listed first, the sends out of order: the k-th send
    // from 0 to 1 with tag 0 pairs with the k-th such recv.
    let g = graph(
        2,
        "",
        r#"[{"kind": "recv", "name": "r1", "src": 0, "dst": 1, "bytes": 64},
            {"kind": "send", "name": "s2", "src": 0, "dst": 1, "bytes": 128, "tag": 7},
            {"kind": "send", "name": "s1", "src": 0, "dst": 1, "bytes": 64},
            {"kind": "recv", "name": "r2", "src": 0, "dst": 1, "bytes": 128, "tag": 7}]"#,
    );
    let names: Vec<&str> = g.ops().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["s2", "s1", "r1", "r2"]);
    let peer = |n: &str| match g.op(g.index_of(n).unwrap()).kind {
        OpKind::Send(x) | OpKind::Recv(x) => g.op(x.peer).name.clone(),
        _ => unreachable!(),
    };
    assert_eq!(peer("r1"), "s1");
    assert_eq!(peer("s2"), "r2");
    assert_eq!(g.op(g.index_of("r1").unwrap()).devices, vec![1]);
    assert_eq!(g.op(g.index_of("s1").unwrap()).devices, vec![0]);
    for (ops, words) in [
        (
            r#"[{"kind": "recv", "name": "r", "src": 0, "dst": 1, "bytes": 64}]"#,
            "no send for this recv",
        ),
        (
            r#"[{"kind": "send", "name": "s", "src": 0, "dst": 1, "bytes": 64}]"#,
            "no recv takes this send",
        ),
        (
            r#"[{"kind": "send", "name": "s", "src": 0, "dst": 1, "bytes": 64},
                {"kind": "recv", "name": "r", "src": 0, "dst": 1, "bytes": 128}]"#,
            "receives 128 B but its send `s`",
        ),
        (
            r#"[{"kind": "send", "name": "s", "src": 0, "dst": 1, "bytes": 64, "deps": ["r"]},
                {"kind": "recv", "name": "r", "src": 0, "dst": 1, "bytes": 64, "deps": ["s"]}]"#,
            "a dependency orders work on the same device",
        ),
        (
            r#"[{"kind": "send", "name": "s", "src": 1, "dst": 1, "bytes": 64}]"#,
            "needs two devices",
        ),
        (
            r#"[{"kind": "send", "name": "s", "src": 0, "dst": 1, "bytes": 100}]"#,
            "whole number of 64-B lines",
        ),
        (
            r#"[{"kind": "send", "name": "s", "src": 0, "dst": 2, "bytes": 64}]"#,
            "device 2 does not exist",
        ),
    ] {
        let e = rejected(2, "", ops);
        assert!(e.contains(words), "{words}: {e}");
    }
}

#[test]
fn a_cycle_through_a_transfer_is_named() {
    // r (on 1) waits for s (on 0) through the transfer; c0 on 0 waits for
    // r2 whose send s2 (on 1) waits for r: a deadlock.
    let e = rejected(
        2,
        r#"[{"name": "d0", "devices": [0]}, {"name": "d1", "devices": [1]}]"#,
        r#"[{"kind": "send", "name": "s", "src": 0, "dst": 1, "bytes": 64, "deps": ["r2"]},
            {"kind": "recv", "name": "r", "src": 0, "dst": 1, "bytes": 64},
            {"kind": "send", "name": "s2", "src": 1, "dst": 0, "bytes": 64, "deps": ["r"]},
            {"kind": "recv", "name": "r2", "src": 1, "dst": 0, "bytes": 64}]"#,
    );
    assert!(
        e.contains("dependency cycle: s -> r2 -> s2 (its send) -> r -> s (its send)"),
        "{e}"
    );
}

#[test]
fn order_is_topological_and_program_order_among_ready_ops() {
    let g = graph(
        2,
        "",
        r#"[{"kind": "compute", "name": "late", "duration_ns": 1, "deps": ["x"]},
            {"kind": "compute", "name": "y", "duration_ns": 1},
            {"kind": "compute", "name": "x", "duration_ns": 1}]"#,
    );
    let names: Vec<&str> = g.ops().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["y", "x", "late"]);
    assert_eq!(g.op(2).trace_index, 0);
    assert_eq!(g.op(2).deps, vec![1]);
    for o in g.ops() {
        assert!(o.deps.iter().all(|&d| d < o.index));
    }
}

#[test]
fn a_gemm_input_is_a_dependency_whose_output_is_its_operand_a() {
    let ok = format!(
        r#"[{{{G}, "name": "a"}},
            {{"kind": "gemm", "name": "b", "m": 1024, "n": 64, "k": 256, "dtype": "fp16",
              "tile_m": 128, "tile_n": 64, "tile_k": 32, "input": "a"}}]"#
    );
    let g = graph(2, "", &ok);
    assert_eq!(g.op(1).deps, vec![0]);
    match &g.op(1).kind {
        OpKind::Gemm(n) => assert_eq!(n.input, Some(0)),
        other => panic!("{other:?}"),
    }
    let e = rejected(2, "", &ok.replace("\"k\": 256", "\"k\": 128"));
    assert!(e.contains("operand A") && e.contains("262144 B"), "{e}");
    let e = rejected(
        2,
        "",
        &format!(
            r#"[{{"kind": "compute", "name": "c", "duration_ns": 1}}, {{{G}, "name": "b", "input": "c"}}]"#
        ),
    );
    assert!(
        e.contains("the input of a gemm must be an op with an output"),
        "{e}"
    );
}

#[test]
fn version_1_holds_only_version_1_features() {
    let src = |ops: &str| format!("{{\"version\": 1, \"name\": \"t\", \"tp\": 2, \"ops\": {ops}}}");
    let e = parse(
        "t.json",
        &src(r#"[{"kind": "compute", "name": "c", "duration_ns": 1}]"#),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("ops[0].kind") && e.contains("need trace version 2"),
        "{e}"
    );
    let t = parse(
        "t.json",
        &src(r#"[{"kind": "all-gather", "name": "a", "bytes": 128}]"#),
    )
    .unwrap();
    assert_eq!(t.required_version(), 1);
    let t = trace(
        2,
        "",
        r#"[{"kind": "all-reduce", "name": "a", "bytes": 128}]"#,
    )
    .unwrap();
    assert_eq!(t.required_version(), 2);
}

#[test]
fn the_layer_graph_chains_its_gemms_through_the_all_reduces() {
    let t = generate_layer(Model::Gpt3, 32, DEFAULT_TOKENS).unwrap();
    let g = OpGraph::new(&t).unwrap();
    let names: Vec<&str> = g.ops().iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "qkv",
            "attn-scores",
            "attn-softmax",
            "attn-context",
            "op",
            "op-ar",
            "fc1",
            "fc2",
            "fc2-ar"
        ]
    );
    assert_eq!(g.gemm_collective_pairs(), vec![(4, 5), (7, 8)]);
    assert_eq!(
        g.kind_counts(),
        vec![("gemm", 4), ("all-reduce", 2), ("compute", 3)]
    );
    let ar = coll(&g, "op-ar");
    assert_eq!(ar.buffer_bytes, 8192 * 12288 * 2);
    // FC-1 reads the all-reduced activations, FC-2 FC-1's output.
    match (&g.op(6).kind, &g.op(7).kind) {
        (OpKind::Gemm(f1), OpKind::Gemm(f2)) => {
            assert_eq!(f1.input, Some(5));
            assert_eq!(f2.input, Some(6));
        }
        other => panic!("{other:?}"),
    }
    for o in &g.ops()[1..] {
        assert_eq!(o.deps, vec![o.index - 1], "{}", o.name);
    }
}
