//! Point-to-point transfers: a send reads its buffer and puts it on the
//! link to its peer as soon as the read is done, and ends when its last
//! byte has been handed to the link; the recv's device writes what arrives
//! into its buffer, and the recv ends once every byte has landed and its
//! own dependencies are done.

use super::Sim;
use super::event::{Then, Unit};
use super::plan::OpPlan;
use crate::mem::{Op as MemOp, Stream};

/// The value a send carries (functional check): its recv must hold it.
pub(super) fn transfer_value(send: usize) -> u64 {
    super::values::signature(send as u64 ^ (0x5E_u64 << 48))
}

impl Sim<'_> {
    /// A send's data is read: it goes on the link.
    pub(super) fn send_read(&mut self, d: u32, op: usize) {
        let OpPlan::Send(p) = self.plan.ops[op] else {
            return;
        };
        let vals = vec![transfer_value(op)];
        self.send(
            d,
            p.t.dst,
            Unit::Transfer { op: op as u32 },
            p.t.bytes,
            vals,
        );
        self.op_end(d, op);
    }

    /// A packet of send `send` arrived at device `d`: it is written into
    /// the recv's buffer.
    pub(super) fn transfer_arrived(
        &mut self,
        d: u32,
        send: usize,
        offset: u64,
        bytes: u32,
        vals: Option<Vec<u64>>,
    ) {
        let OpPlan::Send(s) = self.plan.ops[send] else {
            return;
        };
        let recv = s.t.peer;
        let OpPlan::Recv(r) = self.plan.ops[recv] else {
            return;
        };
        if let Some(v) = vals {
            self.devs[d as usize].vals[recv] = v;
        }
        let m = self.devs[d as usize].mem.open(
            self.now,
            Then::RecvLanded {
                op: recv as u32,
                bytes: bytes as u64,
            },
        );
        self.issue(
            d,
            m,
            r.base + offset,
            bytes as u64,
            MemOp::Write,
            Stream::RsWrite,
        );
    }

    /// `bytes` of a recv's data landed in memory.
    pub(super) fn recv_landed(&mut self, d: u32, op: usize, bytes: u64) {
        let OpPlan::Recv(r) = self.plan.ops[op] else {
            return;
        };
        let st = &mut self.devs[d as usize].ops[op];
        st.bytes_done += bytes;
        if st.bytes_done == r.t.bytes && st.start.is_some() {
            self.op_end(d, op);
        }
    }
}
