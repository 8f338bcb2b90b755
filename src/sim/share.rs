//! Runs that share their GEMM phase (gemm-alone, sequential, rs-nmc of a
//! sub-layer trace) simulate it once and continue copies of the state.

use super::{Sim, SimOptions};
use crate::config::HwConfig;
use crate::error::Result;
use crate::modes::{PairExec, Run};
use crate::stats::SimResult;
use crate::trace::{OpGraph, Trace};

/// Runs `runs`, which differ only in the collective that follows the GEMM
/// (none, kernel, near-memory), simulating the GEMM they share once.
///
/// On a trace that is one GEMM and the reduce-scatter of its output, until
/// the first device's GEMM ends no such run starts its collective, and
/// nothing else in the simulation depends on which follows: the runs
/// process the same events in the same order. So one simulation runs to
/// the end of the event in which a GEMM ends (the point where the
/// collective would start), and each run continues a copy of that state,
/// starting its collective there as it would have. Results are those of
/// separate runs; runs that do not qualify, and every run in which the
/// shared part fails or never reaches a GEMM's end, are simulated
/// separately (so errors read as they would).
pub fn run_sharing_gemm(
    trace: &Trace,
    cfg: &HwConfig,
    runs: &[Run],
    opts: SimOptions,
) -> Vec<Result<SimResult>> {
    let separately = || {
        runs.iter()
            .map(|&r| Sim::new(trace, cfg, r, opts)?.run())
            .collect()
    };
    let Some((gemm, _)) = OpGraph::new(trace).ok().and_then(|g| g.single_pair()) else {
        return separately();
    };
    let shares =
        |r: &Run| matches!(r, Run::Graph(PairExec::Sequential(_))) || *r == Run::Alone(gemm);
    if runs.len() < 2 || !runs.iter().all(shares) {
        return separately();
    }
    let Ok(mut sim) = Sim::new(trace, cfg, Run::Alone(gemm), opts) else {
        return separately();
    };
    sim.start();
    // A GEMM with nothing to compute ends before the event loop, each
    // device's collective starting in turn with the next's tiles.
    if sim.devs.iter().any(|d| d.ops[gemm].end.is_some()) {
        return separately();
    }
    sim.stop_at_gemm_end = true;
    let (Ok(true), Some(_)) = (sim.run_events(), sim.gemm_ended) else {
        return separately();
    };
    sim.gemm_ended = None;
    let mut out = Vec::with_capacity(runs.len());
    let mut shared = Some(sim);
    for (i, &r) in runs.iter().enumerate() {
        // The last run continues the shared state itself.
        let mut s = if i + 1 == runs.len() {
            match shared.take() {
                Some(s) => s,
                None => break,
            }
        } else {
            match &shared {
                Some(s) => s.fork(),
                None => break,
            }
        };
        out.push(
            s.switch_to(trace, r)
                .and_then(|_| s.run_events())
                .and_then(|_| s.end()),
        );
    }
    out
}

impl<'a> Sim<'a> {
    /// A copy of the whole state, to continue it as another run. Only an
    /// unwatched run is forked: a probe sees one run.
    fn fork(&self) -> Sim<'a> {
        debug_assert!(self.probe.is_none());
        Sim {
            cfg: self.cfg,
            run: self.run,
            opts: self.opts,
            plan: self.plan.clone(),
            n: self.n,
            topo: self.topo.clone(),
            links: self.links.clone(),
            link_owner: self.link_owner.clone(),
            devs: self.devs.clone(),
            q: self.q.clone(),
            arrivals: self.arrivals.clone(),
            now: self.now,
            events: self.events,
            comps: self.comps.clone(),
            symmetric: self.symmetric,
            progress_at: self.progress_at,
            watchdog_ps: self.watchdog_ps,
            probe: None,
            stop_at_gemm_end: self.stop_at_gemm_end,
            gemm_ended: self.gemm_ended,
        }
    }

    /// Continues this state as `run`, which shares its GEMM phase: the ops
    /// it adds wait for what has not ended yet, and those that wait for
    /// nothing start now.
    fn switch_to(&mut self, trace: &Trace, run: Run) -> Result<()> {
        let plan = super::plan::Plan::new(trace, self.cfg, run, self.topo.as_ref())?;
        for dev in &mut self.devs {
            let d = dev.id;
            for op in 0..plan.ops.len() {
                if plan.runs_on(op, d) && !self.plan.runs_on(op, d) {
                    if matches!(plan.ops[op], super::plan::OpPlan::Coll(_)) {
                        dev.ops[op].coll = super::device::coll_device(&plan, op, d);
                    }
                    dev.ops[op].deps_left = plan.deps[op]
                        .iter()
                        .filter(|&&k| plan.runs_on(k, d) && dev.ops[k].end.is_none())
                        .count() as u32;
                }
            }
        }
        self.plan = std::sync::Arc::new(plan);
        self.run = run;
        self.start();
        Ok(())
    }
}
