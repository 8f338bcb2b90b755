//! How work moves between a device's components: memory completions back
//! to whoever asked, a workgroup's output to where the run sends it, a
//! fused pair's tiles through the tracker, the DMA engines and the links,
//! and packets onto the wire and off it.

use super::Sim;
use super::device::{DmaIo, GemmIo, TrackIo};
use super::event::{Ev, Then, Unit};
use super::memport::LINE;
use super::plan::{OpPlan, Output};
use crate::collective::StoreTarget;
use crate::gpu::{GemmEvent, GemmStep, Kernel};
use crate::mem::{Op as MemOp, Stream};
use crate::net::Packet;
use crate::t3::Updates;

impl Sim<'_> {
    /// A memory operation is done: its continuation runs.
    pub(super) fn op_done(&mut self, d: u32, mop: u32) {
        self.progress_at = self.now;
        let then = self.devs[d as usize].mem.take(mop);
        match then {
            Then::Fill { addr } => {
                let now = self.now;
                let dev = &mut self.devs[d as usize];
                let mut io = GemmIo {
                    now,
                    dev: d,
                    q: &mut self.q,
                    mem: &mut dev.mem,
                };
                dev.cus.fill_done(addr, &mut io);
            }
            Then::Store { op, tile } => self.tile_stored(d, op as usize, tile),
            Then::Coll { op, tag } => {
                self.with_collective(d, op as usize, |c, env| c.mem_done(tag, env))
            }
            Then::TileUpdates { op, tile } => self.tile_complete(d, op as usize, tile),
            Then::DmaRead { op, tile, start } => {
                self.devs[d as usize].dma.read_done(start, self.now);
                let op = op as usize;
                let c = self.plan.coll(op);
                let rank = self.plan.rank(op, d);
                let sched = c.algo.fused().expect("fused collectives have a schedule");
                let dst = sched.forward(rank, c.buffer.chunk_of(tile));
                let bytes = c.buffer.tile_bytes(tile);
                let v = self.devs[d as usize].vals[c.values][tile as usize];
                if let Some(dst) = dst {
                    let dst = c.ranks[dst as usize];
                    self.send(
                        d,
                        dst,
                        Unit::Tile {
                            op: op as u32,
                            tile,
                        },
                        bytes,
                        vec![v],
                    );
                }
                self.pump_dma(d);
            }
            Then::SendRead { op } => self.send_read(d, op as usize),
            Then::RecvLanded { op, bytes } => self.recv_landed(d, op as usize, bytes),
        }
    }

    // ----- CUs -----

    /// Launches op `op`'s kernel on device `d`'s CUs.
    pub(super) fn launch_kernel(&mut self, d: u32, op: usize) {
        let now = self.now;
        let dev = &mut self.devs[d as usize];
        let Some(k) = dev.ops[op].pending.take() else {
            return;
        };
        let mut io = GemmIo {
            now,
            dev: d,
            q: &mut self.q,
            mem: &mut dev.mem,
        };
        let id = dev.cus.launch(k, &mut io);
        dev.ops[op].kernel = Some(id);
        if dev.kernel_op.len() <= id as usize {
            dev.kernel_op.resize(id as usize + 1, usize::MAX);
        }
        dev.kernel_op[id as usize] = op;
        if let OpPlan::Gemm(g) = &self.plan.ops[op]
            && let Some(c) = g.beside
        {
            self.launch(d, c);
        }
    }

    /// Op `op`'s kernel, launched or not.
    pub(super) fn kernel_of(&self, d: u32, op: usize) -> &Kernel {
        let st = &self.devs[d as usize].ops[op];
        match (&st.pending, st.kernel) {
            (Some(k), _) => k,
            (None, Some(id)) => self.devs[d as usize].cus.kernel(id),
            (None, None) => panic!("op {op} has no kernel"),
        }
    }

    pub(super) fn start_slot(&mut self, d: u32, slot: u32) {
        let now = self.now;
        let dev = &mut self.devs[d as usize];
        let mut io = GemmIo {
            now,
            dev: d,
            q: &mut self.q,
            mem: &mut dev.mem,
        };
        dev.cus.start(slot, &mut io);
    }

    pub(super) fn gemm_event(&mut self, d: u32, ev: GemmEvent) {
        let now = self.now;
        let k = ev.k as u64;
        let dev = &mut self.devs[d as usize];
        let mut io = GemmIo {
            now,
            dev: d,
            q: &mut self.q,
            mem: &mut dev.mem,
        };
        match ev.kind {
            GemmStep::BlockReady => dev.cus.block_ready(ev.slot, k, now, &mut io),
            GemmStep::StepData => dev.cus.step_data(ev.slot, k, &mut io),
            GemmStep::StepDone => {
                self.progress_at = now;
                if let Some((kernel, wg)) = dev.cus.step_done(ev.slot, k, &mut io) {
                    let op = dev.kernel_op[kernel as usize];
                    match &self.plan.ops[op] {
                        OpPlan::Gemm(_) => self.tile_computed(d, op, wg),
                        _ => self.retire(d, op),
                    }
                    self.start_slot(d, ev.slot);
                }
            }
        }
    }

    /// A GEMM tile's last step ended: its output goes where the run sends
    /// it.
    fn tile_computed(&mut self, d: u32, op: usize, tile: u64) {
        let plan = self.plan.clone();
        let g = plan.gemm(op);
        let bytes = g.geom.tile_span(tile).1;
        let coll = match g.output {
            Output::Store => {
                let m = self.devs[d as usize].mem.open(
                    self.now,
                    Then::Store {
                        op: op as u32,
                        tile,
                    },
                );
                let rank = g.consumer.map_or(d, |c| plan.rank(c, d));
                let addr = g.geom.c_addr(rank, tile);
                self.issue(d, m, addr, bytes, MemOp::Write, Stream::GemmWrite);
                return;
            }
            Output::Fused { coll } => coll,
        };
        let c = plan.coll(coll);
        let rank = plan.rank(coll, d);
        let sched = c.algo.fused().expect("fused collectives have a schedule");
        let chunk = c.buffer.chunk_of(tile);
        let v = super::values::sig(&c.buffer, c.values, rank, tile);
        match sched.store_target(rank, chunk) {
            StoreTarget::Remote(peer) => {
                // remote_map: the stores travel to the peer as updates.
                let unit = Unit::Tile {
                    op: coll as u32,
                    tile,
                };
                self.send(d, c.ranks[peer as usize], unit, bytes, vec![v]);
                self.stage1_tile_done(d, op, coll);
            }
            StoreTarget::Local => {
                let expected = self.expected_updates(coll, rank, tile);
                self.track(
                    d,
                    coll,
                    Updates {
                        tile: tile + c.tile_base,
                        expected,
                        offset: 0,
                        bytes,
                        stream: Stream::GemmWrite,
                        value: Some(v),
                    },
                );
                self.retire(d, op);
            }
        }
    }

    /// The tracker's expected count for a tile of fused collective `coll`
    /// on the device of rank `rank`: every contribution the collective
    /// brings it, one update per line each.
    fn expected_updates(&self, coll: usize, rank: u32, tile: u64) -> u32 {
        let c = self.plan.coll(coll);
        let sched = c.algo.fused().expect("fused collectives have a schedule");
        let contributions = sched.contributions(rank, c.buffer.chunk_of(tile));
        contributions * (c.buffer.tile_bytes(tile) / LINE) as u32
    }

    /// A GEMM tile's stores are done.
    fn tile_stored(&mut self, d: u32, op: usize, tile: u64) {
        let plan = self.plan.clone();
        if let Some(c) = plan.gemm(op).consumer {
            let cp = plan.coll(c);
            let v = super::values::sig(&cp.buffer, cp.values, plan.rank(c, d), tile);
            let a = &mut self.devs[d as usize].vals[op][tile as usize];
            *a = a.wrapping_add(v);
        }
        if let Some(c) = plan.gemm(op).beside {
            let cp = plan.coll(c);
            let (chunk, slice) = cp.buffer.slice_of(tile);
            let i = (chunk * cp.buffer.slices() + slice) as usize;
            self.devs[d as usize].ops[c].slice_stored[i] += 1;
            if self.slice_is_stored(d, c, chunk, slice) {
                self.with_collective(d, c, |k, env| k.input_ready(chunk, slice, env));
            }
        }
        self.retire(d, op);
    }

    pub(super) fn slice_is_stored(&self, d: u32, c: usize, chunk: u32, slice: u32) -> bool {
        let b = &self.plan.coll(c).buffer;
        let want = b.slice_tiles(chunk, slice);
        self.devs[d as usize].ops[c].slice_stored[(chunk * b.slices() + slice) as usize] as u64
            == want.end - want.start
    }

    /// One more of op `op`'s workgroups has its output posted.
    fn retire(&mut self, d: u32, op: usize) {
        let Some(k) = self.devs[d as usize].ops[op].kernel else {
            return;
        };
        if self.devs[d as usize].cus.retire(k) {
            self.op_end(d, op);
        }
    }

    // ----- T3: track & trigger -----

    fn stage1_tile_done(&mut self, d: u32, gemm: usize, coll: usize) {
        self.retire(d, gemm);
        let Some(f) = self.devs[d as usize].ops[coll].fused.as_mut() else {
            return;
        };
        f.stage1_left -= 1;
        if f.stage1_left == 0
            && self.run.derives_mca_threshold()
            && self.devs[d as usize].mca_threshold.is_none()
        {
            // The first stage runs before this device's own communication
            // reaches its memory in earnest: its mean compute occupancy per
            // channel is the GEMM's memory intensity. Communication may
            // issue while no more compute requests than that are queued
            // (the arbiter compares compute requests only, the same
            // quantity this measures).
            let dev = &mut self.devs[d as usize];
            let cyc = dev.mem.clk.cycle_at(self.now).max(1);
            let (compute, _) = dev.mem.mem.occupancy_cycles(cyc);
            let per_channel = compute as f64 / cyc as f64 / dev.mem.mem.channels() as f64;
            let k = &self.cfg.mem.controller;
            let cap = k.read_queue + k.write_queue;
            let th = ((per_channel.ceil() as u32) + 1).clamp(1, cap);
            dev.mem.mem.set_mca_threshold(th);
            dev.mca_threshold = Some(th);
        }
    }

    /// Counts updates to a tile of fused collective `coll` in the tracker
    /// and sends them to memory.
    fn track(&mut self, d: u32, coll: usize, u: Updates) {
        let now = self.now;
        let plan = self.plan.clone();
        let c = plan.coll(coll);
        let dev = &mut self.devs[d as usize];
        let Some(tracking) = dev.tracking.as_mut() else {
            return;
        };
        let mut io = TrackIo {
            now,
            dev: d,
            op: coll as u32,
            rank: plan.rank(coll, d),
            tile_base: c.tile_base,
            q: &mut self.q,
            mem: &mut dev.mem,
            vals: &mut dev.vals[c.values],
            buffer: &c.buffer,
            probe: self.probe.as_mut(),
        };
        tracking.submit(u, &mut io);
    }

    /// All updates of a tracked tile are performed: trigger its DMA, or
    /// count it final when the device owns the chunk.
    fn tile_complete(&mut self, d: u32, coll: usize, tile: u64) {
        let plan = self.plan.clone();
        let c = plan.coll(coll);
        let rank = plan.rank(coll, d);
        let sched = c.algo.fused().expect("fused collectives have a schedule");
        if sched.forward(rank, c.buffer.chunk_of(tile)).is_none() {
            let Some(f) = self.devs[d as usize].ops[coll].fused.as_mut() else {
                return;
            };
            f.finals += 1;
            if f.finals == c.buffer.chunk_len() {
                f.end = Some(self.now);
                self.fused_done(d, coll);
            }
        } else {
            let now = self.now;
            let dev = &mut self.devs[d as usize];
            let mut io = DmaIo {
                now,
                dev: d,
                q: &mut self.q,
                mem: &mut dev.mem,
                plan: &plan,
            };
            dev.dma.trigger(tile + c.tile_base, &mut io);
        }
    }

    /// The fused part of collective `coll` is done on device `d`: what the
    /// algorithm runs after it starts, or the collective ends.
    fn fused_done(&mut self, d: u32, coll: usize) {
        if self.devs[d as usize].ops[coll].coll.is_some() {
            self.with_collective(d, coll, |k, env| k.start(env));
        } else {
            self.op_end(d, coll);
        }
    }

    fn pump_dma(&mut self, d: u32) {
        let now = self.now;
        let plan = self.plan.clone();
        let dev = &mut self.devs[d as usize];
        let mut io = DmaIo {
            now,
            dev: d,
            q: &mut self.q,
            mem: &mut dev.mem,
            plan: &plan,
        };
        dev.dma.pump(&mut io);
    }

    // ----- links -----

    /// Queues a transfer from `d` to its neighbour `dst` and sends what
    /// the link takes.
    pub(super) fn send(&mut self, d: u32, dst: u32, unit: Unit, bytes: u64, vals: Vec<u64>) {
        let port = self.topo.port_to(d, dst).unwrap_or(0);
        self.devs[d as usize].ports[port as usize].queue(unit, bytes, vals);
        self.pump_port(d, port);
    }

    /// Sends packets of a port's queued transfers while its link has
    /// credits.
    pub(super) fn pump_port(&mut self, d: u32, port: u32) {
        let Sim {
            devs,
            links,
            q,
            arrivals,
            now,
            symmetric,
            plan,
            ..
        } = self;
        let p = &mut devs[d as usize].ports[port as usize];
        let link = p.link();
        let retry = p.pump(*now, &mut links[link], |del, mut pkt| {
            // In the symmetric shortcut a tile sent is the one the
            // neighbour sends at the same point: one chunk further round.
            if let (true, Unit::Tile { op, tile }) = (*symmetric, pkt.unit) {
                let b = &plan.coll(op as usize).buffer;
                pkt.unit = Unit::Tile {
                    op,
                    tile: (tile + b.chunk_len()) % b.tiles(),
                };
            }
            // Arrivals come before the receiver's own events of the same
            // instant, whoever sent them.
            let key = q.key(del.arrival, 0);
            // Only the link's next arrival is in the event queue; the rest
            // wait in the order they were sent.
            let fifo = &mut arrivals[link];
            match fifo.back() {
                None => {
                    fifo.push_back((key, pkt));
                    q.push_keyed(key, Ev::Arrival { link: link as u32 });
                }
                Some(&(last, _)) if last < key => fifo.push_back((key, pkt)),
                Some(_) => q.push_keyed(key, Ev::Packet(Box::new(pkt))),
            }
        });
        if let Some(t) = retry {
            q.push(t, Ev::SendRetry { dev: d, port });
        }
    }

    /// A packet landed at its destination.
    pub(super) fn packet(&mut self, p: Packet<Unit>) {
        let d = p.dst;
        let link = p.link as usize;
        let _ = self.links[link].return_credit(self.now);
        // A sender that ran out of credits sends again when this one is back.
        if let Some((src, port)) = self.link_owner[link] {
            let at = self.now + self.links[link].latency_ps();
            if let Some(t) = self.devs[src as usize].ports[port as usize].credit_returned(at) {
                self.q.push(t, Ev::SendRetry { dev: src, port });
            }
        }
        match p.unit {
            Unit::Tile { op, tile } => {
                // Remote stores and DMA'd tiles land as near-memory updates,
                // counted by this device's tracker.
                let op = op as usize;
                let c = self.plan.coll(op);
                let expected = self.expected_updates(op, self.plan.rank(op, d), tile);
                let tile = tile + c.tile_base;
                self.track(
                    d,
                    op,
                    Updates {
                        tile,
                        expected,
                        offset: p.offset,
                        bytes: p.bytes as u64,
                        stream: Stream::NmcUpdate,
                        value: p.vals.map(|v| v[0]),
                    },
                );
            }
            Unit::Coll { op, tag } => {
                let (offset, bytes, vals) = (p.offset, p.bytes, p.vals);
                self.with_collective(d, op as usize, |c, env| {
                    c.arrival(tag, offset, bytes, vals, env)
                });
            }
            Unit::Transfer { op } => {
                self.transfer_arrived(d, op as usize, p.offset, p.bytes, p.vals)
            }
        }
    }
}
