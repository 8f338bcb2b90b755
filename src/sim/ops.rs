//! Ops start and end on each device: an op starts when its dependencies on
//! that device are done, and its end releases the ops that wait for it.

use super::Sim;
use super::event::{Ev, Then};
use super::plan::{CollExec, OpPlan};
use crate::gpu::{Kernel, StreamKernel};
use crate::trace::ComputeNode;

impl Sim<'_> {
    /// Starts every simulated device's ops that wait for nothing, in graph
    /// order.
    pub(super) fn start(&mut self) {
        for d in 0..self.devs.len() as u32 {
            for op in 0..self.plan.ops.len() {
                let st = &self.devs[d as usize].ops[op];
                if self.plan.runs_on(op, d) && st.deps_left == 0 && st.start.is_none() {
                    self.launch(d, op);
                }
            }
        }
    }

    /// Starts `op` on device `d`.
    pub(super) fn launch(&mut self, d: u32, op: usize) {
        let st = &mut self.devs[d as usize].ops[op];
        if st.start.is_some() {
            return;
        }
        st.start = Some(self.now);
        let plan = self.plan.clone();
        match &plan.ops[op] {
            OpPlan::Gemm(_) => {
                self.launch_kernel(d, op);
                if self.kernel_of(d, op).workgroups() == 0 {
                    self.op_end(d, op);
                }
            }
            OpPlan::Coll(c) => match c.exec {
                CollExec::Kernel(_) | CollExec::BesideProducer(_) => {
                    self.with_collective(d, op, |c, env| c.start(env));
                }
                // The GEMM's tiles drive a fused collective.
                CollExec::Fused { .. } => {}
            },
            OpPlan::Compute { node, base } => match *node {
                ComputeNode::Fixed { duration_ns } => {
                    let t = self.now.saturating_add(duration_ns.saturating_mul(1000));
                    self.q.push(
                        t,
                        Ev::Timer {
                            dev: d,
                            op: op as u32,
                        },
                    );
                }
                ComputeNode::Roofline { flops, bytes } => {
                    let dev = &mut self.devs[d as usize];
                    let wgs = dev.cus.slots() as u64;
                    dev.ops[op].pending =
                        Some(Kernel::Stream(StreamKernel::new(*base, bytes, flops, wgs)));
                    self.launch_kernel(d, op);
                }
            },
            OpPlan::Send(p) => {
                let m = self.devs[d as usize]
                    .mem
                    .open(self.now, Then::SendRead { op: op as u32 });
                self.issue(
                    d,
                    m,
                    p.base,
                    p.t.bytes,
                    crate::mem::Op::Read,
                    crate::mem::Stream::RsRead,
                );
            }
            OpPlan::Recv(p) => {
                if self.devs[d as usize].ops[op].bytes_done == p.t.bytes {
                    self.op_end(d, op);
                }
            }
        }
    }

    /// `op` ended on device `d`: the ops waiting for it there may start.
    pub(super) fn op_end(&mut self, d: u32, op: usize) {
        let st = &mut self.devs[d as usize].ops[op];
        if st.end.is_some() {
            return;
        }
        st.end = Some(self.now);
        if matches!(self.plan.ops[op], OpPlan::Gemm(_))
            && std::mem::take(&mut self.stop_at_gemm_end)
        {
            self.gemm_ended = Some(d);
        }
        let plan = self.plan.clone();
        for &s in plan.graph.successors(op) {
            if !plan.runs_on(s, d) || !plan.deps[s].contains(&op) {
                continue;
            }
            let st = &mut self.devs[d as usize].ops[s];
            st.deps_left -= 1;
            if st.deps_left == 0 {
                self.launch(d, s);
            }
        }
    }
}
