//! The verilated RTL blocks as [`Block`]s (feature `rtl`), their test
//! benches, and the checked run that writes a waveform on divergence.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{
    AluIn, AluOut, AluStimulus, Block, CosimError, CosimSummary, Divergence, LANES, Lockstep,
    McaIn, McaOut, McaStimulus, NmcAluModel, Observed, Stimulus, TrackerStimulus, WAVEFORM_CYCLES,
    Waveform,
};
use crate::mem::arbiter::{Grant, McaCycleModel};
use crate::mem::nmc_alu::Dtype;
use crate::t3::{Tracker, TrackerIn, TrackerOut};

#[path = "../../sim/bridge.rs"]
mod bridge;
use bridge::ffi;

/// The RTL tracker's build parameters (rtl/tracker.v defaults).
pub const TRACKER_ENTRIES: u32 = 256;
pub const TRACKER_TAG_BITS: u32 = 24;
pub const TRACKER_COUNTER_BITS: u32 = 16;

/// An RTL block that can dump a VCD waveform from the current cycle on.
pub trait Traced {
    /// Starts writing `path`; false if the block was built without tracing
    /// or the file cannot be opened.
    fn start_trace(&mut self, path: &Path) -> bool;
    fn finish_trace(&mut self);
}

/// Everything a checked run of one block needs.
pub trait Testbench {
    const NAME: &'static str;
    type In: Clone + Debug;
    type Out: Observed;
    type Model: Block<In = Self::In, Out = Self::Out>;
    type Rtl: Block<In = Self::In, Out = Self::Out> + Traced;
    type Stim: Stimulus<In = Self::In, Out = Self::Out>;
    /// The reference model, fresh from reset.
    fn model() -> Self::Model;
    /// The RTL, fresh from reset; `traced` allows a waveform later.
    fn rtl(traced: bool) -> Self::Rtl;
    fn stimulus(seed: u64) -> Self::Stim;
}

macro_rules! traced {
    ($t:ty) => {
        impl Traced for $t {
            fn start_trace(&mut self, path: &Path) -> bool {
                match path.to_str() {
                    Some(p) => self.0.pin_mut().start_trace(p),
                    None => false,
                }
            }
            fn finish_trace(&mut self) {
                self.0.pin_mut().finish_trace();
            }
        }
    };
}

/// rtl/tracker.v with its default parameters.
pub struct TrackerRtl(cxx::UniquePtr<ffi::TrackerRtl>);
traced!(TrackerRtl);

impl TrackerRtl {
    pub fn new(traced: bool) -> Self {
        TrackerRtl(ffi::new_tracker(traced))
    }
}

impl Block for TrackerRtl {
    type In = TrackerIn;
    type Out = TrackerOut;
    fn step(&mut self, i: TrackerIn) -> TrackerOut {
        let o = self.0.pin_mut().step(&ffi::TrackerPins {
            upd_valid: i.valid,
            upd_tile: i.tile,
            upd_expected: i.expected,
        });
        TrackerOut {
            accept: o.upd_accept,
            fire: o.fire_valid.then_some(o.fire_tile),
            occupancy: o.occupancy,
        }
    }
}

/// rtl/nmc_alu.v.
pub struct AluRtl(cxx::UniquePtr<ffi::AluRtl>);
traced!(AluRtl);

impl AluRtl {
    pub fn new(traced: bool) -> Self {
        AluRtl(ffi::new_alu(traced))
    }
}

impl Block for AluRtl {
    type In = AluIn;
    type Out = AluOut;
    fn step(&mut self, i: AluIn) -> AluOut {
        let o = self.0.pin_mut().step(&ffi::AluPins {
            bf16: i.dtype == Dtype::Bf16,
            a: i.a,
            b: i.b,
        });
        AluOut { sum: o.sum }
    }
}

const _: () = assert!(LANES == 32, "sim/bridge.rs carries 32 lanes");

/// rtl/mca_arbiter.v, with its starvation counter after the last edge.
pub struct McaRtl(cxx::UniquePtr<ffi::McaRtl>, u32);
traced!(McaRtl);

impl McaRtl {
    pub fn new(traced: bool) -> Self {
        McaRtl(ffi::new_mca(traced), 0)
    }

    /// The starvation counter the next edge's grant uses.
    pub fn starve_cycles(&self) -> u32 {
        self.1
    }

    /// Drives up to `max` edges with the inputs `i` held, stopping early
    /// where the outputs can be known without them (see `ffi::McaRtl::hold`);
    /// returns the edges driven. Equal to that many `step`s.
    pub fn hold(&mut self, i: McaIn, max: u64) -> u64 {
        let h = self.0.pin_mut().hold(&pins(i), max);
        self.1 = h.out.starve;
        h.cycles
    }
}

