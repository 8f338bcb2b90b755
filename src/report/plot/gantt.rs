//! The per-device timeline (Gantt chart).

use super::style::{self, canonical_order, category_color};
use super::{
    Drawn, Figure, LABEL_SIZE, LegendItem, TICK_SIZE, anchored, draw_legend, draw_no_data, font,
    legend_width, render, text_width, tick, titled,
};
use crate::error::Result;
use crate::report::TimelineSpan;
use crate::report::timeline::{Lane, check_spans, layout};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Options of [`timeline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimelineOptions {
    /// Empty: "Timeline".
    pub title: String,
    /// Devices to show; empty shows all.
    pub devices: Vec<u32>,
    /// Window to show (spans are clipped to it); `None` fits the data.
    pub start_ns: Option<f64>,
    pub end_ns: Option<f64>,
    /// Most lanes one track is split into; further overlapping spans are
    /// drawn over the lane that frees up first.
    pub max_lanes: usize,
    pub width: u32,
    /// Height of one lane in pixels; 0 picks one that keeps the image under
    /// about 2000 pixels.
    pub row_height: u32,
}

impl Default for TimelineOptions {
    fn default() -> Self {
        TimelineOptions {
            title: String::new(),
            devices: Vec::new(),
            start_ns: None,
            end_ns: None,
            max_lanes: 3,
            width: 1600,
            row_height: 0,
        }
    }
}

/// Known categories, listed first in the legend in this order.
const CATEGORY_ORDER: &[&str] = &[
    "gemm",
    "rs",
    "dma",
    "link",
    "nmc",
    "gemm-read",
    "gemm-write",
    "rs-read",
    "rs-write",
    "nmc-update",
    "dma-read",
];

/// One row group per device, one row per track (more where spans of a track
/// overlap; see [`crate::report::timeline`]), bars coloured by category.
/// Spans with non-finite or reversed times are an error.
pub fn timeline(
    spans: &[TimelineSpan],
    opts: &TimelineOptions,
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    check_spans(spans, &stem.display().to_string())?;
    let lo = opts.start_ns.filter(|x| x.is_finite());
    let hi = opts.end_ns.filter(|x| x.is_finite());
    let shown: Vec<TimelineSpan> = spans
        .iter()
        .filter(|s| opts.devices.is_empty() || opts.devices.contains(&s.device))
        .filter(|s| lo.is_none_or(|lo| s.end_ns >= lo) && hi.is_none_or(|hi| s.start_ns <= hi))
        .map(|s| {
            let mut s = s.clone();
            if let Some(lo) = lo {
                s.start_ns = s.start_ns.max(lo);
            }
            if let Some(hi) = hi {
                s.end_ns = s.end_ns.min(hi);
            }
            s
        })
        .collect();
    let times: Vec<(f64, f64)> = shown.iter().map(|s| (s.start_ns, s.end_ns)).collect();
    let lay = layout(&shown, &times, false, Some(opts.max_lanes.max(1)));
    let t0 = lo.unwrap_or_else(|| times.iter().map(|t| t.0).fold(f64::INFINITY, f64::min));
    let t1 = hi.unwrap_or_else(|| times.iter().map(|t| t.1).fold(f64::NEG_INFINITY, f64::max));
    let (t0, t1) = if t0.is_finite() && t1 > t0 {
        (t0, t1)
    } else if t0.is_finite() {
        (t0, t0 + 1.0)
    } else {
        (0.0, 1.0)
    };
    let (div, unit) = if t1 < 1e4 {
        (1.0, "ns")
    } else if t1 < 1e7 {
        (1e3, "µs")
    } else {
        (1e6, "ms")
    };
    let rows = lay.lanes.len();
    let row_h = if opts.row_height > 0 {
        opts.row_height
    } else if rows <= 48 {
        22
    } else {
        (1800 / rows.max(1) as u32).clamp(3, 22)
    };
    let mut cats: Vec<String> = shown.iter().map(|s| s.category.clone()).collect();
    cats.sort();
    cats.dedup();
    let cats = canonical_order(cats, CATEGORY_ORDER);
    let fig = Gantt {
        title: if opts.title.is_empty() {
            "Timeline".into()
        } else {
            opts.title.clone()
        },
        width: opts.width.max(400),
        height: (rows as u32)
            .saturating_mul(row_h)
            .saturating_add(144)
            .max(260),
        row_h,
        lanes: lay.lanes,
        bars: shown
            .iter()
            .zip(&lay.span_lane)
            .map(|(s, &l)| Bar {
                lane: l,
                start: s.start_ns / div,
                end: s.end_ns / div,
                color: category_color(&s.category),
                label: s.label.clone(),
            })
            .collect(),
        x_range: (t0 / div, t1 / div),
        unit,
        legend: cats
            .into_iter()
            .map(|c| LegendItem {
                color: category_color(&c),
                label: c,
                line: false,
            })
            .collect(),
    };
    render(&fig, stem)
}

struct Bar {
    lane: usize,
    start: f64,
    end: f64,
    color: RGBColor,
    label: String,
}

struct Gantt {
    title: String,
    width: u32,
    height: u32,
    row_h: u32,
    lanes: Vec<Lane>,
    bars: Vec<Bar>,
    x_range: (f64, f64),
    unit: &'static str,
    legend: Vec<LegendItem>,
}

const TRACK_SIZE: f64 = 12.0;
const DEVICE_SIZE: f64 = 14.0;

impl Figure for Gantt {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let body = titled(root, &self.title)?;
        let (w, _) = body.dim_in_pixel();
        let lw = legend_width(root, &self.legend).min(w / 4);
        let (plot, legend) = body.split_horizontally(w - lw);
        if self.lanes.is_empty() {
            return draw_no_data(&plot, "no spans to show");
        }
        let show_tracks = self.row_h >= 11;
        let track_w = if show_tracks {
            self.lanes
                .iter()
                .map(|l| text_width(root, &l.name(), TRACK_SIZE))
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        let dev_w = self
            .lanes
            .iter()
            .map(|l| text_width(root, &format!("device {}", l.device), DEVICE_SIZE))
            .max()
            .unwrap_or(0);
        let n = self.lanes.len() as f64;
        let (x0, x1) = self.x_range;
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size((dev_w + track_w + 34).min(w / 3))
            .build_cartesian_2d(x0..x1, 0.0..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(12)
            .x_label_formatter(&tick)
            .light_line_style(TRANSPARENT)
            .bold_line_style(style::GRID)
            .label_style(font(TICK_SIZE))
            .axis_desc_style(font(LABEL_SIZE))
            .x_desc(format!("time ({})", self.unit))
            .draw()?;

        // Row r (from the top) spans y in [n - r - 1, n - r].
        let top_of = |r: usize| n - r as f64;
        // Device bands and names.
        let mut start = 0;
        let mut band = 0;
        while start < self.lanes.len() {
            let dev = self.lanes[start].device;
            let end = self.lanes[start..]
                .iter()
                .position(|l| l.device != dev)
                .map_or(self.lanes.len(), |k| start + k);
            if band % 2 == 1 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, top_of(end)), (x1, top_of(start))],
                    style::BAND.filled(),
                )))?;
            }
            if start > 0 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x0, top_of(start)), (x1, top_of(start))],
                    style::MUTED.stroke_width(1),
                )))?;
            }
            let (_, ya) = chart.backend_coord(&(x0, top_of(start)));
            let (_, yb) = chart.backend_coord(&(x0, top_of(end)));
            root.draw_text(
                &format!("device {dev}"),
                &anchored(DEVICE_SIZE, HPos::Left, VPos::Center),
                (14, (ya + yb) / 2),
            )?;
            start = end;
            band += 1;
        }
        if show_tracks {
            for (r, lane) in self.lanes.iter().enumerate() {
                let (px, py) = chart.backend_coord(&(x0, top_of(r) - 0.5));
                root.draw_text(
                    &lane.name(),
                    &anchored(TRACK_SIZE, HPos::Right, VPos::Center).color(&style::MUTED),
                    (px - 6, py),
                )?;
            }
        }

        // A bar is at least one pixel wide, so short events stay visible.
        let (px0, _) = chart.backend_coord(&(x0, 0.0));
        let (px1, _) = chart.backend_coord(&(x1, 0.0));
        let min_w = (x1 - x0) / (px1 - px0).max(1) as f64;
        let pad = if self.row_h >= 8 { 0.12 } else { 0.0 };
        for b in &self.bars {
            let top = top_of(b.lane) - pad;
            let bottom = top_of(b.lane) - 1.0 + pad;
            let end = b.end.max(b.start + min_w);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(b.start, bottom), (end, top)],
                b.color.filled(),
            )))?;
            if self.row_h >= 16 && !b.label.is_empty() {
                let (ba, by) = chart.backend_coord(&(b.start, top_of(b.lane) - 0.5));
                let (bb, _) = chart.backend_coord(&(end, 0.0));
                if bb - ba >= text_width(root, &b.label, 11.0) as i32 + 8 {
                    root.draw_text(
                        &b.label,
                        &anchored(11.0, HPos::Center, VPos::Center).color(&style::text_on(b.color)),
                        ((ba + bb) / 2, by),
                    )?;
                }
            }
        }
        draw_legend(&legend, &self.legend, 30)
    }
}
