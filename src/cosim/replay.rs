//! `t3sim replay --cosim`: a whole replay with RTL blocks in lockstep with
//! the model. What is checked, per block:
//!
//! - `tracker`: every step of each simulated device's tracker (one RTL
//!   tracker per device; with the symmetric shortcut one device is
//!   simulated, so one tracker). Each model step is one RTL edge with a
//!   valid update; idle edges are not driven because an idle edge leaves
//!   the RTL table unchanged. Compared: accept, fire and tile, occupancy.
//! - `nmc`: every near-memory update burst the DRAM performs goes through
//!   the RTL ALU and the model's add. The replay carries signatures, not
//!   FP16 data, so the operands are synthetic: per device a seeded stream
//!   (specials, subnormals, exact and near cancellation, equal exponents),
//!   in the order the DRAM serves the updates, in `mem.nmc.dtype`.
//! - `arbiter`: every channel of every simulated device gets an RTL t3-mca
//!   arbiter, stepped through the DRAM cycles between the controller's
//!   logged arbitration events (see `mem::arbiter::ArbEvent`) with the
//!   inputs held. At each issued command decision the RTL gets the
//!   controller's inputs and its grant and starvation counter must match;
//!   at each admission check the counter must match.
//!
//! Results come back as [`Outcome`]s, one per block per watched run.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::Waveform;

/// The blocks `--cosim` accepts.
pub const REPLAY_BLOCKS: &[&str] = &["tracker", "nmc", "arbiter"];

/// Which RTL blocks a replay checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    pub tracker: bool,
    pub nmc: bool,
    pub arbiter: bool,
}

impl Selection {
    /// `all`, or a comma-separated list of [`REPLAY_BLOCKS`].
    pub fn parse(s: &str) -> Result<Selection, String> {
        let mut sel = Selection::default();
        for name in s.split(',').map(str::trim) {
            match name {
                "all" => {
                    sel = Selection {
                        tracker: true,
                        nmc: true,
                        arbiter: true,
                    }
                }
                "tracker" => sel.tracker = true,
                "nmc" => sel.nmc = true,
                "arbiter" => sel.arbiter = true,
                _ => {
                    return Err(format!(
                        "unknown block `{name}`; known: {}, all",
                        REPLAY_BLOCKS.join(", ")
                    ));
                }
            }
        }
        Ok(sel)
    }

    pub fn any(&self) -> bool {
        self.tracker || self.nmc || self.arbiter
    }

    pub fn only(block: Block) -> Selection {
        let mut s = Selection::default();
        match block {
            Block::Tracker => s.tracker = true,
            Block::Nmc => s.nmc = true,
            Block::Arbiter => s.arbiter = true,
        }
        s
    }
}

/// One of the blocks a replay checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Block {
    Tracker,
    Nmc,
    Arbiter,
}

impl Block {
    pub fn name(self) -> &'static str {
        match self {
            Block::Tracker => "tracker",
            Block::Nmc => "nmc",
            Block::Arbiter => "arbiter",
        }
    }
}

/// A deliberate error in what one block's RTL is fed, to show that the
/// check catches it (tests). Active on the block's checked cycles before
/// `before` (all when `None`): the tracker sees `expected - 1`, the ALU one
/// ulp more in lane 0 of `b`, the arbiter `threshold + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub block: Block,
    pub before: Option<u64>,
}

impl Fault {
    /// `BLOCK` or `BLOCK:before=CYCLE`.
    pub fn parse(s: &str) -> Result<Fault, String> {
        let (name, rest) = match s.split_once(':') {
            Some((n, r)) => (n, Some(r)),
            None => (s, None),
        };
        let block = match name {
            "tracker" => Block::Tracker,
            "nmc" => Block::Nmc,
            "arbiter" => Block::Arbiter,
            _ => return Err(format!("unknown fault block `{name}`")),
        };
        let before = match rest {
            None => None,
            Some(r) => Some(
                r.strip_prefix("before=")
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| format!("expected `before=CYCLE`, got `{r}`"))?,
            ),
        };
        Ok(Fault { block, before })
    }

    /// Whether the fault applies to `block` at checked cycle `cycle`.
    pub fn hits(fault: Option<Fault>, block: Block, cycle: u64) -> bool {
        fault.is_some_and(|f| f.block == block && f.before.is_none_or(|b| cycle < b))
    }
}

