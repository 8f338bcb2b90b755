//! Ring reduce-scatter (DESIGN.md §1): device `d` sends to `d - 1`. In
//! step `s` (1..n) it sends chunk `(d + s) mod n`: at step 1 its own
//! partial, later the partial plus what arrived for that chunk at step
//! `s - 1`; after step `n - 1` it holds its own chunk `d` fully reduced.
//! Chunks are pipelined in slices, at most `window` being read at once.
//!
//! Fused (T3), the same ring is a schedule: stage `s` computes chunk
//! `(d + s) mod n`; stage 1's stores go to `d - 1` (remote_map); every
//! later tile receives two contributions in local memory (the device's own
//! store and the neighbour's update) and, complete, goes on to `d - 1`,
//! except stage `n`'s, which is `d`'s final chunk.

use super::{
    ChunkedBuffer, CollEnv, Collective, CollectiveDevice, FusedSchedule, KernelExec, StoreTarget,
    Tag,
};
use crate::engine::Ps;
use crate::mem::{Op as MemOp, Stream};
use crate::modes::Reduction;
use std::collections::HashMap;

/// Ring reduce-scatter over `n` devices.
#[derive(Debug, Clone)]
pub struct RingReduceScatter {
    n: u32,
}

impl RingReduceScatter {
    pub fn new(n: u32) -> RingReduceScatter {
        RingReduceScatter { n: n.max(1) }
    }

    fn prev(&self, d: u32) -> u32 {
        (d + self.n - 1) % self.n
    }
}

impl Collective for RingReduceScatter {
    fn name(&self) -> &'static str {
        "ring-reduce-scatter"
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
        Box::new(RingRsDevice::new(rank, self.n, exec, buffer))
    }

    fn fused(&self) -> Option<&dyn FusedSchedule> {
        Some(self)
    }
}

impl FusedSchedule for RingReduceScatter {
    fn stage_chunk(&self, rank: u32, stage: u32) -> u32 {
        (rank + stage) % self.n
    }

    fn stage_of(&self, rank: u32, chunk: u32) -> u32 {
        match (chunk + self.n - rank) % self.n {
            0 => self.n,
            s => s,
        }
    }

    fn store_target(&self, rank: u32, chunk: u32) -> StoreTarget {
        if self.stage_of(rank, chunk) == 1 {
            StoreTarget::Remote(self.prev(rank))
        } else {
            StoreTarget::Local
        }
    }

    fn contributions(&self, _rank: u32, _chunk: u32) -> u32 {
        2
    }

    fn forward(&self, rank: u32, chunk: u32) -> Option<u32> {
        (self.stage_of(rank, chunk) != self.n).then(|| self.prev(rank))
    }
}

/// Memory operations of the kernel.
const SEND_READ: u8 = 0;
const RECV: u8 = 1;
const FINAL_READ: u8 = 2;
const FINAL_WRITE: u8 = 3;
/// Transfers: slice `b` of step `a`.
const SLICE: u8 = 0;

fn tag(kind: u8, step: u32, slice: u32) -> Tag {
    Tag {
        kind,
        a: step,
        b: slice,
    }
}

/// One device of a ring reduce-scatter kernel.
#[derive(Debug, Clone)]
pub(super) struct RingRsDevice {
    dev: u32,
    n: u32,
    exec: KernelExec,
    slices: u32,
    buffer: ChunkedBuffer,
    started: Option<Ps>,
    end: Option<Ps>,
    /// [step][slice]: received and landed.
    arrived: Vec<Vec<bool>>,
    recv_vals: HashMap<(u32, u32), Vec<u64>>,
    recv_op: HashMap<(u32, u32), u32>,
    /// Next (step, slice) to send, in order.
    cursor: (u32, u32),
    reading: u32,
    finals: u32,
    /// Final slices whose reduction has started (guards double starts).
    final_started: Vec<bool>,
}

impl RingRsDevice {
    pub(super) fn new(dev: u32, n: u32, exec: KernelExec, buffer: ChunkedBuffer) -> RingRsDevice {
        let slices = buffer.slices();
        RingRsDevice {
            dev,
            n,
            exec,
            slices,
            buffer,
            started: None,
            end: None,
            arrived: vec![vec![false; slices as usize]; n as usize],
            recv_vals: HashMap::new(),
            recv_op: HashMap::new(),
            cursor: (1, 0),
            reading: 0,
            finals: 0,
            final_started: vec![false; slices as usize],
        }
    }

    /// The chunk device `d` sends at `step`: `(d + step) mod n`.
    fn send_chunk(&self, d: u32, step: u32) -> u32 {
        (d + step) % self.n
    }

    /// The device this one receives from.
    fn next(&self) -> u32 {
        (self.dev + 1) % self.n
    }

    fn kernel_reduces(&self) -> bool {
        self.exec.reduction == Reduction::Kernel
    }

    /// Starts the reads of every send whose inputs are there, in order.
    fn pump_sends(&mut self, env: &mut dyn CollEnv) {
        loop {
            if self.started.is_none() || self.reading >= self.exec.window {
                return;
            }
            let (step, slice) = self.cursor;
            if step >= self.n {
                return;
            }
            if step >= 2 && !self.arrived[step as usize - 1][slice as usize] {
                return;
            }
            let chunk = self.send_chunk(self.dev, step);
            if self.exec.follows_producer && !env.input_ready(chunk, slice) {
                return;
            }
            self.cursor = if slice + 1 < self.slices {
                (step, slice + 1)
            } else {
                (step + 1, 0)
            };
            self.reading += 1;
            let own = self.buffer.own_slice(self.dev, chunk, slice);
            let op = env.open(tag(SEND_READ, step, slice));
            env.issue(op, own.0, own.1, MemOp::Read, Stream::RsRead);
            if step >= 2 && self.kernel_reduces() {
                let r = self.buffer.recv_slice(chunk, step - 1, slice);
                env.issue(op, r.0, r.1, MemOp::Read, Stream::RsRead);
            }
        }
    }

