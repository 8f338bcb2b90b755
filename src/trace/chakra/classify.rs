//! What one Chakra node is, on its own: a GEMM, timed compute, a
//! collective, one side of a transfer, process-group metadata, or a reason
//! it cannot be replayed. Sizes keep Chakra's meaning here (`comm_size`
//! as recorded); the merge turns them into the trace's.

use super::groups;
use super::proto::{CollectiveCommType, Node, NodeType};
use crate::trace::schema::{
    Dtype, LINE_BYTES, MAX_BUFFER_BYTES, MAX_COMPUTE_BYTES, MAX_DURATION_NS, MAX_FLOPS,
};

/// How a compute node is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timing {
    /// Its recorded duration, nanoseconds.
    Fixed(u64),
    /// Its `num_ops` and `tensor_size` (ASTRA-sim's roofline inputs).
    Roofline { flops: u64, bytes: u64 },
}

/// A GEMM shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub dtype: Dtype,
}

/// The collectives t3sim replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Coll {
    ReduceScatter,
    AllGather,
    AllReduce,
    AllToAll,
}

impl Coll {
    pub fn proto_name(self) -> &'static str {
        match self {
            Coll::ReduceScatter => "REDUCE_SCATTER",
            Coll::AllGather => "ALL_GATHER",
            Coll::AllReduce => "ALL_REDUCE",
            Coll::AllToAll => "ALL_TO_ALL",
        }
    }
}

/// One node, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Gemm(Shape),
    Compute(Timing),
    /// A collective of `comm_size` bytes on process group `pg` ("" or "0":
    /// every rank, as in ASTRA-sim).
    Coll {
        coll: Coll,
        comm_size: u64,
        pg: String,
    },
    /// A send to rank `dst`.
    Send {
        dst: u32,
        tag: u64,
        bytes: u64,
    },
    /// A receive from rank `src`.
    Recv {
        src: u32,
        tag: u64,
        bytes: u64,
    },
    /// Process groups defined by a `process_group:init` metadata node
    /// (possibly none): no work.
    Meta(Vec<(String, Vec<u32>)>),
}

