//! Synthetic traces of the Transformer sub-layers T3 evaluates (a
//! tensor-sliced GEMM whose `T x H` partial-sum output is reduce-scattered;
//! DESIGN.md sections 1 and 5) and of a whole layer's forward pass
//! ([`generate_layer`]).

use super::schema::{CollectiveOp, ComputeOp, Dtype, GemmOp, MAX_TP, Op, ReduceScatterOp, Trace};
use crate::error::{InputError, Location, Result};
use std::fmt;
use std::str::FromStr;

/// Tokens (batch x sequence) when none are given; the paper does not state T.
pub const DEFAULT_TOKENS: u64 = 8192;

/// Preferred output tile: 128 x 128, K step 32.
const TILE_M: u64 = 128;
const TILE_N: u64 = 128;
const TILE_K: u64 = 32;
/// Smallest tile_m the generator falls back to.
const MIN_TILE_M: u64 = 16;

/// Where generator errors point (there is no file).
const ORIGIN: &str = "trace generator";

/// A Transformer model, by hidden size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// Megatron GPT-2, H 3072.
    MegaGpt2,
    /// Turing-NLG, H 4256.
    Tnlg,
    /// GPT-3, H 12288.
    Gpt3,
    /// PaLM, H 18432.
    Palm,
    /// Megatron-Turing NLG, H 20480.
    Mtnlg,
}

impl Model {
    /// Every model, in the order of DESIGN.md section 5.
    pub const ALL: [Model; 5] = [
        Model::MegaGpt2,
        Model::Tnlg,
        Model::Gpt3,
        Model::Palm,
        Model::Mtnlg,
    ];

    /// The model's name in file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Model::MegaGpt2 => "mega-gpt2",
            Model::Tnlg => "tnlg",
            Model::Gpt3 => "gpt3",
            Model::Palm => "palm",
            Model::Mtnlg => "mtnlg",
        }
    }

    /// Hidden size H.
    pub fn hidden(self) -> u64 {
        match self {
            Model::MegaGpt2 => 3072,
            Model::Tnlg => 4256,
            Model::Gpt3 => 12288,
            Model::Palm => 18432,
            Model::Mtnlg => 20480,
        }
    }

    /// Attention heads A (traces/README.md gives each source).
    pub fn heads(self) -> u64 {
        match self {
            Model::MegaGpt2 => 32,
            Model::Tnlg => 28,
            Model::Gpt3 => 96,
            Model::Palm => 48,
            Model::Mtnlg => 128,
        }
    }

    /// Sequence length S in tokens (traces/README.md gives each source;
    /// T-NLG's is not published and is taken from Megatron-LM's GPT-2).
    pub fn seq_len(self) -> u64 {
        match self {
            Model::MegaGpt2 | Model::Tnlg => 1024,
            Model::Gpt3 | Model::Palm | Model::Mtnlg => 2048,
        }
    }

    /// TP degrees the shipped sub-layer traces use for this model.
    pub fn shipped_tp(self) -> &'static [u32] {
        match self {
            Model::MegaGpt2 | Model::Tnlg => &[8, 16],
            Model::Gpt3 | Model::Palm | Model::Mtnlg => &[32],
        }
    }

    /// The TP degree of the shipped layer trace: the paper's smallest for
    /// the model.
    pub fn shipped_layer_tp(self) -> u32 {
        self.shipped_tp()[0]
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = InputError;
    fn from_str(s: &str) -> std::result::Result<Self, InputError> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| unknown("model", s, Model::ALL.map(Model::name)))
    }
}

/// A sub-layer ending in a reduce-scattered GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubLayer {
    /// Attention output projection (forward), K = H/n.
    Op,
    /// MLP down-projection (forward), K = 4H/n.
    Fc2,
    /// MLP up-projection's input gradient (backward), K = 4H/n.
    Fc1,
    /// QKV projection's input gradient (backward), K = 3H/n.
    Ip,
}

impl SubLayer {
    /// Every sub-layer, in the order of DESIGN.md section 1.
    pub const ALL: [SubLayer; 4] = [SubLayer::Op, SubLayer::Fc2, SubLayer::Fc1, SubLayer::Ip];

