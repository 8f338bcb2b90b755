//! Cell values of sweep parameters and metrics, and their CSV spelling.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One parameter or metric value.
///
/// Integers and floats stay distinct so that `64` is written as `64` and an
/// override `t3.tracker_entries=64` stays an integer for the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Value {
    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as a TOML literal, for `--set field=value` overrides.
    pub fn to_toml(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            // Keep a decimal point so TOML reads a float back.
            Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 => {
                format!("{f:.1}")
            }
            Value::Float(f) if f.is_nan() => "nan".into(),
            Value::Float(f) if f.is_infinite() => (if *f > 0.0 { "inf" } else { "-inf" }).into(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => {
                let mut out = String::with_capacity(s.len() + 2);
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('"');
                out
            }
        }
    }
}

/// The CSV spelling (before quoting): Rust's shortest round-trip form for
/// floats, so the same number always gives the same bytes.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => f.write_str(s),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v as f64)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(v as i64)
    }
}
impl From<u64> for Value {
    /// Values above `i64::MAX` become floats rather than wrapping.
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

/// The metrics a runner returns for one point: ordered `(column, value)`
/// pairs. Every point of a sweep must return the same columns in the same
/// order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Row(pub Vec<(String, Value)>);

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Row(Vec::new())
    }

    /// Appends a column.
    pub fn push(&mut self, column: impl Into<String>, value: impl Into<Value>) {
        self.0.push((column.into(), value.into()));
    }

    /// Appends a column, builder style.
    pub fn with(mut self, column: impl Into<String>, value: impl Into<Value>) -> Self {
        self.push(column, value);
        self
    }

    /// The value of a column.
    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.iter().find(|(c, _)| c == column).map(|(_, v)| v)
    }
}

impl From<Vec<(String, Value)>> for Row {
    fn from(v: Vec<(String, Value)>) -> Self {
        Row(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_keep_a_decimal_point_in_toml_but_not_in_csv() {
        assert_eq!(Value::Float(75.0).to_toml(), "75.0");
        assert_eq!(Value::Float(75.0).to_string(), "75");
        assert_eq!(Value::Float(37.5).to_string(), "37.5");
        assert_eq!(Value::Int(64).to_toml(), "64");
        assert_eq!(Value::Str("a\"b".into()).to_toml(), "\"a\\\"b\"");
    }

    #[test]
    fn huge_u64_becomes_float() {
        assert_eq!(Value::from(u64::MAX), Value::Float(u64::MAX as f64));
        assert_eq!(Value::from(5u64), Value::Int(5));
    }
}
