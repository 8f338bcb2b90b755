//! A sweep metric over two parameters.

use super::lines::{check_unique, distinct, filtered};
use super::style::{self, viridis};
use super::{
    Drawn, Figure, LABEL_SIZE, TICK_SIZE, anchored, draw_no_data, font, render, text_width, titled,
};
use crate::error::Result;
use crate::report::{Cell, SweepTable, format_number};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Options of [`sweep_heatmap`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeatmapOptions {
    /// Empty: "<value> over <x> and <y>".
    pub title: String,
    /// Column across (a parameter).
    pub x: String,
    /// Column down (a parameter).
    pub y: String,
    /// Column that colours the cells (a metric).
    pub value: String,
    /// Keep only rows whose column has this value (`"mode" = "t3"`).
    pub filter: BTreeMap<String, String>,
    /// Axis and colour-bar titles; empty uses the column names.
    pub x_label: String,
    pub y_label: String,
    pub value_label: String,
    pub width: u32,
    pub height: u32,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            title: String::new(),
            x: String::new(),
            y: String::new(),
            value: String::new(),
            filter: BTreeMap::new(),
            x_label: String::new(),
            y_label: String::new(),
            value_label: String::new(),
            width: 900,
            height: 640,
        }
    }
}

/// One cell per pair of values (numbers ascending), coloured on a viridis
/// scale with the value written in it. Missing or NaN cells are grey.
pub fn sweep_heatmap(
    table: &SweepTable,
    opts: &HeatmapOptions,
    stem: &Path,
) -> Result<Vec<PathBuf>> {
    let xi = table.column(&opts.x, "x")?;
    let yi = table.column(&opts.y, "y")?;
    let vi = table.column(&opts.value, "value")?;
    let rows = filtered(table, &opts.filter)?;
    check_unique(table, &rows, &[xi, yi], &[vi])?;
    let xs = distinct(&rows, xi);
    let ys = distinct(&rows, yi);
    let mut cells = vec![vec![None; xs.len()]; ys.len()];
    for r in &rows {
        let (Some(i), Some(j)) = (
            xs.iter().position(|v| *v == r[xi]),
            ys.iter().position(|v| *v == r[yi]),
        ) else {
            continue;
        };
        cells[j][i] = r[vi].as_f64().filter(|v| v.is_finite());
    }
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    let fig = Heatmap {
        title: or(
            &opts.title,
            &format!("{} over {} and {}", opts.value, opts.x, opts.y),
        ),
        size: (opts.width.max(300), opts.height.max(240)),
        x_desc: or(&opts.x_label, &opts.x),
        y_desc: or(&opts.y_label, &opts.y),
        value_desc: or(&opts.value_label, &opts.value),
        xs: xs.iter().map(Cell::label).collect(),
        ys: ys.iter().map(Cell::label).collect(),
        cells,
    };
    render(&fig, stem)
}

struct Heatmap {
    title: String,
    size: (u32, u32),
    x_desc: String,
    y_desc: String,
    value_desc: String,
    xs: Vec<String>,
    ys: Vec<String>,
    /// `cells[y][x]`.
    cells: Vec<Vec<Option<f64>>>,
}

