//! What a simulated run produced, as plain data: per-device results, the
//! timeline spans and bandwidth series the report layer draws. Nothing
//! here knows how the run was simulated; the report is built from it.

pub mod bandwidth;

use crate::engine::Ps;
use crate::mem::MemStats;
use serde::{Deserialize, Serialize};

pub use bandwidth::BandwidthBins;

/// Per-device results of one simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct DevResult {
    pub device: u32,
    pub end_ps: Ps,
    pub gemm_start_ps: Ps,
    pub gemm_end_ps: Option<Ps>,
    pub rs_start_ps: Option<Ps>,
    pub rs_end_ps: Option<Ps>,
    pub mem: MemStats,
    pub mem_tck_ps: u64,
    pub l2_hits: u64,
    pub l2_misses: u64,
    pub link_bytes_out: u64,
    pub link_busy_ps: Ps,
    pub compute_busy_ps: Ps,
    /// Time updates waited for a free tracker entry.
    pub tracker_stall_ps: Ps,
    pub tracker_peak_occupancy: u32,
    /// The t3-mca threshold this device derived, if any.
    pub mca_threshold: Option<u32>,
    /// What the device did when: GEMM stages, the collective, link and DMA
    /// busy periods (for Perfetto and timeline plots).
    pub spans: Vec<TimelineSpan>,
    /// DRAM bandwidth over time per stream (and `total`).
    pub bandwidth: Vec<BandwidthSeries>,
    /// DRAM bandwidth over time per channel.
    pub channel_bandwidth: Vec<BandwidthSeries>,
    /// When each op of the trace ran on the device (ops it ran, in graph
    /// order).
    pub ops: Vec<OpTime>,
}

/// When one op ran on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct OpTime {
    /// Index in the trace's op graph.
    pub op: usize,
    pub start_ps: Ps,
    pub end_ps: Ps,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct SimResult {
    pub devices: Vec<DevResult>,
    pub end_ps: Ps,
    /// Events processed (for speed figures).
    pub events: u64,
    /// Simulated as one device standing for all (the ring is symmetric).
    pub symmetric: bool,
}

/// The isolated runs every comparison needs: each op of the trace alone,
/// by its index in the op graph.
#[derive(Debug, Clone)]
pub struct Baselines {
    pub alone: Vec<SimResult>,
}

/// Busy periods of one resource, merged when they overlap or nearly touch
/// so that a continuously busy resource is one span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusySpans(Vec<(Ps, Ps)>);

impl BusySpans {
    /// Gaps shorter than this join two periods (100 ns).
    const GAP_PS: Ps = 100_000;

    pub fn add(&mut self, start: Ps, end: Ps) {
        match self.0.last_mut() {
            Some(last) if start <= last.1 + Self::GAP_PS => last.1 = last.1.max(end),
            _ => self.0.push((start, end)),
        }
    }

    pub fn spans(&self) -> &[(Ps, Ps)] {
        &self.0
    }
}

/// One busy interval on one track of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineSpan {
    pub device: u32,
    /// The row it is drawn on: `compute`, `rs`, `dma`, `link`, `mem ch 3`...
    pub track: String,
    /// What kind of work, which decides the colour: `gemm`, `rs`, `dma`,
    /// `link`, `nmc-update`, a stream name...
    pub category: String,
    /// Shown on hover in Perfetto and inside wide bars in plots.
    pub label: String,
    pub start_ns: f64,
    pub end_ns: f64,
}

/// DRAM bandwidth of one stream over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandwidthSeries {
    /// `gemm-read`, `gemm-write`, `rs-read`, `rs-write`, `nmc-update`,
    /// `dma-read`, or `total`.
    pub stream: String,
    /// `(time_us, gbps)` samples, in time order.
    pub points: Vec<(f64, f64)>,
}

/// A counter track for the Perfetto export (bandwidth, queue occupancy...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterSeries {
    pub device: u32,
    /// Track name, for example `DRAM gemm-read`.
    pub name: String,
    /// Unit shown next to the name, for example `GB/s`.
    pub unit: String,
    /// `(time_ns, value)` samples; the value holds until the next sample.
    pub points: Vec<(f64, f64)>,
}

impl CounterSeries {
    /// A device's bandwidth series as a counter (`time_us` becomes ns).
    pub fn from_bandwidth(device: u32, s: &BandwidthSeries) -> Self {
        CounterSeries {
            device,
            name: format!("DRAM {}", s.stream),
            unit: "GB/s".into(),
            points: s.points.iter().map(|&(t, v)| (t * 1000.0, v)).collect(),
        }
    }
}
