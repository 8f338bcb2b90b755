//! The memory system of one device: an address map in front of one
//! controller per (pseudo-)channel, in the DRAM clock domain.
//!
//! Driving it: `try_enqueue` requests at a DRAM cycle no earlier than the
//! last one processed; `advance_before(t)` issues every command scheduled
//! before cycle `t`; `step()` issues the single earliest command (to wait
//! for a full queue to drain). Served requests come back through
//! `drain_completions` with their completion cycle.
//!
//! Data values are optional: with [`MemorySystem::enable_data`] the system
//! keeps a sparse backing store, writes store the caller's bytes, reads
//! return them, and updates add FP16/BF16 lanes in place, each in the order
//! the DRAM performs them.

use super::address::{AddressMap, QueueAddr};
use super::arbiter;
use super::controller::{Channel, ChannelParams, LocalCounts, Served};
use super::nmc_alu::{self, Dtype};
use super::request::{Completion, Op, Request};
use super::scheduler;
use super::stats::MemStats;
use super::timing::Timing;
use crate::config::MemConfig;
use std::collections::HashMap;

/// Commands a channel may issue without serving or taking a request
/// before it is reported stuck (refreshes alone never need this many).
const NO_PROGRESS_COMMANDS: u64 = 1_000_000;

/// Why a request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// The channel's queue is full, or the arbitration policy holds
    /// communication back; retry after the channel issues.
    QueueFull { channel: u32 },
    /// The address lies beyond the capacity.
    OutOfRange { addr: u64, capacity: u64 },
}

/// The sparse backing store and the payloads in flight.
#[derive(Debug, Default, Clone)]
struct DataStore {
    dtype: Option<Dtype>,
    lines: HashMap<u64, Box<[u8]>>,
    pending: HashMap<u64, Box<[u8]>>,
    read_back: HashMap<u64, Box<[u8]>>,
}

/// Clone copies the whole state, so two runs that share a prefix can
/// simulate it once.
#[derive(Debug, Clone)]
pub struct MemorySystem {
    map: AddressMap,
    channels: Vec<Channel>,
    access_bytes: u64,
    served: Vec<Served>,
    completions: Vec<Completion>,
    /// Off when no caller reads completions (trace replay): a 5 M-line
    /// trace would otherwise hold 5 M of them.
    keep_completions: bool,
    /// Latest completion cycle of any request served so far.
    last_done: u64,
    stats: MemStats,
    data: DataStore,
    /// Last cycle a command was processed.
    now: u64,
    /// Set when a channel stopped making progress (a deadlock report).
    stalled: Option<String>,
    /// Per channel, per stream class: requests submitted while the queue
    /// could not take them, oldest first (the GPU-side queues in front of
    /// each controller).
    backlog: Vec<[std::collections::VecDeque<(Request, u8)>; 2]>,
    backlog_len: usize,
    /// Per channel, what [`Self::next_busy_event`] last found for it
    /// (`u64::MAX`: no request queued), valid unless the channel is listed
    /// in `busy_stale`: a channel nothing touched since keeps its next
    /// command, and a ring simulation asks after every submission, so only
    /// the channels touched since the last question are asked again.
    busy_next: Vec<u64>,
    busy_stale: Vec<u32>,
    /// Per channel: listed in `busy_stale`.
    is_stale: Vec<bool>,
    /// Per channel, its next command (refresh included; `u64::MAX`: none)
    /// as last seen with its decision up to date, or 0 once the channel is
    /// touched: a channel whose next command is known to fall at or after
    /// a cycle has nothing to do before it, so [`Self::advance_before`]
    /// need not visit it.
    next_at: Vec<u64>,
}

