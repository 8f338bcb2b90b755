//! A hook for watching a simulation from outside: the RTL
//! co-simulation (`crate::cosim::replay`) sees every tracker step and every
//! served memory request through it. Without a probe the simulation pays
//! one branch per hook.

use crate::mem::{Completion, MemorySystem};
use crate::t3::{TrackerIn, TrackerOut};

/// Receives what one simulated run does, in simulation order.
pub trait Probe {
    /// Device `dev`'s memory system, once, before the run starts.
    fn attach(&mut self, _dev: u32, _mem: &mut MemorySystem) {}
    /// One step of device `dev`'s tracker, with what the model answered.
    fn tracker(&mut self, _dev: u32, _input: TrackerIn, _output: TrackerOut) {}
    /// Requests device `dev`'s memory finished since the last call (empty
    /// at the end of the run); the probe may drain `mem`'s logs.
    fn memory(&mut self, _dev: u32, _mem: &mut MemorySystem, _served: &[Completion]) {}
    /// True once the probe wants the run stopped (it found a divergence).
    fn stop(&self) -> bool {
        false
    }
}
