//! `t3sim plot ...`: plots drawn from result files, never from a run in
//! progress (stats are data first; plots are made from that data).
//!
//! Every plot writes `<STEM>.png` and `<STEM>.svg`.
//!
//! Extension point: plots of one replay (timeline, speedup bars, DRAM
//! bandwidth, traffic breakdown) will read its `report.json`. Add a variant
//! to [`PlotCommand`] per plot, e.g. `Timeline(ReportPlotArgs)`, whose
//! `run` loads the report, converts it to the `t3sim::report` input types
//! (`TimelineSpan`, `SpeedupRow`, `BandwidthSeries`, `TrafficRow`) and
//! calls the matching `report::plot` function; [`write_note`] and
//! [`locate`] are shared.

use super::progress::Ui;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;
use t3sim::report::SweepTable;
use t3sim::report::plot::{HeatmapOptions, SweepLineOptions, sweep_heatmap, sweep_line};

/// Plots, one subcommand per kind of input.
// Parsed once per process; boxing the big variant would only complicate
// the clap derive.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PlotCommand {
    /// A metric from a sweep CSV: lines against one parameter, or a heatmap
    /// over two.
    #[command(after_help = SWEEP_EXAMPLES)]
    Sweep(SweepArgs),
    /// Speedup bars and DRAM traffic from replay reports (`report.json`).
    #[command(after_help = super::report_plots::EXAMPLES)]
    Report(super::report_plots::ReportArgs),
}

pub const EXAMPLES: &str = "Examples:
  t3sim plot sweep results.csv --x link.bw_gbps_per_dir --series mode --out bw
  t3sim plot report out/tnlg-fc2/report.json --out out/tnlg-fc2

Every plot writes STEM.png and STEM.svg; the same input gives the same bytes.";

const SWEEP_EXAMPLES: &str = "Examples:
  t3sim plot sweep results.csv --x link.bw_gbps_per_dir --series mode --metric speedup --out bw
  t3sim plot sweep results.csv --x t3.tracker_entries --metric time_ns --filter mode=t3-mca --out tracker
  t3sim plot sweep results.csv --heatmap --x link.bw_gbps_per_dir --y t3.tracker_entries \\
        --metric speedup --filter mode=t3 --out heat

The CSV is a sweep's output (parameters, `mode`, metrics); a shard's partial
file must be merged first. When rows still differ in a column you did not
plot, the error names it: add a --filter or use it as --series.";

/// Arguments of `plot sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The sweep CSV.
    pub csv: PathBuf,
    /// Column on the x axis (a parameter).
    #[arg(long, value_name = "COL")]
    pub x: String,
    /// Column plotted (a metric) [default: `speedup` when the CSV has it].
    #[arg(long, value_name = "COL")]
    pub metric: Option<String>,
    /// Column whose values get one line each (a parameter or `mode`).
    #[arg(long, value_name = "COL", conflicts_with = "heatmap")]
    pub series: Option<String>,
    /// Draw a heatmap of the metric over --x and --y instead of lines.
    #[arg(long, requires = "y")]
    pub heatmap: bool,
    /// Second parameter, down the heatmap.
    #[arg(long, value_name = "COL", requires = "heatmap")]
    pub y: Option<String>,
    /// Keep only rows where COL equals VALUE (repeatable).
    #[arg(long, value_name = "COL=VALUE")]
    pub filter: Vec<String>,
    /// Output file stem: writes STEM.png and STEM.svg.
    #[arg(long, value_name = "STEM")]
    pub out: PathBuf,
    /// Plot title [default: derived from the columns].
    #[arg(long)]
    pub title: Option<String>,
    /// Title of the horizontal axis [default: the --x column].
    #[arg(long)]
    pub x_label: Option<String>,
    /// Title of the vertical axis [default: the metric (lines) or --y (heatmap)].
    #[arg(long)]
    pub y_label: Option<String>,
    /// Title of the heatmap's colour bar [default: the metric].
    #[arg(long, requires = "heatmap")]
    pub value_label: Option<String>,
    /// Space x values evenly as categories (lines only).
    #[arg(long, conflicts_with = "heatmap")]
    pub categorical: bool,
    /// Start the y axis at zero (lines only).
    #[arg(long, conflicts_with = "heatmap")]
    pub y_from_zero: bool,
    /// Image width in pixels.
    #[arg(long)]
    pub width: Option<u32>,
    /// Image height in pixels.
    #[arg(long)]
    pub height: Option<u32>,
}

