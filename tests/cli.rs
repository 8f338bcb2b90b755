//! The `t3sim` binary end to end: outputs, exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary from the repository root.
fn t3sim<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_t3sim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code and both streams, for assertion messages.
fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

fn chakra(set: &str) -> String {
    format!("tests/data/chakra/{set}/4npus_1MB/{set}")
}

// ---- trace gen -------------------------------------------------------------

#[test]
fn trace_gen_on_stdout_equals_the_shipped_file_byte_for_byte() {
    let o = t3sim(&[
        "trace",
        "gen",
        "--model",
        "tnlg",
        "--tp",
        "8",
        "--sublayer",
        "fc2",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let shipped = std::fs::read(root().join("traces/tnlg-tp8-fc2.json")).unwrap();
    assert!(
        o.stdout == shipped,
        "stdout differs from traces/tnlg-tp8-fc2.json"
    );
    assert!(o.stderr.is_empty(), "{}", show(&o));
}

#[test]
fn trace_gen_layer_equals_the_shipped_layer_and_refuses_a_sublayer_with_it() {
    let o = t3sim(&["trace", "gen", "--model", "palm", "--tp", "32", "--layer"]);
    assert!(o.status.success(), "{}", show(&o));
    let shipped = std::fs::read(root().join("traces/palm-tp32-layer.json")).unwrap();
    assert!(
        o.stdout == shipped,
        "stdout differs from traces/palm-tp32-layer.json"
    );
    let o = t3sim(&[
        "trace",
        "gen",
        "--model",
        "palm",
        "--tp",
        "32",
        "--layer",
        "--sublayer",
        "op",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    // T-NLG's 1024-token sequences: 8 x 1000 tokens are not whole ones.
    let o = t3sim(&[
        "trace", "gen", "--model", "tnlg", "--tp", "8", "--layer", "--tokens", "8000",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("--tokens"), "{}", show(&o));
}

#[test]
fn trace_gen_all_writes_the_shipped_set() {
    let d = tempfile::tempdir().unwrap();
    let o = t3sim(&[
        "trace".as_ref(),
        "gen".as_ref(),
        "--all".as_ref(),
        "--out-dir".as_ref(),
        d.path().as_os_str(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let mut n = 0;
    for e in std::fs::read_dir(d.path()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        let shipped = std::fs::read(root().join("traces").join(name))
            .unwrap_or_else(|_| panic!("{} is not shipped", p.display()));
        assert!(
            std::fs::read(&p).unwrap() == shipped,
            "{} differs",
            p.display()
        );
        n += 1;
    }
    assert_eq!(n, 33);
    assert!(stderr(&o).contains("wrote 33 traces"), "{}", show(&o));
}

#[test]
fn trace_gen_out_file_is_the_same_trace_and_quiet_silences_the_note() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("t.json");
    let args = |quiet: bool| {
        let mut v: Vec<&std::ffi::OsStr> = Vec::new();
        if quiet {
            v.push("-q".as_ref());
        }
        for a in [
            "trace",
            "gen",
            "--model",
            "gpt3",
            "--tp",
            "32",
            "--sublayer",
            "ip",
            "--out",
        ] {
            v.push(a.as_ref());
        }
        v.push(f.as_os_str());
        v
    };
    let o = t3sim(&args(false));
    assert!(o.status.success(), "{}", show(&o));
    assert!(stderr(&o).contains("wrote"), "{}", show(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(
        std::fs::read(&f).unwrap(),
        std::fs::read(root().join("traces/gpt3-tp32-ip.json")).unwrap()
    );
    let o = t3sim(&args(true));
    assert!(o.status.success(), "{}", show(&o));
    assert!(o.stderr.is_empty(), "{}", show(&o));
}

#[test]
fn trace_gen_bad_arguments_exit_2_naming_the_flag() {
    let o = t3sim(&[
        "trace",
        "gen",
        "--model",
        "tnlg",
        "--tp",
        "8",
        "--sublayer",
        "op",
        "--tokens",
        "1001",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("--tokens"), "{}", show(&o));
    assert!(stderr(&o).contains("multiple of tp = 8"), "{}", show(&o));
    assert!(o.stdout.is_empty());

    let o = t3sim(&[
        "trace",
        "gen",
        "--model",
        "gpt4",
        "--tp",
        "8",
        "--sublayer",
        "op",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("mega-gpt2, tnlg, gpt3, palm, mtnlg"),
        "{}",
        show(&o)
    );

    // --all needs a directory to write 28 files into.
    let o = t3sim(&["trace", "gen", "--all"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("--out-dir"), "{}", show(&o));
}

// ---- trace import ----------------------------------------------------------

#[test]
fn chakra_all_reduce_imports_and_prints_the_mapping() {
    let o = t3sim(&["trace", "import", "--chakra", &chakra("all_reduce")]);
    assert!(o.status.success(), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains("4 ranks, Chakra ET 0.0.4"), "{err}");
    assert!(err.contains("mapped      1 op from 4 nodes"), "{err}");
    assert!(
        err.contains(
            "ranks 0-3 node 0 id 0 `all_reduce_4npus_1MB`: ALL_REDUCE of 1048576 B -> all-reduce \
             `all_reduce_4npus_1MB#0` (1048576 B -> 1048576 B per device)"
        ),
        "{err}"
    );
    assert!(err.contains("unsupported 0 nodes"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    // stdout is the trace itself, valid and of the right shape.
    let t = t3sim::trace::parse("stdout", &stdout(&o)).unwrap();
    assert_eq!(t.tp, 4);
    assert!(matches!(t.ops[..], [t3sim::trace::Op::AllReduce(_)]));
    assert_eq!(t.ops[0].collective().unwrap().bytes, Some(1 << 20));
}

#[test]
fn chakra_import_writes_out_file() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("ar.json");
    let o = t3sim(&[
        "trace".as_ref(),
        "import".as_ref(),
        "--chakra".as_ref(),
        chakra("all_reduce").as_ref(),
        "--out".as_ref(),
        f.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(o.stdout.is_empty(), "{}", show(&o));
    let t = t3sim::trace::load(&f).unwrap();
    assert_eq!(t.name, "all_reduce");
    // What was written checks clean through the CLI too.
    let o = t3sim(&["trace".as_ref(), "check".as_ref(), f.as_os_str()]);
    assert!(o.status.success(), "{}", show(&o));
}

#[test]
fn every_shared_chakra_set_imports_and_checks_clean() {
    let d = tempfile::tempdir().unwrap();
    for coll in ["all_gather", "all_reduce", "all_to_all"] {
        for ranks in [4, 8, 16] {
            let prefix = format!("tests/data/chakra/{coll}/{ranks}npus_1MB/{coll}");
            let f = d.path().join(format!("{coll}-{ranks}.json"));
            let o = t3sim(&[
                "-q".as_ref(),
                "trace".as_ref(),
                "import".as_ref(),
                "--chakra".as_ref(),
                prefix.as_ref(),
                "--out".as_ref(),
                f.as_os_str(),
            ]);
            assert!(o.status.success(), "{}", show(&o));
            let o = t3sim(&["trace".as_ref(), "check".as_ref(), f.as_os_str()]);
            assert!(o.status.success(), "{}", show(&o));
            assert!(stdout(&o).contains(&format!("tp {ranks}")), "{}", show(&o));
        }
    }
}

#[test]
fn corrupt_chakra_file_exits_2_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let good0 = std::fs::read(root().join(chakra("all_reduce") + ".0.et")).unwrap();
    let good1 = std::fs::read(root().join(chakra("all_reduce") + ".1.et")).unwrap();
    // Cut rank 0 in the middle of its first node.
    std::fs::write(d.path().join("x.0.et"), &good0[..good0.len() / 2]).unwrap();
    std::fs::write(d.path().join("x.1.et"), &good1).unwrap();
    let prefix = d.path().join("x");
    let o = t3sim(&[
        "trace".as_ref(),
        "import".as_ref(),
        "--chakra".as_ref(),
        prefix.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("x.0.et"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty());

    // Not protobuf at all.
    std::fs::write(d.path().join("x.0.et"), b"\x05hello world, not a trace").unwrap();
    let o = t3sim(&[
        "trace".as_ref(),
        "import".as_ref(),
        "--chakra".as_ref(),
        prefix.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("x.0.et"), "{}", show(&o));
}

#[test]
fn missing_chakra_prefix_exits_2() {
    let o = t3sim(&["trace", "import", "--chakra", "no/such/prefix"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("no/such/prefix.0.et"), "{}", show(&o));
}

// ---- trace check -----------------------------------------------------------

#[test]
fn trace_check_summarises_good_files_and_locates_bad_ones() {
    let o = t3sim(&[
        "trace",
        "check",
        "traces/tnlg-tp8-fc2.json",
        "tests/bad_inputs/traces/chunk-not-whole-tiles.json",
        "traces/gpt3-tp32-op.json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(
        lines[0].starts_with("traces/tnlg-tp8-fc2.json: ok  tnlg-tp8-fc2  version 1  tp 8"),
        "{out}"
    );
    assert!(
        lines[0].ends_with("2 ops: 1 gemm, 1 reduce-scatter"),
        "{out}"
    );
    assert!(
        lines[1].contains("gemm") && lines[1].contains("8192 x 4256 x 2128"),
        "{out}"
    );
    for want in [
        "reduce-scatter fc2-rs",
        "on devices 0-7",
        "in 69730304 B",
        "out 8716288 B",
        "of `fc2`",
    ] {
        assert!(lines[2].contains(want), "{want} in {}", lines[2]);
    }
    assert!(
        lines[3].starts_with("traces/gpt3-tp32-op.json: ok"),
        "{out}"
    );
    assert!(lines[3].contains("tp 32"), "{out}");
    let err = stderr(&o);
    assert!(
        err.contains(
            "tests/bad_inputs/traces/chunk-not-whole-tiles.json:13:7: field `ops[0].tile_m`"
        ),
        "{err}"
    );
    assert!(err.contains("1 of 3 trace files are invalid"), "{err}");
}

#[test]
fn trace_check_of_every_shipped_trace_passes() {
    let mut args = vec!["trace".to_string(), "check".to_string()];
    for e in std::fs::read_dir(root().join("traces")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "json") {
            args.push(p.display().to_string());
        }
    }
    let o = t3sim(&args);
    assert!(o.status.success(), "{}", show(&o));
    let ok: Vec<String> = stdout(&o)
        .lines()
        .filter(|l| l.contains(": ok  "))
        .map(str::to_string)
        .collect();
    assert_eq!(ok.len(), 33);
    let layers: Vec<&String> = ok
        .iter()
        .filter(|l| l.contains("-layer  version 2"))
        .collect();
    assert_eq!(layers.len(), 5, "{ok:?}");
    for l in layers {
        assert!(l.ends_with("9 ops: 4 gemm, 2 all-reduce, 3 compute"), "{l}");
    }
}

// ---- presets and config ----------------------------------------------------

#[test]
fn presets_lists_both_presets() {
    let o = t3sim(&["presets"]);
    assert!(o.status.success(), "{}", show(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("hbm2-stack ") && l.contains("256 GB/s")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("t3-asplos24 ") && l.contains("1024 GB/s")),
        "{out}"
    );
}

#[test]
fn presets_show_applies_overrides_and_round_trips_through_config_check() {
    let o = t3sim(&[
        "presets",
        "--show",
        "hbm2-stack",
        "--set",
        "mem.channels_per_stack=16",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains("\nchannels_per_stack = 16\n"), "{out}");
    // Sections the preset leaves out are shown with their defaults.
    assert!(out.contains("[t3]\ntracker_entries = 256\n"), "{out}");
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("shown.toml");
    std::fs::write(&f, &out).unwrap();
    let o = t3sim(&["config".as_ref(), "check".as_ref(), f.as_os_str()]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(stdout(&o).contains("16 channels"), "{}", show(&o));
    assert!(stdout(&o).contains("peak 512.0 GB/s"), "{}", show(&o));
}

#[test]
fn unknown_preset_and_unknown_override_exit_2() {
    let o = t3sim(&["presets", "--show", "h100"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("known: hbm2-stack, t3-asplos24"),
        "{}",
        show(&o)
    );
    let o = t3sim(&["presets", "--show", "hbm2-stack", "--set", "mem.chanels=4"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("unknown field `mem.chanels`"),
        "{}",
        show(&o)
    );
}

#[test]
fn config_check_of_a_bad_file_exits_2_naming_the_line_and_field() {
    let src = std::fs::read_to_string(root().join("presets/hbm2-stack.toml")).unwrap();
    let line = src.lines().position(|l| l.starts_with("tras = ")).unwrap() + 1;
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("bad.toml");
    std::fs::write(&f, src.replace("tras = 34", "tras = 3")).unwrap();
    let o = t3sim(&["config".as_ref(), "check".as_ref(), f.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("bad.toml:{line}:1")), "{err}");
    assert!(err.contains("field `mem.timing.tras`"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn config_check_applies_set_and_reports_derived_numbers() {
    let o = t3sim(&[
        "config",
        "check",
        "presets/t3-asplos24.toml",
        "--set",
        "mem.controller.arbitration=t3-mca",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains("t3-mca arbitration"), "{out}");
    assert!(out.contains("peak 1024.0 GB/s"), "{out}");
    assert!(out.contains("114.7 TFLOP/s"), "{out}");
    let o = t3sim(&[
        "config",
        "check",
        "presets/t3-asplos24.toml",
        "--set",
        "mem.controller.arbitration=lottery",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("mem.controller.arbitration"),
        "{}",
        show(&o)
    );
}

// ---- plot ------------------------------------------------------------------

fn sweep_csv(dir: &Path) -> PathBuf {
    let mut csv = String::from("link.bw_gbps_per_dir,t3.tracker_entries,mode,speedup\n");
    for bw in [50, 75, 100] {
        for e in [64, 256] {
            for (m, s) in [("t3", 1.2), ("t3-mca", 1.3)] {
                let sp = s + f64::from(bw) / 1000.0 + f64::from(e) / 10_000.0;
                csv.push_str(&format!("{bw},{e},{m},{sp}\n"));
            }
        }
    }
    let p = dir.join("sweep.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

#[test]
fn plot_sweep_draws_lines_and_heatmaps() {
    let d = tempfile::tempdir().unwrap();
    let csv = sweep_csv(d.path());
    let stem = d.path().join("plots/bw");
    let o = t3sim(&[
        "plot".as_ref(),
        "sweep".as_ref(),
        csv.as_os_str(),
        "--x".as_ref(),
        "link.bw_gbps_per_dir".as_ref(),
        "--series".as_ref(),
        "mode".as_ref(),
        "--filter".as_ref(),
        "t3.tracker_entries=64".as_ref(),
        "--out".as_ref(),
        stem.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    for ext in ["png", "svg"] {
        let f = stem.with_extension(ext);
        assert!(
            std::fs::metadata(&f).unwrap().len() > 1000,
            "{}",
            f.display()
        );
    }
    let heat = d.path().join("heat");
    let o = t3sim(&[
        "plot".as_ref(),
        "sweep".as_ref(),
        csv.as_os_str(),
        "--heatmap".as_ref(),
        "--x".as_ref(),
        "link.bw_gbps_per_dir".as_ref(),
        "--y".as_ref(),
        "t3.tracker_entries".as_ref(),
        "--filter".as_ref(),
        "mode=t3".as_ref(),
        "--out".as_ref(),
        heat.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(heat.with_extension("svg").exists());
}

#[test]
fn plot_sweep_input_errors_name_the_csv_and_the_flag() {
    let d = tempfile::tempdir().unwrap();
    let csv = sweep_csv(d.path());
    let stem = d.path().join("x");
    let run = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["plot".as_ref(), "sweep".as_ref(), csv.as_os_str()];
        args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
        args.push("--out".as_ref());
        args.push(stem.as_os_str());
        t3sim(&args)
    };
    let o = run(&["--x", "bandwidth"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains("sweep.csv"), "{err}");
    assert!(err.contains("field `--x`: no column `bandwidth`"), "{err}");
    // Two rows per (x, series) point: the error says which column to fix.
    let o = run(&["--x", "link.bw_gbps_per_dir", "--series", "mode"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("t3.tracker_entries"), "{}", show(&o));
    assert!(!stem.with_extension("png").exists());
}

// ---- the command line itself -------------------------------------------------

#[test]
fn every_subcommand_help_has_examples() {
    for cmd in [
        &[][..],
        &["mem"],
        &["trace"],
        &["trace", "gen"],
        &["trace", "import"],
        &["trace", "check"],
        &["presets"],
        &["config"],
        &["config", "check"],
        &["plot"],
        &["plot", "sweep"],
    ] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let o = t3sim(&args);
        assert!(o.status.success(), "{cmd:?}: {}", show(&o));
        assert!(stdout(&o).contains("Examples:"), "{cmd:?}: {}", show(&o));
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["trace", "gen", "--model", "tnlg"][..],
        &["trace", "frobnicate"],
        &["presets", "--set", "gpu.cus=8"],
        &["trace", "check"],
    ] {
        let o = t3sim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
    }
}

// ---- mem -------------------------------------------------------------------

#[test]
fn mem_replays_a_dramsim3_trace_and_locates_bad_records() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("t.trace");
    std::fs::write(&f, "0x0 READ 0\n0x40 READ 0\n0x1000 WRITE 5\n").unwrap();
    let o = t3sim(&[
        "mem".as_ref(),
        f.as_os_str(),
        "--format".as_ref(),
        "dramsim3".as_ref(),
        "--json".as_ref(),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["records"], 3);
    assert_eq!(r["peak_bandwidth_gbps"], 256.0);

    std::fs::write(&f, "0x0 READ 0\n0x40 REED 0\n").unwrap();
    let o = t3sim(&[
        "mem".as_ref(),
        f.as_os_str(),
        "--format".as_ref(),
        "dramsim3".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("t.trace:2:"), "{}", show(&o));
    assert!(stderr(&o).contains("REED"), "{}", show(&o));
}

/// Rank files holding the 4-rank all-reduce followed by a broadcast (the
/// all-to-all's node with another comm_type): one node per rank maps, one
/// per rank does not.
fn mixed_chakra_set(dir: &Path) -> PathBuf {
    use prost::Message;
    use t3sim::trace::chakra::proto::{GlobalMetadata, Node, attribute_proto::Value};
    for r in 0..4 {
        let ar = std::fs::read(root().join(format!("{}.{r}.et", chakra("all_reduce")))).unwrap();
        let a2a = std::fs::read(root().join(format!("{}.{r}.et", chakra("all_to_all")))).unwrap();
        // Skip the all-to-all's GlobalMetadata; renumber its node, since ids
        // are unique within a rank.
        let mut rest = &a2a[..];
        GlobalMetadata::decode_length_delimited(&mut rest).unwrap();
        let mut node = Node::decode_length_delimited(&mut rest).unwrap();
        node.id += 100;
        for a in &mut node.attr {
            if a.name == "comm_type" {
                a.value = Some(Value::Int64Val(5)); // BROADCAST
            }
        }
        let mut bytes = ar;
        node.encode_length_delimited(&mut bytes).unwrap();
        std::fs::write(dir.join(format!("mixed.{r}.et")), bytes).unwrap();
    }
    dir.join("mixed")
}

#[test]
fn an_unmappable_node_fails_the_import_unless_it_is_dropped_and_recorded() {
    let d = tempfile::tempdir().unwrap();
    let prefix = mixed_chakra_set(d.path());
    let base = [
        "trace".as_ref(),
        "import".as_ref(),
        "--chakra".as_ref(),
        prefix.as_os_str(),
    ];
    let mut quiet = vec!["-q".as_ref()];
    quiet.extend(base);
    let o = t3sim(&quiet);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(o.stdout.is_empty(), "{}", show(&o));
    let err = stderr(&o);
    // --quiet hides the mapping notes, never the unmappable list.
    assert!(!err.contains("mapped      "), "{err}");
    assert!(err.contains("4 nodes on 4 ranks cannot be mapped"), "{err}");
    let rows: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("all_to_all_4npus_1MB") && l.contains("BROADCAST"))
        .collect();
    assert_eq!(rows.len(), 4, "{err}");
    for (rank, row) in rows.iter().enumerate() {
        let cols: Vec<&str> = row.split_whitespace().collect();
        // rank, node index, id (ASTRA-sim numbers each rank's node with the rank).
        assert_eq!(
            cols[..3],
            [rank.to_string(), "1".into(), (rank + 100).to_string()]
        );
    }
    assert!(err.contains("--drop-unsupported"), "{err}");

    let mut drop = base.to_vec();
    drop.push("--drop-unsupported".as_ref());
    let o = t3sim(&drop);
    assert!(o.status.success(), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains("mapped      1 op from 4 nodes"), "{err}");
    assert!(
        err.contains("warning: 4 nodes on 4 ranks cannot be mapped"),
        "{err}"
    );
    let t = t3sim::trace::parse("stdout", &stdout(&o)).unwrap();
    assert_eq!(t.ops.len(), 1);
    let dropped = t.meta.as_ref().unwrap()["dropped"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(dropped.len(), 4);
    assert_eq!(dropped[3]["rank"], 3);
    assert_eq!(dropped[3]["id"], 103);
    assert!(dropped[3]["reason"].as_str().unwrap().contains("BROADCAST"));
}

#[test]
fn replay_cosim_names_unknown_blocks_and_exits_2() {
    let o = t3sim(&[
        "replay",
        "traces/mega-gpt2-tp8-op.json",
        "--modes",
        "t3-mca",
        "--cosim",
        "tracker,dma",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("unknown block `dma`; known: tracker, nmc, arbiter, all"),
        "{}",
        show(&o)
    );
}

#[cfg(not(feature = "rtl"))]
#[test]
fn replay_cosim_without_the_rtl_feature_says_how_to_rebuild_and_exits_2() {
    let o = t3sim(&[
        "replay",
        "traces/mega-gpt2-tp8-op.json",
        "--modes",
        "t3-mca",
        "--cosim",
        "all",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        stderr(&o).contains("rebuild with `--features rtl`"),
        "{}",
        show(&o)
    );
}
