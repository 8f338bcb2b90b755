//! Colours, fixed per stream, mode and timeline category so that one thing
//! has one colour in every plot. Based on the Okabe-Ito palette, which stays
//! distinguishable with the common colour-vision deficiencies.

use plotters::style::RGBColor;

/// Body text.
pub const TEXT: RGBColor = RGBColor(0x22, 0x22, 0x22);
/// Secondary text and reference lines.
pub const MUTED: RGBColor = RGBColor(0x77, 0x77, 0x77);
/// Grid lines.
pub const GRID: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);
/// Alternate device bands in the timeline.
pub const BAND: RGBColor = RGBColor(0xF3, 0xF5, 0xF8);

const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
const SKY: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
const GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
const PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
const YELLOW: RGBColor = RGBColor(0xD8, 0xC8, 0x20);
const GREY: RGBColor = RGBColor(0xA8, 0xA8, 0xA8);
// Activities on the timeline, from Paul Tol's "muted" scheme: apart from
// the stream colours, so a GEMM stage never looks like a GEMM read.
const INDIGO: RGBColor = RGBColor(0x33, 0x22, 0x88);
const WINE: RGBColor = RGBColor(0x88, 0x22, 0x55);
const MAGENTA: RGBColor = RGBColor(0xAA, 0x44, 0x99);
const OLIVE: RGBColor = RGBColor(0x99, 0x99, 0x33);
const TEAL: RGBColor = RGBColor(0x44, 0xAA, 0x99);
const DARK: RGBColor = RGBColor(0x4A, 0x4A, 0x4A);

/// Colours for names that are not known streams, modes or categories,
/// picked by a stable hash of the name.
const EXTRA: [RGBColor; 6] = [
    RGBColor(0x11, 0x77, 0x33),
    RGBColor(0xCC, 0x66, 0x77),
    RGBColor(0x66, 0x99, 0xCC),
    RGBColor(0xAA, 0x77, 0x44),
    RGBColor(0x66, 0x11, 0x00),
    RGBColor(0x77, 0x77, 0x77),
];

/// The DRAM streams in the order they are stacked and listed.
pub const STREAMS: &[&str] = &[
    "gemm-read",
    "gemm-write",
    "rs-read",
    "rs-write",
    "nmc-update",
    "dma-read",
];

/// The execution modes in the order they are grouped and listed.
pub const MODES: &[&str] = crate::sweep::MODES;

/// The colour of a DRAM stream (`total` is dark grey).
pub fn stream_color(stream: &str) -> RGBColor {
    match stream {
        "gemm-read" => BLUE,
        "gemm-write" => SKY,
        "rs-read" => ORANGE,
        "rs-write" => VERMILLION,
        "nmc-update" => GREEN,
        "dma-read" => PURPLE,
        "total" => DARK,
        other => fallback(other),
    }
}

/// The colour of an execution mode.
pub fn mode_color(mode: &str) -> RGBColor {
    match mode {
        "sequential" => GREY,
        "ideal" => DARK,
        "rs-nmc" => ORANGE,
        "t3" => BLUE,
        "t3-mca" => GREEN,
        "sw-overlap" => PURPLE,
        other => fallback(other),
    }
}

/// The colour of a timeline category: stream names keep their stream
/// colour; the activities `gemm`, `rs`, `dma`, `link`, `nmc` (and common
/// spellings of them) have colours of their own.
pub fn category_color(category: &str) -> RGBColor {
    let c = category.to_ascii_lowercase();
    if STREAMS.contains(&c.as_str()) {
        return stream_color(&c);
    }
    match c.as_str() {
        "gemm" | "compute" | "gemm-stage" | "stage" => INDIGO,
        "rs" | "reduce-scatter" | "rs-step" | "collective" => WINE,
        "dma" | "trigger" => MAGENTA,
        "link" | "link-busy" | "send" | "recv" => OLIVE,
        "nmc" | "update" => TEAL,
        "stall" | "back-pressure" | "refresh" => YELLOW,
        "idle" => GREY,
        _ => fallback(&c),
    }
}

/// A colour for an index in a series of values that have no fixed colour
/// (sweep parameters).
pub fn series_color(i: usize) -> RGBColor {
    const SEQ: [RGBColor; 7] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, DARK];
    if i < SEQ.len() {
        SEQ[i]
    } else {
        EXTRA[(i - SEQ.len()) % EXTRA.len()]
    }
}

fn fallback(name: &str) -> RGBColor {
    let h = crate::sweep::spec::fnv1a(name.as_bytes());
    EXTRA[(h % EXTRA.len() as u64) as usize]
}

/// Order of known names first (in `known` order), others after in the order
/// given.
pub(crate) fn canonical_order(names: Vec<String>, known: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = known
        .iter()
        .filter(|k| names.iter().any(|n| n == *k))
        .map(|k| k.to_string())
        .collect();
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Viridis, sampled at 9 points and interpolated: perceptually even and
/// readable in grey.
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// Black or white, whichever reads better on `bg`.
pub fn text_on(bg: RGBColor) -> RGBColor {
    let l = 0.2126 * bg.0 as f64 + 0.7152 * bg.1 as f64 + 0.0722 * bg.2 as f64;
    if l > 140.0 {
        TEXT
    } else {
        RGBColor(0xFF, 0xFF, 0xFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_has_one_colour_everywhere() {
        assert_eq!(category_color("nmc-update"), stream_color("nmc-update"));
        assert_ne!(category_color("GEMM"), stream_color("gemm-read"));
        assert_eq!(stream_color("something-new"), stream_color("something-new"));
        assert_ne!(mode_color("t3"), mode_color("t3-mca"));
    }

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(viridis(7.0), viridis(1.0));
    }
}
