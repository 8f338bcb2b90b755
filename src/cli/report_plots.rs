//! Plots of replay reports (`report.json`): speedup bars and the DRAM
//! traffic breakdown. Shared by `t3sim plot report` and `t3sim replay
//! --plots`, so both draw the same thing from the same data.

use super::progress::Ui;
use clap::Args;
use std::path::{Path, PathBuf};
use t3sim::error::{InputError, Location};
use t3sim::modes::Mode;
use t3sim::report::plot::{SpeedupOptions, TrafficOptions, speedup_bars, traffic};
use t3sim::report::replay::{ReplayReport, SCHEMA};
use t3sim::report::{SpeedupRow, TrafficRow};

pub const EXAMPLES: &str = "Examples:
  t3sim plot report out/tnlg-fc2/report.json --out out/tnlg-fc2
  t3sim plot report out/op/report.json out/fc2/report.json out/fc1/report.json --out plots

Writes DIR/speedup.png/.svg (one group per report, plus a geomean group when
there are several) and DIR/traffic.png/.svg (DRAM bytes per stream per mode;
with several reports, one DIR/traffic-<trace>.png/.svg each).";

/// Arguments of `plot report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Replay reports (`report.json` of `t3sim replay --out`).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Directory for the plots (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(a: ReportArgs, ui: &Ui) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for p in &a.reports {
        reports.push((p.display().to_string(), load(p)?));
    }
    let refs: Vec<(&str, &ReplayReport)> = reports.iter().map(|(f, r)| (f.as_str(), r)).collect();
    let written = write(&refs, &a.out, ui)?;
    super::plot::write_note(ui, &written);
    Ok(())
}

/// Reads a `report.json`, rejecting other files and other schema versions
/// with the file, line, column and field.
pub fn load(path: &Path) -> anyhow::Result<ReplayReport> {
    let file = path.display().to_string();
    let text = t3sim::error::read_text(path)?;
    let not_report = |line: usize, col: usize, field: String, msg: String| -> anyhow::Error {
        t3sim::Error::from(InputError::new(
            Location::at(&file, line.max(1), col.max(1)),
            field,
            format!("not a t3sim replay report ({SCHEMA}): {msg}"),
        ))
        .into()
    };
    // The version first, so a report of another version says so instead
    // of naming the first field that moved.
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| not_report(e.line(), e.column(), String::new(), e.to_string()))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(t3sim::Error::from(InputError::new(
                Location::of_key(&file, &text, "schema"),
                "schema",
                format!("report schema `{other}` is not the `{SCHEMA}` this build reads"),
            ))
            .into());
        }
        None => {
            return Err(not_report(
                1,
                1,
                "schema".into(),
                "no `schema` string".into(),
            ));
        }
    }
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        not_report(inner.line(), inner.column(), field, inner.to_string())
    })
}

/// Draws the plots of `reports` (source file, report) into `dir` and returns
/// the files written.
pub fn write(
    reports: &[(&str, &ReplayReport)],
    dir: &Path,
    ui: &Ui,
) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| t3sim::Error::io(format!("creating directory {}", dir.display()), e))?;
    let labels = labels(reports);
    let mut written = Vec::new();

    // Speedups are against `sequential` of the same report; a report
    // without it holds no speedups (its modes' `speedup` would be 1).
    let mut rows = Vec::new();
    for ((file, r), label) in reports.iter().zip(&labels) {
        if !r.modes.iter().any(|m| m.mode == Mode::Sequential) {
            ui.warn(format!(
                "{file}: no `sequential` run, so no speedups; left out of the speedup plot"
            ));
            continue;
        }
        rows.extend(
            r.modes
                .iter()
                .filter(|m| m.mode != Mode::Sequential)
                .map(|m| SpeedupRow {
                    sublayer: label.clone(),
                    mode: m.mode.name().to_string(),
                    speedup: m.speedup,
                }),
        );
    }
    let groups = labels.len() + usize::from(labels.len() > 1);
    let opts = SpeedupOptions {
        // Narrower for few groups, so one report does not draw slabs.
        width: (460 + 220 * groups as u32).min(1400),
        title: format!(
            "Speedup over sequential ({}){}",
            presets(reports),
            if reports.len() == 1 {
                format!(": {}", labels[0])
            } else {
                String::new()
            }
        ),
        ..SpeedupOptions::default()
    };
    written.extend(speedup_bars(&rows, &opts, &dir.join("speedup"))?);

    for ((_, r), label) in reports.iter().zip(&labels) {
        // `ideal` is a bound derived from the isolated runs, not a run: its
        // report holds only the longer isolated run's bytes, which would
        // read as "ideal moves less data".
        let rows: Vec<TrafficRow> = r
            .modes
            .iter()
            .filter(|m| m.mode != Mode::Ideal)
            .flat_map(|m| {
                m.total
                    .dram_bytes_by_stream
                    .iter()
                    .map(|(s, b)| TrafficRow {
                        mode: m.mode.name().to_string(),
                        stream: s.clone(),
                        bytes: *b as f64,
                    })
            })
            .collect();
        let bars = r.modes.iter().filter(|m| m.mode != Mode::Ideal).count() as u32;
        let opts = TrafficOptions {
            width: (520 + 160 * bars).min(1000),
            title: format!(
                "DRAM traffic by stream, all {} devices: {label} ({})",
                r.trace.tp, r.preset
            ),
            ..TrafficOptions::default()
        };
        let stem = if reports.len() == 1 {
            dir.join("traffic")
        } else {
            dir.join(format!("traffic-{}", file_safe(label)))
        };
        written.extend(traffic(&rows, &opts, &stem)?);
    }
    Ok(written)
}

/// One group label per report: the trace name, numbered when two reports
/// replay the same trace (say on two presets) so their bars stay apart.
fn labels(reports: &[(&str, &ReplayReport)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, r) in reports {
        let mut label = r.trace.name.clone();
        let mut k = 2;
        while out.contains(&label) {
            label = format!("{} #{k}", r.trace.name);
            k += 1;
        }
        out.push(label);
    }
    out
}

/// The presets of the reports, for titles.
fn presets(reports: &[(&str, &ReplayReport)]) -> String {
    let mut p: Vec<&str> = Vec::new();
    for (_, r) in reports {
        if !p.contains(&r.preset.as_str()) {
            p.push(&r.preset);
        }
    }
    p.join(", ")
}

/// A trace name as a file-name part: no path separators and no dots (the
/// plot functions replace what follows a dot with the extension).
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_no_dots_or_separators() {
        assert_eq!(file_safe("tnlg-tp8-fc2 #2"), "tnlg-tp8-fc2__2");
        assert_eq!(file_safe("../a.b"), "___a_b");
    }
}
