//! `t3sim paper` simulates sub-layers that differ only in names once
//! (`replay::replay_many`, keyed by `Trace::simulation_key`): each report
//! must be exactly the one its own replay gives, names included.

use std::sync::atomic::{AtomicUsize, Ordering};
use t3sim::config::HwConfig;
use t3sim::modes::Mode;
use t3sim::replay;
use t3sim::trace::{DEFAULT_TOKENS, Model, SubLayer, generate};

#[test]
fn sublayers_differing_in_names_share_one_simulation_and_keep_their_names() {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let fc1 = generate(Model::MegaGpt2, 8, SubLayer::Fc1, DEFAULT_TOKENS).unwrap();
    let fc2 = generate(Model::MegaGpt2, 8, SubLayer::Fc2, DEFAULT_TOKENS).unwrap();
    let op = generate(Model::MegaGpt2, 8, SubLayer::Op, DEFAULT_TOKENS).unwrap();
    assert_eq!(fc1.simulation_key(), fc2.simulation_key());
    assert_ne!(fc1.simulation_key(), op.simulation_key());
    let mut renamed = fc2.clone();
    renamed.name = "another".into();
    assert_eq!(renamed.simulation_key(), fc2.simulation_key());
    let mut bigger = fc2.clone();
    if let t3sim::trace::Op::Gemm(g) = &mut bigger.ops[0] {
        g.m *= 2;
    }
    assert_ne!(bigger.simulation_key(), fc2.simulation_key());

    let modes = [Mode::T3];
    let ticks = AtomicUsize::new(0);
    let shared = replay::replay_many(&[&fc1, &fc2, &op], &cfg, &modes, &|| {
        ticks.fetch_add(1, Ordering::Relaxed);
    });
    for (t, r) in [&fc1, &fc2, &op].into_iter().zip(shared) {
        let alone = replay::replay_with(t, &cfg, &modes, replay::Options::default()).unwrap();
        assert_eq!(
            serde_json::to_string(&r.unwrap()).unwrap(),
            serde_json::to_string(&alone).unwrap(),
            "{}",
            t.name
        );
    }
    // Progress counts every trace's runs, shared or not.
    let one = AtomicUsize::new(0);
    replay::replay_many(&[&op], &cfg, &modes, &|| {
        one.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(ticks.into_inner(), 3 * one.into_inner());
}
