//! A device's tracker in use: output-tile updates are counted in the
//! [`Tracker`] table as they enter memory, a full table back-pressures the
//! updates of new tiles (they wait, and the wait is measured), and a tile
//! whose expected updates are all counted has fired: its DMA descriptor
//! may become ready once those updates are performed.
//!
//! The component reaches memory and the functional-check data through
//! [`TrackEnv`]: each tracked tile's updates are one memory operation,
//! held open until the tracker fires, so the operation completes exactly
//! when the last expected update has been performed.

use super::tracker::{Tracker, TrackerIn, TrackerOut};
use crate::engine::Ps;
use crate::mem::Stream;
use std::collections::HashMap;

/// Bytes of one tracked update (a DRAM line).
pub const UPDATE_BYTES: u64 = 64;

/// What tracking asks of the simulation it runs in.
pub trait TrackEnv {
    fn now(&self) -> Ps;
    /// True when every tracker step must be reported ([`Self::observe`]).
    fn watched(&self) -> bool;
    fn observe(&mut self, input: TrackerIn, output: TrackerOut);
    /// Opens the memory operation that collects `tile`'s updates; it
    /// cannot complete before [`Self::close_tile`].
    fn open_tile(&mut self, tile: u64) -> u32;
    /// Sends `bytes` of updates at `offset` in `tile` to memory under `op`.
    fn update(&mut self, op: u32, tile: u64, offset: u64, bytes: u64, stream: Stream);
    /// Every expected update of the tile behind `op` has been counted.
    fn close_tile(&mut self, op: u32);
    /// The updates carried `value` into `tile` (the functional check).
    fn add_value(&mut self, tile: u64, value: u64);
}

/// Updates to a tile waiting to be counted.
#[derive(Debug, Clone)]
pub struct Updates {
    pub tile: u64,
    /// Updates (lines) after which the tile fires.
    pub expected: u32,
    pub offset: u64,
    pub bytes: u64,
    pub stream: Stream,
    /// The contribution these updates carry, added once all are counted.
    pub value: Option<u64>,
}

/// The tracker of one device and the updates it holds back.
#[derive(Debug, Clone)]
pub struct Tracking {
    tracker: Tracker,
    /// The memory operation counting a tracked tile's updates, until the
    /// tracker fires.
    tile_op: HashMap<u64, u32>,
    wait: Vec<Updates>,
    stall_since: Option<Ps>,
    stall_ps: Ps,
    peak_occupancy: u32,
    /// Re-entrancy guard of `retry` (a retry can free or allocate).
    retrying: bool,
    retry_again: bool,
}

impl Tracking {
    pub fn new(tracker: Tracker) -> Tracking {
        Tracking {
            tracker,
            tile_op: HashMap::new(),
            wait: Vec::new(),
            stall_since: None,
            stall_ps: 0,
            peak_occupancy: 0,
            retrying: false,
            retry_again: false,
        }
    }

    /// Time updates waited for a free entry.
    pub fn stall_ps(&self) -> Ps {
        self.stall_ps
    }

    pub fn peak_occupancy(&self) -> u32 {
        self.peak_occupancy
    }

    pub fn occupancy(&self) -> u32 {
        self.tracker.occupancy()
    }

    /// Update groups waiting for an entry.
    pub fn waiting(&self) -> usize {
        self.wait.len()
    }

    /// Tiles in the table and updates waiting for an entry, for a deadlock
    /// report: `source` names where a stream's updates come from.
    pub fn describe(&self, source: impl Fn(Stream) -> String) -> String {
        const SHOWN: usize = 8;
        let held = self.tracker.held();
        let mut s = format!(
            "tracker holds {} of {} entries",
            held.len(),
            self.tracker.entries()
        );
        let list = |items: Vec<String>, total: usize| {
            let more = total.saturating_sub(SHOWN);
            let mut l = items.join(", ");
            if more > 0 {
                l += &format!(" and {more} more");
            }
            l
        };
        if !held.is_empty() {
            let items = held
                .iter()
                .take(SHOWN)
                .map(|&(t, c)| format!("tile {t} ({c} updates counted)"))
                .collect();
            s += &format!(" ({})", list(items, held.len()));
        }
        s += &format!("; {} update groups wait for an entry", self.wait.len());
        if !self.wait.is_empty() {
            let items = self
                .wait
                .iter()
                .take(SHOWN)
                .map(|u| format!("tile {} from {}", u.tile, source(u.stream)))
                .collect();
            s += &format!(" ({})", list(items, self.wait.len()));
        }
        s
    }

