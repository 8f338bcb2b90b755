use t3sim::config::HwConfig;
use t3sim::modes::{self, Mode};
use t3sim::trace::{Model, SubLayer, generate};

#[test]
fn small_trace_replays_in_every_mode() {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let t = generate(Model::MegaGpt2, 8, SubLayer::Op, 1024).unwrap();
    let b = modes::baselines(&t, &cfg).unwrap();
    eprintln!(
        "gemm alone {} ns, rs alone {} ns, events {} {}",
        b.gemm_alone.end_ps / 1000,
        b.rs_alone.end_ps / 1000,
        b.gemm_alone.events,
        b.rs_alone.events
    );
    for m in Mode::ALL {
        if let Some(r) = modes::run_mode(&t, &cfg, m).unwrap() {
            eprintln!("{}: {} ns", m.name(), r.end_ps / 1000);
        }
    }
}
