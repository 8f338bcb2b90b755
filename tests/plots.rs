//! Plots: both files written, PNG decodes at the stated size, SVG names what
//! it shows, output is byte-identical across runs, empty and NaN input is
//! handled, and bad sweep columns are clear errors.
//!
//! Set `T3SIM_PLOT_DIR` to keep the plots for a look.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use t3sim::report::plot::{self, *};
use t3sim::report::*;

fn out_dir(test: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("T3SIM_PLOT_DIR") {
        Some(d) => {
            let p = PathBuf::from(d).join(test);
            std::fs::create_dir_all(&p).unwrap();
            (None, p)
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn png_size(path: &Path) -> (u32, u32) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = dec.read_info().unwrap();
    let info = reader.info();
    (info.width, info.height)
}

/// Checks both files exist and are sane; returns the SVG text.
fn check_files(files: &[PathBuf]) -> String {
    assert_eq!(files.len(), 2, "{files:?}");
    let png = files
        .iter()
        .find(|p| p.extension().unwrap() == "png")
        .unwrap();
    let svg = files
        .iter()
        .find(|p| p.extension().unwrap() == "svg")
        .unwrap();
    let (w, h) = png_size(png);
    let text = std::fs::read_to_string(svg).unwrap();
    assert!(text.starts_with("<svg"), "{}", &text[..40.min(text.len())]);
    assert!(text.contains(&format!("width=\"{w}\"")) && text.contains(&format!("height=\"{h}\"")));
    text
}

fn fused_timeline(devices: u32) -> Vec<TimelineSpan> {
    let mut s = Vec::new();
    let span = |d: u32, track: &str, cat: &str, label: String, a: f64, b: f64| TimelineSpan {
        device: d,
        track: track.into(),
        category: cat.into(),
        label,
        start_ns: a,
        end_ns: b,
    };
    for d in 0..devices {
        let skew = d as f64 * 350.0;
        for st in 0..devices {
            let a = skew + st as f64 * 9000.0;
            let chunk = (d + st + 1) % devices;
            s.push(span(
                d,
                "compute",
                "gemm",
                format!("stage {} (chunk {chunk})", st + 1),
                a,
                a + 8800.0,
            ));
            if st > 0 && st + 1 < devices {
                s.push(span(
                    d,
                    "dma",
                    "dma",
                    format!("dma chunk {chunk}"),
                    a + 6000.0,
                    a + 13500.0,
                ));
            }
            if st + 1 < devices {
                s.push(span(
                    d,
                    "link",
                    "link",
                    format!("send chunk {chunk}"),
                    a + 500.0,
                    a + 9900.0,
                ));
            }
            for ch in 0..2 {
                let b = a + ch as f64 * 400.0;
                s.push(span(
                    d,
                    &format!("mem ch {ch}"),
                    "gemm-read",
                    "reads".into(),
                    b,
                    b + 7000.0,
                ));
                s.push(span(
                    d,
                    &format!("mem ch {ch}"),
                    "nmc-update",
                    "updates".into(),
                    b + 5000.0,
                    b + 9800.0,
                ));
            }
        }
        s.push(span(
            d,
            "compute",
            "gemm",
            "tail".into(),
            devices as f64 * 9000.0 + skew,
            devices as f64 * 9000.0 + skew + 3.0,
        ));
    }
    s
}

fn speedups() -> Vec<SpeedupRow> {
    let table = [
        ("OP", [1.0, 1.42, 1.08, 1.24, 1.33, 1.12]),
        ("FC-2", [1.0, 1.51, 1.10, 1.30, 1.41, 1.15]),
        ("FC-1", [1.0, 1.55, 1.11, 1.31, 1.43, 1.14]),
        ("IP", [1.0, 1.47, 1.09, 1.27, 1.38, f64::NAN]),
    ];
    let modes = [
        "sequential",
        "ideal",
        "rs-nmc",
        "t3",
        "t3-mca",
        "sw-overlap",
    ];
    let mut rows = Vec::new();
    for (sub, vals) in table {
        // Modes in a scrambled order: the plot orders them itself.
        for k in [3, 0, 5, 1, 4, 2] {
            rows.push(SpeedupRow {
                sublayer: sub.into(),
                mode: modes[k].into(),
                speedup: vals[k],
            });
        }
    }
    rows
}

fn bandwidth_series() -> Vec<BandwidthSeries> {
    let wave = |f: &dyn Fn(f64) -> f64| {
        (0..=200)
            .map(|i| i as f64 * 0.5)
            .map(|t| (t, f(t)))
            .collect()
    };
    vec![
        BandwidthSeries {
            stream: "nmc-update".into(),
            points: wave(&|t| {
                if t > 20.0 {
                    180.0 + 40.0 * (t / 7.0).sin()
                } else {
                    0.0
                }
            }),
        },
        BandwidthSeries {
            stream: "gemm-read".into(),
            points: wave(&|t| 620.0 + 90.0 * (t / 5.0).sin()),
        },
        BandwidthSeries {
            stream: "dma-read".into(),
            points: wave(&|t| {
                if (40.0..42.0).contains(&t) {
                    f64::NAN
                } else {
                    90.0 + 30.0 * (t / 3.0).cos()
                }
            }),
        },
        BandwidthSeries {
            stream: "gemm-write".into(),
            points: wave(&|t| 110.0 + 20.0 * (t / 4.0).cos()),
        },
    ]
}

fn traffic_rows() -> Vec<TrafficRow> {
    let mut rows = Vec::new();
    let per_mode = [
        ("sequential", [210e6, 60e6, 120e6, 60e6, 0.0, 0.0]),
        ("rs-nmc", [210e6, 60e6, 0.0, 0.0, 60e6, 60e6]),
        ("t3", [210e6, 0.0, 0.0, 0.0, 120e6, 60e6]),
        ("t3-mca", [212e6, 0.0, 0.0, 0.0, 120e6, 60e6]),
    ];
    let streams = [
        "gemm-read",
        "gemm-write",
        "rs-read",
        "rs-write",
        "nmc-update",
        "dma-read",
    ];
    for (m, b) in per_mode {
        for (k, s) in streams.iter().enumerate() {
            if b[k] > 0.0 {
                // Two devices: rows add up.
                for _ in 0..2 {
                    rows.push(TrafficRow {
                        mode: m.into(),
                        stream: s.to_string(),
                        bytes: b[k] / 2.0,
                    });
                }
            }
        }
    }
    rows
}

/// A table as `t3sim sweep` writes it.
fn sweep_table() -> SweepTable {
    let mut csv = String::from("link.bw_gbps_per_dir,t3.tracker_entries,mode,time_ns,speedup\n");
    for bw in [37.5, 75.0, 150.0, 300.0] {
        for e in [32, 64, 128, 256] {
            for m in ["t3", "t3-mca"] {
                let t = (1.0e6 / bw + 5.0e4 / e as f64) * if m == "t3-mca" { 0.9 } else { 1.0 };
                let sp = 40000.0 / t;
                csv.push_str(&format!("{bw},{e},{m},{t},{sp}\n"));
            }
        }
    }
    SweepTable::from_csv("sweep.csv", &csv).unwrap()
}

#[test]
fn timeline_draws_every_device_and_track() {
    let (_t, dir) = out_dir("timeline");
    let spans = fused_timeline(4);
    let opts = TimelineOptions {
        title: "Fused GEMM + RS, 4 devices".into(),
        ..Default::default()
    };
    let files = plot::timeline(&spans, &opts, &dir.join("timeline")).unwrap();
    let svg = check_files(&files);
    for s in [
        "device 0",
        "device 3",
        "compute",
        "link #2",
        "mem ch 1 #2",
        "time (µs)",
        "nmc-update",
        "Fused GEMM",
    ] {
        assert!(svg.contains(s), "missing {s}");
    }
    // Window and device filter.
    let opts = TimelineOptions {
        devices: vec![1],
        start_ns: Some(5000.0),
        end_ns: Some(20000.0),
        ..Default::default()
    };
    let svg = check_files(&plot::timeline(&spans, &opts, &dir.join("timeline-window")).unwrap());
    assert!(svg.contains("device 1") && !svg.contains("device 0"));
    // Many devices shrink rows instead of growing without bound.
    let big = fused_timeline(32);
    let files =
        plot::timeline(&big, &TimelineOptions::default(), &dir.join("timeline-32")).unwrap();
    check_files(&files);
    assert!(png_size(&files[0]).1 <= 2100, "{:?}", png_size(&files[0]));
}

#[test]
fn speedup_bars_with_geomean() {
    let (_t, dir) = out_dir("speedup");
    let files = plot::speedup_bars(
        &speedups(),
        &SpeedupOptions::default(),
        &dir.join("speedup"),
    )
    .unwrap();
    let svg = check_files(&files);
    for s in [
        "geomean",
        "FC-2",
        "t3-mca",
        "sw-overlap",
        "Speedup over sequential",
        "1.43",
    ] {
        assert!(svg.contains(s), "missing {s}");
    }
    let mut dup = speedups();
    dup.push(dup[0].clone());
    let e = plot::speedup_bars(&dup, &SpeedupOptions::default(), &dir.join("x")).unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
}

#[test]
fn bandwidth_lines_and_traffic_stacks() {
    let (_t, dir) = out_dir("bandwidth");
    let opts = BandwidthOptions {
        peak_gbps: Some(1024.0),
        ..Default::default()
    };
    let svg =
        check_files(&plot::bandwidth(&bandwidth_series(), &opts, &dir.join("bandwidth")).unwrap());
    for s in [
        "gemm-read",
        "dma-read",
        "peak 1024 GB/s",
        "bandwidth (GB/s)",
        "time (µs)",
    ] {
        assert!(svg.contains(s), "missing {s}");
    }
    for (name, scale) in [
        ("traffic-abs", TrafficScale::Absolute),
        ("traffic-share", TrafficScale::Share),
        ("traffic-rel", TrafficScale::RelativeTo("sequential".into())),
    ] {
        let opts = TrafficOptions {
            scale,
            ..Default::default()
        };
        let svg = check_files(&plot::traffic(&traffic_rows(), &opts, &dir.join(name)).unwrap());
        assert!(svg.contains("nmc-update") && svg.contains("rs-write"));
        if name == "traffic-abs" {
            assert!(
                svg.contains("DRAM traffic (MB)") && svg.contains("450 MB"),
                "{name}"
            );
        }
        if name == "traffic-rel" {
            assert!(svg.contains("0.87×"), "{name}");
        }
    }
    let opts = TrafficOptions {
        scale: TrafficScale::RelativeTo("ideal".into()),
        ..Default::default()
    };
    let e = plot::traffic(&traffic_rows(), &opts, &dir.join("x")).unwrap_err();
    assert!(e.to_string().contains("`ideal` has no traffic rows"), "{e}");
}

#[test]
fn sweep_line_and_heatmap() {
    let (_t, dir) = out_dir("sweep");
    let table = sweep_table();
    let line = SweepLineOptions {
        x: "link.bw_gbps_per_dir".into(),
        y: "speedup".into(),
        series: Some("t3.tracker_entries".into()),
        filter: BTreeMap::from([("mode".into(), "t3-mca".into())]),
        title: "t3-mca speedup vs link bandwidth".into(),
        x_label: "link bandwidth per direction (GB/s)".into(),
        ..Default::default()
    };
    let svg = check_files(&plot::sweep_line(&table, &line, &dir.join("line")).unwrap());
    assert!(svg.contains("t3.tracker_entries = 256"));
    let cat = SweepLineOptions {
        x_categorical: true,
        series: Some("mode".into()),
        filter: BTreeMap::from([("t3.tracker_entries".into(), "64".into())]),
        ..line.clone()
    };
    let svg = check_files(&plot::sweep_line(&table, &cat, &dir.join("line-cat")).unwrap());
    assert!(svg.contains("37.5") && svg.contains("300"));

    let heat = HeatmapOptions {
        x: "link.bw_gbps_per_dir".into(),
        y: "t3.tracker_entries".into(),
        value: "time_ns".into(),
        filter: BTreeMap::from([("mode".into(), "t3".into())]),
        ..Default::default()
    };
    let svg = check_files(&plot::sweep_heatmap(&table, &heat, &dir.join("heatmap")).unwrap());
    assert!(
        svg.contains("28229") || svg.contains("28230"),
        "cell values are written"
    );

    // Without the mode filter, two rows share every cell: a clear error.
    let e = plot::sweep_heatmap(
        &table,
        &HeatmapOptions {
            filter: BTreeMap::new(),
            ..heat.clone()
        },
        &dir.join("x"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("still vary: mode"), "{e}");
    let e = plot::sweep_line(
        &table,
        &SweepLineOptions {
            y: "tme_ns".into(),
            ..line
        },
        &dir.join("x"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no column `tme_ns`") && e.contains("time_ns"),
        "{e}"
    );
}

#[test]
fn same_input_gives_identical_bytes() {
    let (_t, dir) = out_dir("determinism");
    let a = plot::speedup_bars(&speedups(), &SpeedupOptions::default(), &dir.join("a")).unwrap();
    let b = plot::speedup_bars(&speedups(), &SpeedupOptions::default(), &dir.join("b")).unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{x:?}"
        );
    }
    let a = plot::timeline(
        &fused_timeline(3),
        &TimelineOptions::default(),
        &dir.join("ta"),
    )
    .unwrap();
    let b = plot::timeline(
        &fused_timeline(3),
        &TimelineOptions::default(),
        &dir.join("tb"),
    )
    .unwrap();
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{x:?}"
        );
    }
}