impl MemorySystem {
    /// Builds the system from a validated config.
    pub fn new(cfg: &MemConfig) -> Result<MemorySystem, String> {
        let map = AddressMap::parse(&cfg.mapping, cfg)?;
        let k = &cfg.controller;
        let timing = Timing::new(&cfg.timing, &cfg.nmc);
        let pct = |p: u32| ((k.write_queue as u64 * p as u64).div_ceil(100)).max(1) as usize;
        let mut channels = Vec::new();
        for id in 0..cfg.channels() {
            let arb = arbiter::build(
                &k.arbitration,
                k.mca_threshold,
                k.read_queue + k.write_queue,
                k.starvation_limit_cycles,
            )
            .ok_or_else(|| format!("unknown arbitration `{}`", k.arbitration))?;
            let sched = scheduler::build(&k.scheduler)
                .ok_or_else(|| format!("unknown scheduler `{}`", k.scheduler))?;
            let params = ChannelParams {
                id,
                timing: timing.clone(),
                bank_groups: cfg.bank_groups,
                banks_per_group: cfg.banks_per_group,
                read_cap: k.read_queue as usize,
                write_cap: k.write_queue as usize,
                write_high: pct(k.write_high_pct),
                write_low: pct(k.write_low_pct).min(pct(k.write_high_pct) - 1),
                refresh: k.refresh == "all-bank",
                closed_page: k.page_policy == "closed",
                frontend_latency: k.frontend_latency_cycles as u64,
                access_bytes: cfg.access_bytes() as u64,
            };
            channels.push(Channel::new(params, arb, sched));
        }
        let n = channels.len();
        Ok(MemorySystem {
            map,
            channels,
            access_bytes: cfg.access_bytes() as u64,
            served: Vec::new(),
            completions: Vec::new(),
            keep_completions: true,
            last_done: 0,
            stats: MemStats::new(n),
            data: DataStore::default(),
            now: 0,
            backlog: (0..n).map(|_| Default::default()).collect(),
            stalled: None,
            backlog_len: 0,
            busy_next: vec![u64::MAX; n],
            busy_stale: (0..n as u32).collect(),
            is_stale: vec![true; n],
            next_at: vec![0; n],
        })
    }

    /// Keeps data values from now on; updates add lanes of `dtype`.
    pub fn enable_data(&mut self, dtype: Dtype) {
        self.data.dtype = Some(dtype);
        // Data effects happen as requests retire here, in DRAM order.
        self.collect_local_counts();
        for c in &mut self.channels {
            c.local = None;
        }
    }

    /// Stops collecting completions: statistics still count every request.
    pub fn discard_completions(&mut self) {
        self.keep_completions = false;
        self.completions.clear();
        if self.data.dtype.is_none() {
            // Nothing is left to do with a served request but count it,
            // which its channel can do as it serves it.
            for c in &mut self.channels {
                c.local.get_or_insert_with(|| Box::new(LocalCounts::new()));
            }
        }
    }

    /// Folds what channels counted themselves into the system's statistics.
    fn collect_local_counts(&mut self) {
        for c in &mut self.channels {
            if let Some(l) = &mut c.local {
                self.stats.add_requests(&l.stats);
                self.last_done = self.last_done.max(l.last_done);
                **l = LocalCounts::new();
            }
        }
    }

