//! Chrome / Perfetto trace-event JSON (open it at <https://ui.perfetto.dev>
//! or `chrome://tracing`).
//!
//! One process per device (`pid` = device id, named `device N`), one thread
//! per track lane (`tid` from 1, in [`track_cmp`](super::timeline::track_cmp)
//! order, named after the track), a complete event (`ph: "X"`) per span and
//! a counter event (`ph: "C"`) per counter sample. Counters are process
//! scoped and use `tid` 0, named `counters`.
//!
//! The format counts time in microseconds. Times are rounded to whole
//! nanoseconds first (Perfetto's own resolution) so that spans nested or
//! disjoint in the input stay so in the file; overlapping spans of one track
//! are split onto sub-tracks as described in [`super::timeline`].
//!
//! Output is deterministic: events are sorted and every object's keys are
//! in a fixed order.

use super::timeline::{check_spans, layout};
use super::{CounterSeries, TimelineSpan};
use crate::error::{Error, InputError, Location, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes the trace to `path`.
pub fn write(path: &Path, spans: &[TimelineSpan], counters: &[CounterSeries]) -> Result<()> {
    let text = to_json(spans, counters)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

fn us(ns: f64) -> f64 {
    ns / 1000.0
}

/// The trace as JSON text: one event per line.
pub fn to_json(spans: &[TimelineSpan], counters: &[CounterSeries]) -> Result<String> {
    check_spans(spans, "timeline")?;
    for (i, c) in counters.iter().enumerate() {
        if let Some((t, _)) = c.points.iter().find(|(t, _)| !t.is_finite() || *t < 0.0) {
            return Err(InputError::new(
                Location::file("timeline"),
                format!("counters[{i}]"),
                format!("counter `{}` has a sample at time {t} ns", c.name),
            )
            .into());
        }
    }
    let times: Vec<(f64, f64)> = spans
        .iter()
        .map(|s| (s.start_ns.round(), s.end_ns.round()))
        .collect();
    let lay = layout(spans, &times, true, None);

    let mut devices: Vec<u32> = spans
        .iter()
        .map(|s| s.device)
        .chain(counters.iter().map(|c| c.device))
        .collect();
    devices.sort_unstable();
    devices.dedup();

    let mut tid_of = vec![0u64; lay.lanes.len()];
    let mut next_tid: BTreeMap<u32, u64> = BTreeMap::new();
    for (i, lane) in lay.lanes.iter().enumerate() {
        let n = next_tid.entry(lane.device).or_insert(1);
        tid_of[i] = *n;
        *n += 1;
    }

    let mut events: Vec<Value> = Vec::new();
    for &d in &devices {
        events.push(meta(
            d,
            0,
            "process_name",
            json!({"name": format!("device {d}")}),
        ));
        events.push(meta(d, 0, "process_sort_index", json!({"sort_index": d})));
        if counters.iter().any(|c| c.device == d) {
            events.push(meta(d, 0, "thread_name", json!({"name": "counters"})));
        }
        for (i, lane) in lay.lanes.iter().enumerate().filter(|(_, l)| l.device == d) {
            let tid = tid_of[i];
            events.push(meta(d, tid, "thread_name", json!({"name": lane.name()})));
            events.push(meta(
                d,
                tid,
                "thread_sort_index",
                json!({"sort_index": tid}),
            ));
        }
    }

    // Parents before children: by track, then start, then longer first.
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by(|&a, &b| {
        let (sa, ea) = times[a];
        let (sb, eb) = times[b];
        (spans[a].device, tid_of[lay.span_lane[a]])
            .cmp(&(spans[b].device, tid_of[lay.span_lane[b]]))
            .then(sa.total_cmp(&sb))
            .then(eb.total_cmp(&ea))
            .then_with(|| spans[a].label.cmp(&spans[b].label))
            .then(a.cmp(&b))
    });
    for i in order {
        let s = &spans[i];
        let (start, end) = times[i];
        let name = if s.label.is_empty() {
            &s.category
        } else {
            &s.label
        };
        events.push(json!({
            "name": name,
            "cat": s.category,
            "ph": "X",
            "pid": s.device,
            "tid": tid_of[lay.span_lane[i]],
            "ts": us(start),
            "dur": us(end - start),
            "args": {"track": s.track, "start_ns": s.start_ns, "end_ns": s.end_ns},
        }));
    }

    let mut cidx: Vec<usize> = (0..counters.len()).collect();
    cidx.sort_by(|&a, &b| {
        (counters[a].device, &counters[a].name, a).cmp(&(counters[b].device, &counters[b].name, b))
    });
    for ci in cidx {
        let c = &counters[ci];
        let unit = if c.unit.is_empty() { "value" } else { &c.unit };
        let mut pts: Vec<&(f64, f64)> = c.points.iter().filter(|(_, v)| v.is_finite()).collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, v) in pts {
            events.push(json!({
                "name": c.name,
                "ph": "C",
                "pid": c.device,
                "tid": 0,
                "ts": us(t.round()),
                "args": {unit: v},
            }));
        }
    }

    let mut out = String::from("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    for (i, e) in events.iter().enumerate() {
        out.push_str(&e.to_string());
        out.push_str(if i + 1 < events.len() { ",\n" } else { "\n" });
    }
    out.push_str("]}\n");
    Ok(out)
}

fn meta(pid: u32, tid: u64, name: &str, args: Value) -> Value {
    json!({"name": name, "ph": "M", "pid": pid, "tid": tid, "ts": 0, "args": args})
}
