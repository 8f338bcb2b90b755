//! Chakra ET import against real ASTRA-sim files and against broken ones.

use std::io::Write;
use std::path::{Path, PathBuf};
use t3sim::trace::{self, CollectiveOp, Op, OpGraph, chakra};

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/chakra")
}

fn set(coll: &str, ranks: u32) -> PathBuf {
    data()
        .join(coll)
        .join(format!("{ranks}npus_1MB"))
        .join(coll)
}

const MB: u64 = 1 << 20;

/// The one collective of an imported microbenchmark, with its graph view.
fn only_collective(t: &trace::Trace) -> (CollectiveOp, t3sim::trace::CollectiveNode) {
    assert_eq!(t.ops.len(), 1, "{:?}", t.ops);
    let c = t.ops[0].collective().expect("a collective").clone();
    let g = OpGraph::new(t).unwrap();
    (c, g.op(0).collective().unwrap().clone())
}

#[test]
fn all_reduce_becomes_one_all_reduce_of_comm_size_at_every_rank_count() {
    for ranks in [4, 8, 16] {
        let imp = chakra::import(&set("all_reduce", ranks)).unwrap();
        assert_eq!(imp.ranks, ranks);
        assert_eq!(imp.files.len(), ranks as usize);
        assert_eq!(imp.et_version, "0.0.4");
        assert!(imp.unsupported.is_empty(), "{:?}", imp.unsupported);
        let t = imp.trace.expect("a trace");
        assert_eq!(t.tp, ranks);
        assert_eq!(t.name, "all_reduce");
        assert_eq!(t.version, 2);
        assert!(matches!(t.ops[0], Op::AllReduce(_)), "{:?}", t.ops);
        let (c, node) = only_collective(&t);
        assert_eq!(c.bytes, Some(MB));
        assert_eq!(c.input, None);
        assert_eq!(c.group, None);
        // Ring.cc, All_Reduce: final_data_size = data_size.
        assert_eq!((node.input_bytes, node.output_bytes), (MB, MB));
        assert_eq!(node.chunk_bytes, MB / u64::from(ranks));
        assert!(t.gemm().is_none());
        assert_eq!(imp.mapped.len(), 1);
        assert_eq!(imp.mapped[0].name, format!("all_reduce_{ranks}npus_1MB"));
        assert_eq!(imp.mapped[0].what, "ALL_REDUCE of 1048576 B");
        assert_eq!(imp.mapped[0].ranks, (0..ranks).collect::<Vec<_>>());
        assert_eq!(imp.mapped[0].ops.len(), 1);
        // The imported trace is a valid trace file.
        let back = trace::parse("x.json", &trace::to_json(&t)).unwrap();
        assert_eq!(back, t);
    }
}

#[test]
fn all_gather_gathers_comm_size_from_every_rank() {
    for ranks in [4, 8, 16] {
        let imp = chakra::import(&set("all_gather", ranks)).unwrap();
        assert_eq!(imp.ranks, ranks);
        assert!(imp.unsupported.is_empty());
        let t = imp.trace.expect("a trace");
        assert_eq!(t.tp, ranks);
        assert!(matches!(t.ops[0], Op::AllGather(_)));
        let (c, node) = only_collective(&t);
        // Chakra's comm_size is each rank's input; ASTRA-sim's Ring.cc
        // gathers final_data_size = data_size * nodes_in_ring.
        let n = u64::from(ranks);
        assert_eq!(c.bytes, Some(MB * n));
        assert_eq!(c.name, format!("all_gather_{ranks}npus_1MB#0"));
        assert_eq!((node.input_bytes, node.output_bytes), (MB, MB * n));
        assert!(t.reduce_scatter().is_none());
    }
}

