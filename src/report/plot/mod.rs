//! Plots: every function writes `<stem>.png` and `<stem>.svg` and returns
//! both paths.
//!
//! - [`timeline`]: per-device Gantt chart of GEMM stages, RS steps, DMA,
//!   link and memory activity.
//! - [`speedup_bars`]: speedup per sub-layer and mode, with a geomean group.
//! - [`bandwidth`]: DRAM bandwidth over time per stream.
//! - [`traffic`]: stacked DRAM bytes per stream for each mode.
//! - [`sweep_line`] and [`sweep_heatmap`]: a metric against sweep
//!   parameters.
//!
//! Colours are fixed per stream, mode and timeline category ([`style`]), so
//! a stream looks the same in every plot. Text uses DejaVu Sans, embedded in
//! the binary, so PNGs look the same on every machine. The same input gives
//! byte-identical files. Empty input gives a valid plot that says "no data";
//! NaN values are left out (a gap in a line, no bar).

mod bars;
mod gantt;
mod heatmap;
mod lines;
pub mod style;

pub use bars::{SpeedupOptions, TrafficOptions, TrafficScale, speedup_bars, traffic};
pub use gantt::{TimelineOptions, timeline};
pub use heatmap::{HeatmapOptions, sweep_heatmap};
pub use lines::{BandwidthOptions, SweepLineOptions, bandwidth, sweep_line};

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// The font family name the embedded font is registered under.
const FAMILY: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bytes are a known-good TTF; a failure would only mean text is
        // not drawn, which the plot tests would catch.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES);
    });
}

/// Largest width or height of a plot, in pixels.
const MAX_SIDE: u32 = 16_384;

/// The result of drawing on one backend.
type Drawn<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can be drawn on any backend.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn<DB>;
}

/// Draws the figure as SVG and PNG next to `stem`.
fn render(fig: &impl Figure, stem: &Path) -> Result<Vec<PathBuf>> {
    ensure_font();
    // Bounded so that a silly size asks for at most ~1 GB of pixels rather
    // than aborting on allocation.
    let (w, h) = fig.size();
    let (w, h) = (w.clamp(64, MAX_SIDE), h.clamp(64, MAX_SIDE));
    let svg_path = stem.with_extension("svg");
    let png_path = stem.with_extension("png");
    let draw_err = |what: &Path, e: String| {
        Error::io(
            format!("drawing {}", what.display()),
            std::io::Error::other(e),
        )
    };
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| draw_err(&svg_path, e.to_string()))?;
        fig.draw(&root)
            .map_err(|e| draw_err(&svg_path, e.to_string()))?;
        root.present()
            .map_err(|e| draw_err(&svg_path, e.to_string()))?;
    }
    std::fs::write(&svg_path, svg)
        .map_err(|e| Error::io(format!("writing {}", svg_path.display()), e))?;

    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| draw_err(&png_path, e.to_string()))?;
        fig.draw(&root)
            .map_err(|e| draw_err(&png_path, e.to_string()))?;
        root.present()
            .map_err(|e| draw_err(&png_path, e.to_string()))?;
    }
    write_png(&png_path, w, h, &rgb)?;
    Ok(vec![png_path, svg_path])
}

fn write_png(path: &Path, w: u32, h: u32, rgb: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
    let file = std::fs::File::create(path).map_err(io)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Balanced);
    let mut writer = enc
        .write_header()
        .map_err(|e| io(std::io::Error::other(e)))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| io(std::io::Error::other(e)))?;
    writer.finish().map_err(|e| io(std::io::Error::other(e)))
}

// ---- shared drawing helpers -------------------------------------------------

/// Text in the embedded font.
fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&style::TEXT)
}

fn anchored(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    font(size).pos(Pos::new(h, v))
}

/// Text width in pixels (an estimate from the font's advances).
fn text_width<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, text: &str, size: f64) -> u32 {
    root.estimate_text_size(text, &font(size))
        .map(|(w, _)| w)
        .unwrap_or((text.chars().count() as f64 * size * 0.6) as u32)
}

const TITLE_SIZE: f64 = 22.0;
const LABEL_SIZE: f64 = 15.0;
const TICK_SIZE: f64 = 13.0;

/// Draws the title centred at the top; returns the area below it.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> std::result::Result<DrawingArea<DB, Shift>, DrawingAreaErrorKind<DB::ErrorType>> {
    root.titled(title, font(TITLE_SIZE))
}

/// A legend entry: a filled swatch or a line sample.
#[derive(Debug, Clone)]
struct LegendItem {
    label: String,
    color: RGBColor,
    line: bool,
}

/// Width the legend needs.
fn legend_width<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, items: &[LegendItem]) -> u32 {
    if items.is_empty() {
        return 0;
    }
    let w = items
        .iter()
        .map(|i| text_width(root, &i.label, LABEL_SIZE))
        .max()
        .unwrap_or(0);
    w + 60
}

/// Draws a vertical legend starting at the area's top-left corner (pixels
/// relative to `area`).
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
    top: i32,
) -> Drawn<DB> {
    let step = 24;
    for (k, item) in items.iter().enumerate() {
        let y = top + k as i32 * step;
        if item.line {
            area.draw(&PathElement::new(
                vec![(10, y + 8), (34, y + 8)],
                item.color.stroke_width(3),
            ))?;
        } else {
            area.draw(&Rectangle::new(
                [(12, y + 1), (32, y + 15)],
                item.color.filled(),
            ))?;
        }
        area.draw_text(
            &item.label,
            &anchored(LABEL_SIZE, HPos::Left, VPos::Center),
            (42, y + 8),
        )?;
    }
    Ok(())
}

/// The body of an empty plot.
fn draw_no_data<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, why: &str) -> Drawn<DB> {
    let (w, h) = area.dim_in_pixel();
    area.draw_text(
        why,
        &anchored(18.0, HPos::Center, VPos::Center).color(&style::MUTED),
        (w as i32 / 2, h as i32 / 2),
    )
}

/// Tick labels for numbers: few digits, stable.
fn tick(x: &f64) -> String {
    super::format_number(*x)
}

/// A readable unit for a byte count: divisor and name.
fn byte_unit(max: f64) -> (f64, &'static str) {
    if max >= 1e9 {
        (1e9, "GB")
    } else if max >= 1e6 {
        (1e6, "MB")
    } else if max >= 1e3 {
        (1e3, "KB")
    } else {
        (1.0, "bytes")
    }
}

/// A finite `lo..hi` range with some room, never empty.
fn padded(lo: f64, hi: f64, pad_frac: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - d, hi + d);
    }
    let p = (hi - lo) * pad_frac;
    (lo - p, hi + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(padded(5.0, 5.0, 0.1), (4.5, 5.5));
        assert_eq!(padded(0.0, 0.0, 0.1), (-1.0, 1.0));
        assert_eq!(padded(f64::NAN, 1.0, 0.0), (0.0, 1.0));
    }
}
