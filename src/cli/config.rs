//! `t3sim config check`: validate config files and summarise the hardware
//! they describe (the numbers a reviewer checks first: peak bandwidths,
//! FLOP rate, capacities).

use super::progress::{self, Ui};
use clap::Args;
use std::path::PathBuf;
use t3sim::config::HwConfig;

pub const EXAMPLES: &str = "Examples:
  t3sim config check my-gpu.toml
  t3sim config check my-gpu.toml --set mem.stacks=8 --set link.latency_ns=300
  t3sim presets --show t3-asplos24 > my-gpu.toml && t3sim config check my-gpu.toml

An invalid file exits 2 with file:line:column, the dotted field and the rule,
e.g. `my-gpu.toml:23:1: field `mem.timing.tras`: tRAS (3) is shorter than tRCD (14)...`.";

/// Arguments of `config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Config files (TOML; sections in docs/config.md).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Override a field in every file before checking, e.g.
    /// `--set mem.controller.arbitration=t3-mca`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
}

pub fn run(a: CheckArgs, _ui: &Ui) -> anyhow::Result<()> {
    let mut out = String::new();
    let mut bad = 0usize;
    for f in &a.files {
        match HwConfig::from_file(f, &a.set) {
            Ok(cfg) => out.push_str(&summary(&f.display().to_string(), &cfg)),
            Err(e) => {
                if a.files.len() == 1 {
                    return Err(e.into());
                }
                progress::stdout(&std::mem::take(&mut out))?;
                eprintln!("error: {e}");
                bad += 1;
            }
        }
    }
    progress::stdout(&out)?;
    if bad > 0 {
        return Err(super::input_error(
            "config check",
            "",
            format!(
                "{bad} of {} config files are invalid (errors above)",
                a.files.len()
            ),
        ));
    }
    Ok(())
}

/// A few lines of derived numbers, so a typo (a zero too many) shows.
fn summary(file: &str, c: &HwConfig) -> String {
    let m = &c.mem;
    let g = &c.gpu;
    let tflops = g.cus as f64 * g.flops_per_cycle_per_cu as f64 * g.clock_mhz as f64 / 1e6;
    let k = &m.controller;
    format!(
        "{file}: ok  `{}`\n  \
         mem   {} stack(s) x {} channels{} = {} channels x {} banks, {} B per burst, \
         peak {:.1} GB/s, capacity {}\n  \
         ctrl  {} scheduler, {} arbitration, {} page, refresh {}, queues {}R/{}W\n  \
         gpu   {} CUs at {} MHz = {:.1} TFLOP/s FP16, L2 {} ({}-way, {} B lines)\n  \
         link  {} at {} GB/s per direction, {} ns, {} B packets, {} credits\n  \
         t3    tracker {} entries, {} DMA engine(s); sw-overlap kernel takes {} CUs\n",
        c.name,
        m.stacks,
        m.channels_per_stack,
        if m.pseudo_channel {
            " (pseudo-channel mode)"
        } else {
            ""
        },
        m.channels(),
        m.banks_per_channel(),
        m.access_bytes(),
        m.peak_gbps(),
        super::bytes(m.capacity_bytes()),
        k.scheduler,
        k.arbitration,
        k.page_policy,
        k.refresh,
        k.read_queue,
        k.write_queue,
        g.cus,
        g.clock_mhz,
        tflops,
        super::bytes(g.l2_bytes),
        g.l2_ways,
        g.l2_line_bytes,
        c.link.topology,
        c.link.bw_gbps_per_dir,
        c.link.latency_ns,
        c.link.packet_bytes,
        c.link.credits,
        c.t3.tracker_entries,
        c.t3.dma_engines,
        c.t3.sw_overlap_cus,
    )
}
