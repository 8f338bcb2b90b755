//! RTL co-simulation: each verilated block against its Rust model, and
//! deliberately wrong models to show the checker catches them, names the
//! first diverging cycle and writes a waveform.
#![cfg(feature = "rtl")]

use std::path::Path;

use half::f16;
use t3sim::cosim::rtl::{AluBench, AluRtl, McaBench, Testbench, TrackerBench, check};
use t3sim::cosim::{
    AluIn, AluOut, Block, CosimError, Divergence, LANES, Lockstep, McaIn, McaOut, NmcAluModel,
    Waveform, run_block,
};
use t3sim::mem::arbiter::McaCycleModel;
use t3sim::mem::nmc_alu::{Dtype, add_bf16, add_f16};
use t3sim::t3::{Tracker, TrackerIn, TrackerOut};

const CYCLES: u64 = 1_000_000;

fn out_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn tracker_rtl_matches_the_model_for_a_million_cycles() {
    let dir = out_dir();
    let s = check::<TrackerBench, _>(TrackerBench::model(), CYCLES, 11, dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.cycles, CYCLES);
}

#[test]
fn nmc_alu_rtl_matches_the_model_for_a_million_bursts() {
    // 32 lanes a cycle: 32 M operand pairs, half of them FP16.
    let dir = out_dir();
    let s = check::<AluBench, _>(AluBench::model(), CYCLES, 12, dir.path())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.cycles, CYCLES);
}