const MISSING: RGBColor = RGBColor(0xD8, 0xD8, 0xD8);

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB> {
        let body = titled(root, &self.title)?;
        let (w, _) = body.dim_in_pixel();
        let (plot, bar) = body.split_horizontally(w.saturating_sub(150));
        let vals: Vec<f64> = self.cells.iter().flatten().filter_map(|v| *v).collect();
        if self.xs.is_empty() || self.ys.is_empty() {
            return draw_no_data(&plot, "no data");
        }
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let norm = |v: f64| {
            if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }
        };
        let y_lab_w = self
            .ys
            .iter()
            .map(|s| text_width(root, s, TICK_SIZE))
            .max()
            .unwrap_or(0);
        let (nx, ny) = (self.xs.len() as f64, self.ys.len() as f64);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(56)
            .y_label_area_size(y_lab_w + 44)
            .build_cartesian_2d(0.0..nx, 0.0..ny)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(0)
            .y_labels(0)
            .axis_desc_style(font(LABEL_SIZE))
            .x_desc(self.x_desc.as_str())
            .y_desc(self.y_desc.as_str())
            .draw()?;
        let (cx0, _) = chart.backend_coord(&(0.0, 0.0));
        let (cx1, _) = chart.backend_coord(&(1.0, 0.0));
        let (_, cy0) = chart.backend_coord(&(0.0, 0.0));
        let (_, cy1) = chart.backend_coord(&(0.0, 1.0));
        let (cell_w, cell_h) = ((cx1 - cx0).abs(), (cy0 - cy1).abs());
        let value_size = (cell_h as f64 * 0.32).clamp(9.0, 16.0);
        for (j, row) in self.cells.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                let (x, y) = (i as f64, j as f64);
                let color = v.map_or(MISSING, |v| viridis(norm(v)));
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    color.filled(),
                )))?;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    WHITE.stroke_width(2),
                )))?;
                let text = v.map_or("n/a".to_string(), format_number);
                if text_width(root, &text, value_size) as i32 + 4 <= cell_w && cell_h >= 12 {
                    let (px, py) = chart.backend_coord(&(x + 0.5, y + 0.5));
                    root.draw_text(
                        &text,
                        &anchored(value_size, HPos::Center, VPos::Center)
                            .color(&style::text_on(color)),
                        (px, py),
                    )?;
                }
            }
        }
        for (i, name) in self.xs.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw_text(
                name,
                &anchored(TICK_SIZE, HPos::Center, VPos::Top),
                (px, py + 6),
            )?;
        }
        for (j, name) in self.ys.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, j as f64 + 0.5));
            root.draw_text(
                name,
                &anchored(TICK_SIZE, HPos::Right, VPos::Center),
                (px - 6, py),
            )?;
        }

        // Colour bar: the scale from the lowest to the highest value.
        let (_, top) = chart.backend_coord(&(0.0, ny));
        let (_, bottom) = chart.backend_coord(&(0.0, 0.0));
        let (bx, _) = bar.get_base_pixel();
        let (rx, ry) = root.get_base_pixel();
        let (bx, top, bottom) = (bx - rx + 16, top - ry, bottom - ry);
        let steps = 64;
        for k in 0..steps {
            let t = k as f64 / steps as f64;
            let ya = bottom - ((bottom - top) as f64 * t) as i32;
            let yb = bottom - ((bottom - top) as f64 * (t + 1.0 / steps as f64)).ceil() as i32;
            root.draw(&Rectangle::new(
                [(bx, yb), (bx + 22, ya)],
                viridis(t + 0.5 / steps as f64).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(bx, top), (bx + 22, bottom)],
            style::MUTED.stroke_width(1),
        ))?;
        if !vals.is_empty() {
            let ticks = if hi > lo { 5 } else { 1 };
            for k in 0..ticks {
                let t = if ticks == 1 {
                    0.5
                } else {
                    k as f64 / (ticks - 1) as f64
                };
                let v = if hi > lo { lo + (hi - lo) * t } else { lo };
                let y = bottom - ((bottom - top) as f64 * t) as i32;
                root.draw(&PathElement::new(
                    vec![(bx + 22, y), (bx + 27, y)],
                    style::MUTED.stroke_width(1),
                ))?;
                root.draw_text(
                    &format_number(v),
                    &anchored(TICK_SIZE, HPos::Left, VPos::Center),
                    (bx + 30, y),
                )?;
            }
        }
        root.draw_text(
            &self.value_desc,
            &anchored(TICK_SIZE, HPos::Left, VPos::Bottom),
            (bx - 8, top - 8),
        )?;
        Ok(())
    }
}
