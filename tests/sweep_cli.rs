//! `t3sim sweep` end to end with real replays of a tiny trace: the library
//! runner, shards through the binary, thread-count independence, spec
//! errors, and the report plots.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use t3sim::config::HwConfig;
use t3sim::modes::Mode;
use t3sim::replay;
use t3sim::sweep::{self, Point, RunOptions, Spec, Value, replay_runner};
use t3sim::trace::{Model, Op, SubLayer};

/// 4 x 4 x 2 = 32 points.
const SPEC: &str = r#"# test sweep
modes = ["rs-nmc"]

[base]
trace = "tiny.json"
preset = "t3-asplos24"

[params]
"link.bw_gbps_per_dir" = [18.75, 37.5, 75, 150]
"mem.stacks" = [1, 2, 4, 8]
"t3.tracker_entries" = [64, 256]
"#;

/// A 4-device ring with a 64 x 1024 x 256 GEMM: a few milliseconds per
/// replay, but every stage, chunk and stream of the full-size model.
fn tiny_trace(dir: &Path) {
    let mut t = t3sim::trace::generate(Model::MegaGpt2, 4, SubLayer::Op, 64).unwrap();
    t.name = "tiny-tp4".into();
    for op in &mut t.ops {
        if let Op::Gemm(g) = op {
            g.n = 1024;
            g.k = 256;
        }
    }
    t3sim::trace::save(&t, &dir.join("tiny.json")).unwrap();
}

fn setup(spec: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    tiny_trace(d.path());
    let path = d.path().join("spec.toml");
    std::fs::write(&path, spec).unwrap();
    (d, path)
}

fn t3sim<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_t3sim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn num(row: &[&str], header: &[&str], col: &str) -> f64 {
    let i = header.iter().position(|h| *h == col).unwrap();
    row[i].parse().unwrap()
}

#[test]
fn thirty_two_replayed_points_run_in_parallel_and_match_a_direct_replay() {
    let (_d, path) = setup(SPEC);
    let spec = Spec::load(&path).unwrap();
    assert_eq!(spec.len(), 32);
    let in_flight = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let runner = |p: &Point| {
        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        let r = replay_runner::run_point(p);
        in_flight.fetch_sub(1, Ordering::SeqCst);
        r
    };
    let opts = RunOptions {
        threads: 2,
        progress: false,
        ..RunOptions::default()
    };
    let out = sweep::run(&spec, runner, &opts).unwrap();
    assert_eq!((out.points, out.ran), (32, 32));
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "two points should replay at once"
    );

    let lines: Vec<&str> = out.csv.lines().collect();
    assert_eq!(lines.len(), 33);
    let header: Vec<&str> = lines[0].split(',').collect();
    let mut want = vec![
        "link.bw_gbps_per_dir",
        "mem.stacks",
        "t3.tracker_entries",
        "mode",
    ];
    want.extend(replay_runner::COLUMNS);
    assert_eq!(header, want);
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split(',').collect()).collect();

    for r in &rows {
        assert_eq!(r[3], "rs-nmc");
        let (t, seq) = (num(r, &header, "time_us"), num(r, &header, "sequential_us"));
        assert!(t > 0.0 && seq > 0.0, "{r:?}");
        assert!(
            (num(r, &header, "speedup") - seq / t).abs() < 1e-12,
            "{r:?}"
        );
        // NMC updates replace the reduce-scatter kernel's reads of the
        // local partial sums.
        assert!(num(r, &header, "dram_vs_sequential") < 1.0, "{r:?}");
        let u = num(r, &header, "link_utilisation");
        assert!((0.0..=1.0).contains(&u), "{r:?}");
    }
    // Modes vary fastest, then tracker entries: the tracker does not take
    // part in rs-nmc, so each pair of rows holds the same metrics.
    for pair in rows.chunks(2) {
        assert_eq!(pair[0][4..], pair[1][4..]);
    }
    // At 1 stack, each doubling of the link bandwidth shortens the
    // sequential run (the reduce-scatter is link-bound).
    let seq_at_one_stack: Vec<f64> = rows
        .iter()
        .filter(|r| r[1] == "1" && r[2] == "64")
        .map(|r| num(r, &header, "sequential_us"))
        .collect();
    assert_eq!(seq_at_one_stack.len(), 4);
    assert!(
        seq_at_one_stack.windows(2).all(|w| w[1] < w[0]),
        "{seq_at_one_stack:?}"
    );

    // The point's overrides reach the config: replaying by hand with the
    // same values gives the row byte for byte.
    let p = spec.point(31).unwrap();
    assert_eq!(p.get("link.bw_gbps_per_dir"), Some(Value::Int(150)));
    let cfg = HwConfig::load(
        "t3-asplos24",
        &[
            "link.bw_gbps_per_dir=150.0".into(),
            "mem.stacks=8".into(),
            "t3.tracker_entries=256".into(),
        ],
    )
    .unwrap();
    let trace = t3sim::trace::load(&p.trace).unwrap();
    let report = replay::replay(&trace, &cfg, &[Mode::Sequential, Mode::RsNmc]).unwrap();
    let row = replay_runner::row_from_report(&report, Mode::RsNmc).unwrap();
    let cells: Vec<String> = row.0.iter().map(|(_, v)| v.to_string()).collect();
    assert_eq!(lines[32], format!("150,8,256,rs-nmc,{}", cells.join(",")));
}

