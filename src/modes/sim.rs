//! The event-driven simulation of a whole ring: every device's GEMM tiles
//! on its CUs, its L2, its HBM memory system, its links, and the
//! reduce-scatter, under one global event queue in picoseconds.
//!
//! Bookkeeping pattern: anything that waits for a group of memory requests
//! is an [`Op`] with a countdown of outstanding requests and what to do when
//! it reaches zero ([`Then`]). A request's tag is its op's index, so a
//! completion finds its op in O(1) and no per-request state is kept.

use super::plan::{Plan, RsKind};
use crate::config::HwConfig;
use crate::engine::{Clock, EventKey, EventQueue, Ps};
use crate::error::{Error, Result};
use crate::gpu::gemm::{GemmGeom, LINE};
use crate::gpu::l2::L2;
use crate::mem::{MemStats, MemorySystem, Op as MemOp, Request, Stream};
use crate::net::link::{Link, LinkError};
use crate::net::topology::{Dir, Ring};
use crate::t3::tracker::{Tracker, TrackerIn};
use crate::trace::Trace;
use std::collections::HashMap;

/// An exact integer signature of a contribution, summed with wrapping
/// arithmetic so the functional check is independent of summation order.
/// Device `d`'s contribution to tile `t` is `signature(t - d * per_chunk
/// mod tiles)`: every device's contributions to a tile differ (so a lost or
/// doubled one changes the sum), and the ring's devices are rotations of
/// each other, which the symmetric shortcut relies on.
pub fn signature(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Debug, Clone)]
enum Then {
    /// An L2 block fill of the block at `addr`; the listed (slot, step)
    /// wait for it.
    Fill { addr: u64, waiters: Vec<(u32, u64)> },
    /// A tile's output stores.
    Store { tile: u64 },
    /// Reads feeding the send of (step, slice).
    SendRead { step: u32, slice: u32 },
    /// All of (step, slice) received has landed in memory.
    Recv { step: u32, slice: u32 },
    /// Reads of the last step's received slice and the own partial.
    FinalRead { slice: u32 },
    /// The reduced final slice is written.
    FinalWrite { slice: u32 },
    /// Every update to a tracked tile (local and remote) is performed.
    TileUpdates { tile: u64 },
    /// The DMA engine read a triggered tile (started at `start`).
    DmaRead { tile: u64, start: Ps },
}

#[derive(Debug, Clone)]
struct Op {
    remaining: u64,
    done_at: Ps,
    then: Then,
}

/// k-steps ride as `u32` (checked in `Sim::new`) so an event is 16 bytes
/// and a queue entry 32: the heap moves entries on every pop.
#[derive(Debug, Clone)]
enum Ev {
    MemWake {
        dev: u32,
    },
    OpDone {
        dev: u32,
        op: u32,
    },
    StepData {
        dev: u32,
        slot: u32,
        k: u32,
    },
    StepDone {
        dev: u32,
        slot: u32,
        k: u32,
    },
    BlockReady {
        dev: u32,
        slot: u32,
        k: u32,
    },
    /// The next packet of a link's arrivals (`Sim::arrivals`) lands.
    Arrival {
        link: u32,
    },
    /// A packet landing out of its link's order (not expected: a link's
    /// arrivals are in time order).
    Packet(Box<Packet>),
    SendRetry {
        dev: u32,
    },
}

const _: () = assert!(std::mem::size_of::<Ev>() <= 16);

/// What a transfer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// A reduce-scatter slice of a step.
    Slice { step: u32, slice: u32 },
    /// A T3 output tile (remote-mapped stores or a triggered DMA).
    Tile { tile: u64 },
}

#[derive(Debug, Clone)]
struct Packet {
    dst: u32,
    /// The link it crossed (its credit goes back there).
    link: usize,
    unit: Unit,
    /// Byte offset within the slice.
    offset: u64,
    bytes: u32,
    /// The slice's tile values ride on its last packet.
    vals: Option<Vec<u64>>,
}

#[derive(Debug, Clone, Default)]
struct Slot {
    tile: u64,
    cu: u32,
    pending: [u8; 2],
    ready: [Ps; 2],
}

/// A unit being transmitted, packet by packet.
#[derive(Debug, Clone)]
struct Tx {
    unit: Unit,
    sent: u64,
    bytes: u64,
    vals: Vec<u64>,
}

#[derive(Debug, Default, Clone)]
struct RsDev {
    started: bool,
    start: Ps,
    end: Option<Ps>,
    /// [step][slice]: received and landed.
    arrived: Vec<Vec<bool>>,
    recv_vals: HashMap<(u32, u32), Vec<u64>>,
    recv_op: HashMap<(u32, u32), u32>,
    /// Next (step, slice) to send, in order.
    cursor: (u32, u32),
    reading: u32,
    tx: std::collections::VecDeque<Tx>,
    finals: u32,
    /// Final slices whose reduction has started (guards double starts).
    final_started: Vec<bool>,
    retry_at: Option<Ps>,
}

/// Updates that found the tracker full, waiting for an entry.
#[derive(Debug, Clone)]
struct Pending {
    tile: u64,
    offset: u64,
    bytes: u64,
    stream: Stream,
    value: Option<u64>,
}

/// Track & trigger state of one device.
#[derive(Debug, Default, Clone)]
struct T3Dev {
    tracker: Option<Tracker>,
    /// The op counting a tracked tile's updates, until the tracker fires.
    tile_op: HashMap<u64, u32>,
    wait: Vec<Pending>,
    stall_since: Option<Ps>,
    stall_ps: Ps,
    peak_occupancy: u32,
    dma_queue: std::collections::VecDeque<u64>,
    dma_active: u32,
    finals: u64,
    end: Option<Ps>,
    first_send: Option<Ps>,
    stage1_left: u64,
    mca_threshold: Option<u32>,
    /// Re-entrancy guard of `t3_retry` (a retry can free or allocate).
    retrying: bool,
    retry_again: bool,
}

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
    pub spans: Vec<crate::report::TimelineSpan>,
    /// DRAM bandwidth over time per stream (and `total`).
    pub bandwidth: Vec<crate::report::BandwidthSeries>,
    /// DRAM bandwidth over time per channel.
    pub channel_bandwidth: Vec<crate::report::BandwidthSeries>,
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

#[derive(Clone)]
struct Dev {
    id: u32,
    mem: MemorySystem,
    mclk: Clock,
    gclk: Clock,
    wake_at: Option<Ps>,
    ops: Vec<Op>,
    free_ops: Vec<u32>,
    l2: L2,
    fills: HashMap<u64, u32>,
    order: Vec<u64>,
    next_tile: usize,
    slots: Vec<Slot>,
    cu_free: Vec<Ps>,
    compute_busy: Ps,
    tiles_stored: u64,
    gemm_start: Ps,
    gemm_end: Option<Ps>,
    rs: RsDev,
    t3: T3Dev,
    /// Stored tiles per (chunk, slice), for a concurrent reduce-scatter.
    slice_stored: Vec<u32>,
    acc: Vec<u64>,
    l2_hits: u64,
    l2_misses: u64,
    /// Per stage: first tile dispatched, last tile computed.
    stage_span: Vec<(Option<Ps>, Ps)>,
    link_busy: Vec<(Ps, Ps)>,
    dma_busy: Vec<(Ps, Ps)>,
    bw: super::bandwidth::BandwidthBins,
}

