//! Lockstep: two implementations of one block, same inputs, compared at
//! every cycle.

use std::fmt;
use std::path::PathBuf;

use super::{Block, Observed, Stimulus};

/// A reference model and the implementation under test, stepped together.
pub struct Lockstep<M, R> {
    pub model: M,
    pub dut: R,
    cycle: u64,
}

/// The first cycle at which the two sides disagreed.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch<I, O> {
    pub cycle: u64,
    pub inputs: I,
    pub expected: O,
    pub actual: O,
}

/// A mismatch of block `B`'s outputs, boxed: it is the rare path.
pub type BlockMismatch<B> = Box<Mismatch<<B as Block>::In, <B as Block>::Out>>;

impl<M, R> Lockstep<M, R>
where
    M: Block,
    R: Block<In = M::In, Out = M::Out>,
{
    pub fn new(model: M, dut: R) -> Self {
        Lockstep {
            model,
            dut,
            cycle: 0,
        }
    }

    /// Cycles stepped so far.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// One cycle on both sides; the model's outputs when they agree.
    pub fn step(&mut self, i: M::In) -> Result<M::Out, BlockMismatch<M>> {
        let expected = self.model.step(i.clone());
        let actual = self.dut.step(i.clone());
        let cycle = self.cycle;
        self.cycle += 1;
        if expected == actual {
            Ok(expected)
        } else {
            Err(Box::new(Mismatch {
                cycle,
                inputs: i,
                expected,
                actual,
            }))
        }
    }

    /// `cycles` cycles from `stim`, which sees each cycle's agreed outputs
    /// (stimulus may react to them, as a caller retries on back-pressure).
    pub fn run<S>(&mut self, stim: &mut S, cycles: u64) -> Result<(), BlockMismatch<M>>
    where
        S: Stimulus<In = M::In, Out = M::Out>,
    {
        for _ in 0..cycles {
            let out = self.step(stim.next())?;
            stim.observe(&out);
        }
        Ok(())
    }
}

/// Where the waveform of a divergence went.
#[derive(Debug, Clone, PartialEq)]
pub enum Waveform {
    Written(PathBuf),
    NotWritten(String),
}

/// A divergence between a block's RTL and its model, as reported to the
/// user: everything needed to reproduce and look at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    pub block: String,
    pub seed: u64,
    /// First cycle (0-based, counted from reset) whose outputs differ.
    pub cycle: u64,
    pub inputs: String,
    pub expected: String,
    pub actual: String,
    /// The differing output fields.
    pub fields: String,
    pub waveform: Waveform,
}

impl Divergence {
    pub fn new<I: fmt::Debug, O: Observed>(
        block: &str,
        seed: u64,
        m: &Mismatch<I, O>,
        waveform: Waveform,
    ) -> Self {
        Divergence {
            block: block.to_string(),
            seed,
            cycle: m.cycle,
            inputs: format!("{:?}", m.inputs),
            expected: format!("{:?}", m.expected),
            actual: format!("{:?}", m.actual),
            fields: m.expected.differences(&m.actual),
            waveform,
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: RTL diverges from the model at cycle {} (seed {})",
            self.block, self.cycle, self.seed
        )?;
        write_details(
            f,
            [&self.fields, &self.inputs, &self.expected, &self.actual],
            &self.waveform,
        )
    }
}

/// The lines every divergence report ends with: the differing fields,
/// inputs, expected and actual outputs, and where the waveform went.
pub(crate) fn write_details(
    f: &mut fmt::Formatter<'_>,
    [fields, inputs, expected, actual]: [&str; 4],
    waveform: &Waveform,
) -> fmt::Result {
    writeln!(f, "  differing: {fields}")?;
    writeln!(f, "  inputs:    {inputs}")?;
    writeln!(f, "  expected:  {expected}")?;
    writeln!(f, "  actual:    {actual}")?;
    match waveform {
        Waveform::Written(p) => write!(f, "  waveform:  {}", p.display()),
        Waveform::NotWritten(why) => write!(f, "  waveform:  not written ({why})"),
    }
}

impl std::error::Error for Divergence {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosim::TrackerStimulus;
    use crate::t3::{Tracker, TrackerIn, TrackerOut};

    /// Fires a tile one update before its count is complete.
    struct EarlyTracker(Tracker);

    impl Block for EarlyTracker {
        type In = TrackerIn;
        type Out = TrackerOut;
        fn step(&mut self, i: TrackerIn) -> TrackerOut {
            self.0.step(TrackerIn {
                expected: i.expected.saturating_sub(1),
                ..i
            })
        }
    }

    #[test]
    fn identical_models_agree_for_many_cycles() {
        let mut ls = Lockstep::new(Tracker::paper(), Tracker::paper());
        let mut stim = TrackerStimulus::new(7, 256);
        ls.run(&mut stim, 50_000).unwrap();
        assert_eq!(ls.cycle(), 50_000);
    }

    #[test]
    fn an_early_firing_tracker_is_caught_at_its_first_wrong_cycle() {
        let mut ls = Lockstep::new(Tracker::paper(), EarlyTracker(Tracker::paper()));
        let mut stim = TrackerStimulus::new(7, 256);
        let m = ls.run(&mut stim, 50_000).unwrap_err();
        // Replaying the same stimulus on the model alone, every cycle before
        // the reported one matches the early variant.
        let mut model = Tracker::paper();
        let mut early = EarlyTracker(Tracker::paper());
        let mut stim = TrackerStimulus::new(7, 256);
        for c in 0..=m.cycle {
            let i = stim.next();
            let (a, b) = (model.step(i), early.step(i));
            assert_eq!(a == b, c < m.cycle, "cycle {c}");
            stim.observe(&a);
        }
        let d = Divergence::new("tracker", 7, &m, Waveform::NotWritten("model only".into()));
        let text = d.to_string();
        assert!(
            text.contains(&format!("at cycle {} (seed 7)", m.cycle)),
            "{text}"
        );
        assert!(text.contains("fire: expected"), "{text}");
    }
}
