//! A replay: the isolated baselines and each mode's run of a trace, run in
//! parallel, then the report. [`replay_many`] runs many traces' runs from
//! one queue, longest first.

use crate::config::HwConfig;
use crate::error::Result;
use crate::modes::{Mode, Run};
use crate::sim::probe::Probe;
use crate::sim::{self, Sim, SimOptions};
use crate::stats::{Baselines, SimResult};
use crate::trace::{OpGraph, Trace};

/// Simulates one run.
pub fn simulate(trace: &Trace, cfg: &HwConfig, run: Run, opts: SimOptions) -> Result<SimResult> {
    Sim::new(trace, cfg, run, opts)?.run()
}

/// Every op of the trace alone.
pub fn baselines(trace: &Trace, cfg: &HwConfig) -> Result<Baselines> {
    let n = OpGraph::new(trace)?.len();
    let alone = (0..n)
        .map(|op| simulate(trace, cfg, Run::Alone(op), SimOptions::default()))
        .collect::<Result<Vec<_>>>()?;
    Ok(Baselines { alone })
}

/// Simulates a mode; `None` for modes derived from the baselines (ideal).
pub fn run_mode(trace: &Trace, cfg: &HwConfig, mode: Mode) -> Result<Option<SimResult>> {
    run_mode_with(trace, cfg, mode, true)
}

/// Like [`run_mode`]; `allow_symmetry = false` simulates every device even
/// when the ring is symmetric.
pub fn run_mode_with(
    trace: &Trace,
    cfg: &HwConfig,
    mode: Mode,
    allow_symmetry: bool,
) -> Result<Option<SimResult>> {
    run_mode_opts(trace, cfg, mode, allow_symmetry, Options::default())
}

/// Makes the probe (if any) watching one simulated run of a mode, given
/// the config as that mode runs it.
pub type ProbeFactory<'a> = &'a (dyn Fn(Mode, &HwConfig) -> Option<Box<dyn Probe>> + Sync);

fn no_probe(_: Mode, _: &HwConfig) -> Option<Box<dyn Probe>> {
    None
}

/// [`run_mode_with`] with options.
pub fn run_mode_opts(
    trace: &Trace,
    cfg: &HwConfig,
    mode: Mode,
    allow_symmetry: bool,
    opts: Options,
) -> Result<Option<SimResult>> {
    run_mode_probed(trace, cfg, mode, allow_symmetry, opts, &no_probe)
}

/// [`run_mode_opts`] watched by the probe `probes` makes for the mode.
pub fn run_mode_probed(
    trace: &Trace,
    cfg: &HwConfig,
    mode: Mode,
    allow_symmetry: bool,
    opts: Options,
    probes: ProbeFactory,
) -> Result<Option<SimResult>> {
    let Some((run, cfg)) = mode.composition(cfg) else {
        return Ok(None);
    };
    let sim = Sim::new(trace, &cfg, run, opts.sim(allow_symmetry))?;
    match probes(mode, &cfg) {
        Some(p) => sim.with_probe(p).run().map(Some),
        None => sim.run().map(Some),
    }
}

/// Knobs of a replay that are not hardware.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// See [`SimOptions::watchdog_ps`].
    pub watchdog_ps: u64,
    /// Simulate every device even when the ring is symmetric.
    pub all_devices: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            watchdog_ps: sim::DEFAULT_WATCHDOG_PS,
            all_devices: false,
        }
    }
}

impl Options {
    /// The simulation's options, symmetry as `allow_symmetry` says.
    fn sim(self, allow_symmetry: bool) -> SimOptions {
        SimOptions {
            allow_symmetry,
            watchdog_ps: self.watchdog_ps,
        }
    }
}

/// Replays `modes` (with the isolated baselines) and builds the report.
/// Independent runs go in parallel; results do not depend on the order.
pub fn replay(
    trace: &Trace,
    cfg: &HwConfig,
    modes: &[Mode],
) -> Result<crate::report::replay::ReplayReport> {
    replay_with(trace, cfg, modes, Options::default())
}

/// One simulation a replay needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// One op of the trace alone (index in its op graph): the baselines of
    /// slowdowns and of ideal.
    Alone(usize),
    /// A mode (`ideal` simulates nothing: it is built from the baselines).
    Mode(Mode),
}

