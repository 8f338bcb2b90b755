//! Co-simulation speed (feature `rtl`): cycles per second of model + RTL
//! in lockstep, per block, and the wall-time slowdown of a t3-mca replay of
//! the smallest shipped TP 8 trace with `--cosim tracker,nmc,arbiter`
//! versus without (printed first; `cargo bench --features rtl --bench
//! cosim`).

use criterion::{Criterion, Throughput, criterion_group};
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

/// Best of `runs` wall times of `f`.
fn best_of(runs: u32, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn replay_slowdown() {
    use t3sim::cosim::replay::{Selection, Settings, Sink};
    use t3sim::modes::Mode;
    use t3sim::replay;
    let root = env!("CARGO_MANIFEST_DIR");
    let trace = t3sim::trace::load(format!("{root}/traces/mega-gpt2-tp8-op.json").as_ref())
        .expect("shipped trace");
    let cfg = t3sim::config::HwConfig::load("t3-asplos24", &[]).expect("preset");
    let modes = [Mode::T3Mca];
    let opts = replay::Options::default();
    let plain = best_of(3, || {
        replay::replay_with(&trace, &cfg, &modes, opts).expect("replay");
    });
    let checked = best_of(3, || {
        let settings = Settings {
            blocks: Selection::parse("tracker,nmc,arbiter").expect("blocks"),
            seed: 1,
            ..Default::default()
        };
        let sink = Sink::default();
        let probes = t3sim::cosim::replay_rtl::probes(settings, sink.clone());
        replay::replay_probed(&trace, &cfg, &modes, opts, &probes).expect("replay");
        for o in t3sim::cosim::replay::take(&sink) {
            o.expect("no divergence");
        }
    });
    println!(
        "replay mega-gpt2-tp8-op --modes t3-mca: {plain:.2} s plain, {checked:.2} s with --cosim tracker,nmc,arbiter: {:.2}x slowdown",
        checked / plain
    );
}

criterion_group!(benches, blocks);

fn main() {
    replay_slowdown();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
