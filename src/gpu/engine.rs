//! The GEMM engine of one device: output tiles dispatched to workgroup
//! slots on its CUs in a given order, each tile's K-loop fetching A and B
//! blocks through the L2 (double-buffered: step `k + 2` is fetched when
//! step `k` ends) and booking its FLOPs on its CU as a FIFO server.
//!
//! The engine owns its slots, CUs and L2; it reaches memory and time only
//! through [`GemmEnv`], and tells its caller when a tile's last step ends
//! ([`GemmEngine::step_done`]): where the tile's output goes is the
//! caller's decision (a store, a remote-mapped store, a tracked update).

use super::gemm::GemmGeom;
use super::l2::L2;
use crate::config::GpuConfig;
use crate::engine::{Clock, Ps};
use crate::error::Result;
use std::collections::HashMap;

/// What a GEMM engine asks of the simulation it runs in.
pub trait GemmEnv {
    fn now(&self) -> Ps;
    /// Calls the engine back with `event` at `t`.
    fn at(&mut self, t: Ps, event: GemmEvent);
    /// Reads the block of `bytes` at `addr` into the L2; when it has
    /// arrived the caller calls [`GemmEngine::fill_done`] with `addr`.
    fn fill(&mut self, addr: u64, bytes: u64);
}

/// What happens next to a tile's step `k` in slot `slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmEvent {
    pub slot: u32,
    pub k: u32,
    pub kind: GemmStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum GemmStep {
    /// One of the step's two blocks is ready (an L2 hit after its latency).
    BlockReady,
    /// Both blocks are there: book the step's FLOPs on the CU.
    StepData,
    /// The step's FLOPs are done.
    StepDone,
}

/// A workgroup slot: the tile it computes and the two k-step buffers.
#[derive(Debug, Clone, Default)]
struct Slot {
    tile: u64,
    stage: u32,
    cu: u32,
    pending: [u8; 2],
    ready: [Ps; 2],
}

/// The GEMM engine of one device.
#[derive(Debug, Clone)]
pub struct GemmEngine {
    dev: u32,
    clock: Clock,
    flops_per_cycle: u64,
    l2_hit_latency_cycles: u64,
    slots: Vec<Slot>,
    /// When each CU is next free.
    cu_free: Vec<Ps>,
    compute_busy: Ps,
    /// Tiles in dispatch order and the stage (0-based) each belongs to.
    order: Vec<(u64, u32)>,
    next_tile: usize,
    /// Tiles whose output the caller has retired.
    retired: u64,
    l2: L2,
    /// Blocks being filled, with the (slot, step) waiting for each.
    fills: HashMap<u64, Vec<(u32, u64)>>,
    l2_hits: u64,
    l2_misses: u64,
    /// Per stage: first tile dispatched, last tile computed.
    stage_span: Vec<(Option<Ps>, Ps)>,
}

impl GemmEngine {
    /// Device `dev`'s engine on `cus` CUs, computing `order` (tile, stage)
    /// of `stages` stages; the L2 is modelled at the GEMM's block size.
    pub fn new(
        dev: u32,
        cfg: &GpuConfig,
        g: &GemmGeom,
        cus: u32,
        clock: Clock,
        order: Vec<(u64, u32)>,
        stages: u32,
    ) -> Result<GemmEngine> {
        let mut l2cfg = cfg.clone();
        l2cfg.l2_line_bytes = g.block_bytes as u32;
        l2cfg.l2_ways = l2cfg
            .l2_ways
            .min((cfg.l2_bytes / g.block_bytes).max(1) as u32);
        let cus = cus.max(1);
        Ok(GemmEngine {
            dev,
            clock,
            flops_per_cycle: cfg.flops_per_cycle_per_cu,
            l2_hit_latency_cycles: cfg.l2_hit_latency_cycles as u64,
            slots: vec![Slot::default(); (cus * cfg.wgs_per_cu) as usize],
            cu_free: vec![0; cus as usize],
            compute_busy: 0,
            order,
            next_tile: 0,
            retired: 0,
            l2: L2::new(&l2cfg)?,
            fills: HashMap::new(),
            l2_hits: 0,
            l2_misses: 0,
            stage_span: vec![(None, 0); stages as usize],
        })
    }

