//! One simulated device: its components, its state of every op, and the
//! small adapters through which each component reaches the rest of the
//! simulation.

use super::event::{Ev, Then, Unit};
use super::memport::MemPort;
use super::plan::{CollExec, OpPlan, Plan};
use super::probe::Probe;
use crate::collective::CollectiveDevice;
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

/// Where a fused collective stands on one device.
#[derive(Debug, Clone, Default)]
pub(super) struct Fused {
    /// Own-chunk tiles complete.
    pub finals: u64,
    pub end: Option<Ps>,
    /// Stage-1 tiles not yet sent (the t3-mca threshold is derived when
    /// the last is).
    pub stage1_left: u64,
}

/// One op on one device.
#[derive(Debug, Clone, Default)]
pub(super) struct DevOp {
    /// Dependencies not yet done on this device.
    pub deps_left: u32,
    pub start: Option<Ps>,
    pub end: Option<Ps>,
    /// The op's kernel on the CUs, once launched.
    pub kernel: Option<u32>,
    /// A GEMM's or streaming compute op's kernel before launch.
    pub pending: Option<Kernel>,
    /// A collective run as a kernel (or, fused, what runs after).
    pub coll: Option<Box<dyn CollectiveDevice>>,
    pub fused: Option<Fused>,
    /// Stored tiles per (chunk, slice) of a collective that follows its
    /// producer.
    pub slice_stored: Vec<u32>,
    /// A recv's bytes landed; a send's bytes read.
    pub bytes_done: u64,
}

#[derive(Clone)]
pub(super) struct Dev {
    pub id: u32,
    pub mem: MemPort,
    pub cus: Cus,
    /// The op each CU kernel belongs to, by kernel id.
    pub kernel_op: Vec<usize>,
    pub ops: Vec<DevOp>,
    /// Track & trigger, in fused runs.
    pub tracking: Option<Tracking>,
    pub dma: Dma,
    /// The t3-mca threshold this device derived.
    pub mca_threshold: Option<u32>,
    /// One output port per link of the device, by topology port.
    pub ports: Vec<Port<Unit>>,
    /// Values (functional check) of each op's buffer, for the ops that own
    /// one, by tile.
    pub vals: Vec<Vec<u64>>,
    pub bw: BandwidthBins,
}

impl Dev {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        d: u32,
        trace: &Trace,
        cfg: &HwConfig,
        run: Run,
        plan: &Plan,
        topo: &dyn Topology,
        symmetric: bool,
    ) -> Result<Dev> {
        let n_ops = plan.ops.len();
        let o = trace.device(d);
        let bad = |field: &str, msg: String| {
            InputError::new(Location::file(cfg.name.clone()), field, msg)
        };
        let mem = MemorySystem::new(&cfg.mem).map_err(|m| bad("mem", m))?;
        let dram_mhz = (1_000_000 / cfg.mem.timing.tck_ps) as f64 * o.mem_bw_scale;
        let gpu_mhz = cfg.gpu.clock_mhz as f64 * o.compute_scale;
        let mclk = Clock::from_mhz(dram_mhz.round().max(1.0) as u64);
        let gclk = Clock::from_mhz(gpu_mhz.round().max(1.0) as u64);
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
        let mut ops: Vec<DevOp> = (0..n_ops).map(|_| DevOp::default()).collect();
        let mut vals: Vec<Vec<u64>> = vec![Vec::new(); n_ops];
        for (i, p) in plan.ops.iter().enumerate() {
            let here = plan.runs_on(i, d);
            if here {
                ops[i].deps_left =
                    plan.deps[i].iter().filter(|&&k| plan.runs_on(k, d)).count() as u32;
            }
            match p {
                OpPlan::Gemm(gp) => {
                    let g = &gp.geom;
                    vals[i] = vec![0; g.tiles() as usize];
                    if here {
                        ops[i].pending = Some(Kernel::Gemm(GemmKernel::new(
                            g.clone(),
                            tile_order(plan, i, d, g),
                            g.tp as u32,
                        )));
                    }
                }
                OpPlan::Coll(c) => {
                    if c.values == i {
                        vals[i] = vec![0; c.buffer.tiles() as usize];
                    }
                    if here {
                        // Built now, started when the op starts: what its
                        // peers send may arrive before.
                        ops[i].coll = coll_device(plan, i, d);
                        let slices = c.buffer.slices();
                        ops[i].slice_stored = vec![0; (c.buffer.chunks() * slices) as usize];
                        if let CollExec::Fused { .. } = c.exec {
                            ops[i].fused = Some(Fused {
                                stage1_left: c.buffer.chunk_len(),
                                ..Default::default()
                            });
                        }
                    }
                }
                OpPlan::Compute { .. } | OpPlan::Send(_) | OpPlan::Recv(_) => {}
            }
        }
        // Data a run finds already in memory: what an op run alone takes
        // from its inputs, and a plain collective buffer's partial sums.
        for (i, p) in plan.ops.iter().enumerate() {
            let OpPlan::Coll(c) = p else { continue };
            if !plan.runs_on(i, d) || plan.active[c.values] && c.values != i {
                continue;
            }
            let r = plan.rank(i, d);
            let own = c.buffer.chunk_tiles(r);
            let v = &mut vals[c.values];
            for t in 0..v.len() as u64 {
                let reduced = c.gathers_reduced;
                v[t as usize] = match (c.kind, reduced) {
                    (crate::trace::CollectiveKind::AllGather, true) if own.contains(&t) => {
                        super::values::reduced(&c.buffer, c.values, t)
                    }
                    (crate::trace::CollectiveKind::AllGather, _) if !own.contains(&t) => 0,
                    _ => super::values::sig(&c.buffer, c.values, r, t),
                };
            }
        }
        let cus = run.gemm_cus().unwrap_or(cfg.gpu.cus);
        let cus = Cus::new(d, &cfg.gpu, cus, gclk, plan.l2_block_bytes())?;
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
            kernel_op: Vec::new(),
            ops,
            tracking,
            dma: Dma::new(cfg.t3.dma_engines),
            mca_threshold: None,
            ports,
            vals,
            bw: BandwidthBins::new(cfg.mem.channels() as usize),
        })
    }
}