#[test]
fn empty_and_nan_input_give_valid_plots() {
    let (_t, dir) = out_dir("empty");
    let svg = check_files(
        &plot::timeline(&[], &TimelineOptions::default(), &dir.join("timeline")).unwrap(),
    );
    assert!(svg.contains("no spans to show"));
    let svg = check_files(
        &plot::speedup_bars(&[], &SpeedupOptions::default(), &dir.join("speedup")).unwrap(),
    );
    assert!(svg.contains("no data"));
    let svg =
        check_files(&plot::bandwidth(&[], &BandwidthOptions::default(), &dir.join("bw")).unwrap());
    assert!(svg.contains("no data"));
    let svg =
        check_files(&plot::traffic(&[], &TrafficOptions::default(), &dir.join("traffic")).unwrap());
    assert!(svg.contains("no data"));
    let nan = vec![BandwidthSeries {
        stream: "gemm-read".into(),
        points: vec![(f64::NAN, 1.0), (1.0, f64::NAN)],
    }];
    let svg = check_files(
        &plot::bandwidth(&nan, &BandwidthOptions::default(), &dir.join("nan")).unwrap(),
    );
    assert!(svg.contains("no data"));
    let all_nan = vec![SpeedupRow {
        sublayer: "OP".into(),
        mode: "t3".into(),
        speedup: f64::NAN,
    }];
    check_files(
        &plot::speedup_bars(&all_nan, &SpeedupOptions::default(), &dir.join("nan-bars")).unwrap(),
    );
    let mut table = sweep_table();
    for r in &mut table.rows {
        r[3] = Cell::Num(f64::NAN);
    }
    let heat = HeatmapOptions {
        x: "link.bw_gbps_per_dir".into(),
        y: "t3.tracker_entries".into(),
        value: "time_ns".into(),
        filter: BTreeMap::from([("mode".into(), "t3".into())]),
        ..Default::default()
    };
    let svg = check_files(&plot::sweep_heatmap(&table, &heat, &dir.join("nan-heat")).unwrap());
    assert!(svg.contains("n/a"));
    let bad = vec![TimelineSpan {
        device: 0,
        track: "compute".into(),
        category: "gemm".into(),
        label: "x".into(),
        start_ns: f64::NAN,
        end_ns: 1.0,
    }];
    assert!(plot::timeline(&bad, &TimelineOptions::default(), &dir.join("bad")).is_err());
}
