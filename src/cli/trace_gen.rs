//! `t3sim trace gen`: synthetic traces of the paper's sub-layers.

use super::progress::{self, Ui};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::path::{Path, PathBuf};
use t3sim::trace::{self, DEFAULT_TOKENS, Model, SubLayer, generator};

pub const EXAMPLES: &str = "Examples:
  t3sim trace gen --model tnlg --tp 8 --sublayer fc2                  # JSON on stdout
  t3sim trace gen --model gpt3 --tp 32 --sublayer op --out gpt3-op.json
  t3sim trace gen --model mega-gpt2 --tp 16 --sublayer ip --tokens 4096 --out-dir traces/
  t3sim trace gen --all --out-dir traces/                            # the 28 shipped traces";

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
    #[arg(long, value_parser = sublayer_parser(), required_unless_present = "all")]
    pub sublayer: Option<SubLayer>,
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
    /// Every shipped (model, tp, sub-layer): Mega-GPT-2 and T-NLG at TP 8
    /// and 16, GPT-3, PaLM and MT-NLG at TP 32.
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
        let set = generator::shipped();
        let bar = ui.progress(set.len() as u64, "traces");
        for (model, tp, sublayer) in &set {
            let t = generate(*model, *tp, *sublayer, a.tokens)?;
            bar.set_message(t.name.clone());
            write_into(dir, &t)?;
            bar.inc(1);
        }
        bar.finish();
        ui.note(format!("wrote {} traces to {}", set.len(), dir.display()));
        return Ok(());
    }
    // clap requires these unless --all.
    let (Some(model), Some(tp), Some(sublayer)) = (a.model, a.tp, a.sublayer) else {
        return Err(super::input_error(
            "command line",
            "",
            "give --model, --tp and --sublayer, or --all",
        ));
    };
    let t = generate(model, tp, sublayer, a.tokens)?;
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
fn generate(
    model: Model,
    tp: u32,
    sublayer: SubLayer,
    tokens: u64,
) -> anyhow::Result<trace::Trace> {
    trace::generate(model, tp, sublayer, tokens).map_err(|e| match e {
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
    match t.gemm() {
        Some(g) => format!("{}: tp {}, GEMM {} x {} x {}", t.name, t.tp, g.m, g.n, g.k),
        None => format!("{}: tp {}", t.name, t.tp),
    }
}
