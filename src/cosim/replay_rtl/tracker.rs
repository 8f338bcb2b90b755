//! The tracker checker of a replay co-simulation.

use super::*;

struct TrackerInst {
    rtl: TrackerRtl,
    steps: u64,
}

pub(super) struct TrackerChecker {
    mode: &'static str,
    devs: Vec<Option<TrackerInst>>,
    fault: Option<Fault>,
    tracing: Tracing,
    checked: u64,
    seed: u64,
}

impl TrackerChecker {
    pub(super) fn new(mode: &'static str, s: &Settings) -> Self {
        TrackerChecker {
            mode,
            devs: Vec::new(),
            fault: s.fault,
            tracing: Tracing::new(s.trace.clone(), Block::Tracker),
            checked: 0,
            seed: s.seed,
        }
    }
}

impl Checker for TrackerChecker {
    type Ev = TrackerEv;

    fn check(&mut self, batch: &[TrackerEv]) -> Result<(), Box<ReplayDivergence>> {
        for &(dev, input, expected) in batch {
            let d = dev as usize;
            if self.devs.len() <= d {
                self.devs.resize_with(d + 1, || None);
            }
            let target = self.tracing.is_target(dev, None);
            let inst = self.devs[d].get_or_insert_with(|| TrackerInst {
                rtl: TrackerRtl::new(target),
                steps: 0,
            });
            let step = inst.steps;
            if target {
                self.tracing.before_edge(&mut inst.rtl, step);
            }
            let mut seen = input;
            if Fault::hits(self.fault, Block::Tracker, step) {
                seen.expected = seen.expected.saturating_sub(1);
            }
            let actual = inst.rtl.step(seen);
            inst.steps += 1;
            self.checked += 1;
            if actual != expected {
                let waveform = self.tracing.at(target, &mut inst.rtl);
                let site = Site {
                    block: Block::Tracker,
                    mode: self.mode,
                    device: dev,
                    channel: None,
                    cycle: step,
                    step,
                    seed: self.seed,
                };
                return Err(site.outputs(&seen, &expected, &actual, waveform));
            }
        }
        Ok(())
    }

    fn summary(&self) -> BlockCheck {
        let steps = self.devs.iter().flatten().map(|i| i.steps);
        edge_summary("tracker", self.mode, self.checked, steps)
    }
}

// ----- NMC ALU -----
