//! Kernels the CUs run: workgroups, each a loop of steps that read up to
//! two blocks from memory and then compute. A GEMM's workgroups are its
//! output tiles (each step an A and a B block through the L2); a streaming
//! kernel's workgroups each read their share of a buffer and do their
//! share of the FLOPs (a compute op timed by roofline).

use super::gemm::GemmGeom;
use crate::engine::Ps;
use std::sync::Arc;

/// Bytes a streaming workgroup reads per step.
pub const STREAM_BLOCK_BYTES: u64 = 32 << 10;

/// A kernel's workgroups and their steps.
#[derive(Debug, Clone)]
pub enum Kernel {
    Gemm(GemmKernel),
    Stream(StreamKernel),
}

/// A GEMM's output tiles, dispatched in a given order.
#[derive(Debug, Clone)]
pub struct GemmKernel {
    pub g: Arc<GemmGeom>,
    /// Tiles in dispatch order and the stage (0-based) each belongs to.
    order: Vec<(u64, u32)>,
    next: usize,
    retired: u64,
    /// Per stage: first tile dispatched, last tile computed.
    stage_span: Vec<(Option<Ps>, Ps)>,
}

impl GemmKernel {
    pub fn new(g: Arc<GemmGeom>, order: Vec<(u64, u32)>, stages: u32) -> GemmKernel {
        GemmKernel {
            g,
            order,
            next: 0,
            retired: 0,
            stage_span: vec![(None, 0); stages as usize],
        }
    }

    /// Per stage: first dispatch (if any) and last step end.
    pub fn stage_spans(&self) -> &[(Option<Ps>, Ps)] {
        &self.stage_span
    }
}

/// `workgroups` workgroups streaming `bytes` from `base` and computing
/// `flops`, both split evenly.
#[derive(Debug, Clone)]
pub struct StreamKernel {
    base: u64,
    workgroups: u64,
    /// Bytes each workgroup reads (whole lines) and steps it takes.
    wg_bytes: u64,
    steps: u64,
    flops: u64,
    next: u64,
    retired: u64,
}

impl StreamKernel {
    pub fn new(base: u64, bytes: u64, flops: u64, workgroups: u64) -> StreamKernel {
        let workgroups = workgroups.max(1);
        let wg_bytes = bytes.div_ceil(workgroups).div_ceil(64) * 64;
        let steps = wg_bytes.div_ceil(STREAM_BLOCK_BYTES).max(1);
        StreamKernel {
            base,
            workgroups,
            wg_bytes,
            steps,
            flops,
            next: 0,
            retired: 0,
        }
    }
}

/// One step's memory reads: up to two blocks, through the L2 or not.
#[derive(Debug, Clone, Copy)]
pub struct StepReads {
    pub blocks: [Option<(u64, u64)>; 2],
    /// Reads allocate in the L2 (a GEMM's operands) rather than bypass it.
    pub cached: bool,
}

impl Kernel {
    /// Workgroups in all.
    pub fn workgroups(&self) -> u64 {
        match self {
            Kernel::Gemm(k) => k.order.len() as u64,
            Kernel::Stream(k) => k.workgroups,
        }
    }

    /// The next workgroup to dispatch and its stage, if any is left.
    pub fn dispatch(&mut self, now: Ps) -> Option<(u64, u32)> {
        match self {
            Kernel::Gemm(k) => {
                let &(tile, stage) = k.order.get(k.next)?;
                k.next += 1;
                k.stage_span[stage as usize].0.get_or_insert(now);
                Some((tile, stage))
            }
            Kernel::Stream(k) => {
                if k.next == k.workgroups {
                    return None;
                }
                k.next += 1;
                Some((k.next - 1, 0))
            }
        }
    }

    /// Steps of each workgroup.
    pub fn steps(&self) -> u64 {
        match self {
            Kernel::Gemm(k) => k.g.k_steps,
            Kernel::Stream(k) => k.steps,
        }
    }

    /// What step `k` of workgroup `wg` reads on device `dev`.
    pub fn reads(&self, dev: u32, wg: u64, k: u64) -> StepReads {
        match self {
            Kernel::Gemm(kn) => {
                let g = &kn.g;
                let (r, c) = g.tile_rc(wg);
                StepReads {
                    blocks: [
                        Some(g.a_block(g.a_row_slot(dev, r), k)),
                        Some(g.b_block(k, c)),
                    ],
                    cached: true,
                }
            }
            Kernel::Stream(s) => {
                let off = k * STREAM_BLOCK_BYTES;
                let bytes = s.wg_bytes.saturating_sub(off).min(STREAM_BLOCK_BYTES);
                let block = (bytes > 0).then(|| (s.base + wg * s.wg_bytes + off, bytes));
                StepReads {
                    blocks: [block, None],
                    cached: false,
                }
            }
        }
    }

    /// FLOPs of step `k` of workgroup `wg`.
    pub fn step_flops(&self, wg: u64, k: u64) -> u64 {
        match self {
            Kernel::Gemm(kn) => kn.g.step_flops(wg, k),
            Kernel::Stream(s) => {
                let per = s.flops / (s.workgroups * s.steps);
                let rest = s.flops % (s.workgroups * s.steps);
                // The remainder goes to the first steps, one FLOP each.
                per + ((wg * s.steps + k) < rest) as u64
            }
        }
    }

    /// Workgroup `wg`'s last step ended at `now` in `stage`.
    pub fn computed(&mut self, stage: u32, now: Ps) {
        if let Kernel::Gemm(k) = self {
            let sp = &mut k.stage_span[stage as usize];
            sp.1 = sp.1.max(now);
        }
    }

    /// One workgroup's output is retired; true when that was the last.
    pub fn retire(&mut self) -> bool {
        let (r, all) = match self {
            Kernel::Gemm(k) => (&mut k.retired, k.order.len() as u64),
            Kernel::Stream(k) => (&mut k.retired, k.workgroups),
        };
        *r += 1;
        *r == all
    }

    /// Workgroups whose output is retired.
    pub fn retired(&self) -> u64 {
        match self {
            Kernel::Gemm(k) => k.retired,
            Kernel::Stream(k) => k.retired,
        }
    }
}
