//! Import of MLCommons Chakra execution traces (ET).
//!
//! A Chakra workload is one file per rank, `<prefix>.<rank>.et`: a stream
//! of varint-length-prefixed protobuf messages, a `GlobalMetadata` then the
//! `Node`s (see [`proto`]), optionally gzip-compressed (detected by magic
//! bytes). [`import`] reads every rank and maps the nodes onto one
//! [`Trace`] with `tp` = number of ranks (traces/README.md, "Imported
//! traces", has the table with the ASTRA-sim and Chakra code each row was
//! checked against):
//!
//! | Chakra node | t3sim op |
//! |---|---|
//! | `COMM_COLL_NODE` ALL_REDUCE | `all-reduce` of `comm_size` bytes |
//! | `COMM_COLL_NODE` REDUCE_SCATTER | `reduce-scatter` of `comm_size` bytes (each rank keeps `comm_size / n`) |
//! | `COMM_COLL_NODE` ALL_GATHER | `all-gather` into `comm_size x n` bytes (each rank contributes `comm_size`) |
//! | `COMM_COLL_NODE` ALL_TO_ALL | `all-to-all` of `comm_size` bytes (`comm_size / n` to each rank) |
//! | `pg_name` | the collective's `group` (process groups from `process_group:init` metadata or a communicator-group file) |
//! | `COMM_SEND_NODE` / `COMM_RECV_NODE` | `send` / `recv` (`comm_src`, `comm_dst`, `comm_tag`, `comm_size`) |
//! | `COMP_NODE`, a matrix multiply on the GPU with `[M, K], [K, N]` operand shapes | `gemm` |
//! | any other `COMP_NODE` | `compute` of its duration (or of `num_ops` and `tensor_size` when it has no duration) |
//! | `METADATA_NODE` | no op (process groups) |
//!
//! A collective whose GEMM produced exactly its buffer takes it as `input`.
//! Every other node (other collectives, memory nodes, a collective on an
//! unknown process group, a size that does not split into whole lines) is
//! listed in [`ChakraImport::unsupported`] with its rank, index, id, name
//! and reason; the caller refuses the import unless it drops them, and the
//! trace's `meta.dropped` lists them. Dependencies between mapped nodes
//! are kept, including those that run through unmapped nodes.

mod classify;
mod groups;
mod merge;
pub mod proto;
mod read;

use super::schema::Trace;
use crate::error::{InputError, Result};
use std::path::{Path, PathBuf};

/// Largest file (compressed or not) or decompressed stream accepted.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Most nodes accepted per rank (a zero-length message is a valid node, so
/// this bounds memory independently of the file size).
pub const MAX_NODES: usize = 1 << 22;

/// How to import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// A communicator-group file in ASTRA-sim's format
    /// (`{"<pg_name>": [ranks], ..}`) naming the ranks of process groups
    /// that no metadata node defines.
    pub comm_groups: Option<PathBuf>,
}

/// What [`import`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ChakraImport {
    /// The per-rank files, in rank order.
    pub files: Vec<PathBuf>,
    /// Number of ranks (= the trace's `tp`).
    pub ranks: u32,
    /// `GlobalMetadata.version` of rank 0 (e.g. `0.0.4`).
    pub et_version: String,
    /// The replayable part; `None` when no node maps to an op. When nodes
    /// were unsupported, its `meta.dropped` lists them.
    pub trace: Option<Trace>,
    /// The nodes that became ops (one entry per op, with every rank whose
    /// node it merges) or process groups (metadata, no op).
    pub mapped: Vec<MappedNode>,
    /// Every node of every rank that did not become an op.
    pub unsupported: Vec<UnsupportedNode>,
}

/// Nodes mapped onto one trace op (or, for metadata, onto none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedNode {
    /// The ranks whose nodes the op merges, ascending.
    pub ranks: Vec<u32>,
    /// Position of the first rank's node in its file's node stream (0 =
    /// first node after metadata).
    pub index: usize,
    /// Its Chakra node id.
    pub id: u64,
    /// Its Chakra node name.
    pub name: String,
    /// What the node is, in Chakra's terms, e.g. `ALL_REDUCE of 1048576 B`.
    pub what: String,
    /// Names of the ops made from it (none for metadata).
    pub ops: Vec<String>,
}

/// A node that has no t3sim equivalent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedNode {
    /// The rank whose file holds the node.
    pub rank: u32,
    /// Position in the rank's node stream.
    pub index: usize,
    /// Chakra node id.
    pub id: u64,
    /// Chakra node name.
    pub name: String,
    /// Why t3sim cannot replay it.
    pub reason: String,
}