#[test]
fn mca_arbiter_rtl_matches_the_model_for_a_million_cycles() {
    let dir = out_dir();
    let s = run_block("mca_arbiter", CYCLES, 13, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((s.block.as_str(), s.cycles), ("mca_arbiter", CYCLES));
    assert!(s.cycles_per_s > 0.0);
}

/// Values where adders differ: zeros, smallest and largest subnormals,
/// smallest normal, one, largest finite, infinities, NaNs, in both signs.
fn special_values(d: Dtype) -> [u16; 16] {
    match d {
        Dtype::Fp16 => [
            0x0000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x3C01, 0x7BFF, 0x7C00, 0x7C01, 0x7E00, 0x8000,
            0x8001, 0x83FF, 0xBC00, 0xFBFF, 0xFC00,
        ],
        Dtype::Bf16 => [
            0x0000, 0x0001, 0x007F, 0x0080, 0x3F80, 0x3F81, 0x7F7F, 0x7F80, 0x7F81, 0x7FC0, 0x8000,
            0x8001, 0x807F, 0xBF80, 0xFF7F, 0xFF80,
        ],
    }
}

#[test]
fn nmc_alu_rtl_matches_every_operand_against_the_special_values() {
    // 65536 operands x 16 specials x both orders x 2 formats = 4 M pairs.
    let mut ls = Lockstep::new(NmcAluModel, AluRtl::new(false));
    for dtype in [Dtype::Fp16, Dtype::Bf16] {
        let sv = special_values(dtype);
        for x in 0..=u16::MAX {
            let mut i = AluIn {
                dtype,
                a: [x; LANES],
                b: [0; LANES],
            };
            for l in 0..LANES {
                i.b[l] = sv[l % 16];
            }
            for l in 16..LANES {
                (i.a[l], i.b[l]) = (i.b[l], i.a[l]);
            }
            ls.step(i).unwrap_or_else(|m| {
                panic!(
                    "{dtype:?} cycle {}: {}",
                    m.cycle,
                    t3sim::cosim::Observed::differences(&m.expected, &m.actual)
                )
            });
        }
    }
}

/// Fires a tile one update before its count is complete.
struct EarlyTracker(Tracker);

impl Block for EarlyTracker {
    type In = TrackerIn;
    type Out = TrackerOut;
    fn step(&mut self, i: TrackerIn) -> TrackerOut {
        self.0.step(TrackerIn {
            expected: i.expected.saturating_sub(1),
            ..i
        })
    }
}

/// Checks `expected <= 1` before looking for a free entry, so a
/// single-update tile fires even when the table is full.
struct FiresWhenFull(Tracker);

impl Block for FiresWhenFull {
    type In = TrackerIn;
    type Out = TrackerOut;
    fn step(&mut self, i: TrackerIn) -> TrackerOut {
        if i.valid && i.expected <= 1 && self.0.count_of(i.tile).is_none() {
            return TrackerOut {
                accept: true,
                fire: Some(i.tile),
                occupancy: self.0.occupancy(),
            };
        }
        self.0.step(i)
    }
}

/// Rounds FP16 sums toward zero instead of to nearest even.
struct TruncatingAlu;

fn add_f16_truncating(a: u16, b: u16) -> u16 {
    let r = add_f16(a, b);
    let exact = f16::from_bits(a).to_f64() + f16::from_bits(b).to_f64();
    let rounded = f16::from_bits(r).to_f64();
    // Rounded away from zero (overflow to infinity included): step back
    // one unit in the last place, towards zero.
    if r & 0x7FFF != 0 && rounded.abs() > exact.abs() {
        r - 1
    } else {
        r
    }
}

impl Block for TruncatingAlu {
    type In = AluIn;
    type Out = AluOut;
    fn step(&mut self, i: AluIn) -> AluOut {
        let add = match i.dtype {
            Dtype::Fp16 => add_f16_truncating,
            Dtype::Bf16 => add_bf16,
        };
        AluOut {
            sum: std::array::from_fn(|l| add(i.a[l], i.b[l])),
        }
    }
}

/// Forces communication one cycle late (`>` instead of `>=` the limit).
struct LateStarvation(McaCycleModel);

impl Block for LateStarvation {
    type In = McaIn;
    type Out = McaOut;
    fn step(&mut self, i: McaIn) -> McaOut {
        Block::step(
            &mut self.0,
            McaIn {
                limit: i.limit.saturating_add(1),
                ..i
            },
        )
    }
}

/// The first cycle at which `wrong` differs from the bench's model on the
/// bench's stimulus, found without the RTL.
fn first_model_difference<B: Testbench, W: Block<In = B::In, Out = B::Out>>(
    wrong: W,
    seed: u64,
) -> u64 {
    let mut ls = Lockstep::new(B::model(), wrong);
    let mut stim = B::stimulus(seed);
    ls.run(&mut stim, CYCLES)
        .expect_err("the wrong model differs")
        .cycle
}

fn divergence(r: Result<t3sim::cosim::CosimSummary, CosimError>) -> Divergence {
    match r {
        Err(CosimError::Divergence(d)) => *d,
        other => panic!("expected a divergence, got {other:?}"),
    }
}

/// The report names the cycle and seed, and the VCD holds the last cycles
/// up to the diverging one.
fn assert_reported(d: &Divergence, block: &str, seed: u64, cycle: u64, dir: &Path) {
    assert_eq!((d.block.as_str(), d.seed, d.cycle), (block, seed, cycle));
    let text = d.to_string();
    assert!(
        text.contains(&format!("at cycle {cycle} (seed {seed})")),
        "{text}"
    );
    assert!(!d.fields.is_empty());
    let Waveform::Written(path) = &d.waveform else {
        panic!("no waveform: {text}")
    };
    assert!(path.starts_with(dir));
    let vcd = std::fs::read_to_string(path).expect("VCD readable");
    assert!(vcd.contains("$enddefinitions"), "not a VCD");
    // Two timestamps per cycle (clock low, high) plus the opening dump.
    let stamps = vcd.lines().filter(|l| l.starts_with('#')).count() as u64;
    let cycles = (cycle + 1).min(t3sim::cosim::WAVEFORM_CYCLES);
    assert_eq!(stamps, 2 * cycles + 1, "{}", path.display());
}

#[test]
fn an_early_firing_tracker_model_is_caught_with_a_waveform() {
    let dir = out_dir();
    let seed = 21;
    let first =
        first_model_difference::<TrackerBench, _>(EarlyTracker(TrackerBench::model()), seed);
    let d = divergence(check::<TrackerBench, _>(
        EarlyTracker(TrackerBench::model()),
        CYCLES,
        seed,
        dir.path(),
    ));
    assert_reported(&d, "tracker", seed, first, dir.path());
    assert!(d.fields.contains("fire: expected Some("), "{}", d.fields);
}

#[test]
fn a_late_tracker_bug_is_caught_with_a_waveform_of_the_last_cycles() {
    let dir = out_dir();
    let seed = 24;
    let first =
        first_model_difference::<TrackerBench, _>(FiresWhenFull(TrackerBench::model()), seed);
    // Only a full table shows this bug, so the waveform is a window.
    assert!(
        first > 2 * t3sim::cosim::WAVEFORM_CYCLES,
        "diverged at {first}"
    );
    let d = divergence(check::<TrackerBench, _>(
        FiresWhenFull(TrackerBench::model()),
        CYCLES,
        seed,
        dir.path(),
    ));
    assert_reported(&d, "tracker", seed, first, dir.path());
    assert!(
        d.fields.contains("accept: expected true, actual false"),
        "{}",
        d.fields
    );
}

#[test]
fn a_truncating_alu_model_is_caught_with_a_waveform() {
    let dir = out_dir();
    let seed = 22;
    let first = first_model_difference::<AluBench, _>(TruncatingAlu, seed);
    let d = divergence(check::<AluBench, _>(
        TruncatingAlu,
        CYCLES,
        seed,
        dir.path(),
    ));
    assert_reported(&d, "nmc_alu", seed, first, dir.path());
    assert!(d.fields.starts_with("sum["), "{}", d.fields);
}

#[test]
fn a_late_starvation_arbiter_model_is_caught_with_a_waveform() {
    let dir = out_dir();
    let seed = 23;
    let first = first_model_difference::<McaBench, _>(LateStarvation(McaBench::model()), seed);
    let d = divergence(check::<McaBench, _>(
        LateStarvation(McaBench::model()),
        CYCLES,
        seed,
        dir.path(),
    ));
    assert_reported(&d, "mca_arbiter", seed, first, dir.path());
    assert!(d.fields.contains("actual CommFirst"), "{}", d.fields);
}

/// Every FP16 and every BF16 operand pair (2 x 2^32): minutes, so run on
/// demand: `cargo test --release --features rtl --test cosim -- --ignored`.
#[test]
#[ignore]
fn nmc_alu_rtl_matches_every_operand_pair() {
    let mut ls = Lockstep::new(NmcAluModel, AluRtl::new(false));
    for dtype in [Dtype::Fp16, Dtype::Bf16] {
        for a in 0..=u16::MAX {
            for b0 in (0..=u16::MAX).step_by(LANES) {
                let i = AluIn {
                    dtype,
                    a: [a; LANES],
                    b: std::array::from_fn(|l| b0 + l as u16),
                };
                if let Err(m) = ls.step(i) {
                    panic!(
                        "{dtype:?} a={a:#06x}: {}",
                        t3sim::cosim::Observed::differences(&m.expected, &m.actual)
                    );
                }
            }
        }
    }
}

// ----- whole replays with the RTL in lockstep (`replay --cosim`) -----

/// The smallest shipped TP 8 trace (the OP sub-layer of Mega-GPT-2).
const TP8: &str = "traces/mega-gpt2-tp8-op.json";

fn t3sim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_t3sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("t3sim runs")
}

