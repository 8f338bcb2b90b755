//! Import of MLCommons Chakra execution traces (ET).
//!
//! A Chakra workload is one file per rank, `<prefix>.<rank>.et`: a stream
//! of varint-length-prefixed protobuf messages, a `GlobalMetadata` then the
//! `Node`s (see [`proto`]), optionally gzip-compressed (detected by magic
//! bytes). [`import`] reads every rank and maps what t3sim can replay onto
//! one [`Trace`] with `tp` = number of ranks:
//!
//! | Chakra node | t3sim ops |
//! |---|---|
//! | `COMM_COLL_NODE`, `comm_type` REDUCE_SCATTER or REDUCE_SCATTER_BLOCK | `reduce-scatter` of `comm_size` bytes (or of the GEMM it follows, when that GEMM's output is exactly `comm_size`) |
//! | `COMM_COLL_NODE`, `comm_type` ALL_REDUCE | `reduce-scatter` + `all-gather` of `comm_size` bytes |
//! | `COMM_COLL_NODE`, `comm_type` ALL_GATHER | `all-gather` into a `comm_size`-byte buffer |
//! | `COMP_NODE` named like a GEMM (`mm`, `matmul`, `gemm`, `linear`) whose `inputs.shapes` hold `[M, K], [K, N]` | `gemm` |
//!
//! `comm_size` is read as the full per-device buffer (the RS input, the AG
//! output), as ASTRA-sim does. Every other node (other collectives, send
//! and receive, memory, metadata, non-GEMM compute, and any node whose size
//! t3sim cannot split into `tp` chunks) is listed in
//! [`ChakraImport::unsupported`] with its rank, index, id, name and reason,
//! never dropped silently. Dependencies between mapped nodes are kept,
//! including those that run through unsupported nodes.
//!
//! Ranks must agree on the sequence of mapped nodes (t3sim replays one
//! program on every device); node ids and unsupported nodes may differ.
//! When no node maps, the import succeeds with `trace: None` and the
//! unsupported list says why; the caller decides whether that is an error.

pub mod proto;

use super::generator::{tile_k_for, tile_m_for, tile_n_for};
use super::schema::{
    AllGatherOp, Dtype, GemmOp, MAX_TP, Op, ReduceScatterOp, TRACE_VERSION, Trace,
};
use crate::error::{InputError, Location, Result};
use prost::Message;
use proto::{CollectiveCommType, GlobalMetadata, Node, NodeType};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest file (compressed or not) or decompressed stream accepted.
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Most nodes accepted per rank (a zero-length message is a valid node, so
/// this bounds memory independently of the file size).
pub const MAX_NODES: usize = 1 << 22;

/// What [`import`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct ChakraImport {
    /// The per-rank files, in rank order.
    pub files: Vec<PathBuf>,
    /// Number of ranks (= the trace's `tp`).
    pub ranks: u32,
    /// `GlobalMetadata.version` of rank 0 (e.g. `0.0.4`).
    pub et_version: String,
    /// The replayable part; `None` when no node could be mapped.
    pub trace: Option<Trace>,
    /// Rank 0's nodes that became ops.
    pub mapped: Vec<MappedNode>,
    /// Every node of every rank that did not become an op.
    pub unsupported: Vec<UnsupportedNode>,
}

/// A node of rank 0 mapped onto trace ops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedNode {
    /// Position in the file's node stream (0 = first node after metadata).
    pub index: usize,
    /// Chakra node id (rank 0's).
    pub id: u64,
    /// Chakra node name.
    pub name: String,
    /// What the node is, e.g. `ALL_REDUCE of 1048576 B`.
    pub what: String,
    /// Names of the ops made from it (two for an all-reduce).
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

/// What one node maps to; equal kinds on every rank make a valid SPMD trace.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Gemm(GemmOp),
    ReduceScatter { bytes: u64, comm: &'static str },
    AllReduce { bytes: u64 },
    AllGather { bytes: u64 },
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Gemm(g) => format!("GEMM M={} N={} K={} {:?}", g.m, g.n, g.k, g.dtype),
            Kind::ReduceScatter { bytes, comm } => format!("{comm} of {bytes} B"),
            Kind::AllReduce { bytes } => format!("ALL_REDUCE of {bytes} B"),
            Kind::AllGather { bytes } => format!("ALL_GATHER of {bytes} B"),
        }
    }
}

