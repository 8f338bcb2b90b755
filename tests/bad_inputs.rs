//! A catalogue of malformed hardware configs (`tests/bad_inputs/configs/`),
//! memory traces (`tests/bad_inputs/mem_traces/`) and `--set` overrides.
//! Each is rejected, through the library and through the `t3sim` binary,
//! as an input error (exit code 2) that names the file, the line and the
//! field, quickly and without a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use t3sim::config::HwConfig;
use t3sim::mem::trace_file::TraceFormat;
use t3sim::mem::trace_replay;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

/// (file, line, field or "" when the problem is below the level of fields
/// (encoding, syntax), words the message must contain).
const CONFIGS: &[(&str, usize, &str, &str)] = &[
    ("empty.toml", 1, "", "file is empty"),
    ("whitespace-only.toml", 1, "mem", "missing field `mem`"),
    ("truncated.toml", 17, "", "unclosed table"),
    (
        "truncated-in-string.toml",
        15,
        "mem.mapping",
        "basic string",
    ),
    ("non-utf8.toml", 3, "", "not valid UTF-8"),
    ("nul-byte.toml", 20, "mem.timing.cl", "must be quoted"),
    ("duplicate-key.toml", 22, "mem.timing.cl", "duplicate key"),
    ("duplicate-section.toml", 56, "mem.timing", "duplicate key"),
    (
        "string-for-number.toml",
        20,
        "mem.timing.cl",
        "invalid type: string \"14\", expected u32",
    ),
    (
        "float-for-int.toml",
        12,
        "mem.rows",
        "invalid type: floating point",
    ),
    (
        "int-for-bool.toml",
        9,
        "mem.pseudo_channel",
        "expected a boolean",
    ),
    (
        "array-for-string.toml",
        15,
        "mem.mapping",
        "invalid type: sequence",
    ),
    (
        "table-for-number.toml",
        55,
        "mem.timing.cl",
        "invalid type: map",
    ),
    (
        "negative-timing.toml",
        24,
        "mem.timing.trp",
        "integer `-14`, expected u32",
    ),
    ("zero-cl.toml", 20, "mem.timing.cl", "greater than 0"),
    ("zero-tck.toml", 18, "mem.timing.tck_ps", "100..=100000"),
    (
        "tras-below-trcd.toml",
        25,
        "mem.timing.tras",
        "shorter than tRCD",
    ),
    (
        "trefi-equals-trfc.toml",
        37,
        "mem.timing.trefi",
        "must exceed tRFC",
    ),
    (
        "trefi-no-room-for-row-cycle.toml",
        37,
        "mem.timing.trefi",
        "at least tRFC + tRAS + tRP = 308",
    ),
    (
        "trrd-l-below-s.toml",
        27,
        "mem.timing.trrd_l",
        "at least tRRD_S",
    ),
    (
        "timing-beyond-limit.toml",
        36,
        "mem.timing.trfc",
        "2000000 is outside",
    ),
    (
        "tck-2pow63-minus-1.toml",
        18,
        "mem.timing.tck_ps",
        "9223372036854775807 is outside",
    ),
    ("tck-2pow63.toml", 18, "mem.timing.tck_ps", "too large"),
    ("trefi-2pow64.toml", 37, "mem.timing.trefi", "signed 64-bit"),
    (
        "rows-2pow32.toml",
        12,
        "mem.rows",
        "integer `4294967296`, expected u32",
    ),
    (
        "channels-not-pow2.toml",
        8,
        "mem.channels_per_stack",
        "power of two",
    ),
    ("stacks-too-many.toml", 7, "mem.stacks", "1..=64"),
    ("bank-groups-zero.toml", 10, "mem.bank_groups", "1..=16"),
    (
        "row-smaller-than-burst.toml",
        13,
        "mem.row_bytes",
        "smaller than one burst",
    ),
    (
        "unknown-scheduler.toml",
        44,
        "mem.controller.scheduler",
        "unknown name `frfcfs`",
    ),
    (
        "unknown-arbitration.toml",
        45,
        "mem.controller.arbitration",
        "unknown name `T3-MCA`",
    ),
    (
        "unknown-refresh.toml",
        48,
        "mem.controller.refresh",
        "unknown name `per-bank`",
    ),
    (
        "unknown-page-policy.toml",
        49,
        "mem.controller.page_policy",
        "unknown name `close`",
    ),
    (
        "unknown-nmc-dtype.toml",
        54,
        "mem.nmc.dtype",
        "unknown name `fp32`",
    ),
    (
        "mapping-missing-field.toml",
        15,
        "mem.mapping",
        "must name each of Ro, Ba, Bg, Co, Ch",
    ),
    (
        "mapping-duplicate-field.toml",
        15,
        "mem.mapping",
        "names a field twice",
    ),
    (
        "mapping-lowercase.toml",
        15,
        "mem.mapping",
        "cannot read `robabgcoch`",
    ),
    (
        "watermark-low-equals-high.toml",
        43,
        "mem.controller.write_low_pct",
        "below the high one",
    ),
    (
        "watermark-high-above-100.toml",
        42,
        "mem.controller.write_high_pct",
        "1..=100",
    ),
    (
        "read-queue-zero.toml",
        40,
        "mem.controller.read_queue",
        "0 is outside",
    ),
    (
        "write-queue-zero.toml",
        41,
        "mem.controller.write_queue",
        "0 is outside",
    ),
    (
        "starvation-limit-zero.toml",
        47,
        "mem.controller.starvation_limit_cycles",
        "0 is outside",
    ),
    (
        "unknown-field.toml",
        8,
        "mem.chanels_per_stack",
        "unknown field `chanels_per_stack`",
    ),
    ("unknown-section.toml", 56, "hbm", "unknown field `hbm`"),
    (
        "unknown-subsection.toml",
        56,
        "mem.dram",
        "unknown field `dram`",
    ),
    (
        "missing-timing-field.toml",
        17,
        "mem.timing.tras",
        "missing field `tras`",
    ),
    ("missing-mem-section.toml", 1, "mem", "missing field `mem`"),
    (
        "link-bw-nan.toml",
        57,
        "link.bw_gbps_per_dir",
        "finite number",
    ),
    (
        "link-bw-negative.toml",
        57,
        "link.bw_gbps_per_dir",
        "finite number",
    ),
    (
        "sw-overlap-takes-all-cus.toml",
        60,
        "t3.sw_overlap_cus",
        "at least one CU",
    ),
];

