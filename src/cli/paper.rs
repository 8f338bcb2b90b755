//! `t3sim paper`: the paper's evaluation in one command. Replays the
//! shipped Mega-GPT-2 / T-NLG TP 8 and 16 sub-layers and the TP 32 models
//! in every mode, and writes per-sub-layer tables, geomean/max summaries,
//! every report.json and the plots.

use super::progress::Ui;
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use t3sim::config::HwConfig;
use t3sim::modes::Mode;
use t3sim::replay;
use t3sim::report::replay::ReplayReport;

pub const EXAMPLES: &str = "Examples:
  t3sim paper --out out/paper
  t3sim paper --out out/paper --set link.bw_gbps_per_dir=150
  t3sim paper --traces traces --only tnlg --out out/tnlg";

#[derive(Debug, Args)]
pub struct PaperArgs {
    /// Directory of the shipped traces.
    #[arg(long, default_value = "traces")]
    pub traces: PathBuf,
    /// Output directory (tables, reports, plots).
    #[arg(long, default_value = "out/paper")]
    pub out: PathBuf,
    /// Hardware preset.
    #[arg(long, default_value = "t3-asplos24")]
    pub preset: String,
    /// Override a config field (applies to every replay).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Only traces whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
}

/// The paper's sub-layers: Mega-GPT-2 and T-NLG at TP 8 and 16, GPT-3,
/// PALM and MT-NLG at TP 32, each OP, FC-2, FC-1, IP.
fn paper_traces() -> Vec<String> {
    let mut v = Vec::new();
    for (model, tps) in [
        ("mega-gpt2", &[8, 16][..]),
        ("tnlg", &[8, 16][..]),
        ("gpt3", &[32][..]),
        ("palm", &[32][..]),
        ("mtnlg", &[32][..]),
    ] {
        for tp in tps {
            for sub in ["op", "fc2", "fc1", "ip"] {
                v.push(format!("{model}-tp{tp}-{sub}"));
            }
        }
    }
    v
}

const COMPARED: [Mode; 5] = [
    Mode::Ideal,
    Mode::RsNmc,
    Mode::T3,
    Mode::T3Mca,
    Mode::SwOverlap,
];

fn geomean(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
}

pub fn run(a: PaperArgs, ui: &Ui) -> anyhow::Result<()> {
    let cfg = HwConfig::load(&a.preset, &a.set)?;
    let names: Vec<String> = paper_traces()
        .into_iter()
        .filter(|n| a.only.as_ref().is_none_or(|o| n.contains(o.as_str())))
        .collect();
    let mut traces = Vec::new();
    for n in &names {
        let p = a.traces.join(format!("{n}.json"));
        traces.push((n.clone(), t3sim::trace::load(&p)?));
    }
    let t0 = std::time::Instant::now();
    let reports = replay_all(&traces, &cfg, ui);
    let mut done = Vec::new();
    for ((n, _), r) in traces.iter().zip(reports) {
        done.push((n.clone(), r?));
    }
    let wall = t0.elapsed().as_secs_f64();
    std::fs::create_dir_all(a.out.join("reports"))
        .map_err(|e| t3sim::Error::io(format!("creating {}", a.out.display()), e))?;
    for (n, r) in &done {
        let p = a.out.join("reports").join(format!("{n}.json"));
        write(&p, &serde_json::to_string_pretty(r)?)?;
    }
    let (csv, md) = tables(&done, wall);
    write(&a.out.join("summary.csv"), &csv)?;
    write(&a.out.join("summary.md"), &md)?;
    let refs: Vec<(&str, &ReplayReport)> = done.iter().map(|(n, r)| (n.as_str(), r)).collect();
    super::report_plots::write(&refs, &a.out.join("plots"), ui)?;
    ui.note(format!(
        "replayed {} sub-layers in {wall:.1} s; wrote {}",
        done.len(),
        a.out.display()
    ));
    super::progress::stdout(&md)?;
    Ok(())
}

