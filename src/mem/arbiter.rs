//! Arbitration between the compute and the communication stream at one
//! memory controller. One trait, implementations chosen by name
//! (`mem.controller.arbitration`):
//!
//! - `fr-fcfs`: no distinction; the scheduler sees every request alike.
//! - `compute-first`: both streams eligible, compute ranked first.
//! - `t3-mca` (T3's memory-controller arbitration): compute ranked first;
//!   communication is held back while the compute requests queued at the
//!   controller are at or above a threshold (and compute is waiting); a
//!   communication request that has waited `starvation_limit_cycles` is
//!   forced through (ranked first).
//!
//! Why only compute requests count: the paper's threshold stands for the
//! GEMM's memory intensity (replays derive it from the compute occupancy
//! of the first stage), so it is compared with the same quantity. Counting
//! queued communication too would make communication block itself: once
//! a few DMA reads or updates are queued they would hold back every other
//! communication request even when the GEMM's own demand is light, until
//! the starvation limit forces them through.
//!
//! Admission (`Channel::admits`, not part of this per-cycle grant): a
//! communication request enters the controller's queue only while the
//! grant would let it issue, and while fewer communication requests than
//! the threshold are queued (unless starving), so held communication never
//! takes the queue slots compute needs.
//!
//! The controller asks at every command decision. The starvation count is
//! defined per DRAM cycle so that the RTL arbiter (`rtl/mca_arbiter.v`) can
//! implement it with a counter: `starve(c+1) = comm_waiting(c) &&
//! !comm_served(c) ? starve(c) + 1 : 0` (saturating), where `comm_served`
//! means a communication request's column command issued in cycle `c`.
//! [`McaCycleModel`] is that per-cycle form; the event-driven controller
//! computes the same number as `now - since`.
//!
//! `comm_waiting` means a communication request is queued at the
//! controller or held at its door by the arbiter (refused admission); it
//! does not depend on which queue the write-drain mode makes active. The
//! controller uses that one definition for the grant, for admission and for
//! the starvation clock, and logs [`ArbEvent`]s for the co-simulation.

/// Names accepted in configs.
pub const NAMES: &[&str] = &["fr-fcfs", "compute-first", "t3-mca"];

/// What the arbiter sees at a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArbInputs {
    pub compute_waiting: bool,
    pub comm_waiting: bool,
    /// Compute requests queued at the controller (read + write queues);
    /// communication requests are not counted (see the module comment).
    pub compute_occupancy: u32,
    /// Cycles the oldest communication request has gone unserved.
    pub starve_cycles: u64,
}

/// How the scheduler may rank the two streams for this decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Grant {
    /// No distinction between the streams.
    Both = 0,
    /// Both eligible; compute ranked above communication.
    ComputeFirst = 1,
    /// Communication held back.
    ComputeOnly = 2,
    /// Communication forced through (starvation); ranked above compute.
    CommFirst = 3,
}

impl Grant {
    pub fn from_bits(b: u8) -> Grant {
        match b & 3 {
            0 => Grant::Both,
            1 => Grant::ComputeFirst,
            2 => Grant::ComputeOnly,
            _ => Grant::CommFirst,
        }
    }
}

/// A stream arbitration policy.
pub trait ArbitrationPolicy: Send + Sync + std::fmt::Debug + dyn_clone::DynClone {
    fn name(&self) -> &'static str;
    fn grant(&self, inp: &ArbInputs) -> Grant;
    /// False when the grant is always [`Grant::Both`]: the controller then
    /// need not rank the streams separately.
    fn distinguishes_streams(&self) -> bool {
        true
    }
    /// t3-mca's occupancy threshold, when the policy has one.
    fn threshold(&self) -> Option<u32> {
        None
    }
    /// Sets the threshold (replays derive it at run time).
    fn set_threshold(&mut self, _t: u32) {}
}

// A memory system (and a whole simulation) is cloned at a point two runs
// share, boxed policy included.
dyn_clone::clone_trait_object!(ArbitrationPolicy);

#[derive(Debug, Clone)]
pub struct FrFcfs;

impl ArbitrationPolicy for FrFcfs {
    fn name(&self) -> &'static str {
        "fr-fcfs"
    }
    fn grant(&self, _: &ArbInputs) -> Grant {
        Grant::Both
    }
    fn distinguishes_streams(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone)]
pub struct ComputeFirst;

impl ArbitrationPolicy for ComputeFirst {
    fn name(&self) -> &'static str {
        "compute-first"
    }
    fn grant(&self, _: &ArbInputs) -> Grant {
        Grant::ComputeFirst
    }
}

#[derive(Debug, Clone)]
pub struct T3Mca {
    pub threshold: u32,
    pub starvation_limit_cycles: u64,
}

/// The t3-mca decision as a pure function, shared by the event-driven
/// policy and the per-cycle model.
#[inline]
pub fn mca_grant(threshold: u32, limit: u64, inp: &ArbInputs) -> Grant {
    if inp.comm_waiting && inp.starve_cycles >= limit {
        Grant::CommFirst
    } else if !inp.compute_waiting || inp.compute_occupancy < threshold {
        Grant::ComputeFirst
    } else {
        Grant::ComputeOnly
    }
}

