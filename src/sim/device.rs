//! One simulated device: its components, built as the run needs them, and
//! the small adapters through which each component reaches the rest of the
//! simulation.

use super::WINDOW;
use super::event::{Ev, Then, Unit};
use super::memport::MemPort;
use super::probe::Probe;
use crate::collective::{ChunkedBuffer, Collective, CollectiveDevice, KernelExec};
use crate::config::HwConfig;
use crate::engine::{Clock, EventQueue, Ps};
use crate::error::{InputError, Location, Result};
use crate::gpu::gemm::GemmGeom;
use crate::gpu::{Cus, GemmEnv, GemmEvent, GemmKernel, Kernel};
use crate::mem::{MemorySystem, Op as MemOp, Stream};
use crate::modes::Run;
use crate::net::{Port, Topology};
use crate::stats::BandwidthBins;
use crate::t3::{Dma, DmaEnv, TrackEnv, Tracker, TrackerIn, TrackerOut, Tracking};
use crate::trace::Trace;
use std::sync::Arc;

/// Where a fused pair stands on one device.
#[derive(Debug, Clone, Default)]
pub(super) struct Fused {
    /// Own-chunk tiles complete.
    pub finals: u64,
    pub end: Option<Ps>,
    /// Stage-1 tiles not yet sent (the t3-mca threshold is derived when
    /// the last is).
    pub stage1_left: u64,
    pub mca_threshold: Option<u32>,
}

#[derive(Clone)]
pub(super) struct Dev {
    pub id: u32,
    pub mem: MemPort,
    pub cus: Cus,
    /// The GEMM, until it is launched on the CUs (then kernel 0).
    pub gemm: Option<Kernel>,
    pub gemm_start: Ps,
    pub gemm_end: Option<Ps>,
    /// The collective run as a kernel, when the run has one.
    pub coll: Option<Box<dyn CollectiveDevice>>,
    /// Track & trigger, in fused runs.
    pub tracking: Option<Tracking>,
    pub dma: Dma,
    pub fused: Fused,
    /// One output port per link of the device, by topology port.
    pub ports: Vec<Port<Unit>>,
    /// The device's values of each output tile (functional check).
    pub acc: Vec<u64>,
    /// Stored tiles per (chunk, slice), for a collective that follows its
    /// producer.
    pub slice_stored: Vec<u32>,
    pub bw: BandwidthBins,
}

impl Dev {
    /// The GEMM's kernel, launched or not.
    pub fn gemm_kernel(&self) -> &Kernel {
        match &self.gemm {
            Some(k) => k,
            None => self.cus.kernel(0),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        d: u32,
        trace: &Trace,
        cfg: &HwConfig,
        run: Run,
        g: &Arc<GemmGeom>,
        coll: &dyn Collective,
        topo: &dyn Topology,
        buffer: &ChunkedBuffer,
        symmetric: bool,
    ) -> Result<Dev> {
        let n = trace.tp;
        let o = trace.device(d);
        let bad = |field: &str, msg: String| {
            InputError::new(Location::file(cfg.name.clone()), field, msg)
        };
        let mem = MemorySystem::new(&cfg.mem).map_err(|m| bad("mem", m))?;
        let dram_mhz = (1_000_000 / cfg.mem.timing.tck_ps) as f64 * o.mem_bw_scale;
        let gpu_mhz = cfg.gpu.clock_mhz as f64 * o.compute_scale;
        let mclk = Clock::from_mhz(dram_mhz.round().max(1.0) as u64);
        let gclk = Clock::from_mhz(gpu_mhz.round().max(1.0) as u64);
        // Staged, staggered tile order: stage `s` computes the chunk the
        // collective assigns it. Every run uses it (it changes nothing for a
        // GEMM that finishes before its collective) so that every device
        // runs the same schedule rotated.
        let order: Vec<(u64, u32)> = if run.has_gemm() {
            (1..=n)
                .flat_map(|s| {
                    let chunk = coll.fused().map_or(s % n, |f| f.stage_chunk(d, s)) as u64;
                    g.raster(g.chunk_rows(chunk))
                        .into_iter()
                        .map(move |t| (t, s - 1))
                })
                .collect()
        } else {
            Vec::new()
        };
        let tracking = if run.fused() {
            let t = &cfg.t3;
            let tracker = Tracker::new(
                t.tracker_entries,
                t.tracker_tag_bits,
                t.tracker_counter_bits,
            )
            .map_err(|e| bad("t3", e.to_string()))?;
            Some(Tracking::new(tracker))
        } else {
            None
        };
        let acc = if run.has_gemm() {
            vec![0; g.tiles() as usize]
        } else {
            (0..g.tiles())
                .map(|t| super::values::sig(g, d, t))
                .collect()
        };
        let cus = run.gemm_cus().unwrap_or(cfg.gpu.cus);
        let gemm = Kernel::Gemm(GemmKernel::new(g.clone(), order, n));
        let cus = Cus::new(d, &cfg.gpu, cus, gclk, g.block_bytes)?;
        let coll_dev = run.kernel_reduction().map(|reduction| {
            let exec = KernelExec {
                reduction,
                follows_producer: run.decomposed(),
                window: WINDOW,
            };
            coll.kernel(d, exec, buffer.clone())
        });
        let ports = (0..topo.ports(d))
            .map(|p| {
                let link = topo.link(d, p);
                // In the symmetric shortcut the device receives what it
                // sends, as its neighbour would send it.
                let dst = if symmetric { d } else { topo.endpoints(link).1 };
                Port::new(link as u32, dst)
            })
            .collect();
        Ok(Dev {
            id: d,
            mem: MemPort::new(mem, mclk),
            cus,
            gemm: Some(gemm),
            gemm_start: 0,
            gemm_end: if run.has_gemm() { None } else { Some(0) },
            coll: coll_dev,
            tracking,
            dma: Dma::new(cfg.t3.dma_engines),
            fused: Fused {
                stage1_left: buffer.chunk_len(),
                ..Default::default()
            },
            ports,
            acc,
            slice_stored: vec![0; (n * buffer.slices()) as usize],
            bw: BandwidthBins::new(cfg.mem.channels() as usize),
        })
    }
}

/// What the GEMM engine of device `dev` reaches.
pub(super) struct GemmIo<'a> {
    pub now: Ps,
    pub dev: u32,
    pub q: &'a mut EventQueue<Ev>,
    pub mem: &'a mut MemPort,
}

