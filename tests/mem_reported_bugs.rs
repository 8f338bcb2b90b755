//! Memory-system bugs the fuzzers found in code this branch does not own
//! (`src/mem/controller.rs`). Each test states the behaviour that must hold
//! and is ignored until the controller is fixed; run them with
//! `cargo test --release --test mem_reported_bugs -- --ignored`.

use std::time::{Duration, Instant};
use t3sim::config::HwConfig;
use t3sim::mem::nmc_alu::Dtype;
use t3sim::mem::{MemorySystem, Op, Request, Stream};

fn req(addr: u64, op: Op, stream: Stream, tag: u64) -> Request {
    Request {
        addr,
        op,
        stream,
        tag,
    }
}

/// Issues commands one at a time until every queue is empty; `Err` if the
/// controller is still busy after `cap` commands (it stopped serving).
fn drain_bounded(mem: &mut MemorySystem, cap: usize) -> Result<(), String> {
    for _ in 0..cap {
        if mem.queued() == 0 {
            return Ok(());
        }
        mem.step().ok_or("idle with requests queued")?;
    }
    Err(format!(
        "{} requests still queued after {cap} commands: {}",
        mem.queued(),
        mem.describe().join("; ")
    ))
}

#[test]
fn short_refresh_interval_with_long_twr_still_serves_writes() {
    // `t3sim mem` on `0x40 WRITE 1000` / `0x80 READ 1000` / `0x100000
    // WRITE 2000` / `0x200040 READ 2000` with `--set mem.timing.trefi=308
    // --set mem.timing.twr=200` never finishes (trefi 320 does). Before the
    // validator required tREFI >= tRFC + tRAS + tRP, tREFI 261 hung with
    // the preset's own timings.
    let cfg = HwConfig::load(
        "hbm2-stack",
        &["mem.timing.trefi=308".into(), "mem.timing.twr=200".into()],
    )
    .unwrap();
    let mut mem = MemorySystem::new(&cfg.mem).unwrap();
    for (i, (a, op, t)) in [
        (0x40, Op::Write, 1000),
        (0x80, Op::Read, 1000),
        (0x100000, Op::Write, 2000),
        (0x200040, Op::Read, 2000),
    ]
    .into_iter()
    .enumerate()
    {
        let s = if op == Op::Read {
            Stream::TraceRead
        } else {
            Stream::TraceWrite
        };
        mem.try_enqueue(t, req(a, op, s, i as u64)).unwrap();
    }
    drain_bounded(&mut mem, 100_000).unwrap();
}

#[test]
fn a_late_arrival_is_served_without_replaying_every_idle_refresh() {
    let cfg = HwConfig::preset("hbm2-stack").unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut mem = MemorySystem::new(&cfg.mem).unwrap();
        let start = Instant::now();
        mem.try_enqueue(1 << 40, req(0x40, Op::Read, Stream::TraceRead, 0))
            .unwrap();
        mem.drain_all();
        tx.send(start.elapsed()).ok();
    });
    let took = rx.recv_timeout(Duration::from_secs(5));
    assert!(
        took.is_ok(),
        "one read arriving at cycle 2^40 was not served within 5 s"
    );
}

#[test]
fn same_address_writes_take_effect_in_arrival_order_under_compute_first() {
    let cfg = HwConfig::load(
        "hbm2-stack",
        &["mem.controller.arbitration=\"compute-first\"".into()],
    )
    .unwrap();
    let mut mem = MemorySystem::new(&cfg.mem).unwrap();
    mem.enable_data(Dtype::Fp16);
    let n = mem.access_bytes() as usize;
    // The collective writes the line first, then the GEMM overwrites it;
    // a third write keeps the write queue busy so both are queued together.
    mem.try_enqueue_with_data(0, req(0, Op::Write, Stream::RsWrite, 0), &vec![1; n])
        .unwrap();
    mem.try_enqueue_with_data(1, req(0, Op::Write, Stream::GemmWrite, 1), &vec![2; n])
        .unwrap();
    mem.drain_all();
    assert_eq!(
        mem.peek(0).unwrap(),
        &vec![2u8; n][..],
        "the younger write must win"
    );
}