/// (file, line, field or "" for encoding errors and empty traces, words).
/// The format comes from the name: `*.ramulator.trace`, `*.dramsim3.trace`.
/// Replayed on the `hbm2-stack` preset (8 GiB: 0x200000000 is the first
/// address beyond it).
const MEM_TRACES: &[(&str, usize, &str, &str)] = &[
    ("ram-bad-op.ramulator.trace", 3, "op", "found `LOAD`"),
    ("ram-bad-hex.ramulator.trace", 2, "address", "`0x4g0`"),
    (
        "ram-missing-address.ramulator.trace",
        2,
        "address",
        "missing address",
    ),
    (
        "ram-extra-token.ramulator.trace",
        2,
        "record",
        "unexpected `17`",
    ),
    (
        "ram-address-beyond-2pow64.ramulator.trace",
        2,
        "address",
        "does not fit in 64 bits",
    ),
    (
        "ram-decimal-beyond-2pow64.ramulator.trace",
        1,
        "address",
        "does not fit in 64 bits",
    ),
    (
        "ram-negative-address.ramulator.trace",
        2,
        "address",
        "`-64` is not an address",
    ),
    (
        "ram-address-beyond-capacity.ramulator.trace",
        3,
        "address",
        "beyond the memory's capacity",
    ),
    (
        "ram-non-utf8-line.ramulator.trace",
        2,
        "",
        "not valid UTF-8",
    ),
    ("ram-binary.ramulator.trace", 1, "", "not valid UTF-8"),
    ("ram-empty.ramulator.trace", 1, "", "file is empty"),
    (
        "ram-comments-only.ramulator.trace",
        1,
        "",
        "no records (3 lines",
    ),
    ("ram-long-line.ramulator.trace", 2, "op", "(1048576 bytes)"),
    (
        "ram-dramsim3-syntax.ramulator.trace",
        1,
        "op",
        "found `0x40`",
    ),
    ("ds-bad-op.dramsim3.trace", 2, "op", "found `RD`"),
    ("ds-bad-hex.dramsim3.trace", 2, "address", "`0xzz`"),
    (
        "ds-missing-cycle.dramsim3.trace",
        2,
        "cycle",
        "missing cycle",
    ),
    (
        "ds-missing-op.dramsim3.trace",
        1,
        "op",
        "missing READ or WRITE",
    ),
    (
        "ds-non-numeric-cycle.dramsim3.trace",
        1,
        "cycle",
        "`soon` is not a cycle",
    ),
    (
        "ds-negative-cycle.dramsim3.trace",
        2,
        "cycle",
        "`-5` is not a cycle",
    ),
    (
        "ds-float-cycle.dramsim3.trace",
        1,
        "cycle",
        "`1.5` is not a cycle",
    ),
    (
        "ds-cycle-beyond-2pow64.dramsim3.trace",
        1,
        "cycle",
        "is not a cycle",
    ),
    (
        "ds-extra-token.dramsim3.trace",
        2,
        "record",
        "unexpected `3`",
    ),
    (
        "ds-address-beyond-capacity.dramsim3.trace",
        2,
        "address",
        "beyond the memory's capacity",
    ),
    ("ds-non-utf8-line.dramsim3.trace", 3, "", "not valid UTF-8"),
    ("ds-binary.dramsim3.trace", 1, "", "not valid UTF-8"),
    ("ds-empty.dramsim3.trace", 1, "", "file is empty"),
    (
        "ds-long-line.dramsim3.trace",
        1,
        "address",
        "(1048578 bytes)` does not fit",
    ),
    (
        "ds-ramulator-syntax.dramsim3.trace",
        1,
        "address",
        "`LD` is not an address",
    ),
    (
        "ds-glued-tokens.dramsim3.trace",
        2,
        "address",
        "`0x80WRITE` is not an address",
    ),
];

