//! `t3sim trace check`: validate traces, one summary line per file.
//!
//! Every file is checked even after a bad one, so one run lists every
//! problem; the exit code is 2 if any file is invalid.

use super::progress::{self, Ui};
use clap::Args;
use std::path::PathBuf;
use t3sim::trace::{self, Trace};

pub const EXAMPLES: &str = "Examples:
  t3sim trace check traces/tnlg-tp8-fc2.json
  t3sim trace check traces/*.json
  t3sim -q trace check my.json && echo valid     # exit 2 names file:line:column and field

Each valid file prints: name, tp, the GEMM (M x N x K, dtype, tile), the
bytes each device reduce-scatters, and one RS chunk (bytes / tp).";

/// Arguments of `trace check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Trace files (JSON, format in traces/README.md).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

pub fn run(a: CheckArgs, _ui: &Ui) -> anyhow::Result<()> {
    let mut out = String::new();
    let mut bad: Vec<t3sim::Error> = Vec::new();
    for f in &a.files {
        match trace::load(f) {
            Ok(t) => {
                out.push_str(&format!("{}: ok  {}\n", f.display(), summary(&t)));
            }
            Err(e) => {
                // Results so far first, so the error lands after the files
                // that preceded it.
                progress::stdout(&std::mem::take(&mut out))?;
                eprintln!("error: {e}");
                bad.push(e);
            }
        }
    }
    progress::stdout(&out)?;
    match bad.len() {
        0 => Ok(()),
        n => Err(super::input_error(
            "trace check",
            "",
            format!(
                "{n} of {} trace files are invalid (errors above)",
                a.files.len()
            ),
        )),
    }
}

/// `tnlg-tp8-fc2  tp 8  gemm fc2 8192 x 4256 x 2128 fp16 ...`.
fn summary(t: &Trace) -> String {
    let gemm = match t.gemm() {
        Some(g) => format!(
            "gemm `{}` M x N x K = {} x {} x {} {} (tile {}x{}x{})",
            g.name,
            g.m,
            g.n,
            g.k,
            serde_json::to_value(g.dtype)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            g.tile_m,
            g.tile_n,
            g.tile_k
        ),
        None => "no gemm".to_string(),
    };
    let sizes = match (t.output_bytes(), t.chunk_bytes()) {
        (Some(o), Some(c)) => format!("output {}  chunk {}", super::bytes(o), super::bytes(c)),
        _ => "no reduce-scatter".to_string(),
    };
    let kinds: Vec<&str> = t.ops.iter().map(|o| o.kind()).collect();
    let devices = if t.is_symmetric() {
        String::new()
    } else {
        format!("  {} device overrides", t.devices.len())
    };
    format!(
        "{}  tp {}  {}  {}  ops {}{devices}",
        t.name,
        t.tp,
        gemm,
        sizes,
        kinds.join(", ")
    )
}