    /// The sub-layer's name in file names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SubLayer::Op => "op",
            SubLayer::Fc2 => "fc2",
            SubLayer::Fc1 => "fc1",
            SubLayer::Ip => "ip",
        }
    }

    /// `forward` or `backward`.
    pub fn pass(self) -> &'static str {
        match self {
            SubLayer::Op | SubLayer::Fc2 => "forward",
            SubLayer::Fc1 | SubLayer::Ip => "backward",
        }
    }

    /// K = this x H / tp.
    pub fn k_multiple(self) -> u64 {
        match self {
            SubLayer::Op => 1,
            SubLayer::Fc2 | SubLayer::Fc1 => 4,
            SubLayer::Ip => 3,
        }
    }
}

impl fmt::Display for SubLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SubLayer {
    type Err = InputError;
    fn from_str(s: &str) -> std::result::Result<Self, InputError> {
        SubLayer::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| unknown("sublayer", s, SubLayer::ALL.map(SubLayer::name)))
    }
}

fn unknown<const N: usize>(field: &str, got: &str, names: [&str; N]) -> InputError {
    InputError::new(
        Location::file(ORIGIN),
        field,
        format!(
            "unknown {field} `{got}`; expected one of {}",
            names.join(", ")
        ),
    )
}

fn bad(field: &str, msg: String) -> crate::Error {
    InputError::new(Location::file(ORIGIN), field, msg).into()
}

/// The shipped traces: (model, tp, sub-layer) at [`DEFAULT_TOKENS`].
pub fn shipped() -> Vec<(Model, u32, SubLayer)> {
    let mut v = Vec::new();
    for m in Model::ALL {
        for &tp in m.shipped_tp() {
            for s in SubLayer::ALL {
                v.push((m, tp, s));
            }
        }
    }
    v
}

/// The trace name (and file stem) for a configuration: `tnlg-tp8-fc2`,
/// with `-t<tokens>` appended when tokens differ from the default.
pub fn trace_name(model: Model, tp: u32, sublayer: SubLayer, tokens: u64) -> String {
    let mut name = format!("{model}-tp{tp}-{sublayer}");
    if tokens != DEFAULT_TOKENS {
        name.push_str(&format!("-t{tokens}"));
    }
    name
}

/// The trace of `sublayer` of `model` at TP degree `tp` over `tokens` tokens:
/// M = tokens, N = H, K = (1, 4, 4 or 3) x H / tp, FP16, one reduce-scatter.
pub fn generate(model: Model, tp: u32, sublayer: SubLayer, tokens: u64) -> Result<Trace> {
    if !(2..=MAX_TP).contains(&tp) {
        return Err(bad(
            "tp",
            format!("tp = {tp} is outside the supported range 2..={MAX_TP}"),
        ));
    }
    let tp64 = u64::from(tp);
    let h = model.hidden();
    let sliced = sublayer.k_multiple() * h;
    if !sliced.is_multiple_of(tp64) {
        return Err(bad(
            "tp",
            format!(
                "{sublayer}: K = {}H/tp = {sliced}/{tp} is not a whole number for {model} (H = {h})",
                sublayer.k_multiple()
            ),
        ));
    }
    let k = sliced / tp64;
    if tokens == 0 || !tokens.is_multiple_of(tp64) {
        return Err(bad(
            "tokens",
            format!(
                "tokens = {tokens} must be a positive multiple of tp = {tp} (one reduce-scatter chunk per device)"
            ),
        ));
    }
    let rows = tokens / tp64;
    let Some(tile_m) = tile_m_for(rows) else {
        return Err(bad(
            "tokens",
            format!(
                "tokens / tp = {rows} rows per chunk is not a multiple of {MIN_TILE_M}, so no tile_m of \
                 at least {MIN_TILE_M} covers a chunk exactly; choose tokens a multiple of {}",
                tp64 * MIN_TILE_M
            ),
        ));
    };
    let name = trace_name(model, tp, sublayer, tokens);
    let gemm = GemmOp {
        name: sublayer.name().to_string(),
        m: tokens,
        n: h,
        k,
        dtype: Dtype::Fp16,
        tile_m,
        tile_n: tile_n_for(h),
        tile_k: tile_k_for(k),
        input: None,
        group: None,
        deps: Vec::new(),
    };
    let rs = ReduceScatterOp {
        name: format!("{}-rs", sublayer.name()),
        input: Some(gemm.name.clone()),
        bytes: None,
        group: None,
        deps: Vec::new(),
    };
    let mut trace = Trace {
        version: 1,
        name: name.clone(),
        tp,
        groups: Vec::new(),
        ops: vec![Op::Gemm(gemm), Op::ReduceScatter(rs)],
        devices: Vec::new(),
        meta: Some(serde_json::json!({
            "generator": "t3sim::trace::gen",
            "model": model.name(),
            "hidden": h,
            "sublayer": sublayer.name(),
            "pass": sublayer.pass(),
            "tokens": tokens,
            "k": format!("{}H/tp", sublayer.k_multiple()),
        })),
    };
    trace.version = trace.required_version();
    super::validate(&trace, &name)?;
    Ok(trace)
}