/// One decoded rank file.
struct RankFile {
    meta: GlobalMetadata,
    nodes: Vec<Node>,
    kinds: Vec<std::result::Result<Kind, String>>,
}

/// Imports the Chakra ET at `prefix`: files `<prefix>.0.et`, `<prefix>.1.et`,
/// ... up to the first missing rank. `prefix` may also be one of those
/// files, or a directory holding exactly one such set.
pub fn import(prefix: &Path) -> Result<ChakraImport> {
    let (stem, files) = rank_files(prefix)?;
    let ranks = u32::try_from(files.len()).unwrap_or(u32::MAX);
    if ranks < 2 {
        return Err(InputError::file(
            &files[0],
            "a ring needs at least 2 ranks, but only rank 0's file exists",
        )
        .into());
    }
    let mut unsupported = Vec::new();
    let mut first: Option<RankFile> = None;
    for (rank, path) in (0u32..).zip(&files) {
        let (meta, nodes) = read_et(path)?;
        let kinds: Vec<_> = nodes.iter().map(|n| classify(n, ranks)).collect();
        for (index, (node, kind)) in nodes.iter().zip(&kinds).enumerate() {
            if let Err(reason) = kind {
                unsupported.push(UnsupportedNode {
                    rank,
                    index,
                    id: node.id,
                    name: node.name.clone(),
                    reason: reason.clone(),
                });
            }
        }
        let file = RankFile { meta, nodes, kinds };
        match &first {
            None => first = Some(file),
            Some(r0) => same_program(r0, &file, path)?,
        }
    }
    let Some(r0) = first else {
        return Err(InputError::file(prefix, "no Chakra rank files found").into());
    };
    let (trace, mapped) = build(&r0, &stem, &files, ranks)?;
    Ok(ChakraImport {
        files,
        ranks,
        et_version: r0.meta.version.clone(),
        trace,
        mapped,
        unsupported,
    })
}

/// `X.<rank>.et` -> (`X`, rank), for canonical rank numbers only.
fn split_rank_name(name: &str) -> Option<(&str, u32)> {
    let base = name.strip_suffix(".et")?;
    let (stem, rank) = base.rsplit_once('.')?;
    let r: u32 = rank.parse().ok()?;
    (r.to_string() == rank && !stem.is_empty()).then_some((stem, r))
}

fn rank_files(prefix: &Path) -> Result<(String, Vec<PathBuf>)> {
    if prefix.is_dir() {
        let entries = std::fs::read_dir(prefix)
            .map_err(|e| InputError::file(prefix, format!("cannot read directory: {e}")))?;
        let mut sets: BTreeMap<String, BTreeMap<u32, PathBuf>> = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some((stem, rank)) = name.to_str().and_then(split_rank_name) {
                sets.entry(stem.to_string())
                    .or_default()
                    .insert(rank, entry.path());
            }
        }
        let mut it = sets.into_iter();
        let Some((stem, set)) = it.next() else {
            return Err(InputError::file(
                prefix,
                "directory holds no Chakra files named <name>.<rank>.et",
            )
            .into());
        };
        if let Some((other, _)) = it.next() {
            return Err(InputError::file(
                prefix,
                format!("directory holds more than one Chakra trace (`{stem}`, `{other}`); give a prefix"),
            )
            .into());
        }
        if set.len() > MAX_TP as usize {
            return Err(InputError::file(prefix, format!("more than {MAX_TP} ranks")).into());
        }
        let mut files = Vec::with_capacity(set.len());
        for (expect, (rank, path)) in (0u32..).zip(set) {
            if rank != expect {
                return Err(InputError::file(
                    prefix,
                    format!("rank {expect} is missing (found rank {rank}): expected `{stem}.{expect}.et`"),
                )
                .into());
            }
            files.push(path);
        }
        return Ok((stem, files));
    }
    // A rank file itself (`x/all_reduce.0.et`) stands for its prefix.
    let own = prefix.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (dir, stem) = match split_rank_name(own) {
        Some((stem, _)) if prefix.is_file() => (prefix.parent(), stem.to_string()),
        _ => (prefix.parent(), own.to_string()),
    };
    if stem.is_empty() {
        return Err(InputError::file(prefix, "not a Chakra trace prefix").into());
    }
    let dir = dir.unwrap_or(Path::new(""));
    let mut files = Vec::new();
    for rank in 0..=MAX_TP {
        let path = dir.join(format!("{stem}.{rank}.et"));
        if !path.is_file() {
            break;
        }
        if rank == MAX_TP {
            return Err(InputError::file(prefix, format!("more than {MAX_TP} ranks")).into());
        }
        files.push(path);
    }
    if files.is_empty() {
        return Err(InputError::file(
            prefix,
            format!(
                "no Chakra file `{}` (expected <prefix>.<rank>.et for ranks 0, 1, ...)",
                dir.join(format!("{stem}.0.et")).display()
            ),
        )
        .into());
    }
    Ok((stem, files))
}

