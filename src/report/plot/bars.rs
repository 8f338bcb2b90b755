//! Bar charts: speedup per sub-layer and mode, and the DRAM traffic
//! breakdown per mode.

use super::style::{self, canonical_order, mode_color, stream_color};
use super::{
    Drawn, Figure, LABEL_SIZE, LegendItem, TICK_SIZE, anchored, byte_unit, draw_legend,
    draw_no_data, font, legend_width, render, tick, titled,
};
use crate::error::{InputError, Location, Result};
use crate::report::{SpeedupRow, TrafficRow, format_number};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Options of [`speedup_bars`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpeedupOptions {
    /// Empty: "Speedup over <baseline>".
    pub title: String,
    /// The mode speedups are relative to (drawn as the line at 1).
    pub baseline: String,
    /// Add a group with each mode's geometric mean over the sub-layers.
    pub geomean: bool,
    pub width: u32,
    pub height: u32,
}

impl Default for SpeedupOptions {
    fn default() -> Self {
        SpeedupOptions {
            title: String::new(),
            baseline: "sequential".into(),
            geomean: true,
            width: 1100,
            height: 560,
        }
    }
}

/// Grouped bars: one group per sub-layer (in the order first seen) and one
/// bar per mode (in [`style::MODES`] order), plus a `geomean` group. The
/// geomean of a mode is over the sub-layers where its speedup is a positive
/// number. A `(sublayer, mode)` pair given twice is an error.
pub fn speedup_bars(
    rows: &[SpeedupRow],
    opts: &SpeedupOptions,
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    let mut groups: Vec<String> = Vec::new();
    let mut modes: Vec<String> = Vec::new();
    for r in rows {
        if !groups.contains(&r.sublayer) {
            groups.push(r.sublayer.clone());
        }
        if !modes.contains(&r.mode) {
            modes.push(r.mode.clone());
        }
    }
    let modes = canonical_order(modes, style::MODES);
    let mut values = vec![vec![None; modes.len()]; groups.len()];
    for (i, r) in rows.iter().enumerate() {
        let g = groups.iter().position(|x| *x == r.sublayer).unwrap_or(0);
        let m = modes.iter().position(|x| *x == r.mode).unwrap_or(0);
        if values[g][m].is_some() {
            return Err(InputError::new(
                Location::file(stem.display().to_string()),
                format!("rows[{i}]"),
                format!("speedup of `{}` on `{}` given twice", r.mode, r.sublayer),
            )
            .into());
        }
        values[g][m] = Some(r.speedup);
    }
    if opts.geomean && groups.len() > 1 {
        let gm: Vec<Option<f64>> = (0..modes.len())
            .map(|m| {
                let logs: Vec<f64> = values
                    .iter()
                    .filter_map(|g| g[m])
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .map(f64::ln)
                    .collect();
                (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
            })
            .collect();
        groups.push("geomean".into());
        values.push(gm);
    }
    let title = if opts.title.is_empty() {
        format!("Speedup over {}", opts.baseline)
    } else {
        opts.title.clone()
    };
    let fig = GroupedBars {
        title,
        size: (opts.width.max(300), opts.height.max(200)),
        groups,
        series: modes.clone(),
        colors: modes.iter().map(|m| mode_color(m)).collect(),
        stacked: false,
        values,
        y_desc: format!("speedup over {} (×)", opts.baseline),
        x_desc: "sub-layer".into(),
        reference: Some(1.0),
        bar_label: Box::new(|v| format!("{v:.2}")),
        total_label: None,
        separate_last: opts.geomean,
    };
    render(&fig, stem)
}

/// How [`traffic`] scales the bars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TrafficScale {
    /// Bytes, in a unit that suits the largest bar.
    #[default]
    Absolute,
    /// Each bar shows its streams' shares (sums to 100 %).
    Share,
    /// Bytes divided by the total of this mode (usually `sequential`).
    RelativeTo(String),
}

/// Options of [`traffic`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrafficOptions {
    /// Empty: "DRAM traffic by stream".
    pub title: String,
    pub scale: TrafficScale,
    pub width: u32,
    pub height: u32,
}

impl Default for TrafficOptions {
    fn default() -> Self {
        TrafficOptions {
            title: String::new(),
            scale: TrafficScale::Absolute,
            width: 1000,
            height: 560,
        }
    }
}