#[test]
fn all_to_all_becomes_an_all_to_all_of_comm_size() {
    for ranks in [4u32, 8, 16] {
        let imp = chakra::import(&set("all_to_all", ranks)).unwrap();
        assert_eq!(imp.ranks, ranks);
        assert!(imp.unsupported.is_empty(), "{:?}", imp.unsupported);
        let t = imp.trace.expect("a trace");
        assert!(matches!(t.ops[0], Op::AllToAll(_)));
        let (c, node) = only_collective(&t);
        // Ring.cc, All_to_All: final_data_size = data_size, msg_size =
        // data_size / nodes_in_ring to each peer.
        assert_eq!(c.bytes, Some(MB));
        assert_eq!((node.input_bytes, node.output_bytes), (MB, MB));
        assert_eq!(node.chunk_bytes, MB / u64::from(ranks));
        assert_eq!(imp.mapped[0].what, "ALL_TO_ALL of 1048576 B");
    }
}

#[test]
fn every_shared_chakra_file_imports_to_a_valid_graph() {
    let mut sets = 0;
    for coll in ["all_gather", "all_reduce", "all_to_all"] {
        for ranks in [4, 8, 16] {
            let imp = chakra::import(&set(coll, ranks)).unwrap();
            assert!(imp.unsupported.is_empty(), "{coll} {ranks}");
            let t = imp.trace.unwrap();
            let g = OpGraph::new(&t).unwrap();
            assert_eq!(g.len(), 1);
            assert_eq!(g.op(0).devices.len(), ranks as usize);
            sets += 1;
        }
    }
    assert_eq!(sets, 9);
}

#[test]
fn a_directory_or_a_rank_file_stands_for_its_prefix() {
    let by_prefix = chakra::import(&set("all_reduce", 8)).unwrap();
    let dir = data().join("all_reduce/8npus_1MB");
    let by_dir = chakra::import(&dir).unwrap();
    let by_file = chakra::import(&dir.join("all_reduce.3.et")).unwrap();
    assert_eq!(by_prefix.trace, by_dir.trace);
    assert_eq!(by_prefix.trace, by_file.trace);
    assert_eq!(by_dir.files, by_prefix.files);
}

// ---- broken inputs -------------------------------------------------------

/// Writes rank files `x.0.et`, `x.1.et` (rank 1 a valid copy of the 4-rank
/// all-reduce's rank 1) with rank 0 = `bytes`; returns (prefix, rank 0 path).
fn with_rank0(dir: &Path, bytes: &[u8]) -> (PathBuf, PathBuf) {
    let good1 = std::fs::read(data().join("all_reduce/4npus_1MB/all_reduce.1.et")).unwrap();
    let r0 = dir.join("x.0.et");
    std::fs::write(&r0, bytes).unwrap();
    std::fs::write(dir.join("x.1.et"), good1).unwrap();
    (dir.join("x"), r0)
}

fn good_rank0() -> Vec<u8> {
    std::fs::read(data().join("all_reduce/4npus_1MB/all_reduce.0.et")).unwrap()
}

fn import_err(bytes: &[u8]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (prefix, r0) = with_rank0(dir.path(), bytes);
    let e = chakra::import(&prefix).expect_err("must be rejected");
    assert_eq!(e.exit_code(), 2, "{e}");
    (e.to_string(), r0.display().to_string())
}

#[test]
fn two_ranks_of_a_valid_stream_import() {
    let dir = tempfile::tempdir().unwrap();
    let (prefix, _) = with_rank0(dir.path(), &good_rank0());
    let imp = chakra::import(&prefix).unwrap();
    assert_eq!(imp.trace.unwrap().tp, 2);
}