fn file_error(path: &Path, field: impl Into<String>, msg: impl Into<String>) -> crate::Error {
    InputError::new(Location::file(path.display().to_string()), field, msg).into()
}

/// Reads one rank file: the metadata message and the nodes.
fn read_et(path: &Path) -> Result<(GlobalMetadata, Vec<Node>)> {
    let size = std::fs::metadata(path)
        .map_err(|e| InputError::file(path, format!("cannot read file: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(file_error(
            path,
            "",
            format!("file of {size} B exceeds the limit of {MAX_FILE_BYTES} B"),
        ));
    }
    let raw = std::fs::read(path)
        .map_err(|e| InputError::file(path, format!("cannot read file: {e}")))?;
    if raw.is_empty() {
        return Err(file_error(
            path,
            "",
            "file is empty (expected a Chakra ET protobuf stream)",
        ));
    }
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        gunzip(path, &raw)?
    } else {
        raw
    };
    decode_stream(path, &data)
}

fn gunzip(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            file_error(
                path,
                "",
                format!("gzip-compressed file cannot be decompressed: {e}"),
            )
        })?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(file_error(
            path,
            "",
            format!("decompresses to more than {MAX_FILE_BYTES} B"),
        ));
    }
    if out.is_empty() {
        return Err(file_error(path, "", "gzip stream decompresses to nothing"));
    }
    Ok(out)
}

/// A protobuf base-128 varint at `pos`: (value, bytes used).
fn varint(data: &[u8], pos: usize) -> std::result::Result<(u64, usize), String> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let Some(&b) = data.get(pos + i) else {
            return Err("length prefix is cut off by the end of the file (truncated file?)".into());
        };
        if i == 9 && b > 1 {
            return Err("length prefix overflows 64 bits (corrupt varint)".into());
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err("length prefix is longer than 10 bytes (corrupt varint)".into())
}

fn decode_stream(path: &Path, data: &[u8]) -> Result<(GlobalMetadata, Vec<Node>)> {
    // The message at `pos`, bounds-checked before any decoding so a bogus
    // length can never make us allocate or read past the buffer.
    let message = |pos: usize, field: &str| -> Result<(&[u8], usize)> {
        let (len, used) = varint(data, pos)
            .map_err(|m| file_error(path, field, format!("byte offset {pos}: {m}")))?;
        let body = pos + used;
        let left = data.len() - body;
        if len > left as u64 {
            return Err(file_error(
                path,
                field,
                format!(
                    "byte offset {pos}: message length {len} exceeds the {left} bytes left in the file \
                     (truncated file or corrupt length prefix)"
                ),
            ));
        }
        // `len <= left`, so it fits in usize.
        let end = body + len as usize;
        Ok((&data[body..end], end))
    };
    let (body, mut pos) = message(0, "metadata")?;
    let meta = GlobalMetadata::decode(body).map_err(|e| {
        file_error(
            path,
            "metadata",
            format!("byte offset 0: not a Chakra GlobalMetadata message: {e}"),
        )
    })?;
    let mut nodes = Vec::new();
    while pos < data.len() {
        let i = nodes.len();
        let field = format!("nodes[{i}]");
        if i >= MAX_NODES {
            return Err(file_error(
                path,
                field,
                format!("more than {MAX_NODES} nodes"),
            ));
        }
        let start = pos;
        let (body, next) = message(pos, &field)?;
        let node = Node::decode(body).map_err(|e| {
            file_error(
                path,
                &field,
                format!("byte offset {start}: node {i} is not a valid Chakra Node: {e}"),
            )
        })?;
        nodes.push(node);
        pos = next;
    }
    Ok((meta, nodes))
}

