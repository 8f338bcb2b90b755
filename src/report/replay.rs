//! `report.json` of a replay: per mode, per device and in total, the times,
//! overlap, contention and data movement of DESIGN.md section 3. Units are
//! in field names. The schema is versioned by [`SCHEMA`].

use crate::config::HwConfig;
use crate::mem::{Stream, StreamClass};
use crate::modes::Mode;
use crate::stats::{Baselines, DevResult, SimResult};
use crate::trace::{CollectiveKind, GraphOp, OpGraph, OpKind, Trace};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the report layout; bump on any incompatible change.
pub const SCHEMA: &str = "t3sim-report/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    pub schema: String,
    pub trace: TraceInfo,
    pub preset: String,
    pub gemm_alone_ns: f64,
    pub rs_alone_ns: f64,
    /// Analytic ring bound: (n-1)/n * bytes / link bandwidth + (n-1) * latency.
    pub rs_analytic_ns: f64,
    /// max(FLOPs / peak, DRAM bytes / bandwidth) of one device's GEMM.
    pub gemm_roofline_ns: f64,
    pub modes: Vec<ModeReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceInfo {
    pub name: String,
    pub tp: u32,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub output_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeReport {
    pub mode: Mode,
    /// Sub-layer time: the last device to finish.
    pub time_ns: f64,
    /// t_sequential / t_mode.
    pub speedup: f64,
    /// 1 - t_mode / t_sequential.
    pub time_reduction: f64,
    /// Fraction of the shorter of GEMM-alone and RS-alone hidden.
    pub overlap: f64,
    pub total: DeviceReport,
    pub devices: Vec<DeviceReport>,
    /// Every device's timeline (written separately as Perfetto JSON; not
    /// part of report.json).
    #[serde(skip)]
    pub timeline: Vec<crate::report::TimelineSpan>,
    /// Counter tracks for Perfetto: per device DRAM bandwidth per stream;
    /// device 0 also per channel (not part of report.json).
    #[serde(skip)]
    pub counters: Vec<crate::report::CounterSeries>,
    /// Device 0's DRAM bandwidth over time per stream (for plots).
    #[serde(skip)]
    pub bandwidth: Vec<crate::report::BandwidthSeries>,
}

/// What one device (or the sum/maximum over devices, in `total`) did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceReport {
    /// Device index; `None` in totals.
    pub device: Option<u32>,
    pub time_ns: f64,
    pub gemm_ns: f64,
    pub rs_ns: f64,
    /// Time after the GEMM ended until the device finished.
    pub exposed_comm_ns: f64,
    /// GEMM time in this mode over GEMM alone.
    pub gemm_slowdown: f64,
    pub dram_bytes_by_stream: BTreeMap<String, u64>,
    pub dram_bytes: u64,
    /// DRAM bytes over those of `sequential` (1.0 for sequential itself).
    pub dram_bytes_vs_sequential: f64,
    pub row_hit_rate: f64,
    /// Mean requests queued per controller, by class.
    pub queue_occupancy_compute: f64,
    pub queue_occupancy_comm: f64,
    /// Mean arrival-to-command delay per stream.
    pub queue_delay_ns_by_stream: BTreeMap<String, f64>,
    pub arb_stall_cycles: u64,
    pub l2_hits: u64,
    pub l2_misses: u64,
    pub link_bytes_out: u64,
    pub link_utilisation: f64,
    pub compute_utilisation: f64,
    /// Time updates waited for a free tracker entry (back-pressure).
    pub tracker_backpressure_ns: f64,
    pub tracker_peak_occupancy: u32,
    /// t3-mca threshold derived from the first stage (t3-mca only).
    pub mca_threshold: Option<u32>,
}

fn ns(ps: u64) -> f64 {
    ps as f64 / 1000.0
}

