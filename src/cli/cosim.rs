use super::progress::Ui;
use clap::Args;
use std::path::PathBuf;
use t3sim::cosim::{self, CosimError};

pub const EXAMPLES: &str = "Examples:
  t3sim cosim --block tracker --cycles 1000000 --seed 7
  t3sim cosim --block all --cycles 100000 --out out/cosim

Needs a build with the RTL: cargo build --release --features rtl
(scripts/setup.sh installs Verilator).";

#[derive(Debug, Args)]
pub struct CosimArgs {
    /// Block to check: tracker, nmc_alu, mca_arbiter, or all.
    #[arg(long, default_value = "all")]
    pub block: String,
    /// Cycles of constrained-random stimulus.
    #[arg(long, default_value_t = 1_000_000)]
    pub cycles: u64,
    /// Stimulus seed (a divergence report repeats it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where a divergence's waveform (VCD) goes.
    #[arg(long, default_value = "out/cosim")]
    pub out: PathBuf,
}

pub fn run(a: CosimArgs, ui: &Ui) -> anyhow::Result<()> {
    let blocks: Vec<&str> = if a.block == "all" {
        cosim::BLOCKS.to_vec()
    } else {
        vec![a.block.as_str()]
    };
    let mut text = String::new();
    for b in blocks {
        let spin = ui.spinner(&format!("co-simulating {b}"));
        let r = cosim::run_block(b, a.cycles, a.seed, &a.out);
        drop(spin);
        match r {
            Ok(s) => {
                text += &format!(
                    "{:12} {} cycles, seed {}, no divergence ({:.2} M cycles/s)\n",
                    s.block,
                    s.cycles,
                    s.seed,
                    s.cycles_per_s / 1e6
                );
            }
            Err(CosimError::UnknownBlock(name)) => {
                return Err(super::input_error(
                    "command line",
                    "--block",
                    format!(
                        "unknown block `{name}`; known: {}, all",
                        cosim::BLOCKS.join(", ")
                    ),
                ));
            }
            Err(e) => return Err(t3sim::Error::Check(e.to_string()).into()),
        }
    }
    super::progress::stdout(&text)?;
    Ok(())
}
