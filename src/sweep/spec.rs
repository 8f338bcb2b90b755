//! The sweep spec: one TOML file naming a base run, the parameters to vary
//! and the execution modes.
//!
//! ```toml
//! modes = ["sequential", "t3", "t3-mca"]   # top-level keys come before tables
//!
//! [base]
//! trace = "traces/mega-gpt2-tp8-fc2.json"  # relative to this file
//! preset = "t3-asplos24"                  # a preset name or a config file
//! set = ["mem.controller.page_policy=closed"]  # optional fixed overrides
//!
//! [params]                                 # varied in the order written
//! "link.bw_gbps_per_dir" = [37.5, 75, 150]
//! "mem.stacks" = [2, 4]
//! "t3.tracker_entries" = [64, 256]
//! ```
//!
//! A parameter key is a config field path (`section.field`, as for
//! `--set`), or `trace` / `preset` to vary the workload or the base
//! hardware. Every value is checked against the config at load time, so a
//! typo or an impossible value fails before any point runs, with the line of
//! the offending key or value.
//!
//! Points are the cross product of the parameters (first parameter varies
//! slowest) with the modes innermost. A point's index is its position in that
//! order; it is stable for a given spec.

use super::value::Value;
use crate::config::{HwConfig, line_col, preset_source};
use crate::error::{InputError, Location, Result, read_text};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The execution modes a sweep may name (DESIGN.md section 2).
pub const MODES: &[&str] = &[
    "sequential",
    "ideal",
    "rs-nmc",
    "t3",
    "t3-mca",
    "sw-overlap",
];

/// One varied parameter and its values, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub key: String,
    pub values: Vec<Value>,
}

/// A loaded, checked sweep spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The spec file, for messages.
    pub file: String,
    /// `base.trace` as written (relative to the spec's directory).
    pub trace: Option<String>,
    /// `base.preset` as written.
    pub preset: Option<String>,
    /// `base.set`: overrides applied to every point before the parameters.
    pub set: Vec<String>,
    pub params: Vec<Param>,
    pub modes: Vec<String>,
    /// Directory relative paths are resolved against.
    pub base_dir: PathBuf,
}

/// One run of a sweep: a value for every parameter plus a mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Position in the cross product; stable for a given spec.
    pub index: usize,
    /// A short id derived from the parameter values and mode (12 hex
    /// digits); unlike the index it does not change when other values are
    /// added to the spec. Safe in file names.
    pub id: String,
    /// The parameter values in spec order (the CSV's leading columns).
    pub params: Vec<(String, Value)>,
    pub mode: String,
    /// The trace to replay, resolved against the spec's directory.
    pub trace: PathBuf,
    /// The preset name, or the resolved path of a config file.
    pub preset: String,
    /// `base.set` followed by one `field=value` per config parameter, ready
    /// for [`HwConfig::load`].
    pub overrides: Vec<String>,
}