/// The simulations replaying `modes` on `trace` takes, baselines (every op
/// alone, in graph order) first; their results, in this order, are what
/// [`report_from`] takes.
pub fn jobs(trace: &Trace, modes: &[Mode]) -> Vec<Job> {
    let ops = OpGraph::new(trace).map_or(0, |g| g.len());
    let mut v: Vec<Job> = (0..ops).map(Job::Alone).collect();
    v.extend(modes.iter().map(|m| Job::Mode(*m)));
    v
}

impl Job {
    /// Relative cost, for running the longest first: memory traffic, which
    /// dominates, grows with the GEMM's size and with the modes that
    /// overlap (and so contend) or add arbitration work. Only the order of
    /// independent runs depends on it, never a result.
    pub fn cost(self, trace: &Trace) -> f64 {
        let gemm = |o: &crate::trace::Op| match o {
            crate::trace::Op::Gemm(g) => g.flops() as f64,
            _ => 0.0,
        };
        let size: f64 = trace.ops.iter().map(gemm).sum();
        match self {
            Job::Alone(op) => match trace.ops.get(op) {
                Some(o @ crate::trace::Op::Gemm(_)) => 0.6 * gemm(o),
                _ => {
                    let others = trace.ops.iter().filter(|o| gemm(o) == 0.0).count();
                    0.5 * size / others.max(1) as f64
                }
            },
            Job::Mode(m) => {
                size * match m {
                    Mode::Ideal => 0.0,
                    Mode::RsNmc => 0.9,
                    Mode::Sequential | Mode::T3 => 1.0,
                    Mode::SwOverlap => 1.5,
                    Mode::T3Mca => 2.0,
                }
            }
        }
    }
}

/// Runs one job of a replay.
pub fn run_job(
    trace: &Trace,
    cfg: &HwConfig,
    job: Job,
    opts: Options,
) -> Result<Option<SimResult>> {
    run_job_probed(trace, cfg, job, opts, &no_probe)
}

/// [`run_job`], a mode's run watched by the probe `probes` makes (the
/// isolated baselines are not watched).
pub fn run_job_probed(
    trace: &Trace,
    cfg: &HwConfig,
    job: Job,
    opts: Options,
    probes: ProbeFactory,
) -> Result<Option<SimResult>> {
    match job {
        Job::Alone(op) => {
            simulate(trace, cfg, Run::Alone(op), opts.sim(!opts.all_devices)).map(Some)
        }
        Job::Mode(m) => run_mode_probed(trace, cfg, m, !opts.all_devices, opts, probes),
    }
}

/// The jobs of a replay grouped into what runs as one unit, by index into
/// `jobs`: the GEMM alone and the modes that start their reduce-scatter
/// after the whole GEMM (sequential, rs-nmc) share their GEMM phase, which
/// is simulated once ([`sim::run_sharing_gemm`]); every other job is a task
/// of its own.
fn tasks(trace: &Trace, jobs: &[Job]) -> Vec<Vec<usize>> {
    let gemm = OpGraph::new(trace)
        .ok()
        .and_then(|g| g.single_pair())
        .map(|p| p.0);
    let shares = |j: Job| match j {
        Job::Alone(op) => Some(op) == gemm,
        Job::Mode(m) => gemm.is_some() && matches!(m, Mode::Sequential | Mode::RsNmc),
    };
    let shared: Vec<usize> = (0..jobs.len()).filter(|&i| shares(jobs[i])).collect();
    let grouped = shared.len() > 1;
    let mut v: Vec<Vec<usize>> = (0..jobs.len())
        .filter(|&i| !(grouped && shares(jobs[i])))
        .map(|i| vec![i])
        .collect();
    if grouped {
        v.push(shared);
    }
    v
}

/// Relative cost of a task (see [`Job::cost`]): its shared GEMM phase
/// counts once.
fn task_cost(trace: &Trace, jobs: &[Job], task: &[usize]) -> f64 {
    let sum: f64 = task.iter().map(|&i| jobs[i].cost(trace)).sum();
    let shared = task
        .first()
        .map_or(0.0, |&i| jobs[i].cost(trace).min(Job::Alone(0).cost(trace)));
    sum - (task.len().saturating_sub(1)) as f64 * shared
}

