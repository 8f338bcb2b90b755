//! A device's memory system as the simulation uses it: requests grouped
//! into operations, each a countdown of outstanding requests and what to
//! do when it reaches zero ([`Then`]). A request's tag is its operation's
//! index, so a completion finds its operation in O(1) and no per-request
//! state is kept outside the controllers.

use super::event::Then;
use crate::engine::{Clock, Ps};
use crate::mem::{MemorySystem, Op as MemOp, Request, Stream};

/// Longest run of same-row bursts sent as one memory request.
const MAX_RUN: u64 = 4;

/// Bytes of one DRAM line the model moves per burst.
pub(super) const LINE: u64 = crate::gpu::gemm::LINE;

#[derive(Debug, Clone)]
struct Op {
    remaining: u64,
    done_at: Ps,
    then: Then,
}

/// One device's memory and its open operations.
#[derive(Clone)]
pub(super) struct MemPort {
    pub mem: MemorySystem,
    pub clk: Clock,
    wake_at: Option<Ps>,
    ops: Vec<Op>,
    free_ops: Vec<u32>,
}

impl MemPort {
    pub fn new(mem: MemorySystem, clk: Clock) -> MemPort {
        MemPort {
            mem,
            clk,
            wake_at: None,
            ops: Vec::new(),
            free_ops: Vec::new(),
        }
    }

    /// A new operation; [`Self::issue`] counts its requests in.
    pub fn open(&mut self, now: Ps, then: Then) -> u32 {
        let op = Op {
            remaining: 0,
            done_at: now,
            then,
        };
        match self.free_ops.pop() {
            Some(i) => {
                self.ops[i as usize] = op;
                i
            }
            None => {
                self.ops.push(op);
                (self.ops.len() - 1) as u32
            }
        }
    }

    /// Submits `bytes` of whole lines at `addr` for `op`, as runs of
    /// consecutive columns of one row (one request each). Returns a time
    /// the memory must be woken at, when it is earlier than the wake-up
    /// already due.
    pub fn issue(
        &mut self,
        now: Ps,
        op: u32,
        addr: u64,
        bytes: u64,
        kind: MemOp,
        stream: Stream,
    ) -> Option<Ps> {
        let cyc = self.clk.cycle_at(now);
        let lines = bytes.div_ceil(LINE);
        let mut i = 0;
        let mut requests = 0;
        while i < lines {
            let a = addr + i * LINE;
            let run = self.mem.run_len(a, (lines - i).min(MAX_RUN));
            let req = Request {
                addr: a,
                op: kind,
                stream,
                tag: op as u64,
            };
            // Addresses are laid out inside the capacity (checked when the
            // simulation is built).
            let _ = self.mem.submit_run(cyc, req, run as u8);
            i += run;
            requests += 1;
        }
        self.ops[op as usize].remaining += requests;
        self.arm(now, false)
    }

    /// Keeps `op` open until [`Self::release`].
    pub fn hold(&mut self, op: u32) {
        self.ops[op as usize].remaining += 1;
    }

    /// Undoes a [`Self::hold`]; true when that completed the operation
    /// (its requests were all done before).
    pub fn release(&mut self, op: u32) -> bool {
        let o = &mut self.ops[op as usize];
        o.remaining -= 1;
        o.remaining == 0
    }

    /// Frees a completed operation, returning what it was for.
    pub fn take(&mut self, op: u32) -> Then {
        self.free_ops.push(op);
        std::mem::replace(&mut self.ops[op as usize].then, Then::Fill { addr: 0 })
    }

    /// One request of `op` completed at `t`; returns when the operation is
    /// done if this was its last request.
    pub fn complete(&mut self, op: u32, t: Ps, now: Ps) -> Option<Ps> {
        let o = &mut self.ops[op as usize];
        o.remaining -= 1;
        o.done_at = o.done_at.max(t);
        (o.remaining == 0).then(|| o.done_at.max(now))
    }

    /// Moves the memory's wake-up earlier if its next command now comes
    /// sooner; returns the new wake-up time to schedule. `full`: ask every
    /// channel (the wake-up was just used); otherwise the wake-up is no
    /// later than every channel's next command as last asked, and only the
    /// channels touched since can bring it forward.
    pub fn arm(&mut self, now: Ps, full: bool) -> Option<Ps> {
        let next = if full {
            self.mem.next_busy_event()
        } else {
            self.mem.next_busy_event_touched()
        };
        let t = self.clk.time_of(next?).max(now);
        if self.wake_at.is_none_or(|w| t < w) {
            self.wake_at = Some(t);
            return Some(t);
        }
        None
    }

    /// True when the wake-up at `now` is the one due (stale ones are
    /// skipped); clears it.
    pub fn wake_due(&mut self, now: Ps) -> bool {
        if self.wake_at != Some(now) {
            return false;
        }
        self.wake_at = None;
        true
    }
}
