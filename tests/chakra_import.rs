//! Chakra ET import against real ASTRA-sim files and against broken ones.

use std::io::Write;
use std::path::{Path, PathBuf};
use t3sim::trace::{self, Op, chakra};

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

#[test]
fn all_reduce_becomes_reduce_scatter_plus_all_gather_at_every_rank_count() {
    for ranks in [4, 8, 16] {
        let imp = chakra::import(&set("all_reduce", ranks)).unwrap();
        assert_eq!(imp.ranks, ranks);
        assert_eq!(imp.files.len(), ranks as usize);
        assert_eq!(imp.et_version, "0.0.4");
        assert!(imp.unsupported.is_empty(), "{:?}", imp.unsupported);
        let t = imp.trace.expect("a trace");
        assert_eq!(t.tp, ranks);
        assert_eq!(t.name, "all_reduce");
        assert_eq!(t.ops.len(), 2);
        let rs = t.reduce_scatter().unwrap();
        assert_eq!(rs.bytes, Some(MB));
        assert_eq!(rs.input, None);
        let ag = t.all_gather().unwrap();
        assert_eq!(ag.input.as_deref(), Some(rs.name.as_str()));
        assert_eq!(t.ag_output_bytes(ag), MB);
        assert_eq!(t.output_bytes(), Some(MB));
        assert_eq!(t.chunk_bytes(), Some(MB / u64::from(ranks)));
        assert!(t.gemm().is_none());
        assert_eq!(imp.mapped.len(), 1);
        assert_eq!(imp.mapped[0].name, format!("all_reduce_{ranks}npus_1MB"));
        assert_eq!(imp.mapped[0].what, "ALL_REDUCE of 1048576 B");
        assert_eq!(imp.mapped[0].ops.len(), 2);
        // The imported trace is a valid trace file.
        let back = trace::parse("x.json", &trace::to_json(&t)).unwrap();
        assert_eq!(back, t);
    }
}

#[test]
fn all_gather_becomes_an_all_gather_of_the_full_buffer() {
    for ranks in [4, 8, 16] {
        let imp = chakra::import(&set("all_gather", ranks)).unwrap();
        assert_eq!(imp.ranks, ranks);
        assert!(imp.unsupported.is_empty());
        let t = imp.trace.expect("a trace");
        assert_eq!(t.tp, ranks);
        assert_eq!(t.ops.len(), 1);
        match &t.ops[0] {
            Op::AllGather(a) => {
                assert_eq!(a.bytes, Some(MB));
                assert_eq!(a.name, format!("all_gather_{ranks}npus_1MB#0"));
            }
            other => panic!("expected an all-gather, got {other:?}"),
        }
        assert!(t.reduce_scatter().is_none());
    }
}

#[test]
fn all_to_all_is_reported_unsupported_by_rank_id_and_name() {
    for ranks in [4u32, 8, 16] {
        let imp = chakra::import(&set("all_to_all", ranks)).unwrap();
        assert_eq!(imp.ranks, ranks);
        assert!(imp.trace.is_none());
        assert!(imp.mapped.is_empty());
        assert_eq!(imp.unsupported.len(), ranks as usize);
        for (r, u) in (0u32..).zip(&imp.unsupported) {
            assert_eq!(u.rank, r);
            assert_eq!(u.index, 0);
            // ASTRA-sim numbers each rank's node with the rank.
            assert_eq!(u.id, u64::from(r));
            assert_eq!(u.name, format!("all_to_all_{ranks}npus_1MB"));
            assert!(u.reason.contains("ALL_TO_ALL"), "{}", u.reason);
        }
    }
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
    assert_eq!(imp.trace.unwrap().reduce_scatter().unwrap().bytes, Some(MB));
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
}

// ---- synthetic graphs: GEMMs, dependencies, unsupported nodes ------------

