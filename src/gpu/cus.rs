//! The compute units of one device: workgroup slots on its CUs, each CU a
//! FIFO server of FLOPs, the L2 the slots' reads go through, and the
//! dispatch of launched kernels onto slots.
//!
//! Dispatch policy (how concurrent kernels share the CUs): kernels are
//! dispatched in launch order; a free slot takes the next workgroup of the
//! earliest-launched kernel that still has workgroups to dispatch, so a
//! kernel launched while another is dispatching gets the slots the first
//! leaves once it has none left (the in-order, greedy behaviour of a GPU's
//! hardware queues without priorities). A workgroup holds its slot until
//! its last step ends; a slot runs one workgroup's steps double-buffered:
//! step `k + 2`'s reads are issued when step `k` ends.
//!
//! The CUs reach memory and time only through [`GemmEnv`], and tell their
//! caller when a workgroup's last step ends ([`Cus::step_done`]): where its
//! output goes is the caller's decision (a store, a remote-mapped store, a
//! tracked update).

use super::kernel::Kernel;
use super::l2::L2;
use crate::config::GpuConfig;
use crate::engine::{Clock, Ps};
use crate::error::Result;
use std::collections::{HashMap, VecDeque};

/// What the CUs ask of the simulation they run in.
pub trait GemmEnv {
    fn now(&self) -> Ps;
    /// Calls the CUs back with `event` at `t`.
    fn at(&mut self, t: Ps, event: GemmEvent);
    /// Reads the block of `bytes` at `addr`; when it has arrived the caller
    /// calls [`Cus::fill_done`] with `addr`.
    fn fill(&mut self, addr: u64, bytes: u64);
}

/// What happens next to a workgroup's step `k` in slot `slot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmEvent {
    pub slot: u32,
    pub k: u32,
    pub kind: GemmStep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum GemmStep {
    /// One of the step's blocks is ready (an L2 hit after its latency).
    BlockReady,
    /// Every block is there: book the step's FLOPs on the CU.
    StepData,
    /// The step's FLOPs are done.
    StepDone,
}

/// A workgroup slot: the workgroup it runs and its two step buffers.
#[derive(Debug, Clone, Default)]
struct Slot {
    kernel: u32,
    wg: u64,
    stage: u32,
    cu: u32,
    busy: bool,
    pending: [u8; 2],
    ready: [Ps; 2],
}

/// The compute units of one device.
#[derive(Debug, Clone)]
pub struct Cus {
    dev: u32,
    clock: Clock,
    flops_per_cycle: u64,
    l2_hit_latency_cycles: u64,
    slots: Vec<Slot>,
    /// When each CU is next free.
    cu_free: Vec<Ps>,
    compute_busy: Ps,
    kernels: Vec<Kernel>,
    /// Launched kernels that still have workgroups to dispatch, in launch
    /// order.
    dispatching: VecDeque<u32>,
    l2: L2,
    /// Blocks being filled, with the (slot, step) waiting for each.
    fills: HashMap<u64, Vec<(u32, u64)>>,
    l2_hits: u64,
    l2_misses: u64,
}

impl Cus {
    /// Device `dev`'s `cus` CUs; the L2 is modelled in blocks of
    /// `block_bytes` (a power of two).
    pub fn new(dev: u32, cfg: &GpuConfig, cus: u32, clock: Clock, block_bytes: u64) -> Result<Cus> {
        let mut l2cfg = cfg.clone();
        l2cfg.l2_line_bytes = block_bytes as u32;
        l2cfg.l2_ways = l2cfg
            .l2_ways
            .min((cfg.l2_bytes / block_bytes).max(1) as u32);
        let cus = cus.max(1);
        Ok(Cus {
            dev,
            clock,
            flops_per_cycle: cfg.flops_per_cycle_per_cu,
            l2_hit_latency_cycles: cfg.l2_hit_latency_cycles as u64,
            slots: vec![Slot::default(); (cus * cfg.wgs_per_cu) as usize],
            cu_free: vec![0; cus as usize],
            compute_busy: 0,
            kernels: Vec::new(),
            dispatching: VecDeque::new(),
            l2: L2::new(&l2cfg)?,
            fills: HashMap::new(),
            l2_hits: 0,
            l2_misses: 0,
        })
    }

