//! Replays a memory trace through a [`MemorySystem`] (`t3sim mem`).
//!
//! The frontend issues records in order, any number per cycle, each no
//! earlier than its cycle stamp; when the target channel's queue is full it
//! waits until that controller frees a slot (head-of-line blocking, as in
//! Ramulator's and DRAMsim3's trace frontends). Consecutive records that
//! fall in the same burst with the same operation are merged into one
//! request: Ramulator traces for HBM2 split each 64-B line into two 32-B
//! records, which one 64-B access serves.

use super::request::{Op, Request, Stream};
use super::system::{MemorySystem, Reject};
use super::trace_file::{TraceFormat, TraceReader, TraceRecord};
use crate::config::MemConfig;
use crate::error::{InputError, Location, Result};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// What `t3sim mem` reports (the top-level keys of its JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemReport {
    pub trace: String,
    pub preset: String,
    /// Trace records read.
    pub records: u64,
    /// Requests after merging records of the same burst.
    pub requests: u64,
    /// DRAM cycles from the first arrival to the last completion.
    pub cycles: u64,
    pub time_ns: f64,
    pub bandwidth_gbps: f64,
    pub peak_bandwidth_gbps: f64,
    pub avg_read_latency_ns: f64,
    pub read_latency_p50_ns: f64,
    pub read_latency_p90_ns: f64,
    pub read_latency_p99_ns: f64,
    pub read_latency_max_ns: f64,
    pub row_hit_rate: f64,
    pub activates: u64,
    pub refreshes: u64,
    /// GB/s of each channel over the whole run.
    pub channel_bandwidth_gbps: Vec<f64>,
    /// Bytes moved per stream (only streams that moved any).
    pub bytes_by_stream: std::collections::BTreeMap<String, u64>,
}

/// Replays `path` and reports.
pub fn replay_file(
    path: &Path,
    format: TraceFormat,
    cfg: &MemConfig,
    preset: &str,
) -> Result<MemReport> {
    let reader = TraceReader::open(path, format)?;
    replay(reader, cfg, preset)
}

/// The frontend's state between records.
struct Frontend<'a> {
    file: &'a str,
    burst: u64,
    /// `log2(burst)` when the access size is a power of two (every
    /// preset): a block is then a shift, not a division per record.
    shift: Option<u32>,
    records: u64,
    /// The request being merged: block, write, cycle, line.
    pending: Option<(u64, bool, u64, usize)>,
    /// The cycle the last request was taken.
    now: u64,
    /// The next request's tag (the requests submitted so far).
    tag: u64,
}

impl Frontend<'_> {
    /// Takes one record: merges it into the pending request or submits
    /// that and keeps this one pending. Inlined into the reader's loop: a
    /// call per record costs more than the work around it.
    #[inline(always)]
    fn record(&mut self, mem: &mut MemorySystem, r: TraceRecord) -> Result<()> {
        self.records += 1;
        let block = match self.shift {
            Some(s) => r.addr >> s,
            None => r.addr / self.burst,
        };
        if let Some((b, w, _, _)) = self.pending
            && b == block
            && w == r.write
        {
            return Ok(());
        }
        match self.pending.replace((block, r.write, r.cycle, r.line)) {
            Some(p) => self.submit(mem, p),
            None => Ok(()),
        }
    }

    /// Queues the request for `block` at the later of the last
    /// submission's cycle and `cycle`, issuing commands on its channel
    /// while it is full.
    #[inline(always)]
    fn submit(
        &mut self,
        mem: &mut MemorySystem,
        (block, write, cycle, line): (u64, bool, u64, usize),
    ) -> Result<()> {
        let req = Request {
            addr: block * self.burst,
            op: if write { Op::Write } else { Op::Read },
            stream: if write {
                Stream::TraceWrite
            } else {
                Stream::TraceRead
            },
            tag: self.tag,
        };
        self.tag += 1;
        match mem.enqueue_blocking(self.now.max(cycle), req) {
            Ok(t) => {
                self.now = t;
                Ok(())
            }
            Err(e) => Err(rejected(mem, e, self.file, line)),
        }
    }
}

