//! The replay co-simulation's RTL side (feature `rtl`): a [`Probe`] that
//! batches what the simulation does and one checker thread per block that
//! owns that block's verilated instances. The simulation thread only
//! copies events; a checker that finds a divergence raises a flag that
//! stops the simulation.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use super::replay::{
    Block, BlockCheck, Fault, Outcome, ReplayDivergence, Selection, Settings, Sink, TraceTarget,
};
use super::rtl::{
    AluRtl, McaRtl, TRACKER_COUNTER_BITS, TRACKER_ENTRIES, TRACKER_TAG_BITS, Traced, TrackerRtl,
};
use super::{AluIn, Waveform};
use super::{Block as _, LANES, McaIn, NmcAluModel, Observed, WAVEFORM_CYCLES};
use crate::config::HwConfig;
use crate::error::{InputError, Location};
use crate::mem::arbiter::{ArbEvent, McaCycleIn, mca_grant};
use crate::mem::nmc_alu::Dtype;
use crate::mem::{Completion, MemorySystem, Op};
use crate::modes::Mode;
use crate::sim::probe::Probe;
use crate::t3::{TrackerIn, TrackerOut};

/// Events sent to a checker at once.
const BATCH: usize = 8192;
/// Batches in flight per checker before the simulation waits.
const DEPTH: usize = 8;
/// Checker threads sharing the NMC bursts: the RTL ALU is the most
/// expensive block by far, and it is stateless, so its bursts split
/// cleanly (batches go round-robin; each burst's operands depend only on
/// its index in its device's stream).
const NMC_WORKERS: usize = 2;

/// Checks that `cfg` fits the verilated blocks selected in `sel`; the
/// error names the config field.
pub fn check_config(cfg: &HwConfig, sel: Selection) -> Result<(), InputError> {
    let at = |field: &str, msg: String| {
        Err(InputError::new(
            Location::file(cfg.name.clone()),
            field,
            msg,
        ))
    };
    let t = &cfg.t3;
    if sel.tracker {
        for (f, v, rtl) in [
            ("t3.tracker_entries", t.tracker_entries, TRACKER_ENTRIES),
            ("t3.tracker_tag_bits", t.tracker_tag_bits, TRACKER_TAG_BITS),
            (
                "t3.tracker_counter_bits",
                t.tracker_counter_bits,
                TRACKER_COUNTER_BITS,
            ),
        ] {
            if v != rtl {
                return at(
                    f,
                    format!("is {v} but the RTL tracker is built with {rtl} (--cosim tracker)"),
                );
            }
        }
    }
    if sel.arbiter {
        let k = &cfg.mem.controller;
        if k.starvation_limit_cycles > u32::MAX as u64 {
            return at(
                "mem.controller.starvation_limit_cycles",
                format!(
                    "is {} but the RTL arbiter's limit port has 32 bits (--cosim arbiter)",
                    k.starvation_limit_cycles
                ),
            );
        }
        if k.read_queue + k.write_queue > u16::MAX as u32 {
            return at(
                "mem.controller.read_queue",
                "the queues hold more than the RTL arbiter's 16-bit compute_occupancy port counts"
                    .into(),
            );
        }
    }
    if sel.nmc && Dtype::parse(&cfg.mem.nmc.dtype).is_none() {
        return at("mem.nmc.dtype", "must be fp16 or bf16".into());
    }
    Ok(())
}

/// The probe factory for `replay::replay_probed`: a run is watched for the
/// selected blocks it exercises (tracker: t3 and t3-mca; nmc: any mode with
/// near-memory updates; arbiter: runs under t3-mca arbitration).
pub fn probes(
    settings: Settings,
    sink: Sink,
) -> impl Fn(Mode, &HwConfig) -> Option<Box<dyn Probe>> + Sync {
    let settings = Arc::new(settings);
    move |mode, cfg| {
        let s = settings.blocks;
        let blocks = Selection {
            tracker: s.tracker && matches!(mode, Mode::T3 | Mode::T3Mca),
            nmc: s.nmc && matches!(mode, Mode::RsNmc | Mode::T3 | Mode::T3Mca),
            arbiter: s.arbiter && cfg.mem.controller.arbitration == "t3-mca",
        };
        if !blocks.any() {
            return None;
        }
        Some(Box::new(ReplayProbe::new(
            mode,
            cfg,
            blocks,
            settings.clone(),
            sink.clone(),
        )))
    }
}