    /// Workgroup slots.
    pub fn slots(&self) -> u32 {
        self.slots.len() as u32
    }

    /// CUs.
    pub fn cus(&self) -> u32 {
        self.cu_free.len() as u32
    }

    /// CU time booked by workgroup steps.
    pub fn compute_busy_ps(&self) -> Ps {
        self.compute_busy
    }

    pub fn l2_hits(&self) -> u64 {
        self.l2_hits
    }

    pub fn l2_misses(&self) -> u64 {
        self.l2_misses
    }

    pub fn kernel(&self, id: u32) -> &Kernel {
        &self.kernels[id as usize]
    }

    /// Launches `kernel`; its workgroups go to the idle slots, in slot
    /// order, and to slots as they free. Returns its id.
    pub fn launch(&mut self, kernel: Kernel, env: &mut impl GemmEnv) -> u32 {
        let id = self.kernels.len() as u32;
        self.kernels.push(kernel);
        self.dispatching.push_back(id);
        for slot in 0..self.slots.len() as u32 {
            if !self.slots[slot as usize].busy {
                self.start(slot, env);
            }
        }
        id
    }

    /// Gives `slot` the next workgroup to dispatch, if any is left.
    pub fn start(&mut self, slot: u32, env: &mut impl GemmEnv) {
        let (kernel, (wg, stage)) = loop {
            let Some(&k) = self.dispatching.front() else {
                self.slots[slot as usize].busy = false;
                return;
            };
            match self.kernels[k as usize].dispatch(env.now()) {
                Some(w) => break (k, w),
                None => {
                    self.dispatching.pop_front();
                }
            }
        };
        let cus = self.cu_free.len() as u32;
        self.slots[slot as usize] = Slot {
            kernel,
            wg,
            stage,
            cu: slot % cus,
            busy: true,
            pending: [0; 2],
            ready: [0; 2],
        };
        self.fetch(slot, 0, env);
        if self.kernels[kernel as usize].steps() > 1 {
            self.fetch(slot, 1, env);
        }
    }

    fn fetch(&mut self, slot: u32, k: u64, env: &mut impl GemmEnv) {
        let s = &mut self.slots[slot as usize];
        let reads = self.kernels[s.kernel as usize].reads(self.dev, s.wg, k);
        let buf = (k % 2) as usize;
        let n = reads.blocks.iter().flatten().count();
        s.pending[buf] = n as u8;
        s.ready[buf] = env.now();
        if n == 0 {
            let now = env.now();
            env.at(
                now,
                GemmEvent {
                    slot,
                    k: k as u32,
                    kind: GemmStep::StepData,
                },
            );
            return;
        }
        for block in reads.blocks.into_iter().flatten() {
            if reads.cached {
                self.request_block(slot, k, block, env);
            } else {
                self.fills.entry(block.0).or_default().push((slot, k));
                env.fill(block.0, block.1);
            }
        }
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
    pub fn step_data(&mut self, slot: u32, k: u64, env: &mut impl GemmEnv) {
        let s = &self.slots[slot as usize];
        let flops = self.kernels[s.kernel as usize].step_flops(s.wg, k);
        let cycles = flops.div_ceil(self.flops_per_cycle);
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

    /// Step `k` ended: prefetches step `k + 2`; returns (kernel, workgroup)
    /// when this was the workgroup's last step (the caller routes its
    /// output, then calls [`Self::start`] for the slot).
    pub fn step_done(&mut self, slot: u32, k: u64, env: &mut impl GemmEnv) -> Option<(u32, u64)> {
        let kernel = self.slots[slot as usize].kernel;
        let steps = self.kernels[kernel as usize].steps();
        if k + 2 < steps {
            self.fetch(slot, k + 2, env);
        }
        if k + 1 != steps {
            return None;
        }
        let s = &self.slots[slot as usize];
        let (wg, stage) = (s.wg, s.stage);
        self.kernels[kernel as usize].computed(stage, env.now());
        Some((kernel, wg))
    }

    /// The caller retired one of `kernel`'s workgroups; true when that was
    /// its last.
    pub fn retire(&mut self, kernel: u32) -> bool {
        self.kernels[kernel as usize].retire()
    }
}
