//! `t3sim trace import`: MLCommons Chakra execution traces to a t3sim trace.
//!
//! Decisions:
//! - The trace goes where `trace gen` puts it: `--out FILE`, else stdout.
//!   The import report goes to stderr, so it never mixes with the JSON.
//! - The mapped nodes are a note (hidden by `--quiet`); the unsupported
//!   nodes are a warning and always listed, one line each (rank, node
//!   index, id, name, reason), never summarised away.
//! - Nothing mappable is an input error (exit 2) after the list is printed:
//!   there is nothing to simulate. Some nodes unsupported is a warning
//!   (exit 0), or an error with `--strict`.

use super::progress::{self, Ui};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use t3sim::trace::{self, ChakraImport};

pub const EXAMPLES: &str = "Examples:
  t3sim trace import --chakra et/all_reduce --out all_reduce.json   # et/all_reduce.{0,1,...}.et
  t3sim trace import --chakra et/                                  # a directory holding one set
  t3sim trace import --chakra et/llm.0.et --strict --out llm.json   # any rank file names the set

Maps ALL_REDUCE to reduce-scatter + all-gather, REDUCE_SCATTER and ALL_GATHER
to their op, GEMM-like compute nodes with [M,K],[K,N] shapes to gemm; tp is the
number of ranks. Every other node is listed as unsupported by rank, node index,
id, name and reason. Exit 2 when nothing maps (or, with --strict, when anything
does not), or when a file is corrupt.";

/// Arguments of `trace import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Chakra ET set: the prefix of `<PREFIX>.<rank>.et` (gzip accepted),
    /// one of those files, or a directory holding exactly one set.
    #[arg(long, value_name = "PREFIX")]
    pub chakra: PathBuf,
    /// Write the trace here instead of stdout (`-` is stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Fail (exit 2) when any node is unsupported, not only when none maps.
    #[arg(long)]
    pub strict: bool,
}

pub fn run(a: ImportArgs, ui: &Ui) -> anyhow::Result<()> {
    let spin = ui.spinner(&format!("importing {}", a.chakra.display()));
    let imp = trace::import(&a.chakra);
    spin.finish();
    let imp = imp?;
    ui.note(mapped_report(&imp, &a));
    if !imp.unsupported.is_empty() {
        ui.warn(unsupported_report(&imp));
    }
    let where_ = a.chakra.display().to_string();
    let Some(t) = &imp.trace else {
        return Err(super::input_error(
            where_,
            "",
            format!(
                "nothing to simulate: none of the {} nodes of the {} ranks maps to a t3sim op \
                 (see the list above); no trace written",
                imp.unsupported.len(),
                imp.ranks
            ),
        ));
    };
    if a.strict && !imp.unsupported.is_empty() {
        return Err(super::input_error(
            where_,
            "",
            format!(
                "--strict: {} nodes are unsupported (listed above); no trace written",
                imp.unsupported.len()
            ),
        ));
    }
    match &a.out {
        Some(p) if p.as_os_str() != "-" => {
            trace::save(t, p)?;
            ui.note(format!("wrote {}", p.display()));
        }
        _ => progress::stdout(&trace::to_json(t))?,
    }
    Ok(())
}

/// What was read and what it became.
fn mapped_report(imp: &ChakraImport, a: &ImportArgs) -> String {
    let mut s = String::new();
    let name = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let files = match (imp.files.first(), imp.files.last()) {
        (Some(f), Some(l)) => format!("{} .. {}", name(f), name(l)),
        _ => String::new(),
    };
    let _ = writeln!(
        s,
        "chakra      {}: {} ranks, Chakra ET {} ({files})",
        a.chakra.display(),
        imp.ranks,
        if imp.et_version.is_empty() {
            "version unknown"
        } else {
            &imp.et_version
        }
    );
    match &imp.trace {
        Some(t) => {
            let ops: Vec<String> = t
                .ops
                .iter()
                .map(|o| format!("{} ({})", o.name(), o.kind()))
                .collect();
            let _ = writeln!(
                s,
                "trace       {}: tp {}, {} ops: {}",
                t.name,
                t.tp,
                t.ops.len(),
                ops.join(", ")
            );
        }
        None => {
            let _ = writeln!(s, "trace       none (no node maps)");
        }
    }
    let _ = writeln!(
        s,
        "mapped      {} node{} (rank 0's; every rank holds the same sequence)",
        imp.mapped.len(),
        plural(imp.mapped.len())
    );
    for m in &imp.mapped {
        let _ = writeln!(
            s,
            "  node {} id {} `{}`: {} -> {}",
            m.index,
            m.id,
            m.name,
            m.what,
            m.ops.join(" + ")
        );
    }
    let _ = write!(
        s,
        "unsupported {} node{}",
        imp.unsupported.len(),
        plural(imp.unsupported.len())
    );
    s
}

/// Every node that was not imported, as an aligned table.
fn unsupported_report(imp: &ChakraImport) -> String {
    let n = imp.unsupported.len();
    let ranks: std::collections::BTreeSet<u32> = imp.unsupported.iter().map(|u| u.rank).collect();
    let mut rows = vec![[
        "rank".to_string(),
        "node".to_string(),
        "id".to_string(),
        "name".to_string(),
        "reason".to_string(),
    ]];
    for u in &imp.unsupported {
        rows.push([
            u.rank.to_string(),
            u.index.to_string(),
            u.id.to_string(),
            u.name.clone(),
            u.reason.clone(),
        ]);
    }
    let mut w = [0usize; 4];
    for r in &rows {
        for (i, c) in r.iter().take(4).enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut s = format!(
        "{n} node{} on {} rank{} not imported (t3sim has no equivalent):",
        plural(n),
        ranks.len(),
        plural(ranks.len())
    );
    for r in &rows {
        let _ = write!(
            s,
            "\n  {:>w0$}  {:>w1$}  {:>w2$}  {:w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
