//! One channel's memory controller: read and write queues (updates share
//! the write queue), write-drain watermarks, a command scheduler, stream
//! arbitration, all-bank refresh, open- or closed-page policy, and the
//! bank/bank-group/channel timing state.
//!
//! Event-driven: the controller computes the earliest cycle at which any
//! queued request's next command (ACT, PRE, RD, WR, UPD) satisfies every
//! timing constraint, picks among the requests ready in that cycle with the
//! scheduler, and jumps there. That is the decision a controller ticking
//! every cycle would take, because nothing changes between events: a new
//! arrival makes the controller decide again. At most one command issues
//! per cycle.

use super::arbiter::{ArbEvent, ArbInputs, ArbitrationPolicy, Grant};
use super::bank_queue::BankQueue;
use super::request::{Op, Stream, StreamClass};
use super::scheduler::{Candidate, Scheduler, priority_key};
use super::stats::{ChannelStats, MemStats};
use super::timing::Timing;

const NO_ROW: u32 = u32::MAX;

// Earliest cycles are kept per command kind, indexed by `Cmd as usize`,
// so a ready time is a branch-free maximum over bank, group and channel.
const ACT: usize = Cmd::Act as usize;
const PRE: usize = Cmd::Pre as usize;
const RD: usize = Cmd::Rd as usize;
const WR: usize = Cmd::Wr as usize;
const UPD: usize = Cmd::Upd as usize;

/// Earliest cycle of each command kind; padded to eight so an index
/// masked with `& 7` needs no bounds check in the decision scan.
type NextAt = [u64; 8];

/// Bank and bank-group tables are this long whatever the configuration
/// (validation caps banks per channel at 64, groups at 16): indices masked
/// to the length need no bounds check.
const MAX_BANKS: usize = 64;
const MAX_GROUPS: usize = 16;

#[inline]
fn hold(n: &mut NextAt, k: usize, t: u64) {
    n[k] = n[k].max(t);
}

#[derive(Debug, Clone)]
struct Bank {
    open_row: u32,
    /// `next[UPD]` is derived: an update's read may go `upd_read_to_write`
    /// ahead of the bank's write constraint.
    next: NextAt,
}

/// A queued request with its decoded coordinates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub addr: u64,
    pub tag: u64,
    pub arrive: u64,
    /// First cycle a command may issue for it (arrival + frontend latency).
    pub ready: u64,
    pub age: u64,
    pub row: u32,
    pub bank: u16,
    pub group: u8,
    pub op: Op,
    pub stream: Stream,
    /// Bursts to consecutive columns of the row (a run served as one).
    pub bursts: u8,
    /// Whether its row hit/miss/conflict has been counted.
    pub classified: bool,
}

/// What a channel counts itself when no caller reads its served requests
/// (trace replay): counting at issue saves handing every request to the
/// memory system only to be counted there.
#[derive(Debug, Clone)]
pub(crate) struct LocalCounts {
    /// Per-stream counts and read latencies (no channel entries).
    pub stats: MemStats,
    /// Latest completion cycle.
    pub last_done: u64,
}