/// The shipped layer traces: (model, tp) at [`DEFAULT_TOKENS`].
pub fn shipped_layers() -> Vec<(Model, u32)> {
    Model::ALL
        .into_iter()
        .map(|m| (m, m.shipped_layer_tp()))
        .collect()
}

/// The layer trace name (and file stem): `tnlg-tp8-layer`, with
/// `-t<tokens>` appended when tokens differ from the default.
pub fn layer_name(model: Model, tp: u32, tokens: u64) -> String {
    let mut name = format!("{model}-tp{tp}-layer");
    if tokens != DEFAULT_TOKENS {
        name.push_str(&format!("-t{tokens}"));
    }
    name
}

/// `v / tp`, or an error naming what does not slice evenly.
fn sliced(what: &str, v: u64, tp: u64, model: Model) -> Result<u64> {
    if v.is_multiple_of(tp) {
        Ok(v / tp)
    } else {
        Err(bad(
            "tp",
            format!(
                "{what} = {v} does not split over tp = {tp} devices for {model} (H = {})",
                model.hidden()
            ),
        ))
    }
}

/// One Transformer layer's forward pass under Megatron tensor parallelism
/// at TP degree `tp` over `tokens` tokens (T = tokens, H = hidden size,
/// A heads, S sequence length, all per device):
///
/// | op | kind | shape or size |
/// |---|---|---|
/// | `qkv` | gemm | M = T, N = 3H/tp, K = H |
/// | `attn-scores` | compute | Q K^T: 2 T S H/tp FLOPs; reads Q, K, writes the T S A/tp scores |
/// | `attn-softmax` | compute | reads and writes the scores (no matrix FLOPs) |
/// | `attn-context` | compute | P V: 2 T S H/tp FLOPs; reads the scores and V, writes T x H/tp |
/// | `op` | gemm | M = T, N = H, K = H/tp |
/// | `op-ar` | all-reduce | of `op`'s output |
/// | `fc1` | gemm | M = T, N = 4H/tp, K = H, A = `op-ar`'s output |
/// | `fc2` | gemm | M = T, N = H, K = 4H/tp, A = `fc1`'s output |
/// | `fc2-ar` | all-reduce | of `fc2`'s output |
///
/// Layer norms, residual adds, the GELU and dropout are left out (each is
/// element-wise and small next to these). traces/README.md derives the
/// attention figures and gives each model's A and S with its source.
pub fn generate_layer(model: Model, tp: u32, tokens: u64) -> Result<Trace> {
    if !(2..=MAX_TP).contains(&tp) {
        return Err(bad(
            "tp",
            format!("tp = {tp} is outside the supported range 2..={MAX_TP}"),
        ));
    }
    let tp64 = u64::from(tp);
    let h = model.hidden();
    let (heads, seq) = (model.heads(), model.seq_len());
    let qkv_n = sliced("3H", 3 * h, tp64, model)?;
    let h_tp = sliced("H", h, tp64, model)?;
    let ffn_tp = sliced("4H", 4 * h, tp64, model)?;
    if tokens == 0 || !tokens.is_multiple_of(tp64) || !tokens.is_multiple_of(seq) {
        return Err(bad(
            "tokens",
            format!(
                "tokens = {tokens} must be a positive multiple of tp = {tp} (one all-reduce chunk \
                 per device) and of {model}'s sequence length S = {seq} (whole sequences)"
            ),
        ));
    }
    let rows = tokens / tp64;
    let (Some(tile_chunk), Some(tile_full)) = (tile_m_for(rows), tile_m_for(tokens)) else {
        return Err(bad(
            "tokens",
            format!(
                "tokens / tp = {rows} rows per chunk is not a multiple of {MIN_TILE_M}, so no tile_m of \
                 at least {MIN_TILE_M} covers a chunk exactly; choose tokens a multiple of {}",
                tp64 * MIN_TILE_M
            ),
        ));
    };
    // Scores per device: T/S sequences x A/tp heads x S x S = T S A / tp
    // elements (A/tp may be fractional, as H/tp is for the GEMMs: the
    // split is even on average).
    let score_elems = tokens * seq * heads;
    if !score_elems.is_multiple_of(tp64) {
        return Err(bad(
            "tp",
            format!(
                "the attention scores (T S A = {score_elems} elements) do not split over tp = {tp}"
            ),
        ));
    }
    let el = Dtype::Fp16.bytes();
    let scores = score_elems / tp64 * el;
    let act = tokens * h_tp * el; // one T x H/tp activation (Q, K, V or the context)
    let matmul = 2 * tokens * seq * h_tp; // Q K^T, and P V: 2 T S H/tp each
    let gemm = |name: &str, n: u64, k: u64, tile_m: u32, input: Option<&str>, deps: &[&str]| {
        Op::Gemm(GemmOp {
            name: name.into(),
            m: tokens,
            n,
            k,
            dtype: Dtype::Fp16,
            tile_m,
            tile_n: tile_n_for(n),
            tile_k: tile_k_for(k),
            input: input.map(str::to_string),
            group: None,
            deps: deps.iter().map(|d| d.to_string()).collect(),
        })
    };
    let compute = |name: &str, flops: u64, bytes: u64, dep: &str| {
        Op::Compute(ComputeOp {
            name: name.into(),
            duration_ns: None,
            flops: Some(flops),
            bytes: Some(bytes),
            group: None,
            deps: vec![dep.to_string()],
        })
    };
    let all_reduce = |name: &str, input: &str| {
        Op::AllReduce(CollectiveOp {
            name: name.into(),
            input: Some(input.into()),
            bytes: None,
            group: None,
            deps: Vec::new(),
        })
    };
    let name = layer_name(model, tp, tokens);
    let mut trace = Trace {
        version: 2,
        name: name.clone(),
        tp,
        groups: Vec::new(),
        ops: vec![
            gemm("qkv", qkv_n, h, tile_full, None, &[]),
            compute("attn-scores", matmul, 2 * act + scores, "qkv"),
            compute("attn-softmax", 0, 2 * scores, "attn-scores"),
            compute("attn-context", matmul, scores + 2 * act, "attn-softmax"),
            gemm("op", h, h_tp, tile_chunk, None, &["attn-context"]),
            all_reduce("op-ar", "op"),
            gemm("fc1", ffn_tp, h, tile_full, Some("op-ar"), &[]),
            gemm("fc2", h, ffn_tp, tile_chunk, Some("fc1"), &[]),
            all_reduce("fc2-ar", "fc2"),
        ],
        devices: Vec::new(),
        meta: Some(serde_json::json!({
            "generator": "t3sim::trace::gen",
            "model": model.name(),
            "hidden": h,
            "heads": heads,
            "seq_len": seq,
            "tokens": tokens,
            "sequences": tokens / seq,
            "pass": "forward",
            "layer": "Megatron tensor-parallel Transformer layer",
            "attention": "scores: 2TSH/tp FLOPs, 2x2TH/tp + 2TSA/tp B; softmax: 0 FLOPs, 2x2TSA/tp B; \
                          context: 2TSH/tp FLOPs, 2TSA/tp + 2x2TH/tp B",
        })),
    };
    trace.version = trace.required_version();
    super::validate(&trace, &name)?;
    Ok(trace)
}