/// Stacked bars: one bar per mode, one segment per stream (in
/// [`style::STREAMS`] order). Rows with the same mode and stream add up (one
/// per device, say). NaN bytes are left out; negative bytes are an error.
pub fn traffic(rows: &[TrafficRow], opts: &TrafficOptions, stem: &Path) -> Result<Vec<PathBuf>> {
    let bad = |i: usize, msg: String| -> crate::error::Error {
        InputError::new(
            Location::file(stem.display().to_string()),
            format!("rows[{i}]"),
            msg,
        )
        .into()
    };
    let mut modes: Vec<String> = Vec::new();
    let mut streams: Vec<String> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if r.bytes < 0.0 || r.bytes == f64::INFINITY {
            return Err(bad(
                i,
                format!("bytes must be a finite amount, got {}", r.bytes),
            ));
        }
        if !modes.contains(&r.mode) {
            modes.push(r.mode.clone());
        }
        if !streams.contains(&r.stream) {
            streams.push(r.stream.clone());
        }
    }
    let modes = canonical_order(modes, style::MODES);
    let streams = canonical_order(streams, style::STREAMS);
    let mut bytes = vec![vec![0.0f64; streams.len()]; modes.len()];
    for r in rows.iter().filter(|r| r.bytes.is_finite()) {
        let m = modes.iter().position(|x| *x == r.mode).unwrap_or(0);
        let s = streams.iter().position(|x| *x == r.stream).unwrap_or(0);
        bytes[m][s] += r.bytes;
    }
    let totals: Vec<f64> = bytes.iter().map(|b| b.iter().sum()).collect();
    let max_total = totals.iter().copied().fold(0.0, f64::max);
    let (values, y_desc, total_label): (Vec<Vec<f64>>, String, Option<LabelFn>) = match &opts.scale
    {
        TrafficScale::Absolute => {
            let (div, unit) = byte_unit(max_total);
            (
                bytes
                    .iter()
                    .map(|b| b.iter().map(|v| v / div).collect())
                    .collect(),
                format!("DRAM traffic ({unit})"),
                Some(Box::new(move |v| format!("{} {unit}", format_number(v)))),
            )
        }
        TrafficScale::Share => (
            bytes
                .iter()
                .zip(&totals)
                .map(|(b, t)| {
                    b.iter()
                        .map(|v| if *t > 0.0 { 100.0 * v / t } else { 0.0 })
                        .collect()
                })
                .collect(),
            "share of DRAM traffic (%)".into(),
            None,
        ),
        TrafficScale::RelativeTo(base) => {
            let Some(bi) = modes.iter().position(|m| m == base) else {
                return Err(InputError::new(
                    Location::file(stem.display().to_string()),
                    "scale.relative-to",
                    format!(
                        "mode `{base}` has no traffic rows; modes: {}",
                        modes.join(", ")
                    ),
                )
                .into());
            };
            let t = totals[bi];
            if t <= 0.0 {
                return Err(InputError::new(
                    Location::file(stem.display().to_string()),
                    "scale.relative-to",
                    format!("mode `{base}` moves no bytes, so nothing can be relative to it"),
                )
                .into());
            }
            (
                bytes
                    .iter()
                    .map(|b| b.iter().map(|v| v / t).collect())
                    .collect(),
                format!("DRAM traffic relative to {base} (×)"),
                Some(Box::new(|v| format!("{v:.2}×"))),
            )
        }
    };
    let fig = GroupedBars {
        title: if opts.title.is_empty() {
            "DRAM traffic by stream".into()
        } else {
            opts.title.clone()
        },
        size: (opts.width.max(300), opts.height.max(200)),
        groups: modes,
        colors: streams.iter().map(|s| stream_color(s)).collect(),
        series: streams,
        stacked: true,
        values: values
            .into_iter()
            .map(|g| g.into_iter().map(Some).collect())
            .collect(),
        y_desc,
        x_desc: "mode".into(),
        reference: None,
        bar_label: Box::new(format_number),
        total_label,
        separate_last: false,
    };
    render(&fig, stem)
}

type LabelFn = Box<dyn Fn(f64) -> String>;

/// Bars grouped along x; side by side, or stacked into one bar per group.
struct GroupedBars {
    title: String,
    size: (u32, u32),
    groups: Vec<String>,
    series: Vec<String>,
    colors: Vec<RGBColor>,
    stacked: bool,
    /// `values[group][series]`; `None` or NaN draws nothing.
    values: Vec<Vec<Option<f64>>>,
    y_desc: String,
    x_desc: String,
    /// A dashed horizontal line (speedup 1).
    reference: Option<f64>,
    /// Text above a side-by-side bar, when it fits.
    bar_label: LabelFn,
    /// Text above a stacked bar.
    total_label: Option<LabelFn>,
    /// Set the last group apart (the geomean).
    separate_last: bool,
}