impl LocalCounts {
    pub fn new() -> LocalCounts {
        LocalCounts {
            stats: MemStats::new(0),
            last_done: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Cmd {
    Act,
    Pre,
    Rd,
    Wr,
    Upd,
}

/// A bank's cached choice: which request and which command, and the part
/// of its ready time that only this bank decides. The choice depends only
/// on the bank's queue and open row, and the bank's own timing changes only
/// when it issues (or a refresh holds it), all of which drop the entry; so
/// it survives the timing changes every command makes to the bank group
/// and channel, which are added at each decision.
#[derive(Debug, Clone, Copy)]
struct Cached {
    slot: u16,
    cmd: Cmd,
    /// The command's cell in the flattened bank-group table
    /// (`group * 8 + cmd`).
    group_cell: u8,
    /// The later of the request's own earliest cycle (arrival + frontend
    /// latency) and the bank's constraint on the command.
    local: u64,
    /// Scheduler key under [`Grant::Both`] (the unranked decision's).
    key_both: u64,
}

/// Per queue, per class slot (any, compute, comm), per bank.
type ChoiceCache = [[[Option<Cached>; 64]; 3]; 2];

/// One bank's best request (per stream class when the arbiter ranks
/// streams) and the earliest cycle its next command can issue.
#[derive(Debug, Clone, Copy)]
struct Offer {
    at: u64,
    cmd: Cmd,
    slot: u16,
    cand: Candidate,
    key_both: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// Command for the request in slab slot `slot`.
    Request {
        slot: u16,
        cmd: Cmd,
    },
    /// Precharge all banks ahead of a refresh.
    PrechargeAll,
    Refresh,
}

/// A served request, as the memory system sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Served {
    pub addr: u64,
    pub tag: u64,
    pub op: Op,
    pub stream: Stream,
    pub arrive: u64,
    /// Cycle the column command issued (DRAM order of data effects).
    pub issue: u64,
    pub done: u64,
    pub bursts: u8,
    pub channel: u32,
}

/// Controller configuration resolved from [`crate::config::MemConfig`].
#[derive(Debug, Clone)]
pub(crate) struct ChannelParams {
    /// This channel's index in its memory system.
    pub id: u32,
    pub timing: Timing,
    pub bank_groups: u32,
    pub banks_per_group: u32,
    pub read_cap: usize,
    pub write_cap: usize,
    pub write_high: usize,
    pub write_low: usize,
    pub refresh: bool,
    pub closed_page: bool,
    pub frontend_latency: u64,
    pub access_bytes: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    p: ChannelParams,
    /// `banks[..self.bank_count()]` are this channel's banks.
    banks: Box<[Bank; MAX_BANKS]>,
    /// Each bank group's constraints (`[PRE]` stays 0 and `[UPD]` mirrors
    /// `[RD]`).
    groups: Box<[NextAt; MAX_GROUPS]>,
    /// ACT spacing (tRRD_S) alone; `ch_next[ACT]` adds tFAW.
    ch_next_act: u64,
    /// Channel-wide constraints; `next[PRE]` stays 0 and `next[UPD]`
    /// mirrors `next[WR]` (the operand crosses the bus like write data).
    ch_next: NextAt,
    faw: [u64; 4],
    faw_pos: usize,
    /// Queued requests; `lists` index into it.
    slab: Vec<Entry>,
    free: Vec<u16>,
    /// Per queue (0 read, 1 write/update), per bank: slab indices and
    /// rows, oldest first.
    lists: Box<[[BankQueue; MAX_BANKS]; 2]>,
    /// Per queue: banks with requests (bit per bank).
    nonempty: [u64; 2],
    len: [usize; 2],
    draining: bool,
    refresh_due: u64,
    /// No command before this cycle (one command per cycle, and decisions
    /// never go back before the last event).
    floor: u64,
    compute_queued: u32,
    comm_queued: u32,
    /// Cycle from which communication has waited (queued or held) without
    /// a column command served: the starvation clock.
    comm_since: u64,
    /// Communication has been refused admission and not yet admitted.
    comm_held: bool,
    /// Arbitration events for the co-simulation, when enabled.
    pub(crate) arb_log: Option<Vec<ArbEvent>>,
    /// Arbiter inputs and grant of the pending ranked decision.
    decision_arb: (ArbInputs, Grant),
    next_age: u64,
    arbiter: Box<dyn ArbitrationPolicy>,
    scheduler: Box<dyn Scheduler>,
    /// The pending decision's command, issued at `decision_at`. Kept as
    /// two fields: a copy of the pair as one value went through the stack
    /// piecewise and stalled store forwarding on every command.
    decision: Option<Choice>,
    decision_at: u64,
    /// Scheduler key of the pending request decision.
    decision_key: u64,
    /// Cycles the pending decision waits only because the arbiter holds
    /// communication back; counted when it issues, so the statistic does
    /// not depend on how often a decision was recomputed.
    decision_stall: u64,
    dirty: bool,
    /// Constant properties of the policies, read once.
    ranked: bool,
    hit_first: bool,
    /// Occupancy clock: the last cycle the queue was accounted at.
    occ_last: u64,
    /// Per class (compute, comm): exit minus entry occupancy-clock cycles
    /// summed over requests (see [`Channel::sync_occupancy`]).
    occ_sum: [u64; 2],
    scratch: Vec<Offer>,
    /// Per queue, per class slot (any, compute, comm), per bank: the cached
    /// [`Channel::bank_choice`], valid where the bit is set.
    cache: Box<ChoiceCache>,
    cache_valid: [[u64; 3]; 2],
    pub stats: ChannelStats,
    /// When set, served requests are counted here instead of handed out.
    pub(crate) local: Option<Box<LocalCounts>>,
}

/// Forgets a bank's cached choices (its queue or open row changed).
#[inline]
fn invalidate(valid: &mut [[u64; 3]; 2], bank: usize) {
    let keep = !(1u64 << bank);
    for q in valid.iter_mut() {
        for c in q.iter_mut() {
            *c &= keep;
        }
    }
}

/// Index of a class in the per-class caches: any, compute, comm.
#[inline]
fn class_slot(class: Option<StreamClass>) -> usize {
    match class {
        None => 0,
        Some(StreamClass::Compute) => 1,
        Some(StreamClass::Comm) => 2,
    }
}

#[inline]
fn max3(a: u64, b: u64, c: u64) -> u64 {
    a.max(b).max(c)
}

impl Channel {
    pub fn new(
        p: ChannelParams,
        arbiter: Box<dyn ArbitrationPolicy>,
        scheduler: Box<dyn Scheduler>,
    ) -> Channel {
        let nb = (p.bank_groups * p.banks_per_group) as usize;
        let ranked = arbiter.distinguishes_streams();
        let hit_first = scheduler.prefers_row_hits();
        let bank = Bank {
            open_row: NO_ROW,
            next: [0; 8],
        };
        let faw_first = p.timing.faw;
        Channel {
            banks: Box::new(std::array::from_fn(|_| bank.clone())),
            groups: Box::new([[0; 8]; MAX_GROUPS]),
            ch_next_act: 0,
            ch_next: [faw_first, 0, 0, 0, 0, 0, 0, 0],
            // Four ACTs "long ago" so the first four are not held by tFAW.
            faw: [0; 4],
            faw_pos: 0,
            slab: Vec::with_capacity(p.read_cap + p.write_cap),
            free: Vec::new(),
            lists: Box::new(std::array::from_fn(|_| {
                std::array::from_fn(|_| BankQueue::default())
            })),
            nonempty: [0, 0],
            len: [0, 0],
            draining: false,
            refresh_due: if p.refresh { p.timing.refi } else { u64::MAX },
            floor: 0,
            compute_queued: 0,
            comm_queued: 0,
            comm_since: 0,
            comm_held: false,
            arb_log: None,
            decision_arb: (ArbInputs::default(), Grant::Both),
            next_age: 0,
            arbiter,
            scheduler,
            decision: None,
            decision_at: 0,
            decision_key: 0,
            decision_stall: 0,
            dirty: true,
            ranked,
            hit_first,
            occ_last: 0,
            occ_sum: [0; 2],
            scratch: Vec::with_capacity(2 * nb),
            cache: Box::new([[[None; 64]; 3]; 2]),
            cache_valid: [[0; 3]; 2],
            stats: ChannelStats::default(),
            local: None,
            p,
        }
    }

    #[inline]
    fn bank_count(&self) -> usize {
        (self.p.bank_groups * self.p.banks_per_group) as usize
    }

    pub fn arbiter_mut(&mut self) -> &mut dyn ArbitrationPolicy {
        self.dirty = true;
        self.arbiter.as_mut()
    }

    #[inline]
    fn key(&self, grant: Grant, c: &Candidate) -> u64 {
        priority_key(grant, self.hit_first, c)
    }

    pub fn arbiter(&self) -> &dyn ArbitrationPolicy {
        self.arbiter.as_ref()
    }

    #[inline]
    pub fn can_accept(&self, op: Op) -> bool {
        match op {
            Op::Read => self.len[0] < self.p.read_cap,
            Op::Write | Op::Update => self.len[1] < self.p.write_cap,
        }
    }

    /// Whether a request of `class` may enter the queue at `now`. Compute
    /// always may (space permitting). Under a stream-ranking policy,
    /// communication enters only while the arbiter would let it issue:
    /// t3-mca keeps it out while the compute requests queued are at or
    /// above the threshold and compute is waiting, and while as many
    /// communication requests as the threshold are already queued, until it
    /// has been held for the starvation limit. A refusal starts the
    /// starvation clock.
    #[inline]
    pub fn admits(&mut self, now: u64, op: Op, class: StreamClass) -> bool {
        if !self.can_accept(op) {
            return false;
        }
        if class == StreamClass::Compute || !self.ranked {
            return true;
        }
        self.admits_comm(now)
    }

    /// [`Self::admits`] for communication under a stream-ranking policy.
    #[inline(never)]
    fn admits_comm(&mut self, now: u64) -> bool {
        // The arbiter cannot act in a cycle whose command already issued.
        let now = now.max(self.floor);
        let waiting = self.comm_waiting();
        let inputs = ArbInputs {
            compute_waiting: self.compute_queued > 0,
            comm_waiting: true,
            compute_occupancy: self.compute_queued,
            starve_cycles: if waiting {
                now.saturating_sub(self.comm_since)
            } else {
                0
            },
        };
        let g = self.arbiter.grant(&inputs);
        if let Some(log) = &mut self.arb_log {
            log.push(ArbEvent::Admission {
                cycle: now,
                inputs,
                threshold: self.arbiter.threshold().unwrap_or(0),
                grant: g,
            });
        }
        // The grant compares compute requests only, so a short compute
        // queue would let a whole backlog of communication in at once; it
        // then holds the slots the next compute burst needs while the
        // policy holds it back (a priority inversion that made t3-mca slow
        // the GEMM). Queued communication is kept to the threshold, unless
        // starving; a request refused for that waits at the door like one
        // the grant holds back.
        let flood = g != Grant::CommFirst
            && self
                .arbiter
                .threshold()
                .is_some_and(|t| self.comm_queued >= t);
        if g != Grant::ComputeOnly && !flood {
            // `comm_held` stays until the request is queued (`enqueue`), so
            // its wait carries over into the queue.
            return true;
        }
        if !waiting {
            self.comm_since = now;
            // The pending decision's grant saw no communication waiting.
            self.dirty = true;
            if let Some(log) = &mut self.arb_log {
                log.push(ArbEvent::CommWaits { cycle: now });
            }
        }
        self.comm_held = true;
        false
    }

    /// A communication request is queued here or held at the door.
    #[inline]
    fn comm_waiting(&self) -> bool {
        self.comm_queued > 0 || self.comm_held
    }

    /// No command issues before this cycle.
    #[inline]
    pub fn floor(&self) -> u64 {
        self.floor
    }

    pub fn queued(&self) -> usize {
        self.len[0] + self.len[1]
    }

    pub fn is_idle(&self) -> bool {
        self.len[0] == 0 && self.len[1] == 0
    }

    #[inline]
    fn active(&self) -> usize {
        self.draining as usize
    }

    /// Moves the occupancy clock to `now` (it never goes back); returns it.
    #[inline]
    fn account_occupancy(&mut self, now: u64) -> u64 {
        self.occ_last = self.occ_last.max(now);
        self.occ_last
    }

    /// Writes the occupancy integrals up to the occupancy clock into the
    /// stats. The integral of the queued count is what each request adds
    /// from entry to exit on that clock, so the per-class sums of exit
    /// minus entry cycles plus the queued requests' time so far give it
    /// exactly, without a multiply per request (wrapping: the sums are
    /// differences of cycle counts, the totals never negative).
    fn sync_occupancy(&mut self) {
        let now = self.occ_last;
        self.stats.occupancy_compute_cycles =
            self.occ_sum[0].wrapping_add(self.compute_queued as u64 * now);
        self.stats.occupancy_comm_cycles =
            self.occ_sum[1].wrapping_add(self.comm_queued as u64 * now);
    }

    /// Queues a request arriving at `now` (caller checked `can_accept`).
    /// `row`, `bank` (index within the channel) and `group` are decoded.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue(
        &mut self,
        now: u64,
        addr: u64,
        tag: u64,
        op: Op,
        stream: Stream,
        row: u32,
        bank: u16,
        group: u8,
        bursts: u8,
    ) {
        let entered = self.account_occupancy(now);
        let e = Entry {
            addr,
            tag,
            arrive: now,
            ready: now + self.p.frontend_latency,
            age: self.next_age,
            row,
            bank,
            group,
            op,
            stream,
            bursts: bursts.max(1),
            classified: false,
        };
        self.next_age += 1;
        let class = stream.class();
        let sum = &mut self.occ_sum[(class == StreamClass::Comm) as usize];
        *sum = sum.wrapping_sub(entered);
        match class {
            StreamClass::Compute => self.compute_queued += 1,
            StreamClass::Comm => {
                if !self.comm_waiting() {
                    let t = now.max(self.floor);
                    self.comm_since = t;
                    if let Some(log) = &mut self.arb_log {
                        log.push(ArbEvent::CommWaits { cycle: t });
                    }
                }
                self.comm_held = false;
                self.comm_queued += 1;
            }
        }
        let q = (op != Op::Read) as usize;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = e;
                i
            }
            None => {
                self.slab.push(e);
                (self.slab.len() - 1) as u16
            }
        };
        let b = bank as usize;
        let was_empty = self.lists[q & 1][b % MAX_BANKS].is_empty();
        self.lists[q & 1][b % MAX_BANKS].push(slot, row);
        // A request queued at the tail leaves the bank's any-class choice
        // as it was, except when it is the first hit behind a head that
        // needed a precharge.
        let bit = 1u64 << b;
        let keep_any = !was_empty
            && self.cache_valid[q][0] & bit != 0
            && self.cache[q][0][b].is_some_and(|c| {
                !(c.cmd == Cmd::Pre && self.hit_first && row == self.banks[b].open_row)
            });
        let v = &mut self.cache_valid[q];
        v[1] &= !bit;
        v[2] &= !bit;
        if !keep_any {
            v[0] &= !bit;
        }
        self.nonempty[q] |= 1 << bank;
        self.len[q] += 1;
        self.floor = self.floor.max(now);
        let mode = self.draining;
        // A read arriving outside a drain cannot start one: the mode was
        // settled with the same writes and fewer reads.
        if q == 1 || self.draining {
            self.update_mode();
        }
        if self.dirty || self.ranked || mode != self.draining {
            self.dirty = true;
            return;
        }
        // Without stream ranking a new request changes only its own bank's
        // offer. In another bank it can only improve on the pending
        // decision; in the decision's own bank it may change the bank's
        // choice (a new hit replaces a precharge), and only then is a full
        // decision needed. The floor never passes a pending decision, so
        // raising it to `now` changes no offer that could win.
        let (at, slot, cmd) = match self.decision {
            Some(Choice::Request { slot, cmd }) => (self.decision_at, slot, cmd),
            _ => {
                self.dirty = true;
                return;
            }
        };
        if q != self.active() || keep_any {
            // The decision reads only the active queue, and weighed this
            // bank's choice, which the request left as it was.
            return;
        }
        if self.slab[slot as usize].bank == bank {
            // A request behind the one chosen usually leaves the bank's
            // choice as it was, and then the decision stands.
            let same = self
                .bank_choice(q, bank as usize, None)
                .is_some_and(|c| c.slot == slot && c.cmd == cmd);
            if !same {
                self.dirty = true;
            }
            return;
        }
        if let Some(o) = self.bank_offer(q, bank as usize, None) {
            let k = o.key_both;
            let better = o.at < at || (o.at == at && k > self.decision_key);
            if better {
                if self.p.refresh && self.refresh_due <= o.at {
                    self.dirty = true;
                } else {
                    self.decision_key = k;
                    self.decision_at = o.at;
                    self.decision = Some(Choice::Request {
                        slot: o.slot,
                        cmd: o.cmd,
                    });
                }
            }
        }
    }

    fn update_mode(&mut self) {
        let (r, w) = (self.len[0], self.len[1]);
        if self.draining {
            if w == 0 || (w <= self.p.write_low && r > 0) {
                self.draining = false;
            }
        } else if w >= self.p.write_high || (r == 0 && w > 0) {
            self.draining = true;
        }
    }

    /// Cycle of the next command, if any (refresh counts).
    #[inline]
    pub fn next_time(&mut self) -> Option<u64> {
        if self.dirty {
            self.decide();
            self.dirty = false;
        }
        self.decision.map(|_| self.decision_at)
    }

    fn refresh_choice(&self) -> (u64, Choice) {
        let base = self.floor.max(self.refresh_due);
        let mut any_open = false;
        let mut pre_t = base;
        let mut act_t = base;
        for b in &self.banks[..self.bank_count()] {
            if b.open_row != NO_ROW {
                any_open = true;
                pre_t = pre_t.max(b.next[PRE]);
            }
            act_t = act_t.max(b.next[ACT]);
        }
        if any_open {
            (pre_t, Choice::PrechargeAll)
        } else {
            (act_t, Choice::Refresh)
        }
    }

    /// Which request of one bank's queue (of `class`, if given) goes next
    /// and with which command: cached per bank until the bank's queue or
    /// open row changes, since only timing changes between those events.
    #[inline]
    fn bank_choice(&mut self, q: usize, bank: usize, class: Option<StreamClass>) -> Option<Cached> {
        let ci = class_slot(class);
        if self.cache_valid[q][ci] & (1u64 << bank) == 0 {
            self.fill_choice(q, ci, bank, class);
        }
        self.cache[q][ci][bank]
    }

    /// Recomputes the any-class choice of every bank in `banks` whose entry
    /// is stale: the unranked decision's, inlined there (one bank per
    /// command issued).
    #[inline(always)]
    fn fill_any_choices(&mut self, q: usize, banks: u64) {
        let q = q & 1;
        let mut stale = banks & !self.cache_valid[q][0];
        while stale != 0 {
            let bank = stale.trailing_zeros() as usize;
            stale &= stale - 1;
            let c = self
                .compute_any_choice(q, bank)
                .map(|(slot, cmd)| self.cached(slot, cmd));
            self.cache[q][0][bank] = c;
            self.cache_valid[q][0] |= 1u64 << bank;
        }
    }

    #[inline(never)]
    fn fill_choice(&mut self, q: usize, ci: usize, bank: usize, class: Option<StreamClass>) {
        let c = self
            .compute_bank_choice(q, bank, class)
            .map(|(slot, cmd)| self.cached(slot, cmd));
        self.cache[q][ci][bank] = c;
        self.cache_valid[q][ci] |= 1u64 << bank;
    }

    fn compute_bank_choice(
        &self,
        q: usize,
        bank: usize,
        class: Option<StreamClass>,
    ) -> Option<(u16, Cmd)> {
        let Some(class) = class else {
            return self.compute_any_choice(q, bank);
        };
        let list = self.lists[q & 1][bank % MAX_BANKS].as_slice();
        let open = self.banks[bank].open_row;
        let of_class = |s: &(u16, u32)| self.slab[s.0 as usize].stream.class() == class;
        let &(head, head_row) = list.iter().find(|s| of_class(s))?;
        // Ranking the streams must not reorder accesses to one line (one
        // burst): a request waits while an older one (of the other stream)
        // to the same line is queued.
        let blocked = |slot: u16| {
            let line = self.slab[slot as usize].addr / self.p.access_bytes;
            list.iter()
                .take_while(|s| s.0 != slot)
                .any(|s| self.slab[s.0 as usize].addr / self.p.access_bytes == line)
        };
        let choice = if open == NO_ROW {
            (head, Cmd::Act)
        } else if head_row == open {
            (head, Cmd::Rd)
        } else if self.hit_first {
            match list.iter().find(|s| s.1 == open && of_class(s)) {
                Some(&(s, _)) => (s, Cmd::Rd),
                None => {
                    // Keep the row open while queued requests of the other
                    // class still hit it.
                    if list.iter().any(|s| s.1 == open) {
                        return None;
                    }
                    (head, Cmd::Pre)
                }
            }
        } else {
            (head, Cmd::Pre)
        };
        if blocked(choice.0) {
            return None;
        }
        Some(choice)
    }

    /// [`Self::compute_bank_choice`] over both classes, the choice of every
    /// decision without stream ranking (one per command issued): no class
    /// filter and no same-line check, as no ranking can reorder the queue.
    #[inline]
    fn compute_any_choice(&self, q: usize, bank: usize) -> Option<(u16, Cmd)> {
        let list = self.lists[q & 1][bank % MAX_BANKS].as_slice();
        let &(head, head_row) = list.first()?;
        let open = self.banks[bank % MAX_BANKS].open_row;
        Some(if open == NO_ROW {
            (head, Cmd::Act)
        } else if head_row == open {
            (head, Cmd::Rd)
        } else if self.hit_first {
            match list.iter().find(|s| s.1 == open) {
                Some(&(s, _)) => (s, Cmd::Rd),
                None => (head, Cmd::Pre),
            }
        } else {
            (head, Cmd::Pre)
        })
    }

    /// How the scheduler sees a queued request whose next command is `cmd`.
    #[inline]
    fn candidate(e: &Entry, cmd: Cmd) -> Candidate {
        Candidate {
            row_hit: matches!(cmd, Cmd::Rd | Cmd::Wr | Cmd::Upd),
            age: e.age,
            class: e.stream.class(),
        }
    }

    /// A chosen request with its command resolved by the request's op.
    #[inline]
    fn cached(&self, slot: u16, cmd: Cmd) -> Cached {
        let e = &self.slab[slot as usize];
        let cmd = match cmd {
            Cmd::Act | Cmd::Pre => cmd,
            _ => match e.op {
                Op::Read => Cmd::Rd,
                Op::Write => Cmd::Wr,
                Op::Update => Cmd::Upd,
            },
        };
        let cand = Self::candidate(e, cmd);
        Cached {
            slot,
            cmd,
            group_cell: (e.group as usize % MAX_GROUPS * 8 + (cmd as usize & 7)) as u8,
            local: self.banks[e.bank as usize % MAX_BANKS].next[cmd as usize & 7].max(e.ready),
            key_both: self.key(Grant::Both, &cand),
        }
    }

    /// A cached choice's ready time without the channel's constraints:
    /// the bank's part with the bank group's, from the current timing.
    #[inline]
    fn local_at(&self, c: &Cached) -> u64 {
        let cells = self.groups.as_flattened();
        c.local.max(cells[c.group_cell as usize % (MAX_GROUPS * 8)])
    }

    /// Channel-wide constraints on a command kind.
    #[inline]
    fn channel_at(&self, cmd: Cmd) -> u64 {
        self.ch_next[cmd as usize & 7]
    }

    #[inline]
    fn bank_offer(&mut self, q: usize, bank: usize, class: Option<StreamClass>) -> Option<Offer> {
        let c = self.bank_choice(q, bank, class)?;
        Some(Offer {
            at: max3(self.local_at(&c), self.channel_at(c.cmd), self.floor),
            cmd: c.cmd,
            slot: c.slot,
            cand: Self::candidate(&self.slab[c.slot as usize], c.cmd),
            key_both: c.key_both,
        })
    }

    /// Whether a due refresh goes before `cmd` at `at`. A column command to
    /// a row already open goes first (the refresh is postponed, as JEDEC
    /// allows up to eight times), so a row opened for a request is used
    /// before the refresh closes it: without this, timings where refresh
    /// comes round faster than ACT + write recovery livelock.
    #[inline]
    fn refresh_first(&self, at: u64, cmd: Cmd) -> bool {
        if !self.p.refresh || self.refresh_due > at {
            return false;
        }
        let column = matches!(cmd, Cmd::Rd | Cmd::Wr | Cmd::Upd);
        !column || at >= self.refresh_due + 8 * self.p.timing.refi
    }

    /// Without stream arbitration the decision is the earliest offer, ties
    /// going to the scheduler's favourite: one pass, nothing stored.
    fn decide_unranked(&mut self, q: usize) {
        self.fill_any_choices(q, self.nonempty[q]);
        let ch_at = &self.ch_next;
        let floor = self.floor;
        // Earliest first, then the largest key: one u128 minimum.
        let mut best = u128::MAX;
        let mut best_bank = 0;
        let mut banks = self.nonempty[q];
        let cache = &self.cache[q][0];
        while banks != 0 {
            let bank = banks.trailing_zeros() as usize;
            banks &= banks - 1;
            let Some(c) = &cache[bank] else {
                continue;
            };
            let at = max3(self.local_at(c), ch_at[c.cmd as usize & 7], floor);
            let score = ((at as u128) << 64) | !c.key_both as u128;
            if score < best {
                (best, best_bank) = (score, bank);
            }
        }
        let Some(c) = cache[best_bank].filter(|_| best != u128::MAX) else {
            self.decision = None;
            return;
        };
        let at = (best >> 64) as u64;
        if self.refresh_first(at, c.cmd) {
            self.set_decision(Some(self.refresh_choice()));
            return;
        }
        self.decision_key = c.key_both;
        // Stored field by field, not returned: a returned pair reached the
        // fields through a stack copy whose loads straddled its stores,
        // stalling store forwarding on every command.
        self.decision_at = at;
        self.decision = Some(Choice::Request {
            slot: c.slot,
            cmd: c.cmd,
        });
    }

    /// Makes the pending decision.
    fn decide(&mut self) {
        let q = self.active();
        if self.len[q] == 0 {
            self.set_decision(self.p.refresh.then(|| self.refresh_choice()));
        } else if !self.ranked {
            self.decide_unranked(q);
        } else {
            let d = self.decide_ranked(q);
            self.set_decision(d);
        }
    }

    #[inline]
    fn set_decision(&mut self, d: Option<(u64, Choice)>) {
        self.decision = d.map(|(at, choice)| {
            self.decision_at = at;
            choice
        });
    }

    /// The decision under a stream-ranking arbiter: each bank's best offer
    /// per class, the arbiter's grant, then the scheduler's favourite.
    #[inline(never)]
    fn decide_ranked(&mut self, q: usize) -> Option<(u64, Choice)> {
        // Pass 1: each bank's offer, one per stream class.
        let mut offers = std::mem::take(&mut self.scratch);
        offers.clear();
        let mut banks = self.nonempty[q];
        while banks != 0 {
            let bank = banks.trailing_zeros() as usize;
            banks &= banks - 1;
            for c in [StreamClass::Compute, StreamClass::Comm] {
                if let Some(o) = self.bank_offer(q, bank, Some(c)) {
                    offers.push(o);
                }
            }
        }
        let mut t_all = u64::MAX;
        let mut t_compute = u64::MAX;
        let mut compute_active = false;
        for o in &offers {
            t_all = t_all.min(o.at);
            if o.cand.class == StreamClass::Compute {
                compute_active = true;
                t_compute = t_compute.min(o.at);
            }
        }
        if offers.is_empty() {
            self.scratch = offers;
            // Unreachable: some bank always offers. Kept total.
            return Some(self.refresh_choice());
        }
        // The arbiter sees what it can choose from (the active queue) and
        // the compute requests queued at the controller.
        let compute_occupancy = self.compute_queued;
        let comm_since = self.comm_since;
        // Communication waiting in the inactive queue or at the door counts
        // as waiting too (one definition with admission and the RTL); with
        // no communication offer the grant cannot change the choice.
        let comm_waiting = self.comm_waiting();
        let arb_in = |at: u64| ArbInputs {
            compute_waiting: compute_active,
            comm_waiting,
            compute_occupancy,
            starve_cycles: if comm_waiting {
                at.saturating_sub(comm_since)
            } else {
                0
            },
        };
        let mut at = t_all;
        let mut stall = 0;
        let mut grant = self.arbiter.grant(&arb_in(at));
        if grant == Grant::ComputeOnly {
            // Comm is held back: decide at the first compute command or at
            // the cycle starvation forces comm through, whichever is first.
            // For a fixed queue the grant only relaxes as time passes, so
            // the flip is found by bisection.
            let mut next = t_compute;
            let hi0 = t_compute.min(at.saturating_add(1 << 40));
            if self.arbiter.grant(&arb_in(hi0)) != Grant::ComputeOnly {
                let (mut lo, mut hi) = (at, hi0);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if self.arbiter.grant(&arb_in(mid)) == Grant::ComputeOnly {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                next = next.min(lo);
            }
            stall = next - at;
            at = next;
            grant = self.arbiter.grant(&arb_in(at));
        }
        // Pass 2: among eligible offers ready at `at`, the scheduler's
        // favourite.
        let mut best: Option<(u64, &Offer)> = None;
        for o in &offers {
            if o.at > at || (grant == Grant::ComputeOnly && o.cand.class == StreamClass::Comm) {
                continue;
            }
            let k = self.key(grant, &o.cand);
            if best.is_none_or(|(bk, _)| k > bk) {
                best = Some((k, o));
            }
        }
        let choice = best.map(|(k, o)| {
            self.decision_key = k;
            Choice::Request {
                slot: o.slot,
                cmd: o.cmd,
            }
        });
        self.scratch = offers;
        let choice = choice?;
        let Choice::Request { cmd, .. } = choice else {
            unreachable!("requests only")
        };
        if self.refresh_first(at, cmd) {
            return Some(self.refresh_choice());
        }
        self.decision_stall = stall;
        self.decision_arb = (arb_in(at), grant);
        Some((at, choice))
    }

    /// Issues the pending decision. Returns its cycle; a served request is
    /// pushed to `out`.
    pub fn issue(&mut self, out: &mut Vec<Served>) -> Option<u64> {
        self.next_time()?;
        self.issue_decided(out)
    }

    /// [`Self::issue`] once the decision is made.
    #[inline(always)]
    fn issue_decided(&mut self, out: &mut Vec<Served>) -> Option<u64> {
        let choice = self.decision.take()?;
        let at = self.decision_at;
        self.dirty = true;
        self.account_occupancy(at);
        self.floor = at + 1;
        self.stats.last_cycle = at;
        match choice {
            Choice::PrechargeAll => {
                let trp = self.p.timing.pre_to_act;
                let nb = self.bank_count();
                for b in &mut self.banks[..nb] {
                    if b.open_row != NO_ROW {
                        b.open_row = NO_ROW;
                        hold(&mut b.next, ACT, at + trp);
                        self.stats.precharges += 1;
                    }
                }
                self.cache_valid = [[0; 3]; 2];
            }
            Choice::Refresh => {
                let rfc = self.p.timing.rfc;
                let nb = self.bank_count();
                for b in &mut self.banks[..nb] {
                    hold(&mut b.next, ACT, at + rfc);
                }
                self.stats.refreshes += 1;
                self.refresh_due += self.p.timing.refi;
                // Every bank's timing changed.
                self.cache_valid = [[0; 3]; 2];
            }
            Choice::Request { slot, cmd } => {
                if self.ranked {
                    self.stats.arb_stall_cycles += self.decision_stall;
                }
                let log = self.ranked && self.arb_log.is_some();
                let comm = log && self.slab[slot as usize].stream.class() == StreamClass::Comm;
                self.issue_request(at, slot, cmd, out);
                if log {
                    self.log_decision(at, comm && !matches!(cmd, Cmd::Act | Cmd::Pre));
                }
            }
        }
        Some(at)
    }

    /// Issues every command decided before `until`; returns the cycle of
    /// the next one, if any.
    #[inline(never)]
    pub fn issue_before(&mut self, until: u64, out: &mut Vec<Served>) -> Option<u64> {
        loop {
            let t = self.next_time()?;
            if t >= until {
                return Some(t);
            }
            self.issue_decided(out);
        }
    }

    fn log_decision(&mut self, at: u64, comm_served: bool) {
        let waiting = self.comm_waiting();
        if let Some(log) = &mut self.arb_log {
            let (inputs, grant) = self.decision_arb;
            log.push(ArbEvent::Decision {
                cycle: at,
                inputs,
                threshold: self.arbiter.threshold().unwrap_or(0),
                grant,
                comm_served,
                comm_waiting_after: waiting,
            });
        }
    }

    #[inline(always)]
    fn issue_request(&mut self, at: u64, slot: u16, cmd: Cmd, out: &mut Vec<Served>) {
        let t = &self.p.timing;
        let e = &mut self.slab[slot as usize];
        let bi = e.bank as usize;
        let gi = e.group as usize;
        if !e.classified {
            e.classified = true;
            match cmd {
                Cmd::Act => self.stats.row_misses += 1,
                Cmd::Pre => self.stats.row_conflicts += 1,
                _ => self.stats.row_hits += 1,
            }
        }
        // A run of bursts issues back to back at the bank-group column
        // spacing; the constraints that follow count from the last one.
        let extra = e.bursts.saturating_sub(1) as u64;
        let last = at
            + extra
                * match cmd {
                    Cmd::Rd => t.rd_to_rd_l,
                    Cmd::Wr => t.wr_to_wr_l,
                    Cmd::Upd => t.upd_to_rd_l,
                    _ => 0,
                };
        let b = &mut self.banks[bi % MAX_BANKS];
        let g = &mut self.groups[gi % MAX_GROUPS];
        match cmd {
            Cmd::Act => {
                b.open_row = e.row;
                hold(&mut b.next, RD, at + t.act_to_rd);
                hold(&mut b.next, WR, at + t.act_to_wr);
                hold(&mut b.next, PRE, at + t.act_to_pre);
                hold(&mut b.next, ACT, at + t.act_to_act_same_bank);
                hold(g, ACT, at + t.rrd_l);
                self.ch_next_act = self.ch_next_act.max(at + t.rrd_s);
                self.faw[self.faw_pos] = at;
                self.faw_pos = (self.faw_pos + 1) % 4;
                self.ch_next[ACT] = self.ch_next_act.max(self.faw[self.faw_pos] + t.faw);
                b.next[UPD] = b.next[RD].max(b.next[WR].saturating_sub(t.upd_read_to_write));
                self.stats.activates += 1;
                invalidate(&mut self.cache_valid, bi);
                return;
            }
            Cmd::Pre => {
                b.open_row = NO_ROW;
                hold(&mut b.next, ACT, at + t.pre_to_act);
                self.stats.precharges += 1;
                invalidate(&mut self.cache_valid, bi);
                return;
            }
            Cmd::Rd => {
                hold(&mut b.next, PRE, last + t.rd_to_pre);
                hold(g, RD, last + t.rd_to_rd_l);
                hold(g, WR, last + t.rd_to_wr);
                hold(&mut self.ch_next, RD, last + t.rd_to_rd_s);
                hold(&mut self.ch_next, WR, last + t.rd_to_wr);
                self.stats.reads += 1 + extra;
            }
            Cmd::Wr => {
                hold(&mut b.next, PRE, last + t.wr_to_pre);
                hold(g, WR, last + t.wr_to_wr_l);
                hold(g, RD, last + t.wr_to_rd_l);
                hold(&mut self.ch_next, WR, last + t.wr_to_wr_s);
                hold(&mut self.ch_next, RD, last + t.wr_to_rd_s);
                self.stats.writes += 1 + extra;
            }
            Cmd::Upd => {
                hold(&mut b.next, PRE, last + t.upd_to_pre);
                hold(&mut b.next, WR, last + t.upd_to_col_l);
                hold(&mut b.next, RD, last + t.upd_to_rd_l);
                hold(g, WR, last + t.upd_to_col_l);
                hold(g, RD, last + t.upd_to_rd_l);
                // The operand crosses the bus like write data.
                hold(&mut self.ch_next, WR, last + t.wr_to_wr_s);
                hold(&mut self.ch_next, RD, last + t.wr_to_rd_s);
                self.stats.updates += 1 + extra;
            }
        }
        b.next[UPD] = b.next[RD].max(b.next[WR].saturating_sub(t.upd_read_to_write));
        g[UPD] = g[RD];
        self.ch_next[UPD] = self.ch_next[WR];
        // A column command serves the request.
        let e = self.slab[slot as usize];
        let q = (e.op != Op::Read) as usize;
        let list = &mut self.lists[q & 1][bi % MAX_BANKS];
        list.remove(slot);
        if list.is_empty() {
            self.nonempty[q] &= !(1 << bi);
        }
        // Both queues: the cached choices carry the bank's timing.
        invalidate(&mut self.cache_valid, bi);
        // The next decision needs this bank's new choice in this queue; the
        // common one (the new head hits the open row) is cheapest found
        // here, where the bank and its queue are at hand.
        if let Some(&(head, row)) = self.lists[q & 1][bi % MAX_BANKS].as_slice().first()
            && row == self.banks[bi % MAX_BANKS].open_row
        {
            self.cache[q & 1][0][bi % MAX_BANKS] = Some(self.cached(head, Cmd::Rd));
            self.cache_valid[q & 1][0] |= 1u64 << bi;
        }
        self.len[q] -= 1;
        self.free.push(slot);
        let done = last
            + match cmd {
                Cmd::Rd => t.cl + t.burst,
                Cmd::Wr => t.cwl + t.burst,
                _ => t.upd_done,
            };
        self.stats.bytes += self.p.access_bytes * (1 + extra);
        self.stats.bus_busy_cycles += t.burst * (1 + extra);
        // The run's later bursts find the row open.
        self.stats.row_hits += extra;
        let class = e.stream.class();
        let sum = &mut self.occ_sum[(class == StreamClass::Comm) as usize];
        *sum = sum.wrapping_add(self.occ_last);
        match class {
            StreamClass::Compute => self.compute_queued -= 1,
            StreamClass::Comm => {
                self.comm_queued -= 1;
                self.comm_since = at + 1;
            }
        }
        if self.p.closed_page {
            let still_hit = self.lists[q & 1][bi % MAX_BANKS]
                .as_slice()
                .iter()
                .any(|&(_, r)| r == e.row);
            if !still_hit {
                let b = &mut self.banks[bi];
                let pre_at = b.next[PRE].max(at);
                b.open_row = NO_ROW;
                invalidate(&mut self.cache_valid, bi);
                hold(&mut b.next, ACT, pre_at + t.pre_to_act);
                self.stats.precharges += 1;
            }
        }
        if let Some(l) = &mut self.local {
            let bytes = self.p.access_bytes * e.bursts as u64;
            l.stats.count_served(e.stream, bytes, at - e.arrive);
            l.stats.count_done(e.stream, e.op, done - e.arrive);
            l.last_done = l.last_done.max(done);
            self.update_mode();
            return;
        }
        out.push(Served {
            addr: e.addr,
            tag: e.tag,
            op: e.op,
            stream: e.stream,
            arrive: e.arrive,
            issue: at,
            done,
            bursts: e.bursts,
            channel: self.p.id,
        });
        self.update_mode();
    }

    /// Jumps an idle channel's refreshes due well before `until` in one
    /// step. With no request queued and every bank closed, each refresh
    /// issues exactly when due (tRFC < tREFI), so the state after `k` of
    /// them is known without issuing them one by one.
    pub fn skip_idle_refreshes(&mut self, until: u64) {
        let refi = self.p.timing.refi;
        if !self.p.refresh || !self.is_idle() || self.floor > self.refresh_due {
            return;
        }
        let Some(span) = until.checked_sub(self.refresh_due) else {
            return;
        };
        let k = (span / refi).saturating_sub(1);
        // Cheap tests first: most calls have no refresh to skip.
        if k == 0 {
            return;
        }
        let nb = self.bank_count();
        if self.banks[..nb]
            .iter()
            .any(|b| b.open_row != NO_ROW || b.next[ACT] > self.refresh_due)
        {
            return;
        }
        let last = self.refresh_due + (k - 1) * refi;
        self.account_occupancy(last);
        for b in &mut self.banks[..nb] {
            hold(&mut b.next, ACT, last + self.p.timing.rfc);
        }
        self.stats.refreshes += k;
        self.cache_valid = [[0; 3]; 2];
        self.stats.last_cycle = last;
        self.refresh_due += k * refi;
        self.floor = last + 1;
        self.dirty = true;
    }

    /// The occupancy integrals (compute, comm) up to `now`.
    pub fn occupancy_until(&mut self, now: u64) -> (u64, u64) {
        self.account_occupancy(now);
        self.sync_occupancy();
        (
            self.stats.occupancy_compute_cycles,
            self.stats.occupancy_comm_cycles,
        )
    }

    /// Closes the occupancy integral at `now` (end of run).
    pub fn finish(&mut self, now: u64) {
        self.account_occupancy(now);
        self.sync_occupancy();
    }

    /// A one-line state summary for deadlock reports.
    pub fn describe(&self) -> String {
        format!(
            "{} readq {}/{} writeq {}/{} draining {} compute {} comm {} refresh_due {} floor {}",
            self.scheduler.name(),
            self.len[0],
            self.p.read_cap,
            self.len[1],
            self.p.write_cap,
            self.draining,
            self.compute_queued,
            self.comm_queued,
            self.refresh_due,
            self.floor
        )
    }
}
