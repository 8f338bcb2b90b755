//! The end of a run: the functional check, the per-device results (the
//! symmetric shortcut's mirrored devices among them), and what is stuck
//! when a run cannot finish.

use super::Sim;
use super::device::Dev;
use super::values::sig;
use crate::engine::Ps;
use crate::error::{Error, Result};
use crate::gpu::Kernel;
use crate::stats::{DevResult, SimResult, TimelineSpan};

/// The timeline of one device.
fn spans_of(dev: &Dev, fused: bool) -> Vec<TimelineSpan> {
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
    if let Kernel::Gemm(k) = dev.gemm_kernel() {
        for (i, &(s, e)) in k.stage_spans().iter().enumerate() {
            if let Some(s) = s {
                span("compute", "gemm", format!("GEMM stage {}", i + 1), s, e);
            }
        }
    }
    if let Some(c) = &dev.coll
        && let (Some(s), Some(e)) = (c.started_at(), c.ended_at())
    {
        span("collective", "rs", "reduce-scatter".into(), s, e);
    }
    if let (true, Some(s), Some(e)) = (fused, first_send(dev), dev.fused.end) {
        span(
            "collective",
            "rs",
            "T3 reduce-scatter (tracked)".into(),
            s,
            e,
        );
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

/// When the device first sent anything.
fn first_send(dev: &Dev) -> Option<Ps> {
    dev.ports.iter().filter_map(|p| p.first_send()).min()
}

impl Sim<'_> {
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
        for dev in &self.devs {
            if self.run.has_gemm() && dev.gemm_end.is_none() {
                stuck.push(format!(
                    "device {}: GEMM stored {}/{} tiles",
                    dev.id,
                    dev.gemm_kernel().retired(),
                    dev.gemm_kernel().workgroups()
                ));
            }
            if let Some(c) = &dev.coll
                && c.ended_at().is_none()
            {
                stuck.push(format!(
                    "device {}: {}, {} queued to send{}",
                    dev.id,
                    c.describe(),
                    queued(dev),
                    memory(dev)
                ));
            }
        }
        for dev in &self.devs {
            if let Some(t) = &dev.tracking
                && dev.fused.end.is_none()
            {
                // Local stores come from the device's own GEMM; arriving
                // updates from the device that sends to it.
                let from = (dev.id + 1) % self.n;
                let source = |s: crate::mem::Stream| match s {
                    crate::mem::Stream::GemmWrite => format!("device {}'s GEMM", dev.id),
                    _ => format!("device {from}"),
                };
                stuck.push(format!(
                    "device {}: T3 completed {}/{} own-chunk tiles; {}; {} tiles queued for DMA, {} DMA reads in flight, {} transfers queued on the link{}",
                    dev.id,
                    dev.fused.finals,
                    self.buffer.chunk_len(),
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

    pub(super) fn finish(mut self) -> Result<SimResult> {
        let stuck = self.stuck_report();
        if !stuck.is_empty() {
            return Err(Error::Deadlock(format!(
                "no event left at t = {} ns but work remains:\n{}",
                self.now / 1000,
                stuck.join("\n")
            )));
        }
        // Functional check: each device's own chunk holds every device's
        // contribution.
        if self.run.kernel_reduction().is_some() || self.run.fused() {
            for dev in &self.devs {
                let d = dev.id;
                for t in self.g.chunk_tiles(d as u64) {
                    let want = (0..self.n).fold(0u64, |s, e| s.wrapping_add(sig(&self.g, e, t)));
                    let got = dev.acc[t as usize];
                    if got != want {
                        return Err(Error::Check(format!(
                            "functional check: device {d} chunk {d} tile {t} holds {got:#x}, expected the sum of all devices' contributions {want:#x}"
                        )));
                    }
                }
            }
        }
        let end_ps = self.now;
        let fused = self.run.fused();
        let mut devices = Vec::new();
        for dev in &mut self.devs {
            let end = dev.mem.clk.cycle_at(end_ps) + 1;
            let out: Vec<usize> = dev.ports.iter().map(|p| p.link()).collect();
            let coll_end = dev.coll.as_ref().and_then(|c| c.ended_at());
            let rs_end = coll_end.or(dev.fused.end);
            devices.push(DevResult {
                device: dev.id,
                end_ps: rs_end.unwrap_or(0).max(dev.gemm_end.unwrap_or(0)),
                gemm_start_ps: dev.gemm_start,
                gemm_end_ps: if self.run.has_gemm() {
                    dev.gemm_end
                } else {
                    None
                },
                rs_start_ps: if fused {
                    first_send(dev)
                } else {
                    dev.coll.as_ref().and_then(|c| c.started_at())
                },
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
                mca_threshold: dev.fused.mca_threshold,
                spans: spans_of(dev, fused),
                bandwidth: dev.bw.streams(),
                channel_bandwidth: dev.bw.channels(),
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
