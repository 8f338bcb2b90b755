//! `t3sim trace gen`: synthetic traces of the paper's sub-layers and of a
//! whole Transformer layer's forward pass.

use super::progress::{self, Ui};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::path::{Path, PathBuf};
use t3sim::trace::{self, DEFAULT_TOKENS, Model, SubLayer, generator};

pub const EXAMPLES: &str = "Examples:
  t3sim trace gen --model tnlg --tp 8 --sublayer fc2                  # JSON on stdout
  t3sim trace gen --model gpt3 --tp 32 --sublayer op --out gpt3-op.json
  t3sim trace gen --model mega-gpt2 --tp 16 --sublayer ip --tokens 4096 --out-dir traces/
  t3sim trace gen --model palm --tp 32 --layer --out palm-layer.json  # QKV, attention, OP, FC-1, FC-2
  t3sim trace gen --all --out-dir traces/     # the 33 shipped traces: 28 sub-layers, 5 layers";

/// Arguments of `trace gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Model (sets the hidden size H).
    #[arg(long, value_parser = model_parser(), required_unless_present = "all")]
    pub model: Option<Model>,
    /// Tensor-parallel degree (devices in the ring).
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub tp: Option<u32>,
    /// Sub-layer: op and fc2 (forward), fc1 and ip (backward).
    #[arg(long, value_parser = sublayer_parser(), required_unless_present_any = ["all", "layer"])]
    pub sublayer: Option<SubLayer>,
    /// A whole layer's forward pass instead of a sub-layer: QKV GEMM,
    /// attention (compute ops), OP GEMM -> all-reduce, FC-1, FC-2 -> all-reduce.
    #[arg(long, conflicts_with_all = ["sublayer", "all"])]
    pub layer: bool,
    /// Tokens T (batch x sequence) = the GEMM's M. Names get `-t<T>` when
    /// T is not the default.
    #[arg(long, default_value_t = DEFAULT_TOKENS)]
    pub tokens: u64,
    /// Write the trace here instead of stdout (`-` is stdout).
    #[arg(long, conflicts_with_all = ["out_dir", "all"])]
    pub out: Option<PathBuf>,
    /// Write `<DIR>/<trace name>.json` (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Every shipped trace: each (model, tp, sub-layer) with Mega-GPT-2 and
    /// T-NLG at TP 8 and 16, GPT-3, PaLM and MT-NLG at TP 32; and each
    /// model's layer at its smallest of those TP degrees.
    #[arg(long, requires = "out_dir", conflicts_with_all = ["model", "sublayer"])]
    pub all: bool,
}

fn model_parser() -> impl TypedValueParser<Value = Model> {
    PossibleValuesParser::new(Model::ALL.map(Model::name)).try_map(|s| s.parse::<Model>())
}

fn sublayer_parser() -> impl TypedValueParser<Value = SubLayer> {
    PossibleValuesParser::new(SubLayer::ALL.map(SubLayer::name)).try_map(|s| s.parse::<SubLayer>())
}

pub fn run(a: GenArgs, ui: &Ui) -> anyhow::Result<()> {
    if a.all {
        let dir = a.out_dir.as_deref().unwrap_or(Path::new("."));
        let subs = generator::shipped();
        let layers = generator::shipped_layers();
        let bar = ui.progress((subs.len() + layers.len()) as u64, "traces");
        for (model, tp, sublayer) in &subs {
            let t = flags(trace::generate(*model, *tp, *sublayer, a.tokens))?;
            bar.set_message(t.name.clone());
            write_into(dir, &t)?;
            bar.inc(1);
        }
        for (model, tp) in &layers {
            let t = flags(trace::generate_layer(*model, *tp, a.tokens))?;
            bar.set_message(t.name.clone());
            write_into(dir, &t)?;
            bar.inc(1);
        }
        bar.finish();
        ui.note(format!(
            "wrote {} traces to {} ({} sub-layers, {} layers)",
            subs.len() + layers.len(),
            dir.display(),
            subs.len(),
            layers.len()
        ));
        return Ok(());
    }
    // clap requires these unless --all.
    let (Some(model), Some(tp)) = (a.model, a.tp) else {
        return Err(super::input_error(
            "command line",
            "",
            "give --model, --tp and --sublayer (or --layer), or --all",
        ));
    };
    let t = match (a.layer, a.sublayer) {
        (true, _) => flags(trace::generate_layer(model, tp, a.tokens))?,
        (false, Some(sublayer)) => flags(trace::generate(model, tp, sublayer, a.tokens))?,
        (false, None) => {
            return Err(super::input_error(
                "command line",
                "--sublayer",
                "give --sublayer or --layer",
            ));
        }
    };
    match (&a.out, &a.out_dir) {
        (Some(p), _) if p.as_os_str() != "-" => {
            trace::save(&t, p)?;
            ui.note(format!("wrote {} ({})", p.display(), summary(&t)));
        }
        (None, Some(dir)) => {
            let p = write_into(dir, &t)?;
            ui.note(format!("wrote {} ({})", p.display(), summary(&t)));
        }
        _ => progress::stdout(&trace::to_json(&t))?,
    }
    Ok(())
}

/// The generator's errors point at its parameters; on the command line
/// those are flags.
fn flags(r: t3sim::Result<trace::Trace>) -> anyhow::Result<trace::Trace> {
    r.map_err(|e| match e {
        t3sim::Error::Input(mut ie) => {
            ie.loc = t3sim::error::Location::file("command line");
            if !ie.field.is_empty() {
                ie.field = format!("--{}", ie.field);
            }
            t3sim::Error::Input(ie).into()
        }
        other => other.into(),
    })
}

fn write_into(dir: &Path, t: &trace::Trace) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| t3sim::Error::io(format!("creating directory {}", dir.display()), e))?;
    let p = dir.join(format!("{}.json", t.name));
    trace::save(t, &p)?;
    Ok(p)
}

fn summary(t: &trace::Trace) -> String {
    match (t.ops.len(), t.gemm()) {
        (2, Some(g)) => format!("{}: tp {}, GEMM {} x {} x {}", t.name, t.tp, g.m, g.n, g.k),
        (n, _) => format!("{}: tp {}, {n} ops", t.name, t.tp),
    }
}