fn pins(i: McaIn) -> ffi::McaPins {
    ffi::McaPins {
        compute_waiting: i.cycle.compute_waiting,
        comm_waiting: i.cycle.comm_waiting,
        compute_occupancy: i.cycle.compute_occupancy,
        comm_served: i.cycle.comm_served,
        threshold: i.threshold,
        limit: i.limit,
    }
}

impl Block for McaRtl {
    type In = McaIn;
    type Out = McaOut;
    fn step(&mut self, i: McaIn) -> McaOut {
        let o = self.0.pin_mut().step(&pins(i));
        self.1 = o.starve;
        McaOut {
            grant: Grant::from_bits(o.grant),
            starve: o.starve,
        }
    }
}

pub struct TrackerBench;

impl Testbench for TrackerBench {
    const NAME: &'static str = "tracker";
    type In = TrackerIn;
    type Out = TrackerOut;
    type Model = Tracker;
    type Rtl = TrackerRtl;
    type Stim = TrackerStimulus;
    fn model() -> Tracker {
        Tracker::new(TRACKER_ENTRIES, TRACKER_TAG_BITS, TRACKER_COUNTER_BITS)
            .expect("the RTL's parameters are valid model parameters")
    }
    fn rtl(traced: bool) -> TrackerRtl {
        TrackerRtl::new(traced)
    }
    fn stimulus(seed: u64) -> TrackerStimulus {
        TrackerStimulus::new(seed, TRACKER_ENTRIES)
    }
}

pub struct AluBench;

impl Testbench for AluBench {
    const NAME: &'static str = "nmc_alu";
    type In = AluIn;
    type Out = AluOut;
    type Model = NmcAluModel;
    type Rtl = AluRtl;
    type Stim = AluStimulus;
    fn model() -> NmcAluModel {
        NmcAluModel
    }
    fn rtl(traced: bool) -> AluRtl {
        AluRtl::new(traced)
    }
    fn stimulus(seed: u64) -> AluStimulus {
        AluStimulus::new(seed)
    }
}

pub struct McaBench;

impl Testbench for McaBench {
    const NAME: &'static str = "mca_arbiter";
    type In = McaIn;
    type Out = McaOut;
    type Model = McaCycleModel;
    type Rtl = McaRtl;
    type Stim = McaStimulus;
    fn model() -> McaCycleModel {
        // The ports set threshold and limit every cycle.
        McaCycleModel::new(0, 0)
    }
    fn rtl(traced: bool) -> McaRtl {
        McaRtl::new(traced)
    }
    fn stimulus(seed: u64) -> McaStimulus {
        McaStimulus::new(seed)
    }
}

/// Runs `model` against bench `B`'s RTL for `cycles` cycles of the seeded
/// stimulus. A divergence comes back as [`CosimError::Divergence`] with a
/// VCD of the last [`WAVEFORM_CYCLES`] cycles written into `out_dir`.
pub fn check<B, M>(
    model: M,
    cycles: u64,
    seed: u64,
    out_dir: &Path,
) -> Result<CosimSummary, CosimError>
where
    B: Testbench,
    M: Block<In = B::In, Out = B::Out>,
{
    let mut ls = Lockstep::new(model, B::rtl(false));
    let mut stim = B::stimulus(seed);
    let start = Instant::now();
    match ls.run(&mut stim, cycles) {
        Ok(()) => Ok(CosimSummary::new(B::NAME, seed, cycles, start.elapsed())),
        Err(m) => {
            let waveform = write_waveform::<B>(seed, m.cycle, out_dir);
            Err(CosimError::Divergence(Box::new(Divergence::new(
                B::NAME,
                seed,
                &m,
                waveform,
            ))))
        }
    }
}

/// Re-runs the RTL alone from `seed` with tracing on and dumps cycles
/// `cycle - WAVEFORM_CYCLES + 1 ..= cycle`. The RTL's outputs equal the
/// model's before `cycle`, so the stimulus replays exactly.
pub fn write_waveform<B: Testbench>(seed: u64, cycle: u64, out_dir: &Path) -> Waveform {
    if let Err(e) = std::fs::create_dir_all(out_dir) {
        return Waveform::NotWritten(format!("cannot create {}: {e}", out_dir.display()));
    }
    let path: PathBuf = out_dir.join(format!("{}-seed{seed}-cycle{cycle}.vcd", B::NAME));
    let mut rtl = B::rtl(true);
    let mut stim = B::stimulus(seed);
    let first = cycle.saturating_sub(WAVEFORM_CYCLES - 1);
    for c in 0..=cycle {
        if c == first && !rtl.start_trace(&path) {
            return Waveform::NotWritten(format!("cannot open {}", path.display()));
        }
        let out = rtl.step(stim.next());
        stim.observe(&out);
    }
    rtl.finish_trace();
    Waveform::Written(path)
}