    /// Counts updates and sends them to memory; what the tracker cannot
    /// take (table full, new tile) waits for a free entry.
    pub fn submit(&mut self, u: Updates, env: &mut impl TrackEnv) {
        if let Some(left) = self.try_place(u, env) {
            self.wait.push(left);
            self.stall_since.get_or_insert(env.now());
        }
    }

    /// Tries to place `u`; returns what is left when the tracker is full.
    fn try_place(&mut self, u: Updates, env: &mut impl TrackEnv) -> Option<Updates> {
        let lines = u.bytes / UPDATE_BYTES;
        let mut accepted = 0;
        let mut fired = false;
        let watched = env.watched();
        while accepted < lines {
            let input = TrackerIn::update(u.tile as u32, u.expected);
            if !watched {
                // Updates that only count up a tile in the table, at once
                // (a watcher sees every step).
                let n = (lines - accepted).min(u32::MAX as u64) as u32;
                let k = self.tracker.count_up(input, n);
                if k > 0 {
                    accepted += k as u64;
                    self.peak_occupancy = self.peak_occupancy.max(self.tracker.occupancy());
                    continue;
                }
            }
            let out = self.tracker.step(input);
            if watched {
                env.observe(input, out);
            }
            if !out.accept {
                break;
            }
            accepted += 1;
            self.peak_occupancy = self.peak_occupancy.max(out.occupancy);
            fired |= out.fire.is_some();
        }
        let mut allocated = false;
        if accepted > 0 {
            let op = match self.tile_op.get(&u.tile) {
                Some(&op) => op,
                None => {
                    allocated = true;
                    let op = env.open_tile(u.tile);
                    self.tile_op.insert(u.tile, op);
                    op
                }
            };
            env.update(op, u.tile, u.offset, accepted * UPDATE_BYTES, u.stream);
            if fired {
                self.tile_op.remove(&u.tile);
                env.close_tile(op);
            }
        }
        if accepted < lines {
            if allocated || fired {
                self.retry(env);
            }
            return Some(Updates {
                offset: u.offset + accepted * UPDATE_BYTES,
                bytes: u.bytes - accepted * UPDATE_BYTES,
                ..u
            });
        }
        if let Some(v) = u.value {
            env.add_value(u.tile, v);
        }
        // A freed entry lets a waiting tile in; a new entry lets in the
        // waiting updates of its own tile that came before it had one.
        if fired || allocated {
            self.retry(env);
        }
        None
    }

    /// A tracker entry freed or was allocated: every waiting update tries
    /// again.
    fn retry(&mut self, env: &mut impl TrackEnv) {
        if self.retrying {
            self.retry_again = true;
            return;
        }
        self.retrying = true;
        loop {
            self.retry_again = false;
            self.retry_once(env);
            if !self.retry_again {
                break;
            }
        }
        self.retrying = false;
    }

    fn retry_once(&mut self, env: &mut impl TrackEnv) {
        let waiting = std::mem::take(&mut self.wait);
        if waiting.is_empty() {
            return;
        }
        let mut left = Vec::new();
        for u in waiting {
            if let Some(l) = self.try_place(u, env) {
                left.push(l);
            }
        }
        self.wait.extend(left);
        if self.wait.is_empty()
            && let Some(s) = self.stall_since.take()
        {
            self.stall_ps += env.now() - s;
        }
    }
}