/// Runs the jobs of a task; the results are in the task's order.
fn run_task(
    trace: &Trace,
    cfg: &HwConfig,
    jobs: &[Job],
    task: &[usize],
    opts: Options,
) -> Vec<Result<Option<SimResult>>> {
    let one_by_one = || {
        task.iter()
            .map(|&i| run_job(trace, cfg, jobs[i], opts))
            .collect()
    };
    if task.len() < 2 {
        return one_by_one();
    }
    let runs: Option<Vec<Run>> = task
        .iter()
        .map(|&i| match jobs[i] {
            Job::Alone(op) => Some(Run::Alone(op)),
            Job::Mode(m) => m.composition(cfg).filter(|(_, c)| c == cfg).map(|(r, _)| r),
        })
        .collect();
    match runs {
        Some(runs) => sim::run_sharing_gemm(trace, cfg, &runs, opts.sim(!opts.all_devices))
            .into_iter()
            .map(|r| r.map(Some))
            .collect(),
        None => one_by_one(),
    }
}

fn missing_run() -> crate::error::Error {
    crate::error::Error::Check("a simulation did not report".into())
}

/// The report of `modes` from the results of [`jobs`]`(trace, modes)`, in
/// order.
pub fn report_from(
    trace: &Trace,
    cfg: &HwConfig,
    modes: &[Mode],
    runs: Vec<Result<Option<SimResult>>>,
) -> Result<crate::report::replay::ReplayReport> {
    let mut runs = runs.into_iter();
    let mut base = || -> Result<SimResult> {
        runs.next()
            .ok_or_else(|| crate::error::Error::Check("a replay baseline is missing".into()))?
            .and_then(|r| {
                r.ok_or_else(|| crate::error::Error::Check("a replay baseline is missing".into()))
            })
    };
    let ops = OpGraph::new(trace)?.len();
    let base = Baselines {
        alone: (0..ops).map(|_| base()).collect::<Result<Vec<_>>>()?,
    };
    let mut results = Vec::new();
    for (m, r) in modes.iter().zip(runs) {
        results.push((*m, r?));
    }
    Ok(crate::report::replay::build(trace, cfg, &base, &results))
}

/// [`replay`] with options.
pub fn replay_with(
    trace: &Trace,
    cfg: &HwConfig,
    modes: &[Mode],
    opts: Options,
) -> Result<crate::report::replay::ReplayReport> {
    use rayon::prelude::*;
    let jobs = jobs(trace, modes);
    let done: Vec<Vec<(usize, Result<Option<SimResult>>)>> = tasks(trace, &jobs)
        .par_iter()
        .map(|t| {
            t.iter()
                .copied()
                .zip(run_task(trace, cfg, &jobs, t, opts))
                .collect()
        })
        .collect();
    let mut runs: Vec<Option<Result<Option<SimResult>>>> = jobs.iter().map(|_| None).collect();
    for (i, r) in done.into_iter().flatten() {
        runs[i] = Some(r);
    }
    let runs = runs
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(missing_run())))
        .collect();
    report_from(trace, cfg, modes, runs)
}

/// [`replay_with`], the modes' runs watched by the probes `probes` makes
/// (the isolated baselines are not watched).
pub fn replay_probed(
    trace: &Trace,
    cfg: &HwConfig,
    modes: &[Mode],
    opts: Options,
    probes: ProbeFactory,
) -> Result<crate::report::replay::ReplayReport> {
    use rayon::prelude::*;
    let runs: Vec<Result<Option<SimResult>>> = jobs(trace, modes)
        .par_iter()
        .map(|j| run_job_probed(trace, cfg, *j, opts, probes))
        .collect();
    report_from(trace, cfg, modes, runs)
}

