//! The traces in `traces/` are exactly what the generator produces, so
//! they cannot drift from it: the 28 sub-layers (format version 1) and the
//! 5 layers (version 2). `T3SIM_BLESS=1 cargo test --test shipped_traces`
//! rewrites them.

use std::path::PathBuf;
use t3sim::trace::{self, generator};

fn traces_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("traces")
}

#[test]
fn shipped_traces_match_the_generator() {
    let bless = std::env::var_os("T3SIM_BLESS").is_some();
    let mut stale = Vec::new();
    let subs = generator::shipped()
        .into_iter()
        .map(|(m, tp, s)| trace::generate(m, tp, s, trace::DEFAULT_TOKENS).unwrap());
    let layers = generator::shipped_layers()
        .into_iter()
        .map(|(m, tp)| trace::generate_layer(m, tp, trace::DEFAULT_TOKENS).unwrap());
    for t in subs.chain(layers) {
        let path = traces_dir().join(format!("{}.json", t.name));
        let want = trace::to_json(&t);
        if bless {
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            _ => stale.push(path.display().to_string()),
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing (rerun with T3SIM_BLESS=1): {stale:?}"
    );
}

#[test]
fn every_shipped_trace_loads_and_round_trips() {
    if std::env::var_os("T3SIM_BLESS").is_some() {
        return; // the files are being rewritten concurrently
    }
    let mut count = 0;
    for entry in std::fs::read_dir(traces_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let t = trace::load(&path).unwrap();
            assert_eq!(trace::to_json(&t), std::fs::read_to_string(&path).unwrap());
            assert_eq!(
                format!("{}.json", t.name),
                path.file_name().unwrap().to_str().unwrap()
            );
            count += 1;
        }
    }
    assert_eq!(count, 33);
}

#[test]
fn sub_layers_stay_version_1_and_layers_are_version_2() {
    for (m, tp, s) in generator::shipped() {
        let t = trace::generate(m, tp, s, trace::DEFAULT_TOKENS).unwrap();
        assert_eq!(t.version, 1, "{}", t.name);
    }
    let names: Vec<String> = generator::shipped_layers()
        .into_iter()
        .map(|(m, tp)| {
            let t = trace::generate_layer(m, tp, trace::DEFAULT_TOKENS).unwrap();
            assert_eq!(t.version, 2, "{}", t.name);
            t.name
        })
        .collect();
    assert_eq!(
        names,
        [
            "mega-gpt2-tp8-layer",
            "tnlg-tp8-layer",
            "gpt3-tp32-layer",
            "palm-tp32-layer",
            "mtnlg-tp32-layer"
        ]
    );
}

#[test]
fn shipped_file_names_follow_model_tp_sublayer() {
    let names: Vec<String> = generator::shipped()
        .into_iter()
        .map(|(m, tp, s)| generator::trace_name(m, tp, s, trace::DEFAULT_TOKENS))
        .collect();
    assert!(names.contains(&"tnlg-tp8-fc2".to_string()));
    assert!(names.contains(&"mega-gpt2-tp16-ip".to_string()));
    assert!(names.contains(&"mtnlg-tp32-op".to_string()));
    assert!(!names.iter().any(|n| n.starts_with("gpt3-tp8")));
}