mod synthetic {
    use super::*;
    use prost::Message;
    use t3sim::trace::chakra::proto::{
        AttributeProto, CollectiveCommType, GlobalMetadata, IoInfo, Node, NodeType,
        attribute_proto::Value,
    };

    fn int_attr(name: &str, v: i64) -> AttributeProto {
        AttributeProto {
            name: name.into(),
            doc_string: String::new(),
            value: Some(Value::Int64Val(v)),
        }
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

    fn comp(id: u64, name: &str, shapes: &str, deps: &[u64]) -> Node {
        Node {
            id,
            name: name.into(),
            r#type: NodeType::CompNode as i32,
            ctrl_deps: deps.to_vec(),
            inputs: Some(IoInfo {
                values: String::new(),
                shapes: shapes.into(),
                types: "[\"Tensor(c10::Half)\", \"Tensor(c10::Half)\"]".into(),
            }),
            ..Default::default()
        }
    }

    fn write(dir: &Path, ranks: u32, nodes: &[Node]) -> PathBuf {
        for r in 0..ranks {
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

    #[test]
    fn gemm_then_reduce_scatter_fuses_through_unsupported_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let out = 8192 * 4256 * 2;
        let nodes = vec![
            comp(10, "aten::mm", "[[8192, 532], [532, 4256]]", &[]),
            comp(11, "aten::relu", "[[8192, 4256]]", &[10]),
            Node {
                id: 12,
                name: "send".into(),
                r#type: NodeType::CommSendNode as i32,
                ..Default::default()
            },
            coll(13, "rs", CollectiveCommType::ReduceScatter, out, &[11, 12]),
            coll(14, "ag", CollectiveCommType::AllGather, out, &[13]),
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
        assert_eq!(ag.deps, vec!["rs#13".to_string()]);
        assert_eq!(t.output_bytes(), Some(out as u64));
        // relu and send on every rank: 2 x 8 entries, never dropped.
        assert_eq!(imp.unsupported.len(), 16);
        let r0: Vec<(u64, &str)> = imp
            .unsupported
            .iter()
            .filter(|u| u.rank == 0)
            .map(|u| (u.id, u.name.as_str()))
            .collect();
        assert_eq!(r0, vec![(11, "aten::relu"), (12, "send")]);
        assert!(imp.unsupported[1].reason.contains("COMM_SEND_NODE"));
        assert!(imp.unsupported[0].reason.contains("without GEMM shape"));
    }

    #[test]
    fn sizes_that_do_not_chunk_are_unsupported_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = vec![
            coll(1, "odd", CollectiveCommType::ReduceScatter, 1000, &[]),
            coll(2, "neg", CollectiveCommType::AllReduce, -4, &[]),
            coll(3, "ok", CollectiveCommType::AllReduce, 4096, &[1, 2]),
            comp(4, "aten::mm", "[[100, 64], [64, 64]]", &[]),
        ];
        let imp = chakra::import(&write(dir.path(), 8, &nodes)).unwrap();
        let reasons: Vec<&str> = imp
            .unsupported
            .iter()
            .filter(|u| u.rank == 0)
            .map(|u| u.reason.as_str())
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("multiple of 16"), "{}", reasons[0]);
        assert!(reasons[1].contains("negative"), "{}", reasons[1]);
        assert!(reasons[2].contains("M = 100"), "{}", reasons[2]);
        let t = imp.trace.unwrap();
        assert_eq!(t.ops.len(), 2);
        assert!(t.ops[0].deps().is_empty());
    }

    #[test]
    fn a_dependency_cycle_in_the_graph_does_not_hang() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = vec![
            comp(1, "a", "", &[2]),
            comp(2, "b", "", &[1]),
            coll(3, "rs", CollectiveCommType::ReduceScatter, 4096, &[1]),
        ];
        let imp = chakra::import(&write(dir.path(), 4, &nodes)).unwrap();
        assert_eq!(imp.trace.unwrap().ops.len(), 1);
    }
}