#[test]
fn truncated_file_names_file_node_and_offset() {
    let good = good_rank0();
    let (msg, file) = import_err(&good[..good.len() - 5]);
    assert!(msg.starts_with(&file), "{msg}");
    assert!(msg.contains("nodes[0]"), "{msg}");
    assert!(msg.contains("byte offset 8"), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn truncated_inside_the_length_prefix_is_reported() {
    let mut bytes = good_rank0();
    bytes.truncate(8);
    bytes.push(0x80); // a varint that promises more bytes
    let (msg, file) = import_err(&bytes);
    assert!(msg.starts_with(&file), "{msg}");
    assert!(
        msg.contains("nodes[0]") && msg.contains("byte offset 8"),
        "{msg}"
    );
}

#[test]
fn corrupt_varint_is_reported_without_allocating() {
    let mut bytes = good_rank0();
    // Replace the node's length prefix with an 11-byte varint.
    bytes.truncate(8);
    bytes.extend([0xff; 11]);
    let (msg, _) = import_err(&bytes);
    assert!(msg.contains("corrupt varint"), "{msg}");
    assert!(msg.contains("nodes[0]"), "{msg}");
}

#[test]
fn huge_bogus_length_is_reported_without_allocating() {
    let mut bytes = good_rank0();
    bytes.truncate(8);
    // Length 2^62: must be compared with the bytes left, never allocated.
    bytes.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
    let (msg, _) = import_err(&bytes);
    assert!(msg.contains("exceeds the 0 bytes left"), "{msg}");
}

#[test]
fn corrupt_length_of_the_metadata_is_reported() {
    let mut bytes = good_rank0();
    bytes[0] = 0x7f;
    let (msg, _) = import_err(&bytes);
    assert!(
        msg.contains("field `metadata`") && msg.contains("byte offset 0"),
        "{msg}"
    );
}

#[test]
fn gzip_compressed_files_import() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&good_rank0()).unwrap();
    let (prefix, _) = with_rank0(dir.path(), &gz.finish().unwrap());
    let imp = chakra::import(&prefix).unwrap();
    let t = imp.trace.unwrap();
    assert_eq!(t.ops[0].collective().unwrap().bytes, Some(MB));
}

#[test]
fn corrupt_gzip_is_reported() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&good_rank0()).unwrap();
    let mut bytes = gz.finish().unwrap();
    // Gzip magic, then a wrong compression method byte.
    bytes[2] = 0x07;
    let (msg, file) = import_err(&bytes);
    assert!(msg.starts_with(&file), "{msg}");
    assert!(msg.contains("gzip"), "{msg}");
    // Truncated gzip stream.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&good_rank0()).unwrap();
    let bytes = gz.finish().unwrap();
    let (msg, _) = import_err(&bytes[..bytes.len() / 2]);
    assert!(msg.contains("gzip"), "{msg}");
}

#[test]
fn gzip_with_a_wrong_magic_is_read_as_protobuf_and_rejected() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&good_rank0()).unwrap();
    let mut bytes = gz.finish().unwrap();
    bytes[0] = 0x1e;
    let (msg, file) = import_err(&bytes);
    assert!(msg.starts_with(&file), "{msg}");
    assert!(msg.contains("byte offset"), "{msg}");
}

#[test]
fn random_garbage_is_rejected_without_panic() {
    // A fixed xorshift stream: deterministic "random" bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 2, 7, 64, 1000, 65536] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let (prefix, r0) = with_rank0(dir.path(), &bytes);
        match chakra::import(&prefix) {
            Err(e) => {
                assert_eq!(e.exit_code(), 2);
                assert!(e.to_string().starts_with(&r0.display().to_string()), "{e}");
            }
            // Tiny inputs can be valid protobuf by chance; then they must
            // still not produce a trace that differs between the ranks.
            Ok(imp) => panic!("garbage of {len} B imported: {imp:?}"),
        }
    }
}

#[test]
fn every_single_byte_truncation_is_an_error_or_a_clean_import() {
    let good = good_rank0();
    for cut in 0..good.len() {
        let dir = tempfile::tempdir().unwrap();
        let (prefix, _) = with_rank0(dir.path(), &good[..cut]);
        // Never a panic; a truncation at a message boundary is a shorter
        // valid stream, which then disagrees with rank 1.
        let r = chakra::import(&prefix);
        assert!(r.is_err(), "cut at {cut} imported");
    }
}