impl Item {
    /// For the import report: `ALL_REDUCE of 1048576 B`.
    pub fn describe(&self) -> String {
        match self {
            Item::Gemm(s) => format!("GEMM M={} N={} K={} {:?}", s.m, s.n, s.k, s.dtype),
            Item::Compute(Timing::Fixed(ns)) => format!("compute of {ns} ns"),
            Item::Compute(Timing::Roofline { flops, bytes }) => {
                format!("compute of {flops} FLOPs and {bytes} B")
            }
            Item::Coll {
                coll,
                comm_size,
                pg,
            } => {
                let on = if groups::is_default(pg) {
                    String::new()
                } else {
                    format!(" on process group `{pg}`")
                };
                format!("{} of {comm_size} B{on}", coll.proto_name())
            }
            Item::Send { dst, tag, bytes } => {
                format!("SEND of {bytes} B to rank {dst} (tag {tag})")
            }
            Item::Recv { src, tag, bytes } => {
                format!("RECV of {bytes} B from rank {src} (tag {tag})")
            }
            Item::Meta(pgs) if pgs.is_empty() => "METADATA (no process groups)".into(),
            Item::Meta(pgs) => format!(
                "METADATA: process group{} {}",
                if pgs.len() == 1 { "" } else { "s" },
                pgs.iter()
                    .map(|(n, r)| format!("`{n}` = ranks {}", groups::ranks_text(r)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

type Class = Result<Item, String>;

/// Classifies `node` of rank `rank` in a set of `ranks`.
pub(super) fn classify(node: &Node, rank: u32, ranks: u32) -> Class {
    let ty = NodeType::try_from(node.r#type)
        .map_err(|_| format!("unknown node type {}", node.r#type))?;
    match ty {
        NodeType::CompNode => compute(node),
        NodeType::CommCollNode => {
            on_gpu(node, ty)?;
            collective(node)
        }
        NodeType::CommSendNode | NodeType::CommRecvNode => {
            on_gpu(node, ty)?;
            transfer(node, ty, rank, ranks)
        }
        NodeType::MetadataNode => groups::from_metadata(node, ranks).map(Item::Meta),
        other => Err(format!(
            "{} has no t3sim equivalent (t3sim replays compute, collectives, sends and receives)",
            other.proto_name()
        )),
    }
}

fn on_gpu(node: &Node, ty: NodeType) -> Result<(), String> {
    if node.attr("is_cpu_op").and_then(|a| a.as_bool()) == Some(true) {
        return Err(format!(
            "{} marked `is_cpu_op`: communication runs on the GPU (ASTRA-sim refuses it too)",
            ty.proto_name()
        ));
    }
    Ok(())
}

fn int(node: &Node, name: &str) -> Result<Option<i128>, String> {
    match node.attr(name) {
        None => Ok(None),
        Some(a) => a
            .as_int()
            .map(Some)
            .ok_or_else(|| format!("attribute `{name}` is not an integer")),
    }
}

fn size(node: &Node, what: &str) -> Result<u64, String> {
    let v = int(node, "comm_size")?.ok_or_else(|| format!("{what} without a `comm_size`"))?;
    let b = u64::try_from(v).map_err(|_| format!("comm_size {v} is negative"))?;
    if b == 0 {
        return Err(format!("{what} of comm_size 0 moves nothing"));
    }
    if b > MAX_BUFFER_BYTES {
        return Err(format!(
            "comm_size {b} B exceeds the limit of 1 TiB per device"
        ));
    }
    Ok(b)
}

fn collective(node: &Node) -> Class {
    let comm = int(node, "comm_type")?.ok_or("collective without a `comm_type` attribute")?;
    let comm = i32::try_from(comm)
        .ok()
        .and_then(|c| CollectiveCommType::try_from(c).ok())
        .ok_or_else(|| format!("unknown comm_type {comm}"))?;
    let coll = match comm {
        CollectiveCommType::AllReduce => Coll::AllReduce,
        CollectiveCommType::ReduceScatter => Coll::ReduceScatter,
        CollectiveCommType::AllGather => Coll::AllGather,
        CollectiveCommType::AllToAll => Coll::AllToAll,
        CollectiveCommType::ReduceScatterBlock => {
            return Err(
                "REDUCE_SCATTER_BLOCK: ASTRA-sim does not simulate it (Workload.cc \
                        issue_coll_comm refuses it), so its comm_size has no reference meaning"
                    .into(),
            );
        }
        CollectiveCommType::Broadcast => {
            return Err(
                "BROADCAST: t3sim has no broadcast collective (ASTRA-sim replays it as a \
                        fixed delay, not as communication)"
                    .into(),
            );
        }
        other => {
            return Err(format!(
                "collective {} has no t3sim equivalent (t3sim replays ALL_REDUCE, REDUCE_SCATTER, \
                 ALL_GATHER and ALL_TO_ALL)",
                other.proto_name()
            ));
        }
    };
    let comm_size = size(node, coll.proto_name())?;
    let pg = match node.attr("pg_name") {
        None => String::new(),
        Some(a) => a
            .as_str()
            .ok_or("attribute `pg_name` is not a string")?
            .to_string(),
    };
    Ok(Item::Coll {
        coll,
        comm_size,
        pg,
    })
}

fn transfer(node: &Node, ty: NodeType, rank: u32, ranks: u32) -> Class {
    let what = ty.proto_name();
    let dev = |name: &str, default: Option<u32>| -> Result<u32, String> {
        let v = match int(node, name)? {
            Some(v) => v,
            None => match default {
                Some(d) => return Ok(d),
                None => return Err(format!("{what} without a `{name}` attribute")),
            },
        };
        u32::try_from(v)
            .ok()
            .filter(|&d| d < ranks)
            .ok_or_else(|| format!("{name} {v} is not a rank of this {ranks}-rank set"))
    };
    let send = ty == NodeType::CommSendNode;
    // ASTRA-sim defaults the own side to the rank issuing the node.
    let src = dev("comm_src", send.then_some(rank))?;
    let dst = dev("comm_dst", (!send).then_some(rank))?;
    let own = if send { src } else { dst };
    if own != rank {
        return Err(format!(
            "{what} on rank {rank} says it runs on rank {own} ({} = {own})",
            if send { "comm_src" } else { "comm_dst" }
        ));
    }
    if src == dst {
        return Err(format!("{what} from rank {src} to itself"));
    }
    let tag = match int(node, "comm_tag")? {
        None => 0,
        Some(t) => u64::try_from(t).map_err(|_| format!("comm_tag {t} is negative"))?,
    };
    let bytes = size(node, what)?;
    if bytes % LINE_BYTES != 0 {
        return Err(format!(
            "comm_size {bytes} B is not a whole number of {LINE_BYTES}-B lines (t3sim moves whole lines)"
        ));
    }
    Ok(if send {
        Item::Send { dst, tag, bytes }
    } else {
        Item::Recv { src, tag, bytes }
    })
}

/// A compute node: a GEMM where it is a matrix multiply on the GPU with a
/// GEMM shape, else work timed by its duration (or by its `num_ops` and
/// `tensor_size` when it records no duration).
fn compute(node: &Node) -> Class {
    let on_cpu = node.attr("is_cpu_op").and_then(|a| a.as_bool()) == Some(true);
    if !on_cpu && let Some(shape) = gemm_shape(node) {
        let el = shape.dtype.bytes();
        for (what, a, b) in [
            ("output C (M x N)", shape.m, shape.n),
            ("operand A (M x K)", shape.m, shape.k),
            ("operand B (K x N)", shape.k, shape.n),
        ] {
            if a.checked_mul(b)
                .and_then(|x| x.checked_mul(el))
                .is_none_or(|x| x > MAX_BUFFER_BYTES)
            {
                return Err(format!(
                    "GEMM M={} N={} K={}: {what} exceeds the limit of 1 TiB per device",
                    shape.m, shape.n, shape.k
                ));
            }
        }
        return Ok(Item::Gemm(shape));
    }
    if node.duration_micros == 0
        && let (Ok(Some(f)), Ok(Some(b))) = (int(node, "num_ops"), int(node, "tensor_size"))
        && let (Ok(flops), Ok(bytes)) = (u64::try_from(f), u64::try_from(b))
        && (flops > 0 || bytes > 0)
    {
        if flops > MAX_FLOPS || bytes > MAX_COMPUTE_BYTES {
            return Err(format!(
                "num_ops {flops} / tensor_size {bytes} B exceed the limits of {MAX_FLOPS} FLOPs and \
                 {MAX_COMPUTE_BYTES} B"
            ));
        }
        return Ok(Item::Compute(Timing::Roofline { flops, bytes }));
    }
    match node.duration_micros.checked_mul(1000) {
        Some(ns) if ns <= MAX_DURATION_NS => Ok(Item::Compute(Timing::Fixed(ns))),
        _ => Err(format!(
            "duration of {} us exceeds the limit of 1000 s",
            node.duration_micros
        )),
    }
}

/// Names of the matrix multiplies whose operands give a GEMM: PyTorch's
/// `aten::mm`, `aten::addmm`, `aten::matmul`, `aten::linear` (in the name
/// or the `op_schema` the converter copies onto GPU kernels) and kernel
/// names saying `gemm`.
fn is_matmul(node: &Node) -> (bool, bool) {
    let schema = node
        .attr("op_schema")
        .and_then(|a| a.as_str())
        .unwrap_or("");
    let text = format!("{} {}", node.name, schema).to_ascii_lowercase();
    let linear = text.contains("linear");
    let mm = linear
        || ["aten::mm", "aten::addmm", "aten::matmul", "gemm", "matmul"]
            .iter()
            .any(|k| text.contains(k));
    (mm, linear)
}

fn dims(v: &serde_json::Value) -> Option<Vec<u64>> {
    v.as_array()?
        .iter()
        .map(serde_json::Value::as_u64)
        .collect()
}

/// `[M, K] x [K, N]` from the inputs' shapes as Chakra's PyTorch converter
/// records them (`str()` of a list of shapes); for `linear`, an input of
/// any rank `[..., K]` and a weight `[N, K]`. When the outputs' shapes are
/// recorded, the first must hold M x N elements ending in N.
fn gemm_shape(node: &Node) -> Option<Shape> {
    let (mm, linear) = is_matmul(node);
    if !mm {
        return None;
    }
    let inputs = node.inputs.as_ref()?;
    let shapes: serde_json::Value = serde_json::from_str(&inputs.shapes).ok()?;
    let shapes: Vec<Option<Vec<u64>>> = shapes.as_array()?.iter().map(dims).collect();
    let mnk = shapes.windows(2).find_map(|w| {
        let (a, b) = (w[0].as_deref()?, w[1].as_deref()?);
        match (a, b) {
            ([m, k], [k2, n]) if k == k2 => Some((*m, *n, *k)),
            ([.., k], [n, k2]) if linear && a.len() >= 2 && k == k2 => {
                let m = a[..a.len() - 1]
                    .iter()
                    .try_fold(1u64, |p, &d| p.checked_mul(d))?;
                Some((m, *n, *k))
            }
            _ => None,
        }
    })?;
    let (m, n, k) = mnk;
    if m == 0 || n == 0 || k == 0 {
        return None;
    }
    if let Some(out) = node.outputs.as_ref()
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&out.shapes)
        && let Some(first) = v.as_array().and_then(|a| a.first()).and_then(dims)
        && !first.is_empty()
    {
        let elems = first.iter().try_fold(1u64, |p, &d| p.checked_mul(d));
        if first.last() != Some(&n) || elems != m.checked_mul(n) {
            return None;
        }
    }
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
        // An FP32 (or other) GEMM is timed by its duration, not modelled as
        // an FP16 one.
        return None;
    };
    Some(Shape { m, n, k, dtype })
}