    /// Workgroup slots (tiles in flight at most).
    pub fn slots(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Tiles the engine computes.
    pub fn tiles(&self) -> u64 {
        self.order.len() as u64
    }

    /// Tiles whose output is retired.
    pub fn retired(&self) -> u64 {
        self.retired
    }

    /// CU time booked by tile steps.
    pub fn compute_busy_ps(&self) -> Ps {
        self.compute_busy
    }

    pub fn l2_hits(&self) -> u64 {
        self.l2_hits
    }

    pub fn l2_misses(&self) -> u64 {
        self.l2_misses
    }

    /// Per stage: first dispatch (if any) and last step end.
    pub fn stage_spans(&self) -> &[(Option<Ps>, Ps)] {
        &self.stage_span
    }

    /// Dispatches the next tile in order into `slot`, if any is left.
    pub fn start_tile(&mut self, slot: u32, g: &GemmGeom, env: &mut impl GemmEnv) {
        let Some(&(tile, stage)) = self.order.get(self.next_tile) else {
            return;
        };
        self.next_tile += 1;
        self.stage_span[stage as usize].0.get_or_insert(env.now());
        let cus = self.cu_free.len() as u32;
        self.slots[slot as usize] = Slot {
            tile,
            stage,
            cu: slot % cus,
            pending: [0; 2],
            ready: [0; 2],
        };
        self.fetch(slot, 0, g, env);
        if g.k_steps > 1 {
            self.fetch(slot, 1, g, env);
        }
    }

    fn fetch(&mut self, slot: u32, k: u64, g: &GemmGeom, env: &mut impl GemmEnv) {
        let s = &mut self.slots[slot as usize];
        let (r, c) = g.tile_rc(s.tile);
        let buf = (k % 2) as usize;
        s.pending[buf] = 2;
        s.ready[buf] = env.now();
        let a = g.a_block(g.a_row_slot(self.dev, r), k);
        let b = g.b_block(k, c);
        self.request_block(slot, k, a, env);
        self.request_block(slot, k, b, env);
    }

    fn request_block(
        &mut self,
        slot: u32,
        k: u64,
        (addr, bytes): (u64, u64),
        env: &mut impl GemmEnv,
    ) {
        if let Some(waiters) = self.fills.get_mut(&addr) {
            waiters.push((slot, k));
            self.l2_hits += 1;
            return;
        }
        if self.l2.access(addr, false, true).hit {
            self.l2_hits += 1;
            let lat = self.clock.time_of(self.l2_hit_latency_cycles);
            env.at(
                env.now() + lat,
                GemmEvent {
                    slot,
                    k: k as u32,
                    kind: GemmStep::BlockReady,
                },
            );
            return;
        }
        self.l2_misses += 1;
        self.fills.insert(addr, vec![(slot, k)]);
        env.fill(addr, bytes);
    }

    /// The block at `addr` has arrived: its waiters' steps may start.
    pub fn fill_done(&mut self, addr: u64, env: &mut impl GemmEnv) {
        for (slot, k) in self.fills.remove(&addr).unwrap_or_default() {
            self.block_ready(slot, k, env.now(), env);
        }
    }

    /// One of step `k`'s blocks is ready at `t`.
    pub fn block_ready(&mut self, slot: u32, k: u64, t: Ps, env: &mut impl GemmEnv) {
        let s = &mut self.slots[slot as usize];
        let buf = (k % 2) as usize;
        s.pending[buf] -= 1;
        s.ready[buf] = s.ready[buf].max(t);
        if s.pending[buf] == 0 {
            let at = s.ready[buf].max(env.now());
            env.at(
                at,
                GemmEvent {
                    slot,
                    k: k as u32,
                    kind: GemmStep::StepData,
                },
            );
        }
    }

    /// Books step `k`'s FLOPs on the slot's CU.
    pub fn step_data(&mut self, slot: u32, k: u64, g: &GemmGeom, env: &mut impl GemmEnv) {
        let s = &self.slots[slot as usize];
        let cycles = g.step_flops(s.tile, k).div_ceil(self.flops_per_cycle);
        let dur = self.clock.time_of(cycles);
        let cu = s.cu as usize;
        let start = env.now().max(self.cu_free[cu]);
        let end = start + dur;
        self.cu_free[cu] = end;
        self.compute_busy += dur;
        env.at(
            end,
            GemmEvent {
                slot,
                k: k as u32,
                kind: GemmStep::StepDone,
            },
        );
    }

    /// Step `k` ended: prefetches step `k + 2`; returns the tile when this
    /// was its last step (the caller routes its output, then calls
    /// [`Self::start_tile`] for the slot).
    pub fn step_done(
        &mut self,
        slot: u32,
        k: u64,
        g: &GemmGeom,
        env: &mut impl GemmEnv,
    ) -> Option<u64> {
        if k + 2 < g.k_steps {
            self.fetch(slot, k + 2, g, env);
        }
        if k + 1 != g.k_steps {
            return None;
        }
        let s = &self.slots[slot as usize];
        let sp = &mut self.stage_span[s.stage as usize];
        sp.1 = sp.1.max(env.now());
        Some(s.tile)
    }

    /// The caller retired one tile's output; true when that was the last.
    pub fn retire_tile(&mut self) -> bool {
        self.retired += 1;
        self.retired == self.order.len() as u64
    }
}