/// The timeline of one device.
fn spans_of(dev: &Dev, t3: bool) -> Vec<crate::report::TimelineSpan> {
    use crate::report::TimelineSpan;
    let ns = |p: Ps| p as f64 / 1000.0;
    let mut v = Vec::new();
    let mut span = |track: &str, cat: &str, label: String, s: Ps, e: Ps| {
        if e > s {
            v.push(TimelineSpan {
                device: dev.id,
                track: track.into(),
                category: cat.into(),
                label,
                start_ns: ns(s),
                end_ns: ns(e),
            });
        }
    };
    for (i, &(s, e)) in dev.stage_span.iter().enumerate() {
        if let Some(s) = s {
            span("compute", "gemm", format!("GEMM stage {}", i + 1), s, e);
        }
    }
    if let (true, Some(e)) = (dev.rs.started, dev.rs.end) {
        span("collective", "rs", "reduce-scatter".into(), dev.rs.start, e);
    }
    if let (true, Some(s), Some(e)) = (t3, dev.t3.first_send, dev.t3.end) {
        span(
            "collective",
            "rs",
            "T3 reduce-scatter (tracked)".into(),
            s,
            e,
        );
    }
    for &(s, e) in &dev.link_busy {
        span("link", "link", "link busy".into(), s, e);
    }
    for &(s, e) in &dev.dma_busy {
        span("dma", "dma", "DMA".into(), s, e);
    }
    v
}

/// Appends a busy period, merging it into the last one when they overlap or
/// nearly touch, so a continuously busy resource is one span.
fn merge_busy(v: &mut Vec<(Ps, Ps)>, start: Ps, end: Ps) {
    const GAP_PS: Ps = 100_000;
    match v.last_mut() {
        Some(last) if start <= last.1 + GAP_PS => last.1 = last.1.max(end),
        _ => v.push((start, end)),
    }
}

/// One simulation of the ring under a [`Plan`].
pub struct Sim<'a> {
    cfg: &'a HwConfig,
    plan: Plan,
    g: GemmGeom,
    n: u32,
    ring: Ring,
    links: Vec<Link>,
    devs: Vec<Dev>,
    q: EventQueue<Ev>,
    /// Per link, packets on the wire in arrival order, each with its place
    /// in the event order: a link's arrivals are in time order, so only
    /// the first is in `q` (thousands of packets may be in flight, and a
    /// smaller heap is cheaper to pop).
    arrivals: Vec<std::collections::VecDeque<(EventKey, Packet)>>,
    now: Ps,
    events: u64,
    /// Slices per chunk and tiles per slice.
    slices: u32,
    tiles_per_slice: u64,
    comps: Vec<crate::mem::Completion>,
    /// Only device 0 is simulated; the others are its rotations.
    symmetric: bool,
    /// When work last finished (for the watchdog).
    progress_at: Ps,
    sim_devs: u32,
    probe: Option<Box<dyn super::probe::Probe>>,
    /// Stop the event loop after the event in which a device's GEMM ends
    /// (see [`run_sharing_gemm`]).
    stop_at_gemm_end: bool,
    /// The device whose GEMM ended when the loop stopped for it.
    gemm_ended: Option<u32>,
}

/// Runs `plans`, which differ only in the reduce-scatter that follows the
/// GEMM (none, kernel, near-memory), simulating the GEMM they share once.
///
/// Until the first device's GEMM ends, no such plan starts a
/// reduce-scatter, and nothing else in the simulation reads `Plan::rs`: the
/// runs process the same events in the same order. So one simulation runs
/// to the end of the event in which a GEMM ends (the point where
/// `gemm_finished` would start the reduce-scatter), and each plan continues
/// a copy of that state, starting its reduce-scatter there as it would
/// have. Results are those of separate runs; plans that do not qualify,
/// and every run in which the shared part fails or never reaches a GEMM's
/// end, are simulated separately (so errors read as they would).
pub fn run_sharing_gemm(trace: &Trace, cfg: &HwConfig, plans: &[Plan]) -> Vec<Result<SimResult>> {
    let separately = || {
        plans
            .iter()
            .map(|p| Sim::new(trace, cfg, p.clone())?.run())
            .collect()
    };
    let Some(first) = plans.first() else {
        return Vec::new();
    };
    let mut base = first.clone();
    base.rs = None;
    let shares = |p: &Plan| {
        let mut q = p.clone();
        q.rs = None;
        q == base && p.gemm && !p.t3 && !p.concurrent_rs
    };
    if plans.len() < 2 || !plans.iter().all(shares) {
        return separately();
    }
    let Ok(mut sim) = Sim::new(trace, cfg, base) else {
        return separately();
    };
    sim.start();
    // A GEMM with nothing to compute ends before the event loop, each
    // device's reduce-scatter starting in turn with the next's tiles.
    if sim.devs.iter().any(|d| d.gemm_end.is_some()) {
        return separately();
    }
    sim.stop_at_gemm_end = true;
    let (Ok(true), Some(d)) = (sim.run_events(), sim.gemm_ended) else {
        return separately();
    };
    sim.gemm_ended = None;
    let mut out = Vec::with_capacity(plans.len());
    let mut shared = Some(sim);
    for (i, p) in plans.iter().enumerate() {
        // The last plan continues the shared state itself.
        let mut s = if i + 1 == plans.len() {
            match shared.take() {
                Some(s) => s,
                None => break,
            }
        } else {
            match &shared {
                Some(s) => s.fork(),
                None => break,
            }
        };
        s.plan = p.clone();
        if p.rs.is_some() {
            s.start_rs(d);
        }
        out.push(s.run_events().and_then(|_| s.end()));
    }
    out
}

