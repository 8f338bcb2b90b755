//! Subcommands. Each parses its arguments, calls the library, and prints.

mod mem;

use clap::{Parser, Subcommand};

/// Cycle-level simulator of fused compute-collectives hardware (T3).
#[derive(Debug, Parser)]
#[command(name = "t3sim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a DRAM trace (Ramulator 2 or DRAMsim3 format) through the HBM model.
    #[command(after_help = mem::EXAMPLES)]
    Mem(mem::MemArgs),
    /// List the shipped hardware presets.
    Presets,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Mem(a) => mem::run(a),
        Command::Presets => {
            for (name, src) in t3sim::config::PRESETS {
                let about = src
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('#')
                    .trim();
                println!("{name:14} {about}");
            }
            Ok(())
        }
    }
}