impl Point {
    /// The value of a parameter (or `mode`).
    pub fn get(&self, key: &str) -> Option<Value> {
        if key == "mode" {
            return Some(Value::Str(self.mode.clone()));
        }
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// The hardware config of this point: preset plus overrides.
    pub fn config(&self) -> Result<HwConfig> {
        HwConfig::load(&self.preset, &self.overrides)
    }

    /// `key=value ... mode=m`, for progress and error messages.
    pub fn label(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.params {
            let _ = write!(s, "{k}={v} ");
        }
        let _ = write!(s, "mode={}", self.mode);
        s
    }
}

impl Spec {
    /// Reads and checks a spec file.
    pub fn load(path: &Path) -> Result<Spec> {
        let src = read_text(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Spec::parse(&path.display().to_string(), &src, &dir)
    }

    /// Parses and checks spec text. `file` names it in messages; relative
    /// paths inside resolve against `base_dir`.
    pub fn parse(file: &str, src: &str, base_dir: &Path) -> Result<Spec> {
        let p = Parser { file, src };
        let root = DeTable::parse(src).map_err(|e| {
            let (line, col) = e.span().map_or((1, 1), |s| line_col(src, s.start));
            InputError::new(
                Location::at(file, line, col),
                "",
                format!("not valid TOML: {}", e.message().trim()),
            )
        })?;
        let root = root.get_ref();
        let mut spec = Spec {
            file: file.to_string(),
            trace: None,
            preset: None,
            set: Vec::new(),
            params: Vec::new(),
            modes: Vec::new(),
            base_dir: base_dir.to_path_buf(),
        };
        let mut modes_seen = false;
        let mut params_seen = false;
        for (k, v) in sorted_entries(root) {
            match k.get_ref().as_ref() {
                "modes" => {
                    modes_seen = true;
                    spec.modes = p.modes(v)?;
                }
                "base" => p.base(v, &mut spec)?,
                "params" => {
                    params_seen = true;
                    let t = p.table(v, "params")?;
                    let mut out = Vec::new();
                    p.flatten_params(t, "", &mut out)?;
                    spec.params = out;
                }
                "description" => {
                    p.string(v, "description")?;
                }
                other => {
                    return Err(p.err(
                        k.span(),
                        other,
                        "unknown key; expected `modes`, `base`, `params` or `description`",
                    ));
                }
            }
        }
        if !modes_seen {
            return Err(InputError::new(
                Location::file(file),
                "modes",
                format!(
                    "missing; add a top-level `modes = [...]` line (before any table) with some of: {}",
                    MODES.join(", ")
                ),
            )
            .into());
        }
        if !params_seen {
            return Err(InputError::new(
                Location::file(file),
                "params",
                "missing `[params]` table (a sweep needs at least one parameter)",
            )
            .into());
        }
        p.check_runnable(root, &spec)?;
        Ok(spec)
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.params
            .iter()
            .map(|p| p.values.len())
            .product::<usize>()
            * self.modes.len()
    }

    /// Always false for a loaded spec (empty lists are rejected).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leading CSV columns: parameter keys then `mode`.
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = self.params.iter().map(|p| p.key.clone()).collect();
        c.push("mode".into());
        c
    }

    /// A hash of everything that decides the points and their order (not of
    /// comments or formatting), written into partial results so that shards
    /// of different specs are never merged.
    pub fn hash(&self) -> String {
        let mut canon = String::from("t3sim-sweep-v1\n");
        let _ = writeln!(canon, "trace={:?}", self.trace);
        let _ = writeln!(canon, "preset={:?}", self.preset);
        for s in &self.set {
            let _ = writeln!(canon, "set={s}");
        }
        for p in &self.params {
            let vals: Vec<String> = p.values.iter().map(Value::to_toml).collect();
            let _ = writeln!(canon, "param {}=[{}]", p.key, vals.join(","));
        }
        let _ = writeln!(canon, "modes={}", self.modes.join(","));
        format!("{:016x}", fnv1a(canon.as_bytes()))
    }

    /// The point at an index (the cross product is computed, not stored).
    pub fn point(&self, index: usize) -> Option<Point> {
        if index >= self.len() {
            return None;
        }
        let mut rest = index;
        let mode = self.modes[rest % self.modes.len()].clone();
        rest /= self.modes.len();
        let mut params = vec![(String::new(), Value::Int(0)); self.params.len()];
        for (i, p) in self.params.iter().enumerate().rev() {
            params[i] = (p.key.clone(), p.values[rest % p.values.len()].clone());
            rest /= p.values.len();
        }
        let mut trace = self.trace.clone().unwrap_or_default();
        let mut preset = self.preset.clone().unwrap_or_default();
        let mut overrides = self.set.clone();
        for (k, v) in &params {
            match (k.as_str(), v) {
                ("trace", Value::Str(s)) => trace = s.clone(),
                ("preset", Value::Str(s)) => preset = s.clone(),
                _ => overrides.push(format!("{k}={}", v.to_toml())),
            }
        }
        let mut canon = String::new();
        for (k, v) in &params {
            let _ = write!(canon, "{k}={};", v.to_toml());
        }
        let _ = write!(canon, "mode={mode}");
        Some(Point {
            index,
            id: format!("{:012x}", fnv1a(canon.as_bytes()) >> 16),
            params,
            mode,
            trace: self.base_dir.join(&trace),
            preset: resolve_preset(&preset, &self.base_dir),
            overrides,
        })
    }