impl Figure for GroupedBars {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let body = titled(root, &self.title)?;
        let items: Vec<LegendItem> = self
            .series
            .iter()
            .zip(&self.colors)
            .map(|(s, c)| LegendItem {
                label: s.clone(),
                color: *c,
                line: false,
            })
            .collect();
        let (w, _) = body.dim_in_pixel();
        let lw = legend_width(root, &items).min(w / 3);
        let (plot, legend) = body.split_horizontally(w - lw);
        if self.groups.is_empty() || self.series.is_empty() {
            return draw_no_data(&plot, "no data");
        }
        let finite = |v: &Option<f64>| v.filter(|x| x.is_finite());
        let top = if self.stacked {
            self.values
                .iter()
                .map(|g| {
                    g.iter()
                        .filter_map(finite)
                        .filter(|v| *v > 0.0)
                        .sum::<f64>()
                })
                .fold(0.0, f64::max)
        } else {
            self.values
                .iter()
                .flat_map(|g| g.iter().filter_map(finite))
                .fold(0.0, f64::max)
        };
        let top = top.max(self.reference.unwrap_or(0.0));
        let y_max = if top > 0.0 { top * 1.18 } else { 1.0 };
        let ng = self.groups.len() as f64;
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(20)
            .x_label_area_size(58)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5..ng - 0.5, 0.0..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(8)
            .y_label_formatter(&tick)
            .light_line_style(TRANSPARENT)
            .bold_line_style(style::GRID)
            .label_style(font(TICK_SIZE))
            .axis_desc_style(font(LABEL_SIZE))
            .y_desc(self.y_desc.as_str())
            .x_desc(self.x_desc.as_str())
            .draw()?;

        let ns = self.series.len() as f64;
        let group_w = if self.stacked { 0.6 } else { 0.84 };
        for (gi, g) in self.values.iter().enumerate() {
            let left = gi as f64 - group_w / 2.0;
            let mut base = 0.0;
            for (si, v) in g.iter().enumerate() {
                let Some(v) = finite(v).filter(|v| *v >= 0.0 || !self.stacked) else {
                    continue;
                };
                let (x0, x1, y0, y1) = if self.stacked {
                    let r = (left, left + group_w, base, base + v);
                    base += v;
                    r
                } else {
                    let bw = group_w / ns;
                    let x0 = left + si as f64 * bw;
                    (x0 + bw * 0.06, x0 + bw * 0.94, 0.0, v)
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    self.colors[si].filled(),
                )))?;
                if !self.stacked {
                    let (px0, py) = chart.backend_coord(&(x0, y1));
                    let (px1, _) = chart.backend_coord(&(x1, y1));
                    let text = (self.bar_label)(v);
                    let tw = super::text_width(root, &text, 11.0) as i32;
                    if px1 - px0 >= tw + 2 {
                        root.draw_text(
                            &text,
                            &anchored(11.0, HPos::Center, VPos::Bottom),
                            ((px0 + px1) / 2, py - 3),
                        )?;
                    } else if px1 - px0 >= 12 {
                        // Narrow bars: the value reads upwards above the bar.
                        root.draw_text(
                            &text,
                            &anchored(11.0, HPos::Left, VPos::Center)
                                .transform(FontTransform::Rotate270),
                            ((px0 + px1) / 2, py - 4),
                        )?;
                    }
                }
            }
            if let (true, Some(label)) = (self.stacked, &self.total_label) {
                let (px, py) = chart.backend_coord(&(gi as f64, base));
                root.draw_text(
                    &label(base),
                    &anchored(12.0, HPos::Center, VPos::Bottom),
                    (px, py - 4),
                )?;
            }
        }
        if let Some(r) = self.reference {
            chart.draw_series(DashedLineSeries::new(
                vec![(-0.5, r), (ng - 0.5, r)],
                6,
                4,
                style::MUTED.stroke_width(1),
            ))?;
        }
        if self.separate_last && self.groups.len() > 1 {
            let x = ng - 1.5;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, y_max)],
                style::MUTED.stroke_width(1),
            )))?;
        }
        // Group names under the axis, wrapped onto two lines when crowded.
        let (px0, _) = chart.backend_coord(&(0.0, 0.0));
        let (px1, _) = chart.backend_coord(&(1.0, 0.0));
        let slot = (px1 - px0).max(1);
        for (gi, name) in self.groups.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(gi as f64, 0.0));
            let stagger = if super::text_width(root, name, TICK_SIZE + 1.0) as i32 > slot - 6 {
                (gi % 2) as i32 * 16
            } else {
                0
            };
            root.draw_text(
                name,
                &anchored(TICK_SIZE + 1.0, HPos::Center, VPos::Top),
                (px, py + 6 + stagger),
            )?;
        }
        draw_legend(&legend, &items, 30)
    }
}
