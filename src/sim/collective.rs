//! A device's collective kernel as the simulation runs it: the kernel is
//! taken out of its device for the length of a call and handed the
//! simulation as its [`CollEnv`].

use super::Sim;
use super::event::{Ev, Then, Unit};
use crate::collective::{CollEnv, CollectiveDevice, Tag};
use crate::engine::Ps;
use crate::mem::{Op as MemOp, Stream};

/// The simulation as device `dev`'s collective sees it.
struct CollCtx<'s, 'a> {
    sim: &'s mut Sim<'a>,
    dev: u32,
}

impl Sim<'_> {
    /// Calls device `d`'s collective kernel, if the run has one.
    pub(super) fn with_collective(
        &mut self,
        d: u32,
        f: impl FnOnce(&mut dyn CollectiveDevice, &mut dyn CollEnv),
    ) {
        // A kernel never calls back into itself: what it asks of the
        // simulation completes later, as events.
        let Some(mut c) = self.devs[d as usize].coll.take() else {
            return;
        };
        f(c.as_mut(), &mut CollCtx { sim: self, dev: d });
        self.devs[d as usize].coll = Some(c);
    }

    /// Starts device `d`'s collective kernel (once).
    pub(super) fn start_collective(&mut self, d: u32) {
        self.with_collective(d, |c, env| c.start(env));
    }
}

impl CollEnv for CollCtx<'_, '_> {
    fn now(&self) -> Ps {
        self.sim.now
    }

    fn open(&mut self, tag: Tag) -> u32 {
        let now = self.sim.now;
        self.sim.devs[self.dev as usize]
            .mem
            .open(now, Then::Coll(tag))
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
        self.sim.send(self.dev, dst, Unit::Coll(unit), bytes, vals);
    }

    fn values(&self, tiles: std::ops::Range<u64>) -> Vec<u64> {
        let acc = &self.sim.devs[self.dev as usize].acc;
        tiles.map(|t| acc[t as usize]).collect()
    }

    fn add_values(&mut self, tiles: std::ops::Range<u64>, vals: &[u64]) {
        let acc = &mut self.sim.devs[self.dev as usize].acc;
        for (t, v) in tiles.zip(vals) {
            acc[t as usize] = acc[t as usize].wrapping_add(*v);
        }
    }

    fn set_values(&mut self, tiles: std::ops::Range<u64>, vals: &[u64]) {
        let acc = &mut self.sim.devs[self.dev as usize].acc;
        for (t, v) in tiles.zip(vals) {
            acc[t as usize] = *v;
        }
    }

    fn input_ready(&self, chunk: u32, slice: u32) -> bool {
        self.sim.slice_is_stored(self.dev, chunk, slice)
    }
}