impl GemmEnv for GemmIo<'_> {
    fn now(&self) -> Ps {
        self.now
    }

    fn at(&mut self, t: Ps, ev: GemmEvent) {
        self.q.push(t, Ev::Gemm { dev: self.dev, ev });
    }

    fn fill(&mut self, addr: u64, bytes: u64) {
        let op = self.mem.open(self.now, Then::Fill { addr });
        if let Some(t) = self
            .mem
            .issue(self.now, op, addr, bytes, MemOp::Read, Stream::GemmRead)
        {
            self.q.push(t, Ev::MemWake { dev: self.dev });
        }
    }
}

/// What the tracking of device `dev` reaches.
pub(super) struct TrackIo<'a> {
    pub now: Ps,
    pub dev: u32,
    pub q: &'a mut EventQueue<Ev>,
    pub mem: &'a mut MemPort,
    pub acc: &'a mut [u64],
    pub g: &'a GemmGeom,
    pub probe: Option<&'a mut Box<dyn Probe>>,
}

impl TrackEnv for TrackIo<'_> {
    fn now(&self) -> Ps {
        self.now
    }

    fn watched(&self) -> bool {
        self.probe.is_some()
    }

    fn observe(&mut self, input: TrackerIn, output: TrackerOut) {
        if let Some(p) = &mut self.probe {
            p.tracker(self.dev, input, output);
        }
    }

    fn open_tile(&mut self, tile: u64) -> u32 {
        let op = self.mem.open(self.now, Then::TileUpdates { tile });
        // Held until the tracker fires: the tile is complete only when
        // every expected update has been counted.
        self.mem.hold(op);
        op
    }

    fn update(&mut self, op: u32, tile: u64, offset: u64, bytes: u64, stream: Stream) {
        let addr = self.g.c_addr(self.dev, tile) + offset;
        if let Some(t) = self
            .mem
            .issue(self.now, op, addr, bytes, MemOp::Update, stream)
        {
            self.q.push(t, Ev::MemWake { dev: self.dev });
        }
    }

    fn close_tile(&mut self, op: u32) {
        if self.mem.release(op) {
            self.q.push(self.now, Ev::OpDone { dev: self.dev, op });
        }
    }

    fn add_value(&mut self, tile: u64, value: u64) {
        let a = &mut self.acc[tile as usize];
        *a = a.wrapping_add(value);
    }
}

/// What the DMA engines of device `dev` reach.
pub(super) struct DmaIo<'a> {
    pub now: Ps,
    pub dev: u32,
    pub q: &'a mut EventQueue<Ev>,
    pub mem: &'a mut MemPort,
    pub g: &'a GemmGeom,
}

impl DmaEnv for DmaIo<'_> {
    fn now(&self) -> Ps {
        self.now
    }

    fn read_tile(&mut self, tile: u64, start: Ps) {
        let op = self.mem.open(self.now, Then::DmaRead { tile, start });
        let addr = self.g.c_addr(self.dev, tile);
        let bytes = self.g.tile_span(tile).1;
        if let Some(t) = self
            .mem
            .issue(self.now, op, addr, bytes, MemOp::Read, Stream::DmaRead)
        {
            self.q.push(t, Ev::MemWake { dev: self.dev });
        }
    }
}
