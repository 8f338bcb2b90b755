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

struct TrackerInst {
    rtl: TrackerRtl,
    steps: u64,
}

struct TrackerChecker {
    mode: &'static str,
    devs: Vec<Option<TrackerInst>>,
    fault: Option<Fault>,
    tracing: Tracing,
    checked: u64,
    seed: u64,
}

impl TrackerChecker {
    fn new(mode: &'static str, s: &Settings) -> Self {
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

struct NmcInst {
    rtl: AluRtl,
    steps: u64,
}

/// Synthetic update operands, one SplitMix64 draw per lane: the full ALU
/// stimulus (`AluStimulus`) draws a dozen fields per lane and cost more
/// than the RTL it fed. Still mixes in the cases adders get wrong: exact
/// and near cancellation, equal exponents, zeros, subnormals, infinities
/// and NaNs, in both formats' encodings. One stream per device, so devices
/// do not depend on each other's update order; SplitMix64 is a counter, so
/// burst `k` is drawn directly, whichever checker thread gets it.
struct Operands {
    seed: u64,
    dtype: Dtype,
}

/// Specials of both formats: zeros, smallest and largest subnormals,
/// largest finite, infinities, NaNs (quiet and signalling).
const SPECIALS: [u16; 16] = [
    0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x7C00, 0xFC00, 0x7C01, 0x0001, 0x807F, 0x7F7F, 0x7F80,
    0xFF80, 0x7F81, 0x7FC0, 0x0080,
];

/// Which of `Operands::lane`'s candidates `b` is, by the top nibble of the
/// draw: half the lanes independent, then negated, near-negated, special,
/// same exponent.
const B_KIND: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 4, 4, 4];

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Operands {
    fn new(seed: u64, dev: u32, dtype: Dtype) -> Self {
        Operands {
            seed: seed ^ (dev as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
            dtype,
        }
    }

    /// Draw `n` (0-based) of the device's SplitMix64 stream.
    #[inline]
    fn draw(&self, n: u64) -> u64 {
        let mut z = self
            .seed
            .wrapping_add(n.wrapping_add(1).wrapping_mul(GOLDEN));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One lane's operands. The choices are table look-ups, not branches:
    /// on random data every branch here was a misprediction.
    #[inline]
    fn lane(r: u64, exp_mask: u16) -> (u16, u16) {
        let sel = (r >> 56) as u8;
        let a = if sel & 0xF == 0 {
            SPECIALS[(r >> 48) as usize & 15]
        } else {
            r as u16
        };
        let x = (r >> 16) as u16;
        let neg = a ^ 0x8000;
        let candidates = [
            x,
            neg,
            neg.wrapping_add(x & 7).wrapping_sub(3),
            SPECIALS[(x & 15) as usize],
            (a & (0x8000 | exp_mask)) ^ (x & !exp_mask & 0x7FFF) ^ (x & 0x8000),
        ];
        (a, candidates[B_KIND[(sel >> 4) as usize] as usize])
    }

    /// Burst `k` of the device's stream.
    fn burst(&self, k: u64) -> AluIn {
        let mut i = AluIn {
            dtype: self.dtype,
            a: [0; LANES],
            b: [0; LANES],
        };
        let exp_mask: u16 = match self.dtype {
            Dtype::Fp16 => 0x7C00,
            Dtype::Bf16 => 0x7F80,
        };
        let base = k.wrapping_mul(LANES as u64);
        for l in 0..LANES {
            (i.a[l], i.b[l]) = Self::lane(self.draw(base + l as u64), exp_mask);
        }
        i
    }
}

struct NmcChecker {
    mode: &'static str,
    devs: Vec<Option<NmcInst>>,
    dtype: Dtype,
    fault: Option<Fault>,
    tracing: Tracing,
    checked: u64,
    seed: u64,
    failed_at: u64,
}

impl NmcChecker {
    fn new(mode: &'static str, s: &Settings, dtype: Dtype) -> Self {
        NmcChecker {
            mode,
            devs: Vec::new(),
            dtype,
            fault: s.fault,
            tracing: Tracing::new(s.trace.clone(), Block::Nmc),
            checked: 0,
            seed: s.seed,
            failed_at: u64::MAX,
        }
    }
}

impl Checker for NmcChecker {
    type Ev = NmcEv;

    fn check(&mut self, batch: &[NmcEv]) -> Result<(), Box<ReplayDivergence>> {
        for ev in batch {
            let (dev, d) = (ev.dev, ev.dev as usize);
            if self.devs.len() <= d {
                self.devs.resize_with(d + 1, || None);
            }
            let target = self.tracing.is_device_target(dev);
            let inst = self.devs[d].get_or_insert_with(|| NmcInst {
                rtl: AluRtl::new(target),
                steps: 0,
            });
            let operands = Operands::new(self.seed, dev, self.dtype);
            let faulty = Fault::hits(self.fault, Block::Nmc, ev.cycle);
            for k in ev.first..ev.first + ev.bursts as u64 {
                // The burst's index in the device's stream: the RTL edge
                // of the device's one ALU when a single checker runs (as
                // in a waveform re-run).
                let step = k;
                let i = operands.burst(k);
                let expected = NmcAluModel.step(i);
                let mut seen = i;
                if faulty {
                    seen.b[0] = seen.b[0].wrapping_add(1);
                }
                if target {
                    self.tracing.before_edge(&mut inst.rtl, step);
                }
                let actual = inst.rtl.step(seen);
                inst.steps += 1;
                self.checked += 1;
                if actual != expected {
                    let waveform = self.tracing.at(target, &mut inst.rtl);
                    self.failed_at = ev.seq;
                    let site = Site {
                        block: Block::Nmc,
                        mode: self.mode,
                        device: dev,
                        channel: Some(ev.channel),
                        cycle: ev.cycle,
                        step,
                        seed: self.seed,
                    };
                    return Err(site.outputs(&seen, &expected, &actual, waveform));
                }
            }
        }
        Ok(())
    }

    fn summary(&self) -> BlockCheck {
        let steps = self.devs.iter().flatten().map(|i| i.steps);
        edge_summary("nmc", self.mode, self.checked, steps)
    }

    fn failed_at(&self) -> u64 {
        self.failed_at
    }
}

// ----- t3-mca arbiter -----

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

struct ArbChecker {
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
    fn new(mode: &'static str, s: &Settings, limit: u32) -> Self {
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
