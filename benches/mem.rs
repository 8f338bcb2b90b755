//! Criterion bench of the memory system: 200 k-line streaming and random
//! read traces through `hbm2-stack` (parsing included, from memory).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use t3sim::config::HwConfig;
use t3sim::mem::trace_file::{TraceFormat, TraceReader};
use t3sim::mem::trace_replay;

fn text(lines: u64, random: bool) -> String {
    let mut s: u64 = 3;
    (0..lines)
        .map(|i| {
            let a = if random {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 20) % (1 << 26)) * 64
            } else {
                i * 64
            };
            format!("0x{a:x} READ 0\n")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = HwConfig::preset("hbm2-stack").unwrap();
    let lines = 200_000;
    let mut g = c.benchmark_group("mem");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    for (name, random) in [("stream_read", false), ("rand_read", true)] {
        let t = text(lines, random);
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = TraceReader::new(t.as_bytes(), TraceFormat::Dramsim3, name.into());
                trace_replay::replay(r, &cfg.mem, "hbm2-stack").unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