pub fn run(cmd: PlotCommand, ui: &Ui) -> anyhow::Result<()> {
    match cmd {
        PlotCommand::Sweep(a) => sweep(a, ui),
        PlotCommand::Report(a) => super::report_plots::run(a, ui),
    }
}

fn sweep(a: SweepArgs, ui: &Ui) -> anyhow::Result<()> {
    let file = a.csv.display().to_string();
    let text = t3sim::error::read_text(&a.csv)?;
    if text.trim_start().starts_with('#') {
        return Err(super::input_error(
            format!("{file}:1:1"),
            "",
            "this is a sweep shard's partial output (it starts with a `#` line); \
             merge the shards first",
        ));
    }
    let table = SweepTable::from_csv(&file, &text)?;
    let metric = match &a.metric {
        Some(m) => m.clone(),
        None if table.columns.iter().any(|c| c == "speedup") => "speedup".into(),
        None => {
            return Err(super::input_error(
                "command line",
                "--metric",
                format!(
                    "give the column to plot; {file} has no `speedup` column. Columns: {}",
                    table.columns.join(", ")
                ),
            ));
        }
    };
    let filter = parse_filter(&a.filter)?;
    let stem = a.out.as_path();
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| t3sim::Error::io(format!("creating directory {}", dir.display()), e))?;
    }
    let written = if a.heatmap {
        let mut o = HeatmapOptions {
            x: a.x.clone(),
            y: a.y.clone().unwrap_or_default(),
            value: metric,
            filter,
            ..HeatmapOptions::default()
        };
        set(&mut o.title, a.title);
        set(&mut o.x_label, a.x_label);
        set(&mut o.y_label, a.y_label);
        set(&mut o.value_label, a.value_label);
        set(&mut o.width, a.width);
        set(&mut o.height, a.height);
        sweep_heatmap(&table, &o, stem).map_err(|e| locate(e, &file, &HEATMAP_FLAGS))?
    } else {
        let mut o = SweepLineOptions {
            x: a.x.clone(),
            y: metric,
            series: a.series.clone(),
            filter,
            x_categorical: a.categorical,
            y_from_zero: a.y_from_zero,
            ..SweepLineOptions::default()
        };
        set(&mut o.title, a.title);
        set(&mut o.x_label, a.x_label);
        set(&mut o.y_label, a.y_label);
        set(&mut o.width, a.width);
        set(&mut o.height, a.height);
        sweep_line(&table, &o, stem).map_err(|e| locate(e, &file, &LINE_FLAGS))?
    };
    write_note(ui, &written);
    Ok(())
}

fn set<T>(field: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *field = v;
    }
}

fn parse_filter(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for f in items {
        let Some((col, val)) = f.split_once('=') else {
            return Err(super::input_error(
                "command line",
                "--filter",
                format!("`{f}`: expected COL=VALUE"),
            ));
        };
        out.insert(col.trim().to_string(), val.trim().to_string());
    }
    Ok(out)
}

/// The plot library's option names, as flags of each mode.
const LINE_FLAGS: [(&str, &str); 4] = [
    ("x", "--x"),
    ("y", "--metric"),
    ("series", "--series"),
    ("filter", "--filter"),
];
const HEATMAP_FLAGS: [(&str, &str); 4] = [
    ("x", "--x"),
    ("y", "--y"),
    ("value", "--metric"),
    ("filter", "--filter"),
];

/// Plot errors name the table and the option; on the command line they
/// are the CSV file and the flag.
pub(super) fn locate(e: t3sim::Error, file: &str, flags: &[(&str, &str)]) -> anyhow::Error {
    match e {
        t3sim::Error::Input(mut ie) => {
            if ie.loc.file == "sweep table" {
                ie.loc.file = file.to_string();
            }
            let head = ie.field.split('.').next().unwrap_or("");
            if let Some((_, flag)) = flags.iter().find(|(k, _)| *k == head) {
                ie.field = flag.to_string();
            }
            t3sim::Error::Input(ie).into()
        }
        other => other.into(),
    }
}

/// Says which files a plot wrote.
pub(super) fn write_note(ui: &Ui, written: &[PathBuf]) {
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    ui.note(format!("wrote {}", names.join(", ")));
}
