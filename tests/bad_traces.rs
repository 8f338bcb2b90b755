//! A catalogue of malformed traces (`tests/bad_inputs/traces/`): each is
//! rejected with an input error naming the file, the line and the field,
//! and nothing panics.

use proptest::prelude::*;
use std::path::PathBuf;
use t3sim::trace;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

/// (file, line, field or "" when the problem is not one field's, words the
/// message must contain).
const CATALOGUE: &[(&str, usize, &str, &str)] = &[
    ("empty.json", 1, "", "file is empty"),
    ("whitespace-only.json", 1, "", "file is empty"),
    ("truncated.json", 10, "ops[0]", "truncated JSON"),
    (
        "truncated-in-string.json",
        19,
        "ops[1].name",
        "truncated JSON",
    ),
    ("trailing-garbage.json", 24, "", "trailing characters"),
    ("not-an-object.json", 1, "", "expected a trace object"),
    ("non-utf8.json", 3, "name", "not valid UTF-8"),
    ("duplicate-key.json", 5, "tp", "appears twice"),
    (
        "version-mismatch.json",
        2,
        "version",
        "version 3 is not supported",
    ),
    ("version-missing.json", 1, "version", "missing"),
    ("tp-one.json", 4, "tp", "2..=1024"),
    ("tp-absurd.json", 4, "tp", "tp = 4096"),
    ("ops-empty.json", 5, "ops", "at least one op"),
    ("wrong-type-m.json", 9, "ops[0].m", "invalid type: string"),
    ("negative-k.json", 11, "ops[0].k", "integer `-5`"),
    ("zero-n.json", 10, "ops[0].n", "greater than 0"),
    (
        "m-2pow63-overflows-bytes.json",
        9,
        "ops[0].m",
        "exceeds the limit of 1 TiB",
    ),
    ("m-beyond-u64.json", 9, "ops[0].m", "expected u64"),
    (
        "tile-m-near-2pow63.json",
        13,
        "ops[0].tile_m",
        "expected u32",
    ),
    (
        "m-not-divisible-by-tp.json",
        9,
        "ops[0].m",
        "does not split into tp = 8",
    ),
    (
        "chunk-not-whole-tiles.json",
        13,
        "ops[0].tile_m",
        "not a whole number of tile_m",
    ),
    ("tile-k-zero.json", 15, "ops[0].tile_k", "greater than 0"),
    (
        "tile-n-larger-than-n.json",
        14,
        "ops[0].tile_n",
        "larger than the matrix",
    ),
    ("missing-tile-m.json", 6, "ops[0].tile_m", "missing"),
    ("unknown-field.json", 16, "ops[0].tile_x", "unknown field"),
    (
        "bad-dtype.json",
        12,
        "ops[0].dtype",
        "unknown variant `fp32`",
    ),
    (
        "unknown-op-kind.json",
        18,
        "ops[1].kind",
        "unknown op kind `broadcast`",
    ),
    (
        "v1-with-v2-kind.json",
        18,
        "ops[1].kind",
        "`all-to-all` ops need trace version 2",
    ),
    ("unknown-input.json", 20, "ops[1].input", "unknown op `fc3`"),
    (
        "unknown-dependency.json",
        16,
        "ops[0].deps[0]",
        "unknown op `qkv`",
    ),
    (
        "dependency-cycle.json",
        21,
        "ops[1].input",
        "dependency cycle: fc2 -> fc2-rs -> fc2",
    ),
    (
        "duplicate-op-names.json",
        19,
        "ops[1].name",
        "duplicate op name `fc2`",
    ),
    ("rs-input-and-bytes.json", 21, "ops[1].bytes", "not both"),
    (
        "rs-neither-input-nor-bytes.json",
        17,
        "ops[1].input",
        "missing",
    ),
    (
        "rs-bytes-not-chunkable.json",
        20,
        "ops[1].bytes",
        "multiple of 512",
    ),
    (
        "bytes-not-whole-lines.json",
        9,
        "ops[0].bytes",
        "equal chunks of whole 64-B lines",
    ),
    (
        "group-unknown.json",
        9,
        "ops[0].group",
        "unknown group `hi`",
    ),
    (
        "group-not-ascending.json",
        6,
        "groups[0].devices[2]",
        "ascending order",
    ),
    (
        "collective-on-one-device.json",
        13,
        "ops[0].group",
        "needs at least two",
    ),
    (
        "compute-duration-and-flops.json",
        10,
        "ops[0].flops",
        "not both",
    ),
    (
        "compute-flops-without-bytes.json",
        6,
        "ops[0].bytes",
        "needs both `flops` and `bytes`",
    ),
    (
        "transfer-tags-differ.json",
        16,
        "ops[1].src",
        "no send for this recv",
    ),
    (
        "recv-size-differs.json",
        18,
        "ops[1].bytes",
        "receives 8192 B but its send `s`",
    ),
    (
        "dependency-on-other-devices.json",
        11,
        "ops[1].deps[0]",
        "a dependency orders work on the same device",
    ),
    (
        "gemm-input-wrong-size.json",
        27,
        "ops[1].input",
        "operand A",
    ),
    (
        "transfer-deadlock.json",
        7,
        "ops[1].deps[0]",
        "dependency cycle: r0 -> s1 (its send) -> r1 -> s0 (its send) -> r0",
    ),
    (
        "rs-bytes-huge.json",
        20,
        "ops[1].bytes",
        "exceeds the limit of 1 TiB",
    ),
    (
        "all-gather-of-gemm.json",
        25,
        "ops[2].input",
        "must be a reduce-scatter",
    ),
    (
        "gemm-reduced-twice.json",
        25,
        "ops[2].input",
        "already the input of ops[1]",
    ),
    (
        "device-out-of-range.json",
        24,
        "devices[0].device",
        "does not exist",
    ),
    (
        "device-scale-zero.json",
        24,
        "devices[0].link_bw_scale",
        "finite scale",
    ),
    (
        "device-scale-negative.json",
        24,
        "devices[0].mem_bw_scale",
        "finite scale",
    ),
    (
        "device-scale-overflow.json",
        24,
        "devices[0].compute_scale",
        "number out of range",
    ),
    (
        "device-duplicate.json",
        25,
        "devices[1].device",
        "already overridden",
    ),
];