#[test]
fn empty_file_and_missing_ranks_are_reported() {
    let (msg, file) = import_err(&[]);
    assert!(msg.starts_with(&file) && msg.contains("empty"), "{msg}");
    let dir = tempfile::tempdir().unwrap();
    let e = chakra::import(&dir.path().join("nothing")).unwrap_err();
    assert!(e.to_string().contains("nothing.0.et"), "{e}");
    std::fs::write(dir.path().join("solo.0.et"), good_rank0()).unwrap();
    let e = chakra::import(&dir.path().join("solo")).unwrap_err();
    assert!(e.to_string().contains("at least 2 ranks"), "{e}");
    let e = chakra::import(dir.path()).unwrap_err();
    assert!(e.to_string().contains("at least 2 ranks"), "{e}");
}

#[test]
fn ranks_that_run_different_collectives_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ag1 = std::fs::read(data().join("all_gather/4npus_1MB/all_gather.1.et")).unwrap();
    std::fs::write(dir.path().join("x.0.et"), good_rank0()).unwrap();
    std::fs::write(dir.path().join("x.1.et"), ag1).unwrap();
    let e = chakra::import(&dir.path().join("x")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("x.1.et") && msg.contains("nodes[0]"), "{msg}");
    assert!(msg.contains("differs from rank 0"), "{msg}");
    assert!(
        msg.contains("ALL_GATHER") && msg.contains("ALL_REDUCE"),
        "{msg}"
    );
}

// ---- synthetic graphs: GEMMs, compute, groups, transfers ----------------

mod synthetic {
    use super::*;
    use prost::Message;
    use t3sim::trace::chakra::proto::{
        AttributeProto, CollectiveCommType, GlobalMetadata, IoInfo, Node, NodeType,
        attribute_proto::Value,
    };
    use t3sim::trace::{ComputeNode, OpKind};