/// The output tile height for chunks of `rows` rows: 128 when it divides
/// them, else the largest power of two that does, if at least 16.
pub(crate) fn tile_m_for(rows: u64) -> Option<u32> {
    let t = (rows & rows.wrapping_neg()).min(TILE_M);
    if t < MIN_TILE_M {
        return None;
    }
    u32::try_from(t).ok()
}

/// The output tile width for N columns (edge tiles may be partial).
pub(crate) fn tile_n_for(n: u64) -> u32 {
    small(TILE_N.min(n))
}

/// The K step for a reduction of `k`.
pub(crate) fn tile_k_for(k: u64) -> u32 {
    small(TILE_K.min(k))
}

/// Tile sizes here are at most 128.
fn small(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tnlg_fc2_tp8_has_the_papers_shape() {
        let t = generate(Model::Tnlg, 8, SubLayer::Fc2, DEFAULT_TOKENS).unwrap();
        let g = t.gemm().unwrap();
        assert_eq!((g.m, g.n, g.k), (8192, 4256, 2128));
        assert_eq!((g.tile_m, g.tile_n, g.tile_k), (128, 128, 32));
        assert_eq!(t.output_bytes(), Some(8192 * 4256 * 2));
        assert_eq!(g.chunk_rows(8), 1024);
        assert_eq!(g.tiles_per_chunk(8), 8 * 34);
        assert_eq!(t.name, "tnlg-tp8-fc2");
    }

    #[test]
    fn k_follows_the_sublayer() {
        let k = |s| {
            generate(Model::Gpt3, 32, s, DEFAULT_TOKENS)
                .unwrap()
                .gemm()
                .unwrap()
                .k
        };
        assert_eq!(k(SubLayer::Op), 384);
        assert_eq!(k(SubLayer::Fc2), 1536);
        assert_eq!(k(SubLayer::Fc1), 1536);
        assert_eq!(k(SubLayer::Ip), 1152);
    }

    #[test]
    fn small_chunks_get_a_smaller_power_of_two_tile() {
        let t = generate(Model::MegaGpt2, 8, SubLayer::Op, 8 * 48).unwrap();
        assert_eq!(t.gemm().unwrap().tile_m, 16);
        assert_eq!(t.name, "mega-gpt2-tp8-op-t384");
        let t = generate(Model::MegaGpt2, 8, SubLayer::Op, 8 * 96).unwrap();
        assert_eq!(t.gemm().unwrap().tile_m, 32);
    }

    #[test]
    fn impossible_tilings_and_bad_arguments_are_rejected_clearly() {
        let e = generate(Model::Tnlg, 8, SubLayer::Op, 8 * 24).unwrap_err();
        assert!(e.to_string().contains("field `tokens`"), "{e}");
        assert!(e.to_string().contains("multiple of 128"), "{e}");
        let e = generate(Model::Tnlg, 8, SubLayer::Op, 1001).unwrap_err();
        assert!(e.to_string().contains("multiple of tp"), "{e}");
        let e = generate(Model::Tnlg, 1, SubLayer::Op, 8192).unwrap_err();
        assert!(e.to_string().contains("field `tp`"), "{e}");
        // 4256 / 64 = 66.5: T-NLG does not slice evenly 64 ways.
        let e = generate(Model::Tnlg, 64, SubLayer::Op, 8192).unwrap_err();
        assert!(e.to_string().contains("not a whole number"), "{e}");
        let e = generate(Model::Tnlg, 8, SubLayer::Op, 0).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn names_parse_back() {
        for m in Model::ALL {
            assert_eq!(m.name().parse::<Model>().unwrap(), m);
        }
        for s in SubLayer::ALL {
            assert_eq!(s.name().parse::<SubLayer>().unwrap(), s);
        }
        let e = "gpt4".parse::<Model>().unwrap_err();
        assert!(
            e.to_string().contains("expected one of mega-gpt2, tnlg"),
            "{e}"
        );
    }

    fn layer_op(t: &Trace, name: &str) -> Op {
        t.op(name).cloned().unwrap()
    }

    #[test]
    fn a_layer_has_megatrons_shapes() {
        let t = generate_layer(Model::Tnlg, 8, DEFAULT_TOKENS).unwrap();
        assert_eq!(t.name, "tnlg-tp8-layer");
        assert_eq!(t.version, 2);
        let shape = |n: &str| match layer_op(&t, n) {
            Op::Gemm(g) => (g.m, g.n, g.k),
            other => panic!("{other:?}"),
        };
        // H = 4256, tp = 8: QKV N = 3H/tp, OP K = H/tp, FC-1 N = 4H/tp, FC-2 K = 4H/tp.
        assert_eq!(shape("qkv"), (8192, 1596, 4256));
        assert_eq!(shape("op"), (8192, 4256, 532));
        assert_eq!(shape("fc1"), (8192, 2128, 4256));
        assert_eq!(shape("fc2"), (8192, 4256, 2128));
        for ar in ["op-ar", "fc2-ar"] {
            assert!(matches!(layer_op(&t, ar), Op::AllReduce(_)), "{ar}");
        }
    }

    #[test]
    fn attention_figures_follow_heads_and_sequence_length() {
        // GPT-3: H 12288, A 96, S 2048; T 8192 = 4 sequences; tp 32.
        let t = generate_layer(Model::Gpt3, 32, DEFAULT_TOKENS).unwrap();
        let cost = |n: &str| match layer_op(&t, n) {
            Op::Compute(c) => (c.flops.unwrap(), c.bytes.unwrap()),
            other => panic!("{other:?}"),
        };
        let (tok, s, h_tp, a_tp) = (8192u64, 2048u64, 12288u64 / 32, 3u64);
        let scores = tok * s * a_tp * 2; // 4 sequences x 3 heads x S x S x 2 B
        let act = tok * h_tp * 2;
        assert_eq!(cost("attn-scores"), (2 * tok * s * h_tp, 2 * act + scores));
        assert_eq!(cost("attn-softmax"), (0, 2 * scores));
        assert_eq!(cost("attn-context"), (2 * tok * s * h_tp, scores + 2 * act));
        // Twice the sequence length doubles the matrix FLOPs per token.
        let mega = generate_layer(Model::MegaGpt2, 8, DEFAULT_TOKENS).unwrap();
        let f = |t: &Trace| match t.op("attn-scores") {
            Some(Op::Compute(c)) => c.flops.unwrap() as f64,
            _ => 0.0,
        };
        // Per device: 2 T S H / tp; GPT-3 (S 2048, H/tp 384) vs Mega-GPT-2 (S 1024, H/tp 384).
        assert_eq!(f(&t) / f(&mega), 2.0);
    }

    #[test]
    fn layer_arguments_that_do_not_slice_are_rejected_naming_the_flag() {
        // Whole sequences: 1000 tokens of T-NLG's 1024-token sequences.
        let e = generate_layer(Model::Tnlg, 8, 8 * 1000).unwrap_err();
        assert!(e.to_string().contains("field `tokens`"), "{e}");
        assert!(e.to_string().contains("S = 1024"), "{e}");
        // 3H = 12768 does not split 64 ways.
        let e = generate_layer(Model::Tnlg, 64, DEFAULT_TOKENS).unwrap_err();
        assert!(e.to_string().contains("field `tp`"), "{e}");
        let e = generate_layer(Model::Tnlg, 1, DEFAULT_TOKENS).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let t = generate_layer(Model::Palm, 32, 4096).unwrap();
        assert_eq!(t.name, "palm-tp32-layer-t4096");
    }

    #[test]
    fn shipped_set_has_28_traces() {
        assert_eq!(shipped().len(), 28);
        assert_eq!(shipped_layers().len(), 5);
    }
}
