//! `t3sim trace import`: MLCommons Chakra execution traces to a t3sim trace.
//!
//! Decisions:
//! - The trace goes where `trace gen` puts it: `--out FILE`, else stdout.
//!   The import report goes to stderr, so it never mixes with the JSON.
//! - The mapped nodes are a note (hidden by `--quiet`); the unsupported
//!   nodes are always listed, one line each (rank, node index, id, name,
//!   reason), never summarised away.
//! - Any node that cannot be mapped is an input error (exit 2, no trace
//!   written): t3sim never simulates less than its input. `--drop-unsupported`
//!   writes the rest, the dropped nodes listed in the trace's
//!   `meta.dropped` and printed as a warning. Nothing mappable at all is an
//!   input error either way.

use super::progress::{self, Ui};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use t3sim::trace::{self, ChakraImport, OpGraph};

pub const EXAMPLES: &str = "Examples:
  t3sim trace import --chakra et/all_reduce --out all_reduce.json   # et/all_reduce.{0,1,...}.et
  t3sim trace import --chakra et/                                  # a directory holding one set
  t3sim trace import --chakra et/llm.0.et --comm-groups groups.json --out llm.json
  t3sim trace import --chakra et/llm --drop-unsupported --out llm.json

Maps ALL_REDUCE, REDUCE_SCATTER, ALL_GATHER and ALL_TO_ALL to their collective
with ASTRA-sim's size meaning (comm_size is each rank's input: an all-gather
gathers comm_size x ranks), process groups (pg_name) to groups, sends and
receives to send / recv, GPU matrix multiplies with [M,K],[K,N] shapes to
gemm and every other compute node to compute of its duration; tp is the number
of ranks. traces/README.md has the table. Any node that cannot be mapped is
listed by rank, node index, id, name and reason, and the import exits 2 unless
--drop-unsupported.";

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
    /// Process groups in ASTRA-sim's communicator-group format
    /// (`{"<pg_name>": [ranks], ...}`), for `pg_name`s no metadata node
    /// defines.
    #[arg(long, value_name = "FILE")]
    pub comm_groups: Option<PathBuf>,
    /// Write the trace without the nodes that cannot be mapped (listed in
    /// its `meta.dropped` and printed) instead of failing.
    #[arg(long)]
    pub drop_unsupported: bool,
}

pub fn run(a: ImportArgs, ui: &Ui) -> anyhow::Result<()> {
    let spin = ui.spinner(&format!("importing {}", a.chakra.display()));
    let opts = trace::ImportOptions {
        comm_groups: a.comm_groups.clone(),
    };
    let imp = trace::chakra::import_with(&a.chakra, &opts);
    spin.finish();
    let imp = imp?;
    ui.note(mapped_report(&imp, &a));
    let where_ = a.chakra.display().to_string();
    if !imp.unsupported.is_empty() {
        if a.drop_unsupported && imp.trace.is_some() {
            ui.warn(format!(
                "{} (dropped: listed in the trace's meta.dropped)",
                unsupported_report(&imp)
            ));
        } else {
            eprintln!("{}", unsupported_report(&imp));
        }
    }
    let Some(t) = &imp.trace else {
        return Err(super::input_error(
            where_,
            "",
            format!(
                "nothing to simulate: none of the nodes of the {} ranks maps to a t3sim op \
                 (see the list above); no trace written",
                imp.ranks
            ),
        ));
    };
    if !a.drop_unsupported && !imp.unsupported.is_empty() {
        return Err(super::input_error(
            where_,
            "",
            format!(
                "{} node{} cannot be mapped (listed above by rank, node, id and name); no trace \
                 written. Pass --drop-unsupported to write the rest (the dropped nodes are \
                 recorded in meta.dropped)",
                imp.unsupported.len(),
                plural(imp.unsupported.len())
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
    let graph = imp.trace.as_ref().and_then(|t| OpGraph::new(t).ok());
    match (&imp.trace, &graph) {
        (Some(t), Some(g)) => {
            let kinds: Vec<String> = g
                .kind_counts()
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            let _ = writeln!(
                s,
                "trace       {}: tp {}, {} op{} ({}), {} group{}",
                t.name,
                t.tp,
                t.ops.len(),
                plural(t.ops.len()),
                kinds.join(", "),
                t.groups.len(),
                plural(t.groups.len())
            );
        }
        _ => {
            let _ = writeln!(s, "trace       none (no node maps)");
        }
    }
    let ops = imp.mapped.iter().filter(|m| !m.ops.is_empty()).count();
    let nodes: usize = imp
        .mapped
        .iter()
        .filter(|m| !m.ops.is_empty())
        .map(|m| m.ranks.len())
        .sum();
    let meta: usize = imp
        .mapped
        .iter()
        .filter(|m| m.ops.is_empty())
        .map(|m| m.ranks.len())
        .sum();
    let meta = if meta == 0 {
        String::new()
    } else {
        format!(", and {meta} metadata node{} (no op)", plural(meta))
    };
    let _ = writeln!(
        s,
        "mapped      {ops} op{} from {nodes} node{}{meta}",
        plural(ops),
        plural(nodes)
    );
    for m in &imp.mapped {
        let became = match m.ops.as_slice() {
            [] => "no op".to_string(),
            ops => ops
                .iter()
                .map(|o| op_text(graph.as_ref(), o))
                .collect::<Vec<_>>()
                .join(" + "),
        };
        let _ = writeln!(
            s,
            "  ranks {} node {} id {} `{}`: {} -> {became}",
            super::trace_check::devices_text(&m.ranks),
            m.index,
            m.id,
            m.name,
            m.what,
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

/// `all-gather `x` (1048576 B -> 4194304 B per device)`.
fn op_text(g: Option<&OpGraph>, name: &str) -> String {
    let Some(o) = g.and_then(|g| g.index_of(name).map(|i| g.op(i))) else {
        return format!("`{name}`");
    };
    match o.collective() {
        Some(c) => format!(
            "{} `{name}` ({} B -> {} B per device)",
            o.kind_name(),
            c.input_bytes,
            c.output_bytes
        ),
        None => format!("{} `{name}`", o.kind_name()),
    }
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
        "{n} node{} on {} rank{} cannot be mapped:",
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
