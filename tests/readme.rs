//! The README's main command works exactly as written: its arguments are
//! read from README.md and run through the built binary.

use std::path::Path;
use std::process::Command;

#[test]
fn readme_replay_command_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let line = readme
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cargo run --release -- replay "))
        .expect("README shows the replay command");
    let args: Vec<&str> = line
        .trim_start_matches("cargo run --release --")
        .split_whitespace()
        .collect();
    let out_dir = args
        .iter()
        .position(|a| *a == "--out")
        .map(|i| root.join(args[i + 1]))
        .expect("the command writes an --out directory");
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = Command::new(env!("CARGO_BIN_EXE_t3sim"))
        .args(&args)
        .current_dir(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for mode in [
        "sequential",
        "ideal",
        "rs-nmc",
        "t3",
        "t3-mca",
        "sw-overlap",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(mode)),
            "{mode} missing:\n{stdout}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["schema"], "t3sim-report/1");
    assert_eq!(report["modes"].as_array().unwrap().len(), 6);
    for f in [
        "speedup.png",
        "traffic.svg",
        "timeline-t3-mca.json",
        "timeline-t3.png",
    ] {
        assert!(out_dir.join(f).exists(), "{f} not written");
    }
}