/// Replays several traces in `modes`. Every (trace, task) pair (see
/// [`tasks`]) goes into one queue, largest trace and costliest task first, which every core
/// pulls from, so the cores stay busy to the end instead of idling behind
/// the last large trace; each result has its own slot, so the reports do
/// not depend on the order. `done` is called after each simulation
/// (progress).
pub fn replay_many(
    traces: &[&Trace],
    cfg: &HwConfig,
    modes: &[Mode],
    done: &(dyn Fn() + Sync),
) -> Vec<Result<crate::report::replay::ReplayReport>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    type Runs = Vec<Option<Result<Option<SimResult>>>>;
    let jobs: Vec<Vec<Job>> = traces.iter().map(|t| jobs(t, modes)).collect();
    let tasks: Vec<Vec<Vec<usize>>> = traces.iter().zip(&jobs).map(|(t, j)| tasks(t, j)).collect();
    // Traces that simulate identically (FC-1 and FC-2 of a model differ
    // only in names) are simulated once, by the first of them, the leader;
    // the others' reports are built from its runs. The simulator is
    // deterministic, so this changes no figure.
    let keys: Vec<String> = traces.iter().map(|t| t.simulation_key()).collect();
    let leader: Vec<usize> = (0..traces.len())
        .map(|t| keys.iter().position(|k| *k == keys[t]).unwrap_or(t))
        .collect();
    let followers: Vec<Vec<usize>> = (0..traces.len())
        .map(|l| {
            (0..traces.len())
                .filter(|&t| t != l && leader[t] == l)
                .collect()
        })
        .collect();
    let mut order: Vec<(usize, usize)> = (0..traces.len())
        .filter(|&t| leader[t] == t)
        .flat_map(|t| (0..tasks[t].len()).map(move |j| (t, j)))
        .collect();
    // Largest trace first, and within a trace the costliest task first: the
    // long runs start early and the short ones fill the end, while a trace
    // completes before the next begins, so few traces' results are held
    // at once. A stable sort: equal costs keep trace order.
    let size = |t: usize| Job::Mode(Mode::Sequential).cost(traces[t]);
    let cost = |t: usize, j: usize| task_cost(traces[t], &jobs[t], &tasks[t][j]);
    order.sort_by(|&(ta, ja), &(tb, jb)| {
        size(tb)
            .total_cmp(&size(ta))
            .then(cost(tb, jb).total_cmp(&cost(ta, ja)))
    });
    // Per trace: its runs so far and how many are still to come. The run
    // that completes a trace builds its report at once, so only the
    // results of unfinished traces are held in memory.
    let runs: Vec<Mutex<(Runs, usize)>> = traces
        .iter()
        .enumerate()
        .map(|(t, _)| Mutex::new((jobs[t].iter().map(|_| None).collect(), jobs[t].len())))
        .collect();
    let reports: Vec<Mutex<Option<Result<crate::report::replay::ReplayReport>>>> =
        traces.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    rayon::broadcast(|_| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(t, j)) = order.get(i) else {
                break;
            };
            let task = &tasks[t][j];
            let rs = run_task(traces[t], cfg, &jobs[t], task, Options::default());
            let complete = match runs[t].lock() {
                Ok(mut g) => {
                    for (&i, r) in task.iter().zip(rs) {
                        g.0[i] = Some(r);
                    }
                    g.1 -= task.len();
                    (g.1 == 0).then(|| std::mem::take(&mut g.0))
                }
                Err(_) => None,
            };
            if let Some(all) = complete {
                let all: Vec<Result<Option<SimResult>>> = all
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(missing_run())))
                    .collect();
                for &f in &followers[t] {
                    let runs = all
                        .iter()
                        .map(|r| match r {
                            Ok(x) => Ok(x.clone()),
                            Err(e) => Err(crate::error::Error::Check(format!(
                                "{} (simulated as {}, which differs only in names)",
                                e, traces[t].name
                            ))),
                        })
                        .collect();
                    let rep = report_from(traces[f], cfg, modes, runs);
                    if let Ok(mut g) = reports[f].lock() {
                        *g = Some(rep);
                    }
                }
                let rep = report_from(traces[t], cfg, modes, all);
                if let Ok(mut g) = reports[t].lock() {
                    *g = Some(rep);
                }
            }
            for _ in 0..task.len() * (1 + followers[t].len()) {
                done();
            }
        }
    });
    reports
        .into_iter()
        .map(|m| {
            m.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(crate::error::Error::Check(
                    "a replay did not complete".into(),
                ))
            })
        })
        .collect()
}