    /// All points in index order.
    pub fn points(&self) -> Vec<Point> {
        (0..self.len()).filter_map(|i| self.point(i)).collect()
    }
}

/// FNV-1a, 64 bit: stable across platforms and Rust versions, unlike
/// `DefaultHasher`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A preset name stays a name; anything else is a file next to the spec.
fn resolve_preset(preset: &str, base_dir: &Path) -> String {
    if preset_source(preset).is_some() {
        preset.to_string()
    } else {
        base_dir.join(preset).display().to_string()
    }
}

/// Table entries in the order they are written (the parsed table is sorted
/// by key, but every key keeps its span).
fn sorted_entries<'a, 'i>(
    t: &'a DeTable<'i>,
) -> Vec<(
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
)> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

struct Parser<'a> {
    file: &'a str,
    src: &'a str,
}

fn is_field_path(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            let mut cs = p.chars();
            cs.next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

impl Parser<'_> {
    fn err(&self, span: Range<usize>, field: &str, msg: impl Into<String>) -> crate::error::Error {
        let (line, col) = line_col(self.src, span.start);
        InputError::new(Location::at(self.file, line, col), field, msg).into()
    }

    fn table<'b, 'i>(&self, v: &'b Spanned<DeValue<'i>>, field: &str) -> Result<&'b DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(self.err(
                v.span(),
                field,
                format!("expected a table, found {}", other.type_str()),
            )),
        }
    }

    fn string(&self, v: &Spanned<DeValue<'_>>, field: &str) -> Result<String> {
        match v.get_ref() {
            DeValue::String(s) if !s.is_empty() => Ok(s.to_string()),
            DeValue::String(_) => Err(self.err(v.span(), field, "must not be empty")),
            other => Err(self.err(
                v.span(),
                field,
                format!("expected a string, found {}", other.type_str()),
            )),
        }
    }

    fn modes(&self, v: &Spanned<DeValue<'_>>) -> Result<Vec<String>> {
        let DeValue::Array(a) = v.get_ref() else {
            return Err(self.err(
                v.span(),
                "modes",
                format!("expected a list of modes, found {}", v.get_ref().type_str()),
            ));
        };
        if a.is_empty() {
            return Err(self.err(
                v.span(),
                "modes",
                format!("empty list; name at least one of: {}", MODES.join(", ")),
            ));
        }
        let mut out: Vec<String> = Vec::new();
        for item in a.iter() {
            let m = self.string(item, "modes")?;
            if !MODES.contains(&m.as_str()) {
                return Err(self.err(
                    item.span(),
                    "modes",
                    format!("unknown mode `{m}`; known: {}", MODES.join(", ")),
                ));
            }
            if out.contains(&m) {
                return Err(self.err(item.span(), "modes", format!("mode `{m}` listed twice")));
            }
            out.push(m);
        }
        Ok(out)
    }

    fn base(&self, v: &Spanned<DeValue<'_>>, spec: &mut Spec) -> Result<()> {
        let t = self.table(v, "base")?;
        for (k, v) in sorted_entries(t) {
            let key = k.get_ref().as_ref();
            let field = format!("base.{key}");
            match key {
                "trace" => spec.trace = Some(self.string(v, &field)?),
                "preset" => spec.preset = Some(self.string(v, &field)?),
                "set" => {
                    let DeValue::Array(a) = v.get_ref() else {
                        return Err(self.err(
                            v.span(),
                            &field,
                            "expected a list of `section.field=value` strings",
                        ));
                    };
                    for item in a.iter() {
                        let s = self.string(item, &field)?;
                        if !s
                            .split_once('=')
                            .is_some_and(|(p, _)| is_field_path(p.trim()))
                        {
                            return Err(self.err(
                                item.span(),
                                &field,
                                format!("`{s}` is not of the form `section.field=value`"),
                            ));
                        }
                        spec.set.push(s);
                    }
                }
                _ => {
                    return Err(self.err(
                        k.span(),
                        &field,
                        "unknown key; expected `trace`, `preset` or `set`",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Accepts both `"link.bw_gbps_per_dir" = [..]` and unquoted dotted keys
    /// (which TOML turns into nested tables).
    fn flatten_params(&self, t: &DeTable<'_>, prefix: &str, out: &mut Vec<Param>) -> Result<()> {
        let mut entries: Vec<(usize, String, &Spanned<DeValue<'_>>, Range<usize>)> = Vec::new();
        self.collect_params(t, prefix, &mut entries)?;
        entries.sort_by_key(|e| e.0);
        for (_, key, v, kspan) in entries {
            let field = format!("params.{key}");
            if !(key == "trace" || key == "preset" || is_field_path(&key)) {
                return Err(self.err(
                    kspan,
                    &field,
                    format!(
                        "`{key}` is not a parameter: use a config field path \
                         `section.field` (for example \"link.bw_gbps_per_dir\"), `trace` or `preset`"
                    ),
                ));
            }
            let DeValue::Array(a) = v.get_ref() else {
                return Err(self.err(
                    v.span(),
                    &field,
                    format!(
                        "expected a list of values, found {} (write `[{}]` for a single value)",
                        v.get_ref().type_str(),
                        &self.src[v.span()]
                    ),
                ));
            };
            if a.is_empty() {
                return Err(self.err(
                    v.span(),
                    &field,
                    "empty list; a parameter needs at least one value",
                ));
            }
            let mut values = Vec::new();
            for item in a.iter() {
                let val = self.scalar(item, &field)?;
                if (key == "trace" || key == "preset") && !matches!(val, Value::Str(_)) {
                    return Err(self.err(item.span(), &field, "expected a string"));
                }
                if values.contains(&val) {
                    return Err(self.err(
                        item.span(),
                        &field,
                        format!("value {} listed twice", val.to_toml()),
                    ));
                }
                values.push(val);
            }
            if out.iter().any(|p| p.key == key) {
                return Err(self.err(kspan, &field, "parameter given twice"));
            }
            out.push(Param { key, values });
        }
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn collect_params<'b, 'i>(
        &self,
        t: &'b DeTable<'i>,
        prefix: &str,
        out: &mut Vec<(usize, String, &'b Spanned<DeValue<'i>>, Range<usize>)>,
    ) -> Result<()> {
        for (k, v) in t.iter() {
            let key = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            match v.get_ref() {
                DeValue::Table(sub) => self.collect_params(sub, &key, out)?,
                _ => out.push((k.span().start, key, v, k.span())),
            }
        }
        Ok(())
    }

    fn scalar(&self, v: &Spanned<DeValue<'_>>, field: &str) -> Result<Value> {
        match v.get_ref() {
            DeValue::String(s) => Ok(Value::Str(s.to_string())),
            DeValue::Boolean(b) => Ok(Value::Bool(*b)),
            DeValue::Integer(i) => {
                let digits = i.as_str().replace('_', "");
                i64::from_str_radix(&digits, i.radix())
                    .map(Value::Int)
                    .map_err(|_| self.err(v.span(), field, "integer out of range"))
            }
            DeValue::Float(f) => f
                .as_str()
                .replace('_', "")
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| self.err(v.span(), field, "not a number")),
            other => Err(self.err(
                v.span(),
                field,
                format!(
                    "expected a number, string or boolean, found {}",
                    other.type_str()
                ),
            )),
        }
    }

    /// Checks that the trace files exist and that the base config and every
    /// parameter value are accepted by the config, pointing at the spec line
    /// that is wrong.
    fn check_runnable(&self, root: &DeTable<'_>, spec: &Spec) -> Result<()> {
        let base = root.get("base").and_then(|b| match b.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        });
        let base_span = |k: &str| -> Range<usize> {
            base.and_then(|t| t.get(k))
                .map(|v| v.span())
                .unwrap_or(0..0)
        };
        let swept = |k: &str| spec.params.iter().find(|p| p.key == k);
        let file_loc = |field: &str, msg: String| -> crate::error::Error {
            InputError::new(Location::file(self.file), field, msg).into()
        };

        // Traces.
        let mut traces: Vec<(String, Range<usize>, &str)> = Vec::new();
        if let Some(t) = &spec.trace {
            traces.push((t.clone(), base_span("trace"), "base.trace"));
        }
        if let Some(p) = swept("trace") {
            for v in &p.values {
                let span = self.value_span(root, "trace", v).unwrap_or(0..0);
                traces.push((v.to_string(), span, "params.trace"));
            }
        } else if spec.trace.is_none() {
            return Err(file_loc(
                "base.trace",
                "missing; set `trace` in `[base]` or sweep it in `[params]`".into(),
            ));
        }
        for (t, span, field) in &traces {
            let path = spec.base_dir.join(t);
            if !path.is_file() {
                return Err(self.err(
                    span.clone(),
                    field,
                    format!("trace file `{}` not found", path.display()),
                ));
            }
        }

        // Presets and base overrides.
        let mut presets: Vec<(String, Range<usize>, &str)> = Vec::new();
        if let Some(p) = &spec.preset {
            presets.push((p.clone(), base_span("preset"), "base.preset"));
        }
        if let Some(p) = swept("preset") {
            for v in &p.values {
                let span = self.value_span(root, "preset", v).unwrap_or(0..0);
                presets.push((v.to_string(), span, "params.preset"));
            }
        } else if spec.preset.is_none() {
            return Err(file_loc(
                "base.preset",
                "missing; set `preset` in `[base]` or sweep it in `[params]`".into(),
            ));
        }
        for (p, span, field) in &presets {
            let resolved = resolve_preset(p, &spec.base_dir);
            if preset_source(p).is_none() && !Path::new(&resolved).is_file() {
                return Err(self.err(
                    span.clone(),
                    field,
                    format!(
                        "`{p}` is neither a preset ({}) nor a config file",
                        crate::config::PRESETS
                            .iter()
                            .map(|p| p.0)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            HwConfig::load(&resolved, &spec.set).map_err(|e| {
                let (span, field) = if spec.set.is_empty() {
                    (span.clone(), *field)
                } else {
                    (base_span("set"), "base.set")
                };
                self.err(
                    span,
                    field,
                    format!("config `{p}` rejected: {}", inner_message(&e)),
                )
            })?;
        }

        // Every config parameter value against the first preset.
        let preset = resolve_preset(&presets[0].0, &spec.base_dir);
        for p in &spec.params {
            if p.key == "trace" || p.key == "preset" {
                continue;
            }
            for v in &p.values {
                let mut ov = spec.set.clone();
                ov.push(format!("{}={}", p.key, v.to_toml()));
                if let Err(e) = HwConfig::load(&preset, &ov) {
                    let span = self.value_span(root, &p.key, v).unwrap_or(0..0);
                    return Err(self.err(
                        span,
                        &format!("params.{}", p.key),
                        format!(
                            "value {} rejected by the config: {}",
                            v.to_toml(),
                            inner_message(&e)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The span of one value of a parameter list, for error messages.
    fn value_span(&self, root: &DeTable<'_>, key: &str, value: &Value) -> Option<Range<usize>> {
        let params = match root.get("params")?.get_ref() {
            DeValue::Table(t) => t,
            _ => return None,
        };
        let mut list = params.get(key);
        if list.is_none() {
            // Unquoted dotted key: walk the nested tables.
            let mut t = params;
            let parts: Vec<&str> = key.split('.').collect();
            for (i, part) in parts.iter().enumerate() {
                let v = t.get(*part)?;
                if i + 1 == parts.len() {
                    list = Some(v);
                } else if let DeValue::Table(sub) = v.get_ref() {
                    t = sub;
                } else {
                    return None;
                }
            }
        }
        let list = list?;
        let DeValue::Array(a) = list.get_ref() else {
            return Some(list.span());
        };
        a.iter()
            .find(|item| self.scalar(item, key).ok().as_ref() == Some(value))
            .map(|item| item.span())
            .or(Some(list.span()))
    }
}

/// The message of a config error without its own location (which points at
/// `--set` or the preset, not at the spec the user wrote).
fn inner_message(e: &crate::error::Error) -> String {
    match e {
        crate::error::Error::Input(ie)
            if !ie.field.is_empty() && !ie.message.contains(&ie.field) =>
        {
            format!("field `{}`: {}", ie.field, ie.message)
        }
        crate::error::Error::Input(ie) => ie.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with_trace() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("t.json"), "{}").unwrap();
        d
    }

    const GOOD: &str = r#"
modes = ["t3", "t3-mca"]

[base]
trace = "t.json"
preset = "t3-asplos24"

[params]
"link.bw_gbps_per_dir" = [37.5, 75, 150]
"t3.tracker_entries" = [64, 256]
"#;

    #[test]
    fn params_keep_file_order_and_modes_vary_fastest() {
        let d = dir_with_trace();
        let s = Spec::parse("s.toml", GOOD, d.path()).unwrap();
        assert_eq!(
            s.columns(),
            ["link.bw_gbps_per_dir", "t3.tracker_entries", "mode"]
        );
        assert_eq!(s.len(), 12);
        let p = s.point(3).unwrap();
        assert_eq!(p.mode, "t3-mca");
        assert_eq!(p.get("t3.tracker_entries"), Some(Value::Int(256)));
        assert_eq!(p.get("link.bw_gbps_per_dir"), Some(Value::Float(37.5)));
        assert_eq!(
            p.overrides,
            ["link.bw_gbps_per_dir=37.5", "t3.tracker_entries=256"]
        );
        let c = p.config().unwrap();
        assert_eq!(c.t3.tracker_entries, 256);
        assert_eq!(
            s.point(11).unwrap().get("link.bw_gbps_per_dir"),
            Some(Value::Int(150))
        );
        assert!(s.point(12).is_none());
    }

    #[test]
    fn unquoted_dotted_keys_are_accepted_in_order() {
        let d = dir_with_trace();
        let src = GOOD.replace("\"t3.tracker_entries\"", "t3.tracker_entries");
        let s = Spec::parse("s.toml", &src, d.path()).unwrap();
        assert_eq!(
            s.columns(),
            ["link.bw_gbps_per_dir", "t3.tracker_entries", "mode"]
        );
    }

    #[test]
    fn hash_ignores_comments_but_not_values() {
        let d = dir_with_trace();
        let a = Spec::parse("s.toml", GOOD, d.path()).unwrap();
        let b = Spec::parse("s.toml", &format!("# note\n{GOOD}"), d.path()).unwrap();
        let c = Spec::parse("s.toml", &GOOD.replace("150", "300"), d.path()).unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn ids_are_unique_and_independent_of_other_values() {
        let d = dir_with_trace();
        let a = Spec::parse("s.toml", GOOD, d.path()).unwrap();
        let ids: std::collections::BTreeSet<_> = a.points().into_iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), a.len());
        let b = Spec::parse("s.toml", &GOOD.replace("[37.5,", "[10, 37.5,"), d.path()).unwrap();
        let pa = a.point(0).unwrap();
        let pb = b
            .points()
            .into_iter()
            .find(|p| p.params == pa.params && p.mode == pa.mode);
        assert_eq!(pb.unwrap().id, pa.id);
    }

    fn err(src: &str) -> String {
        let d = dir_with_trace();
        Spec::parse("s.toml", src, d.path())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_key_syntax_names_line_and_key() {
        let e = err(&GOOD.replace("\"t3.tracker_entries\"", "\"Tracker Entries\""));
        assert!(
            e.starts_with("s.toml:10:1: field `params.Tracker Entries`"),
            "{e}"
        );
        assert!(e.contains("not a parameter"), "{e}");
    }

    #[test]
    fn unknown_config_field_names_the_spec_line() {
        let e = err(&GOOD.replace("t3.tracker_entries", "t3.tracker_entrys"));
        assert!(e.starts_with("s.toml:10:"), "{e}");
        assert!(e.contains("unknown field `t3.tracker_entrys`"), "{e}");
    }

    #[test]
    fn impossible_value_names_the_value() {
        let e = err(&GOOD.replace("[64, 256]", "[64, 0]"));
        assert!(e.starts_with("s.toml:10:"), "{e}");
        assert!(e.contains("value 0 rejected"), "{e}");
    }

    #[test]
    fn empty_lists_are_rejected() {
        let e = err(&GOOD.replace("[64, 256]", "[]"));
        assert!(e.contains("s.toml:10:") && e.contains("empty list"), "{e}");
        let e = err(&GOOD.replace("[\"t3\", \"t3-mca\"]", "[]"));
        assert!(
            e.starts_with("s.toml:2:9: field `modes`: empty list"),
            "{e}"
        );
    }

    #[test]
    fn unknown_mode_missing_trace_and_bad_toml_are_located() {
        let e = err(&GOOD.replace("\"t3-mca\"", "\"t4\""));
        assert!(
            e.contains("s.toml:2:") && e.contains("unknown mode `t4`"),
            "{e}"
        );
        let e = err(&GOOD.replace("t.json", "missing.json"));
        assert!(e.starts_with("s.toml:5:9: field `base.trace`"), "{e}");
        let e = err(&GOOD.replace("[64, 256]", "[64, 256"));
        assert!(e.starts_with("s.toml:1"), "{e}");
        assert!(e.contains("not valid TOML"), "{e}");
        let e = err(&GOOD.replace("[base]", "[bsae]"));
        assert!(e.contains("field `bsae`: unknown key"), "{e}");
        let e = err(&GOOD.replace("[64, 256]", "64"));
        assert!(e.contains("expected a list of values"), "{e}");
    }
}
