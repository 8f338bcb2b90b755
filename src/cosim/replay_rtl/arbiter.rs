//! The arbiter checker of a replay co-simulation.

use super::*;

/// One channel's RTL arbiter and the per-cycle view of its inputs.
struct ArbInst {
    rtl: McaRtl,
    /// Next DRAM cycle to drive.
    next: u64,
    /// Communication waits (queued or held) in the cycles being held.
    waiting: bool,
    /// Ports of the last driven edge.
    pins: McaIn,
    steps: u64,
    dead: bool,
}

pub(super) struct ArbChecker {
    mode: &'static str,
    /// [device][channel]
    chans: Vec<Vec<Option<ArbInst>>>,
    limit: u32,
    fault: Option<Fault>,
    tracing: Tracing,
    checked: u64,
    seed: u64,
}

/// What the controller and the RTL said at one checked cycle.
struct ArbMismatch {
    fields: Vec<String>,
    inputs: String,
    expected: String,
    actual: String,
}

impl ArbChecker {
    pub(super) fn new(mode: &'static str, s: &Settings, limit: u32) -> Self {
        ArbChecker {
            mode,
            chans: Vec::new(),
            limit,
            fault: s.fault,
            tracing: Tracing::new(s.trace.clone(), Block::Arbiter),
            checked: 0,
            seed: s.seed,
        }
    }

    /// Drives the held inputs through cycles `next..t`. Skipping is exact
    /// where it is done: with no communication waiting the counter is 0
    /// after one edge and stays 0; with communication waiting and unserved
    /// the counter only grows, so once it reaches the (constant) limit
    /// every later grant is the same, and the grant register is rewritten
    /// by the next driven edge anyway.
    fn advance(inst: &mut ArbInst, limit: u32, tracing: &mut Tracing, target: bool, t: u64) {
        inst.pins.cycle.comm_waiting = inst.waiting;
        inst.pins.cycle.comm_served = false;
        if !target && inst.next < t {
            // The same edges as the loop below, in one call into C++.
            let edges = inst.rtl.hold(inst.pins, t - inst.next);
            inst.steps += edges;
            inst.next = t;
            return;
        }
        while inst.next < t {
            let s = inst.rtl.starve_cycles();
            let stable = if inst.waiting { s >= limit } else { s == 0 };
            if stable {
                inst.next = t;
                break;
            }
            if target {
                tracing.before_edge(&mut inst.rtl, inst.steps);
            }
            inst.rtl.step(inst.pins);
            inst.steps += 1;
            inst.next += 1;
        }
    }