impl ArbitrationPolicy for T3Mca {
    fn name(&self) -> &'static str {
        "t3-mca"
    }
    fn grant(&self, inp: &ArbInputs) -> Grant {
        mca_grant(self.threshold, self.starvation_limit_cycles, inp)
    }
    fn threshold(&self) -> Option<u32> {
        Some(self.threshold)
    }
    fn set_threshold(&mut self, t: u32) {
        self.threshold = t;
    }
}

/// Builds the policy named in the config. `threshold` 0 means the queue
/// capacity (no holding back until a value is derived).
pub fn build(
    name: &str,
    threshold: u32,
    queue_capacity: u32,
    starvation_limit_cycles: u64,
) -> Option<Box<dyn ArbitrationPolicy>> {
    match name {
        "fr-fcfs" => Some(Box::new(FrFcfs)),
        "compute-first" => Some(Box::new(ComputeFirst)),
        "t3-mca" => Some(Box::new(T3Mca {
            threshold: if threshold == 0 {
                queue_capacity
            } else {
                threshold
            },
            starvation_limit_cycles,
        })),
        _ => None,
    }
}

/// What a controller's arbitration did, logged (when enabled) for the
/// per-cycle co-simulation of the arbiter (`src/cosim/replay/`). Per
/// channel, events come in non-decreasing cycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArbEvent {
    /// Communication starts waiting at `cycle` (nothing was queued or held).
    CommWaits { cycle: u64 },
    /// An admission check of a communication request at `cycle`; `grant`
    /// `ComputeOnly` refused it.
    Admission {
        cycle: u64,
        inputs: ArbInputs,
        threshold: u32,
        grant: Grant,
    },
    /// A command decision (a request's command) issued at `cycle`.
    Decision {
        cycle: u64,
        inputs: ArbInputs,
        threshold: u32,
        grant: Grant,
        /// A communication request's column command issued.
        comm_served: bool,
        /// Communication still waits after this cycle.
        comm_waiting_after: bool,
    },
}

/// Inputs of the arbiter in one DRAM cycle (the RTL's ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct McaCycleIn {
    pub compute_waiting: bool,
    pub comm_waiting: bool,
    /// Compute requests queued at the controller.
    pub compute_occupancy: u16,
    /// A communication request's column command issued this cycle.
    pub comm_served: bool,
}

/// t3-mca as a per-cycle block: the reference the RTL is checked against.
#[derive(Debug, Clone)]
pub struct McaCycleModel {
    pub threshold: u16,
    pub limit: u32,
    starve: u32,
}

impl McaCycleModel {
    pub fn new(threshold: u16, limit: u32) -> Self {
        McaCycleModel {
            threshold,
            limit,
            starve: 0,
        }
    }

    /// One clock edge: the grant for this cycle's inputs, then the counter
    /// update.
    pub fn step(&mut self, i: McaCycleIn) -> Grant {
        let g = mca_grant(
            self.threshold as u32,
            self.limit as u64,
            &ArbInputs {
                compute_waiting: i.compute_waiting,
                comm_waiting: i.comm_waiting,
                compute_occupancy: i.compute_occupancy as u32,
                starve_cycles: self.starve as u64,
            },
        );
        self.starve = if i.comm_waiting && !i.comm_served {
            self.starve.saturating_add(1)
        } else {
            0
        };
        g
    }

    pub fn starve_cycles(&self) -> u32 {
        self.starve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mca_holds_comm_back_only_under_pressure() {
        let p = T3Mca {
            threshold: 8,
            starvation_limit_cycles: 100,
        };
        let mut i = ArbInputs {
            compute_waiting: true,
            comm_waiting: true,
            compute_occupancy: 8,
            starve_cycles: 0,
        };
        assert_eq!(p.grant(&i), Grant::ComputeOnly);
        i.compute_occupancy = 7;
        assert_eq!(p.grant(&i), Grant::ComputeFirst);
        i.compute_occupancy = 30;
        i.compute_waiting = false;
        assert_eq!(p.grant(&i), Grant::ComputeFirst);
        i.compute_waiting = true;
        i.starve_cycles = 100;
        assert_eq!(p.grant(&i), Grant::CommFirst);
    }

    #[test]
    fn cycle_model_forces_comm_after_the_limit() {
        let mut m = McaCycleModel::new(4, 3);
        let busy = McaCycleIn {
            compute_waiting: true,
            comm_waiting: true,
            compute_occupancy: 10,
            comm_served: false,
        };
        let g: Vec<Grant> = (0..5).map(|_| m.step(busy)).collect();
        assert_eq!(
            g,
            vec![
                Grant::ComputeOnly,
                Grant::ComputeOnly,
                Grant::ComputeOnly,
                Grant::CommFirst,
                Grant::CommFirst
            ]
        );
        m.step(McaCycleIn {
            comm_served: true,
            ..busy
        });
        assert_eq!(m.starve_cycles(), 0);
    }
}
