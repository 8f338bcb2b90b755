//! Link flow control: a sender that runs out of credits restarts when the
//! receiver returns one, so a credit-limited link never deadlocks and runs
//! at `credits * packet / round trip` (round trip = serialisation of a
//! packet + latency out + the credit's latency back), or at the link's
//! bandwidth when that is lower.

use t3sim::config::HwConfig;
use t3sim::modes::Run;
use t3sim::net::Link;
use t3sim::replay::simulate;
use t3sim::sim::SimOptions;
use t3sim::trace::{Model, SubLayer, generate};

#[test]
fn credit_limited_reduce_scatter_runs_at_credits_per_round_trip_and_never_deadlocks() {
    let base = HwConfig::preset("t3-asplos24").unwrap();
    let link = Link::new(&base.link, 1.0).unwrap();
    let pkt = base.link.packet_bytes as f64;
    let rtt_ps = (link.serialise_ps(pkt as u64) + 2 * link.latency_ps()) as f64;
    let bw = link.rate_bytes_per_s() as f64;
    let bdp = (bw * rtt_ps / 1e12 / pkt).ceil() as u32;
    let t = generate(Model::MegaGpt2, 4, SubLayer::Op, 2048).unwrap();
    let n = t.tp as f64;
    let bytes = t.gemm().unwrap().output_bytes() as f64;
    for credits in [1, 2, 5, 16, 64, bdp / 2, bdp, 2 * bdp] {
        let mut cfg = base.clone();
        cfg.link.credits = credits;
        let r = simulate(&t, &cfg, Run::Alone(1), SimOptions::default())
            .unwrap_or_else(|e| panic!("{credits} credits: {e}"));
        let rate = bw.min(credits as f64 * pkt / (rtt_ps / 1e12));
        let want_ps = (n - 1.0) / n * bytes / rate * 1e12 + (n - 1.0) * link.latency_ps() as f64;
        let got_ps = r.end_ps as f64;
        let err = got_ps / want_ps - 1.0;
        eprintln!(
            "{credits} credits: {got_ps:.0} ps, expected {want_ps:.0} ps ({:+.2} %)",
            100.0 * err
        );
        assert!(
            err.abs() <= 0.05,
            "{credits} credits (bandwidth-delay product {bdp}): {got_ps} ps vs {want_ps} ps"
        );
    }
}
