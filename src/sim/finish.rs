//! The end of a run: the functional check of every collective and
//! transfer, the per-device results (the symmetric shortcut's mirrored
//! devices among them), and what is stuck when a run cannot finish.

use super::Sim;
use super::device::Dev;
use super::plan::{CollExec, OpPlan};
use super::values::{reduced, sig};
use crate::engine::Ps;
use crate::error::{Error, Result};
use crate::gpu::Kernel;
use crate::stats::{DevResult, OpTime, SimResult, TimelineSpan};
use crate::trace::CollectiveKind;

/// When the device first sent anything.
fn first_send(dev: &Dev) -> Option<Ps> {
    dev.ports.iter().filter_map(|p| p.first_send()).min()
}

impl Sim<'_> {
    /// The timeline of one device.
    fn spans_of(&self, dev: &Dev) -> Vec<TimelineSpan> {
        let ns = |p: Ps| p as f64 / 1000.0;
        let mut v = Vec::new();
        let mut span = |track: &str, cat: &str, label: String, s: Ps, e: Ps| {
            if e > s {
                v.push(TimelineSpan {
                    device: dev.id,
                    track: track.into(),
                    category: cat.into(),
                    label,
                    start_ns: ns(s),
                    end_ns: ns(e),
                });
            }
        };
        let single = self.plan.single_pair;
        for (i, p) in self.plan.ops.iter().enumerate() {
            if !self.plan.runs_on(i, dev.id) {
                continue;
            }
            let st = &dev.ops[i];
            let name = &self.plan.graph.op(i).name;
            match p {
                OpPlan::Gemm(_) => {
                    let k = match (&st.pending, st.kernel) {
                        (Some(k), _) => k,
                        (None, Some(id)) => dev.cus.kernel(id),
                        (None, None) => continue,
                    };
                    if let Kernel::Gemm(k) = k {
                        for (s, &(a, e)) in k.stage_spans().iter().enumerate() {
                            if let Some(a) = a {
                                let label = if single {
                                    format!("GEMM stage {}", s + 1)
                                } else {
                                    format!("{name} stage {}", s + 1)
                                };
                                span("compute", "gemm", label, a, e);
                            }
                        }
                    }
                }
                OpPlan::Coll(c) => {
                    let fused = matches!(c.exec, CollExec::Fused { .. });
                    if let (false, Some(k)) = (fused, &st.coll)
                        && let (Some(a), Some(e)) = (k.started_at(), k.ended_at())
                    {
                        let label = if single {
                            "reduce-scatter".into()
                        } else {
                            name.clone()
                        };
                        span("collective", "rs", label, a, e);
                    }
                    if fused && let (Some(a), Some(e)) = (first_send(dev), st.end) {
                        let label = if single {
                            "T3 reduce-scatter (tracked)".into()
                        } else {
                            format!("{name} (tracked)")
                        };
                        span("collective", "rs", label, a, e);
                    }
                }
                OpPlan::Compute { .. } => {
                    if let (Some(a), Some(e)) = (st.start, st.end) {
                        span("compute", "compute", name.clone(), a, e);
                    }
                }
                OpPlan::Send(_) | OpPlan::Recv(_) => {
                    if let (Some(a), Some(e)) = (st.start, st.end) {
                        span("collective", "p2p", name.clone(), a, e);
                    }
                }
            }
        }
        for p in &dev.ports {
            for &(s, e) in p.busy().spans() {
                span("link", "link", "link busy".into(), s, e);
            }
        }
        for &(s, e) in dev.dma.busy().spans() {
            span("dma", "dma", "DMA".into(), s, e);
        }
        v
    }

    /// What is unfinished, device by device, with the state of its
    /// queues, tracker and DMA engine (for deadlock reports).
    pub(super) fn stuck_report(&self) -> Vec<String> {
        let mut stuck = Vec::new();
        let queued = |dev: &Dev| dev.ports.iter().map(|p| p.queued()).sum::<usize>();
        // One line per memory channel, indented under the device.
        let memory = |dev: &Dev| {
            if dev.mem.mem.queued() == 0 {
                return ", memory: nothing queued".to_string();
            }
            let mut s = String::from(", memory:");
            for line in dev.mem.mem.describe() {
                s += "\n    ";
                s += &line;
            }
            s
        };
        let single = self.plan.single_pair;
        let named = |i: usize| {
            if single {
                String::new()
            } else {
                format!("`{}` ", self.plan.graph.op(i).name)
            }
        };
        for dev in &self.devs {
            for (i, p) in self.plan.ops.iter().enumerate() {
                let st = &dev.ops[i];
                if !self.plan.runs_on(i, dev.id) || st.end.is_some() {
                    continue;
                }
                match p {
                    OpPlan::Gemm(_) => {
                        let (done, all) = match (&st.pending, st.kernel) {
                            (Some(k), _) => (k.retired(), k.workgroups()),
                            (None, Some(id)) => {
                                let k = dev.cus.kernel(id);
                                (k.retired(), k.workgroups())
                            }
                            (None, None) => (0, 0),
                        };
                        stuck.push(format!(
                            "device {}: {}GEMM stored {done}/{all} tiles",
                            dev.id,
                            named(i)
                        ));
                    }
                    OpPlan::Coll(c) if !matches!(c.exec, CollExec::Fused { .. }) => {
                        let what = match &st.coll {
                            Some(k) => k.describe(),
                            None => {
                                format!("{} waits for {} dependencies", c.kind.name(), st.deps_left)
                            }
                        };
                        stuck.push(format!(
                            "device {}: {}{what}, {} queued to send{}",
                            dev.id,
                            named(i),
                            queued(dev),
                            memory(dev)
                        ));
                    }
                    OpPlan::Coll(_) => {}
                    _ => stuck.push(format!(
                        "device {}: {}{} not finished ({} dependencies left)",
                        dev.id,
                        named(i),
                        self.plan.graph.op(i).kind_name(),
                        st.deps_left
                    )),
                }
            }
        }
        for dev in &self.devs {
            for (i, p) in self.plan.ops.iter().enumerate() {
                let OpPlan::Coll(c) = p else { continue };
                let (Some(t), Some(f)) = (&dev.tracking, &dev.ops[i].fused) else {
                    continue;
                };
                if !self.plan.runs_on(i, dev.id) || f.end.is_some() {
                    continue;
                }
                // Local stores come from the device's own GEMM; arriving
                // updates from the device that sends to it.
                let rank = self.plan.rank(i, dev.id);
                let from = c.ranks[((rank + 1) % c.ranks.len() as u32) as usize];
                let source = |s: crate::mem::Stream| match s {
                    crate::mem::Stream::GemmWrite => format!("device {}'s GEMM", dev.id),
                    _ => format!("device {from}"),
                };
                stuck.push(format!(
                    "device {}: {}T3 completed {}/{} own-chunk tiles; {}; {} tiles queued for DMA, {} DMA reads in flight, {} transfers queued on the link{}",
                    dev.id,
                    named(i),
                    f.finals,
                    c.buffer.chunk_len(),
                    t.describe(source),
                    dev.dma.queued(),
                    dev.dma.active(),
                    queued(dev),
                    memory(dev)
                ));
            }
        }
        stuck
    }

    /// Checks every collective's and transfer's result on every simulated
    /// device.
    fn check(&self) -> Result<()> {
        for dev in &self.devs {
            let d = dev.id;
            for (i, p) in self.plan.ops.iter().enumerate() {
                if !self.plan.runs_on(i, d) {
                    continue;
                }
                let named = if self.plan.single_pair {
                    String::new()
                } else {
                    format!(
                        " ({} `{}`)",
                        self.plan.graph.op(i).kind_name(),
                        self.plan.graph.op(i).name
                    )
                };
                match p {
                    OpPlan::Coll(c) => {
                        let r = self.plan.rank(i, d);
                        let vals = &dev.vals[c.values];
                        let tiles = match c.kind {
                            CollectiveKind::ReduceScatter => c.buffer.chunk_tiles(r),
                            _ => 0..c.buffer.tiles(),
                        };
                        for t in tiles {
                            let chunk = c.buffer.chunk_of(t);
                            let (want, what) = match c.kind {
                                CollectiveKind::AllGather if !c.gathers_reduced => (
                                    sig(&c.buffer, c.values, chunk, t),
                                    format!("device {}'s contribution", c.ranks[chunk as usize]),
                                ),
                                _ => (
                                    reduced(&c.buffer, c.values, t),
                                    "the sum of all devices' contributions".to_string(),
                                ),
                            };
                            let got = vals[t as usize];
                            if got != want {
                                return Err(Error::Check(format!(
                                    "functional check{named}: device {d} chunk {chunk} tile {t} holds {got:#x}, expected {what} {want:#x}"
                                )));
                            }
                        }
                    }
                    OpPlan::Recv(r) => {
                        let want = super::transfer::transfer_value(r.t.peer);
                        if dev.vals[i].first() != Some(&want) {
                            return Err(Error::Check(format!(
                                "functional check{named}: device {d} did not receive the data device {} sent",
                                r.t.src
                            )));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<SimResult> {
        let stuck = self.stuck_report();
        if !stuck.is_empty() {
            return Err(Error::Deadlock(format!(
                "no event left at t = {} ns but work remains:\n{}",
                self.now / 1000,
                stuck.join("\n")
            )));
        }
        self.check()?;
        let end_ps = self.now;
        let fused = self.run.fused();
        let mut devices = Vec::new();
        let plan = self.plan.clone();
        for i in 0..self.devs.len() {
            let spans = self.spans_of(&self.devs[i]);
            let dev = &mut self.devs[i];
            let end = dev.mem.clk.cycle_at(end_ps) + 1;
            let out: Vec<usize> = dev.ports.iter().map(|p| p.link()).collect();
            let mut ops = Vec::new();
            let (mut gemm_end, mut rs_start, mut rs_end): (Option<Ps>, Option<Ps>, Option<Ps>) =
                (None, None, None);
            let mut gemm_start = None;
            for (k, p) in plan.ops.iter().enumerate() {
                let st = &dev.ops[k];
                let (Some(s), Some(e)) = (st.start, st.end) else {
                    continue;
                };
                ops.push(OpTime {
                    op: k,
                    start_ps: s,
                    end_ps: e,
                });
                match p {
                    OpPlan::Gemm(_) => {
                        gemm_start = Some(gemm_start.map_or(s, |g: Ps| g.min(s)));
                        gemm_end = Some(gemm_end.map_or(e, |g: Ps| g.max(e)));
                    }
                    OpPlan::Coll(c) => {
                        let s = match (&st.coll, c.exec) {
                            (Some(k), CollExec::Kernel(_) | CollExec::BesideProducer(_)) => {
                                k.started_at().unwrap_or(s)
                            }
                            _ => s,
                        };
                        rs_start = Some(rs_start.map_or(s, |g: Ps| g.min(s)));
                        rs_end = Some(rs_end.map_or(e, |g: Ps| g.max(e)));
                    }
                    _ => {}
                }
            }
            if fused {
                rs_start = first_send(dev);
            }
            devices.push(DevResult {
                device: dev.id,
                end_ps: ops.iter().map(|o| o.end_ps).max().unwrap_or(0),
                gemm_start_ps: gemm_start.unwrap_or(0),
                gemm_end_ps: gemm_end,
                rs_start_ps: rs_start,
                rs_end_ps: rs_end,
                mem: dev.mem.mem.finish(end),
                mem_tck_ps: dev.mem.clk.time_of(1),
                l2_hits: dev.cus.l2_hits(),
                l2_misses: dev.cus.l2_misses(),
                link_bytes_out: out.iter().map(|&l| self.links[l].stats().bytes).sum(),
                link_busy_ps: out.iter().map(|&l| self.links[l].busy_ps()).sum(),
                compute_busy_ps: dev.cus.compute_busy_ps(),
                tracker_stall_ps: dev.tracking.as_ref().map_or(0, |t| t.stall_ps()),
                tracker_peak_occupancy: dev.tracking.as_ref().map_or(0, |t| t.peak_occupancy()),
                mca_threshold: dev.mca_threshold,
                spans,
                bandwidth: dev.bw.streams(),
                channel_bandwidth: dev.bw.channels(),
                ops,
            });
        }
        if self.symmetric {
            // Every device follows device 0's timeline, rotated by a chunk.
            let d0 = devices[0].clone();
            devices = (0..self.n)
                .map(|i| DevResult {
                    device: i,
                    spans: d0
                        .spans
                        .iter()
                        .map(|sp| TimelineSpan {
                            device: i,
                            ..sp.clone()
                        })
                        .collect(),
                    ..d0.clone()
                })
                .collect();
        }
        Ok(SimResult {
            devices,
            end_ps,
            events: self.events,
            symmetric: self.symmetric,
        })
    }
}