type TrackerEv = (u32, TrackerIn, TrackerOut);
/// An update the DRAM served: its bursts are the device's bursts
/// `first..first + bursts`; `seq` orders the events for reporting.
#[derive(Debug, Clone, Copy)]
struct NmcEv {
    dev: u32,
    channel: u32,
    cycle: u64,
    bursts: u32,
    first: u64,
    seq: u64,
}
type ArbEv = (u32, u32, ArbEvent);

/// What a checker thread returns: its outcome and, on divergence, the
/// position of the diverging event in the event stream.
type WorkerResult = (Outcome, u64);

/// One checker thread: where its batches go, and its result.
type Worker<E> = (Option<SyncSender<Vec<E>>>, Option<JoinHandle<WorkerResult>>);

/// Events on their way to a block's checker threads (one, or several that
/// take whole batches in turn).
struct Lane<E> {
    buf: Vec<E>,
    workers: Vec<Worker<E>>,
    next: usize,
    block: Block,
}

impl<E: Send + 'static> Lane<E> {
    fn spawn<C, F>(block: Block, n: usize, make: F, stop: Arc<AtomicBool>) -> Self
    where
        C: Checker<Ev = E>,
        F: Fn() -> C + Send + Clone + 'static,
    {
        let workers = (0..n.max(1))
            .map(|_| {
                let (tx, rx) = sync_channel::<Vec<E>>(DEPTH);
                let (make, stop) = (make.clone(), stop.clone());
                let handle = std::thread::spawn(move || {
                    let start = Instant::now();
                    let mut c = make();
                    for batch in rx {
                        if let Err(d) = c.check(&batch) {
                            stop.store(true, Ordering::Relaxed);
                            return (Err(d), c.failed_at());
                        }
                    }
                    let mut s = c.summary();
                    s.wall_s = start.elapsed().as_secs_f64();
                    (Ok(s), u64::MAX)
                });
                (Some(tx), Some(handle))
            })
            .collect();
        Lane {
            buf: Vec::with_capacity(BATCH),
            workers,
            next: 0,
            block,
        }
    }

    #[inline]
    fn push(&mut self, e: E) {
        self.buf.push(e);
        if self.buf.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let b = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        let n = self.workers.len();
        if let Some(tx) = &self.workers[self.next].0 {
            // A checker that stopped (divergence) no longer listens.
            let _ = tx.send(b);
        }
        self.next = (self.next + 1) % n;
    }

    /// Joins the checkers: the earliest divergence in event order, or the
    /// checks summed.
    fn finish(&mut self, mode: &str) -> Option<Outcome> {
        self.flush();
        for w in &mut self.workers {
            w.0 = None;
        }
        let mut first: Option<(u64, Box<ReplayDivergence>)> = None;
        let mut sum: Option<BlockCheck> = None;
        for w in &mut self.workers {
            let h = w.1.take()?;
            let (outcome, at) = h.join().unwrap_or_else(|_| {
                let site = Site {
                    block: self.block,
                    mode,
                    device: 0,
                    channel: None,
                    cycle: 0,
                    step: 0,
                    seed: 0,
                };
                let d = site.report(
                    String::new(),
                    String::new(),
                    String::new(),
                    "the checker thread panicked".into(),
                    Waveform::NotWritten("no divergence to show".into()),
                );
                (Err(d), 0)
            });
            match outcome {
                Err(d) => {
                    if first.as_ref().is_none_or(|f| at < f.0) {
                        first = Some((at, d));
                    }
                }
                Ok(c) => {
                    sum = Some(match sum {
                        None => c,
                        Some(mut s) => {
                            s.instances = s.instances.max(c.instances);
                            s.checked += c.checked;
                            s.rtl_cycles += c.rtl_cycles;
                            s.dram_cycles += c.dram_cycles;
                            s.wall_s = s.wall_s.max(c.wall_s);
                            s
                        }
                    })
                }
            }
        }
        match first {
            Some((_, d)) => Some(Err(d)),
            None => sum.map(Ok),
        }
    }
}

/// One block's checker, living on its own thread.
trait Checker {
    type Ev;
    fn check(&mut self, batch: &[Self::Ev]) -> Result<(), Box<ReplayDivergence>>;
    fn summary(&self) -> BlockCheck;
    /// After a divergence: where in the event stream it was (only blocks
    /// whose events are shared among several checkers need it).
    fn failed_at(&self) -> u64 {
        0
    }
}