    fn send_read_done(&mut self, step: u32, slice: u32, env: &mut dyn CollEnv) {
        let chunk = self.send_chunk(self.dev, step);
        let mut vals = env.values(self.buffer.slice_tiles(chunk, slice));
        if step >= 2 && self.kernel_reduces() {
            let recv = self
                .recv_vals
                .remove(&(step - 1, slice))
                .unwrap_or_default();
            for (v, r) in vals.iter_mut().zip(recv) {
                *v = v.wrapping_add(r);
            }
        }
        let bytes = self.buffer.own_slice(self.dev, chunk, slice).1;
        self.reading -= 1;
        let dst = (self.dev + self.n - 1) % self.n;
        env.send(dst, tag(SLICE, step, slice), bytes, vals);
        self.pump_sends(env);
    }

    fn recv_done(&mut self, step: u32, slice: u32, env: &mut dyn CollEnv) {
        self.recv_op.remove(&(step, slice));
        let chunk = self.send_chunk(self.next(), step);
        if !self.kernel_reduces() {
            // The updates added the neighbour's partial sums in place.
            let vals = self.recv_vals.remove(&(step, slice)).unwrap_or_default();
            env.add_values(self.buffer.slice_tiles(chunk, slice), &vals);
        }
        self.arrived[step as usize][slice as usize] = true;
        if step + 1 == self.n {
            if self.started.is_some() {
                self.final_slice(slice, env);
            }
        } else {
            self.pump_sends(env);
        }
    }

    fn final_slice(&mut self, slice: u32, env: &mut dyn CollEnv) {
        if self.final_started[slice as usize]
            || (self.exec.follows_producer && !env.input_ready(self.dev, slice))
        {
            return;
        }
        self.final_started[slice as usize] = true;
        if self.kernel_reduces() {
            let own = self.buffer.own_slice(self.dev, self.dev, slice);
            let recv = self.buffer.recv_slice(self.dev, self.n - 1, slice);
            let op = env.open(tag(FINAL_READ, 0, slice));
            env.issue(op, own.0, own.1, MemOp::Read, Stream::RsRead);
            env.issue(op, recv.0, recv.1, MemOp::Read, Stream::RsRead);
        } else {
            self.final_done(env);
        }
    }

    fn final_done(&mut self, env: &mut dyn CollEnv) {
        self.finals += 1;
        if self.finals == self.slices {
            self.end = Some(env.now());
        }
    }
}

impl CollectiveDevice for RingRsDevice {
    fn start(&mut self, env: &mut dyn CollEnv) {
        if self.started.is_some() {
            return;
        }
        self.started = Some(env.now());
        self.pump_sends(env);
        // Slices of the last step that landed before the kernel started.
        let last = self.n as usize - 1;
        for j in 0..self.slices {
            if self.arrived[last][j as usize] {
                self.final_slice(j, env);
            }
        }
    }

    fn mem_done(&mut self, t: Tag, env: &mut dyn CollEnv) {
        match t.kind {
            SEND_READ => self.send_read_done(t.a, t.b, env),
            RECV => self.recv_done(t.a, t.b, env),
            FINAL_READ => {
                let (addr, bytes) = self.buffer.own_slice(self.dev, self.dev, t.b);
                let op = env.open(tag(FINAL_WRITE, 0, t.b));
                env.issue(op, addr, bytes, MemOp::Write, Stream::RsWrite);
            }
            _ => {
                let vals = self
                    .recv_vals
                    .remove(&(self.n - 1, t.b))
                    .unwrap_or_default();
                env.add_values(self.buffer.slice_tiles(self.dev, t.b), &vals);
                self.final_done(env);
            }
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
        let (step, slice) = (unit.a, unit.b);
        // Device d receives, at `step`, the chunk its neighbour sends.
        let chunk = self.send_chunk(self.next(), step);
        let key = (step, slice);
        let op = match self.recv_op.get(&key) {
            Some(&op) => op,
            None => {
                let op = env.open(tag(RECV, step, slice));
                // Held until the slice's last packet is in, so the op
                // cannot finish between packets.
                env.hold(op);
                self.recv_op.insert(key, op);
                op
            }
        };
        let last = vals.is_some();
        if let Some(v) = vals {
            self.recv_vals.insert(key, v);
        }
        if self.kernel_reduces() {
            let (a, _) = self.buffer.recv_slice(chunk, step, slice);
            env.issue(op, a + offset, bytes as u64, MemOp::Write, Stream::RsWrite);
        } else {
            let (a, _) = self.buffer.own_slice(self.dev, chunk, slice);
            env.issue(
                op,
                a + offset,
                bytes as u64,
                MemOp::Update,
                Stream::NmcUpdate,
            );
        }
        if last {
            // Packets of a link arrive in order: this was the slice's last,
            // and its own requests are still outstanding.
            env.release(op);
        }
    }

    fn input_ready(&mut self, chunk: u32, slice: u32, env: &mut dyn CollEnv) {
        self.pump_sends(env);
        if chunk == self.dev && self.arrived[self.n as usize - 1][slice as usize] {
            self.final_slice(slice, env);
        }
    }

    fn started_at(&self) -> Option<Ps> {
        self.started
    }

    fn ended_at(&self) -> Option<Ps> {
        self.end
    }

    fn describe(&self) -> String {
        format!(
            "reduce-scatter finished {}/{} slices, next send {:?}, {} reading",
            self.finals, self.slices, self.cursor, self.reading
        )
    }
}
