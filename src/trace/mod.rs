//! Traces: the op graph a tensor-parallel group runs (schema, loading and
//! validation, the engine's resolved [`OpGraph`]), generators, importers.
//!
//! Every problem with a trace file is an [`InputError`] naming the file, the
//! line and column, and the field path (`ops[1].tile_m`). Parsing runs in
//! stages so each kind of problem gets the best location available:
//! JSON syntax (serde_json's own position), duplicate keys, the version
//! (checked first so a future format is reported as such, not as a pile of
//! unknown fields), types (serde, with the path tracked into each op), the
//! rules of each field (`rules`), and those between ops, which building the
//! [`OpGraph`] checks (`graph`).

pub mod chakra;
/// Synthetic traces of the paper's workloads (`gen` is reserved in edition 2024).
#[path = "gen.rs"]
pub mod generator;
pub mod graph;
mod rules;
pub mod schema;
mod span;

pub use chakra::{ChakraImport, ImportOptions, MappedNode, UnsupportedNode, import};
pub use generator::{DEFAULT_TOKENS, Model, SubLayer, generate, generate_layer};
pub use graph::{
    CollectiveKind, CollectiveNode, ComputeNode, GemmNode, GraphOp, OpGraph, OpKind, Transfer,
};
pub use schema::{
    AllGatherOp, CollectiveOp, ComputeOp, DeviceOverride, Dtype, GemmOp, Group, LINE_BYTES,
    MAX_BUFFER_BYTES, MAX_TP, OP_KINDS, Op, P2pOp, ReduceScatterOp, SUPPORTED_VERSIONS,
    TRACE_VERSION, Trace,
};
pub use span::{FieldPath, Seg};

use crate::error::{InputError, Location, Result};
use serde_json::Value;
use span::{line_col, locate};
use std::path::Path;

/// Reads and validates the trace at `path`.
pub fn load(path: &Path) -> Result<Trace> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| InputError::file(path, format!("cannot read file: {e}")))?;
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]);
            let (line, col) = line_col(&prefix, valid);
            return Err(InputError::new(
                Location::at(name, line, col),
                span::path_at(&prefix, valid).to_string(),
                format!("file is not valid UTF-8 (byte offset {valid})"),
            )
            .into());
        }
    };
    parse(&name, &src)
}

/// Parses and validates a trace from JSON text; `file_name` is used in
/// error messages only.
pub fn parse(file_name: &str, src: &str) -> Result<Trace> {
    if src.trim().is_empty() {
        return Err(InputError::new(
            Location::at(file_name, 1, 1),
            "",
            "file is empty (expected a JSON trace object)",
        )
        .into());
    }
    let value: Value = serde_json::from_str(src).map_err(|e| syntax_error(file_name, src, &e))?;
    let at = |path: FieldPath, msg: String| -> crate::Error {
        let (line, col) = line_col(src, locate(src, &path));
        InputError::new(Location::at(file_name, line, col), path.to_string(), msg).into()
    };
    if let Some((path, offset)) = span::duplicate_key(src) {
        let (line, col) = line_col(src, offset);
        return Err(InputError::new(
            Location::at(file_name, line, col),
            path.to_string(),
            "key appears twice in the same object",
        )
        .into());
    }
    check_version(&value).map_err(|(p, m)| at(p, m))?;
    let trace = typed(&value).map_err(|(p, m)| at(p, m))?;
    graph::check(&trace).map_err(|(p, m)| at(p, m))?;
    Ok(trace)
}

/// Checks a trace built in memory (a generator's or an importer's) against
/// the same rules as a loaded one; `file_name` names it in errors.
pub fn validate(trace: &Trace, file_name: &str) -> Result<()> {
    graph::check(trace)
        .map_err(|(p, m)| InputError::new(Location::file(file_name), p.to_string(), m).into())
}

/// The canonical JSON text of a trace (pretty, newline-terminated): what
/// [`save`] writes and the shipped traces contain.
pub fn to_json(trace: &Trace) -> String {
    // Serialising plain structs, strings, integers, finite floats and a
    // `Value` into a String cannot fail; fall back to compact output in the
    // impossible case rather than panic.
    let mut s = serde_json::to_string_pretty(trace).unwrap_or_default();
    s.push('\n');
    s
}

/// Validates `trace` and writes it to `path` as [`to_json`] text.
pub fn save(trace: &Trace, path: &Path) -> Result<()> {
    validate(trace, &path.display().to_string())?;
    std::fs::write(path, to_json(trace))
        .map_err(|e| crate::Error::io(format!("writing trace {}", path.display()), e))
}

