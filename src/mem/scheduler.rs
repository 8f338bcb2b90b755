//! Command schedulers: which queued request's next command goes first.
//! One trait, implementations chosen by name (`mem.controller.scheduler`).

use super::arbiter::Grant;
use super::request::StreamClass;

/// Names accepted in configs.
pub const NAMES: &[&str] = &["fr-fcfs", "fcfs"];

/// A queued request as the scheduler sees it at one decision.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Its next command is a column access to the open row.
    pub row_hit: bool,
    /// Arrival order (smaller is older).
    pub age: u64,
    pub class: StreamClass,
}

/// Orders candidates that are ready in the same cycle.
pub trait Scheduler: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// True when `a` should go before `b`.
    fn before(&self, grant: Grant, a: &Candidate, b: &Candidate) -> bool;
}

#[inline]
fn class_rank(grant: Grant, c: StreamClass) -> u8 {
    match (grant, c) {
        (Grant::ComputeFirst | Grant::ComputeOnly, StreamClass::Compute) => 1,
        (Grant::CommFirst, StreamClass::Comm) => 1,
        _ => 0,
    }
}

/// First-ready, first-come-first-served: stream rank, then row hits, then
/// age.
#[derive(Debug)]
pub struct FrFcfs;

impl Scheduler for FrFcfs {
    fn name(&self) -> &'static str {
        "fr-fcfs"
    }
    #[inline]
    fn before(&self, g: Grant, a: &Candidate, b: &Candidate) -> bool {
        let ka = (class_rank(g, a.class), a.row_hit, std::cmp::Reverse(a.age));
        let kb = (class_rank(g, b.class), b.row_hit, std::cmp::Reverse(b.age));
        ka > kb
    }
}

/// First-come-first-served: stream rank, then age (row hits get no
/// preference).
#[derive(Debug)]
pub struct Fcfs;

impl Scheduler for Fcfs {
    fn name(&self) -> &'static str {
        "fcfs"
    }
    #[inline]
    fn before(&self, g: Grant, a: &Candidate, b: &Candidate) -> bool {
        let ka = (class_rank(g, a.class), std::cmp::Reverse(a.age));
        let kb = (class_rank(g, b.class), std::cmp::Reverse(b.age));
        ka > kb
    }
}

pub fn build(name: &str) -> Option<Box<dyn Scheduler>> {
    match name {
        "fr-fcfs" => Some(Box::new(FrFcfs)),
        "fcfs" => Some(Box::new(Fcfs)),
        _ => None,
    }
}