struct ReplayProbe {
    mode: &'static str,
    tracker: Option<Lane<TrackerEv>>,
    nmc: Option<Lane<NmcEv>>,
    arbiter: Option<Lane<ArbEv>>,
    /// Per device: NMC bursts sent so far.
    nmc_bursts: Vec<u64>,
    /// NMC events sent so far.
    nmc_seq: u64,
    access_bytes: u64,
    stop: Arc<AtomicBool>,
    sink: Sink,
}

impl ReplayProbe {
    fn new(
        mode: Mode,
        cfg: &HwConfig,
        blocks: Selection,
        settings: Arc<Settings>,
        sink: Sink,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let name = mode.name();
        let tracker = blocks.tracker.then(|| {
            let s = settings.clone();
            Lane::spawn(
                Block::Tracker,
                1,
                move || TrackerChecker::new(name, &s),
                stop.clone(),
            )
        });
        let dtype = Dtype::parse(&cfg.mem.nmc.dtype).unwrap_or(Dtype::Fp16);
        // A waveform re-run keeps the target's bursts on one instance.
        let nmc_workers = match &settings.trace {
            Some(t) if t.block == Block::Nmc => 1,
            _ => NMC_WORKERS,
        };
        let nmc = blocks.nmc.then(|| {
            let s = settings.clone();
            Lane::spawn(
                Block::Nmc,
                nmc_workers,
                move || NmcChecker::new(name, &s, dtype),
                stop.clone(),
            )
        });
        let limit = cfg
            .mem
            .controller
            .starvation_limit_cycles
            .min(u32::MAX as u64) as u32;
        let arbiter = blocks.arbiter.then(|| {
            let s = settings.clone();
            Lane::spawn(
                Block::Arbiter,
                1,
                move || ArbChecker::new(name, &s, limit),
                stop.clone(),
            )
        });
        ReplayProbe {
            mode: name,
            tracker,
            nmc,
            arbiter,
            nmc_bursts: Vec::new(),
            nmc_seq: 0,
            access_bytes: cfg.mem.access_bytes() as u64,
            stop,
            sink,
        }
    }
}

impl Probe for ReplayProbe {
    fn attach(&mut self, _dev: u32, mem: &mut MemorySystem) {
        if self.arbiter.is_some() {
            mem.enable_arb_log();
        }
        self.access_bytes = mem.access_bytes().max(1);
    }

    #[inline]
    fn tracker(&mut self, dev: u32, input: TrackerIn, output: TrackerOut) {
        if let Some(l) = &mut self.tracker {
            l.push((dev, input, output));
        }
    }

    fn memory(&mut self, dev: u32, mem: &mut MemorySystem, served: &[Completion]) {
        if let Some(l) = &mut self.nmc {
            let d = dev as usize;
            if self.nmc_bursts.len() <= d {
                self.nmc_bursts.resize(d + 1, 0);
            }
            for c in served.iter().filter(|c| c.op == Op::Update) {
                let bursts = (c.bytes / self.access_bytes).max(1) as u32;
                l.push(NmcEv {
                    dev,
                    channel: c.channel,
                    cycle: c.cycle,
                    bursts,
                    first: self.nmc_bursts[d],
                    seq: self.nmc_seq,
                });
                self.nmc_bursts[d] += bursts as u64;
                self.nmc_seq += 1;
            }
        }
        if let Some(l) = &mut self.arbiter {
            mem.drain_arb_log(|ch, e| l.push((dev, ch, e)));
        }
    }

    fn stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Drop for ReplayProbe {
    fn drop(&mut self) {
        let mode = self.mode;
        let mut nmc = self.nmc.as_mut().and_then(|l| l.finish(mode));
        if let Some(Ok(c)) = &mut nmc {
            // Instances are devices, however many checkers shared them.
            c.instances = self.nmc_bursts.iter().filter(|&&b| b > 0).count() as u32;
        }
        let outcomes = [
            self.tracker.as_mut().and_then(|l| l.finish(mode)),
            nmc,
            self.arbiter.as_mut().and_then(|l| l.finish(mode)),
        ];
        let mut sink = match self.sink.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        sink.extend(outcomes.into_iter().flatten());
    }
}

/// The waveform of one instance in a re-run: from `WAVEFORM_CYCLES - 1`
/// edges before the target edge up to it.
struct Tracing {
    target: Option<TraceTarget>,
    started: bool,
    failed: Option<String>,
}

impl Tracing {
    fn new(target: Option<TraceTarget>, block: Block) -> Self {
        Tracing {
            target: target.filter(|t| t.block == block),
            started: false,
            failed: None,
        }
    }

