//! How work moves between a device's components: memory completions back
//! to whoever asked, a GEMM tile's output to where the run sends it, a
//! fused pair's tiles through the tracker, the DMA engines and the links,
//! and packets onto the wire and off it.

use super::Sim;
use super::device::{DmaIo, GemmIo, TrackIo};
use super::event::{Ev, Then, Unit};
use super::memport::LINE;
use crate::collective::StoreTarget;
use crate::gpu::{GemmEvent, GemmStep};
use crate::mem::{Op as MemOp, Stream};
use crate::net::Packet;
use crate::t3::Updates;

impl Sim<'_> {
    /// A memory operation is done: its continuation runs.
    pub(super) fn op_done(&mut self, d: u32, op: u32) {
        self.progress_at = self.now;
        let then = self.devs[d as usize].mem.take(op);
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
            Then::Store { tile } => self.tile_stored(d, tile),
            Then::Coll(tag) => self.with_collective(d, |c, env| c.mem_done(tag, env)),
            Then::TileUpdates { tile } => self.tile_complete(d, tile),
            Then::DmaRead { tile, start } => {
                self.devs[d as usize].dma.read_done(start, self.now);
                let dst = self.sched().forward(d, self.buffer.chunk_of(tile));
                let bytes = self.g.tile_span(tile).1;
                let v = self.devs[d as usize].acc[tile as usize];
                if let Some(dst) = dst {
                    self.send(d, dst, Unit::Tile { tile }, bytes, vec![v]);
                }
                self.pump_dma(d);
            }
        }
    }

    // ----- GEMM -----

    /// Launches device `d`'s GEMM on its CUs.
    pub(super) fn launch_gemm(&mut self, d: u32) {
        let now = self.now;
        let dev = &mut self.devs[d as usize];
        let Some(k) = dev.gemm.take() else {
            return;
        };
        let mut io = GemmIo {
            now,
            dev: d,
            q: &mut self.q,
            mem: &mut dev.mem,
        };
        dev.cus.launch(k, &mut io);
    }

    pub(super) fn start_tile(&mut self, d: u32, slot: u32) {
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
                if let Some((_, tile)) = dev.cus.step_done(ev.slot, k, &mut io) {
                    self.tile_computed(d, tile);
                    self.start_tile(d, ev.slot);
                }
            }
        }
    }

    /// A tile's last step ended: its output goes where the run sends it.
    fn tile_computed(&mut self, d: u32, tile: u64) {
        let bytes = self.g.tile_span(tile).1;
        if !self.run.fused() {
            let op = self.devs[d as usize]
                .mem
                .open(self.now, Then::Store { tile });
            let addr = self.g.c_addr(d, tile);
            self.issue(d, op, addr, bytes, MemOp::Write, Stream::GemmWrite);
            return;
        }
        let chunk = self.buffer.chunk_of(tile);
        let v = super::values::sig(&self.g, d, tile);
        match self.sched().store_target(d, chunk) {
            StoreTarget::Remote(peer) => {
                // remote_map: the stores travel to the peer as updates.
                self.send(d, peer, Unit::Tile { tile }, bytes, vec![v]);
                self.stage1_tile_done(d);
            }
            StoreTarget::Local => {
                let expected = self.expected_updates(d, tile);
                self.track(
                    d,
                    Updates {
                        tile,
                        expected,
                        offset: 0,
                        bytes,
                        stream: Stream::GemmWrite,
                        value: Some(v),
                    },
                );
                self.retire_tile(d);
            }
        }
    }

    /// The tracker's expected count for `tile` on device `d`: every
    /// contribution the collective brings it, one update per line each.
    fn expected_updates(&self, d: u32, tile: u64) -> u32 {
        let contributions = self.sched().contributions(d, self.buffer.chunk_of(tile));
        contributions * (self.g.tile_span(tile).1 / LINE) as u32
    }

    /// A tile's stores are done.
    fn tile_stored(&mut self, d: u32, tile: u64) {
        let v = super::values::sig(&self.g, d, tile);
        let dev = &mut self.devs[d as usize];
        dev.acc[tile as usize] = dev.acc[tile as usize].wrapping_add(v);
        if self.run.decomposed() {
            let (chunk, slice) = self.buffer.slice_of(tile);
            let i = (chunk * self.buffer.slices() + slice) as usize;
            self.devs[d as usize].slice_stored[i] += 1;
            if self.slice_is_stored(d, chunk, slice) {
                self.with_collective(d, |c, env| c.input_ready(chunk, slice, env));
            }
        }
        self.retire_tile(d);
    }

    pub(super) fn slice_is_stored(&self, d: u32, chunk: u32, slice: u32) -> bool {
        let want = self.buffer.slice_tiles(chunk, slice);
        self.devs[d as usize].slice_stored[(chunk * self.buffer.slices() + slice) as usize] as u64
            == want.end - want.start
    }

    /// One more of the GEMM's tiles has its output posted.
    fn retire_tile(&mut self, d: u32) {
        if self.devs[d as usize].cus.retire(0) {
            self.gemm_finished(d);
        }
    }

    pub(super) fn gemm_finished(&mut self, d: u32) {
        self.devs[d as usize].gemm_end = Some(self.now);
        if std::mem::take(&mut self.stop_at_gemm_end) {
            self.gemm_ended = Some(d);
        }
        self.start_collective(d);
    }

    // ----- T3: track & trigger -----

    fn stage1_tile_done(&mut self, d: u32) {
        self.retire_tile(d);
        let f = &mut self.devs[d as usize].fused;
        f.stage1_left -= 1;
        if f.stage1_left == 0 && self.run.derives_mca_threshold() {
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
            dev.fused.mca_threshold = Some(th);
        }
    }

    /// Counts updates in the tracker and sends them to memory.
    fn track(&mut self, d: u32, u: Updates) {
        let now = self.now;
        let dev = &mut self.devs[d as usize];
        let Some(tracking) = dev.tracking.as_mut() else {
            return;
        };
        let mut io = TrackIo {
            now,
            dev: d,
            q: &mut self.q,
            mem: &mut dev.mem,
            acc: &mut dev.acc,
            g: &self.g,
            probe: self.probe.as_mut(),
        };
        tracking.submit(u, &mut io);
    }

    /// All updates of a tracked tile are performed: trigger its DMA, or
    /// count it final when the device owns the chunk.
    fn tile_complete(&mut self, d: u32, tile: u64) {
        let chunk = self.buffer.chunk_of(tile);
        if self.sched().forward(d, chunk).is_none() {
            let f = &mut self.devs[d as usize].fused;
            f.finals += 1;
            if f.finals == self.buffer.chunk_len() {
                f.end = Some(self.now);
            }
        } else {
            let now = self.now;
            let dev = &mut self.devs[d as usize];
            let mut io = DmaIo {
                now,
                dev: d,
                q: &mut self.q,
                mem: &mut dev.mem,
                g: &self.g,
            };
            dev.dma.trigger(tile, &mut io);
        }
    }

    fn pump_dma(&mut self, d: u32) {
        let now = self.now;
        let dev = &mut self.devs[d as usize];
        let mut io = DmaIo {
            now,
            dev: d,
            q: &mut self.q,
            mem: &mut dev.mem,
            g: &self.g,
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
            g,
            ..
        } = self;
        let p = &mut devs[d as usize].ports[port as usize];
        let link = p.link();
        let retry = p.pump(*now, &mut links[link], |del, mut pkt| {
            // In the symmetric shortcut a tile sent is the one the
            // neighbour sends at the same point: one chunk further round.
            if let (true, Unit::Tile { tile }) = (*symmetric, pkt.unit) {
                pkt.unit = Unit::Tile {
                    tile: (tile + g.chunk_tiles(0).end) % g.tiles(),
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
            Unit::Tile { tile } => {
                // Remote stores and DMA'd tiles land as near-memory updates,
                // counted by this device's tracker.
                let expected = self.expected_updates(d, tile);
                self.track(
                    d,
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
            Unit::Coll(tag) => {
                let (offset, bytes, vals) = (p.offset, p.bytes, p.vals);
                self.with_collective(d, |c, env| c.arrival(tag, offset, bytes, vals, env));
            }
        }
    }
}
