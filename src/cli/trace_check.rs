//! `t3sim trace check`: validate traces, one summary line per file.
//!
//! Every file is checked even after a bad one, so one run lists every
//! problem; the exit code is 2 if any file is invalid.

use super::progress::{self, Ui};
use clap::Args;
use std::path::PathBuf;
use t3sim::trace::{self, ComputeNode, Dtype, OpGraph, OpKind, Trace};

pub const EXAMPLES: &str = "Examples:
  t3sim trace check traces/tnlg-tp8-fc2.json
  t3sim trace check traces/*.json
  t3sim -q trace check my.json && echo valid     # exit 2 names file:line:column and field

Each valid file prints a line with its name, version, tp and ops per kind, then
its groups and one line per op in the order the engine runs them: a GEMM's
shape, a collective's bytes per device before and after (and its chunk), a
compute op's time or FLOPs and bytes, a transfer's devices and size, and what
each op waits for.";

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
        match trace::load(f).and_then(|t| OpGraph::new(&t).map(|g| (t, g))) {
            Ok((t, g)) => {
                out.push_str(&format!("{}: ok  {}", f.display(), summary(&t, &g)));
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

/// Devices as `0-7`, `3` or `0,2,4`.
pub(super) fn devices_text(d: &[u32]) -> String {
    match d {
        [] => "none".into(),
        [only] => only.to_string(),
        [first, .., last] if (*last - *first) as usize + 1 == d.len() => {
            format!("{first}-{last}")
        }
        _ => d.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
    }
}

fn dtype(d: Dtype) -> &'static str {
    match d {
        Dtype::Fp16 => "fp16",
        Dtype::Bf16 => "bf16",
    }
}

/// The header line, the groups, and one line per op.
fn summary(t: &Trace, g: &OpGraph) -> String {
    let kinds: Vec<String> = g
        .kind_counts()
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    let devices = if t.is_symmetric() {
        String::new()
    } else {
        format!("  {} device overrides", t.devices.len())
    };
    let mut s = format!(
        "{}  version {}  tp {}  {} op{}: {}{devices}\n",
        t.name,
        t.version,
        t.tp,
        g.len(),
        if g.len() == 1 { "" } else { "s" },
        kinds.join(", ")
    );
    for grp in g.groups() {
        s.push_str(&format!(
            "  group {}: devices {}\n",
            grp.name,
            devices_text(&grp.devices)
        ));
    }
    let width = g.ops().iter().map(|o| o.name.len()).max().unwrap_or(0);
    for o in g.ops() {
        let what = match &o.kind {
            OpKind::Gemm(n) => {
                let x = &n.gemm;
                let input = n
                    .input
                    .map(|i| format!(", A = output of `{}`", g.op(i).name))
                    .unwrap_or_default();
                format!(
                    "M x N x K = {} x {} x {} {} (tile {}x{}x{}){input}",
                    x.m,
                    x.n,
                    x.k,
                    dtype(x.dtype),
                    x.tile_m,
                    x.tile_n,
                    x.tile_k
                )
            }
            OpKind::Collective(c) => {
                let of = c
                    .input
                    .map(|i| format!(" of `{}`", g.op(i).name))
                    .unwrap_or_default();
                format!(
                    "per device: in {}, out {}, chunk {}{of}",
                    super::bytes(c.input_bytes),
                    super::bytes(c.output_bytes),
                    super::bytes(c.chunk_bytes)
                )
            }
            OpKind::Compute(ComputeNode::Fixed { duration_ns }) => {
                format!("fixed {duration_ns} ns")
            }
            OpKind::Compute(ComputeNode::Roofline { flops, bytes }) => format!(
                "roofline: {flops} FLOPs, {} per device",
                super::bytes(*bytes)
            ),
            OpKind::Send(x) | OpKind::Recv(x) => format!(
                "{} from device {} to device {}, tag {}",
                super::bytes(x.bytes),
                x.src,
                x.dst,
                x.tag
            ),
        };
        let on = match &o.group {
            Some(grp) => format!("group {grp}"),
            None => format!("devices {}", devices_text(&o.devices)),
        };
        let input = match &o.kind {
            OpKind::Gemm(n) => n.input,
            OpKind::Collective(c) => c.input,
            _ => None,
        };
        let names: Vec<String> = o
            .deps
            .iter()
            .filter(|&&d| Some(d) != input)
            .map(|&d| format!("`{}`", g.op(d).name))
            .collect();
        let after = if names.is_empty() {
            String::new()
        } else {
            format!("; after {}", names.join(", "))
        };
        s.push_str(&format!(
            "  {:<14} {:<width$}  on {on}: {what}{after}\n",
            o.kind_name(),
            o.name
        ));
    }
    s
}