/// Checks an op against the trace rules on its own (sizes, chunking).
fn probe(op: Op, tp: u32) -> std::result::Result<(), String> {
    let t = Trace {
        version: TRACE_VERSION,
        name: "probe".into(),
        tp,
        ops: vec![op],
        devices: Vec::new(),
        meta: None,
    };
    super::validate::check(&t).map_err(|(path, msg)| {
        let field = path.0.last().map(|s| match s {
            super::span::Seg::Key(k) => k.clone(),
            super::span::Seg::Index(i) => i.to_string(),
        });
        format!("{}: {msg}", field.unwrap_or_default())
    })
}

fn classify(node: &Node, tp: u32) -> std::result::Result<Kind, String> {
    let ty = NodeType::try_from(node.r#type)
        .map_err(|_| format!("unknown node type {}", node.r#type))?;
    match ty {
        NodeType::CommCollNode => collective(node, tp),
        NodeType::CompNode => gemm(node, tp).unwrap_or_else(|| {
            Err("compute node without GEMM shape information (t3sim replays GEMMs only)".into())
        }),
        other => Err(format!("{} has no t3sim equivalent", other.proto_name())),
    }
}

fn collective(node: &Node, tp: u32) -> std::result::Result<Kind, String> {
    let comm = node
        .attr("comm_type")
        .and_then(|a| a.as_int())
        .ok_or("collective without an integer `comm_type` attribute")?;
    let comm = i32::try_from(comm)
        .ok()
        .and_then(|c| CollectiveCommType::try_from(c).ok())
        .ok_or_else(|| format!("unknown comm_type {comm}"))?;
    let kind = |bytes| match comm {
        CollectiveCommType::ReduceScatter | CollectiveCommType::ReduceScatterBlock => {
            Ok(Kind::ReduceScatter {
                bytes,
                comm: comm.proto_name(),
            })
        }
        CollectiveCommType::AllReduce => Ok(Kind::AllReduce { bytes }),
        CollectiveCommType::AllGather => Ok(Kind::AllGather { bytes }),
        other => Err(format!(
            "collective {} has no t3sim equivalent (t3sim models REDUCE_SCATTER, ALL_REDUCE = \
             reduce-scatter + all-gather, and ALL_GATHER)",
            other.proto_name()
        )),
    };
    // Classify by type first: an ALL_TO_ALL is unsupported whatever its size.
    kind(0)?;
    let size = node
        .attr("comm_size")
        .and_then(|a| a.as_int())
        .ok_or_else(|| {
            format!(
                "{} without an integer `comm_size` attribute",
                comm.proto_name()
            )
        })?;
    let bytes = u64::try_from(size).map_err(|_| format!("comm_size {size} is negative"))?;
    let k = kind(bytes)?;
    let op = match &k {
        Kind::AllGather { bytes } => Op::AllGather(AllGatherOp {
            name: "x".into(),
            input: None,
            bytes: Some(*bytes),
            deps: Vec::new(),
        }),
        _ => Op::ReduceScatter(ReduceScatterOp {
            name: "x".into(),
            input: None,
            bytes: Some(bytes),
            deps: Vec::new(),
        }),
    };
    probe(op, tp).map_err(|m| format!("comm_size {m}"))?;
    Ok(k)
}

/// A GEMM from a compute node's name and operand shapes; `None` when the
/// node does not look like a GEMM at all.
fn gemm(node: &Node, tp: u32) -> Option<std::result::Result<Kind, String>> {
    let lname = node.name.to_ascii_lowercase();
    if !["mm", "matmul", "gemm", "linear"]
        .iter()
        .any(|k| lname.contains(k))
    {
        return None;
    }
    let inputs = node.inputs.as_ref()?;
    let shapes: serde_json::Value = serde_json::from_str(&inputs.shapes).ok()?;
    let dims: Vec<Option<[u64; 2]>> = shapes
        .as_array()?
        .iter()
        .map(|s| {
            let a = s.as_array()?;
            match a.as_slice() {
                [r, c] => Some([r.as_u64()?, c.as_u64()?]),
                _ => None,
            }
        })
        .collect();
    let linear = lname.contains("linear");
    let mnk = dims.windows(2).find_map(|w| match (w[0], w[1]) {
        (Some([m, k]), Some([k2, n])) if k == k2 => Some((m, n, k)),
        // nn.Linear: input [M, K], weight [N, K].
        (Some([m, k]), Some([n, k2])) if linear && k == k2 => Some((m, n, k)),
        _ => None,
    });
    let Some((m, n, k)) = mnk else {
        return Some(Err(format!(
            "GEMM-like compute node without operand shapes [M, K], [K, N] (inputs.shapes = {})",
            inputs.shapes
        )));
    };
    let types = inputs.types.to_ascii_lowercase();
    let dtype = if types.contains("bfloat16") || types.contains("bf16") {
        Dtype::Bf16
    } else if types.is_empty()
        || types.contains("half")
        || types.contains("float16")
        || types.contains("fp16")
    {
        Dtype::Fp16
    } else {
        return Some(Err(format!(
            "GEMM with element types {} (t3sim models FP16/BF16 outputs)",
            inputs.types
        )));
    };
    if m == 0 || m % u64::from(tp) != 0 {
        return Some(Err(format!(
            "GEMM with M = {m} does not split into tp = {tp} reduce-scatter chunks"
        )));
    }
    let Some(tile_m) = tile_m_for(m / u64::from(tp)) else {
        return Some(Err(format!(
            "GEMM chunks of M/tp = {} rows are not a multiple of 16 (no tile covers them)",
            m / u64::from(tp)
        )));
    };
    let g = GemmOp {
        name: "x".into(),
        m,
        n,
        k,
        dtype,
        tile_m,
        tile_n: tile_n_for(n),
        tile_k: tile_k_for(k),
        deps: Vec::new(),
    };
    Some(probe(Op::Gemm(g.clone()), tp).map(|()| Kind::Gemm(g)))
}

/// Ranks must run the same mapped program.
fn same_program(r0: &RankFile, other: &RankFile, path: &Path) -> Result<()> {
    let mapped = |r: &RankFile| -> Vec<(usize, Kind)> {
        r.kinds
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.as_ref().ok().map(|k| (i, k.clone())))
            .collect()
    };
    let a = mapped(r0);
    let b = mapped(other);
    for (j, (ka, kb)) in a.iter().zip(&b).enumerate() {
        if ka.1 != kb.1 {
            return Err(file_error(
                path,
                format!("nodes[{}]", kb.0),
                format!(
                    "differs from rank 0: mapped node {j} is {} here but {} on rank 0 (node {}); \
                     t3sim replays the same program on every rank",
                    kb.1.describe(),
                    ka.1.describe(),
                    ka.0
                ),
            ));
        }
    }
    if a.len() != b.len() {
        return Err(file_error(
            path,
            "",
            format!(
                "has {} mappable nodes, rank 0 has {}; t3sim replays the same program on every rank",
                b.len(),
                a.len()
            ),
        ));
    }
    Ok(())
}

/// For every node, the mapped nodes it depends on directly or through
/// unmapped ones. A cycle in the Chakra graph is cut at the back edge.
fn mapped_preds(
    nodes: &[Node],
    by_id: &HashMap<u64, usize>,
    mapped: &[bool],
) -> Vec<BTreeSet<usize>> {
    let deps = |i: usize| -> Vec<usize> {
        nodes[i]
            .data_deps
            .iter()
            .chain(&nodes[i].ctrl_deps)
            .filter_map(|d| by_id.get(d).copied())
            .collect()
    };
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; nodes.len()];
    let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
    for start in 0..nodes.len() {
        if mark[start] != Mark::New {
            continue;
        }
        mark[start] = Mark::Open;
        let mut stack = vec![(start, deps(start), 0usize)];
        while let Some((node, ds, next)) = stack.last_mut() {
            if let Some(&d) = ds.get(*next) {
                *next += 1;
                if mark[d] == Mark::New {
                    mark[d] = Mark::Open;
                    let dd = deps(d);
                    stack.push((d, dd, 0));
                }
                continue;
            }
            // All of `node`'s deps are done (or open: a cycle, cut here).
            let node = *node;
            let mut set = BTreeSet::new();
            for &d in &deps(node) {
                if mapped[d] {
                    set.insert(d);
                } else if mark[d] == Mark::Done {
                    set.extend(preds[d].iter().copied());
                }
            }
            preds[node] = set;
            mark[node] = Mark::Done;
            stack.pop();
        }
    }
    preds
}

fn build(
    r0: &RankFile,
    stem: &str,
    files: &[PathBuf],
    ranks: u32,
) -> Result<(Option<Trace>, Vec<MappedNode>)> {
    let mut by_id: HashMap<u64, usize> = HashMap::with_capacity(r0.nodes.len());
    for (i, n) in r0.nodes.iter().enumerate() {
        if let Some(first) = by_id.insert(n.id, i) {
            return Err(file_error(
                &files[0],
                format!("nodes[{i}]"),
                format!("node id {} is also used by nodes[{first}]", n.id),
            ));
        }
    }
    let is_mapped: Vec<bool> = r0.kinds.iter().map(Result::is_ok).collect();
    let preds = mapped_preds(&r0.nodes, &by_id, &is_mapped);
    let mut ops: Vec<Op> = Vec::new();
    let mut mapped: Vec<MappedNode> = Vec::new();
    // Node index -> (name of the op later ops depend on, GEMM output bytes
    // if it is a GEMM not yet reduced).
    let mut last_op: HashMap<usize, String> = HashMap::new();
    let mut free_gemm: BTreeMap<usize, u64> = BTreeMap::new();
    for (i, (node, kind)) in r0.nodes.iter().zip(&r0.kinds).enumerate() {
        let Ok(kind) = kind else { continue };
        let base = format!(
            "{}#{}",
            if node.name.is_empty() {
                "node"
            } else {
                node.name.as_str()
            },
            node.id
        );
        let mut deps: Vec<String> = preds[i]
            .iter()
            .filter_map(|p| last_op.get(p).cloned())
            .collect();
        // A reduce-scatter right after a GEMM of exactly its size reduces
        // that GEMM's output: the fusion T3 is about.
        let mut take_gemm = |bytes: u64, deps: &mut Vec<String>| -> Option<String> {
            let (&g, _) = preds[i]
                .iter()
                .filter_map(|p| free_gemm.get_key_value(p))
                .find(|&(_, &b)| b == bytes)?;
            free_gemm.remove(&g);
            let name = last_op.get(&g)?.clone();
            deps.retain(|d| *d != name);
            Some(name)
        };
        let made: Vec<Op> = match kind {
            Kind::Gemm(g) => {
                free_gemm.insert(i, g.output_bytes());
                vec![Op::Gemm(GemmOp {
                    name: base.clone(),
                    deps,
                    ..g.clone()
                })]
            }
            Kind::ReduceScatter { bytes, .. } => {
                let input = take_gemm(*bytes, &mut deps);
                vec![Op::ReduceScatter(ReduceScatterOp {
                    name: base.clone(),
                    bytes: input.is_none().then_some(*bytes),
                    input,
                    deps,
                })]
            }
            Kind::AllReduce { bytes } => {
                let input = take_gemm(*bytes, &mut deps);
                let rs = format!("{base}/rs");
                vec![
                    Op::ReduceScatter(ReduceScatterOp {
                        name: rs.clone(),
                        bytes: input.is_none().then_some(*bytes),
                        input,
                        deps,
                    }),
                    Op::AllGather(AllGatherOp {
                        name: format!("{base}/ag"),
                        input: Some(rs),
                        bytes: None,
                        deps: Vec::new(),
                    }),
                ]
            }
            Kind::AllGather { bytes } => vec![Op::AllGather(AllGatherOp {
                name: base.clone(),
                input: None,
                bytes: Some(*bytes),
                deps,
            })],
        };
        let names: Vec<String> = made.iter().map(|o| o.name().to_string()).collect();
        if let Some(last) = names.last() {
            last_op.insert(i, last.clone());
        }
        mapped.push(MappedNode {
            index: i,
            id: node.id,
            name: node.name.clone(),
            what: kind.describe(),
            ops: names,
        });
        ops.extend(made);
    }
    if ops.is_empty() {
        return Ok((None, mapped));
    }
    let file_names: Vec<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let trace = Trace {
        version: TRACE_VERSION,
        name: stem.to_string(),
        tp: ranks,
        ops,
        devices: Vec::new(),
        meta: Some(serde_json::json!({
            "source": "chakra",
            "et_version": r0.meta.version,
            "files": file_names,
            "nodes": r0.nodes.len(),
        })),
    };
    super::validate(&trace, &files[0].display().to_string())?;
    Ok((Some(trace), mapped))
}
