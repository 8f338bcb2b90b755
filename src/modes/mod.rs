//! The execution modes of DESIGN.md section 2, as compositions: a mode says
//! how a GEMM -> reduce-scatter pair executes ([`PairExec`]), and what it
//! changes in the hardware config (t3-mca's arbitration policy). The
//! simulation in `crate::sim` composes its components from a [`Run`];
//! nothing there tests a mode by name.
//!
//! Every value of these types is a meaningful run: there is no flag
//! combination to get wrong.

use crate::config::HwConfig;
use serde::{Deserialize, Serialize};

/// An execution mode.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// GEMM, then a ring reduce-scatter kernel.
    Sequential,
    /// max(GEMM alone, reduce-scatter alone): the no-contention bound.
    Ideal,
    /// GEMM, then a reduce-scatter that reduces with near-memory updates.
    RsNmc,
    /// Track & trigger with near-memory reduction, default scheduler.
    T3,
    /// T3 with memory-controller arbitration (t3-mca).
    T3Mca,
    /// Software fine-grained overlap: GEMM per chunk and a concurrent
    /// reduce-scatter kernel on `t3.sw_overlap_cus` CUs.
    SwOverlap,
}

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::Sequential,
        Mode::Ideal,
        Mode::RsNmc,
        Mode::T3,
        Mode::T3Mca,
        Mode::SwOverlap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Ideal => "ideal",
            Mode::RsNmc => "rs-nmc",
            Mode::T3 => "t3",
            Mode::T3Mca => "t3-mca",
            Mode::SwOverlap => "sw-overlap",
        }
    }

    /// What the mode simulates and the config it runs on; `None` for a mode
    /// derived from isolated runs (ideal).
    pub fn composition(self, cfg: &HwConfig) -> Option<(Run, HwConfig)> {
        let mut cfg = cfg.clone();
        let exec = match self {
            Mode::Ideal => return None,
            Mode::Sequential => PairExec::Sequential(Reduction::Kernel),
            Mode::RsNmc => PairExec::Sequential(Reduction::NearMemory),
            Mode::T3 => PairExec::Fused { mca: None },
            Mode::T3Mca => {
                cfg.mem.controller.arbitration = "t3-mca".into();
                // A configured threshold wins; 0 means derive it.
                let rule = if cfg.mem.controller.mca_threshold == 0 {
                    McaThreshold::FirstStage
                } else {
                    McaThreshold::Configured
                };
                PairExec::Fused { mca: Some(rule) }
            }
            Mode::SwOverlap => PairExec::Decomposed {
                gemm_cus: cfg.gpu.cus - cfg.t3.sw_overlap_cus,
            },
        };
        Some((Run::Graph(exec), cfg))
    }
}

/// How the partial sums that arrive at a device are added to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// A compute kernel: the received chunk lands in a buffer; the kernel
    /// reads it and the local partial, adds on CUs, and sends or writes.
    Kernel,
    /// Received chunks are applied as near-memory updates to the local
    /// partial; a send reads the accumulated slice.
    NearMemory,
}

/// Where t3-mca's occupancy threshold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum McaThreshold {
    /// `mem.controller.mca_threshold` as configured.
    Configured,
    /// Derived on each device from its GEMM's first stage (DESIGN.md §1.6).
    FirstStage,
}

/// How a GEMM -> reduce-scatter pair executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairExec {
    /// The whole GEMM, then the collective as a kernel on each device as
    /// its GEMM ends (sequential, rs-nmc).
    Sequential(Reduction),
    /// Track & trigger: the pair fused by remote_map, the tracker, its
    /// trigger, DMA and near-memory updates (t3); with the arbitration
    /// policy when `mca` is set (t3-mca).
    Fused { mca: Option<McaThreshold> },
    /// The GEMM decomposed per chunk on `gemm_cus` CUs, with a concurrent
    /// reduce-scatter kernel sending each slice once its tiles are stored
    /// (software fine-grained overlap).
    Decomposed { gemm_cus: u32 },
}

/// One simulated run of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Run {
    /// One op of the trace alone (its index in the trace's op graph), its
    /// inputs already in memory: the isolated runs the comparisons need
    /// (the GEMM alone, the collective alone).
    Alone(usize),
    /// Every op of the trace, each GEMM -> collective pair executed as
    /// given; every other op runs the same in every mode.
    Graph(PairExec),
}

impl Run {
    /// How the run's GEMM -> collective pairs execute.
    pub fn pairs(self) -> Option<PairExec> {
        match self {
            Run::Alone(_) => None,
            Run::Graph(p) => Some(p),
        }
    }

    /// How a pair's collective reduces when it runs as a kernel.
    pub fn pair_reduction(self) -> Reduction {
        match self {
            Run::Graph(PairExec::Sequential(r)) => r,
            _ => Reduction::Kernel,
        }
    }

    /// True for track & trigger.
    pub fn fused(self) -> bool {
        matches!(self, Run::Graph(PairExec::Fused { .. }))
    }

    /// True when a pair's collective kernel runs beside its GEMM.
    pub fn decomposed(self) -> bool {
        matches!(self, Run::Graph(PairExec::Decomposed { .. }))
    }

    /// CUs the GEMMs may use (`None`: all).
    pub fn gemm_cus(self) -> Option<u32> {
        match self {
            Run::Graph(PairExec::Decomposed { gemm_cus }) => Some(gemm_cus),
            _ => None,
        }
    }

    /// True when each device derives its t3-mca threshold.
    pub fn derives_mca_threshold(self) -> bool {
        matches!(
            self,
            Run::Graph(PairExec::Fused {
                mca: Some(McaThreshold::FirstStage)
            })
        )
    }
}
