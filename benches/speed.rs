//! Speed figures, printed (run with `cargo bench --bench speed`; pass
//! `mem`, `replay` or `paper` to run one group, `--lines N` to size the
//! memory traces).
//!
//! - mem: simulated 64-B lines per second replaying 5 M-line streaming
//!   and random-read DRAMsim3 traces (written to a temp dir first, in the
//!   format of ../shared/tools/gen_dram_traces.py) through `hbm2-stack`,
//!   parsing included, on one thread.
//! - replay: wall time of the T-NLG TP 8 FC-2 sequential replay of all
//!   8 devices (the sequential run alone, no baselines).
//! - paper: wall time of what `t3sim paper` simulates: the 28 shipped
//!   sub-layers in every mode with their baselines (one pool on every
//!   core; the 7 FC-1/FC-2 pairs differ only in names and are simulated
//!   once, so 21 x 7 simulations), without writing tables and plots. The
//!   target is 3 minutes on the 2-core machine.

use std::io::Write;
use std::time::Instant;
use t3sim::config::HwConfig;
use t3sim::mem::trace_file::TraceFormat;
use t3sim::mem::trace_replay;
use t3sim::modes::Mode;
use t3sim::replay;

fn write_trace(path: &std::path::Path, lines: u64, random: bool) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut s: u64 = 2;
    for i in 0..lines {
        let a = if random {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % (1 << 26)) * 64
        } else {
            i * 64
        };
        writeln!(f, "0x{a:x} READ 0").unwrap();
    }
}

fn mem(lines: u64) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = HwConfig::preset("hbm2-stack").unwrap();
    for (name, random) in [("stream_read", false), ("rand_read", true)] {
        let p = dir.path().join(format!("{name}.dramsim3.trace"));
        write_trace(&p, lines, random);
        let t0 = Instant::now();
        let r =
            trace_replay::replay_file(&p, TraceFormat::Dramsim3, &cfg.mem, "hbm2-stack").unwrap();
        let s = t0.elapsed().as_secs_f64();
        println!(
            "mem {name}: {} lines in {s:.2} s = {:.2} M lines/s ({:.1} GB/s simulated)",
            r.requests,
            r.requests as f64 / s / 1e6,
            r.bandwidth_gbps
        );
    }
}

fn replay() {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let t = t3sim::trace::load(std::path::Path::new(&format!(
        "{root}/traces/tnlg-tp8-fc2.json"
    )))
    .unwrap();
    let t0 = Instant::now();
    // Every device simulated: the symmetric shortcut is off.
    let r = replay::run_mode_with(&t, &cfg, Mode::Sequential, false)
        .unwrap()
        .unwrap();
    let s = t0.elapsed().as_secs_f64();
    let reqs: u64 = r
        .devices
        .iter()
        .map(|d| d.mem.streams.iter().map(|x| x.requests).sum::<u64>())
        .sum();
    println!(
        "replay tnlg-tp8-fc2 sequential, all 8 devices: {s:.2} s wall ({:.1} us simulated, {} events, {} memory requests)",
        r.end_ps as f64 / 1e6,
        r.events,
        reqs
    );
}

fn paper() {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let traces: Vec<t3sim::trace::Trace> = t3sim::trace::generator::shipped()
        .into_iter()
        .map(|(m, tp, s)| {
            let name = t3sim::trace::generator::trace_name(m, tp, s, t3sim::trace::DEFAULT_TOKENS);
            t3sim::trace::load(std::path::Path::new(&format!("{root}/traces/{name}.json"))).unwrap()
        })
        .collect();
    let refs: Vec<&t3sim::trace::Trace> = traces.iter().collect();
    let t0 = Instant::now();
    let reports = replay::replay_many(&refs, &cfg, &Mode::ALL, &|| {});
    let s = t0.elapsed().as_secs_f64();
    let ok = reports.iter().filter(|r| r.is_ok()).count();
    println!(
        "paper: {} sub-layers ({} distinct) x {} simulations in {s:.1} s wall on {} threads ({ok} reports ok)",
        traces.len(),
        refs.iter()
            .map(|t| t.simulation_key())
            .collect::<std::collections::HashSet<_>>()
            .len(),
        replay::jobs(refs[0], &Mode::ALL)
            .iter()
            .filter(|j| **j != replay::Job::Mode(Mode::Ideal))
            .count(),
        rayon::current_num_threads()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let lines = args
        .iter()
        .position(|a| a == "--lines")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000u64);
    let want = |g: &str| {
        !args
            .iter()
            .any(|a| ["mem", "replay", "paper"].contains(&a.as_str()))
            || args.iter().any(|a| a == g)
    };
    if want("mem") {
        mem(lines);
    }
    if want("replay") {
        replay();
    }
    if want("paper") {
        paper();
    }
}