impl<'a> Sim<'a> {
    pub fn new(trace: &Trace, cfg: &'a HwConfig, plan: Plan) -> Result<Sim<'a>> {
        let gemm = trace
            .gemm()
            .ok_or_else(|| Error::Check("the trace has no GEMM to replay".into()))?;
        let n = trace.tp;
        let g = GemmGeom::new(gemm, n);
        if g.end > cfg.mem.capacity_bytes() {
            return Err(crate::error::InputError::new(
                crate::error::Location::file(cfg.name.clone()),
                "mem",
                format!(
                    "the GEMM's operands and output need {} MB per device but the memory holds {} MB",
                    g.end >> 20,
                    cfg.mem.capacity_bytes() >> 20
                ),
            )
            .into());
        }
        if g.k_steps > u32::MAX as u64 {
            return Err(crate::error::InputError::new(
                crate::error::Location::file(trace.name.clone()),
                "ops",
                format!(
                    "the GEMM has {} k-steps; at most {} are supported",
                    g.k_steps,
                    u32::MAX
                ),
            )
            .into());
        }
        let scales: Vec<f64> = (0..n).map(|d| trace.device(d).link_bw_scale).collect();
        let ring = Ring::with_device_bw_scales(scales)?;
        let links = ring.build_links(&cfg.link)?;
        let mut l2cfg = cfg.gpu.clone();
        l2cfg.l2_line_bytes = g.block_bytes as u32;
        l2cfg.l2_ways = l2cfg
            .l2_ways
            .min((cfg.gpu.l2_bytes / g.block_bytes).max(1) as u32);
        let cus = plan.gemm_cus.unwrap_or(cfg.gpu.cus).max(1);
        let slots = (cus * cfg.gpu.wgs_per_cu) as usize;
        let tile_bytes = g.tile_span(0).1.max(1);
        let chunk_tiles = g.chunk_tiles(0).end;
        // Pipelined like NCCL: at most `rs_slice_bytes`, and at least four
        // slices a chunk so small messages are not store-and-forward.
        let tiles_per_slice = (plan.rs_slice_bytes / tile_bytes)
            .min(chunk_tiles.div_ceil(4))
            .clamp(1, chunk_tiles);
        let slices = chunk_tiles.div_ceil(tiles_per_slice) as u32;
        let symmetric = plan.allow_symmetry && trace.is_symmetric();
        let sim_devs = if symmetric { 1 } else { n };
        let mut devs = Vec::new();
        for d in 0..sim_devs {
            let o = trace.device(d);
            let mut mem = MemorySystem::new(&cfg.mem).map_err(|m| {
                crate::error::InputError::new(
                    crate::error::Location::file(cfg.name.clone()),
                    "mem",
                    m,
                )
            })?;
            if let Some(t) = plan.mca_threshold {
                mem.set_mca_threshold(t);
            }
            let dram_mhz = (1_000_000 / cfg.mem.timing.tck_ps) as f64 * o.mem_bw_scale;
            let gpu_mhz = cfg.gpu.clock_mhz as f64 * o.compute_scale;
            let order: Vec<u64> = if !plan.gemm {
                Vec::new()
            } else if plan.staged {
                (1..=n)
                    .flat_map(|s| g.raster(g.chunk_rows(((d + s) % n) as u64)))
                    .collect()
            } else {
                g.raster(0..g.tile_rows)
            };
            let tracker = if plan.t3 {
                let t = &cfg.t3;
                Some(
                    Tracker::new(
                        t.tracker_entries,
                        t.tracker_tag_bits,
                        t.tracker_counter_bits,
                    )
                    .map_err(|e| {
                        crate::error::InputError::new(
                            crate::error::Location::file(cfg.name.clone()),
                            "t3",
                            e.to_string(),
                        )
                    })?,
                )
            } else {
                None
            };
            let acc = if plan.gemm {
                vec![0; g.tiles() as usize]
            } else {
                (0..g.tiles())
                    .map(|t| {
                        let tiles = g.tiles();
                        let pc = g.chunk_tiles(0).end;
                        signature((t + tiles - (d as u64 * pc) % tiles) % tiles)
                    })
                    .collect()
            };
            devs.push(Dev {
                id: d,
                mem,
                mclk: Clock::from_mhz(dram_mhz.round().max(1.0) as u64),
                gclk: Clock::from_mhz(gpu_mhz.round().max(1.0) as u64),
                wake_at: None,
                ops: Vec::new(),
                free_ops: Vec::new(),
                l2: L2::new(&l2cfg)?,
                fills: HashMap::new(),
                order,
                next_tile: 0,
                slots: vec![Slot::default(); slots],
                cu_free: vec![0; cus as usize],
                compute_busy: 0,
                tiles_stored: 0,
                gemm_start: 0,
                gemm_end: if plan.gemm { None } else { Some(0) },
                rs: RsDev {
                    arrived: vec![vec![false; slices as usize]; n as usize],
                    final_started: vec![false; slices as usize],
                    cursor: (1, 0),
                    ..Default::default()
                },
                t3: T3Dev {
                    tracker,
                    stage1_left: g.chunk_tiles(0).end,
                    ..Default::default()
                },
                slice_stored: vec![0; (n * slices) as usize],
                acc,
                l2_hits: 0,
                l2_misses: 0,
                stage_span: vec![(None, 0); n as usize],
                link_busy: Vec::new(),
                dma_busy: Vec::new(),
                bw: super::bandwidth::BandwidthBins::new(cfg.mem.channels() as usize),
            });
        }
        Ok(Sim {
            cfg,
            plan,
            g,
            n,
            ring,
            arrivals: links.iter().map(|_| Default::default()).collect(),
            links,
            devs,
            q: EventQueue::new(),
            now: 0,
            events: 0,
            slices,
            tiles_per_slice,
            comps: Vec::new(),
            progress_at: 0,
            symmetric,
            sim_devs,
            probe: None,
            stop_at_gemm_end: false,
            gemm_ended: None,
        })
    }

    /// A copy of the whole state, to continue it under another plan. Only
    /// an unwatched run is forked: a probe sees one run.
    fn fork(&self) -> Sim<'a> {
        debug_assert!(self.probe.is_none());
        Sim {
            cfg: self.cfg,
            plan: self.plan.clone(),
            g: self.g.clone(),
            n: self.n,
            ring: self.ring.clone(),
            links: self.links.clone(),
            devs: self.devs.clone(),
            q: self.q.clone(),
            arrivals: self.arrivals.clone(),
            now: self.now,
            events: self.events,
            slices: self.slices,
            tiles_per_slice: self.tiles_per_slice,
            comps: self.comps.clone(),
            symmetric: self.symmetric,
            progress_at: self.progress_at,
            sim_devs: self.sim_devs,
            probe: None,
            stop_at_gemm_end: self.stop_at_gemm_end,
            gemm_ended: self.gemm_ended,
        }
    }

    /// Lets `probe` watch the run (the RTL co-simulation).
    pub fn with_probe(mut self, mut probe: Box<dyn super::probe::Probe>) -> Self {
        for dev in &mut self.devs {
            probe.attach(dev.id, &mut dev.mem);
        }
        self.probe = Some(probe);
        self
    }

    /// Runs to completion and checks every device's reduced chunk.
    pub fn run(mut self) -> Result<SimResult> {
        self.start();
        self.run_events()?;
        self.end()
    }

    /// Starts every simulated device's work.
    fn start(&mut self) {
        for d in 0..self.sim_devs {
            if self.plan.gemm {
                let slots = self.devs[d as usize].slots.len() as u32;
                for s in 0..slots {
                    self.start_tile(d, s);
                }
                if self.devs[d as usize].order.is_empty() {
                    self.gemm_finished(d);
                }
                if self.plan.concurrent_rs {
                    self.start_rs(d);
                }
            } else if self.plan.rs.is_some() {
                self.start_rs(d);
            }
        }
    }

