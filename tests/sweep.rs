//! Sweep machinery: determinism across thread counts, shards + merge,
//! resume after an interruption, and clear errors. The runner here is a pure
//! function of the point's parameters; it stands in for a replay.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use t3sim::sweep::{self, Point, Row, RunOptions, Shard, Spec, Value};

const SPEC: &str = r#"
# 4 x 4 x 2 = 32 points
modes = ["t3", "t3-mca"]

[base]
trace = "trace.json"
preset = "t3-asplos24"

[params]
"link.bw_gbps_per_dir" = [37.5, 75, 150, 300]
"t3.tracker_entries" = [32, 64, 128, 256]
"#;

fn setup(spec: &str) -> (tempfile::TempDir, Spec) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("trace.json"), "{}").unwrap();
    let path = d.path().join("sweep.toml");
    std::fs::write(&path, spec).unwrap();
    let s = Spec::load(&path).unwrap();
    (d, s)
}

fn fake(p: &Point) -> t3sim::Result<Row> {
    let bw = p
        .get("link.bw_gbps_per_dir")
        .and_then(|v| v.as_f64())
        .unwrap();
    let entries = p
        .get("t3.tracker_entries")
        .and_then(|v| v.as_f64())
        .unwrap();
    let mca = if p.mode == "t3-mca" { 0.9 } else { 1.0 };
    let time_ns = (1.0e6 / bw + 5.0e4 / entries) * mca;
    // A little work so that threads really interleave.
    let mut x = 0u64;
    for i in 0..20_000u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    let _ = x;
    Ok(Row::new()
        .with("time_ns", time_ns)
        .with("bytes", (bw * entries) as u64)
        .with("note", format!("bw={bw}, entries={entries}")))
}

fn opts(threads: usize) -> RunOptions {
    RunOptions {
        threads,
        progress: false,
        ..RunOptions::default()
    }
}

fn unsharded(spec: &Spec) -> String {
    sweep::run(spec, fake, &opts(1)).unwrap().csv
}

#[test]
fn thirty_two_points_same_csv_with_one_and_four_threads() {
    let (_d, spec) = setup(SPEC);
    assert_eq!(spec.len(), 32);
    let one = sweep::run(&spec, fake, &opts(1)).unwrap();
    let four = sweep::run(&spec, fake, &opts(4)).unwrap();
    assert_eq!(one.csv, four.csv);
    assert_eq!((one.points, one.ran, one.resumed), (32, 32, 0));
    let lines: Vec<&str> = one.csv.lines().collect();
    assert_eq!(lines.len(), 33);
    assert_eq!(
        lines[0],
        "link.bw_gbps_per_dir,t3.tracker_entries,mode,time_ns,bytes,note"
    );
    // First parameter slowest, modes fastest; the note's comma is quoted.
    assert_eq!(
        lines[1],
        "37.5,32,t3,28229.166666666668,1200,\"bw=37.5, entries=32\""
    );
    assert!(lines[2].starts_with("37.5,32,t3-mca,"));
    assert!(lines[32].starts_with("300,256,t3-mca,"));
}

#[test]
fn output_file_is_written_and_journal_removed() {
    let (d, spec) = setup(SPEC);
    let out = d.path().join("out/res.csv");
    let o = sweep::run(
        &spec,
        fake,
        &RunOptions {
            out: Some(out.clone()),
            ..opts(2)
        },
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), o.csv);
    assert!(!sweep::journal_path(&out).exists());
    assert_eq!(o.csv, unsharded(&spec));
}

fn run_shards(spec: &Spec, dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let out = dir.join(format!("part-{i}.csv"));
            let shard = Shard::parse(&format!("{i}/{n}")).unwrap();
            let o = sweep::run(
                spec,
                fake,
                &RunOptions {
                    shard: Some(shard),
                    out: Some(out.clone()),
                    ..opts(2)
                },
            )
            .unwrap();
            assert_eq!(o.points, (0..spec.len()).filter(|k| k % n == i).count());
            out
        })
        .collect()
}

#[test]
fn four_shards_merged_equal_the_unsharded_csv_byte_for_byte() {
    let (d, spec) = setup(SPEC);
    let mut parts = run_shards(&spec, d.path(), 4);
    let text = std::fs::read_to_string(&parts[1]).unwrap();
    assert!(text.starts_with(&format!(
        "# t3sim-sweep v1 spec={} shard=1/4 points=32\n",
        spec.hash()
    )));
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .starts_with("index,link.bw_gbps_per_dir,")
    );
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .starts_with("1,37.5,32,t3-mca,")
    );
    parts.reverse();
    assert_eq!(sweep::merge(&parts).unwrap(), unsharded(&spec));
}