/// (override, field, words) applied to the `hbm2-stack` preset.
const OVERRIDES: &[(&str, &str, &str)] = &[
    (
        "mem.chanels=16",
        "mem.chanels",
        "unknown field `mem.chanels`",
    ),
    ("memory.rows=16", "memory.rows", "unknown field"),
    ("mem.timing.cl=abc", "mem.timing.cl", "invalid type: string"),
    (
        "mem.timing.cl=[1]",
        "mem.timing.cl",
        "invalid type: sequence",
    ),
    ("mem.rows=-1", "mem.rows", "integer `-1`"),
    (
        "mem.timing.cl",
        "mem.timing.cl",
        "expected `section.field=value`",
    ),
    ("=5", "", "no field before `=`"),
    (
        "mem.stacks.x=1",
        "mem.stacks.x",
        "is a value, not a section",
    ),
    ("mem.timing=5", "mem.timing", "expected struct DramTiming"),
    ("mem.timing.tras=3", "mem.timing.tras", "shorter than tRCD"),
    (
        "mem.controller.arbitration=mca",
        "mem.controller.arbitration",
        "unknown name `mca`",
    ),
    (
        "mem.controller.read_queue=0",
        "mem.controller.read_queue",
        "0 is outside",
    ),
];

fn format_of(file: &str) -> (TraceFormat, &'static str) {
    if file.ends_with(".ramulator.trace") {
        (TraceFormat::Ramulator, "ramulator")
    } else {
        assert!(file.ends_with(".dramsim3.trace"), "{file}: unknown format");
        (TraceFormat::Dramsim3, "dramsim3")
    }
}

