//! Synthetic request streams driven straight into a [`MemorySystem`]: the
//! tool behind the memory acceptance tests and benches (stream mixes with
//! a bounded number of outstanding requests, as a GPU's MSHRs bound them).

use super::request::{Op, Request, Stream};
use super::stats::MemStats;
use super::system::{MemorySystem, Reject};
use crate::config::MemConfig;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Address order of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Sequential,
    /// Uniform over the span, from a seeded generator.
    Random {
        seed: u64,
    },
}

/// One request stream.
#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub stream: Stream,
    pub op: Op,
    /// First byte of the region the stream touches.
    pub base: u64,
    /// Bytes of the region (a multiple of the access size).
    pub span: u64,
    pub pattern: Pattern,
    pub requests: u64,
    /// Outstanding requests allowed; `None` issues as fast as accepted.
    pub window: Option<u32>,
    /// Data for writes and updates (one access); enables data mode.
    pub data: Option<Vec<u8>>,
}

/// What a stream achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    pub stream: Stream,
    pub requests: u64,
    pub bytes: u64,
    /// DRAM cycle of its last completion.
    pub last_cycle: u64,
    pub bandwidth_gbps: f64,
    pub avg_latency_ns: f64,
}

/// SplitMix64: tiny, seeded, and the same on every platform.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Live {
    spec: StreamSpec,
    issued: u64,
    done: u64,
    outstanding: u32,
    rng: u64,
    /// The next request, held while its channel refuses it.
    held: Option<Request>,
    latency_sum: u64,
    last: u64,
}

/// Runs the streams to completion on a fresh memory system.
pub fn run(cfg: &MemConfig, specs: &[StreamSpec]) -> Result<(Vec<StreamResult>, MemStats), String> {
    let mut mem = MemorySystem::new(cfg)?;
    if specs.iter().any(|s| s.data.is_some()) {
        let dtype = super::nmc_alu::Dtype::parse(&cfg.nmc.dtype).ok_or("bad dtype")?;
        mem.enable_data(dtype);
    }
    let access = mem.access_bytes();
    let mut live: Vec<Live> = specs
        .iter()
        .map(|s| Live {
            rng: match s.pattern {
                Pattern::Random { seed } => seed,
                Pattern::Sequential => 0,
            },
            spec: s.clone(),
            issued: 0,
            done: 0,
            outstanding: 0,
            held: None,
            latency_sum: 0,
            last: 0,
        })
        .collect();
    // (done cycle, stream, latency) of completions not yet visible.
    let mut pending: BinaryHeap<Reverse<(u64, usize, u64)>> = BinaryHeap::new();
    let mut now = 0u64;
    let mut guard = 0u64;
    loop {
        // Completions up to now free window slots.
        while let Some(Reverse((t, i, lat))) = pending.peek().copied() {
            if t > now {
                break;
            }
            pending.pop();
            let l = &mut live[i];
            l.outstanding -= 1;
            l.done += 1;
            l.latency_sum += lat;
            l.last = l.last.max(t);
        }
        // Every stream issues what its window and the controllers allow.
        for (i, l) in live.iter_mut().enumerate() {
            loop {
                if l.issued >= l.spec.requests && l.held.is_none() {
                    break;
                }
                if l.spec.window.is_some_and(|w| l.outstanding >= w) {
                    break;
                }
                let req = match l.held.take() {
                    Some(r) => r,
                    None => {
                        let lines = (l.spec.span / access).max(1);
                        let line = match l.spec.pattern {
                            Pattern::Sequential => l.issued % lines,
                            Pattern::Random { .. } => splitmix(&mut l.rng) % lines,
                        };
                        l.issued += 1;
                        Request {
                            addr: l.spec.base + line * access,
                            op: l.spec.op,
                            stream: l.spec.stream,
                            tag: ((i as u64) << 48) | l.issued,
                        }
                    }
                };
                let r = match &l.spec.data {
                    Some(d) if req.op != Op::Read => mem.try_enqueue_with_data(now, req, d),
                    _ => mem.try_enqueue(now, req),
                };
                match r {
                    Ok(()) => l.outstanding += 1,
                    Err(Reject::QueueFull { .. }) => {
                        l.held = Some(req);
                        break;
                    }
                    Err(e) => return Err(format!("{e:?}")),
                }
            }
        }
        for c in mem.drain_completions() {
            let i = (c.tag >> 48) as usize;
            pending.push(Reverse((c.cycle, i, c.latency_cycles)));
        }
        let all_done = live.iter().all(|l| l.done >= l.spec.requests);
        if all_done {
            break;
        }
        // Next: a command, or a completion that frees a window slot.
        let next_cmd = mem.next_busy_event();
        let next_done = pending.peek().map(|r| r.0.0);
        match (next_cmd, next_done) {
            (Some(c), Some(d)) if d <= c => now = now.max(d),
            (Some(_), _) => {
                let t = mem.step().ok_or("memory stopped")?;
                now = now.max(t + 1);
            }
            (None, Some(d)) => now = now.max(d),
            (None, None) => {
                return Err(format!(
                    "deadlock: streams waiting with nothing in flight: {}",
                    mem.describe().join("; ")
                ));
            }
        }
        for c in mem.drain_completions() {
            let i = (c.tag >> 48) as usize;
            pending.push(Reverse((c.cycle, i, c.latency_cycles)));
        }
        guard += 1;
        if guard > 1 << 40 {
            return Err("workload did not finish".into());
        }
    }
    let end = live.iter().map(|l| l.last).max().unwrap_or(0).max(1);
    let stats = mem.finish(end);
    let tck_ns = cfg.timing.tck_ps as f64 / 1000.0;
    let results = live
        .iter()
        .map(|l| {
            let bytes = l.done * access;
            StreamResult {
                stream: l.spec.stream,
                requests: l.done,
                bytes,
                last_cycle: l.last,
                bandwidth_gbps: bytes as f64 / (l.last.max(1) as f64 * tck_ns),
                avg_latency_ns: l.latency_sum as f64 / l.done.max(1) as f64 * tck_ns,
            }
        })
        .collect();
    Ok((results, stats))
}