#[test]
fn more_shards_than_points_still_merge() {
    let (d, spec) = setup(
        &SPEC
            .replace("[37.5, 75, 150, 300]", "[75]")
            .replace("[32, 64, 128, 256]", "[64]"),
    );
    assert_eq!(spec.len(), 2);
    let parts = run_shards(&spec, d.path(), 3);
    assert_eq!(sweep::merge(&parts).unwrap(), unsharded(&spec));
}

#[test]
fn merge_rejects_missing_duplicate_foreign_and_mismatched_partials() {
    let (d, spec) = setup(SPEC);
    let parts = run_shards(&spec, d.path(), 4);

    let e = sweep::merge(&parts[..3]).unwrap_err().to_string();
    assert!(e.contains("8 of 32 points missing"), "{e}");
    assert!(e.contains("3/4"), "{e}");

    let mut dup = parts.clone();
    dup.push(parts[2].clone());
    let e = sweep::merge(&dup).unwrap_err().to_string();
    assert!(e.contains("point 2 is also in"), "{e}");

    let other_dir = d.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let (_d2, other) = setup(&SPEC.replace("300]", "600]"));
    let foreign = run_shards(&other, &other_dir, 4);
    let mixed = vec![
        parts[0].clone(),
        parts[1].clone(),
        parts[2].clone(),
        foreign[3].clone(),
    ];
    let e = sweep::merge(&mixed).unwrap_err().to_string();
    assert!(e.contains("from another sweep"), "{e}");

    // Same spec, but a runner with other metric columns for one shard.
    let odd = d.path().join("odd.csv");
    sweep::run(
        &spec,
        |p: &Point| Ok(fake(p)?.with("extra", 1)),
        &RunOptions {
            shard: Some(Shard::parse("3/4").unwrap()),
            out: Some(odd.clone()),
            ..opts(1)
        },
    )
    .unwrap();
    let e = sweep::merge(&[parts[0].clone(), parts[1].clone(), parts[2].clone(), odd])
        .unwrap_err()
        .to_string();
    assert!(e.contains("columns") && e.contains("extra"), "{e}");

    let bogus = d.path().join("bogus.csv");
    std::fs::write(&bogus, "a,b\n1,2\n").unwrap();
    let e = sweep::merge(&[bogus]).unwrap_err().to_string();
    assert!(
        e.contains("bogus.csv:1:1") && e.contains("not a t3sim sweep partial"),
        "{e}"
    );
}

#[test]
fn resumed_sweep_equals_uninterrupted_and_skips_done_points() {
    let (d, spec) = setup(SPEC);
    let out = d.path().join("res.csv");
    let o = |threads| RunOptions {
        out: Some(out.clone()),
        ..opts(threads)
    };
    // Interrupt: the runner fails at point 20; points before it may finish.
    let e = sweep::run(
        &spec,
        |p: &Point| {
            if p.index >= 20 {
                return Err(t3sim::Error::Deadlock("simulated interruption".into()));
            }
            fake(p)
        },
        &o(1),
    )
    .unwrap_err();
    assert!(e.to_string().contains("sweep point 20"), "{e}");
    assert!(matches!(e, t3sim::Error::Deadlock(_)));
    assert!(!out.exists());
    let journal = sweep::journal_path(&out);
    let j = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(j.lines().count(), 2 + 20);
    // A write cut short by the interruption.
    std::fs::write(&journal, format!("{j}21,300,25")).unwrap();

    let calls = AtomicUsize::new(0);
    let resumed = sweep::run(
        &spec,
        |p: &Point| {
            calls.fetch_add(1, Ordering::Relaxed);
            fake(p)
        },
        &o(3),
    )
    .unwrap();
    assert_eq!((resumed.resumed, resumed.ran), (20, 12));
    assert_eq!(calls.load(Ordering::Relaxed), 12);
    assert_eq!(resumed.csv, unsharded(&spec));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), resumed.csv);
    assert!(!journal.exists());
}