fn device_report(
    d: &DevResult,
    gemm_alone_ns: f64,
    seq_bytes: Option<u64>,
    cus: u32,
) -> DeviceReport {
    let time_ns = ns(d.end_ps);
    let gemm_ns = d
        .gemm_end_ps
        .map(|e| ns(e - d.gemm_start_ps))
        .unwrap_or(0.0);
    let rs_ns = match (d.rs_start_ps, d.rs_end_ps) {
        (Some(s), Some(e)) => ns(e - s),
        _ => 0.0,
    };
    let mut by_stream = BTreeMap::new();
    let mut delay = BTreeMap::new();
    let tck_ns = d.mem_tck_ps as f64 / 1000.0;
    for s in Stream::ALL {
        let st = d.mem.stream(s);
        if st.bytes > 0 {
            by_stream.insert(s.name().to_string(), st.bytes);
            delay.insert(
                s.name().to_string(),
                st.queue_delay_cycles_sum as f64 / st.requests.max(1) as f64 * tck_ns,
            );
        }
    }
    let dram_bytes: u64 = by_stream.values().sum();
    let total = d.mem.total();
    let chans = d.mem.channels.len().max(1) as f64;
    let cycles = (time_ns / tck_ns).max(1.0);
    DeviceReport {
        device: Some(d.device),
        time_ns,
        gemm_ns,
        rs_ns,
        exposed_comm_ns: d
            .gemm_end_ps
            .map(|e| ns(d.end_ps.saturating_sub(e)))
            .unwrap_or(time_ns),
        gemm_slowdown: if gemm_alone_ns > 0.0 && gemm_ns > 0.0 {
            gemm_ns / gemm_alone_ns
        } else {
            0.0
        },
        dram_bytes_by_stream: by_stream,
        dram_bytes,
        dram_bytes_vs_sequential: seq_bytes.map_or(1.0, |s| dram_bytes as f64 / s.max(1) as f64),
        row_hit_rate: total.row_hit_rate(),
        queue_occupancy_compute: total.occupancy_compute_cycles as f64 / cycles / chans,
        queue_occupancy_comm: total.occupancy_comm_cycles as f64 / cycles / chans,
        queue_delay_ns_by_stream: delay,
        arb_stall_cycles: total.arb_stall_cycles,
        l2_hits: d.l2_hits,
        l2_misses: d.l2_misses,
        link_bytes_out: d.link_bytes_out,
        link_utilisation: if d.end_ps > 0 {
            d.link_busy_ps as f64 / d.end_ps as f64
        } else {
            0.0
        },
        compute_utilisation: if d.end_ps > 0 {
            d.compute_busy_ps as f64 / (d.end_ps as f64 * cus as f64)
        } else {
            0.0
        },
        tracker_backpressure_ns: ns(d.tracker_stall_ps),
        tracker_peak_occupancy: d.tracker_peak_occupancy,
        mca_threshold: d.mca_threshold,
    }
}

/// Sums (bytes, counts) and takes maxima (times) over devices.
fn total_of(devs: &[DeviceReport]) -> DeviceReport {
    let n = devs.len().max(1) as f64;
    let mut t = devs[0].clone();
    t.device = None;
    for d in &devs[1..] {
        t.time_ns = t.time_ns.max(d.time_ns);
        t.gemm_ns = t.gemm_ns.max(d.gemm_ns);
        t.rs_ns = t.rs_ns.max(d.rs_ns);
        t.exposed_comm_ns = t.exposed_comm_ns.max(d.exposed_comm_ns);
        t.gemm_slowdown = t.gemm_slowdown.max(d.gemm_slowdown);
        for (k, v) in &d.dram_bytes_by_stream {
            *t.dram_bytes_by_stream.entry(k.clone()).or_default() += v;
        }
        t.dram_bytes += d.dram_bytes;
        t.arb_stall_cycles += d.arb_stall_cycles;
        t.l2_hits += d.l2_hits;
        t.l2_misses += d.l2_misses;
        t.link_bytes_out += d.link_bytes_out;
        t.row_hit_rate += d.row_hit_rate;
        t.queue_occupancy_compute += d.queue_occupancy_compute;
        t.queue_occupancy_comm += d.queue_occupancy_comm;
        t.link_utilisation += d.link_utilisation;
        t.compute_utilisation += d.compute_utilisation;
        t.tracker_backpressure_ns += d.tracker_backpressure_ns;
        t.tracker_peak_occupancy = t.tracker_peak_occupancy.max(d.tracker_peak_occupancy);
        for (k, v) in &d.queue_delay_ns_by_stream {
            *t.queue_delay_ns_by_stream.entry(k.clone()).or_default() += v;
        }
    }
    // Rates and means are averaged over devices.
    t.row_hit_rate /= n;
    t.queue_occupancy_compute /= n;
    t.queue_occupancy_comm /= n;
    t.link_utilisation /= n;
    t.compute_utilisation /= n;
    for v in t.queue_delay_ns_by_stream.values_mut() {
        *v /= n;
    }
    t
}