#[test]
fn every_bad_trace_is_rejected_with_file_line_and_field() {
    let bad = dir().join("traces");
    for &(file, line, field, words) in CATALOGUE {
        let path = bad.join(file);
        let err = match trace::load(&path) {
            Ok(t) => panic!("{file}: accepted: {t:?}"),
            Err(e) => e,
        };
        assert_eq!(err.exit_code(), 2, "{file}: {err}");
        let t3sim::Error::Input(ie) = &err else {
            panic!("{file}: not an input error: {err}");
        };
        let msg = err.to_string();
        assert_eq!(ie.loc.file, path.display().to_string(), "{msg}");
        assert_eq!(ie.loc.line, Some(line), "{file}: {msg}");
        assert!(ie.loc.column.is_some(), "{file}: {msg}");
        assert_eq!(ie.field, field, "{file}: {msg}");
        assert!(
            msg.starts_with(&format!("{}:{line}:", path.display())),
            "{msg}"
        );
        if !field.is_empty() {
            assert!(msg.contains(&format!("field `{field}`")), "{msg}");
        }
        assert!(msg.contains(words), "{file}: expected `{words}` in: {msg}");
    }
}

#[test]
fn the_catalogue_covers_every_file_in_the_directory() {
    let mut on_disk: Vec<String> = std::fs::read_dir(dir().join("traces"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CATALOGUE.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    assert!(listed.len() >= 15);
}

#[test]
fn the_baseline_the_bad_files_derive_from_is_valid() {
    let t = trace::load(&dir().join("valid_base.json")).unwrap();
    assert_eq!(t.tp, 8);
    assert_eq!(t.gemm().unwrap().tiles_per_chunk(8), 8 * 34);
}

#[test]
fn missing_file_is_an_input_error_naming_it() {
    let e = trace::load(&dir().join("nope.json")).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("nope.json"), "{e}");
}

#[test]
fn save_refuses_an_invalid_trace_and_round_trips_a_valid_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut t = trace::load(&dir().join("valid_base.json")).unwrap();
    let out = tmp.path().join("t.json");
    trace::save(&t, &out).unwrap();
    assert_eq!(trace::load(&out).unwrap(), t);
    t.tp = 3;
    let e = trace::save(&t, &tmp.path().join("u.json")).unwrap_err();
    assert!(e.to_string().contains("field `ops[0].m`"), "{e}");
    assert!(!tmp.path().join("u.json").exists());
}