/// Checks a library error against a catalogue row.
fn check_error(
    what: &str,
    err: &t3sim::Error,
    file: &str,
    line: Option<usize>,
    field: &str,
    words: &str,
) {
    assert_eq!(err.exit_code(), 2, "{what}: {err}");
    let t3sim::Error::Input(ie) = err else {
        panic!("{what}: not an input error: {err}");
    };
    let msg = err.to_string();
    assert_eq!(ie.loc.file, file, "{what}: {msg}");
    assert_eq!(ie.loc.line, line, "{what}: {msg}");
    if line.is_some() {
        assert!(ie.loc.column.is_some(), "{what}: {msg}");
    }
    assert_eq!(ie.field, field, "{what}: {msg}");
    if !field.is_empty() {
        assert!(msg.contains(&format!("field `{field}`")), "{what}: {msg}");
    }
    assert!(msg.contains(words), "{what}: expected `{words}` in: {msg}");
    // A message is one line a user reads, not a dump of the input.
    assert!(msg.len() < 600, "{what}: message of {} bytes", msg.len());
}

/// Output of one `t3sim` run that must end within `limit`.
struct Run {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

fn run_t3sim(args: &[&str], limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_t3sim"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("t3sim starts");
    // Read stderr on a thread so a chatty child cannot block on a full pipe
    // while we wait for it.
    let mut pipe = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("t3sim {args:?} did not finish within {limit:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code(),
        stderr: reader.join().expect("stderr reader"),
        elapsed: start.elapsed(),
    }
}

const LIMIT: Duration = Duration::from_secs(20);

fn check_run(what: &str, r: &Run, located: &str, field: &str, words: &str) {
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
    assert_eq!(r.code, Some(2), "{what}: {}", r.stderr);
    assert!(
        r.stderr.contains(located),
        "{what}: expected `{located}` in: {}",
        r.stderr
    );
    if !field.is_empty() {
        assert!(
            r.stderr.contains(&format!("field `{field}`")),
            "{what}: {}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains(words),
        "{what}: expected `{words}` in: {}",
        r.stderr
    );
    assert!(r.elapsed < LIMIT, "{what}: took {:?}", r.elapsed);
}

/// A valid one-record trace, so that a binary run fails on the config only.
fn valid_trace(tmp: &Path) -> PathBuf {
    let p = tmp.join("ok.ramulator.trace");
    std::fs::write(&p, "LD 0x40\nST 0x80\n").unwrap();
    p
}

#[test]
fn every_bad_config_is_rejected_with_file_line_and_field() {
    for &(file, line, field, words) in CONFIGS {
        let path = dir().join("configs").join(file);
        let err = match HwConfig::from_file(&path, &[]) {
            Ok(c) => panic!("{file}: accepted: {c:?}"),
            Err(e) => e,
        };
        check_error(
            file,
            &err,
            &path.display().to_string(),
            Some(line),
            field,
            words,
        );
    }
}

#[test]
fn the_binary_rejects_every_bad_config_with_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = valid_trace(tmp.path());
    let trace = trace.to_str().unwrap();
    for &(file, line, field, words) in CONFIGS {
        let path = dir().join("configs").join(file);
        let p = path.to_str().unwrap();
        let r = run_t3sim(
            &["mem", trace, "--format", "ramulator", "--config", p],
            LIMIT,
        );
        check_run(file, &r, &format!("{p}:{line}:"), field, words);
    }
}

#[test]
fn every_bad_mem_trace_is_rejected_with_file_line_and_field() {
    let cfg = HwConfig::preset("hbm2-stack").unwrap();
    for &(file, line, field, words) in MEM_TRACES {
        let path = dir().join("mem_traces").join(file);
        let (format, _) = format_of(file);
        let start = Instant::now();
        let err = match trace_replay::replay_file(&path, format, &cfg.mem, "hbm2-stack") {
            Ok(r) => panic!("{file}: accepted: {r:?}"),
            Err(e) => e,
        };
        assert!(
            start.elapsed() < LIMIT,
            "{file}: took {:?}",
            start.elapsed()
        );
        check_error(
            file,
            &err,
            &path.display().to_string(),
            Some(line),
            field,
            words,
        );
    }
}

#[test]
fn the_binary_rejects_every_bad_mem_trace_with_exit_code_2() {
    for &(file, line, field, words) in MEM_TRACES {
        let path = dir().join("mem_traces").join(file);
        let p = path.to_str().unwrap();
        let (_, fmt) = format_of(file);
        let r = run_t3sim(
            &["mem", p, "--format", fmt, "--preset", "hbm2-stack"],
            LIMIT,
        );
        check_run(file, &r, &format!("{p}:{line}:"), field, words);
    }
}

#[test]
fn every_bad_override_is_rejected_naming_the_override_and_field() {
    for &(ov, field, words) in OVERRIDES {
        let err = match HwConfig::load("hbm2-stack", &[ov.to_string()]) {
            Ok(c) => panic!("{ov}: accepted: {c:?}"),
            Err(e) => e,
        };
        // An override has no line: it is located at `--set`.
        check_error(ov, &err, "--set", None, field, words);
    }
}

#[test]
fn the_binary_rejects_every_bad_override_with_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = valid_trace(tmp.path());
    let trace = trace.to_str().unwrap();
    for &(ov, field, words) in OVERRIDES {
        let r = run_t3sim(&["mem", trace, "--format", "ramulator", "--set", ov], LIMIT);
        check_run(ov, &r, "--set:", field, words);
    }
}

