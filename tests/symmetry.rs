//! The symmetric shortcut (DESIGN.md section 7): on a ring where no device
//! differs, simulating device 0 with its own traffic looped back gives the
//! same results as simulating every device; with a per-device override it
//! switches itself off.

use t3sim::config::HwConfig;
use t3sim::modes::Mode;
use t3sim::replay::run_mode_with;
use t3sim::trace::{DeviceOverride, Model, SubLayer, generate};

#[test]
fn one_device_stands_for_the_ring_in_every_mode() {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let t = generate(Model::MegaGpt2, 4, SubLayer::Fc2, 256).unwrap();
    for m in Mode::ALL {
        if m == Mode::Ideal {
            continue;
        }
        let full = run_mode_with(&t, &cfg, m, false).unwrap().unwrap();
        let sym = run_mode_with(&t, &cfg, m, true).unwrap().unwrap();
        assert!(sym.symmetric && !full.symmetric);
        let brief = |d: &t3sim::stats::DevResult| {
            let t = d.mem.total();
            format!(
                "end {} gemm {:?} rs {:?} reads {} writes {} updates {} acts {} tracker {} {}",
                d.end_ps,
                d.gemm_end_ps,
                d.rs_end_ps,
                t.reads,
                t.writes,
                t.updates,
                t.activates,
                d.tracker_stall_ps,
                d.tracker_peak_occupancy
            )
        };
        for (f, s) in full.devices.iter().zip(&sym.devices) {
            assert_eq!(brief(f), brief(s), "{m:?}: device {}", f.device);
            assert!(f == s, "{m:?}: device {} differs in detail", f.device);
        }
        assert_eq!(full.end_ps, sym.end_ps, "{m:?}: sub-layer time");
        // The full run simulated far more.
        assert!(full.events > 3 * sym.events, "{m:?}");
    }
}

#[test]
fn a_slower_device_switches_the_shortcut_off() {
    let cfg = HwConfig::preset("t3-asplos24").unwrap();
    let mut t = generate(Model::MegaGpt2, 4, SubLayer::Fc2, 256).unwrap();
    t.devices.push(DeviceOverride {
        compute_scale: 0.5,
        ..DeviceOverride::nominal(2)
    });
    let r = run_mode_with(&t, &cfg, Mode::T3, true).unwrap().unwrap();
    assert!(!r.symmetric);
    // The slow device finishes its GEMM last.
    let gemm_end = |d: usize| r.devices[d].gemm_end_ps.unwrap();
    assert!(
        (0..4)
            .filter(|&d| d != 2)
            .all(|d| gemm_end(2) > gemm_end(d))
    );
}
