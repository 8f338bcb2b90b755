//! Property-based fuzzing of the input parsers and the memory system.
//! Case counts are modest by default; set `PROPTEST_CASES` for a longer
//! run (and see `cargo bench --bench fuzz` for a million cases).

#[path = "support/fuzz.rs"]
mod fuzz;

use fuzz::Genes;
use proptest::prelude::*;
use t3sim::mem::trace_file::TraceFormat;

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn genes(max: usize) -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(any::<u64>(), 0..max)
}

fn format() -> impl Strategy<Value = TraceFormat> {
    prop_oneof![Just(TraceFormat::Ramulator), Just(TraceFormat::Dramsim3)]
}

proptest! {
    #![proptest_config(cases(256))]

    /// Mutations of a shipped preset load as a buildable config or fail
    /// with an input error naming the file and an existing line.
    #[test]
    fn mutated_presets_load_or_fail_located(g in genes(40)) {
        let tmp = tempfile::tempdir().unwrap();
        let bytes = fuzz::mutated_config(&mut Genes::new(&g));
        let r = fuzz::check_config_bytes(&bytes, &tmp.path().join("m.toml"));
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// Random `--set` overrides apply, or fail located at `--set`.
    #[test]
    fn random_overrides_apply_or_fail_located(g in genes(12)) {
        let mut gs = Genes::new(&g);
        let ovs: Vec<String> = (0..1 + g.len() % 3).map(|_| fuzz::random_override(&mut gs)).collect();
        let r = fuzz::check_overrides(&ovs);
        prop_assert!(r.is_ok(), "{ovs:?}: {}", r.unwrap_err());
    }

    /// Arbitrary bytes never panic the trace reader, and it agrees with the
    /// line oracle on every record and on the first error.
    #[test]
    fn arbitrary_bytes_read_as_the_oracle_says(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        f in format(),
    ) {
        let r = fuzz::check_trace_bytes(&bytes, f);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// Lines built from valid, nearly valid and garbage tokens with every
    /// separator read exactly as the oracle says (the fast path included).
    #[test]
    fn token_lines_read_as_the_oracle_says(g in genes(40), f in format()) {
        let bytes = fuzz::token_trace(&mut Genes::new(&g), f);
        let r = fuzz::check_trace_bytes(&bytes, f);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// Valid traces with one byte changed: the reader still matches the
    /// oracle (so a mutation is rejected at its own line or parsed right).
    #[test]
    fn mutated_valid_lines_read_as_the_oracle_says(
        n in 1usize..20,
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        f in format(),
    ) {
        let mut text = String::new();
        for i in 0..n {
            match f {
                TraceFormat::Ramulator => text += &format!("{} {:#x}\n", ["LD", "ST"][i % 2], i * 64),
                TraceFormat::Dramsim3 => text += &format!("{:#x} {} {}\n", i * 64, ["READ", "WRITE"][i % 2], i * 3),
            }
        }
        let mut bytes = text.into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let r = fuzz::check_trace_bytes(&bytes, f);
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

proptest! {
    #![proptest_config(cases(128))]

    /// Random small memory systems serve random request streams: every
    /// request completes once, bytes are conserved, latencies respect the
    /// timing, and the data read back is the last write plus the later
    /// updates.
    #[test]
    fn memory_system_serves_every_request_once_with_the_right_data(
        cfg_genes in genes(64),
        req_genes in genes(2000),
        n in 1usize..160,
    ) {
        let cfg = fuzz::small_mem_config(&mut Genes::new(&cfg_genes));
        prop_assert!(cfg.validate("gen", "").is_ok(), "generator made an invalid config: {:?}", cfg.validate("gen", ""));
        let reqs = fuzz::random_requests(&mut Genes::new(&req_genes), &cfg, n);
        let r = fuzz::run_mem_case(&cfg, &reqs, false);
        prop_assert!(r.is_ok(), "{}\nconfig: {:?}", r.unwrap_err(), cfg.mem);
    }

    /// The same inputs give the same statistics, completions and data.
    #[test]
    fn memory_system_is_deterministic(
        cfg_genes in genes(64),
        req_genes in genes(1000),
        n in 1usize..100,
    ) {
        let cfg = fuzz::small_mem_config(&mut Genes::new(&cfg_genes));
        let reqs = fuzz::random_requests(&mut Genes::new(&req_genes), &cfg, n);
        let a = fuzz::run_mem_case(&cfg, &reqs, false);
        let b = fuzz::run_mem_case(&cfg, &reqs, false);
        prop_assert!(a.is_ok(), "{}", a.clone().unwrap_err());
        prop_assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(cases(128))]

    /// Same-address writes and updates must take effect in arrival order
    /// whatever the arbitration.
    #[test]
    fn ranked_arbitration_keeps_same_address_order(
        cfg_genes in genes(64),
        req_genes in genes(2000),
        n in 1usize..160,
    ) {
        let cfg = fuzz::small_mem_config(&mut Genes::new(&cfg_genes));
        let reqs = fuzz::random_requests(&mut Genes::new(&req_genes), &cfg, n);
        let r = fuzz::run_mem_case(&cfg, &reqs, true);
        prop_assert!(r.is_ok(), "{}\nconfig: {:?}", r.unwrap_err(), cfg.mem);
    }
}