fn syntax_error(file_name: &str, src: &str, e: &serde_json::Error) -> crate::Error {
    let line = e.line().max(1);
    let col = e.column().max(1);
    // serde_json appends " at line L column C"; the location says that.
    let full = e.to_string();
    let msg = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i])
        .to_string();
    let offset = offset_of(src, line, col);
    let field = span::path_at(src, offset).to_string();
    let what = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON",
        serde_json::error::Category::Syntax => "JSON syntax error",
        _ => "invalid JSON",
    };
    InputError::new(
        Location::at(file_name, line, col),
        field,
        format!("{what}: {msg}"),
    )
    .into()
}

/// Byte offset of a 1-based line and (byte) column, clamped to the text.
fn offset_of(src: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match src[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return src.len(),
        }
    }
    (start + col.saturating_sub(1)).min(src.len())
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_version(v: &Value) -> Result<(), span::Problem> {
    let root = FieldPath::root();
    let Some(obj) = v.as_object() else {
        return Err((
            root,
            format!("expected a trace object, found {}", describe(v)),
        ));
    };
    let known = SUPPORTED_VERSIONS.map(|v| v.to_string()).join(" and ");
    match obj.get("version") {
        None => Err((
            root.key("version"),
            format!("missing; this build reads trace versions {known}"),
        )),
        Some(Value::Number(n))
            if n.as_u64()
                .is_some_and(|v| SUPPORTED_VERSIONS.iter().any(|&s| u64::from(s) == v)) =>
        {
            Ok(())
        }
        Some(Value::Number(n)) => Err((root.key("version"), rules::version_message(n))),
        Some(other) => Err((
            root.key("version"),
            format!(
                "expected an integer version ({known}), found {}",
                describe(other)
            ),
        )),
    }
}

fn convert(p: &serde_path_to_error::Path) -> FieldPath {
    use serde_path_to_error::Segment;
    FieldPath(
        p.iter()
            .filter_map(|s| match s {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Enum { .. } | Segment::Unknown => None,
            })
            .collect(),
    )
}

/// Moves a field named in serde's message ("missing field `m`") into the
/// path, so the path always ends at the offending field.
fn finish(mut path: FieldPath, msg: String) -> span::Problem {
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
        {
            let name = &rest[..end];
            if path.0.last() != Some(&Seg::Key(name.to_string())) {
                path = path.key(name);
            }
            let msg = if prefix.starts_with("missing") {
                "missing required field".to_string()
            } else {
                format!("unknown field{}", &rest[end + 1..])
            };
            return (path, msg);
        }
    }
    (path, msg)
}

fn typed(value: &Value) -> Result<Trace, span::Problem> {
    match serde_path_to_error::deserialize::<_, Trace>(value) {
        Ok(t) => Ok(t),
        Err(e) => {
            let path = convert(e.path());
            if let [Seg::Key(k), Seg::Index(i), ..] = path.0.as_slice()
                && k == "ops"
            {
                return Err(diagnose_op(value, *i, e.inner().to_string()));
            }
            Err(finish(path, e.inner().to_string()))
        }
    }
}

/// serde buffers an internally tagged op before picking its variant, which
/// loses the path inside the op; redo that op by hand to recover it.
fn diagnose_op(value: &Value, i: usize, fallback: String) -> span::Problem {
    let at = FieldPath::root().key("ops").index(i);
    let Some(obj) = value.get("ops").and_then(|o| o.get(i)) else {
        return (at, fallback);
    };
    let Some(obj) = obj.as_object() else {
        return (
            at,
            format!("expected an op object, found {}", describe(obj)),
        );
    };
    let kinds = OP_KINDS.join(", ");
    let kind = match obj.get("kind") {
        None => return (at.key("kind"), format!("missing; expected one of {kinds}")),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return (
                at.key("kind"),
                format!(
                    "expected a string (one of {kinds}), found {}",
                    describe(other)
                ),
            );
        }
    };
    let mut rest = obj.clone();
    rest.remove("kind");
    let rest = Value::Object(rest);
    let inner = match kind {
        "gemm" => serde_path_to_error::deserialize::<_, GemmOp>(&rest).map(drop),
        "reduce-scatter" | "all-gather" | "all-reduce" | "all-to-all" => {
            serde_path_to_error::deserialize::<_, CollectiveOp>(&rest).map(drop)
        }
        "compute" => serde_path_to_error::deserialize::<_, ComputeOp>(&rest).map(drop),
        "send" | "recv" => serde_path_to_error::deserialize::<_, P2pOp>(&rest).map(drop),
        other => {
            return (
                at.key("kind"),
                format!("unknown op kind `{other}`; expected one of {kinds}"),
            );
        }
    };
    match inner {
        Err(e) => {
            let mut path = at;
            path.0.extend(convert(e.path()).0);
            finish(path, e.inner().to_string())
        }
        Ok(()) => (at, fallback),
    }
}
