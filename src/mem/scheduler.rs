//! Command schedulers: which queued request's next command goes first.
//! One trait, implementations chosen by name (`mem.controller.scheduler`).

use super::arbiter::Grant;
use super::request::StreamClass;

/// Names accepted in configs.
pub const NAMES: &[&str] = &["fr-fcfs", "fcfs"];

/// A request whose next command is ready, as the scheduler ranks it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Its next command is a column access to the open row.
    pub row_hit: bool,
    /// Arrival order (smaller is older).
    pub age: u64,
    pub class: StreamClass,
}

/// Orders requests ready in the same cycle. A scheduler is described by
/// data (does it prefer row hits?) so the controller can rank a bank's
/// queue without a call per request: within one bank, the oldest request
/// of the preferred kind is the best, and only that one is offered.
pub trait Scheduler: Send + Sync + std::fmt::Debug + dyn_clone::DynClone {
    fn name(&self) -> &'static str;
    /// Row hits go before older row misses (FR-FCFS); otherwise pure age.
    fn prefers_row_hits(&self) -> bool;
}

/// Priority key of a ready request: larger goes first. Stream rank from
/// the arbiter's grant, then (if the scheduler prefers them) row hits, then
/// age.
#[inline]
pub fn priority_key(grant: Grant, hit_first: bool, c: &Candidate) -> u64 {
    let rank = class_rank(grant, c.class) as u64;
    let hit = (hit_first && c.row_hit) as u64;
    (rank << 62) | (hit << 61) | ((1u64 << 61) - 1 - c.age.min((1u64 << 61) - 1))
}

#[inline]
pub fn class_rank(grant: Grant, c: StreamClass) -> u8 {
    match (grant, c) {
        (Grant::ComputeFirst | Grant::ComputeOnly, StreamClass::Compute) => 1,
        (Grant::CommFirst, StreamClass::Comm) => 1,
        _ => 0,
    }
}

dyn_clone::clone_trait_object!(Scheduler);

/// First-ready, first-come-first-served: stream rank, then row hits, then
/// age.
#[derive(Debug, Clone)]
pub struct FrFcfs;

impl Scheduler for FrFcfs {
    fn name(&self) -> &'static str {
        "fr-fcfs"
    }
    fn prefers_row_hits(&self) -> bool {
        true
    }
}

/// First-come-first-served: stream rank, then age.
#[derive(Debug, Clone)]
pub struct Fcfs;

impl Scheduler for Fcfs {
    fn name(&self) -> &'static str {
        "fcfs"
    }
    fn prefers_row_hits(&self) -> bool {
        false
    }
}

pub fn build(name: &str) -> Option<Box<dyn Scheduler>> {
    match name {
        "fr-fcfs" => Some(Box::new(FrFcfs)),
        "fcfs" => Some(Box::new(Fcfs)),
        _ => None,
    }
}
