//! The Perfetto export: schema, track naming, nesting, determinism.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use t3sim::report::perfetto;
use t3sim::report::{BandwidthSeries, CounterSeries, TimelineSpan};

fn span(
    device: u32,
    track: &str,
    category: &str,
    label: &str,
    start: f64,
    end: f64,
) -> TimelineSpan {
    TimelineSpan {
        device,
        track: track.into(),
        category: category.into(),
        label: label.into(),
        start_ns: start,
        end_ns: end,
    }
}

/// A small fused run: staged GEMM, DMA chunks that overlap each other,
/// link transfers, and memory-channel activity with nested and partly
/// overlapping spans at fractional nanoseconds.
fn sample() -> (Vec<TimelineSpan>, Vec<CounterSeries>) {
    let mut s = Vec::new();
    for d in 0..4u32 {
        let skew = d as f64 * 13.3;
        for st in 0..4 {
            let t0 = skew + st as f64 * 1000.0;
            s.push(span(
                d,
                "compute",
                "gemm",
                &format!("stage {}", st + 1),
                t0,
                t0 + 1000.0,
            ));
            s.push(span(
                d,
                "dma",
                "dma",
                &format!("dma chunk {st}"),
                t0 + 600.0,
                t0 + 1700.0,
            ));
            s.push(span(
                d,
                "link",
                "link",
                &format!("send {st}"),
                t0 + 650.5,
                t0 + 1650.25,
            ));
            for ch in [0, 1, 10] {
                let track = format!("mem ch {ch}");
                let b = t0 + ch as f64 * 7.77;
                s.push(span(d, &track, "gemm-read", "burst", b, b + 500.3333));
                s.push(span(d, &track, "gemm-read", "row hit", b + 10.1, b + 20.2));
                s.push(span(
                    d,
                    &track,
                    "nmc-update",
                    "update",
                    b + 400.0,
                    b + 800.0,
                ));
            }
        }
        s.push(span(d, "compute", "gemm", "zero", 5000.0, 5000.0));
    }
    let bw = BandwidthSeries {
        stream: "gemm-read".into(),
        points: vec![(0.0, 100.0), (1.0, 800.5), (2.0, f64::NAN), (3.0, 0.0)],
    };
    let counters = (0..4)
        .map(|d| CounterSeries::from_bandwidth(d, &bw))
        .collect();
    (s, counters)
}

fn events(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).expect("valid JSON");
    assert_eq!(v["displayTimeUnit"], "ns");
    v["traceEvents"]
        .as_array()
        .expect("traceEvents array")
        .clone()
}

#[test]
fn trace_events_follow_the_schema() {
    let (spans, counters) = sample();
    let text = perfetto::to_json(&spans, &counters).unwrap();
    let ev = events(&text);
    let mut named: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut procs: BTreeMap<u64, String> = BTreeMap::new();
    let mut used: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut per_track: BTreeMap<(u64, u64), Vec<(i64, i64)>> = BTreeMap::new();
    let (mut x, mut c) = (0, 0);
    for e in &ev {
        for k in ["name", "ph", "pid", "tid", "ts"] {
            assert!(e.get(k).is_some(), "event without {k}: {e}");
        }
        let pid = e["pid"].as_u64().unwrap();
        let tid = e["tid"].as_u64().unwrap();
        let ts = e["ts"].as_f64().unwrap();
        assert!(ts.is_finite() && ts >= 0.0, "{e}");
        match e["ph"].as_str().unwrap() {
            "M" => match e["name"].as_str().unwrap() {
                "thread_name" => {
                    named.insert((pid, tid));
                }
                "process_name" => {
                    procs.insert(pid, e["args"]["name"].as_str().unwrap().into());
                }
                _ => {}
            },
            "X" => {
                x += 1;
                let dur = e["dur"].as_f64().expect("X has dur");
                assert!(dur.is_finite() && dur >= 0.0, "{e}");
                used.insert((pid, tid));
                let s = (ts * 1000.0).round() as i64;
                per_track
                    .entry((pid, tid))
                    .or_default()
                    .push((s, s + (dur * 1000.0).round() as i64));
            }
            "C" => {
                c += 1;
                used.insert((pid, tid));
                let args = e["args"].as_object().unwrap();
                assert!(
                    args.values()
                        .all(|v| v.as_f64().is_some_and(f64::is_finite))
                );
            }
            other => panic!("unexpected ph {other}"),
        }
    }
    assert_eq!(x, spans.len());
    assert_eq!(c, 4 * 3, "NaN samples are dropped");
    assert_eq!(procs.len(), 4);
    assert_eq!(procs[&2], "device 2");
    for u in &used {
        assert!(named.contains(u), "(pid, tid) {u:?} has no thread_name");
    }
    // Nested or disjoint only, on every track.
    for (track, mut ivs) in per_track {
        ivs.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut stack: Vec<i64> = Vec::new();
        for (s, e) in ivs {
            while stack.last().is_some_and(|&top| top <= s) {
                stack.pop();
            }
            if let Some(&top) = stack.last() {
                assert!(
                    top >= e,
                    "partial overlap on {track:?}: ends {top} vs [{s}, {e}]"
                );
            }
            stack.push(e);
        }
    }
}

