//! Ring all-gather: rank `r` sends to `r - 1`. In step `s` (1..n) it sends
//! chunk `(r + s - 1) mod n`: its own chunk at step 1, later the chunk it
//! received at step `s - 1`, which lands in place in its buffer. After
//! step `n - 1` every rank holds every chunk. Chunks are pipelined in
//! slices, at most `window` being read at once. Nothing is reduced, so the
//! kernel's reduction does not matter.

use super::{ChunkedBuffer, CollEnv, Collective, CollectiveDevice, KernelExec, Tag};
use crate::engine::Ps;
use crate::mem::{Op as MemOp, Stream};
use std::collections::HashMap;

/// Ring all-gather over `n` ranks.
#[derive(Debug, Clone)]
pub struct RingAllGather {
    n: u32,
}

impl RingAllGather {
    pub fn new(n: u32) -> RingAllGather {
        RingAllGather { n: n.max(1) }
    }
}

impl Collective for RingAllGather {
    fn name(&self) -> &'static str {
        "ring-all-gather"
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
        Box::new(RingAgDevice::new(rank, self.n, exec, buffer, 0))
    }
}

/// Memory operations and transfers, offset by the device's tag base.
const SEND_READ: u8 = 0;
const RECV: u8 = 1;
const SLICE: u8 = 0;

/// One rank of a ring all-gather kernel.
#[derive(Debug, Clone)]
pub(super) struct RingAgDevice {
    rank: u32,
    n: u32,
    exec: KernelExec,
    buffer: ChunkedBuffer,
    /// Added to every tag kind (an all-reduce runs this after its
    /// reduce-scatter and tells their tags apart).
    base: u8,
    slices: u32,
    started: Option<Ps>,
    end: Option<Ps>,
    /// [step][slice]: received and landed.
    arrived: Vec<Vec<bool>>,
    landed: u64,
    recv_vals: HashMap<(u32, u32), Vec<u64>>,
    recv_op: HashMap<(u32, u32), u32>,
    /// Next (step, slice) to send, in order.
    cursor: (u32, u32),
    reading: u32,
}

impl RingAgDevice {
    pub(super) fn new(
        rank: u32,
        n: u32,
        exec: KernelExec,
        buffer: ChunkedBuffer,
        base: u8,
    ) -> Self {
        let slices = buffer.slices();
        RingAgDevice {
            rank,
            n,
            exec,
            buffer,
            base,
            slices,
            started: None,
            end: None,
            arrived: vec![vec![false; slices as usize]; n as usize],
            landed: 0,
            recv_vals: HashMap::new(),
            recv_op: HashMap::new(),
            cursor: (1, 0),
            reading: 0,
        }
    }

    fn tag(&self, kind: u8, step: u32, slice: u32) -> Tag {
        Tag {
            kind: self.base + kind,
            a: step,
            b: slice,
        }
    }

    /// The chunk this rank sends at `step`.
    fn send_chunk(&self, step: u32) -> u32 {
        (self.rank + step - 1) % self.n
    }

    /// The chunk this rank receives at `step` (what `rank + 1` sends).
    fn recv_chunk(&self, step: u32) -> u32 {
        (self.rank + step) % self.n
    }

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
            let chunk = self.send_chunk(step);
            if step == 1 && self.exec.follows_producer && !env.input_ready(chunk, slice) {
                return;
            }
            self.cursor = if slice + 1 < self.slices {
                (step, slice + 1)
            } else {
                (step + 1, 0)
            };
            self.reading += 1;
            let (addr, bytes) = self.buffer.own_slice(self.rank, chunk, slice);
            let op = env.open(self.tag(SEND_READ, step, slice));
            env.issue(op, addr, bytes, MemOp::Read, Stream::RsRead);
        }
    }

    fn send_read_done(&mut self, step: u32, slice: u32, env: &mut dyn CollEnv) {
        let chunk = self.send_chunk(step);
        let vals = env.values(self.buffer.slice_tiles(chunk, slice));
        let bytes = self.buffer.own_slice(self.rank, chunk, slice).1;
        self.reading -= 1;
        let dst = (self.rank + self.n - 1) % self.n;
        let unit = self.tag(SLICE, step, slice);
        env.send(dst, unit, bytes, vals);
        self.pump_sends(env);
    }

    fn recv_done(&mut self, step: u32, slice: u32, env: &mut dyn CollEnv) {
        self.recv_op.remove(&(step, slice));
        let chunk = self.recv_chunk(step);
        let vals = self.recv_vals.remove(&(step, slice)).unwrap_or_default();
        env.set_values(self.buffer.slice_tiles(chunk, slice), &vals);
        self.arrived[step as usize][slice as usize] = true;
        self.landed += 1;
        if self.landed == (self.n as u64 - 1) * self.slices as u64 {
            self.end = Some(env.now());
        }
        self.pump_sends(env);
    }
}

impl CollectiveDevice for RingAgDevice {
    fn start(&mut self, env: &mut dyn CollEnv) {
        if self.started.is_some() {
            return;
        }
        self.started = Some(env.now());
        if self.n == 1 {
            self.end = Some(env.now());
            return;
        }
        self.pump_sends(env);
    }

    fn mem_done(&mut self, t: Tag, env: &mut dyn CollEnv) {
        match t.kind - self.base {
            SEND_READ => self.send_read_done(t.a, t.b, env),
            _ => self.recv_done(t.a, t.b, env),
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
        let chunk = self.recv_chunk(step);
        let key = (step, slice);
        let op = match self.recv_op.get(&key) {
            Some(&op) => op,
            None => {
                let op = env.open(self.tag(RECV, step, slice));
                // Held until the slice's last packet is in.
                env.hold(op);
                self.recv_op.insert(key, op);
                op
            }
        };
        let last = vals.is_some();
        if let Some(v) = vals {
            self.recv_vals.insert(key, v);
        }
        let (a, _) = self.buffer.own_slice(self.rank, chunk, slice);
        env.issue(op, a + offset, bytes as u64, MemOp::Write, Stream::RsWrite);
        if last {
            env.release(op);
        }
    }

    fn input_ready(&mut self, _chunk: u32, _slice: u32, env: &mut dyn CollEnv) {
        self.pump_sends(env);
    }

    fn started_at(&self) -> Option<Ps> {
        self.started
    }

    fn ended_at(&self) -> Option<Ps> {
        self.end
    }

    fn describe(&self) -> String {
        format!(
            "all-gather landed {}/{} slices, next send {:?}, {} reading",
            self.landed,
            (self.n as u64 - 1) * self.slices as u64,
            self.cursor,
            self.reading
        )
    }
}