    fn is_target(&self, device: u32, channel: Option<u32>) -> bool {
        self.target
            .as_ref()
            .is_some_and(|t| t.device == device && t.channel == channel)
    }

    /// For blocks with one instance per device whose divergences still
    /// name a channel (the NMC ALU: the channel that served the burst).
    fn is_device_target(&self, device: u32) -> bool {
        self.target.as_ref().is_some_and(|t| t.device == device)
    }

    /// Called before edge `step` of the target instance.
    fn before_edge(&mut self, rtl: &mut impl Traced, step: u64) {
        let Some(t) = &self.target else { return };
        let first = t.step.saturating_sub(WAVEFORM_CYCLES - 1);
        if step == first && !self.started && self.failed.is_none() {
            if let Some(dir) = t.path.parent()
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                self.failed = Some(format!("cannot create {}: {e}", dir.display()));
                return;
            }
            if rtl.start_trace(&t.path) {
                self.started = true;
            } else {
                self.failed = Some(format!("cannot open {}", t.path.display()));
            }
        }
    }

    /// The waveform after a divergence at the target instance.
    fn finish(&mut self, rtl: &mut impl Traced) -> Waveform {
        match (&self.target, self.started, &self.failed) {
            (_, _, Some(why)) => Waveform::NotWritten(why.clone()),
            (Some(t), true, _) => {
                rtl.finish_trace();
                Waveform::Written(t.path.clone())
            }
            _ => rerun_waveform(),
        }
    }

    /// The waveform of a divergence at an instance: its trace when it is
    /// the target of this run, else one for a re-run to write.
    fn at(&mut self, target: bool, rtl: &mut impl Traced) -> Waveform {
        if target {
            self.finish(rtl)
        } else {
            rerun_waveform()
        }
    }
}

fn rerun_waveform() -> Waveform {
    Waveform::NotWritten("written by a re-run of the replay".into())
}

/// Where a block diverged: what its report names besides the values.
struct Site<'a> {
    block: Block,
    mode: &'a str,
    device: u32,
    channel: Option<u32>,
    cycle: u64,
    step: u64,
    seed: u64,
}

impl Site<'_> {
    fn report(
        self,
        inputs: String,
        expected: String,
        actual: String,
        fields: String,
        waveform: Waveform,
    ) -> Box<ReplayDivergence> {
        Box::new(ReplayDivergence {
            block: self.block,
            mode: self.mode.to_string(),
            device: self.device,
            channel: self.channel,
            cycle: self.cycle,
            step: self.step,
            seed: self.seed,
            inputs,
            expected,
            actual,
            fields,
            waveform,
        })
    }

    /// The RTL's outputs for the inputs `seen` differ from the model's.
    fn outputs<O: Observed>(
        self,
        seen: &impl std::fmt::Debug,
        expected: &O,
        actual: &O,
        waveform: Waveform,
    ) -> Box<ReplayDivergence> {
        self.report(
            format!("{seen:?}"),
            format!("{expected:?}"),
            format!("{actual:?}"),
            expected.differences(actual),
            waveform,
        )
    }
}

/// Where a re-run writes the waveform of a divergence.
pub fn target_of(d: &ReplayDivergence, dir: &Path) -> TraceTarget {
    let ch = d.channel.map(|c| format!("-ch{c}")).unwrap_or_default();
    TraceTarget {
        block: d.block,
        device: d.device,
        channel: d.channel,
        step: d.step,
        path: dir.join(format!(
            "{}-{}-dev{}{ch}-cycle{}.vcd",
            d.block.name(),
            d.mode,
            d.device,
            d.cycle
        )),
    }
}

// ----- tracker -----

/// The summary of a block driven one RTL edge per checked event (one
/// instance per device, `steps` edges each).
fn edge_summary(
    block: &str,
    mode: &'static str,
    checked: u64,
    steps: impl Iterator<Item = u64>,
) -> BlockCheck {
    let (mut instances, mut edges) = (0, 0);
    for s in steps {
        instances += 1;
        edges += s;
    }
    BlockCheck {
        block: block.into(),
        mode: mode.into(),
        instances,
        checked,
        rtl_cycles: edges,
        dram_cycles: edges,
        wall_s: 0.0,
    }
}

mod arbiter;
mod nmc;
mod tracker;

use arbiter::ArbChecker;
use nmc::NmcChecker;
use tracker::TrackerChecker;
