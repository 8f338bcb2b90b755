//! `t3sim sweep SPEC` and `t3sim sweep merge`: run a sweep spec (all of it
//! or one shard) through real replays, and join shard outputs.

use super::progress::Ui;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use t3sim::error::Location;
use t3sim::sweep::{self, RunOptions, Shard, Spec, replay_runner};

pub const EXAMPLES: &str = "Examples:
  t3sim sweep examples/sweeps/link-hbm-tracker.toml --out results.csv
  t3sim sweep spec.toml --shard $SLURM_ARRAY_TASK_ID/8 --out part-$SLURM_ARRAY_TASK_ID.csv --resume
  t3sim sweep merge part-*.csv --out results.csv
  t3sim plot sweep results.csv --x link.bw_gbps_per_dir --series mem.stacks --out bw

Spec format and CSV columns: docs/cli.md (`t3sim sweep`).";

const MERGE_EXAMPLES: &str = "Examples:
  t3sim sweep merge part-0.csv part-1.csv part-2.csv part-3.csv --out results.csv
  t3sim sweep merge part-*.csv > results.csv

The result is byte for byte the CSV an unsharded run of the spec writes.";

/// Arguments of `t3sim sweep`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The sweep spec (TOML: base trace and preset, parameters, modes).
    #[arg(required = true, value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// Run only shard I of N (0-based): the points whose index % N == I.
    /// Writes a partial file for `t3sim sweep merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Worker threads [default: one per core].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
    /// Write the CSV (or the shard's partial) here instead of stdout; finished
    /// points are journaled to FILE.partial meanwhile.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Continue an interrupted run: skip the points already in FILE.partial.
    #[arg(long, requires = "out")]
    pub resume: bool,
}

/// `t3sim sweep merge`.
#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Join shard outputs into the CSV an unsharded run writes.
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' partial files, in any order.
    #[arg(required = true, value_name = "PARTIAL")]
    pub partials: Vec<PathBuf>,
    /// Write the CSV here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(a: SweepArgs, ui: &Ui) -> anyhow::Result<()> {
    match (a.command, a.spec) {
        (Some(SweepCommand::Merge(m)), _) => merge(m, ui),
        (None, Some(spec)) => run_spec(&spec, a.shard, a.threads, a.out, a.resume, ui),
        (None, None) => Err(super::input_error(
            "command line",
            "SPEC",
            "give a sweep spec file (or `t3sim sweep merge PARTIAL...`)",
        )),
    }
}

fn run_spec(
    path: &Path,
    shard: Option<String>,
    threads: usize,
    out: Option<PathBuf>,
    resume: bool,
    ui: &Ui,
) -> anyhow::Result<()> {
    let shard = shard.as_deref().map(Shard::parse).transpose()?;
    let spec = Spec::load(path)?;
    check_modes(&spec)?;
    if let Some(o) = &out {
        let journal = sweep::journal_path(o);
        if !resume && journal.exists() {
            ui.warn(format!(
                "discarding {} left by an interrupted run (add --resume to continue it)",
                journal.display()
            ));
        }
    }
    let opts = RunOptions {
        threads,
        shard,
        out: out.clone(),
        resume,
        progress: ui.show_progress(),
    };
    let t0 = std::time::Instant::now();
    let o = sweep::run(&spec, replay_runner::run_point, &opts)?;
    let what = match shard {
        Some(s) => format!(
            "shard {s} of {}: {} of {} points",
            spec.file,
            o.points,
            spec.len()
        ),
        None => format!("{}: {} points", spec.file, o.points),
    };
    let resumed = if o.resumed > 0 {
        format!(", {} taken from the journal", o.resumed)
    } else {
        String::new()
    };
    let secs = t0.elapsed().as_secs_f64();
    match &out {
        Some(p) => ui.note(format!(
            "wrote {} ({what}; {} run in {secs:.1} s{resumed})",
            p.display(),
            o.ran
        )),
        None => {
            super::progress::stdout(&o.csv)?;
            ui.note(format!("{what}; {} run in {secs:.1} s{resumed}", o.ran));
        }
    }
    Ok(())
}

/// Fails before any point runs when the spec names a mode this build cannot
/// replay yet, pointing at the spec line that names it.
fn check_modes(spec: &Spec) -> anyhow::Result<()> {
    let Some(bad) = spec
        .modes
        .iter()
        .find(|m| replay_runner::parse_mode(m).is_none())
    else {
        return Ok(());
    };
    let src = std::fs::read_to_string(&spec.file).unwrap_or_default();
    let loc = mode_location(&spec.file, &src, bad);
    Err(t3sim::Error::from(t3sim::InputError::new(
        loc,
        "modes",
        format!(
            "mode `{bad}` is not implemented in this build yet; available: {}",
            replay_runner::available_modes().join(", ")
        ),
    ))
    .into())
}

/// Where `"mode"` is written in the spec's `modes` list (the list may span
/// lines); the `modes` key itself when not found.
fn mode_location(file: &str, src: &str, mode: &str) -> Location {
    let key = Location::of_key(file, src, "modes");
    let Some(start) = key.line else {
        return key;
    };
    let quoted = [format!("\"{mode}\""), format!("'{mode}'")];
    for (i, line) in src.lines().enumerate().skip(start - 1) {
        let code = line.split('#').next().unwrap_or("");
        if let Some(col) = quoted.iter().filter_map(|q| code.find(q.as_str())).min() {
            return Location::at(file, i + 1, col + 1);
        }
        if code.contains(']') {
            break;
        }
    }
    key
}

fn merge(a: MergeArgs, ui: &Ui) -> anyhow::Result<()> {
    let csv = sweep::merge(&a.partials)?;
    match &a.out {
        Some(p) => {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    t3sim::Error::io(format!("creating directory {}", dir.display()), e)
                })?;
            }
            std::fs::write(p, &csv)
                .map_err(|e| t3sim::Error::io(format!("writing {}", p.display()), e))?;
            let rows = csv.lines().count().saturating_sub(1);
            ui.note(format!(
                "wrote {} ({rows} points from {} partial files)",
                p.display(),
                a.partials.len()
            ));
        }
        None => super::progress::stdout(&csv)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_mode_is_located_in_a_multi_line_list() {
        let src = "# study\nmodes = [\n  \"sequential\",\n  \"t3-mca\", # fused\n]\n[base]\n";
        let l = mode_location("s.toml", src, "t3-mca");
        assert_eq!((l.line, l.column), (Some(4), Some(3)));
        let l = mode_location("s.toml", "modes = [\"t3\", \"t3-mca\"]\n", "t3-mca");
        assert_eq!((l.line, l.column), (Some(1), Some(16)));
    }
}