    fn event(&mut self, dev: u32, ch: u32, e: ArbEvent) -> Result<(), (u64, u64, ArbMismatch)> {
        let (d, c) = (dev as usize, ch as usize);
        if self.chans.len() <= d {
            self.chans.resize_with(d + 1, Vec::new);
        }
        if self.chans[d].len() <= c {
            self.chans[d].resize_with(c + 1, || None);
        }
        let target = self.tracing.is_target(dev, Some(ch));
        let limit = self.limit;
        let inst = self.chans[d][c].get_or_insert_with(|| ArbInst {
            rtl: McaRtl::new(target),
            next: 0,
            waiting: false,
            pins: McaIn {
                limit,
                ..Default::default()
            },
            steps: 0,
            dead: false,
        });
        if inst.dead {
            return Ok(());
        }
        let cycle = match e {
            ArbEvent::CommWaits { cycle } => cycle,
            ArbEvent::Admission { cycle, .. } => cycle,
            ArbEvent::Decision { cycle, .. } => cycle,
        };
        let step = inst.steps;
        let bad = |fields: Vec<String>, inputs: String, expected: String, actual: String| {
            Err((
                cycle,
                step,
                ArbMismatch {
                    fields,
                    inputs,
                    expected,
                    actual,
                },
            ))
        };
        if cycle < inst.next {
            return bad(
                vec![format!(
                    "event order: cycle {cycle} comes after cycle {} was driven",
                    inst.next - 1
                )],
                format!("{e:?}"),
                String::new(),
                String::new(),
            );
        }
        Self::advance(inst, limit, &mut self.tracing, target, cycle);
        let capped = |s: u64| s.min(limit as u64);
        let rtl_starve = inst.rtl.starve_cycles() as u64;
        match e {
            ArbEvent::CommWaits { .. } => {
                if inst.waiting {
                    return bad(
                        vec!["comm_waiting: communication already waits".into()],
                        format!("{e:?}"),
                        "comm_waiting false before".into(),
                        "true".into(),
                    );
                }
                inst.waiting = true;
                Ok(())
            }
            ArbEvent::Admission { inputs, .. } => {
                self.checked += 1;
                let model = if inst.waiting {
                    inputs.starve_cycles
                } else {
                    0
                };
                if capped(model) != capped(rtl_starve) {
                    return bad(
                        vec![format!(
                            "starve: expected {}, actual {} (capped at limit {limit})",
                            capped(model),
                            capped(rtl_starve)
                        )],
                        format!("admission check {inputs:?}"),
                        format!("starve {model}"),
                        format!("starve {rtl_starve}"),
                    );
                }
                Ok(())
            }
            ArbEvent::Decision {
                inputs,
                threshold,
                grant,
                comm_served,
                comm_waiting_after,
                ..
            } => {
                self.checked += 1;
                let mut fields = Vec::new();
                if inputs.comm_waiting != inst.waiting {
                    fields.push(format!(
                        "comm_waiting: per-cycle view {}, controller {}",
                        inst.waiting, inputs.comm_waiting
                    ));
                }
                let model_starve = if inputs.comm_waiting {
                    inputs.starve_cycles
                } else {
                    0
                };
                if capped(model_starve) != capped(rtl_starve) {
                    fields.push(format!(
                        "starve: expected {}, actual {} (capped at limit {limit})",
                        capped(model_starve),
                        capped(rtl_starve)
                    ));
                }
                let mut th = threshold.min(u16::MAX as u32) as u16;
                if Fault::hits(self.fault, Block::Arbiter, cycle) {
                    th = th.saturating_add(1);
                }
                inst.pins = McaIn {
                    cycle: McaCycleIn {
                        compute_waiting: inputs.compute_waiting,
                        comm_waiting: inputs.comm_waiting,
                        compute_occupancy: inputs.compute_occupancy.min(u16::MAX as u32) as u16,
                        comm_served,
                    },
                    threshold: th,
                    limit,
                };
                if target {
                    self.tracing.before_edge(&mut inst.rtl, inst.steps);
                }
                let actual = inst.rtl.step(inst.pins).grant;
                inst.steps += 1;
                inst.next = cycle + 1;
                inst.waiting = comm_waiting_after;
                // The grant the per-cycle definition gives for what the
                // controller saw must be what the controller used.
                let reference = mca_grant(threshold, limit as u64, &inputs);
                if reference != grant {
                    fields.push(format!(
                        "controller grant {grant:?} differs from mca_grant {reference:?}"
                    ));
                }
                if actual != grant {
                    fields.push(format!("grant: expected {grant:?}, actual {actual:?}"));
                }
                if fields.is_empty() {
                    return Ok(());
                }
                Err((
                    cycle,
                    step,
                    ArbMismatch {
                        fields,
                        inputs: format!("{:?} (controller: {inputs:?})", inst.pins),
                        expected: format!("grant {grant:?}, starve {model_starve}"),
                        actual: format!("grant {actual:?}, starve {rtl_starve}"),
                    },
                ))
            }
        }
    }
}

impl Checker for ArbChecker {
    type Ev = ArbEv;

    /// Checks the whole batch; of the channels that diverge in it, the one
    /// with the earliest cycle is reported.
    fn check(&mut self, batch: &[ArbEv]) -> Result<(), Box<ReplayDivergence>> {
        let mut first: Option<(u64, u32, u32, u64, ArbMismatch)> = None;
        for &(dev, ch, e) in batch {
            if let Err((cycle, step, m)) = self.event(dev, ch, e) {
                if let Some(inst) = self.chans[dev as usize][ch as usize].as_mut() {
                    inst.dead = true;
                }
                if first
                    .as_ref()
                    .is_none_or(|f| (cycle, dev, ch) < (f.0, f.1, f.2))
                {
                    first = Some((cycle, dev, ch, step, m));
                }
            }
        }
        let Some((cycle, dev, ch, step, m)) = first else {
            return Ok(());
        };
        let waveform = match self.chans[dev as usize][ch as usize].as_mut() {
            Some(inst) if self.tracing.is_target(dev, Some(ch)) => {
                self.tracing.finish(&mut inst.rtl)
            }
            _ => rerun_waveform(),
        };
        let site = Site {
            block: Block::Arbiter,
            mode: self.mode,
            device: dev,
            channel: Some(ch),
            cycle,
            step,
            seed: self.seed,
        };
        Err(site.report(
            m.inputs,
            m.expected,
            m.actual,
            m.fields.join("; "),
            waveform,
        ))
    }

    fn summary(&self) -> BlockCheck {
        let insts = self.chans.iter().flatten().flatten();
        let (mut n, mut edges, mut cycles) = (0, 0, 0);
        for i in insts {
            n += 1;
            edges += i.steps;
            cycles += i.next;
        }
        BlockCheck {
            block: "arbiter".into(),
            mode: self.mode.into(),
            instances: n,
            checked: self.checked,
            rtl_cycles: edges,
            dram_cycles: cycles,
            wall_s: 0.0,
        }
    }
}