#[test]
fn sequential_and_ideal_rows_are_consistent_with_the_mode_rows() {
    let spec = SPEC
        .replace(
            r#"modes = ["rs-nmc"]"#,
            r#"modes = ["sequential", "ideal", "rs-nmc"]"#,
        )
        .replace("[1, 2, 4, 8]", "[2]")
        .replace("[64, 256]", "[256]")
        .replace("[18.75, 37.5, 75, 150]", "[37.5, 150]");
    let (d, _) = setup(&spec);
    let o = t3sim(d.path(), &["sweep", "spec.toml", "--threads", "2"]);
    assert!(o.status.success(), "{}", show(&o));
    let csv = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    for group in lines[1..].chunks(3) {
        let r: Vec<Vec<&str>> = group.iter().map(|l| l.split(',').collect()).collect();
        assert_eq!(
            [r[0][3], r[1][3], r[2][3]],
            ["sequential", "ideal", "rs-nmc"]
        );
        let seq = num(&r[0], &header, "time_us");
        assert_eq!(num(&r[0], &header, "sequential_us"), seq);
        assert_eq!(num(&r[0], &header, "speedup"), 1.0);
        assert_eq!(num(&r[0], &header, "time_reduction"), 0.0);
        // Every point replays its own sequential run: the same number.
        for row in &r[1..] {
            assert_eq!(num(row, &header, "sequential_us"), seq, "{row:?}");
        }
        // Ideal is the no-contention bound, so no mode beats it.
        assert!(num(&r[1], &header, "time_us") <= num(&r[2], &header, "time_us"));
        assert!(num(&r[1], &header, "speedup") >= num(&r[2], &header, "speedup"));
    }
}

/// The unsharded CSV through the binary.
fn unsharded(dir: &Path, threads: &str) -> Vec<u8> {
    let out = format!("full-{threads}.csv");
    let o = t3sim(
        dir,
        &["sweep", "spec.toml", "--threads", threads, "--out", &out],
    );
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("32 points; 32 run"),
        "{}",
        show(&o)
    );
    assert!(
        !dir.join(format!("{out}.partial")).exists(),
        "journal left behind"
    );
    std::fs::read(dir.join(out)).unwrap()
}

#[test]
fn four_shards_through_the_binary_merge_to_the_unsharded_csv_byte_for_byte() {
    let (d, _) = setup(SPEC);
    let full = unsharded(d.path(), "2");
    let mut parts = Vec::new();
    for i in 0..4 {
        let part = format!("part-{i}.csv");
        let o = t3sim(
            d.path(),
            &[
                "sweep",
                "spec.toml",
                "--shard",
                &format!("{i}/4"),
                "--threads",
                "1",
                "--out",
                &part,
            ],
        );
        assert!(o.status.success(), "{}", show(&o));
        let text = std::fs::read_to_string(d.path().join(&part)).unwrap();
        assert!(
            text.starts_with("# t3sim-sweep v1 spec="),
            "shard output is a partial: {text}"
        );
        assert_eq!(text.lines().count(), 2 + 8);
        parts.push(part);
    }
    parts.reverse();
    let mut args = vec!["sweep".to_string(), "merge".into()];
    args.extend(parts.iter().cloned());
    let o = t3sim(d.path(), &args);
    assert!(o.status.success(), "{}", show(&o));
    assert!(o.stdout == full, "merged on stdout differs from unsharded");
    args.extend(["--out".into(), "merged/all.csv".into()]);
    let o = t3sim(d.path(), &args);
    assert!(o.status.success(), "{}", show(&o));
    assert!(std::fs::read(d.path().join("merged/all.csv")).unwrap() == full);

    // A missing shard is an input error that names it.
    let o = t3sim(
        d.path(),
        &["sweep", "merge", &parts[0], &parts[1], &parts[2]],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("shards not given or unfinished: 0/4"),
        "{}",
        show(&o)
    );
}

#[test]
fn one_and_two_threads_write_the_same_csv() {
    let (d, _) = setup(SPEC);
    assert!(unsharded(d.path(), "1") == unsharded(d.path(), "2"));
}

