//! L2 access throughput on the t3-asplos24 geometry (16 MB, 128 B, 16-way).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use t3sim::config::GpuConfig;
use t3sim::gpu::l2::L2;

const N: u64 = 1 << 20;

/// Addresses over `footprint` bytes from a fixed LCG (deterministic).
fn random_addrs(footprint: u64) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..N)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 16) % footprint
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cfg = GpuConfig::default();
    let mut g = c.benchmark_group("l2");
    g.throughput(Throughput::Elements(N));

    // Mostly hits: a working set of half the capacity.
    let hot = random_addrs(cfg.l2_bytes / 2);
    let mut l2 = L2::new(&cfg).unwrap();
    for &a in &hot {
        l2.access(a, false, true);
    }
    g.bench_function("random_hits", |b| {
        b.iter(|| {
            for &a in &hot {
                black_box(l2.access(a, false, true));
            }
        })
    });

    // Mostly misses with dirty evictions: 8x the capacity, half stores.
    let cold = random_addrs(8 * cfg.l2_bytes);
    let mut l2 = L2::new(&cfg).unwrap();
    g.bench_function("random_misses_writeback", |b| {
        b.iter(|| {
            for &a in &cold {
                black_box(l2.access(a, a & 128 != 0, true));
            }
        })
    });

    // T3 output stream: uncached stores that bypass.
    let mut l2 = L2::new(&cfg).unwrap();
    g.bench_function("bypass_stream", |b| {
        b.iter(|| {
            for k in 0..N {
                black_box(l2.access((1 << 40) + k * 128, true, false));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