/// Replays every trace in every mode, all simulations in one pool,
/// longest first (see [`replay::replay_many`]).
fn replay_all(
    traces: &[(String, t3sim::trace::Trace)],
    cfg: &HwConfig,
    ui: &Ui,
) -> Vec<t3sim::Result<ReplayReport>> {
    let ts: Vec<&t3sim::trace::Trace> = traces.iter().map(|(_, t)| t).collect();
    let bar = ui.progress(
        ts.iter()
            .map(|t| replay::jobs(t, &Mode::ALL).len() as u64)
            .sum(),
        "simulations",
    );
    let r = replay::replay_many(&ts, cfg, &Mode::ALL, &|| bar.inc(1));
    drop(bar);
    r
}

fn write(p: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(p, text).map_err(|e| t3sim::Error::io(format!("writing {}", p.display()), e))?;
    Ok(())
}

/// The per-sub-layer CSV and the Markdown summary.
fn tables(done: &[(String, ReplayReport)], wall: f64) -> (String, String) {
    let mut csv = String::from(
        "sublayer,mode,time_us,speedup,time_reduction,overlap,gemm_slowdown,dram_vs_sequential,tracker_backpressure_us,mca_threshold\n",
    );
    for (n, r) in done {
        for m in &r.modes {
            let _ = writeln!(
                csv,
                "{n},{},{:.3},{:.4},{:.4},{:.3},{:.3},{:.4},{:.3},{}",
                m.mode.name(),
                m.time_ns / 1e3,
                m.speedup,
                m.time_reduction,
                m.overlap,
                m.total.gemm_slowdown,
                m.total.dram_bytes_vs_sequential,
                m.total.tracker_backpressure_ns / 1e3,
                m.total
                    .mca_threshold
                    .map_or(String::new(), |t| t.to_string())
            );
        }
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# t3sim paper: {} sub-layers, {} modes ({wall:.1} s)\n",
        done.len(),
        Mode::ALL.len()
    );
    md += "Speedup = t_sequential / t_mode; time reduction = 1 - t_mode / t_sequential; \
DRAM = DRAM bytes over sequential's.\n\n";
    md += "| sub-layer | seq us |";
    for m in COMPARED {
        let _ = write!(md, " {} speedup |", m.name());
    }
    md += " t3-mca DRAM | t3-mca overlap | t3-mca GEMM slowdown |\n|---|---|";
    for _ in COMPARED {
        md += "---|";
    }
    md += "---|---|---|\n";
    let get = |r: &ReplayReport, m: Mode| r.modes.iter().find(|x| x.mode == m).cloned();
    for (n, r) in done {
        let seq = get(r, Mode::Sequential).map_or(0.0, |m| m.time_ns / 1e3);
        let _ = write!(md, "| {n} | {seq:.1} |");
        for m in COMPARED {
            let _ = write!(md, " {:.3} |", get(r, m).map_or(0.0, |x| x.speedup));
        }
        let mca = get(r, Mode::T3Mca);
        let _ = writeln!(
            md,
            " {:.3} | {:.2} | {:.3} |",
            mca.as_ref()
                .map_or(0.0, |x| x.total.dram_bytes_vs_sequential),
            mca.as_ref().map_or(0.0, |x| x.overlap),
            mca.as_ref().map_or(0.0, |x| x.total.gemm_slowdown)
        );
    }
    md += "\n## Summary (geomean / max over sub-layers)\n\n";
    md += "| mode | speedup geomean | speedup max | time reduction geomean | DRAM vs seq geomean | DRAM vs seq min |\n|---|---|---|---|---|---|\n";
    for m in COMPARED {
        let sp: Vec<f64> = done
            .iter()
            .filter_map(|(_, r)| get(r, m))
            .map(|x| x.speedup)
            .collect();
        let dr: Vec<f64> = done
            .iter()
            .filter_map(|(_, r)| get(r, m))
            .map(|x| x.total.dram_bytes_vs_sequential)
            .collect();
        let g = geomean(&sp);
        let _ = writeln!(
            md,
            "| {} | {g:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            m.name(),
            sp.iter().cloned().fold(0.0, f64::max),
            1.0 - 1.0 / g,
            geomean(&dr),
            dr.iter().cloned().fold(f64::INFINITY, f64::min)
        );
    }
    let big: Vec<f64> = done
        .iter()
        .filter(|(n, _)| n.starts_with("palm") || n.starts_with("mtnlg"))
        .filter_map(|(_, r)| get(r, Mode::T3Mca))
        .map(|x| x.speedup)
        .collect();
    if !big.is_empty() {
        let _ = writeln!(
            md,
            "\nT3-MCA on the ~500B-parameter models (PALM, MT-NLG): speedup geomean {:.3}.",
            geomean(&big)
        );
    }
    md += &ordering_check(done);
    (csv, md)
}