/// Which instance's waveform a re-run dumps, ending at its RTL edge
/// `step` (counted from reset, 0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceTarget {
    pub block: Block,
    pub device: u32,
    pub channel: Option<u32>,
    pub step: u64,
    pub path: PathBuf,
}

/// How a replay's co-simulation runs.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub blocks: Selection,
    /// Seed of the synthetic NMC operands.
    pub seed: u64,
    pub fault: Option<Fault>,
    pub trace: Option<TraceTarget>,
}

/// What one block checked in one run, without divergence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BlockCheck {
    pub block: String,
    pub mode: String,
    /// RTL instances (devices, or device channels for the arbiter).
    pub instances: u32,
    /// Comparisons made: tracker steps, ALU bursts, arbiter decisions and
    /// admission checks.
    pub checked: u64,
    /// RTL clock edges driven.
    pub rtl_cycles: u64,
    /// Arbiter: DRAM cycles covered; those not driven were skipped where
    /// skipping provably leaves the outputs unchanged. Else equal to
    /// `rtl_cycles`.
    pub dram_cycles: u64,
    pub wall_s: f64,
}

/// The first divergence a block found in a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayDivergence {
    pub block: Block,
    pub mode: String,
    pub device: u32,
    pub channel: Option<u32>,
    /// The block's cycle: the tracker step, the DRAM cycle of the update
    /// (nmc) or of the decision (arbiter).
    pub cycle: u64,
    /// The RTL edge of the instance (0-based from reset).
    pub step: u64,
    pub seed: u64,
    pub inputs: String,
    pub expected: String,
    pub actual: String,
    pub fields: String,
    pub waveform: Waveform,
}

impl fmt::Display for ReplayDivergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} replay): RTL diverges from the model on device {}",
            self.block.name(),
            self.mode,
            self.device
        )?;
        if let Some(c) = self.channel {
            write!(f, " channel {c}")?;
        }
        writeln!(
            f,
            " at cycle {} (RTL edge {}, seed {})",
            self.cycle, self.step, self.seed
        )?;
        super::lockstep::write_details(
            f,
            [&self.fields, &self.inputs, &self.expected, &self.actual],
            &self.waveform,
        )
    }
}

/// One block's result in one watched run.
pub type Outcome = Result<BlockCheck, Box<ReplayDivergence>>;

/// Where the watched runs leave their outcomes.
pub type Sink = Arc<Mutex<Vec<Outcome>>>;

/// Takes the outcomes out of a sink (a poisoned lock still holds them).
pub fn take(sink: &Sink) -> Vec<Outcome> {
    match sink.lock() {
        Ok(mut v) => std::mem::take(&mut *v),
        Err(p) => std::mem::take(&mut *p.into_inner()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_parses_lists_and_all_and_names_unknown_blocks() {
        let s = Selection::parse("tracker,arbiter").unwrap();
        assert!(s.tracker && s.arbiter && !s.nmc);
        let s = Selection::parse("all").unwrap();
        assert!(s.tracker && s.nmc && s.arbiter);
        let e = Selection::parse("tracker,dma").unwrap_err();
        assert_eq!(e, "unknown block `dma`; known: tracker, nmc, arbiter, all");
        assert!(Selection::parse("").is_err());
    }

    #[test]
    fn fault_windows_apply_before_their_cycle_only() {
        let f = Fault::parse("arbiter:before=10").unwrap();
        assert!(Fault::hits(Some(f), Block::Arbiter, 9));
        assert!(!Fault::hits(Some(f), Block::Arbiter, 10));
        assert!(!Fault::hits(Some(f), Block::Tracker, 0));
        assert!(Fault::hits(
            Some(Fault::parse("nmc").unwrap()),
            Block::Nmc,
            u64::MAX
        ));
        assert!(Fault::parse("arbiter:after=3").is_err());
        assert!(Fault::parse("dma").is_err());
    }
}
