//! Co-simulation speed: cycles per second of model + RTL in lockstep, per
//! block (feature `rtl`).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use t3sim::cosim::Lockstep;
use t3sim::cosim::Stimulus;
use t3sim::cosim::rtl::{AluBench, McaBench, Testbench, TrackerBench};

const CYCLES: u64 = 100_000;

fn lockstep<B: Testbench>(c: &mut Criterion) {
    let mut g = c.benchmark_group("cosim");
    g.throughput(Throughput::Elements(CYCLES));
    g.sample_size(10);
    let mut ls = Lockstep::new(B::model(), B::rtl(false));
    let mut stim = B::stimulus(1);
    g.bench_function(B::NAME, |b| {
        b.iter(|| {
            for _ in 0..CYCLES {
                let out = ls.step(stim.next()).expect("RTL agrees with the model");
                stim.observe(black_box(&out));
            }
        })
    });
    g.finish();
}

fn blocks(c: &mut Criterion) {
    lockstep::<TrackerBench>(c);
    lockstep::<AluBench>(c);
    lockstep::<McaBench>(c);
}

criterion_group!(benches, blocks);
criterion_main!(benches);
