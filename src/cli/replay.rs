use super::progress::Ui;
use clap::Args;
use std::path::PathBuf;
use t3sim::config::HwConfig;
use t3sim::modes::Mode;
use t3sim::replay;

pub const EXAMPLES: &str = "Examples:
  t3sim replay traces/tnlg-tp8-fc2.json --out out/tnlg-fc2
  t3sim replay traces/tnlg-tp8-fc2.json --out out/tnlg-fc2 --plots
  t3sim replay traces/mega-gpt2-tp8-op.json --modes sequential,rs-nmc --json
  t3sim replay my.json --config my.toml --set link.bw_gbps_per_dir=150
  t3sim replay traces/mega-gpt2-tp8-op.json --modes t3-mca --cosim all   (build with --features rtl)";

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The sub-layer trace (see traces/README.md).
    pub trace: PathBuf,
    /// Hardware preset (see `t3sim presets`).
    #[arg(long, default_value = "t3-asplos24", conflicts_with = "config")]
    pub preset: String,
    /// A config file instead of a preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config field, e.g. `--set t3.tracker_entries=64`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Modes to run (comma-separated).
    #[arg(long, visible_alias = "mode", value_enum, value_delimiter = ',', default_values_t = Mode::ALL.to_vec())]
    pub modes: Vec<Mode>,
    /// Directory for report.json (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the whole report as JSON on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Stop a run as a livelock when no memory operation or compute step
    /// finishes for this long (simulated microseconds).
    #[arg(long, default_value_t = 10_000)]
    pub watchdog_us: u64,
    /// Simulate every device even when no device differs (by default one
    /// device stands for a symmetric ring; the results are identical).
    #[arg(long)]
    pub all_devices: bool,
    /// Also draw speedup.png/svg and traffic.png/svg into --out.
    #[arg(long, requires = "out")]
    pub plots: bool,
    /// Check RTL blocks in lockstep with the model during the replay:
    /// `tracker`, `nmc`, `arbiter` (comma-separated) or `all`. Needs a build
    /// with `--features rtl`; a divergence exits 1 with a report and a VCD
    /// in --out (or out/cosim).
    #[arg(long, value_name = "BLOCKS")]
    pub cosim: Option<String>,
    /// Seed of the synthetic NMC operands under --cosim.
    #[arg(long, default_value_t = 1, requires = "cosim")]
    pub cosim_seed: u64,
    /// Test only: feed one block's RTL a deliberate error
    /// (`tracker|nmc|arbiter[:before=CYCLE]`).
    #[arg(long, hide = true, requires = "cosim")]
    pub cosim_fault: Option<String>,
}

pub fn run(a: ReplayArgs, ui: &Ui) -> anyhow::Result<()> {
    let cfg = match &a.config {
        Some(p) => HwConfig::from_file(p, &a.set)?,
        None => HwConfig::load(&a.preset, &a.set)?,
    };
    let trace = t3sim::trace::load(&a.trace)?;
    let spin = ui.spinner(&format!("replaying {} on {} devices", trace.name, trace.tp));
    let t0 = std::time::Instant::now();
    let opts = replay::Options {
        watchdog_ps: a.watchdog_us.saturating_mul(1_000_000).max(1),
        all_devices: a.all_devices,
    };
    let (report, cosim) = match &a.cosim {
        None => (replay::replay_with(&trace, &cfg, &a.modes, opts)?, None),
        Some(blocks) => {
            let c = super::replay_cosim::Request::parse(blocks, &a, &cfg)?;
            let (r, checks) = c.run(&trace, &cfg, opts, ui)?;
            (r, Some(checks))
        }
    };
    drop(spin);
    let text = match cosim {
        None => serde_json::to_string_pretty(&report)?,
        Some(checks) => {
            // An extra top-level key, present only under --cosim.
            let mut v = serde_json::to_value(&report)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("cosim".into(), serde_json::to_value(&checks)?);
            }
            serde_json::to_string_pretty(&v)?
        }
    };
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| t3sim::Error::io(format!("cannot create {}", dir.display()), e))?;
        let p = dir.join("report.json");
        std::fs::write(&p, &text)
            .map_err(|e| t3sim::Error::io(format!("cannot write {}", p.display()), e))?;
        ui.note(format!("wrote {}", p.display()));
        // One Perfetto timeline per simulated mode (ui.perfetto.dev opens them).
        for m in report.modes.iter().filter(|m| !m.timeline.is_empty()) {
            let p = dir.join(format!("timeline-{}.json", m.mode.name()));
            t3sim::report::perfetto::write(&p, &m.timeline, &m.counters)?;
            if a.plots {
                let opts = t3sim::report::plot::TimelineOptions {
                    title: format!("{} — {}", report.trace.name, m.mode.name()),
                    ..Default::default()
                };
                let stem = dir.join(format!("timeline-{}", m.mode.name()));
                t3sim::report::plot::timeline(&m.timeline, &opts, &stem)?;
                let bopts = t3sim::report::plot::BandwidthOptions {
                    title: format!(
                        "{} — {}: DRAM bandwidth of device 0",
                        report.trace.name,
                        m.mode.name()
                    ),
                    ..Default::default()
                };
                let stem = dir.join(format!("bandwidth-{}", m.mode.name()));
                t3sim::report::plot::bandwidth(&m.bandwidth, &bopts, &stem)?;
            }
        }
        if a.plots {
            let src = a.trace.display().to_string();
            let written = super::report_plots::write(&[(&src, &report)], dir, ui)?;
            super::plot::write_note(ui, &written);
        }
    }
    if a.json {
        super::progress::stdout(&format!("{text}\n"))?;
        return Ok(());
    }
    let mut s = String::new();
    s += &format!(
        "{} (TP {}, GEMM {}x{}x{}) on {} — {:.1} s wall\n",
        report.trace.name,
        report.trace.tp,
        report.trace.m,
        report.trace.n,
        report.trace.k,
        report.preset,
        t0.elapsed().as_secs_f64()
    );
    s += &format!(
        "GEMM alone {:.1} us ({:.2}x roofline), reduce-scatter alone {:.1} us ({:+.1} % vs ring bound)\n",
        report.gemm_alone_ns / 1e3,
        report.gemm_alone_ns / report.gemm_roofline_ns,
        report.rs_alone_ns / 1e3,
        100.0 * (report.rs_alone_ns / report.rs_analytic_ns - 1.0)
    );
    s += "mode          time_us  speedup  overlap  gemm_slowdown  dram_MB  vs_seq\n";
    for m in &report.modes {
        s += &format!(
            "{:12} {:8.1}  {:7.3}  {:7.2}  {:13.3}  {:7.1}  {:6.3}\n",
            m.mode.name(),
            m.time_ns / 1e3,
            m.speedup,
            m.overlap,
            m.total.gemm_slowdown,
            m.total.dram_bytes as f64 / 1e6,
            m.total.dram_bytes_vs_sequential
        );
    }
    super::progress::stdout(&s)?;
    Ok(())
}
