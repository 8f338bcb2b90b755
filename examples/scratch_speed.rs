use std::time::Instant;
use t3sim::cosim::rtl::{AluBench, McaBench, TrackerBench, Testbench};
use t3sim::cosim::{Block, Stimulus};
fn time<B: Testbench>(n: u64) {
    let mut stim = B::stimulus(1);
    let ins: Vec<B::In> = (0..n).map(|_| stim.next()).collect();
    let t = Instant::now();
    let mut m = B::model();
    for i in &ins { std::hint::black_box(m.step(i.clone())); }
    let tm = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut r = B::rtl(false);
    for i in &ins { std::hint::black_box(r.step(i.clone())); }
    let tr = t.elapsed().as_secs_f64();
    println!("{}: model {:.2} M/s rtl {:.2} M/s", B::NAME, n as f64 / tm / 1e6, n as f64 / tr / 1e6);
}
fn main() { time::<TrackerBench>(300_000); time::<AluBench>(100_000); time::<McaBench>(1_000_000); }