    fn attr(name: &str, value: Value) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            doc_string: String::new(),
            value: Some(value),
        }
    }

    fn int_attr(name: &str, v: i64) -> AttributeProto {
        attr(name, Value::Int64Val(v))
    }

    fn coll(id: u64, name: &str, comm: CollectiveCommType, bytes: i64, deps: &[u64]) -> Node {
        Node {
            id,
            name: name.into(),
            r#type: NodeType::CommCollNode as i32,
            data_deps: deps.to_vec(),
            attr: vec![
                int_attr("comm_type", comm as i64),
                int_attr("comm_size", bytes),
            ],
            ..Default::default()
        }
    }

    fn on_pg(mut n: Node, pg: &str) -> Node {
        n.attr.push(attr("pg_name", Value::StringVal(pg.into())));
        n
    }

    fn comp(id: u64, name: &str, shapes: &str, deps: &[u64]) -> Node {
        Node {
            id,
            name: name.into(),
            r#type: NodeType::CompNode as i32,
            ctrl_deps: deps.to_vec(),
            duration_micros: 7,
            inputs: Some(IoInfo {
                values: String::new(),
                shapes: shapes.into(),
                types: "[\"Tensor(c10::Half)\", \"Tensor(c10::Half)\"]".into(),
            }),
            ..Default::default()
        }
    }

    fn p2p(id: u64, send: bool, peer: i64, tag: i64, bytes: i64, deps: &[u64]) -> Node {
        Node {
            id,
            name: if send { "send" } else { "recv" }.into(),
            r#type: if send {
                NodeType::CommSendNode
            } else {
                NodeType::CommRecvNode
            } as i32,
            data_deps: deps.to_vec(),
            attr: vec![
                int_attr(if send { "comm_dst" } else { "comm_src" }, peer),
                int_attr("comm_tag", tag),
                int_attr("comm_size", bytes),
            ],
            ..Default::default()
        }
    }

    fn write_ranks(dir: &Path, per_rank: &[Vec<Node>]) -> PathBuf {
        for (r, nodes) in per_rank.iter().enumerate() {
            let mut buf = Vec::new();
            GlobalMetadata {
                version: "0.0.4".into(),
                attr: vec![],
            }
            .encode_length_delimited(&mut buf)
            .unwrap();
            for n in nodes {
                n.encode_length_delimited(&mut buf).unwrap();
            }
            std::fs::write(dir.join(format!("g.{r}.et")), buf).unwrap();
        }
        dir.join("g")
    }

    fn write(dir: &Path, ranks: u32, nodes: &[Node]) -> PathBuf {
        write_ranks(dir, &vec![nodes.to_vec(); ranks as usize])
    }

    #[test]
    fn gemm_then_reduce_scatter_fuses_through_unmapped_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let out = 8192 * 4256 * 2;
        let nodes = vec![
            comp(10, "aten::mm", "[[8192, 532], [532, 4256]]", &[]),
            Node {
                id: 11,
                name: "load".into(),
                r#type: NodeType::MemLoadNode as i32,
                ctrl_deps: vec![10],
                ..Default::default()
            },
            coll(13, "rs", CollectiveCommType::ReduceScatter, out, &[11]),
            // ASTRA-sim's all-gather of comm_size per rank: the RS's chunk.
            coll(14, "ag", CollectiveCommType::AllGather, out / 8, &[13]),
        ];
        let imp = chakra::import(&write(dir.path(), 8, &nodes)).unwrap();
        let t = imp.trace.unwrap();
        assert_eq!(t.tp, 8);
        let g = t.gemm().unwrap();
        assert_eq!((g.m, g.n, g.k, g.tile_m), (8192, 4256, 532, 128));
        assert_eq!(g.name, "aten::mm#10");
        let rs = t.reduce_scatter().unwrap();
        assert_eq!(rs.input.as_deref(), Some("aten::mm#10"));
        assert_eq!(rs.bytes, None);
        assert!(rs.deps.is_empty(), "{:?}", rs.deps);
        let ag = t.all_gather().unwrap();
        assert_eq!(ag.input.as_deref(), Some("rs#13"));
        assert_eq!(t.ag_output_bytes(ag), out as u64);
        let graph = OpGraph::new(&t).unwrap();
        assert_eq!(graph.gemm_collective_pairs(), vec![(0, 1)]);
        // The memory node on every rank: 8 entries, never dropped silently.
        assert_eq!(imp.unsupported.len(), 8);
        assert!(imp.unsupported[0].reason.contains("MEM_LOAD_NODE"));
        let dropped = &t.meta.as_ref().unwrap()["dropped"];
        assert_eq!(dropped.as_array().unwrap().len(), 8);
        assert_eq!(dropped[0]["id"], 11);
        assert_eq!(dropped[0]["name"], "load");
    }

    #[test]
    fn compute_nodes_keep_their_time_and_cpu_gemms_are_not_gemms() {
        let dir = tempfile::tempdir().unwrap();
        let mut cpu_mm = comp(2, "aten::mm", "[[256, 64], [64, 64]]", &[1]);
        cpu_mm.attr.push(attr("is_cpu_op", Value::BoolVal(true)));
        let mut roof = comp(3, "attn", "", &[2]);
        roof.duration_micros = 0;
        roof.attr.push(int_attr("num_ops", 1000));
        roof.attr.push(attr("tensor_size", Value::Uint64Val(4096)));
        let nodes = vec![comp(1, "aten::relu", "[[256, 64]]", &[]), cpu_mm, roof];
        let imp = chakra::import(&write(dir.path(), 4, &nodes)).unwrap();
        assert!(imp.unsupported.is_empty(), "{:?}", imp.unsupported);
        let t = imp.trace.unwrap();
        let g = OpGraph::new(&t).unwrap();
        let kinds: Vec<OpKind> = g.ops().iter().map(|o| o.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                OpKind::Compute(ComputeNode::Fixed { duration_ns: 7000 }),
                OpKind::Compute(ComputeNode::Fixed { duration_ns: 7000 }),
                OpKind::Compute(ComputeNode::Roofline {
                    flops: 1000,
                    bytes: 4096
                }),
            ]
        );
        assert_eq!(g.op(2).deps, vec![1]);
        assert_eq!(g.op(1).deps, vec![0]);
    }

    #[test]
    fn sizes_that_do_not_split_into_lines_are_unsupported_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = vec![
            coll(1, "odd", CollectiveCommType::ReduceScatter, 1000, &[]),
            coll(2, "neg", CollectiveCommType::AllReduce, -4, &[]),
            coll(3, "ok", CollectiveCommType::AllReduce, 4096, &[1, 2]),
            comp(4, "aten::mm", "[[100, 64], [64, 64]]", &[]),
            coll(5, "bcast", CollectiveCommType::Broadcast, 4096, &[]),
        ];
        let imp = chakra::import(&write(dir.path(), 8, &nodes)).unwrap();
        let reasons: Vec<&str> = imp
            .unsupported
            .iter()
            .filter(|u| u.rank == 0)
            .map(|u| u.reason.as_str())
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("64-B lines"), "{}", reasons[0]);
        assert!(reasons[1].contains("negative"), "{}", reasons[1]);
        assert!(reasons[2].contains("BROADCAST"), "{}", reasons[2]);
        let t = imp.trace.unwrap();
        // The GEMM feeds no collective, so M = 100 needs no chunking.
        assert_eq!(t.ops.len(), 2);
        assert!(t.ops[0].deps().is_empty());
        assert_eq!(t.gemm().unwrap().m, 100);
    }

    #[test]
    fn a_dependency_cycle_in_the_graph_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = vec![
            comp(1, "a", "", &[2]),
            comp(2, "b", "", &[1]),
            coll(3, "rs", CollectiveCommType::ReduceScatter, 4096, &[1]),
        ];
        let e = chakra::import(&write(dir.path(), 4, &nodes)).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains("g.0.et"), "{msg}");
        assert!(
            msg.contains(
                "dependency cycle: nodes[0] (id 1, `a`) -> nodes[1] (id 2, `b`) -> nodes[0]"
            ),
            "{msg}"
        );
    }

    #[test]
    fn a_layer_fragment_keeps_every_op_and_pairs_each_gemm_with_its_collective() {
        // GEMM -> RS -> AG -> GEMM -> AR on 4 ranks (sequence-parallel MLP).
        let dir = tempfile::tempdir().unwrap();
        let c1 = 1024 * 4096 * 2;
        let c2 = 1024 * 1024 * 2;
        let nodes = vec![
            comp(1, "aten::mm", "[[1024, 256], [256, 4096]]", &[]),
            coll(2, "rs", CollectiveCommType::ReduceScatter, c1, &[1]),
            coll(3, "ag", CollectiveCommType::AllGather, c1 / 4, &[2]),
            comp(4, "aten::mm", "[[1024, 4096], [4096, 1024]]", &[3]),
            coll(5, "ar", CollectiveCommType::AllReduce, c2, &[4]),
        ];
        let imp = chakra::import(&write(dir.path(), 4, &nodes)).unwrap();
        assert!(imp.unsupported.is_empty());
        let t = imp.trace.unwrap();
        let g = OpGraph::new(&t).unwrap();
        let kinds: Vec<&str> = g.ops().iter().map(|o| o.kind_name()).collect();
        assert_eq!(
            kinds,
            ["gemm", "reduce-scatter", "all-gather", "gemm", "all-reduce"]
        );
        assert_eq!(g.gemm_collective_pairs(), vec![(0, 1), (3, 4)]);
        assert_eq!(g.op(2).collective().unwrap().input, Some(1));
        assert_eq!(g.op(2).collective().unwrap().output_bytes, c1 as u64);
        assert_eq!(g.op(3).deps, vec![2]);
        assert_eq!(g.single_pair(), None);
    }

    /// 8 ranks; ranks 0-3 run an all-reduce on process group `1`, ranks
    /// 4-7 on `2`.
    fn two_groups(pg_meta: bool) -> Vec<Vec<Node>> {
        (0..8)
            .map(|r| {
                let mut v = Vec::new();
                if pg_meta {
                    v.push(Node {
                        id: 100,
                        name: "## process_group:init ##".into(),
                        r#type: NodeType::MetadataNode as i32,
                        inputs: Some(IoInfo {
                            values: r#"['[{"pg_name": "0", "ranks": []}, {"pg_name": "1", "ranks": [0, 1, 2, 3]}, {"pg_name": "2", "ranks": [4, 5, 6, 7]}]']"#.into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                }
                let pg = if r < 4 { "1" } else { "2" };
                v.push(on_pg(
                    coll(1, "ar", CollectiveCommType::AllReduce, 1 << 20, &[100]),
                    pg,
                ));
                v.push(coll(2, "world", CollectiveCommType::AllReduce, 1 << 20, &[1]));
                v
            })
            .collect()
    }

    fn check_two_groups(t: &trace::Trace) {
        let g = OpGraph::new(t).unwrap();
        let names: Vec<&str> = g.ops().iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["ar#1@ranks0-3", "ar#1@ranks4-7", "world#2"]);
        assert_eq!(g.op(0).devices, vec![0, 1, 2, 3]);
        assert_eq!(g.op(1).devices, vec![4, 5, 6, 7]);
        assert_eq!(g.op(1).group.as_deref(), Some("ranks4-7"));
        assert_eq!(g.op(0).collective().unwrap().chunk_bytes, (1 << 20) / 4);
        assert_eq!(g.op(2).devices.len(), 8);
        assert_eq!(g.op(2).deps, vec![0, 1]);
        assert_eq!(t.groups.len(), 2);
    }

    #[test]
    fn process_groups_from_metadata_become_groups() {
        let dir = tempfile::tempdir().unwrap();
        let imp = chakra::import(&write_ranks(dir.path(), &two_groups(true))).unwrap();
        assert!(imp.unsupported.is_empty(), "{:?}", imp.unsupported);
        check_two_groups(imp.trace.as_ref().unwrap());
        assert!(
            imp.mapped.iter().any(|m| m.ops.is_empty()
                && m.ranks.len() == 8
                && m.what.contains("`1` = ranks 0-3"))
        );
    }

    #[test]
    fn process_groups_from_a_comm_group_file_become_groups() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = write_ranks(dir.path(), &two_groups(false));
        // Without the file the groups are unknown: refused, by node.
        let imp = chakra::import(&prefix).unwrap();
        assert_eq!(imp.unsupported.len(), 8);
        assert!(imp.unsupported[0].reason.contains("--comm-groups"));
        let file = dir.path().join("groups.json");
        std::fs::write(&file, r#"{"1": [0, 1, 2, 3], "2": [4, 5, 6, 7]}"#).unwrap();
        let opts = chakra::ImportOptions {
            comm_groups: Some(file.clone()),
        };
        let imp = chakra::import_with(&prefix, &opts).unwrap();
        assert!(imp.unsupported.is_empty());
        check_two_groups(imp.trace.as_ref().unwrap());
        std::fs::write(&file, r#"{"1": [0, 9]}"#).unwrap();
        let e = chakra::import_with(&prefix, &opts).unwrap_err();
        assert!(e.to_string().contains("names rank 9"), "{e}");
    }

    #[test]
    fn sends_and_receives_become_transfers_between_their_ranks() {
        let dir = tempfile::tempdir().unwrap();
        let per_rank = vec![
            vec![
                comp(1, "work", "", &[]),
                p2p(2, true, 1, 3, 4096, &[1]),
                coll(3, "ar", CollectiveCommType::AllReduce, 4096, &[2]),
            ],
            vec![
                comp(1, "work", "", &[]),
                p2p(2, false, 0, 3, 4096, &[1]),
                coll(3, "ar", CollectiveCommType::AllReduce, 4096, &[2]),
            ],
        ];
        let imp = chakra::import(&write_ranks(dir.path(), &per_rank)).unwrap();
        assert!(imp.unsupported.is_empty(), "{:?}", imp.unsupported);
        let t = imp.trace.unwrap();
        let g = OpGraph::new(&t).unwrap();
        let names: Vec<&str> = g.ops().iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["work#1", "send#2@r0", "recv#2@r1", "ar#3"]);
        match (&g.op(1).kind, &g.op(2).kind) {
            (OpKind::Send(s), OpKind::Recv(r)) => {
                assert_eq!((s.src, s.dst, s.tag, s.bytes), (0, 1, 3, 4096));
                assert_eq!(s.peer, 2);
                assert_eq!(r.peer, 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(g.op(1).devices, vec![0]);
        assert_eq!(g.op(2).devices, vec![1]);
        // The all-reduce waits on each rank for that rank's side only.
        assert_eq!(g.op(3).deps, vec![1, 2]);

        // A receive of another size than its send is refused, naming both.
        let mut bad = per_rank.clone();
        bad[1][1] = p2p(2, false, 0, 3, 8192, &[1]);
        let dir = tempfile::tempdir().unwrap();
        let e = chakra::import(&write_ranks(dir.path(), &bad)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("g.1.et") && msg.contains("receives 8192 B"),
            "{msg}"
        );
        assert!(msg.contains("rank 0 nodes[1] (id 2, `send`)"), "{msg}");
    }

    #[test]
    fn a_merge_that_would_add_a_wait_is_refused() {
        // Both ranks run `c`; only rank 0's all-reduce waits for it. One
        // all-reduce op waiting for `c` would make rank 1 wait too.
        let dir = tempfile::tempdir().unwrap();
        let per_rank = vec![
            vec![
                comp(1, "c", "", &[]),
                coll(2, "ar", CollectiveCommType::AllReduce, 4096, &[1]),
            ],
            vec![
                comp(1, "c", "", &[]),
                coll(2, "ar", CollectiveCommType::AllReduce, 4096, &[]),
            ],
        ];
        let e = chakra::import(&write_ranks(dir.path(), &per_rank)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("g.1.et") && msg.contains("field `nodes[1]`"),
            "{msg}"
        );
        assert!(msg.contains("per device"), "{msg}");
        // Ranks that run different numbers of steps cannot be aligned.
        let uneven = vec![per_rank[0].clone(), per_rank[0][1..].to_vec()];
        let dir = tempfile::tempdir().unwrap();
        let e = chakra::import(&write_ranks(dir.path(), &uneven)).unwrap_err();
        assert!(e.to_string().contains("has 1 mapped nodes"), "{e}");
    }

    #[test]
    fn per_rank_times_give_per_rank_ops_and_the_gemm_still_pairs_with_its_all_reduce() {
        // As in a profiled trace: each rank's kernel took its own time.
        let dir = tempfile::tempdir().unwrap();
        let c = 1024 * 512 * 2;
        let per_rank: Vec<Vec<Node>> = (0..4u64)
            .map(|r| {
                let mut work = comp(1, "aten::gelu", "", &[]);
                work.duration_micros = 10 + r;
                vec![
                    work,
                    comp(2, "aten::mm", "[[1024, 256], [256, 512]]", &[1]),
                    coll(3, "ar", CollectiveCommType::AllReduce, c, &[2]),
                ]
            })
            .collect();
        let imp = chakra::import(&write_ranks(dir.path(), &per_rank)).unwrap();
        let t = imp.trace.unwrap();
        let g = OpGraph::new(&t).unwrap();
        let names: Vec<&str> = g.ops().iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "aten::gelu#1@r0",
                "aten::gelu#1@r1",
                "aten::gelu#1@r2",
                "aten::gelu#1@r3",
                "aten::mm#2",
                "ar#3"
            ]
        );
        for r in 0..4 {
            assert_eq!(g.op(r).devices, vec![r as u32]);
            assert_eq!(
                g.op(r).kind,
                OpKind::Compute(ComputeNode::Fixed {
                    duration_ns: (10 + r as u64) * 1000
                })
            );
        }
        // One GEMM on every rank, waiting on each rank for that rank's gelu.
        assert_eq!(g.op(4).devices, vec![0, 1, 2, 3]);
        assert_eq!(g.op(4).deps, vec![0, 1, 2, 3]);
        assert_eq!(g.gemm_collective_pairs(), vec![(4, 5)]);
        assert_eq!(t.groups.len(), 4);
    }
}
