use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use t3sim::config::HwConfig;
use t3sim::mem::trace_file::TraceFormat;
use t3sim::mem::trace_replay;

pub const EXAMPLES: &str = "Examples:
  t3sim mem stream_read.dramsim3.trace --format dramsim3 --preset hbm2-stack
  t3sim mem rand.ramulator.trace --format ramulator --set mem.controller.page_policy=closed --json";

#[derive(Debug, Args)]
pub struct MemArgs {
    /// The trace file.
    pub trace: PathBuf,
    /// Trace syntax.
    #[arg(long, value_enum)]
    pub format: TraceFormat,
    /// Hardware preset (see `t3sim presets`).
    #[arg(long, default_value = "hbm2-stack", conflicts_with = "config")]
    pub preset: String,
    /// A config file instead of a preset.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a config field, e.g. `--set mem.controller.read_queue=64`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: MemArgs) -> anyhow::Result<()> {
    let (cfg, name) = match &a.config {
        Some(p) => (HwConfig::from_file(p, &a.set)?, p.display().to_string()),
        None => (HwConfig::load(&a.preset, &a.set)?, a.preset.clone()),
    };
    let r = trace_replay::replay_file(&a.trace, a.format, &cfg.mem, &name)?;
    if a.json {
        let mut json = serde_json::to_string_pretty(&r)?;
        json.push('\n');
        return super::progress::stdout(&json);
    }
    let mut out = String::new();
    writeln!(
        out,
        "trace      {} ({} records, {} requests)",
        r.trace, r.records, r.requests
    )?;
    writeln!(
        out,
        "memory     {} (peak {:.1} GB/s)",
        r.preset, r.peak_bandwidth_gbps
    )?;
    writeln!(
        out,
        "time       {} cycles = {:.1} us",
        r.cycles,
        r.time_ns / 1000.0
    )?;
    writeln!(
        out,
        "bandwidth  {:.1} GB/s ({:.1} % of peak)",
        r.bandwidth_gbps,
        100.0 * r.bandwidth_gbps / r.peak_bandwidth_gbps
    )?;
    writeln!(
        out,
        "read lat.  avg {:.1} ns, p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0} ns",
        r.avg_read_latency_ns,
        r.read_latency_p50_ns,
        r.read_latency_p90_ns,
        r.read_latency_p99_ns,
        r.read_latency_max_ns
    )?;
    writeln!(out, "row hits   {:.1} %", 100.0 * r.row_hit_rate)?;
    for (s, b) in &r.bytes_by_stream {
        writeln!(out, "stream     {s:12} {b} bytes")?;
    }
    super::progress::stdout(&out)
}