/// Bytes of communication-class streams (for summaries).
pub fn comm_bytes(d: &DeviceReport) -> u64 {
    d.dram_bytes_by_stream
        .iter()
        .filter(|(k, _)| {
            Stream::ALL
                .iter()
                .any(|s| s.name() == k.as_str() && s.class() == StreamClass::Comm)
        })
        .map(|(_, v)| v)
        .sum()
}

/// The no-contention bound of the graph: its critical path with every op
/// taking its time alone, except that a GEMM and the collective that
/// reduces its output take the longer of the two together (they overlap
/// perfectly).
fn ideal_time_ns(graph: &OpGraph, base: &Baselines) -> f64 {
    let w = |op: usize| ns(base.alone[op].end_ps);
    let mut finish = vec![0.0f64; graph.len()];
    let fused: Vec<Option<usize>> = graph
        .ops()
        .iter()
        .map(|o| {
            o.collective()
                .filter(|c| {
                    matches!(
                        c.kind,
                        CollectiveKind::ReduceScatter | CollectiveKind::AllReduce
                    )
                })
                .and_then(|c| c.gemm)
        })
        .collect();
    for o in graph.ops() {
        let ready =
            |deps: &mut dyn Iterator<Item = usize>| deps.map(|d| finish[d]).fold(0.0, f64::max);
        finish[o.index] = match fused[o.index] {
            Some(g) => {
                let gemm_start = finish[g] - w(g);
                let others = ready(&mut o.deps.iter().copied().filter(|&d| d != g));
                (gemm_start + w(g).max(w(o.index))).max(others + w(o.index))
            }
            None => ready(&mut o.deps.iter().copied()) + w(o.index),
        };
    }
    finish.into_iter().fold(0.0, f64::max)
}

