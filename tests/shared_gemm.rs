//! gemm-alone, sequential and rs-nmc simulate their common GEMM phase once
//! (`modes::sim::run_sharing_gemm`); each must come out exactly as its own
//! separate run, on a symmetric ring, with every device simulated, and on
//! a skewed ring where devices finish their GEMMs at different times.

use t3sim::config::HwConfig;
use t3sim::modes::plan::{Plan, RsKind};
use t3sim::modes::sim::{Sim, run_sharing_gemm};
use t3sim::trace::{DeviceOverride, Model, SubLayer, Trace, generate};

fn check(t: &Trace, allow_symmetry: bool) {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let plans: Vec<Plan> = [None, Some(RsKind::Kernel), Some(RsKind::Nmc)]
        .into_iter()
        .map(|rs| {
            let mut p = Plan::new(true, rs);
            p.allow_symmetry = allow_symmetry;
            p
        })
        .collect();
    let shared = run_sharing_gemm(t, &cfg, &plans);
    assert_eq!(shared.len(), plans.len());
    for (p, s) in plans.iter().zip(shared) {
        let s = s.unwrap();
        let alone = Sim::new(t, &cfg, p.clone()).unwrap().run().unwrap();
        assert_eq!(s.end_ps, alone.end_ps, "{:?}", p.rs);
        assert_eq!(s.events, alone.events, "{:?}", p.rs);
        assert_eq!(s.symmetric, alone.symmetric);
        assert!(s.devices == alone.devices, "{:?}: devices differ", p.rs);
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