fn replay_cosim(out: &Path, blocks: &str, fault: Option<&str>) -> std::process::Output {
    let out = out.to_str().expect("utf-8 temp path");
    let mut args = vec![
        "-q", "replay", TP8, "--modes", "t3-mca", "--cosim", blocks, "--out", out,
    ];
    if let Some(f) = fault {
        args.extend(["--cosim-fault", f]);
    }
    t3sim(&args)
}

#[test]
fn t3_mca_replay_of_a_tp8_trace_passes_with_every_block_in_lockstep() {
    let dir = out_dir();
    let o = replay_cosim(dir.path(), "tracker,nmc,arbiter", None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let checks = report["cosim"]
        .as_array()
        .expect("cosim key in report.json");
    let blocks: Vec<&str> = checks
        .iter()
        .map(|c| c["block"].as_str().unwrap())
        .collect();
    assert_eq!(blocks, ["arbiter", "nmc", "tracker"]);
    for c in checks {
        assert_eq!(c["mode"], "t3-mca");
        // Symmetric ring: one device stands for all; 32 channels of HBM.
        let instances = if c["block"] == "arbiter" { 32 } else { 1 };
        assert_eq!(c["instances"], instances, "{c}");
        assert!(c["checked"].as_u64().unwrap() > 1_000_000, "{c}");
    }
}

/// Runs `fault` on `block`; returns the reported cycle, the report and the
/// output directory (which holds the waveform) after checking that the
/// report names the block, the cycle and `field`.
fn first_divergence(block: &str, fault: &str, field: &str) -> (u64, String, tempfile::TempDir) {
    let dir = out_dir();
    let o = replay_cosim(dir.path(), block, Some(fault));
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let head = format!("{block} (t3-mca replay): RTL diverges from the model on device 0");
    let line = stderr
        .lines()
        .find(|l| l.contains(&head))
        .unwrap_or_else(|| panic!("{stderr}"));
    let cycle: u64 = line
        .split(" at cycle ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(stderr.contains(field), "{stderr}");
    (cycle, stderr, dir)
}

/// Like [`first_divergence`], and checks the waveform the report names.
fn caught(block: &str, fault: &str, field: &str) -> u64 {
    let (cycle, stderr, _dir) = first_divergence(block, fault, field);
    let vcd = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("waveform:  "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let text = std::fs::read_to_string(vcd).unwrap_or_else(|e| panic!("{vcd}: {e}\n{stderr}"));
    assert!(text.contains("$enddefinitions"), "{vcd}");
    cycle
}

/// The same fault confined to the cycles before `cycle` passes: no earlier
/// cycle diverges, so the reported one is the first.
fn passes_before(block: &str, cycle: u64) {
    let dir = out_dir();
    let o = replay_cosim(dir.path(), block, Some(&format!("{block}:before={cycle}")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_wrong_arbiter_threshold_is_caught_at_the_first_diverging_cycle() {
    let cycle = caught(
        "arbiter",
        "arbiter",
        "grant: expected ComputeOnly, actual ComputeFirst",
    );
    passes_before("arbiter", cycle);
}

#[test]
fn an_early_firing_tracker_is_caught_at_the_first_diverging_step() {
    let step = caught("tracker", "tracker", "fire: expected None");
    passes_before("tracker", step);
}

#[test]
fn a_wrong_alu_lane_is_caught_at_the_first_diverging_update() {
    let cycle = caught("nmc", "nmc", "differing: sum[0]");
    passes_before("nmc", cycle);
}

#[test]
fn replay_cosim_rejects_blocks_no_mode_exercises() {
    let o = t3sim(&["replay", TP8, "--modes", "sequential", "--cosim", "arbiter"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("no selected mode exercises the arbiter"), "{e}");
}
