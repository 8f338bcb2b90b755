//! Reports made from plain data: plots (PNG and SVG) and a Chrome/Perfetto
//! timeline.
//!
//! The input types here are serde structs so that a run's stats can be
//! saved as JSON and plotted later; nothing in this module depends on the
//! simulator's internals.
//!
//! - [`plot`]: timeline (Gantt), speedup bars, DRAM bandwidth over time,
//!   traffic breakdown, sweep line plots and heatmaps.
//! - [`perfetto`]: trace-event JSON for <https://ui.perfetto.dev>.
//! - [`timeline`]: the track order and sub-track splitting both share.

pub mod perfetto;
pub mod plot;
pub mod replay;
pub mod timeline;

pub use crate::stats::{BandwidthSeries, CounterSeries, TimelineSpan};

use crate::error::{InputError, Location, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Speedup of one mode on one sub-layer (`t_sequential / t_mode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeedupRow {
    pub sublayer: String,
    pub mode: String,
    pub speedup: f64,
}

/// DRAM bytes of one stream in one mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficRow {
    pub mode: String,
    pub stream: String,
    pub bytes: f64,
}

/// One cell of a sweep table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Num(f64),
    Text(String),
}

impl Cell {
    /// The number in the cell, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Num(x) => Some(*x),
            Cell::Text(_) => None,
        }
    }

    /// How the cell is shown on an axis or in a legend.
    pub fn label(&self) -> String {
        match self {
            Cell::Num(x) => format_number(*x),
            Cell::Text(s) => s.clone(),
        }
    }
}

/// A table of sweep results: one row per point, named columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl SweepTable {
    /// Reads the CSV a sweep writes (numbers become [`Cell::Num`]).
    pub fn from_csv(file: &str, text: &str) -> Result<SweepTable> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, head) = lines
            .next()
            .ok_or_else(|| InputError::new(Location::file(file), "", "CSV is empty"))?;
        let columns = crate::sweep::partial::parse_record(head)
            .map_err(|m| InputError::new(Location::at(file, 1, 1), "", m))?;
        let mut rows = Vec::new();
        for (i, line) in lines {
            let fields = crate::sweep::partial::parse_record(line)
                .map_err(|m| InputError::new(Location::at(file, i + 1, 1), "", m))?;
            if fields.len() != columns.len() {
                return Err(InputError::new(
                    Location::at(file, i + 1, 1),
                    "",
                    format!(
                        "{} fields, but the header has {}",
                        fields.len(),
                        columns.len()
                    ),
                )
                .into());
            }
            rows.push(
                fields
                    .into_iter()
                    .map(|f| match f.trim().parse::<f64>() {
                        Ok(x) => Cell::Num(x),
                        Err(_) => Cell::Text(f),
                    })
                    .collect(),
            );
        }
        Ok(SweepTable { columns, rows })
    }

    /// Builds a table from maps (columns in the order first seen; a missing
    /// cell becomes an empty text cell).
    pub fn from_maps(maps: &[BTreeMap<String, Cell>]) -> SweepTable {
        let mut columns: Vec<String> = Vec::new();
        for m in maps {
            for k in m.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
        let rows = maps
            .iter()
            .map(|m| {
                columns
                    .iter()
                    .map(|c| m.get(c).cloned().unwrap_or(Cell::Text(String::new())))
                    .collect()
            })
            .collect();
        SweepTable { columns, rows }
    }

    /// The index of a column, or an error naming the columns there are.
    pub fn column(&self, name: &str, field: &str) -> Result<usize> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            InputError::new(
                Location::file("sweep table"),
                field,
                format!("no column `{name}`; columns: {}", self.columns.join(", ")),
            )
            .into()
        })
    }
}

/// A compact number: up to 4 significant digits, no trailing zeros, SI-free.
pub fn format_number(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "n/a".into()
        } else {
            format!("{x}")
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e7).contains(&a) {
        return format!("{x:.2e}");
    }
    let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(1.2345), "1.234");
        assert_eq!(format_number(37.5), "37.5");
        assert_eq!(format_number(123456.0), "123456");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(f64::NAN), "n/a");
        assert_eq!(format_number(2.5e9), "2.50e9");
    }

    #[test]
    fn sweep_csv_reads_back_as_a_table() {
        let t = SweepTable::from_csv("x.csv", "a,mode,t\n1,t3,2.5\n2,\"t3,x\",3\n").unwrap();
        assert_eq!(t.columns, ["a", "mode", "t"]);
        assert_eq!(t.rows[1][1], Cell::Text("t3,x".into()));
        assert_eq!(t.rows[0][2], Cell::Num(2.5));
        let e = SweepTable::from_csv("x.csv", "a,b\n1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.csv:2:1"), "{e}");
    }
}
