//! Timeline layout shared by the Gantt plot and the Perfetto export: input
//! checks, the order of tracks, and the split of overlapping spans onto
//! sub-tracks (lanes).
//!
//! **Sub-tracks.** Spans of one track are taken in order of start time
//! (longer first on ties) and each goes to the first lane where it is
//! disjoint from, or (when nesting is allowed) nested inside, the spans
//! already there; a span that would only partly overlap opens a new lane.
//! Perfetto shows nesting as a stack of slices, so it allows nesting; the
//! Gantt plot draws bars on top of each other, so it keeps lanes disjoint.
//! Touching spans (`end == start`) count as disjoint.

use super::TimelineSpan;
use crate::error::{InputError, Location, Result};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Rejects spans whose times are not finite, negative, or end before they
/// start, naming the first such span.
pub fn check_spans(spans: &[TimelineSpan], what: &str) -> Result<()> {
    for (i, s) in spans.iter().enumerate() {
        let bad = if !s.start_ns.is_finite() || !s.end_ns.is_finite() {
            Some("start_ns and end_ns must be finite")
        } else if s.start_ns < 0.0 {
            Some("start_ns must not be negative")
        } else if s.end_ns < s.start_ns {
            Some("end_ns is before start_ns")
        } else {
            None
        };
        if let Some(msg) = bad {
            return Err(InputError::new(
                Location::file(what),
                format!("spans[{i}]"),
                format!(
                    "{msg} (device {}, track `{}`, label `{}`: {} .. {} ns)",
                    s.device, s.track, s.label, s.start_ns, s.end_ns
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// Where tracks sit within a device: compute first, then the collective,
/// DMA, links and memory channels; numbers inside names sort numerically
/// (`mem ch 2` before `mem ch 10`).
pub fn track_cmp(a: &str, b: &str) -> Ordering {
    track_rank(a)
        .cmp(&track_rank(b))
        .then_with(|| natural_key(a).cmp(&natural_key(b)))
        .then_with(|| a.cmp(b))
}

fn track_rank(t: &str) -> u8 {
    let t = t.to_ascii_lowercase();
    let starts = |p: &[&str]| p.iter().any(|p| t.starts_with(p));
    if starts(&["compute", "gemm", "cu"]) {
        0
    } else if starts(&["rs", "reduce", "collective", "ag"]) {
        1
    } else if starts(&["dma", "trigger", "tracker"]) {
        2
    } else if starts(&["link", "net"]) {
        3
    } else if starts(&["mem", "dram", "hbm"]) {
        4
    } else {
        5
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Num(u64),
    Text(String),
}

fn natural_key(s: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() != digits && !cur.is_empty() {
            out.push(part(&cur, digits));
            cur.clear();
        }
        digits = c.is_ascii_digit();
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(part(&cur, digits));
    }
    out
}

fn part(s: &str, digits: bool) -> Part {
    match (digits, s.parse::<u64>()) {
        (true, Ok(n)) => Part::Num(n),
        _ => Part::Text(s.to_ascii_lowercase()),
    }
}

/// One drawn row: a lane of a track of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub device: u32,
    pub track: String,
    /// 0 for the track's first lane.
    pub lane: usize,
    /// Lanes the track has in all.
    pub lanes: usize,
}

impl Lane {
    /// The name of the lane: the track, then `track #2`, `track #3`...
    pub fn name(&self) -> String {
        if self.lane == 0 {
            self.track.clone()
        } else {
            format!("{} #{}", self.track, self.lane + 1)
        }
    }
}

/// The rows of a timeline and the row of every span.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Rows in display order: devices ascending, tracks by [`track_cmp`],
    /// lanes in order.
    pub lanes: Vec<Lane>,
    /// For each input span, the index of its row in `lanes`.
    pub span_lane: Vec<usize>,
}

/// Assigns every span a lane. `times[i]` are the `(start, end)` of span `i`
/// as they will be written (rounded, for Perfetto). With `max_lanes`, a
/// track never gets more lanes; spans that fit nowhere go to the lane that
/// frees up first (only sensible for plots).
pub fn layout(
    spans: &[TimelineSpan],
    times: &[(f64, f64)],
    nesting: bool,
    max_lanes: Option<usize>,
) -> Layout {
    let mut tracks: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for s in spans {
        let t = tracks.entry(s.device).or_default();
        if !t.contains(&s.track.as_str()) {
            t.push(&s.track);
        }
    }
    let mut by_track: BTreeMap<(u32, &str), Vec<usize>> = BTreeMap::new();
    for (i, s) in spans.iter().enumerate() {
        by_track.entry((s.device, &s.track)).or_default().push(i);
    }
    let mut lanes = Vec::new();
    let mut span_lane = vec![0; spans.len()];
    for (dev, mut names) in tracks {
        names.sort_by(|a, b| track_cmp(a, b));
        for name in names {
            let mut idx = by_track.remove(&(dev, name)).unwrap_or_default();
            idx.sort_by(|&a, &b| {
                let (sa, ea) = times[a];
                let (sb, eb) = times[b];
                sa.total_cmp(&sb)
                    .then(eb.total_cmp(&ea))
                    .then_with(|| spans[a].label.cmp(&spans[b].label))
                    .then(a.cmp(&b))
            });
            // Each lane keeps the ends of its open (enclosing) spans.
            let mut open: Vec<Vec<f64>> = Vec::new();
            let mut which = Vec::with_capacity(idx.len());
            for &i in &idx {
                let (start, end) = times[i];
                let mut chosen = None;
                for (l, stack) in open.iter_mut().enumerate() {
                    while stack.last().is_some_and(|&e| e <= start) {
                        stack.pop();
                    }
                    let fits = match stack.last() {
                        None => true,
                        Some(&top) => nesting && top >= end,
                    };
                    if fits {
                        chosen = Some(l);
                        break;
                    }
                }
                let l = match chosen {
                    Some(l) => l,
                    None if max_lanes.is_none_or(|m| open.len() < m.max(1)) => {
                        open.push(Vec::new());
                        open.len() - 1
                    }
                    None => {
                        // Over the cap: the lane whose spans end first.
                        let mut best = 0;
                        for (l, stack) in open.iter().enumerate() {
                            let e = stack.first().copied().unwrap_or(f64::NEG_INFINITY);
                            let b = open[best].first().copied().unwrap_or(f64::NEG_INFINITY);
                            if e < b {
                                best = l;
                            }
                        }
                        open[best].clear();
                        best
                    }
                };
                open[l].push(end);
                which.push((i, l));
            }
            let base = lanes.len();
            let n = open.len().max(1);
            for l in 0..n {
                lanes.push(Lane {
                    device: dev,
                    track: name.to_string(),
                    lane: l,
                    lanes: n,
                });
            }
            for (i, l) in which {
                span_lane[i] = base + l;
            }
        }
    }
    Layout { lanes, span_lane }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(track: &str, start: f64, end: f64) -> TimelineSpan {
        TimelineSpan {
            device: 0,
            track: track.into(),
            category: "gemm".into(),
            label: format!("{start}-{end}"),
            start_ns: start,
            end_ns: end,
        }
    }

    #[test]
    fn tracks_sort_by_kind_then_naturally() {
        let mut t = vec![
            "mem ch 10",
            "link",
            "mem ch 2",
            "dma",
            "compute",
            "zzz",
            "rs",
        ];
        t.sort_by(|a, b| track_cmp(a, b));
        assert_eq!(
            t,
            [
                "compute",
                "rs",
                "dma",
                "link",
                "mem ch 2",
                "mem ch 10",
                "zzz"
            ]
        );
    }

    #[test]
    fn nested_spans_share_a_lane_partial_overlaps_do_not() {
        let s = vec![
            span("c", 0.0, 10.0),
            span("c", 2.0, 5.0),
            span("c", 4.0, 12.0),
            span("c", 10.0, 11.0),
        ];
        let times: Vec<_> = s.iter().map(|s| (s.start_ns, s.end_ns)).collect();
        let l = layout(&s, &times, true, None);
        assert_eq!(l.span_lane, [0, 0, 1, 0]);
        assert_eq!(l.lanes.len(), 2);
        assert_eq!(l.lanes[1].name(), "c #2");
        // Without nesting, the inner span moves too.
        let l = layout(&s, &times, false, None);
        assert_eq!(l.span_lane, [0, 1, 2, 0]);
        let l = layout(&s, &times, false, Some(2));
        assert_eq!(l.lanes.len(), 2);
    }

    #[test]
    fn bad_times_are_rejected_by_index() {
        let e = check_spans(&[span("c", 0.0, 1.0), span("c", 5.0, 1.0)], "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("spans[1]") && e.contains("before"), "{e}");
        assert!(check_spans(&[span("c", f64::NAN, 1.0)], "t").is_err());
    }
}
