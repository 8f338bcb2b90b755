//! Seeded fuzzing at volume: `cargo bench --bench fuzz -- --cases 1000000`.
//!
//! Runs the same generators and oracles as `tests/fuzz_props.rs` (shared in
//! `tests/support/fuzz.rs`) over a deterministic PRNG stream: config text
//! mutations, `--set` overrides, arbitrary and token-built memory traces,
//! and small memory-system runs (each 1 in 8 run twice for determinism).
//! A panic counts as a failure. Prints `N cases, F failures, X cases/s`
//! and exits 1 if anything failed; every failure prints its case number
//! and seed, and `--case K --seed S` replays one case.

#[path = "../tests/support/fuzz.rs"]
mod fuzz;

use fuzz::Genes;
use std::time::Instant;
use t3sim::mem::trace_file::TraceFormat;

/// SplitMix64: tiny, fast, and plenty for picking fuzz inputs.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn genes(&mut self, n: usize) -> Vec<u64> {
        (0..n).map(|_| self.next()).collect()
    }
}

const KINDS: &[&str] = &[
    "config-mutation",
    "override",
    "trace-bytes",
    "trace-tokens",
    "mem-system",
];

/// Case `i` of the stream: its kind is `i % 20` mapped onto the mix below,
/// its inputs come from a PRNG seeded with `seed ^ i`.
fn run_case(i: u64, seed: u64, scratch: &std::path::Path) -> (usize, Result<(), String>) {
    let mut rng = SplitMix(seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let fmt = if rng.next().is_multiple_of(2) {
        TraceFormat::Ramulator
    } else {
        TraceFormat::Dramsim3
    };
    let kind = match i % 20 {
        0..=5 => 0,
        6..=7 => 1,
        8..=12 => 2,
        13..=17 => 3,
        _ => 4,
    };
    let r = match kind {
        0 => {
            let g = rng.genes(40);
            fuzz::check_config_text(&fuzz::mutated_config(&mut Genes::new(&g)), scratch)
        }
        1 => {
            let g = rng.genes(12);
            let mut gs = Genes::new(&g);
            let ovs: Vec<String> = (0..1 + rng.next() % 3)
                .map(|_| fuzz::random_override(&mut gs))
                .collect();
            fuzz::check_overrides(&ovs)
        }
        2 => {
            let len = (rng.next() % 256) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            fuzz::check_trace_bytes(&bytes, fmt)
        }
        3 => {
            let g = rng.genes(40);
            fuzz::check_trace_bytes(&fuzz::token_trace(&mut Genes::new(&g), fmt), fmt)
        }
        _ => {
            let cg = rng.genes(64);
            let cfg = fuzz::small_mem_config(&mut Genes::new(&cg));
            let n = 1 + (rng.next() % 48) as usize;
            let rg = rng.genes(16 * n);
            let reqs = fuzz::random_requests(&mut Genes::new(&rg), &cfg, n);
            match fuzz::run_mem_case(&cfg, &reqs, false) {
                Ok(a) if i.is_multiple_of(8) => match fuzz::run_mem_case(&cfg, &reqs, false) {
                    Ok(b) if a == b => Ok(()),
                    Ok(_) => Err("second identical run differs".into()),
                    Err(e) => Err(format!("second identical run failed: {e}")),
                },
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        }
    };
    (kind, r)
}

fn arg(args: &[String], name: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cases = arg(&args, "--cases").unwrap_or(100_000);
    let seed = arg(&args, "--seed").unwrap_or(0x7357_5EED);
    let only = arg(&args, "--case");
    let tmp = tempfile::tempdir().expect("temp dir");
    let scratch = tmp.path().join("m.toml");
    // Panics are counted, not printed by the default hook for each case.
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let mut failures = 0u64;
    let mut per_kind = [0u64; 5];
    let range = match only {
        Some(k) => k..k + 1,
        None => 0..cases,
    };
    let n = range.end - range.start;
    for i in range {
        let out = std::panic::catch_unwind(|| run_case(i, seed, &scratch));
        let (kind, res) = match out {
            Ok((k, r)) => (k, r),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                (usize::MAX, Err(format!("panic: {msg}")))
            }
        };
        if kind < per_kind.len() {
            per_kind[kind] += 1;
        }
        if let Err(e) = res {
            failures += 1;
            if failures <= 10 {
                eprintln!(
                    "FAIL case {i} (replay: --case {i} --seed {seed}): {}",
                    e.chars().take(2000).collect::<String>()
                );
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mix: Vec<String> = KINDS
        .iter()
        .zip(per_kind)
        .map(|(k, c)| format!("{k} {c}"))
        .collect();
    println!(
        "{n} cases, {failures} failures, {:.0} cases/s ({secs:.1} s; {})",
        n as f64 / secs,
        mix.join(", ")
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
