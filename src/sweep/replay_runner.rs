//! The sweep runner that replays a point: load its trace and config, replay
//! `sequential` and the point's mode, and turn the mode's report into a CSV
//! row. `t3sim sweep` and the tests share it.
//!
//! Columns (units in names; totals over the ring as in `report.json`):
//!
//! | column | meaning |
//! |---|---|
//! | `time_us` | sub-layer time in this mode (the last device to finish) |
//! | `sequential_us` | sub-layer time of `sequential` on the same point |
//! | `speedup` | `sequential_us / time_us` |
//! | `time_reduction` | `1 - time_us / sequential_us` |
//! | `overlap` | fraction of the shorter of GEMM-alone and RS-alone hidden |
//! | `gemm_us`, `rs_us` | longest GEMM and reduce-scatter over devices |
//! | `exposed_comm_us` | longest time after a device's GEMM ended until it finished |
//! | `gemm_slowdown` | worst device's GEMM time over its GEMM alone |
//! | `dram_mb` | DRAM bytes of all devices, in MB (10^6 bytes) |
//! | `dram_vs_sequential` | `dram_mb` over that of `sequential` |
//! | `link_utilisation` | busy fraction of the outgoing links, mean over devices |
//! | `row_hit_rate` | DRAM row-buffer hit rate, mean over devices |
//! | `arb_stall_cycles` | arbitration stalls summed over devices (DRAM cycles) |

use super::{Point, Row};
use crate::error::{Error, InputError, Location, Result};
use crate::modes::Mode;
use crate::replay;
use crate::report::replay::ReplayReport;

/// The metric columns of [`row_from_report`], in order.
pub const COLUMNS: &[&str] = &[
    "time_us",
    "sequential_us",
    "speedup",
    "time_reduction",
    "overlap",
    "gemm_us",
    "rs_us",
    "exposed_comm_us",
    "gemm_slowdown",
    "dram_mb",
    "dram_vs_sequential",
    "link_utilisation",
    "row_hit_rate",
    "arb_stall_cycles",
];

/// The [`Mode`] a sweep names, or `None` when this build does not implement
/// it yet (the spec format knows every mode of DESIGN.md section 2).
pub fn parse_mode(name: &str) -> Option<Mode> {
    <Mode as clap::ValueEnum>::from_str(name, false).ok()
}

/// Names of the modes this build can replay, for messages.
pub fn available_modes() -> Vec<&'static str> {
    <Mode as clap::ValueEnum>::value_variants()
        .iter()
        .map(|m| m.name())
        .collect()
}

/// Replays one sweep point and returns its metrics ([`COLUMNS`]).
///
/// `sequential` is replayed alongside the point's mode so that speedup and
/// traffic ratios are always against the same hardware and trace, whatever
/// other modes the spec lists (and whichever shard holds them).
pub fn run_point(point: &Point) -> Result<Row> {
    let mode = parse_mode(&point.mode).ok_or_else(|| {
        Error::from(InputError::new(
            Location::file("sweep spec"),
            "modes",
            format!(
                "mode `{}` is not implemented in this build; available: {}",
                point.mode,
                available_modes().join(", ")
            ),
        ))
    })?;
    let trace = crate::trace::load(&point.trace)?;
    let cfg = point.config()?;
    let modes: &[Mode] = if mode == Mode::Sequential {
        &[Mode::Sequential]
    } else {
        &[Mode::Sequential, mode]
    };
    let report = replay::replay(&trace, &cfg, modes)?;
    row_from_report(&report, mode)
}

/// The CSV row of one mode of a report that also holds `sequential`.
pub fn row_from_report(report: &ReplayReport, mode: Mode) -> Result<Row> {
    let find = |m: Mode| {
        report.modes.iter().find(|r| r.mode == m).ok_or_else(|| {
            Error::Check(format!(
                "report of `{}` has no `{}` run",
                report.trace.name,
                m.name()
            ))
        })
    };
    let seq = find(Mode::Sequential)?;
    let r = find(mode)?;
    let t = &r.total;
    let us = |ns: f64| ns / 1e3;
    Ok(Row::new()
        .with(COLUMNS[0], us(r.time_ns))
        .with(COLUMNS[1], us(seq.time_ns))
        .with(COLUMNS[2], r.speedup)
        .with(COLUMNS[3], r.time_reduction)
        .with(COLUMNS[4], r.overlap)
        .with(COLUMNS[5], us(t.gemm_ns))
        .with(COLUMNS[6], us(t.rs_ns))
        .with(COLUMNS[7], us(t.exposed_comm_ns))
        .with(COLUMNS[8], t.gemm_slowdown)
        .with(COLUMNS[9], t.dram_bytes as f64 / 1e6)
        // From the totals: the report's `total.dram_bytes_vs_sequential` is
        // not summed over devices.
        .with(
            COLUMNS[10],
            t.dram_bytes as f64 / seq.total.dram_bytes.max(1) as f64,
        )
        .with(COLUMNS[11], t.link_utilisation)
        .with(COLUMNS[12], t.row_hit_rate)
        .with(COLUMNS[13], t.arb_stall_cycles))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_of_this_build_parses_by_its_name() {
        for m in <Mode as clap::ValueEnum>::value_variants() {
            assert_eq!(parse_mode(m.name()), Some(*m));
        }
        assert_eq!(parse_mode("no-such-mode"), None);
    }
}
