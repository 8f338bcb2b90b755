//! gemm-alone, sequential and rs-nmc simulate their common GEMM phase once
//! (`sim::run_sharing_gemm`); each must come out exactly as its own
//! separate run, on a symmetric ring, with every device simulated, and on
//! a skewed ring where devices finish their GEMMs at different times.

use t3sim::config::HwConfig;
use t3sim::modes::{PairExec, Reduction, Run};
use t3sim::sim::{Sim, SimOptions, run_sharing_gemm};
use t3sim::trace::{DeviceOverride, Model, SubLayer, Trace, generate};

fn check(t: &Trace, allow_symmetry: bool) {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let runs = [
        Run::Alone(0),
        Run::Graph(PairExec::Sequential(Reduction::Kernel)),
        Run::Graph(PairExec::Sequential(Reduction::NearMemory)),
    ];
    let opts = SimOptions {
        allow_symmetry,
        ..SimOptions::default()
    };
    let shared = run_sharing_gemm(t, &cfg, &runs, opts);
    assert_eq!(shared.len(), runs.len());
    for (r, s) in runs.iter().zip(shared) {
        let s = s.unwrap();
        let alone = Sim::new(t, &cfg, *r, opts).unwrap().run().unwrap();
        assert_eq!(s.end_ps, alone.end_ps, "{r:?}");
        assert_eq!(s.events, alone.events, "{r:?}");
        assert_eq!(s.symmetric, alone.symmetric);
        assert!(s.devices == alone.devices, "{r:?}: devices differ");
    }
}

#[test]
fn shared_gemm_runs_equal_separate_runs() {
    let t = generate(Model::MegaGpt2, 4, SubLayer::Fc2, 256).unwrap();
    check(&t, true);
    check(&t, false);
}

#[test]
fn shared_gemm_runs_equal_separate_runs_on_a_skewed_ring() {
    let mut t = generate(Model::MegaGpt2, 4, SubLayer::Fc2, 256).unwrap();
    t.devices.push(DeviceOverride {
        compute_scale: 0.5,
        ..DeviceOverride::nominal(2)
    });
    check(&t, true);
}