/// Device `d`'s instance of collective `op` run as a kernel (for a fused
/// one, what runs after its fused part), if any.
pub(super) fn coll_device(plan: &Plan, op: usize, d: u32) -> Option<Box<dyn CollectiveDevice>> {
    let c = plan.coll(op);
    let rank = plan.rank(op, d);
    match c.exec {
        CollExec::Kernel(exec) | CollExec::BesideProducer(exec) => {
            Some(c.algo.kernel(rank, exec, c.buffer.clone()))
        }
        CollExec::Fused { after, .. } => c.algo.after_fused(rank, after, c.buffer.clone()),
    }
}

/// The order device `d` computes GEMM `i`'s tiles in, with each tile's
/// stage: staged and staggered as its reducing collective schedules it
/// (stage `s` computes the chunk the collective assigns it) in every run,
/// so that every device runs the same schedule rotated (it changes nothing
/// for a GEMM that finishes before its collective); rows in raster order
/// otherwise.
fn tile_order(plan: &Plan, i: usize, d: u32, g: &GemmGeom) -> Vec<(u64, u32)> {
    let sched = plan.gemm(i).consumer.and_then(|c| {
        let cp = plan.coll(c);
        cp.algo
            .fused()
            .map(|f| (f, plan.rank(c, d), cp.ranks.len() as u32))
    });
    match sched {
        Some((f, rank, n)) => (1..=n)
            .flat_map(|s| {
                let chunk = f.stage_chunk(rank, s) as u64;
                g.raster(g.chunk_rows(chunk))
                    .into_iter()
                    .map(move |t| (t, s - 1))
            })
            .collect(),
        None => g
            .raster(0..g.tile_rows)
            .into_iter()
            .map(|t| (t, 0))
            .collect(),
    }
}

/// What the CUs of device `dev` reach.
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

/// What the tracking of device `dev` reaches, for collective `op` whose
/// buffer has the tiles (tracker tiles are offset by `tile_base`).
pub(super) struct TrackIo<'a> {
    pub now: Ps,
    pub dev: u32,
    pub op: u32,
    pub rank: u32,
    pub tile_base: u64,
    pub q: &'a mut EventQueue<Ev>,
    pub mem: &'a mut MemPort,
    pub vals: &'a mut [u64],
    pub buffer: &'a crate::collective::ChunkedBuffer,
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
        let tile = tile - self.tile_base;
        let op = self
            .mem
            .open(self.now, Then::TileUpdates { op: self.op, tile });
        // Held until the tracker fires: the tile is complete only when
        // every expected update has been counted.
        self.mem.hold(op);
        op
    }

    fn update(&mut self, op: u32, tile: u64, offset: u64, bytes: u64, stream: Stream) {
        let addr = self.buffer.tile_addr(self.rank, tile - self.tile_base) + offset;
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
        let a = &mut self.vals[(tile - self.tile_base) as usize];
        *a = a.wrapping_add(value);
    }
}

/// What the DMA engines of device `dev` reach. A descriptor names a
/// collective's tile as a tracker tile (offset per collective).
pub(super) struct DmaIo<'a> {
    pub now: Ps,
    pub dev: u32,
    pub q: &'a mut EventQueue<Ev>,
    pub mem: &'a mut MemPort,
    pub plan: &'a Plan,
}

impl DmaEnv for DmaIo<'_> {
    fn now(&self) -> Ps {
        self.now
    }

    fn read_tile(&mut self, tracker_tile: u64, start: Ps) {
        let (op, tile) = self.plan.fused_tile(tracker_tile);
        let c = self.plan.coll(op);
        let rank = self.plan.rank(op, self.dev);
        let then = Then::DmaRead {
            op: op as u32,
            tile,
            start,
        };
        let mop = self.mem.open(self.now, then);
        let addr = c.buffer.tile_addr(rank, tile);
        let bytes = c.buffer.tile_bytes(tile);
        if let Some(t) = self
            .mem
            .issue(self.now, mop, addr, bytes, MemOp::Read, Stream::DmaRead)
        {
            self.q.push(t, Ev::MemWake { dev: self.dev });
        }
    }
}