/// The error for a request the memory system turned away for good.
#[cold]
#[inline(never)]
fn rejected(mem: &MemorySystem, e: Reject, file: &str, line: usize) -> crate::Error {
    match e {
        Reject::QueueFull { channel } => crate::Error::Deadlock(format!(
            "channel {channel} is full and cannot issue: {}",
            mem.describe().join("; ")
        )),
        Reject::OutOfRange { addr, capacity } => InputError::new(
            Location::at(file.to_string(), line, 1),
            "address",
            format!(
                "address {addr:#x} is beyond the memory's capacity of {capacity} bytes ({capacity:#x})"
            ),
        )
        .into(),
    }
}

/// Replays records from any reader.
pub fn replay<R: Read>(
    mut reader: TraceReader<R>,
    cfg: &MemConfig,
    preset: &str,
) -> Result<MemReport> {
    let mut mem =
        MemorySystem::new(cfg).map_err(|m| InputError::new(Location::file(preset), "mem", m))?;
    mem.discard_completions();
    let burst = mem.access_bytes();
    let file = reader.file().to_string();
    let mut front = Frontend {
        file: &file,
        burst,
        shift: burst.is_power_of_two().then(|| burst.trailing_zeros()),
        records: 0,
        pending: None,
        now: 0,
        tag: 0,
    };
    // Inlined into both formats' loops (see `Frontend::record`).
    reader.for_each_record(
        #[inline(always)]
        |r| front.record(&mut mem, r),
    )?;
    if let Some(p) = front.pending.take() {
        front.submit(&mut mem, p)?;
    }
    let (records, requests) = (front.records, front.tag);
    if records == 0 {
        // A run of nothing would report zero bandwidth and latency as if
        // measured: almost always the wrong file or an empty export.
        let msg = if reader.lines_read() == 0 {
            "file is empty (expected trace records)".to_string()
        } else {
            format!(
                "the trace has no records ({} lines of comments or blank lines)",
                reader.lines_read()
            )
        };
        return Err(InputError::new(Location::at(file, 1, 1), "", msg).into());
    }
    let end = mem.drain_all().max(1);
    if let Some(why) = mem.stall() {
        return Err(crate::Error::Deadlock(why.to_string()));
    }
    let stats = mem.finish(end);
    let tck_ns = cfg.timing.tck_ps as f64 / 1000.0;
    let time_ns = end as f64 * tck_ns;
    let total = stats.total();
    let lat = &stats.read_latency;
    let mut bytes_by_stream = std::collections::BTreeMap::new();
    for s in Stream::ALL {
        let b = stats.stream(s).bytes;
        if b > 0 {
            bytes_by_stream.insert(s.name().to_string(), b);
        }
    }
    Ok(MemReport {
        trace: reader.file().to_string(),
        preset: preset.to_string(),
        records,
        requests,
        cycles: end,
        time_ns,
        bandwidth_gbps: total.bytes as f64 / time_ns,
        peak_bandwidth_gbps: cfg.peak_gbps(),
        avg_read_latency_ns: lat.mean() * tck_ns,
        read_latency_p50_ns: lat.percentile(0.5) as f64 * tck_ns,
        read_latency_p90_ns: lat.percentile(0.9) as f64 * tck_ns,
        read_latency_p99_ns: lat.percentile(0.99) as f64 * tck_ns,
        read_latency_max_ns: lat.max() as f64 * tck_ns,
        row_hit_rate: total.row_hit_rate(),
        activates: total.activates,
        refreshes: total.refreshes,
        channel_bandwidth_gbps: stats
            .channels
            .iter()
            .map(|c| c.bytes as f64 / time_ns)
            .collect(),
        bytes_by_stream,
    })
}