#[test]
fn resumed_shard_merges_like_the_rest() {
    let (d, spec) = setup(SPEC);
    let mut parts = run_shards(&spec, d.path(), 2);
    let out = d.path().join("part-1.csv");
    std::fs::remove_file(&out).unwrap();
    let shard = Some(Shard::parse("1/2").unwrap());
    let o = RunOptions {
        shard,
        out: Some(out.clone()),
        ..opts(2)
    };
    let _ = sweep::run(
        &spec,
        |p: &Point| {
            if p.index > 9 {
                return Err(t3sim::Error::Check("stop".into()));
            }
            fake(p)
        },
        &o,
    );
    let r = sweep::run(&spec, fake, &o).unwrap();
    assert_eq!(r.resumed + r.ran, 16);
    assert!(r.resumed >= 1);
    parts[1] = out;
    assert_eq!(sweep::merge(&parts).unwrap(), unsharded(&spec));
}

#[test]
fn journal_of_another_spec_is_not_overwritten() {
    let (d, spec) = setup(SPEC);
    let out = d.path().join("res.csv");
    let journal = sweep::journal_path(&out);
    std::fs::write(
        &journal,
        "# t3sim-sweep v1 spec=0000000000000000 shard=0/1 points=32\n",
    )
    .unwrap();
    let e = sweep::run(
        &spec,
        fake,
        &RunOptions {
            out: Some(out.clone()),
            ..opts(1)
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("another sweep") && e.contains("delete it"),
        "{e}"
    );
    // Without resume, it starts over.
    let r = sweep::run(
        &spec,
        fake,
        &RunOptions {
            out: Some(out),
            resume: false,
            ..opts(1)
        },
    )
    .unwrap();
    assert_eq!(r.ran, 32);
}

#[test]
fn runner_errors_and_inconsistent_columns_name_the_point() {
    let (_d, spec) = setup(SPEC);
    let e = sweep::run(
        &spec,
        |p: &Point| {
            let r = fake(p)?;
            Ok(if p.index == 5 { r.with("x", 1) } else { r })
        },
        &opts(1),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("sweep point 5") && e.contains("returned columns"),
        "{e}"
    );

    let e = sweep::run(&spec, |_: &Point| panic!("boom"), &opts(2))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("runner panicked: boom") && e.contains("sweep point 0"),
        "{e}"
    );
}

#[test]
fn bad_spec_files_name_file_line_and_field() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("trace.json"), "{}").unwrap();
    let cases = [
        (
            SPEC.replace("\"t3.tracker_entries\"", "\"t3 tracker\""),
            ":11:1: field `params.t3 tracker`",
            "not a parameter",
        ),
        (
            SPEC.replace("[32, 64, 128, 256]", "[]"),
            ":11:",
            "empty list",
        ),
        (
            SPEC.replace("[\"t3\", \"t3-mca\"]", "[]"),
            ":3:9: field `modes`",
            "empty list",
        ),
        (
            SPEC.replace("t3.tracker_entries", "t3.trackers"),
            ":11:",
            "unknown field `t3.trackers`",
        ),
        (
            SPEC.replace("preset = \"t3-asplos24\"", "preset = \"t9\""),
            ":7:10: field `base.preset`",
            "neither a preset",
        ),
        (
            SPEC.replace("modes = [\"t3\", \"t3-mca\"]\n", ""),
            ": field `modes`",
            "missing",
        ),
    ];
    for (src, loc, msg) in cases {
        let path = d.path().join("bad.toml");
        std::fs::write(&path, &src).unwrap();
        let e = Spec::load(&path).unwrap_err();
        let s = e.to_string();
        let want = format!("{}{loc}", path.display());
        assert!(s.starts_with(&want), "want prefix {want}: {s}");
        assert!(s.contains(msg), "want {msg}: {s}");
        assert_eq!(e.exit_code(), 2);
    }
}

#[test]
fn trace_and_preset_can_be_swept() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.json"), "{}").unwrap();
    std::fs::write(d.path().join("b.json"), "{}").unwrap();
    let src = r#"
modes = ["sequential"]
[base]
preset = "t3-asplos24"
[params]
trace = ["a.json", "b.json"]
"mem.stacks" = [2, 4]
"#;
    let s = Spec::parse("s.toml", src, d.path()).unwrap();
    let p = s.point(2).unwrap();
    assert_eq!(p.trace, d.path().join("b.json"));
    assert_eq!(p.overrides, ["mem.stacks=2"]);
    assert_eq!(p.get("trace"), Some(Value::Str("b.json".into())));
    let csv = sweep::run(
        &s,
        |p: &Point| Ok(Row::new().with("stacks", p.config()?.mem.stacks)),
        &opts(1),
    )
    .unwrap()
    .csv;
    assert_eq!(
        csv,
        "trace,mem.stacks,mode,stacks\na.json,2,sequential,2\na.json,4,sequential,4\nb.json,2,sequential,2\nb.json,4,sequential,4\n"
    );
}
