//! Ring all-reduce: a ring reduce-scatter, then a ring all-gather of the
//! reduced chunks, on each rank as soon as its reduce-scatter is done,
//! over the same buffer. Fused (T3), the reduce-scatter half is the fused
//! part and the all-gather runs as a kernel after it.

use super::ring_ag::RingAgDevice;
use super::ring_rs::{RingReduceScatter, RingRsDevice};
use super::{ChunkedBuffer, CollEnv, Collective, CollectiveDevice, FusedSchedule, KernelExec, Tag};
use crate::engine::Ps;

/// Tag kinds at or above this are the all-gather's.
const AG_BASE: u8 = 16;

/// Ring all-reduce over `n` ranks.
#[derive(Debug, Clone)]
pub struct RingAllReduce {
    rs: RingReduceScatter,
    n: u32,
}

impl RingAllReduce {
    pub fn new(n: u32) -> RingAllReduce {
        RingAllReduce {
            rs: RingReduceScatter::new(n),
            n: n.max(1),
        }
    }
}

impl Collective for RingAllReduce {
    fn name(&self) -> &'static str {
        "ring-all-reduce"
    }

    fn devices(&self) -> u32 {
        self.n
    }

    fn kernel(
        &self,
        rank: u32,
        exec: KernelExec,
        buffer: ChunkedBuffer,
    ) -> Box<dyn CollectiveDevice> {
        Box::new(RingArDevice {
            rs: RingRsDevice::new(rank, self.n, exec, buffer.clone()),
            ag: RingAgDevice::new(rank, self.n, exec, buffer, AG_BASE),
            ag_started: false,
        })
    }

    fn fused(&self) -> Option<&dyn FusedSchedule> {
        Some(&self.rs)
    }

    fn after_fused(
        &self,
        rank: u32,
        exec: KernelExec,
        buffer: ChunkedBuffer,
    ) -> Option<Box<dyn CollectiveDevice>> {
        Some(Box::new(RingAgDevice::new(rank, self.n, exec, buffer, 0)))
    }
}

/// One rank of a ring all-reduce kernel.
#[derive(Debug, Clone)]
struct RingArDevice {
    rs: RingRsDevice,
    ag: RingAgDevice,
    ag_started: bool,
}

impl RingArDevice {
    /// Starts the all-gather once the reduce-scatter is done.
    fn advance(&mut self, env: &mut dyn CollEnv) {
        if !self.ag_started && self.rs.ended_at().is_some() {
            self.ag_started = true;
            self.ag.start(env);
        }
    }
}

impl CollectiveDevice for RingArDevice {
    fn start(&mut self, env: &mut dyn CollEnv) {
        self.rs.start(env);
        self.advance(env);
    }

    fn mem_done(&mut self, t: Tag, env: &mut dyn CollEnv) {
        if t.kind >= AG_BASE {
            self.ag.mem_done(t, env);
        } else {
            self.rs.mem_done(t, env);
            self.advance(env);
        }
    }

    fn arrival(
        &mut self,
        unit: Tag,
        offset: u64,
        bytes: u32,
        vals: Option<Vec<u64>>,
        env: &mut dyn CollEnv,
    ) {
        if unit.kind >= AG_BASE {
            self.ag.arrival(unit, offset, bytes, vals, env);
        } else {
            self.rs.arrival(unit, offset, bytes, vals, env);
            self.advance(env);
        }
    }

    fn input_ready(&mut self, chunk: u32, slice: u32, env: &mut dyn CollEnv) {
        self.rs.input_ready(chunk, slice, env);
        self.advance(env);
    }

    fn started_at(&self) -> Option<Ps> {
        self.rs.started_at()
    }

    fn ended_at(&self) -> Option<Ps> {
        self.ag.ended_at()
    }

    fn describe(&self) -> String {
        if self.ag_started {
            self.ag.describe()
        } else {
            self.rs.describe()
        }
    }
}