#[test]
fn bad_specs_and_flags_exit_2_naming_file_line_and_field() {
    let (d, _) = setup(SPEC);
    let run = |spec: &str, extra: &[&str]| {
        std::fs::write(d.path().join("bad.toml"), spec).unwrap();
        let mut args = vec!["sweep", "bad.toml"];
        args.extend(extra);
        let o = t3sim(d.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{}", show(&o));
        assert!(o.stdout.is_empty(), "{}", show(&o));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };

    let e = run(
        &SPEC.replace("t3.tracker_entries", "t3.tracker_entrys"),
        &[],
    );
    assert!(
        e.starts_with("error: bad.toml:11:") && e.contains("field `params.t3.tracker_entrys`"),
        "{e}"
    );
    let e = run(&SPEC.replace("[1, 2, 4, 8]", "[1, 2, 0, 8]"), &[]);
    assert!(e.starts_with("error: bad.toml:10:"), "{e}");
    assert!(e.contains("value 0 rejected"), "{e}");
    let e = run(&SPEC.replace("tiny.json", "gone.json"), &[]);
    assert!(
        e.starts_with("error: bad.toml:5:9: field `base.trace`"),
        "{e}"
    );
    let e = run(&SPEC.replace("[64, 256]", "[64, 256"), &[]);
    assert!(
        e.starts_with("error: bad.toml:1") && e.contains("not valid TOML"),
        "{e}"
    );

    // A mode the spec format knows but this build cannot replay yet fails
    // before any point runs, at the spec line that names it.
    if let Some(m) = sweep::MODES
        .iter()
        .find(|m| replay_runner::parse_mode(m).is_none())
    {
        let e = run(
            &SPEC.replace(r#"["rs-nmc"]"#, &format!(r#"["rs-nmc", "{m}"]"#)),
            &[],
        );
        assert!(
            e.starts_with("error: bad.toml:2:20: field `modes`: mode"),
            "{e}"
        );
        assert!(e.contains("not implemented"), "{e}");
    }

    let e = run(SPEC, &["--shard", "4/4"]);
    assert!(
        e.contains("--shard") && e.contains("below the count"),
        "{e}"
    );
    let o = t3sim(d.path(), &["sweep", "nowhere.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nowhere.toml"));
    let o = t3sim(d.path(), &["sweep", "spec.toml", "--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
}

#[test]
fn bad_trace_in_a_point_exits_2_naming_the_trace_and_the_point() {
    let (d, _) = setup(SPEC);
    // Present (the spec check passes) but not a valid trace.
    std::fs::write(
        d.path().join("tiny.json"),
        "{\"version\": 1,\n \"tp\": 1}\n",
    )
    .unwrap();
    let o = t3sim(d.path(), &["sweep", "spec.toml", "--threads", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("tiny.json:"), "{e}");
    assert!(e.contains("sweep point 0"), "{e}");
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.len() > 2000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

#[test]
fn replay_plots_and_plot_report_write_speedup_and_traffic() {
    let (d, _) = setup(SPEC);
    let o = t3sim(
        d.path(),
        &["-q", "replay", "tiny.json", "--out", "r1", "--plots"],
    );
    assert!(o.status.success(), "{}", show(&o));
    for f in ["speedup", "traffic"] {
        assert!(is_png(&d.path().join(format!("r1/{f}.png"))), "{f}");
        let svg = std::fs::read_to_string(d.path().join(format!("r1/{f}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{f}");
    }
    let traffic = std::fs::read_to_string(d.path().join("r1/traffic.svg")).unwrap();
    assert!(traffic.contains("nmc-update") && traffic.contains("rs-read"));

    // A second report of the same trace on other hardware: two groups, and
    // one traffic plot per report.
    let o = t3sim(
        d.path(),
        &[
            "-q",
            "replay",
            "tiny.json",
            "--out",
            "r2",
            "--set",
            "link.bw_gbps_per_dir=150",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    let o = t3sim(
        d.path(),
        &[
            "plot",
            "report",
            "r1/report.json",
            "r2/report.json",
            "--out",
            "both",
        ],
    );
    assert!(o.status.success(), "{}", show(&o));
    assert!(is_png(&d.path().join("both/speedup.png")));
    assert!(is_png(&d.path().join("both/traffic-tiny-tp4.png")));
    assert!(is_png(&d.path().join("both/traffic-tiny-tp4__2.png")));
    let svg = std::fs::read_to_string(d.path().join("both/speedup.svg")).unwrap();
    assert!(svg.contains("geomean") && svg.contains("tiny-tp4 #2"));

    // Not a report: exit 2 with the file and line.
    let o = t3sim(d.path(), &["plot", "report", "spec.toml", "--out", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with("error: spec.toml:1:"),
        "{}",
        show(&o)
    );
    let o = t3sim(d.path(), &["replay", "tiny.json", "--plots"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}