    pub fn access_bytes(&self) -> u64 {
        self.access_bytes
    }

    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.map.capacity_bytes()
    }

    /// The channel an address maps to.
    pub fn channel_of(&self, addr: u64) -> Option<u32> {
        self.map.decode(addr).map(|d| d.channel)
    }

    /// Offers a request arriving at DRAM cycle `now` (never before the last
    /// processed command).
    #[inline]
    pub fn try_enqueue(&mut self, now: u64, req: Request) -> Result<(), Reject> {
        self.try_enqueue_run(now, req, 1)
    }

    /// Offers a run of `bursts` accesses to consecutive columns of one row
    /// starting at `req.addr` (the caller checked with [`Self::run_len`]).
    #[inline(always)]
    fn try_enqueue_run(&mut self, now: u64, req: Request, bursts: u8) -> Result<(), Reject> {
        if req.addr >= self.map.capacity_bytes() {
            return Err(Reject::OutOfRange {
                addr: req.addr,
                capacity: self.map.capacity_bytes(),
            });
        }
        let d = self.map.decode_queue_in_range(req.addr);
        // Channels only interact through arrivals: bring this one up to the
        // arrival before it sees the request.
        self.run_channel_before(d.channel as usize, now);
        self.touch(d.channel as usize);
        let ch = &mut self.channels[d.channel as usize];
        if !ch.admits(now.max(self.now), req.op, req.stream.class()) {
            return Err(Reject::QueueFull { channel: d.channel });
        }
        let at = now.max(self.now);
        self.enqueue_decoded(d, at, req, bursts);
        Ok(())
    }

    /// Queues `req` at cycle `now` or later: while its channel's queue
    /// cannot take it, issues that channel's commands until it can (a
    /// frontend blocked on a full queue, as [`Self::try_enqueue`] then
    /// [`Self::drain_until_accepts`] in turn would, but decoding the
    /// address once). Returns the cycle the request was taken;
    /// `QueueFull` when the channel never will take it.
    #[inline(always)]
    pub fn enqueue_blocking(&mut self, now: u64, req: Request) -> Result<u64, Reject> {
        if req.addr >= self.map.capacity_bytes() {
            return Err(Reject::OutOfRange {
                addr: req.addr,
                capacity: self.map.capacity_bytes(),
            });
        }
        let d = self.map.decode_queue_in_range(req.addr);
        let c = d.channel as usize;
        let mut t = now;
        loop {
            self.run_channel_before(c, t);
            self.touch(c);
            if self.channels[c].admits(t.max(self.now), req.op, req.stream.class()) {
                break;
            }
            let freed = self
                .drain_until_accepts(d.channel, &req)
                .ok_or(Reject::QueueFull { channel: d.channel })?;
            t = t.max(freed + 1);
        }
        self.enqueue_decoded(d, t.max(self.now), req, 1);
        Ok(t)
    }

    /// Puts a decoded request into its channel's queue (space checked).
    #[inline(always)]
    fn enqueue_decoded(&mut self, d: QueueAddr, at: u64, req: Request, bursts: u8) {
        self.channels[d.channel as usize].enqueue(
            at,
            req.addr,
            req.tag,
            req.op,
            req.stream,
            d.row,
            d.bank as u16,
            d.bank_group as u8,
            bursts,
        );
    }

    /// How many accesses from `addr` on (at most `max`) lie in consecutive
    /// columns of the same row, bank and channel.
    pub fn run_len(&self, addr: u64, max: u64) -> u64 {
        if addr >= self.map.capacity_bytes() {
            return 1;
        }
        // Every field is a power of two, so the capacity is a slice
        // boundary: a column run never crosses it.
        max.min(255).min(self.map.column_run(addr)).max(1)
    }

    /// Submits a run of `bursts` accesses from `req.addr` as one request
    /// (see [`Self::run_len`]); queued in the channel's backlog when full.
    pub fn submit_run(&mut self, now: u64, req: Request, bursts: u8) -> Result<(), Reject> {
        match self.try_enqueue_run(now, req, bursts) {
            Ok(()) => Ok(()),
            Err(Reject::QueueFull { channel }) => {
                let class = (req.stream.class() == crate::mem::StreamClass::Comm) as usize;
                self.backlog[channel as usize][class].push_back((req, bursts));
                self.backlog_len += 1;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Queues a request, or keeps it in the channel's backlog until the
    /// controller can take it (it then arrives the cycle a slot frees).
    pub fn submit(&mut self, now: u64, req: Request) -> Result<(), Reject> {
        self.submit_run(now, req, 1)
    }

    /// Why the system stopped making progress, if it did.
    pub fn stall(&self) -> Option<&str> {
        self.stalled.as_deref()
    }

    /// Requests waiting in front of full controllers.
    pub fn backlog(&self) -> usize {
        self.backlog_len
    }

    /// Moves backlogged requests of channel `c` into its queue at cycle `t`.
    #[inline]
    fn refill(&mut self, c: usize, t: u64) {
        if self.backlog_len != 0 {
            self.refill_backlog(c, t);
        }
    }

    #[inline(never)]
    fn refill_backlog(&mut self, c: usize, t: u64) {
        self.touch(c);
        for class in 0..2 {
            while let Some((req, bursts)) = self.backlog[c][class].front().copied() {
                let cls = req.stream.class();
                if !self.channels[c].admits(t, req.op, cls) {
                    break;
                }
                self.backlog[c][class].pop_front();
                self.backlog_len -= 1;
                // In range: checked at submission.
                let d = self.map.decode_queue_in_range(req.addr);
                self.enqueue_decoded(d, t, req, bursts);
            }
        }
    }

    /// Issues channel `c`'s commands scheduled before `until`, refilling
    /// its queue from the backlog as slots free.
    #[inline]
    fn run_channel_before(&mut self, c: usize, until: u64) {
        if self.next_at[c] >= until || self.channels[c].floor() >= until {
            // No command can fall before `until`: nothing to issue, and the
            // next decision waits until it is needed. (Skipping refreshes
            // changes nothing either: an idle channel's next command is
            // its refresh, and one due before `until` is next.)
            return;
        }
        self.run_channel(c, until);
    }

    /// [`Self::run_channel_before`] past its cheap tests.
    #[inline(never)]
    fn run_channel(&mut self, c: usize, until: u64) {
        self.touch(c);
        self.channels[c].skip_idle_refreshes(until);
        if self.backlog_len == 0 {
            // Issuing never adds to the backlog, so none is refilled: the
            // channel runs on by itself.
            let next = self.channels[c].issue_before(until, &mut self.served);
            self.next_at[c] = next.unwrap_or(u64::MAX);
            return;
        }
        loop {
            let Some(t) = self.channels[c].next_time() else {
                self.next_at[c] = u64::MAX;
                break;
            };
            if t >= until {
                self.next_at[c] = t;
                break;
            }
            self.channels[c].issue(&mut self.served);
            self.refill(c, t + 1);
        }
    }

    /// Like [`Self::try_enqueue`], carrying the data a write stores or an
    /// update adds (one access of bytes).
    pub fn try_enqueue_with_data(
        &mut self,
        now: u64,
        req: Request,
        data: &[u8],
    ) -> Result<(), Reject> {
        self.try_enqueue(now, req)?;
        if self.data.dtype.is_some() && req.op != Op::Read {
            self.data.pending.insert(req.tag, data.into());
        }
        Ok(())
    }

    /// The data a completed read returned (data mode only).
    pub fn take_read_data(&mut self, tag: u64) -> Option<Box<[u8]>> {
        self.data.read_back.remove(&tag)
    }

    /// The stored bytes of the access at `addr` (data mode only).
    pub fn peek(&self, addr: u64) -> Option<&[u8]> {
        self.data
            .lines
            .get(&(addr / self.access_bytes))
            .map(|b| &b[..])
    }

    /// Earliest cycle of any pending command (refresh included).
    #[inline]
    pub fn next_event(&mut self) -> Option<u64> {
        let mut best: Option<u64> = None;
        for ch in &mut self.channels {
            if let Some(t) = ch.next_time() {
                best = Some(best.map_or(t, |b: u64| b.min(t)));
            }
        }
        best
    }

    /// Earliest cycle of a command on a channel that has requests queued;
    /// `None` when every queue is empty.
    pub fn next_busy_event(&mut self) -> Option<u64> {
        self.next_busy_event_touched();
        let best = self.busy_next.iter().copied().min().unwrap_or(u64::MAX);
        (best != u64::MAX).then_some(best)
    }

    /// [`Self::next_busy_event`] among the channels touched (by a
    /// submission or by issuing) since either was last called. A caller
    /// that holds a wake-up no later than the answer of its last full
    /// question and wants to know whether it must move earlier needs only
    /// these: the other channels' next commands have not changed.
    pub fn next_busy_event_touched(&mut self) -> Option<u64> {
        let mut best = u64::MAX;
        for c in self.busy_stale.drain(..) {
            let c = c as usize;
            self.is_stale[c] = false;
            let ch = &mut self.channels[c];
            let t = if ch.is_idle() {
                u64::MAX
            } else {
                let t = ch.next_time().unwrap_or(u64::MAX);
                self.next_at[c] = t;
                t
            };
            self.busy_next[c] = t;
            best = best.min(t);
        }
        (best != u64::MAX).then_some(best)
    }

    /// Channel `c` may have changed: [`Self::next_busy_event`] asks it
    /// again.
    #[inline]
    fn touch(&mut self, c: usize) {
        self.next_at[c] = 0;
        if !self.is_stale[c] {
            self.is_stale[c] = true;
            self.busy_stale.push(c as u32);
        }
    }

    fn touch_all(&mut self) {
        for c in 0..self.channels.len() {
            self.touch(c);
        }
    }

    /// Issues the single earliest command; returns its cycle.
    pub fn step(&mut self) -> Option<u64> {
        let mut best: Option<(u64, usize)> = None;
        for (i, ch) in self.channels.iter_mut().enumerate() {
            if let Some(t) = ch.next_time()
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, i));
            }
        }
        let (_, i) = best?;
        self.touch(i);
        let t = self.channels[i].issue(&mut self.served)?;
        self.refill(i, t + 1);
        self.now = self.now.max(t);
        self.retire_served();
        Some(t)
    }

    /// Issues every command scheduled before cycle `until`.
    pub fn advance_before(&mut self, until: u64) {
        for i in 0..self.channels.len() {
            // Channels are independent between arrivals: run each in turn.
            self.run_channel_before(i, until);
            if self.served.len() > 4096 {
                self.retire_served();
            }
        }
        self.retire_served();
        self.now = self.now.max(until.saturating_sub(1));
    }

    /// Issues commands on one channel until it admits `req` (queue space,
    /// and the arbitration policy's consent for communication); returns the
    /// cycle of the last command issued, or `None` if it never will.
    pub fn drain_until_accepts(&mut self, channel: u32, req: &Request) -> Option<u64> {
        let i = channel as usize;
        if i < self.channels.len() {
            self.touch(i);
        }
        let mut t = self.now;
        let mut cmds = 0u64;
        while !self
            .channels
            .get_mut(i)?
            .admits(t + 1, req.op, req.stream.class())
        {
            t = self.channels[i].issue(&mut self.served)?;
            self.refill(i, t + 1);
            cmds += 1;
            if cmds > NO_PROGRESS_COMMANDS {
                self.stalled = Some(format!(
                    "channel {channel} issued {cmds} commands without taking a request: {}",
                    self.channels[i].describe()
                ));
                return None;
            }
        }
        self.retire_served();
        Some(t)
    }

    /// Serves every queued request (refreshes included as they fall due);
    /// returns the last cycle any channel was busy.
    pub fn drain_all(&mut self) -> u64 {
        self.touch_all();
        let mut end = self.now;
        for c in 0..self.channels.len() {
            let mut idle_cmds = 0u64;
            while !self.channels[c].is_idle() {
                let before = self.served.len();
                match self.channels[c].issue(&mut self.served) {
                    Some(t) => {
                        end = end.max(t);
                        self.refill(c, t + 1);
                    }
                    None => break,
                }
                idle_cmds = if self.served.len() > before {
                    0
                } else {
                    idle_cmds + 1
                };
                if idle_cmds > NO_PROGRESS_COMMANDS {
                    self.stalled = Some(format!(
                        "channel {c} issued {idle_cmds} commands without serving a request: {}",
                        self.channels[c].describe()
                    ));
                    break;
                }
            }
        }
        self.retire_served();
        self.collect_local_counts();
        end = end.max(self.last_done);
        self.now = self.now.max(end);
        end
    }

    fn retire_served(&mut self) {
        for s in self.served.drain(..) {
            self.stats.count_served(
                s.stream,
                self.access_bytes * s.bursts as u64,
                s.issue - s.arrive,
            );
            let latency = s.done - s.arrive;
            self.last_done = self.last_done.max(s.done);
            self.stats.count_done(s.stream, s.op, latency);
            if let Some(dtype) = self.data.dtype {
                let line = s.addr / self.access_bytes;
                match s.op {
                    Op::Read => {
                        let v = self
                            .data
                            .lines
                            .get(&line)
                            .cloned()
                            .unwrap_or_else(|| vec![0; self.access_bytes as usize].into());
                        self.data.read_back.insert(s.tag, v);
                    }
                    Op::Write => {
                        if let Some(p) = self.data.pending.remove(&s.tag) {
                            self.data.lines.insert(line, p);
                        }
                    }
                    Op::Update => {
                        if let Some(p) = self.data.pending.remove(&s.tag) {
                            let n = self.access_bytes as usize;
                            let cur = self
                                .data
                                .lines
                                .entry(line)
                                .or_insert_with(|| vec![0; n].into());
                            nmc_alu::add_lanes(dtype, cur, &p);
                        }
                    }
                }
            }
            if !self.keep_completions {
                continue;
            }
            self.completions.push(Completion {
                tag: s.tag,
                stream: s.stream,
                op: s.op,
                cycle: s.done,
                latency_cycles: latency,
                bytes: self.access_bytes * s.bursts as u64,
                channel: s.channel,
            });
        }
    }

    /// Completions since the last call, in issue order per channel.
    pub fn drain_completions(&mut self) -> std::vec::Drain<'_, Completion> {
        self.completions.drain(..)
    }

    /// Requests queued at all controllers.
    pub fn queued(&self) -> usize {
        self.channels.iter().map(|c| c.queued()).sum()
    }

    /// Time integrals of queue occupancy (compute, communication) over all
    /// channels up to DRAM cycle `now`, in request-cycles.
    pub fn occupancy_cycles(&mut self, now: u64) -> (u64, u64) {
        self.channels.iter_mut().fold((0, 0), |(a, b), c| {
            let (x, y) = c.occupancy_until(now);
            (a + x, b + y)
        })
    }

    /// Sets t3-mca's occupancy threshold on every controller.
    pub fn set_mca_threshold(&mut self, t: u32) {
        self.touch_all();
        for c in &mut self.channels {
            c.arbiter_mut().set_threshold(t);
        }
    }

    /// Logs every channel's arbitration events from now on (co-simulation).
    pub fn enable_arb_log(&mut self) {
        for c in &mut self.channels {
            c.arb_log = Some(Vec::new());
        }
    }

    /// Hands over the arbitration events logged since the last call, per
    /// channel in cycle order.
    pub fn drain_arb_log(&mut self, mut f: impl FnMut(u32, arbiter::ArbEvent)) {
        for (i, c) in self.channels.iter_mut().enumerate() {
            if let Some(log) = &mut c.arb_log {
                for e in log.drain(..) {
                    f(i as u32, e);
                }
            }
        }
    }

    pub fn arbitration(&self) -> &'static str {
        self.channels[0].arbiter().name()
    }

    /// Closes the books at `end` and returns the statistics.
    pub fn finish(&mut self, end: u64) -> MemStats {
        self.collect_local_counts();
        for (i, c) in self.channels.iter_mut().enumerate() {
            c.finish(end);
            self.stats.channels[i] = c.stats.clone();
        }
        self.stats.clone()
    }

    /// Current per-channel state, for deadlock reports.
    pub fn describe(&self) -> Vec<String> {
        self.channels
            .iter()
            .enumerate()
            .map(|(i, c)| format!("ch{i}: {}", c.describe()))
            .collect()
    }
}
