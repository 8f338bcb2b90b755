//! Runs that share their GEMM phase (gemm-alone, sequential, rs-nmc)
//! simulate it once and continue copies of the state.

use super::{Sim, SimOptions};
use crate::collective::KernelExec;
use crate::config::HwConfig;
use crate::error::Result;
use crate::modes::Run;
use crate::stats::SimResult;
use crate::trace::Trace;

/// Runs `runs`, which differ only in the collective that follows the GEMM
/// (none, kernel, near-memory), simulating the GEMM they share once.
///
/// Until the first device's GEMM ends, no such run starts a collective, and
/// nothing else in the simulation depends on which follows: the runs
/// process the same events in the same order. So one simulation runs to
/// the end of the event in which a GEMM ends (the point where
/// `gemm_finished` would start the collective), and each run continues a
/// copy of that state, starting its collective there as it would have.
/// Results are those of separate runs; runs that do not qualify, and every
/// run in which the shared part fails or never reaches a GEMM's end, are
/// simulated separately (so errors read as they would).
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
    if runs.len() < 2 || !runs.iter().all(|r| r.shares_gemm_phase()) {
        return separately();
    }
    let Ok(mut sim) = Sim::new(trace, cfg, Run::GemmAlone, opts) else {
        return separately();
    };
    sim.start();
    // A GEMM with nothing to compute ends before the event loop, each
    // device's collective starting in turn with the next's tiles.
    if sim.devs.iter().any(|d| d.gemm_end.is_some()) {
        return separately();
    }
    sim.stop_at_gemm_end = true;
    let (Ok(true), Some(d)) = (sim.run_events(), sim.gemm_ended) else {
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
        s.switch_to(r);
        s.start_collective(d);
        out.push(s.run_events().and_then(|_| s.end()));
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
            g: self.g.clone(),
            n: self.n,
            topo: self.topo.clone(),
            coll: self.coll.clone(),
            buffer: self.buffer.clone(),
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

    /// Continues a GEMM-alone state as `run`, which shares its GEMM phase:
    /// each device gets the run's collective kernel, not yet started.
    fn switch_to(&mut self, run: Run) {
        self.run = run;
        let Some(reduction) = run.kernel_reduction() else {
            return;
        };
        let exec = KernelExec {
            reduction,
            follows_producer: false,
            window: super::WINDOW,
        };
        for dev in &mut self.devs {
            dev.coll = Some(self.coll.kernel(dev.id, exec, self.buffer.clone()));
        }
    }
}