#[test]
fn tracks_are_named_in_order_and_overlaps_get_sub_tracks() {
    let (spans, counters) = sample();
    let ev = events(&perfetto::to_json(&spans, &counters).unwrap());
    let names: Vec<(u64, String)> = ev
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name" && e["pid"] == 0)
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        "counters",
        "compute",
        "dma",
        "dma #2",
        "link",
        "mem ch 0",
        "mem ch 0 #2",
        "mem ch 1",
        "mem ch 1 #2",
        "mem ch 10",
        "mem ch 10 #2",
    ];
    assert_eq!(
        names.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
        want
    );
    assert_eq!(names[0].0, 0);
    assert_eq!(names[1].0, 1);
    // The nested "row hit" stays on the burst's lane.
    let burst_tid = ev
        .iter()
        .find(|e| e["name"] == "burst" && e["pid"] == 0)
        .map(|e| e["tid"].clone());
    let hit_tid = ev
        .iter()
        .find(|e| e["name"] == "row hit" && e["pid"] == 0)
        .map(|e| e["tid"].clone());
    assert_eq!(burst_tid, hit_tid);
}

#[test]
fn output_is_deterministic_and_independent_of_input_order() {
    let (spans, counters) = sample();
    let a = perfetto::to_json(&spans, &counters).unwrap();
    assert_eq!(a, perfetto::to_json(&spans, &counters).unwrap());
    let mut rev = spans.clone();
    rev.reverse();
    let mut crev = counters.clone();
    crev.reverse();
    assert_eq!(a, perfetto::to_json(&rev, &crev).unwrap());
}

#[test]
fn bad_spans_are_rejected_and_empty_input_is_valid() {
    let e = perfetto::to_json(&[span(0, "c", "g", "x", 10.0, 5.0)], &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("spans[0]") && e.contains("before start"), "{e}");
    let e = perfetto::to_json(&[span(0, "c", "g", "x", f64::INFINITY, 5.0)], &[]);
    assert!(e.is_err());
    let empty = perfetto::to_json(&[], &[]).unwrap();
    assert!(events(&empty).is_empty());
}

#[test]
fn write_creates_the_file() {
    let d = tempfile::tempdir().unwrap();
    let (spans, counters) = sample();
    let p = d.path().join("sub/trace.json");
    perfetto::write(&p, &spans, &counters).unwrap();
    if let Some(keep) = std::env::var_os("T3SIM_PLOT_DIR") {
        perfetto::write(
            &std::path::Path::new(&keep).join("trace.json"),
            &spans,
            &counters,
        )
        .unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        perfetto::to_json(&spans, &counters).unwrap()
    );
}
