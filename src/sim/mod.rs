//! One simulated run of a trace's op graph on every device, composed from
//! components as a [`Run`] says, under one global event queue in
//! picoseconds.
//!
//! Each device has CUs (`gpu`: workgroup slots, the L2, launched kernels),
//! a memory system (`mem`, behind [`memport::MemPort`]), output ports on
//! its links (`net`), and, as the run needs them, collective kernels
//! (`collective`), the tracker and DMA engines (`t3`). Components own their
//! state; they ask the simulation for memory operations, packets and
//! wake-ups through small environment traits, and are called back with
//! typed events ([`event::Ev`], [`event::Then`]). `plan` decides before the
//! run what each op is and how it executes; `ops` starts and ends ops as
//! their dependencies finish; `flow` moves a tile's output and a fused
//! pair between components; `transfer` runs compute ops, sends and recvs;
//! `finish` checks and reports.

mod collective;
mod device;
mod event;
mod finish;
mod flow;
mod memport;
mod ops;
mod plan;
pub mod probe;
mod share;
mod transfer;
mod values;

pub use share::run_sharing_gemm;
pub use values::signature;

use crate::config::HwConfig;
use crate::engine::{EventKey, EventQueue, Ps};
use crate::error::{Error, InputError, Location, Result};
use crate::modes::Run;
use crate::net::{Link, Packet, Topology};
use crate::stats::SimResult;
use crate::trace::Trace;
use device::Dev;
use event::{Ev, Unit};
use plan::Plan;
use std::collections::VecDeque;
use std::sync::Arc;

/// Default watchdog: 10 ms of simulated time with nothing finishing (a
/// busy ring finishes memory operations every few nanoseconds).
pub const DEFAULT_WATCHDOG_PS: u64 = 10_000_000_000;

/// Bytes of one pipelined collective slice (rounded to whole tiles).
const SLICE_BYTES: u64 = 512 << 10;
/// Slices a collective kernel may be reading for sending at once.
const WINDOW: u32 = 4;

/// Knobs of a run that are not hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimOptions {
    /// Simulate one device for all when no device differs (DESIGN.md
    /// section 7); off forces every device to be simulated.
    pub allow_symmetry: bool,
    /// Simulated time without any memory operation or compute step
    /// finishing after which the run is stopped as a livelock.
    pub watchdog_ps: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            allow_symmetry: true,
            watchdog_ps: DEFAULT_WATCHDOG_PS,
        }
    }
}

/// One simulation of the devices under a [`Run`].
pub struct Sim<'a> {
    cfg: &'a HwConfig,
    run: Run,
    opts: SimOptions,
    plan: Arc<Plan>,
    n: u32,
    topo: Arc<dyn Topology>,
    links: Vec<Link>,
    /// Per link, the simulated device and port that send on it.
    link_owner: Vec<Option<(u32, u32)>>,
    /// The simulated devices: device `i` at index `i` (only device 0 in the
    /// symmetric shortcut).
    devs: Vec<Dev>,
    q: EventQueue<Ev>,
    /// Per link, packets on the wire in arrival order, each with its place
    /// in the event order: a link's arrivals are in time order, so only
    /// the first is in `q` (thousands of packets may be in flight, and a
    /// smaller heap is cheaper to pop).
    arrivals: Vec<VecDeque<(EventKey, Packet<Unit>)>>,
    now: Ps,
    events: u64,
    comps: Vec<crate::mem::Completion>,
    /// Only device 0 is simulated; the others are its rotations.
    symmetric: bool,
    /// When work last finished (for the watchdog).
    progress_at: Ps,
    /// The watchdog's limit: the configured one, or longer when a link's
    /// round trip alone takes longer (a packet in flight finishes nothing).
    watchdog_ps: Ps,
    probe: Option<Box<dyn probe::Probe>>,
    /// Stop the event loop after the event in which a device's GEMM ends
    /// (see [`run_sharing_gemm`]).
    stop_at_gemm_end: bool,
    /// The device whose GEMM ended when the loop stopped for it.
    gemm_ended: Option<u32>,
}