/// The FC-1/FC-2 acceptance check, ideal >= t3-mca >= t3 > sequential in
/// speedup, per sub-layer, with the mechanism behind each exception read
/// from the run's own figures.
fn ordering_check(done: &[(String, ReplayReport)]) -> String {
    let get = |r: &ReplayReport, m: Mode| r.modes.iter().find(|x| x.mode == m).cloned();
    let mut md = String::from(
        "\n## FC-1 / FC-2: ideal >= t3-mca >= t3 > sequential\n\n\
| sub-layer | ideal | t3-mca | t3 | holds | GEMM alone / RS alone us | GEMM slowdown t3 -> t3-mca | exposed comm us t3 -> t3-mca | tracker back-pressure us/device t3 -> t3-mca | cause of an exception |\n\
|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let (mut held, mut total) = (0, 0);
    for (n, r) in done
        .iter()
        .filter(|(n, _)| n.ends_with("-fc1") || n.ends_with("-fc2"))
    {
        let (Some(ideal), Some(mca), Some(t3)) =
            (get(r, Mode::Ideal), get(r, Mode::T3Mca), get(r, Mode::T3))
        else {
            continue;
        };
        total += 1;
        let devs = |m: &t3sim::report::replay::ModeReport| m.devices.len().max(1) as f64;
        let bp =
            |m: &t3sim::report::replay::ModeReport| m.total.tracker_backpressure_ns / 1e3 / devs(m);
        let ok = ideal.speedup >= mca.speedup && mca.speedup >= t3.speedup && t3.speedup > 1.0;
        held += ok as u32;
        let mut causes = Vec::new();
        if mca.speedup < t3.speedup {
            if r.rs_alone_ns > r.gemm_alone_ns {
                causes.push(
                    "the reduce-scatter is the longer part: t3-mca holds communication, the critical path, to speed up the GEMM, which is not",
                );
            } else if mca.total.exposed_comm_ns > t3.total.exposed_comm_ns {
                causes.push(
                    "communication held behind the GEMM finishes later than the time the GEMM saves (more exposed communication)",
                );
            }
            if bp(&mca) > bp(&t3) {
                causes.push(
                    "tracker entries wait longer for held updates, so back-pressure stalls the GEMM's stores more",
                );
            }
            if mca.total.gemm_slowdown > t3.total.gemm_slowdown {
                causes.push("the GEMM itself ran slower under t3-mca");
            }
        }
        if ideal.speedup < mca.speedup {
            causes.push(
                "t3-mca beats the no-contention bound of the baseline kernels: near-memory updates and the fused first stage move less DRAM traffic than GEMM + RS kernel",
            );
        }
        if t3.speedup <= 1.0 {
            causes.push("t3 is not faster than sequential");
        }
        let _ = writeln!(
            md,
            "| {n} | {:.3} | {:.3} | {:.3} | {} | {:.0} / {:.0} | {:.3} -> {:.3} | {:.0} -> {:.0} | {:.0} -> {:.0} | {} |",
            ideal.speedup,
            mca.speedup,
            t3.speedup,
            if ok { "yes" } else { "no" },
            r.gemm_alone_ns / 1e3,
            r.rs_alone_ns / 1e3,
            t3.total.gemm_slowdown,
            mca.total.gemm_slowdown,
            t3.total.exposed_comm_ns / 1e3,
            mca.total.exposed_comm_ns / 1e3,
            bp(&t3),
            bp(&mca),
            causes.join("; ")
        );
    }
    let _ = writeln!(
        md,
        "\nThe ordering holds on {held} of {total} FC-1/FC-2 sub-layers."
    );
    md
}