#[test]
fn device_overrides_default_to_nominal() {
    let src = std::fs::read_to_string(dir().join("valid_base.json")).unwrap();
    let src = src.replace(
        "  ]\n}",
        "  ],\n  \"devices\": [{\"device\": 5, \"compute_scale\": 0.5}]\n}",
    );
    let t = trace::parse("d.json", &src).unwrap();
    assert!(!t.is_symmetric());
    assert_eq!(t.device(5).compute_scale, 0.5);
    assert_eq!(t.device(5).link_bw_scale, 1.0);
    assert!(t.device(2).is_nominal());
    assert_eq!(t.topo_order(), Some(vec![0, 1]));
}

#[test]
fn the_version_2_baseline_uses_every_kind_and_validates() {
    let t = trace::load(&dir().join("valid_graph.json")).unwrap();
    let g = trace::OpGraph::new(&t).unwrap();
    let kinds: Vec<&str> = g.kind_counts().iter().map(|k| k.0).collect();
    assert_eq!(kinds, trace::OP_KINDS);
    assert_eq!(t.required_version(), 2);
    // Written back, it is the same trace.
    let back = trace::parse("b.json", &trace::to_json(&t)).unwrap();
    assert_eq!(back, t);
}

/// `src` with `len` bytes at `cut` replaced by `insert`.
fn edit(src: &str, cut: usize, len: usize, insert: &str) -> String {
    let start = cut.min(src.len());
    let end = (start + len).min(src.len());
    format!("{}{}{}", &src[..start], insert, &src[end..])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The same for the version-2 baseline: groups, every op kind,
    /// transfers. An accepted edit also builds its graph.
    #[test]
    fn edits_of_a_valid_graph_never_panic(
        cut in 0usize..1150,
        len in 0usize..8,
        insert in "[ -~\\n]{0,6}",
    ) {
        let src = std::fs::read_to_string(dir().join("valid_graph.json")).unwrap();
        match trace::parse("e.json", &edit(&src, cut, len, &insert)) {
            Ok(t) => prop_assert!(trace::OpGraph::new(&t).is_ok()),
            Err(e) => {
                prop_assert_eq!(e.exit_code(), 2);
                let t3sim::Error::Input(ie) = e else { panic!("not an input error") };
                prop_assert!(ie.loc.line.is_some());
            }
        }
    }

    /// Any edit of a valid trace either parses to a valid trace or fails
    /// with a located input error; it never panics.
    #[test]
    fn edits_of_a_valid_trace_never_panic(
        cut in 0usize..400,
        len in 0usize..8,
        insert in "[ -~\\n]{0,6}",
    ) {
        let src = std::fs::read_to_string(dir().join("valid_base.json")).unwrap();
        let start = cut.min(src.len());
        let end = (start + len).min(src.len());
        let edited = format!("{}{}{}", &src[..start], insert, &src[end..]);
        match trace::parse("e.json", &edited) {
            Ok(t) => prop_assert!(trace::validate(&t, "e.json").is_ok()),
            Err(e) => {
                prop_assert_eq!(e.exit_code(), 2);
                let t3sim::Error::Input(ie) = e else { panic!("not an input error") };
                prop_assert!(ie.loc.line.is_some());
            }
        }
    }
}