impl<'a> Sim<'a> {
    pub fn new(trace: &Trace, cfg: &'a HwConfig, run: Run, opts: SimOptions) -> Result<Sim<'a>> {
        let n = trace.tp;
        let scales: Vec<f64> = (0..n).map(|d| trace.device(d).link_bw_scale).collect();
        let topo: Arc<dyn Topology> =
            crate::net::topology::build(&cfg.link.topology, scales)?.into();
        let plan = Plan::new(trace, cfg, run, topo.as_ref())?;
        if plan.mem_bytes > cfg.mem.capacity_bytes() {
            let what = if plan.single_pair {
                "the GEMM's operands and output need"
            } else {
                "the trace's operands and buffers need"
            };
            return Err(InputError::new(
                Location::file(cfg.name.clone()),
                "mem",
                format!(
                    "{what} {} MB per device but the memory holds {} MB",
                    plan.mem_bytes >> 20,
                    cfg.mem.capacity_bytes() >> 20
                ),
            )
            .into());
        }
        for op in plan.graph.ops() {
            if let Some(g) = op.gemm()
                && g.k_steps() > u32::MAX as u64
            {
                return Err(InputError::new(
                    Location::file(trace.name.clone()),
                    format!("ops[{}]", op.trace_index),
                    format!(
                        "the GEMM has {} k-steps; at most {} are supported",
                        g.k_steps(),
                        u32::MAX
                    ),
                )
                .into());
            }
        }
        let links = topo.build_links(&cfg.link)?;
        let symmetric = opts.allow_symmetry && plan.symmetric(trace);
        let sim_devs = if symmetric { 1 } else { n };
        let mut devs = Vec::new();
        for d in 0..sim_devs {
            devs.push(Dev::new(
                d,
                trace,
                cfg,
                run,
                &plan,
                topo.as_ref(),
                symmetric,
            )?);
        }
        let mut link_owner = vec![None; links.len()];
        for (i, dev) in devs.iter().enumerate() {
            for (p, port) in dev.ports.iter().enumerate() {
                link_owner[port.link()] = Some((i as u32, p as u32));
            }
        }
        // Several round trips: a credit-starved sender waits one per packet.
        let round_trip = links
            .iter()
            .map(|l| l.serialise_ps(l.packet_bytes() as u64) + 2 * l.latency_ps())
            .max()
            .unwrap_or(0);
        // A watchdog the user set is theirs; the default one grows with the
        // links.
        let watchdog_ps = if opts.watchdog_ps == DEFAULT_WATCHDOG_PS {
            opts.watchdog_ps.max(round_trip.saturating_mul(4))
        } else {
            opts.watchdog_ps
        };
        Ok(Sim {
            cfg,
            run,
            opts,
            plan: Arc::new(plan),
            n,
            arrivals: links.iter().map(|_| Default::default()).collect(),
            topo,
            links,
            link_owner,
            devs,
            q: EventQueue::new(),
            now: 0,
            events: 0,
            comps: Vec::new(),
            symmetric,
            progress_at: 0,
            watchdog_ps,
            probe: None,
            stop_at_gemm_end: false,
            gemm_ended: None,
        })
    }

    /// Lets `probe` watch the run (the RTL co-simulation).
    pub fn with_probe(mut self, mut probe: Box<dyn probe::Probe>) -> Self {
        for dev in &mut self.devs {
            probe.attach(dev.id, &mut dev.mem.mem);
        }
        self.probe = Some(probe);
        self
    }

    /// Runs to completion and checks every collective's result.
    pub fn run(mut self) -> Result<SimResult> {
        self.start();
        self.run_events()?;
        self.end()
    }

    /// Processes events until none is left (false), or until the event in
    /// which a GEMM ends when `stop_at_gemm_end` is set (true).
    fn run_events(&mut self) -> Result<bool> {
        while let Some((t, ev)) = self.q.pop() {
            self.now = t;
            self.events += 1;
            self.dispatch(ev);
            if self.probe.as_ref().is_some_and(|p| p.stop()) {
                return Err(Error::Check(
                    "stopped: the RTL co-simulation diverged from the model".into(),
                ));
            }
            // Watchdog: events that only go round (retries, wake-ups)
            // without finishing any work are a livelock.
            if self.now - self.progress_at > self.watchdog_ps {
                return Err(Error::Deadlock(format!(
                    "no memory operation or compute step finished for {} us of simulated time (at t = {} ns); if the hardware is that slow, raise --watchdog-us:\n{}",
                    self.watchdog_ps / 1_000_000,
                    self.now / 1000,
                    self.stuck_report().join("\n")
                )));
            }
            if self.gemm_ended.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Closes the run once no event is left.
    fn end(mut self) -> Result<SimResult> {
        if let Some(p) = &mut self.probe {
            for dev in &mut self.devs {
                p.memory(dev.id, &mut dev.mem.mem, &[]);
            }
        }
        self.finish()
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::MemWake { dev } => self.mem_wake(dev),
            Ev::OpDone { dev, op } => self.op_done(dev, op),
            Ev::Gemm { dev, ev } => self.gemm_event(dev, ev),
            Ev::Arrival { link } => {
                let fifo = &mut self.arrivals[link as usize];
                if let Some((_, p)) = fifo.pop_front() {
                    if let Some(&(k, _)) = fifo.front() {
                        self.q.push_keyed(k, Ev::Arrival { link });
                    }
                    self.packet(p);
                }
            }
            Ev::Packet(p) => self.packet(*p),
            Ev::SendRetry { dev, port } => {
                self.devs[dev as usize].ports[port as usize].retry_due();
                self.pump_port(dev, port);
            }
            Ev::Timer { dev, op } => {
                self.progress_at = self.now;
                self.op_end(dev, op as usize);
            }
        }
    }

    /// Submits `bytes` at `addr` for device `d`'s operation `op`.
    fn issue(
        &mut self,
        d: u32,
        op: u32,
        addr: u64,
        bytes: u64,
        kind: crate::mem::Op,
        stream: crate::mem::Stream,
    ) {
        if let Some(t) = self.devs[d as usize]
            .mem
            .issue(self.now, op, addr, bytes, kind, stream)
        {
            self.q.push(t, Ev::MemWake { dev: d });
        }
    }

    fn mem_wake(&mut self, d: u32) {
        let now = self.now;
        let dev = &mut self.devs[d as usize];
        if !dev.mem.wake_due(now) {
            return;
        }
        let clk = dev.mem.clk;
        let cyc = clk.cycle_at(now);
        dev.mem.mem.advance_before(cyc + 1);
        let mut comps = std::mem::take(&mut self.comps);
        comps.extend(dev.mem.mem.drain_completions());
        if let Some(p) = &mut self.probe {
            p.memory(dev.id, &mut dev.mem.mem, &comps);
        }
        for c in comps.drain(..) {
            let op = c.tag as u32;
            let t = clk.time_of(c.cycle);
            dev.bw.add(t, c.stream, c.channel, c.bytes);
            if let Some(at) = dev.mem.complete(op, t, now) {
                self.q.push(at, Ev::OpDone { dev: d, op });
            }
        }
        self.comps = comps;
        if let Some(t) = dev.mem.arm(now, true) {
            self.q.push(t, Ev::MemWake { dev: d });
        }
    }
}