/// Imports the Chakra ET at `prefix`: files `<prefix>.0.et`, `<prefix>.1.et`,
/// ... up to the first missing rank. `prefix` may also be one of those
/// files, or a directory holding exactly one such set.
pub fn import(prefix: &Path) -> Result<ChakraImport> {
    import_with(prefix, &ImportOptions::default())
}

/// [`import`] with options.
pub fn import_with(prefix: &Path, opts: &ImportOptions) -> Result<ChakraImport> {
    let (stem, files) = read::rank_files(prefix)?;
    let ranks = u32::try_from(files.len()).unwrap_or(u32::MAX);
    if ranks < 2 {
        return Err(InputError::file(
            &files[0],
            "a ring needs at least 2 ranks, but only rank 0's file exists",
        )
        .into());
    }
    let mut unsupported = Vec::new();
    let mut decoded = Vec::with_capacity(files.len());
    let mut et_version = String::new();
    for (rank, path) in (0u32..).zip(&files) {
        let (meta, nodes) = read::read_et(path)?;
        if rank == 0 {
            et_version = meta.version.clone();
        }
        let mut seen = std::collections::HashMap::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            if let Some(first) = seen.insert(n.id, i) {
                return Err(read::file_error(
                    path,
                    format!("nodes[{i}]"),
                    format!("node id {} is also used by nodes[{first}]", n.id),
                ));
            }
        }
        let items: Vec<_> = nodes
            .iter()
            .map(|n| classify::classify(n, rank, ranks))
            .collect();
        for (index, (node, item)) in nodes.iter().zip(&items).enumerate() {
            if let Err(reason) = item {
                unsupported.push(UnsupportedNode {
                    rank,
                    index,
                    id: node.id,
                    name: node.name.clone(),
                    reason: reason.clone(),
                });
            }
        }
        decoded.push(merge::RankFile {
            path: path.clone(),
            nodes,
            items,
        });
    }
    let pgs = process_groups(&decoded, ranks, opts)?;
    let merged = merge::merge(&decoded, &pgs)?;
    unsupported.extend(merged.unsupported);
    unsupported.sort_by_key(|u| (u.rank, u.index));
    let trace = if merged.ops.is_empty() {
        None
    } else {
        let file_names: Vec<String> = files
            .iter()
            .map(|f| {
                f.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let mut meta = serde_json::json!({
            "source": "chakra",
            "et_version": et_version,
            "files": file_names,
            "nodes": decoded.iter().map(|r| r.nodes.len()).collect::<Vec<_>>(),
        });
        if !pgs.is_empty() {
            meta["process_groups"] = serde_json::json!(pgs);
        }
        if !unsupported.is_empty() {
            meta["dropped"] = unsupported
                .iter()
                .map(|u| {
                    serde_json::json!({
                        "rank": u.rank, "node": u.index, "id": u.id,
                        "name": u.name, "reason": u.reason,
                    })
                })
                .collect();
        }
        let mut t = Trace {
            version: 2,
            name: stem.clone(),
            tp: ranks,
            groups: merged.groups,
            ops: merged.ops,
            devices: Vec::new(),
            meta: Some(meta),
        };
        t.version = t.required_version();
        super::validate(&t, &files[0].display().to_string())?;
        Some(t)
    };
    Ok(ChakraImport {
        files,
        ranks,
        et_version,
        trace,
        mapped: merged.mapped,
        unsupported,
    })
}

/// Process groups from the metadata nodes of every rank and from the
/// communicator-group file; a name defined twice must agree.
fn process_groups(
    files: &[merge::RankFile],
    ranks: u32,
    opts: &ImportOptions,
) -> Result<groups::Groups> {
    let mut out = match &opts.comm_groups {
        Some(p) => groups::from_file(p, ranks)?,
        None => groups::Groups::new(),
    };
    for r in files {
        for (i, item) in r.items.iter().enumerate() {
            let Ok(classify::Item::Meta(pgs)) = item else {
                continue;
            };
            for (name, devices) in pgs {
                match out.get(name) {
                    Some(d) if d != devices => {
                        return Err(read::file_error(
                            &r.path,
                            format!("nodes[{i}]"),
                            format!(
                                "process group `{name}` has ranks {} here but ranks {} elsewhere",
                                groups::ranks_text(devices),
                                groups::ranks_text(d)
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        out.insert(name.clone(), devices.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}