    /// Processes events until none is left (false), or until the event in
    /// which a GEMM ends when `stop_at_gemm_end` is set (true).
    fn run_events(&mut self) -> Result<bool> {
        while let Some((t, ev)) = self.q.pop() {
            self.now = t;
            self.events += 1;
            self.dispatch(ev)?;
            if self.probe.as_ref().is_some_and(|p| p.stop()) {
                return Err(Error::Check(
                    "stopped: the RTL co-simulation diverged from the model".into(),
                ));
            }
            // Watchdog: events that only go round (retries, wake-ups)
            // without finishing any work are a livelock.
            if self.now - self.progress_at > self.plan.watchdog_ps {
                return Err(Error::Deadlock(format!(
                    "no memory operation or compute step finished for {} us of simulated time (at t = {} ns; limit --watchdog-us):\n{}",
                    self.plan.watchdog_ps / 1_000_000,
                    self.now / 1000,
                    self.stuck_report().join("\n")
                )));
            }
            if self.gemm_ended.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Closes the run once no event is left.
    fn end(mut self) -> Result<SimResult> {
        if let Some(p) = &mut self.probe {
            for dev in &mut self.devs {
                p.memory(dev.id, &mut dev.mem, &[]);
            }
        }
        self.finish()
    }

    fn dispatch(&mut self, ev: Ev) -> Result<()> {
        match ev {
            Ev::MemWake { dev } => self.mem_wake(dev),
            Ev::OpDone { dev, op } => self.op_done(dev, op)?,
            Ev::BlockReady { dev, slot, k } => self.block_ready(dev, slot, k as u64, self.now),
            Ev::StepData { dev, slot, k } => self.step_data(dev, slot, k as u64),
            Ev::StepDone { dev, slot, k } => self.step_done(dev, slot, k as u64),
            Ev::Arrival { link } => {
                let fifo = &mut self.arrivals[link as usize];
                if let Some((_, p)) = fifo.pop_front() {
                    if let Some(&(k, _)) = fifo.front() {
                        self.q.push_keyed(k, Ev::Arrival { link });
                    }
                    self.packet(p);
                }
            }
            Ev::Packet(p) => self.packet(*p),
            Ev::SendRetry { dev } => {
                self.devs[dev as usize].rs.retry_at = None;
                self.pump_tx(dev);
            }
        }
        Ok(())
    }

    /// Device `d`'s contribution to tile `t`.
    fn sig(&self, d: u32, t: u64) -> u64 {
        let tiles = self.g.tiles();
        let per_chunk = self.g.chunk_tiles(0).end;
        signature((t + tiles - (d as u64 * per_chunk) % tiles) % tiles)
    }

    /// What a sent unit is to its receiver in the symmetric shortcut: the
    /// neighbour sends the same step, one chunk further round the ring.
    fn rotate(&self, u: Unit) -> Unit {
        match u {
            Unit::Tile { tile } if self.symmetric => Unit::Tile {
                tile: (tile + self.g.chunk_tiles(0).end) % self.g.tiles(),
            },
            other => other,
        }
    }

    // ----- memory -----

    /// A new op; [`Self::issue`] counts its requests in.
    fn new_op(&mut self, d: u32, then: Then) -> u32 {
        let dev = &mut self.devs[d as usize];
        let op = Op {
            remaining: 0,
            done_at: self.now,
            then,
        };
        match dev.free_ops.pop() {
            Some(i) => {
                dev.ops[i as usize] = op;
                i
            }
            None => {
                dev.ops.push(op);
                (dev.ops.len() - 1) as u32
            }
        }
    }

    /// Submits `bytes` of whole lines at `addr` for op `op`, as runs of
    /// consecutive columns of one row (one request each).
    fn issue(&mut self, d: u32, op: u32, addr: u64, bytes: u64, mop: MemOp, stream: Stream) {
        let dev = &mut self.devs[d as usize];
        let cyc = dev.mclk.cycle_at(self.now);
        let lines = bytes.div_ceil(LINE);
        let mut i = 0;
        let mut requests = 0;
        while i < lines {
            let a = addr + i * LINE;
            let run = dev
                .mem
                .run_len(a, (lines - i).min(self.plan.max_run as u64));
            let req = Request {
                addr: a,
                op: mop,
                stream,
                tag: op as u64,
            };
            // Addresses are laid out inside the capacity (checked in new).
            let _ = dev.mem.submit_run(cyc, req, run as u8);
            i += run;
            requests += 1;
        }
        dev.ops[op as usize].remaining += requests;
        self.arm_wake(d, false);
    }

    /// Moves device `d`'s memory wake-up earlier if its next command now
    /// comes sooner. `full`: ask every channel (the wake-up was just used);
    /// otherwise the wake-up is no later than every channel's next command
    /// as last asked, and only the channels touched since can bring it
    /// forward.
    fn arm_wake(&mut self, d: u32, full: bool) {
        let dev = &mut self.devs[d as usize];
        let next = if full {
            dev.mem.next_busy_event()
        } else {
            dev.mem.next_busy_event_touched()
        };
        if let Some(c) = next {
            let t = dev.mclk.time_of(c).max(self.now);
            if dev.wake_at.is_none_or(|w| t < w) {
                dev.wake_at = Some(t);
                self.q.push(t, Ev::MemWake { dev: d });
            }
        }
    }

    fn mem_wake(&mut self, d: u32) {
        let dev = &mut self.devs[d as usize];
        if dev.wake_at != Some(self.now) {
            return;
        }
        dev.wake_at = None;
        let cyc = dev.mclk.cycle_at(self.now);
        dev.mem.advance_before(cyc + 1);
        let clk = dev.mclk;
        let mut comps = std::mem::take(&mut self.comps);
        comps.extend(dev.mem.drain_completions());
        if let Some(p) = &mut self.probe {
            p.memory(d, &mut dev.mem, &comps);
        }
        for c in comps.drain(..) {
            let op = c.tag as u32;
            self.devs[d as usize]
                .bw
                .add(clk.time_of(c.cycle), c.stream, c.channel, c.bytes);
            let o = &mut self.devs[d as usize].ops[op as usize];
            o.remaining -= 1;
            o.done_at = o.done_at.max(clk.time_of(c.cycle));
            if o.remaining == 0 {
                let at = o.done_at.max(self.now);
                self.q.push(at, Ev::OpDone { dev: d, op });
            }
        }
        self.comps = comps;
        self.arm_wake(d, true);
    }

    fn op_done(&mut self, d: u32, op: u32) -> Result<()> {
        self.progress_at = self.now;
        let dev = &mut self.devs[d as usize];
        let then = std::mem::replace(&mut dev.ops[op as usize].then, Then::Store { tile: 0 });
        dev.free_ops.push(op);
        match then {
            Then::Fill { addr, waiters } => {
                self.devs[d as usize].fills.remove(&addr);
                for (slot, k) in waiters {
                    self.block_ready(d, slot, k, self.now);
                }
            }
            Then::Store { tile } => self.tile_stored(d, tile),
            Then::SendRead { step, slice } => self.send_read_done(d, step, slice),
            Then::Recv { step, slice } => self.recv_done(d, step, slice),
            Then::FinalRead { slice } => {
                let (addr, bytes) = self.own_slice(d, d, slice);
                let op = self.new_op(d, Then::FinalWrite { slice });
                self.issue(d, op, addr, bytes, MemOp::Write, Stream::RsWrite);
            }
            Then::TileUpdates { tile } => self.tile_complete(d, tile),
            Then::DmaRead { tile, start } => {
                merge_busy(&mut self.devs[d as usize].dma_busy, start, self.now);
                self.devs[d as usize].t3.dma_active -= 1;
                let bytes = self.g.tile_span(tile).1;
                let v = self.devs[d as usize].acc[tile as usize];
                self.send_tile(d, tile, bytes, v);
                self.pump_dma(d);
            }
            Then::FinalWrite { slice } => {
                let step = self.n - 1;
                let vals = self.devs[d as usize]
                    .rs
                    .recv_vals
                    .remove(&(step, slice))
                    .unwrap_or_default();
                self.add_slice_vals(d, d, slice, &vals);
                self.final_done(d);
            }
        }
        Ok(())
    }

    // ----- GEMM -----

    fn start_tile(&mut self, d: u32, slot: u32) {
        let dev = &mut self.devs[d as usize];
        if dev.next_tile >= dev.order.len() {
            return;
        }
        let tile = dev.order[dev.next_tile];
        dev.next_tile += 1;
        let stage = self.stage_of(d, tile) as usize - 1;
        let dev = &mut self.devs[d as usize];
        dev.stage_span[stage].0.get_or_insert(self.now);
        let cus = dev.cu_free.len() as u32;
        dev.slots[slot as usize] = Slot {
            tile,
            cu: slot % cus,
            pending: [0; 2],
            ready: [0; 2],
        };
        self.fetch(d, slot, 0);
        if self.g.k_steps > 1 {
            self.fetch(d, slot, 1);
        }
    }

    fn fetch(&mut self, d: u32, slot: u32, k: u64) {
        let tile = self.devs[d as usize].slots[slot as usize].tile;
        let (r, c) = self.g.tile_rc(tile);
        let buf = (k % 2) as usize;
        {
            let s = &mut self.devs[d as usize].slots[slot as usize];
            s.pending[buf] = 2;
            s.ready[buf] = self.now;
        }
        // A is laid out rotated like C (see `c_addr`): device d keeps the
        // row band of chunk c in slot (c - d) mod n.
        let rows_per_chunk = self.g.tile_rows / self.n as u64;
        let rot = (r + self.g.tile_rows - (d as u64 * rows_per_chunk) % self.g.tile_rows)
            % self.g.tile_rows;
        let a = self.g.a_block(rot, k);
        let b = self.g.b_block(k, c);
        self.request_block(d, slot, k, a);
        self.request_block(d, slot, k, b);
    }

    fn request_block(&mut self, d: u32, slot: u32, k: u64, (addr, bytes): (u64, u64)) {
        let dev = &mut self.devs[d as usize];
        if let Some(&op) = dev.fills.get(&addr) {
            if let Then::Fill { waiters, .. } = &mut dev.ops[op as usize].then {
                waiters.push((slot, k));
            }
            dev.l2_hits += 1;
            return;
        }
        let hit = dev.l2.access(addr, false, true).hit;
        if hit {
            dev.l2_hits += 1;
            let lat = dev.gclk.time_of(self.cfg.gpu.l2_hit_latency_cycles as u64);
            self.q.push(
                self.now + lat,
                Ev::BlockReady {
                    dev: d,
                    slot,
                    k: k as u32,
                },
            );
            return;
        }
        dev.l2_misses += 1;
        let op = self.new_op(
            d,
            Then::Fill {
                addr,
                waiters: vec![(slot, k)],
            },
        );
        self.devs[d as usize].fills.insert(addr, op);
        self.issue(d, op, addr, bytes, MemOp::Read, Stream::GemmRead);
    }

    fn block_ready(&mut self, d: u32, slot: u32, k: u64, t: Ps) {
        let s = &mut self.devs[d as usize].slots[slot as usize];
        let buf = (k % 2) as usize;
        s.pending[buf] -= 1;
        s.ready[buf] = s.ready[buf].max(t);
        if s.pending[buf] == 0 {
            let at = s.ready[buf].max(self.now);
            self.q.push(
                at,
                Ev::StepData {
                    dev: d,
                    slot,
                    k: k as u32,
                },
            );
        }
    }

    fn step_data(&mut self, d: u32, slot: u32, k: u64) {
        let fpc = self.cfg.gpu.flops_per_cycle_per_cu;
        let dev = &mut self.devs[d as usize];
        let s = &dev.slots[slot as usize];
        let cycles = self.g.step_flops(s.tile, k).div_ceil(fpc);
        let dur = dev.gclk.time_of(cycles);
        let cu = s.cu as usize;
        let start = self.now.max(dev.cu_free[cu]);
        let end = start + dur;
        dev.cu_free[cu] = end;
        dev.compute_busy += dur;
        self.q.push(
            end,
            Ev::StepDone {
                dev: d,
                slot,
                k: k as u32,
            },
        );
    }

    fn step_done(&mut self, d: u32, slot: u32, k: u64) {
        self.progress_at = self.now;
        if k + 2 < self.g.k_steps {
            self.fetch(d, slot, k + 2);
        }
        if k + 1 == self.g.k_steps {
            let tile = self.devs[d as usize].slots[slot as usize].tile;
            let stage = self.stage_of(d, tile) as usize - 1;
            let sp = &mut self.devs[d as usize].stage_span[stage];
            sp.1 = sp.1.max(self.now);
            let bytes = self.g.tile_span(tile).1;
            if self.plan.t3 {
                if self.stage_of(d, tile) == 1 {
                    // remote_map: the stores travel to the peer as updates.
                    let v = self.sig(d, tile);
                    self.send_tile(d, tile, bytes, v);
                    self.stage1_tile_done(d);
                } else {
                    self.t3_submit(
                        d,
                        Pending {
                            tile,
                            offset: 0,
                            bytes,
                            stream: Stream::GemmWrite,
                            value: Some(self.sig(d, tile)),
                        },
                    );
                    self.count_stored(d);
                }
            } else {
                let op = self.new_op(d, Then::Store { tile });
                let addr = self.c_addr(d, tile);
                self.issue(d, op, addr, bytes, MemOp::Write, Stream::GemmWrite);
            }
            self.start_tile(d, slot);
        }
    }

    fn tile_stored(&mut self, d: u32, tile: u64) {
        let v = self.sig(d, tile);
        let dev = &mut self.devs[d as usize];
        dev.acc[tile as usize] = dev.acc[tile as usize].wrapping_add(v);
        if self.plan.concurrent_rs {
            let per_chunk = self.g.chunk_tiles(0).end;
            let chunk = (tile / per_chunk) as u32;
            let slice = ((tile % per_chunk) / self.tiles_per_slice) as u32;
            let i = (chunk * self.slices + slice) as usize;
            self.devs[d as usize].slice_stored[i] += 1;
            if self.slice_is_stored(d, chunk, slice) {
                self.pump_sends(d);
                if chunk == d
                    && self.devs[d as usize].rs.arrived[self.n as usize - 1][slice as usize]
                {
                    self.final_slice(d, slice);
                }
            }
        }
        self.count_stored(d);
    }

    fn slice_is_stored(&self, d: u32, chunk: u32, slice: u32) -> bool {
        let want = self.slice_tiles(chunk, slice);
        self.devs[d as usize].slice_stored[(chunk * self.slices + slice) as usize] as u64
            == want.end - want.start
    }

    /// One more of the GEMM's tiles has its stores posted.
    fn count_stored(&mut self, d: u32) {
        let dev = &mut self.devs[d as usize];
        dev.tiles_stored += 1;
        if dev.tiles_stored == dev.order.len() as u64 {
            self.gemm_finished(d);
        }
    }

    // ----- T3: track & trigger -----

    /// The stage (1..=n) in which device `d` computes `tile`'s chunk.
    fn stage_of(&self, d: u32, tile: u64) -> u32 {
        let chunk = (tile / self.g.chunk_tiles(0).end) as u32;
        match (chunk + self.n - d) % self.n {
            0 => self.n,
            s => s,
        }
    }

    fn stage1_tile_done(&mut self, d: u32) {
        self.count_stored(d);
        let t3 = &mut self.devs[d as usize].t3;
        t3.stage1_left -= 1;
        if t3.stage1_left == 0 && self.plan.derive_mca {
            // The first stage runs before this device's own communication
            // reaches its memory in earnest: its mean compute occupancy per
            // channel is the GEMM's memory intensity. Communication may
            // issue while no more compute requests than that are queued
            // (the arbiter compares compute requests only, the same
            // quantity this measures).
            let dev = &mut self.devs[d as usize];
            let cyc = dev.mclk.cycle_at(self.now).max(1);
            let (compute, _) = dev.mem.occupancy_cycles(cyc);
            let per_channel = compute as f64 / cyc as f64 / dev.mem.channels() as f64;
            let k = &self.cfg.mem.controller;
            let cap = k.read_queue + k.write_queue;
            let th = ((per_channel.ceil() as u32) + 1).clamp(1, cap);
            dev.mem.set_mca_threshold(th);
            dev.t3.mca_threshold = Some(th);
        }
    }

    /// Counts updates to a tracked tile and sends them to memory; what the
    /// tracker cannot take (table full, new tile) waits for a free entry.
    fn t3_submit(&mut self, d: u32, p: Pending) {
        if let Some(left) = self.t3_try(d, p) {
            let t3 = &mut self.devs[d as usize].t3;
            t3.wait.push(left);
            t3.stall_since.get_or_insert(self.now);
        }
    }

    /// Tries to place `p`; returns what is left when the tracker is full.
    fn t3_try(&mut self, d: u32, p: Pending) -> Option<Pending> {
        let lines = p.bytes / LINE;
        let expected = 2 * (self.g.tile_span(p.tile).1 / LINE) as u32;
        let mut accepted = 0;
        let mut fired = false;
        {
            let t3 = &mut self.devs[d as usize].t3;
            let tr = t3.tracker.as_mut().expect("t3 plans build a tracker");
            while accepted < lines {
                let input = TrackerIn::update(p.tile as u32, expected);
                if self.probe.is_none() {
                    // Updates that only count up a tile in the table, at
                    // once (a probe sees every step).
                    let n = (lines - accepted).min(u32::MAX as u64) as u32;
                    let k = tr.count_up(input, n);
                    if k > 0 {
                        accepted += k as u64;
                        t3.peak_occupancy = t3.peak_occupancy.max(tr.occupancy());
                        continue;
                    }
                }
                let out = tr.step(input);
                if let Some(probe) = &mut self.probe {
                    probe.tracker(d, input, out);
                }
                if !out.accept {
                    break;
                }
                accepted += 1;
                t3.peak_occupancy = t3.peak_occupancy.max(out.occupancy);
                fired |= out.fire.is_some();
            }
        }
        let mut allocated = false;
        if accepted > 0 {
            let op = match self.devs[d as usize].t3.tile_op.get(&p.tile) {
                Some(&op) => op,
                None => {
                    allocated = true;
                    let op = self.new_op(d, Then::TileUpdates { tile: p.tile });
                    // Held until the tracker fires: the tile is complete
                    // only when every expected update has been counted.
                    self.devs[d as usize].ops[op as usize].remaining += 1;
                    self.devs[d as usize].t3.tile_op.insert(p.tile, op);
                    op
                }
            };
            let addr = self.c_addr(d, p.tile) + p.offset;
            self.issue(d, op, addr, accepted * LINE, MemOp::Update, p.stream);
            if fired {
                self.devs[d as usize].t3.tile_op.remove(&p.tile);
                self.devs[d as usize].ops[op as usize].remaining -= 1;
            }
        }
        if accepted < lines {
            if allocated || fired {
                self.t3_retry(d);
            }
            return Some(Pending {
                offset: p.offset + accepted * LINE,
                bytes: p.bytes - accepted * LINE,
                ..p
            });
        }
        if let Some(v) = p.value {
            let a = &mut self.devs[d as usize].acc[p.tile as usize];
            *a = a.wrapping_add(v);
        }
        // A freed entry lets a waiting tile in; a new entry lets in the
        // waiting updates of its own tile that came before it had one.
        if fired || allocated {
            self.t3_retry(d);
        }
        None
    }

    /// A tracker entry freed: every waiting update tries again.
    fn t3_retry(&mut self, d: u32) {
        if self.devs[d as usize].t3.retrying {
            self.devs[d as usize].t3.retry_again = true;
            return;
        }
        self.devs[d as usize].t3.retrying = true;
        loop {
            self.devs[d as usize].t3.retry_again = false;
            self.t3_retry_once(d);
            if !self.devs[d as usize].t3.retry_again {
                break;
            }
        }
        self.devs[d as usize].t3.retrying = false;
    }

    fn t3_retry_once(&mut self, d: u32) {
        let waiting = std::mem::take(&mut self.devs[d as usize].t3.wait);
        if waiting.is_empty() {
            return;
        }
        let mut left = Vec::new();
        for p in waiting {
            if let Some(l) = self.t3_try(d, p) {
                left.push(l);
            }
        }
        let t3 = &mut self.devs[d as usize].t3;
        t3.wait.extend(left);
        if t3.wait.is_empty()
            && let Some(s) = t3.stall_since.take()
        {
            t3.stall_ps += self.now - s;
        }
    }

    /// All updates of a tracked tile are performed: trigger its DMA, or
    /// count it final when it is the device's own chunk.
    fn tile_complete(&mut self, d: u32, tile: u64) {
        if self.stage_of(d, tile) == self.n {
            let t3 = &mut self.devs[d as usize].t3;
            t3.finals += 1;
            if t3.finals == self.g.chunk_tiles(0).end {
                t3.end = Some(self.now);
            }
        } else {
            self.devs[d as usize].t3.dma_queue.push_back(tile);
            self.pump_dma(d);
        }
    }

    fn pump_dma(&mut self, d: u32) {
        loop {
            let t3 = &mut self.devs[d as usize].t3;
            if t3.dma_active >= self.cfg.t3.dma_engines {
                return;
            }
            let Some(tile) = t3.dma_queue.pop_front() else {
                return;
            };
            t3.dma_active += 1;
            let bytes = self.g.tile_span(tile).1;
            let op = self.new_op(
                d,
                Then::DmaRead {
                    tile,
                    start: self.now,
                },
            );
            let addr = self.c_addr(d, tile);
            self.issue(d, op, addr, bytes, MemOp::Read, Stream::DmaRead);
        }
    }

    fn gemm_finished(&mut self, d: u32) {
        self.devs[d as usize].gemm_end = Some(self.now);
        if std::mem::take(&mut self.stop_at_gemm_end) {
            self.gemm_ended = Some(d);
        }
        if self.plan.rs.is_some() {
            self.start_rs(d);
        }
    }

    // ----- reduce-scatter -----

    /// The chunk device `d` sends at `step` (1-based): `(d + step) mod n`.
    fn send_chunk(&self, d: u32, step: u32) -> u32 {
        (d + step) % self.n
    }

    fn slice_tiles(&self, chunk: u32, slice: u32) -> std::ops::Range<u64> {
        let t = self.g.chunk_tiles(chunk as u64);
        let a = t.start + slice as u64 * self.tiles_per_slice;
        a..(a + self.tiles_per_slice).min(t.end)
    }

    /// Where device `d` keeps output tile `t`. Each device lays its output
    /// out rotated, chunk `c` in slot `(c - d) mod n`, so every device
    /// touches the same addresses at the same point of its schedule (device
    /// `d` works on chunk `d + s` in stage or step `s`). That makes the ring
    /// exactly symmetric, which the symmetric shortcut relies on.
    fn c_addr(&self, d: u32, t: u64) -> u64 {
        let per_chunk = self.g.chunk_tiles(0).end;
        let c = t / per_chunk;
        let (c0, chunk_bytes) = self.g.chunk_span(c);
        let slot = (c + self.n as u64 - d as u64) % self.n as u64;
        self.g.c_base + slot * chunk_bytes + (self.g.tile_span(t).0 - c0)
    }

    /// (address, bytes) of a slice of `chunk` in device `d`'s memory (its
    /// own partial sums).
    fn own_slice(&self, d: u32, chunk: u32, slice: u32) -> (u64, u64) {
        let t = self.slice_tiles(chunk, slice);
        let (a, _) = self.g.tile_span(t.start);
        let (b, bl) = self.g.tile_span(t.end - 1);
        (self.c_addr(d, t.start), b + bl - a)
    }

    /// (address, bytes) of a slice in the receive buffer of `step`.
    fn recv_slice(&self, chunk: u32, step: u32, slice: u32) -> (u64, u64) {
        let t = self.slice_tiles(chunk, slice);
        let (a, _) = self.g.tile_span(t.start);
        let (b, bl) = self.g.tile_span(t.end - 1);
        let (c0, _) = self.g.chunk_span(chunk as u64);
        let stride = (self.g.end - self.g.recv_base) / 2;
        (
            self.g.recv_base + (step % 2) as u64 * stride + (a - c0),
            b + bl - a,
        )
    }

    fn slice_vals(&self, d: u32, chunk: u32, slice: u32) -> Vec<u64> {
        self.slice_tiles(chunk, slice)
            .map(|t| self.devs[d as usize].acc[t as usize])
            .collect()
    }

    fn add_slice_vals(&mut self, d: u32, chunk: u32, slice: u32, vals: &[u64]) {
        let tiles = self.slice_tiles(chunk, slice);
        let acc = &mut self.devs[d as usize].acc;
        for (t, v) in tiles.zip(vals) {
            acc[t as usize] = acc[t as usize].wrapping_add(*v);
        }
    }

    fn start_rs(&mut self, d: u32) {
        let rs = &mut self.devs[d as usize].rs;
        if rs.started {
            return;
        }
        rs.started = true;
        rs.start = self.now;
        self.pump_sends(d);
        // Slices of the last step that landed before the kernel started.
        let last = self.n - 1;
        for j in 0..self.slices {
            if self.devs[d as usize].rs.arrived[last as usize][j as usize] {
                self.final_slice(d, j);
            }
        }
    }

    /// Starts the reads of every send whose inputs are there, in order.
    fn pump_sends(&mut self, d: u32) {
        loop {
            let rs = &self.devs[d as usize].rs;
            if !rs.started || rs.reading >= self.plan.rs_window {
                return;
            }
            let (step, slice) = rs.cursor;
            if step >= self.n {
                return;
            }
            if step >= 2 && !rs.arrived[step as usize - 1][slice as usize] {
                return;
            }
            if self.plan.concurrent_rs && !self.slice_is_stored(d, self.send_chunk(d, step), slice)
            {
                return;
            }
            let rs = &mut self.devs[d as usize].rs;
            rs.cursor = if slice + 1 < self.slices {
                (step, slice + 1)
            } else {
                (step + 1, 0)
            };
            rs.reading += 1;
            let chunk = self.send_chunk(d, step);
            let own = self.own_slice(d, chunk, slice);
            let kernel_reads_recv = step >= 2 && self.plan.rs == Some(RsKind::Kernel);
            let op = self.new_op(d, Then::SendRead { step, slice });
            self.issue(d, op, own.0, own.1, MemOp::Read, Stream::RsRead);
            if kernel_reads_recv {
                let r = self.recv_slice(chunk, step - 1, slice);
                self.issue(d, op, r.0, r.1, MemOp::Read, Stream::RsRead);
            }
        }
    }

    fn send_read_done(&mut self, d: u32, step: u32, slice: u32) {
        let chunk = self.send_chunk(d, step);
        let mut vals = self.slice_vals(d, chunk, slice);
        if step >= 2 && self.plan.rs == Some(RsKind::Kernel) {
            let recv = self.devs[d as usize]
                .rs
                .recv_vals
                .remove(&(step - 1, slice))
                .unwrap_or_default();
            for (v, r) in vals.iter_mut().zip(recv) {
                *v = v.wrapping_add(r);
            }
        }
        let bytes = self.own_slice(d, chunk, slice).1;
        let rs = &mut self.devs[d as usize].rs;
        rs.reading -= 1;
        rs.tx.push_back(Tx {
            unit: Unit::Slice { step, slice },
            sent: 0,
            bytes,
            vals,
        });
        self.pump_tx(d);
        self.pump_sends(d);
    }

    /// Queues a tile (value `v`) for the link to the next device.
    fn send_tile(&mut self, d: u32, tile: u64, bytes: u64, v: u64) {
        self.devs[d as usize].rs.tx.push_back(Tx {
            unit: Unit::Tile { tile },
            sent: 0,
            bytes,
            vals: vec![v],
        });
        self.pump_tx(d);
    }

    /// Sends packets of queued slices while the link has credits.
    fn pump_tx(&mut self, d: u32) {
        let link = self.ring.link(d, Dir::Prev);
        // In the symmetric shortcut the device receives what it sends, as
        // its neighbour would send it: one chunk further round the ring.
        let dst = if self.symmetric { d } else { self.ring.prev(d) };
        let pkt = self.links[link].packet_bytes() as u64;
        loop {
            let Some(tx) = self.devs[d as usize].rs.tx.front_mut() else {
                return;
            };
            let bytes = pkt.min(tx.bytes - tx.sent) as u32;
            match self.links[link].send(self.now, bytes) {
                Ok(del) => {
                    merge_busy(
                        &mut self.devs[d as usize].link_busy,
                        del.start,
                        del.tail_sent,
                    );
                    let Some(tx) = self.devs[d as usize].rs.tx.front_mut() else {
                        return;
                    };
                    let offset = tx.sent;
                    tx.sent += bytes as u64;
                    let last = tx.sent == tx.bytes;
                    let vals = if last {
                        Some(std::mem::take(&mut tx.vals))
                    } else {
                        None
                    };
                    let unit = tx.unit;
                    if last {
                        self.devs[d as usize].rs.tx.pop_front();
                    }
                    self.devs[d as usize].t3.first_send.get_or_insert(self.now);
                    // Arrivals come before the receiver's own events of
                    // the same instant, whoever sent them.
                    let p = Packet {
                        dst,
                        link,
                        unit: self.rotate(unit),
                        offset,
                        bytes,
                        vals,
                    };
                    let key = self.q.key(del.arrival, 0);
                    // Only the link's next arrival is in the event queue;
                    // the rest wait here in the order they were sent.
                    let fifo = &mut self.arrivals[link];
                    match fifo.back() {
                        None => {
                            fifo.push_back((key, p));
                            let link = link as u32;
                            self.q.push_keyed(key, Ev::Arrival { link });
                        }
                        Some(&(last, _)) if last < key => fifo.push_back((key, p)),
                        Some(_) => self.q.push_keyed(key, Ev::Packet(Box::new(p))),
                    }
                }
                Err(LinkError::NoCredit) => {
                    if let Some(t) = self.links[link].credit_ready_at(self.now) {
                        let rs = &mut self.devs[d as usize].rs;
                        if rs.retry_at.is_none_or(|r| t < r) {
                            rs.retry_at = Some(t);
                            self.q.push(t, Ev::SendRetry { dev: d });
                        }
                    }
                    return;
                }
                Err(_) => return,
            }
        }
    }

    fn packet(&mut self, p: Packet) {
        let d = p.dst;
        let _ = self.links[p.link].return_credit(self.now);
        let (step, slice) = match p.unit {
            Unit::Slice { step, slice } => (step, slice),
            Unit::Tile { tile } => {
                // Remote stores and DMA'd tiles land as near-memory updates,
                // counted by this device's tracker.
                self.t3_submit(
                    d,
                    Pending {
                        tile,
                        offset: p.offset,
                        bytes: p.bytes as u64,
                        stream: Stream::NmcUpdate,
                        value: p.vals.map(|v| v[0]),
                    },
                );
                return;
            }
        };
        // Device d receives, at `step`, the chunk its neighbour sends.
        let chunk = self.send_chunk(self.ring.next(d), step);
        let key = (step, slice);
        let op = match self.devs[d as usize].rs.recv_op.get(&key) {
            Some(&op) => op,
            None => {
                let op = self.new_op(d, Then::Recv { step, slice });
                // A token held until the slice's last packet is in, so the
                // op cannot finish between packets.
                self.devs[d as usize].ops[op as usize].remaining += 1;
                self.devs[d as usize].rs.recv_op.insert(key, op);
                op
            }
        };
        let last = p.vals.is_some();
        if let Some(v) = p.vals {
            self.devs[d as usize].rs.recv_vals.insert(key, v);
        }
        match self.plan.rs {
            Some(RsKind::Nmc) => {
                let (a, _) = self.own_slice(d, chunk, slice);
                self.issue(
                    d,
                    op,
                    a + p.offset,
                    p.bytes as u64,
                    MemOp::Update,
                    Stream::NmcUpdate,
                );
            }
            _ => {
                let (a, _) = self.recv_slice(chunk, step, slice);
                self.issue(
                    d,
                    op,
                    a + p.offset,
                    p.bytes as u64,
                    MemOp::Write,
                    Stream::RsWrite,
                );
            }
        }
        if last {
            // Packets of a link arrive in order: this was the slice's last,
            // and its own requests are still outstanding.
            self.devs[d as usize].ops[op as usize].remaining -= 1;
        }
    }

    fn recv_done(&mut self, d: u32, step: u32, slice: u32) {
        self.devs[d as usize].rs.recv_op.remove(&(step, slice));
        let chunk = self.send_chunk(self.ring.next(d), step);
        if self.plan.rs == Some(RsKind::Nmc) {
            // The updates added the neighbour's partial sums in place.
            let vals = self.devs[d as usize]
                .rs
                .recv_vals
                .remove(&(step, slice))
                .unwrap_or_default();
            self.add_slice_vals(d, chunk, slice, &vals);
        }
        self.devs[d as usize].rs.arrived[step as usize][slice as usize] = true;
        if step + 1 == self.n {
            if self.devs[d as usize].rs.started {
                self.final_slice(d, slice);
            }
        } else {
            self.pump_sends(d);
        }
    }

    fn final_slice(&mut self, d: u32, slice: u32) {
        if self.devs[d as usize].rs.final_started[slice as usize]
            || (self.plan.concurrent_rs && !self.slice_is_stored(d, d, slice))
        {
            return;
        }
        self.devs[d as usize].rs.final_started[slice as usize] = true;
        match self.plan.rs {
            Some(RsKind::Nmc) => self.final_done(d),
            _ => {
                let own = self.own_slice(d, d, slice);
                let recv = self.recv_slice(d, self.n - 1, slice);
                let op = self.new_op(d, Then::FinalRead { slice });
                self.issue(d, op, own.0, own.1, MemOp::Read, Stream::RsRead);
                self.issue(d, op, recv.0, recv.1, MemOp::Read, Stream::RsRead);
            }
        }
    }

    fn final_done(&mut self, d: u32) {
        let rs = &mut self.devs[d as usize].rs;
        rs.finals += 1;
        if rs.finals == self.slices {
            rs.end = Some(self.now);
        }
    }

    // ----- end -----

    /// What is unfinished, device by device, with the state of its
    /// queues, tracker and DMA engine (for deadlock reports).
    fn stuck_report(&self) -> Vec<String> {
        let mut stuck = Vec::new();
        for dev in &self.devs {
            if self.plan.gemm && dev.gemm_end.is_none() {
                stuck.push(format!(
                    "device {}: GEMM stored {}/{} tiles",
                    dev.id,
                    dev.tiles_stored,
                    dev.order.len()
                ));
            }
            if self.plan.rs.is_some() && dev.rs.end.is_none() {
                stuck.push(format!(
                    "device {}: reduce-scatter finished {}/{} slices, next send {:?}, {} reading, {} queued to send, memory: {}",
                    dev.id,
                    dev.rs.finals,
                    self.slices,
                    dev.rs.cursor,
                    dev.rs.reading,
                    dev.rs.tx.len(),
                    dev.mem.describe().join("; ")
                ));
            }
        }
        for dev in &self.devs {
            if self.plan.t3 && dev.t3.end.is_none() {
                stuck.push(format!(
                    "device {}: T3 completed {}/{} own-chunk tiles; tracker holds {} entries, {} updates wait for an entry, {} tiles queued for DMA, {} DMA reads in flight, {} transfers queued on the link, memory: {}",
                    dev.id,
                    dev.t3.finals,
                    self.g.chunk_tiles(0).end,
                    dev.t3.tracker.as_ref().map_or(0, |t| t.occupancy()),
                    dev.t3.wait.len(),
                    dev.t3.dma_queue.len(),
                    dev.t3.dma_active,
                    dev.rs.tx.len(),
                    dev.mem.describe().join("; ")
                ));
            }
        }
        stuck
    }

    fn finish(mut self) -> Result<SimResult> {
        let stuck = self.stuck_report();
        if !stuck.is_empty() {
            return Err(Error::Deadlock(format!(
                "no event left at t = {} ns but work remains:\n{}",
                self.now / 1000,
                stuck.join("\n")
            )));
        }
        // Functional check: each device's own chunk holds every device's
        // contribution.
        if self.plan.rs.is_some() || self.plan.t3 {
            for d in 0..self.sim_devs {
                for t in self.g.chunk_tiles(d as u64) {
                    let want = (0..self.n).fold(0u64, |s, e| s.wrapping_add(self.sig(e, t)));
                    let got = self.devs[d as usize].acc[t as usize];
                    if got != want {
                        return Err(Error::Check(format!(
                            "functional check: device {d} chunk {d} tile {t} holds {got:#x}, expected the sum of all devices' contributions {want:#x}"
                        )));
                    }
                }
            }
        }
        let mut devices = Vec::new();
        let end_ps = self.now;
        for (i, dev) in self.devs.iter_mut().enumerate() {
            let end = dev.mclk.cycle_at(end_ps) + 1;
            let link = &self.links[self.ring.link(i as u32, Dir::Prev)];
            devices.push(DevResult {
                device: dev.id,
                end_ps: dev
                    .rs
                    .end
                    .or(dev.t3.end)
                    .unwrap_or(0)
                    .max(dev.gemm_end.unwrap_or(0)),
                gemm_start_ps: dev.gemm_start,
                gemm_end_ps: if self.plan.gemm { dev.gemm_end } else { None },
                rs_start_ps: if self.plan.t3 {
                    dev.t3.first_send
                } else {
                    dev.rs.started.then_some(dev.rs.start)
                },
                rs_end_ps: dev.rs.end.or(dev.t3.end),
                mem: dev.mem.finish(end),
                mem_tck_ps: dev.mclk.time_of(1),
                l2_hits: dev.l2_hits,
                l2_misses: dev.l2_misses,
                link_bytes_out: link.stats().bytes,
                link_busy_ps: link.busy_ps(),
                compute_busy_ps: dev.compute_busy,
                tracker_stall_ps: dev.t3.stall_ps,
                tracker_peak_occupancy: dev.t3.peak_occupancy,
                mca_threshold: dev.t3.mca_threshold,
                spans: spans_of(dev, self.plan.t3),
                bandwidth: dev.bw.streams(),
                channel_bandwidth: dev.bw.channels(),
            });
        }
        if self.symmetric {
            // Every device follows device 0's timeline, rotated by a chunk.
            let d0 = devices[0].clone();
            devices = (0..self.n)
                .map(|i| DevResult {
                    device: i,
                    spans: d0
                        .spans
                        .iter()
                        .map(|sp| crate::report::TimelineSpan {
                            device: i,
                            ..sp.clone()
                        })
                        .collect(),
                    ..d0.clone()
                })
                .collect();
        }
        Ok(SimResult {
            devices,
            end_ps,
            events: self.events,
            symmetric: self.symmetric,
        })
    }
}
