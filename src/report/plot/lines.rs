//! Line plots: DRAM bandwidth over time, and a sweep metric against one
//! parameter.

use super::style::{self, canonical_order, mode_color, series_color, stream_color};
use super::{
    Drawn, Figure, LABEL_SIZE, LegendItem, TICK_SIZE, anchored, draw_legend, draw_no_data, font,
    legend_width, padded, render, tick, titled,
};
use crate::error::{InputError, Location, Result};
use crate::report::{BandwidthSeries, Cell, SweepTable};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Options of [`bandwidth`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BandwidthOptions {
    /// Empty: "DRAM bandwidth by stream".
    pub title: String,
    /// Peak DRAM bandwidth, drawn as a dashed line.
    pub peak_gbps: Option<f64>,
    pub width: u32,
    pub height: u32,
}

impl Default for BandwidthOptions {
    fn default() -> Self {
        BandwidthOptions {
            title: String::new(),
            peak_gbps: None,
            width: 1200,
            height: 520,
        }
    }
}

/// One line per stream (GB/s against µs). A NaN sample breaks the line.
pub fn bandwidth(
    series: &[BandwidthSeries],
    opts: &BandwidthOptions,
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    let names = canonical_order(
        series.iter().map(|s| s.stream.clone()).collect(),
        style::STREAMS,
    );
    let mut lines = Vec::new();
    for name in names {
        let pts: Vec<(f64, f64)> = series
            .iter()
            .filter(|s| s.stream == name)
            .flat_map(|s| s.points.iter().copied())
            .collect();
        lines.push(Line {
            label: name.clone(),
            color: stream_color(&name),
            segments: segments(pts),
        });
    }
    let fig = LineFig {
        title: if opts.title.is_empty() {
            "DRAM bandwidth by stream".into()
        } else {
            opts.title.clone()
        },
        size: (opts.width.max(300), opts.height.max(200)),
        x_desc: "time (µs)".into(),
        y_desc: "bandwidth (GB/s)".into(),
        lines,
        markers: false,
        x_categories: None,
        y_from_zero: true,
        hline: opts
            .peak_gbps
            .filter(|p| p.is_finite())
            .map(|p| (p, format!("peak {} GB/s", super::super::format_number(p)))),
    };
    render(&fig, stem)
}

/// Splits a series at non-finite points into drawable runs.
fn segments(pts: Vec<(f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for (x, y) in pts {
        if x.is_finite() && y.is_finite() {
            cur.push((x, y));
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Options of [`sweep_line`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SweepLineOptions {
    /// Empty: "<y> vs <x>".
    pub title: String,
    /// Column on the x axis (a parameter).
    pub x: String,
    /// Column on the y axis (a metric).
    pub y: String,
    /// Column whose values make one line each (a parameter or `mode`).
    pub series: Option<String>,
    /// Keep only rows whose column has this value (`"mode" = "t3"`).
    pub filter: BTreeMap<String, String>,
    /// Space x values evenly, as categories (also used for text values).
    pub x_categorical: bool,
    /// Axis titles; empty uses the column names.
    pub x_label: String,
    pub y_label: String,
    /// Start the y axis at zero.
    pub y_from_zero: bool,
    pub width: u32,
    pub height: u32,
}

impl Default for SweepLineOptions {
    fn default() -> Self {
        SweepLineOptions {
            title: String::new(),
            x: String::new(),
            y: String::new(),
            series: None,
            filter: BTreeMap::new(),
            x_categorical: false,
            x_label: String::new(),
            y_label: String::new(),
            y_from_zero: false,
            width: 1000,
            height: 560,
        }
    }
}

/// A metric against one parameter, one line per value of another. Rows can
/// be narrowed with `filter`; when two kept rows share the x and series
/// values, the error names the columns that still vary.
pub fn sweep_line(
    table: &SweepTable,
    opts: &SweepLineOptions,
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    let xi = table.column(&opts.x, "x")?;
    let yi = table.column(&opts.y, "y")?;
    let si = match &opts.series {
        Some(s) => Some(table.column(s, "series")?),
        None => None,
    };
    let rows = filtered(table, &opts.filter)?;
    let mut keys = vec![xi];
    keys.extend(si);
    check_unique(table, &rows, &keys, &[yi])?;

    let categorical = opts.x_categorical || rows.iter().any(|r| r[xi].as_f64().is_none());
    let x_values = distinct(&rows, xi);
    let series_values = match si {
        Some(si) => distinct(&rows, si),
        None => vec![Cell::Text(String::new())],
    };
    let series_col = opts.series.clone().unwrap_or_default();
    let known_streams = series_values
        .iter()
        .all(|v| style::STREAMS.contains(&v.label().as_str()));
    let mut lines = Vec::new();
    for (k, sv) in series_values.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| si.is_none_or(|si| r[si] == *sv))
            .filter_map(|r| {
                let x = if categorical {
                    x_values.iter().position(|v| *v == r[xi])? as f64
                } else {
                    r[xi].as_f64()?
                };
                Some((x, r[yi].as_f64().unwrap_or(f64::NAN)))
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let label = match sv {
            Cell::Num(_) => format!("{series_col} = {}", sv.label()),
            Cell::Text(t) => t.clone(),
        };
        let color = if series_col == "mode" {
            mode_color(&sv.label())
        } else if known_streams {
            stream_color(&sv.label())
        } else {
            series_color(k)
        };
        lines.push(Line {
            label,
            color,
            segments: segments(pts),
        });
    }
    if si.is_none() {
        lines[0].label.clear();
    }
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    let fig = LineFig {
        title: or(&opts.title, &format!("{} vs {}", opts.y, opts.x)),
        size: (opts.width.max(300), opts.height.max(200)),
        x_desc: or(&opts.x_label, &opts.x),
        y_desc: or(&opts.y_label, &opts.y),
        lines,
        markers: true,
        x_categories: categorical.then(|| x_values.iter().map(Cell::label).collect()),
        y_from_zero: opts.y_from_zero,
        hline: None,
    };
    render(&fig, stem)
}

/// Rows that pass the filter; a filter on a missing column is an error.
pub(super) fn filtered<'a>(
    table: &'a SweepTable,
    filter: &BTreeMap<String, String>,
) -> Result<Vec<&'a Vec<Cell>>> {
    let mut conds = Vec::new();
    for (col, want) in filter {
        conds.push((table.column(col, &format!("filter.{col}"))?, want));
    }
    Ok(table
        .rows
        .iter()
        .filter(|r| {
            conds
                .iter()
                .all(|(c, want)| match (&r[*c], want.trim().parse::<f64>()) {
                    (Cell::Num(x), Ok(w)) => *x == w,
                    (cell, _) => {
                        cell.label() == **want || matches!(cell, Cell::Text(t) if t == *want)
                    }
                })
        })
        .collect())
}

/// Distinct values of a column: ascending when all numeric, else in the
/// order first seen (modes in their usual order).
pub(super) fn distinct(rows: &[&Vec<Cell>], col: usize) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::new();
    for r in rows {
        if !out.contains(&r[col]) {
            out.push(r[col].clone());
        }
    }
    if out.iter().all(|c| c.as_f64().is_some()) {
        out.sort_by(|a, b| {
            a.as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b.as_f64().unwrap_or(0.0))
        });
    } else if out
        .iter()
        .all(|c| style::MODES.contains(&c.label().as_str()))
    {
        let labels = canonical_order(out.iter().map(Cell::label).collect(), style::MODES);
        out = labels.into_iter().map(Cell::Text).collect();
    }
    out
}

/// Errors when two rows share the key columns, naming the columns that
/// still vary between them.
pub(super) fn check_unique(
    table: &SweepTable,
    rows: &[&Vec<Cell>],
    keys: &[usize],
    values: &[usize],
) -> Result<()> {
    let mut seen: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let k: Vec<String> = keys.iter().map(|&c| r[c].label()).collect();
        if let Some(&j) = seen.get(&k) {
            let varying: Vec<&str> = (0..table.columns.len())
                .filter(|c| !keys.contains(c) && !values.contains(c))
                .filter(|&c| rows[j][c] != r[c])
                .map(|c| table.columns[c].as_str())
                .collect();
            return Err(InputError::new(
                Location::file("sweep table"),
                "filter",
                format!(
                    "several rows for {}; columns that still vary: {} (fix them with a filter, \
                     or use one as the series)",
                    keys.iter()
                        .map(|&c| format!("{}={}", table.columns[c], r[c].label()))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if varying.is_empty() {
                        "none (duplicate rows)".into()
                    } else {
                        varying.join(", ")
                    }
                ),
            )
            .into());
        }
        seen.insert(k, i);
    }
    Ok(())
}

struct Line {
    label: String,
    color: RGBColor,
    segments: Vec<Vec<(f64, f64)>>,
}

struct LineFig {
    title: String,
    size: (u32, u32),
    x_desc: String,
    y_desc: String,
    lines: Vec<Line>,
    markers: bool,
    /// Names of x positions 0, 1, 2...
    x_categories: Option<Vec<String>>,
    y_from_zero: bool,
    /// A dashed reference line and its label.
    hline: Option<(f64, String)>,
}

impl Figure for LineFig {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let body = titled(root, &self.title)?;
        let mut items: Vec<LegendItem> = self
            .lines
            .iter()
            .filter(|l| !l.label.is_empty())
            .map(|l| LegendItem {
                label: l.label.clone(),
                color: l.color,
                line: true,
            })
            .collect();
        if let Some((_, label)) = &self.hline {
            items.push(LegendItem {
                label: label.clone(),
                color: style::MUTED,
                line: true,
            });
        }
        let (w, _) = body.dim_in_pixel();
        let lw = legend_width(root, &items).min(w / 3);
        let (plot, legend) = body.split_horizontally(w - lw);
        let pts = || self.lines.iter().flat_map(|l| l.segments.iter().flatten());
        if pts().next().is_none() {
            return draw_no_data(&plot, "no data");
        }
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for &(x, y) in pts() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if let Some((h, _)) = self.hline {
            y1 = y1.max(h);
            y0 = y0.min(h);
        }
        let (x0, x1) = match &self.x_categories {
            Some(c) => (-0.3, c.len() as f64 - 0.7),
            // Room at the ends so markers do not sit on the axes.
            None if x1 > x0 && self.markers => padded(x0, x1, 0.04),
            None if x1 > x0 => (x0, x1),
            None => padded(x0, x1, 0.05),
        };
        let (y0, y1) = if self.y_from_zero && y0 >= 0.0 {
            (0.0, if y1 > 0.0 { y1 * 1.08 } else { 1.0 })
        } else {
            padded(y0, y1, 0.08)
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(78)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(TRANSPARENT)
            .bold_line_style(style::GRID)
            .label_style(font(TICK_SIZE))
            .axis_desc_style(font(LABEL_SIZE))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .y_labels(8)
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str());
        if self.x_categories.is_some() {
            // Labelled below by hand: plotters' "nice" ticks may skip
            // categories or fall between them.
            mesh.x_labels(0).disable_x_mesh();
        } else {
            mesh.x_labels(10);
        }
        mesh.draw()?;
        if let Some((h, _)) = &self.hline {
            chart.draw_series(DashedLineSeries::new(
                vec![(x0, *h), (x1, *h)],
                8,
                5,
                style::MUTED.stroke_width(2),
            ))?;
        }
        for l in &self.lines {
            for seg in &l.segments {
                chart.draw_series(LineSeries::new(
                    seg.iter().copied(),
                    l.color.stroke_width(2),
                ))?;
                if self.markers || seg.len() == 1 {
                    chart.draw_series(seg.iter().map(|&p| Circle::new(p, 4, l.color.filled())))?;
                }
            }
        }
        if let Some(c) = &self.x_categories {
            for (i, name) in c.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(i as f64, y0));
                root.draw_text(
                    name,
                    &anchored(TICK_SIZE, HPos::Center, VPos::Top),
                    (px, py + 6),
                )?;
            }
        }
        draw_legend(&legend, &items, 30)
    }
}