#[test]
fn an_override_that_fails_validation_blames_the_override_not_the_file() {
    // The file says tras = 34 on line 25; the bad value came from --set.
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets/hbm2-stack.toml");
    let err = HwConfig::from_file(&base, &["mem.timing.tras=3".into()]).unwrap_err();
    check_error(
        "tras override",
        &err,
        "--set",
        None,
        "mem.timing.tras",
        "tRAS (3)",
    );
    // Replacing a whole section blames the override for the fields under it.
    let err = HwConfig::from_file(&base, &["mem.controller={read_queue = 0}".into()]).unwrap_err();
    check_error(
        "section override",
        &err,
        "--set",
        None,
        "mem.controller.read_queue",
        "0 is outside",
    );
    // The same value written in the file is located in the file.
    let src = std::fs::read_to_string(&base)
        .unwrap()
        .replace("tras = 34", "tras = 3");
    let err = HwConfig::from_toml_str("f.toml", &src, &[]).unwrap_err();
    check_error(
        "tras in file",
        &err,
        "f.toml",
        Some(25),
        "mem.timing.tras",
        "tRAS (3)",
    );
}

#[test]
fn the_catalogues_cover_every_file_on_disk() {
    for (sub, listed, min) in [
        (
            "configs",
            CONFIGS.iter().map(|c| c.0).collect::<Vec<_>>(),
            30,
        ),
        ("mem_traces", MEM_TRACES.iter().map(|c| c.0).collect(), 20),
    ] {
        let mut on_disk: Vec<String> = std::fs::read_dir(dir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "{sub}");
        assert!(listed.len() >= min, "{sub}: {} cases", listed.len());
    }
}

#[test]
fn the_bad_files_differ_from_a_valid_baseline_that_loads_and_replays() {
    // Every bad config is the hbm2-stack preset with one edit: the preset
    // itself must load, or the catalogue would prove nothing.
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("presets/hbm2-stack.toml");
    let cfg = HwConfig::from_file(&base, &[]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (name, text, format) in [
        (
            "a.ramulator.trace",
            "LD 0x40\n# c\n\nST 0x1ffffffc0\n",
            TraceFormat::Ramulator,
        ),
        (
            "b.dramsim3.trace",
            "0x40 READ 1\r\n64 WRITE 0\n",
            TraceFormat::Dramsim3,
        ),
    ] {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        let r = trace_replay::replay_file(&p, format, &cfg.mem, "hbm2-stack").unwrap();
        assert_eq!(r.records, 2, "{name}");
    }
}

#[test]
fn a_missing_config_or_trace_is_an_input_error_naming_it() {
    let nope = dir().join("nope.toml");
    let e = HwConfig::from_file(&nope, &[]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("nope.toml"), "{e}");
    let cfg = HwConfig::preset("hbm2-stack").unwrap();
    let nope = dir().join("nope.trace");
    let e = trace_replay::replay_file(&nope, TraceFormat::Ramulator, &cfg.mem, "x").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("nope.trace"), "{e}");
}
