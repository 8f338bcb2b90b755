//! Co-simulation: each RTL block in `rtl/` and its Rust reference model
//! implement [`Block`]; [`Lockstep`] feeds both the same inputs each cycle
//! and stops at the first cycle whose outputs differ. Stimulus is
//! constrained-random and seeded, so a divergence is reproducible from the
//! seed; on a divergence the RTL is re-run from that seed with tracing on to
//! dump a VCD waveform of the last cycles.
//!
//! The models, stimulus and lockstep logic build without Verilator; the
//! verilated RTL (`rtl` module) needs the cargo feature `rtl`.

mod lockstep;
mod models;
pub mod replay;
mod stimulus;

#[cfg(feature = "rtl")]
pub mod replay_rtl;
#[cfg(feature = "rtl")]
pub mod rtl;

pub use lockstep::{BlockMismatch, Divergence, Lockstep, Mismatch, Waveform};
pub use models::{AluIn, AluOut, LANES, McaIn, McaOut, NmcAluModel};
pub use stimulus::{AluStimulus, McaStimulus, Stimulus, TrackerStimulus};

use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

/// A cycle-level block: one call is one clock edge, returning the
/// registered outputs that the edge produces.
pub trait Block {
    type In: Clone + Debug;
    type Out: Observed;
    fn step(&mut self, i: Self::In) -> Self::Out;
}

/// A block's outputs as the checker compares and reports them.
pub trait Observed: PartialEq + Debug {
    /// The fields that differ, `name: expected X, actual Y`, for a report.
    fn differences(&self, actual: &Self) -> String;
}

/// The blocks `run_block` knows, by name.
pub const BLOCKS: &[&str] = &["tracker", "nmc_alu", "mca_arbiter"];

/// Cycles of waveform written before (and including) a diverging cycle.
pub const WAVEFORM_CYCLES: u64 = 64;

/// Why a co-simulation run did not pass.
#[derive(Debug, thiserror::Error)]
pub enum CosimError {
    #[error("unknown block `{0}` (known: {known})", known = BLOCKS.join(", "))]
    UnknownBlock(String),
    #[error(
        "this t3sim was built without the RTL co-simulation harness; rebuild with \
         `--features rtl` (needs Verilator 5 and a C++17 compiler: scripts/setup.sh)"
    )]
    RtlNotBuilt,
    /// The RTL and the model disagree; a waveform that cannot be written
    /// is noted in the report rather than hiding the divergence.
    #[error(transparent)]
    Divergence(Box<Divergence>),
}

/// A passing run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CosimSummary {
    pub block: String,
    pub seed: u64,
    pub cycles: u64,
    pub wall_s: f64,
    pub cycles_per_s: f64,
}

impl CosimSummary {
    pub fn new(block: &str, seed: u64, cycles: u64, wall: Duration) -> Self {
        let wall_s = wall.as_secs_f64();
        CosimSummary {
            block: block.to_string(),
            seed,
            cycles,
            wall_s,
            cycles_per_s: if wall_s > 0.0 {
                cycles as f64 / wall_s
            } else {
                0.0
            },
        }
    }
}

/// Runs `cycles` cycles of seeded random stimulus through the named
/// block's RTL and Rust model in lockstep. On a divergence, writes a VCD of
/// the last [`WAVEFORM_CYCLES`] cycles into `out_dir` and returns
/// [`CosimError::Divergence`].
pub fn run_block(
    block: &str,
    cycles: u64,
    seed: u64,
    out_dir: &Path,
) -> Result<CosimSummary, CosimError> {
    if !BLOCKS.contains(&block) {
        return Err(CosimError::UnknownBlock(block.to_string()));
    }
    run_known(block, cycles, seed, out_dir)
}

#[cfg(feature = "rtl")]
fn run_known(
    block: &str,
    cycles: u64,
    seed: u64,
    out_dir: &Path,
) -> Result<CosimSummary, CosimError> {
    use rtl::{AluBench, McaBench, Testbench, TrackerBench, check};
    match block {
        "tracker" => check::<TrackerBench, _>(TrackerBench::model(), cycles, seed, out_dir),
        "nmc_alu" => check::<AluBench, _>(AluBench::model(), cycles, seed, out_dir),
        _ => check::<McaBench, _>(McaBench::model(), cycles, seed, out_dir),
    }
}

#[cfg(not(feature = "rtl"))]
fn run_known(_: &str, _: u64, _: u64, _: &Path) -> Result<CosimSummary, CosimError> {
    Err(CosimError::RtlNotBuilt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_block_names_the_known_ones() {
        let e = run_block("dma", 10, 1, Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(e, CosimError::UnknownBlock(_)));
        assert_eq!(
            e.to_string(),
            "unknown block `dma` (known: tracker, nmc_alu, mca_arbiter)"
        );
    }

    #[cfg(not(feature = "rtl"))]
    #[test]
    fn without_the_feature_the_error_says_how_to_rebuild() {
        let e = run_block("tracker", 10, 1, Path::new("/nonexistent")).unwrap_err();
        assert!(matches!(e, CosimError::RtlNotBuilt));
        assert!(e.to_string().contains("--features rtl"));
    }
}