/// Builds the report from the isolated runs and each mode's run (`None`
/// for ideal, which is derived).
pub fn build(
    trace: &Trace,
    cfg: &HwConfig,
    base: &Baselines,
    runs: &[(Mode, Option<SimResult>)],
) -> ReplayReport {
    let graph = OpGraph::new(trace).expect("a replayed trace is valid");
    let first_gemm = trace.gemm();
    let n = trace.tp;
    // Totals over the graph's ops (for a sub-layer trace: its GEMM and its
    // reduce-scatter).
    let is_gemm = |op: &GraphOp| matches!(op.kind, OpKind::Gemm(_));
    let is_comm = |op: &GraphOp| {
        matches!(
            op.kind,
            OpKind::Collective(_) | OpKind::Send(_) | OpKind::Recv(_)
        )
    };
    let alone_of = |op: usize| ns(base.alone[op].end_ps);
    let sum_alone = |f: &dyn Fn(&GraphOp) -> bool| -> f64 {
        graph
            .ops()
            .iter()
            .filter(|o| f(o))
            .map(|o| alone_of(o.index))
            .sum()
    };
    let gemm_alone_ns = sum_alone(&is_gemm);
    let rs_alone_ns = sum_alone(&is_comm);
    let other_alone_ns = sum_alone(&|o| !is_gemm(o) && !is_comm(o));
    let bw = cfg.link.bw_gbps_per_dir;
    let rs_analytic_ns: f64 = graph
        .ops()
        .iter()
        .filter_map(|o| o.collective().map(|c| (o.devices.len() as f64, c)))
        .map(|(k, c)| {
            let passes = match c.kind {
                CollectiveKind::AllReduce => 2.0,
                _ => 1.0,
            };
            passes
                * ((k - 1.0) / k * c.buffer_bytes as f64 / bw
                    + (k - 1.0) * cfg.link.latency_ns as f64)
        })
        .sum();
    let peak_flops_per_ns =
        cfg.gpu.cus as f64 * cfg.gpu.flops_per_cycle_per_cu as f64 * cfg.gpu.clock_mhz as f64
            / 1000.0;
    let gemm_roofline_ns: f64 = graph
        .ops()
        .iter()
        .filter_map(|o| o.gemm())
        .map(|g| {
            let min_bytes = g.a_bytes() + g.b_bytes() + g.output_bytes();
            (g.flops() as f64 / peak_flops_per_ns).max(min_bytes as f64 / cfg.mem.peak_gbps())
        })
        .sum();
    let gemm_alone_dev = |i: usize| -> f64 {
        graph
            .ops()
            .iter()
            .filter(|o| is_gemm(o))
            .map(|o| ns(base.alone[o.index].devices[i].end_ps))
            .sum()
    };
    let per_dev = |r: &SimResult, seq: Option<&[DeviceReport]>| -> Vec<DeviceReport> {
        r.devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                device_report(
                    d,
                    gemm_alone_dev(i),
                    seq.map(|s| s[i].dram_bytes),
                    cfg.gpu.cus,
                )
            })
            .collect()
    };
    let ideal_ns = ideal_time_ns(&graph, base);
    let seq_devs: Option<Vec<DeviceReport>> = runs
        .iter()
        .find(|(m, _)| *m == Mode::Sequential)
        .and_then(|(_, r)| r.as_ref())
        .map(|r| per_dev(r, None));
    let t_seq = seq_devs
        .as_ref()
        .map(|d| d.iter().map(|x| x.time_ns).fold(0.0, f64::max));
    let mut modes = Vec::new();
    for (mode, run) in runs {
        let timeline: Vec<crate::report::TimelineSpan> = run
            .iter()
            .flat_map(|r| r.devices.iter().flat_map(|d| d.spans.iter().cloned()))
            .collect();
        let mut counters = Vec::new();
        let mut bandwidth = Vec::new();
        if let Some(r) = run {
            for d in &r.devices {
                for s in d.bandwidth.iter().filter(|s| s.stream != "total") {
                    counters.push(crate::report::CounterSeries::from_bandwidth(d.device, s));
                }
            }
            if let Some(d0) = r.devices.first() {
                for s in &d0.channel_bandwidth {
                    counters.push(crate::report::CounterSeries::from_bandwidth(d0.device, s));
                }
                bandwidth = d0.bandwidth.clone();
            }
        }
        let (time_ns, devices) = match run {
            Some(r) => {
                let devs = per_dev(r, seq_devs.as_deref());
                (ns(r.end_ps), devs)
            }
            None => {
                // Ideal: the no-contention bound, per device the larger of
                // its isolated GEMM and reduce-scatter (for a graph, the
                // longest of its ops alone, the time the critical path).
                let (gi, ri) = graph.single_pair().unwrap_or_else(|| {
                    let longest = (0..base.alone.len())
                        .max_by_key(|&o| base.alone[o].end_ps)
                        .unwrap_or(0);
                    (longest, longest)
                });
                let devs: Vec<DeviceReport> = (0..n as usize)
                    .map(|i| {
                        let gd = &base.alone[gi].devices[i];
                        let rd = &base.alone[ri].devices[i];
                        let mut d = device_report(
                            if gd.end_ps >= rd.end_ps { gd } else { rd },
                            ns(gd.end_ps),
                            None,
                            cfg.gpu.cus,
                        );
                        d.time_ns = ns(gd.end_ps.max(rd.end_ps));
                        d.gemm_ns = ns(gd.end_ps);
                        d.rs_ns = ns(rd.end_ps);
                        d.exposed_comm_ns = (d.rs_ns - d.gemm_ns).max(0.0);
                        d.gemm_slowdown = 1.0;
                        d
                    })
                    .collect();
                (ideal_ns, devs)
            }
        };
        let mut total = total_of(&devices);
        if let Some(seq) = &seq_devs {
            let seq_bytes: u64 = seq.iter().map(|d| d.dram_bytes).sum();
            total.dram_bytes_vs_sequential = total.dram_bytes as f64 / seq_bytes.max(1) as f64;
        }
        let t_seq = t_seq.unwrap_or(time_ns);
        let shorter = gemm_alone_ns.min(rs_alone_ns);
        let overlap = if shorter > 0.0 {
            ((gemm_alone_ns + rs_alone_ns + other_alone_ns - time_ns) / shorter).clamp(0.0, 1.0)
        } else {
            0.0
        };
        modes.push(ModeReport {
            mode: *mode,
            time_ns,
            speedup: t_seq / time_ns,
            time_reduction: 1.0 - time_ns / t_seq,
            overlap,
            total,
            devices,
            timeline,
            counters,
            bandwidth,
        });
    }
    ReplayReport {
        schema: SCHEMA.into(),
        trace: TraceInfo {
            name: trace.name.clone(),
            tp: n,
            m: first_gemm.map_or(0, |g| g.m),
            n: first_gemm.map_or(0, |g| g.n),
            k: first_gemm.map_or(0, |g| g.k),
            output_bytes: first_gemm.map_or(0, |g| g.output_bytes()),
        },
        preset: cfg.name.clone(),
        gemm_alone_ns,
        rs_alone_ns,
        rs_analytic_ns,
        gemm_roofline_ns,
        modes,
    }
}
