//! Subcommands. Each parses its arguments, calls the library, and prints.
//!
//! One file per subcommand; this file only registers them. Output policy
//! (stdout for results, stderr for notes, `--quiet`, progress bars) lives
//! in [`progress`]. Exit codes: 0 success, 1 a failure that is not the
//! input's fault (I/O, a simulation error), 2 bad input (usage, a malformed
//! file, an impossible config, an import that yields nothing to simulate).

mod config;
mod cosim;
mod mem;
mod paper;
mod plot;
mod presets;
pub mod progress;
mod replay;
mod replay_cosim;
mod report_plots;
mod sweep;
mod trace_check;
mod trace_gen;
mod trace_import;

use clap::{Parser, Subcommand};
use progress::Ui;

/// Cycle-level simulator of fused compute-collectives hardware (T3).
#[derive(Debug, Parser)]
#[command(name = "t3sim", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    /// Print only results and errors: no notes, no progress bars.
    #[arg(short, long, global = true, display_order = 900)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "Examples:
  t3sim trace gen --model tnlg --tp 8 --sublayer fc2 --out tnlg-tp8-fc2.json
  t3sim trace check traces/*.json
  t3sim presets --show t3-asplos24 --set link.bw_gbps_per_dir=150
  t3sim mem stream.trace --format dramsim3 --preset hbm2-stack
  t3sim sweep examples/sweeps/link-hbm-tracker.toml --out results.csv

Docs: docs/cli.md (every command), docs/config.md (every config field).";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the RTL blocks against their Rust models, cycle by cycle.
    #[command(after_help = cosim::EXAMPLES)]
    Cosim(cosim::CosimArgs),
    /// Replay the paper's sub-layers in every mode; tables, reports, plots.
    #[command(after_help = paper::EXAMPLES)]
    Paper(paper::PaperArgs),
    /// Replay a tensor-parallel sub-layer trace on every device of the ring.
    #[command(after_help = replay::EXAMPLES)]
    Replay(replay::ReplayArgs),
    /// Replay a DRAM trace (Ramulator 2 or DRAMsim3 format) through the HBM model.
    #[command(after_help = mem::EXAMPLES)]
    Mem(mem::MemArgs),
    /// Generate, import and check sub-layer traces.
    #[command(subcommand, after_help = TRACE_EXAMPLES)]
    Trace(TraceCommand),
    /// List the shipped hardware presets, or print one in full.
    #[command(after_help = presets::EXAMPLES)]
    Presets(presets::PresetsArgs),
    /// Check hardware config files.
    #[command(subcommand, after_help = config::EXAMPLES)]
    Config(ConfigCommand),
    /// Draw plots (PNG and SVG) from result files.
    #[command(subcommand, after_help = plot::EXAMPLES)]
    Plot(plot::PlotCommand),
    /// Run a parameter sweep (or one shard of it) as a CSV; merge shards.
    #[command(after_help = sweep::EXAMPLES)]
    Sweep(sweep::SweepArgs),
}

const TRACE_EXAMPLES: &str = "Examples:
  t3sim trace gen --model tnlg --tp 8 --sublayer fc2 --out tnlg-tp8-fc2.json
  t3sim trace import --chakra et/all_reduce --out all_reduce.json
  t3sim trace check traces/*.json

Format: traces/README.md.";

/// `t3sim trace ...`
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Generate the trace of a Transformer sub-layer (or the shipped set).
    #[command(after_help = trace_gen::EXAMPLES)]
    Gen(trace_gen::GenArgs),
    /// Import an MLCommons Chakra execution trace (ASTRA-sim's input).
    #[command(after_help = trace_import::EXAMPLES)]
    Import(trace_import::ImportArgs),
    /// Validate trace files and summarise each in one line.
    #[command(after_help = trace_check::EXAMPLES)]
    Check(trace_check::CheckArgs),
}

/// `t3sim config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate config files (with overrides) and summarise the hardware.
    #[command(after_help = config::EXAMPLES)]
    Check(config::CheckArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let ui = Ui::new(cli.quiet);
    match cli.command {
        Command::Replay(a) => replay::run(a, &ui),
        Command::Paper(a) => paper::run(a, &ui),
        Command::Cosim(a) => cosim::run(a, &ui),
        Command::Mem(a) => mem::run(a),
        Command::Trace(TraceCommand::Gen(a)) => trace_gen::run(a, &ui),
        Command::Trace(TraceCommand::Import(a)) => trace_import::run(a, &ui),
        Command::Trace(TraceCommand::Check(a)) => trace_check::run(a, &ui),
        Command::Presets(a) => presets::run(a, &ui),
        Command::Config(ConfigCommand::Check(a)) => config::run(a, &ui),
        Command::Plot(p) => plot::run(p, &ui),
        Command::Sweep(a) => sweep::run(a, &ui),
    }
}

/// An input error raised by the CLI itself (exit code 2), located at
/// `where_` (a file, or `command line`).
fn input_error(
    where_: impl Into<String>,
    field: impl Into<String>,
    msg: impl Into<String>,
) -> anyhow::Error {
    t3sim::Error::from(t3sim::InputError::new(
        t3sim::error::Location::file(where_),
        field,
        msg,
    ))
    .into()
}

/// Bytes with their binary-prefixed size: `69730304 B (66.50 MiB)`.
fn bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{b} B ({v:.2} {unit})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bytes_show_exact_and_binary_size() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(69_730_304), "69730304 B (66.50 MiB)");
        assert_eq!(bytes(1 << 30), "1073741824 B (1.00 GiB)");
    }
}
