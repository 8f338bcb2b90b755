//! A device's collective kernels as the simulation runs them: a kernel is
//! taken out of its device for the length of a call and handed the
//! simulation as its [`CollEnv`]; when the call leaves it finished, the op
//! ends.

use super::Sim;
use super::event::{Ev, Then, Unit};
use crate::collective::{CollEnv, CollectiveDevice, Tag};
use crate::engine::Ps;
use crate::mem::{Op as MemOp, Stream};

/// The simulation as collective `op` on device `dev` sees it.
struct CollCtx<'s, 'a> {
    sim: &'s mut Sim<'a>,
    dev: u32,
    op: usize,
}

impl Sim<'_> {
    /// Calls device `d`'s kernel of collective `op`, if it has one.
    pub(super) fn with_collective(
        &mut self,
        d: u32,
        op: usize,
        f: impl FnOnce(&mut dyn CollectiveDevice, &mut dyn CollEnv),
    ) {
        // A kernel never calls back into itself: what it asks of the
        // simulation completes later, as events.
        let Some(mut c) = self.devs[d as usize].ops[op].coll.take() else {
            return;
        };
        f(
            c.as_mut(),
            &mut CollCtx {
                sim: self,
                dev: d,
                op,
            },
        );
        let done = c.ended_at().is_some();
        self.devs[d as usize].ops[op].coll = Some(c);
        if done {
            self.op_end(d, op);
        }
    }
}

impl CollCtx<'_, '_> {
    fn values(&self) -> usize {
        self.sim.plan.coll(self.op).values
    }
}

impl CollEnv for CollCtx<'_, '_> {
    fn now(&self) -> Ps {
        self.sim.now
    }

    fn open(&mut self, tag: Tag) -> u32 {
        let now = self.sim.now;
        let op = self.op as u32;
        self.sim.devs[self.dev as usize]
            .mem
            .open(now, Then::Coll { op, tag })
    }

    fn issue(&mut self, op: u32, addr: u64, bytes: u64, kind: MemOp, stream: Stream) {
        self.sim.issue(self.dev, op, addr, bytes, kind, stream);
    }

    fn hold(&mut self, op: u32) {
        self.sim.devs[self.dev as usize].mem.hold(op);
    }

    fn release(&mut self, op: u32) {
        if self.sim.devs[self.dev as usize].mem.release(op) {
            let (now, dev) = (self.sim.now, self.dev);
            self.sim.q.push(now, Ev::OpDone { dev, op });
        }
    }

    fn send(&mut self, dst: u32, unit: Tag, bytes: u64, vals: Vec<u64>) {
        let dst = self.sim.plan.coll(self.op).ranks[dst as usize];
        let unit = Unit::Coll {
            op: self.op as u32,
            tag: unit,
        };
        self.sim.send(self.dev, dst, unit, bytes, vals);
    }

    fn values(&self, tiles: std::ops::Range<u64>) -> Vec<u64> {
        let v = &self.sim.devs[self.dev as usize].vals[self.values()];
        tiles.map(|t| v[t as usize]).collect()
    }

    fn add_values(&mut self, tiles: std::ops::Range<u64>, vals: &[u64]) {
        let i = self.values();
        let v = &mut self.sim.devs[self.dev as usize].vals[i];
        for (t, x) in tiles.zip(vals) {
            v[t as usize] = v[t as usize].wrapping_add(*x);
        }
    }

    fn set_values(&mut self, tiles: std::ops::Range<u64>, vals: &[u64]) {
        let i = self.values();
        let v = &mut self.sim.devs[self.dev as usize].vals[i];
        for (t, x) in tiles.zip(vals) {
            v[t as usize] = *x;
        }
    }

    fn input_ready(&self, chunk: u32, slice: u32) -> bool {
        self.sim.slice_is_stored(self.dev, self.op, chunk, slice)
    }
}
