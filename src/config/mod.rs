//! Hardware configuration: presets, overrides, validation.
//!
//! A configuration is a plain TOML file (see `presets/`). Sections:
//! `[gpu]`, `[mem]` (with `[mem.timing]`, `[mem.controller]`, `[mem.nmc]`),
//! `[link]` and `[t3]`. Only `[mem]` is required; the other sections default
//! to the `t3-asplos24` values so that a memory-only preset stays short.
//! Every field can be overridden with `--set section.field=value`.

mod presets;
mod validate;

pub use presets::{PRESETS, preset_source};

use crate::error::{InputError, Location, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The whole device (every device of the ring shares it unless a trace
/// overrides a device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HwConfig {
    /// Preset or file name, for reports.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub gpu: GpuConfig,
    pub mem: MemConfig,
    #[serde(default)]
    pub link: LinkConfig,
    #[serde(default)]
    pub t3: T3Config,
}

/// The compute side: CUs, clock, L2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuConfig {
    pub cus: u32,
    pub clock_mhz: u64,
    /// Dense FP16 FLOP per cycle per CU (an FMA counts as 2).
    pub flops_per_cycle_per_cu: u64,
    /// Workgroups (output tiles) resident per CU at once.
    pub wgs_per_cu: u32,
    pub l2_bytes: u64,
    pub l2_line_bytes: u32,
    pub l2_ways: u32,
    /// L2 hit latency seen by a tile's K-loop, in GPU cycles.
    pub l2_hit_latency_cycles: u32,
    /// Outstanding DRAM requests per CU (MSHR-like limit).
    pub max_outstanding_per_cu: u32,
}

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            cus: 80,
            clock_mhz: 1400,
            flops_per_cycle_per_cu: 1024,
            wgs_per_cu: 2,
            l2_bytes: 16 << 20,
            l2_line_bytes: 128,
            l2_ways: 16,
            l2_hit_latency_cycles: 120,
            max_outstanding_per_cu: 64,
        }
    }
}

/// HBM organisation, timing, controller, near-memory compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemConfig {
    pub stacks: u32,
    pub channels_per_stack: u32,
    /// Split every channel into two pseudo-channels of half the bus width
    /// and half the row size (HBM2 pseudo-channel mode).
    #[serde(default)]
    pub pseudo_channel: bool,
    pub bank_groups: u32,
    pub banks_per_group: u32,
    pub rows: u32,
    /// Row (page) size of one channel, bytes.
    pub row_bytes: u32,
    /// Data bus width of one channel, bits.
    pub bus_bits: u32,
    /// Address mapping, most significant field first, Ramulator style:
    /// `Ro` row, `Ba` bank, `Bg` bank group, `Co` column, `Ch` channel.
    pub mapping: String,
    pub timing: DramTiming,
    #[serde(default)]
    pub controller: ControllerConfig,
    #[serde(default)]
    pub nmc: NmcConfig,
}

/// DRAM timing table, in DRAM clock cycles (tCK).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DramTiming {
    pub tck_ps: u64,
    /// Burst length in beats (DDR: BL/2 cycles on the bus).
    pub bl: u32,
    pub cl: u32,
    pub cwl: u32,
    pub trcdrd: u32,
    pub trcdwr: u32,
    pub trp: u32,
    pub tras: u32,
    pub trrd_s: u32,
    pub trrd_l: u32,
    pub twtr_s: u32,
    pub twtr_l: u32,
    pub tfaw: u32,
    pub twr: u32,
    pub tccd_s: u32,
    pub tccd_l: u32,
    pub trtp_s: u32,
    pub trtp_l: u32,
    pub trfc: u32,
    pub trefi: u32,
}

/// Per-channel memory controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerConfig {
    pub read_queue: u32,
    /// Holds writes and near-memory updates.
    pub write_queue: u32,
    /// Start draining writes when the write queue is this % full.
    pub write_high_pct: u32,
    /// Stop draining when it falls to this %.
    pub write_low_pct: u32,
    /// Command scheduler: `fr-fcfs` or `fcfs`.
    pub scheduler: String,
    /// Stream arbitration: `fr-fcfs`, `compute-first` or `t3-mca`.
    pub arbitration: String,
    /// t3-mca: communication issues only while queue occupancy is below
    /// this. 0 = derive at run time (replays) or use the queue size.
    pub mca_threshold: u32,
    /// t3-mca: a communication request waiting this many DRAM cycles is
    /// forced through.
    pub starvation_limit_cycles: u64,
    /// `all-bank` or `none`.
    pub refresh: String,
    /// `open` (keep rows open until a conflict) or `closed` (precharge after
    /// the last queued hit).
    pub page_policy: String,
    /// Fixed cycles from a request's arrival to its first possible command
    /// (queue insertion and decode).
    pub frontend_latency_cycles: u32,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            read_queue: 32,
            write_queue: 32,
            write_high_pct: 75,
            write_low_pct: 25,
            scheduler: "fr-fcfs".into(),
            arbitration: "fr-fcfs".into(),
            mca_threshold: 0,
            starvation_limit_cycles: 1000,
            refresh: "all-bank".into(),
            page_policy: "open".into(),
            frontend_latency_cycles: 2,
        }
    }
}

/// Near-memory compute (update = column read, ALU, column write in the bank).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NmcConfig {
    /// Near-bank ALU latency between the internal read and the write.
    pub alu_cycles: u32,
    /// Element type of update lanes: `fp16` or `bf16`.
    pub dtype: String,
}

impl Default for NmcConfig {
    fn default() -> Self {
        NmcConfig {
            alu_cycles: 2,
            dtype: "fp16".into(),
        }
    }
}

/// Inter-device links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// `ring`.
    pub topology: String,
    /// Bandwidth of one direction, GB/s.
    pub bw_gbps_per_dir: f64,
    pub latency_ns: u64,
    pub packet_bytes: u32,
    /// Packets a sender may have in flight before the receiver returns
    /// credits.
    pub credits: u32,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            topology: "ring".into(),
            bw_gbps_per_dir: 75.0,
            latency_ns: 500,
            packet_bytes: 256,
            credits: 4096,
        }
    }
}

/// Track & trigger hardware.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct T3Config {
    pub tracker_entries: u32,
    pub tracker_tag_bits: u32,
    pub tracker_counter_bits: u32,
    /// DMA engines per device.
    pub dma_engines: u32,
    /// Compute units the software-overlap reduce-scatter kernel takes.
    pub sw_overlap_cus: u32,
}

impl Default for T3Config {
    fn default() -> Self {
        T3Config {
            tracker_entries: 256,
            tracker_tag_bits: 24,
            tracker_counter_bits: 16,
            dma_engines: 1,
            sw_overlap_cus: 8,
        }
    }
}

impl MemConfig {
    /// Channels the controller sees (pseudo-channels count twice).
    pub fn channels(&self) -> u32 {
        self.stacks * self.channels_per_stack * if self.pseudo_channel { 2 } else { 1 }
    }

    pub fn banks_per_channel(&self) -> u32 {
        self.bank_groups * self.banks_per_group
    }

    /// Bus width of one (pseudo-)channel, bits.
    pub fn channel_bus_bits(&self) -> u32 {
        if self.pseudo_channel {
            self.bus_bits / 2
        } else {
            self.bus_bits
        }
    }

    /// Row size of one (pseudo-)channel, bytes.
    pub fn channel_row_bytes(&self) -> u32 {
        if self.pseudo_channel {
            self.row_bytes / 2
        } else {
            self.row_bytes
        }
    }

    /// Bytes one column access (one burst) moves.
    pub fn access_bytes(&self) -> u32 {
        self.channel_bus_bits() / 8 * self.timing.bl
    }

    pub fn columns(&self) -> u32 {
        self.channel_row_bytes() / self.access_bytes()
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.channels() as u64
            * self.banks_per_channel() as u64
            * self.rows as u64
            * self.channel_row_bytes() as u64
    }

    /// Peak data bandwidth of all channels, GB/s.
    pub fn peak_gbps(&self) -> f64 {
        let bytes_per_cycle = self.access_bytes() as f64 / (self.timing.bl as f64 / 2.0);
        bytes_per_cycle * self.channels() as f64 * 1000.0 / self.timing.tck_ps as f64
    }
}

impl HwConfig {
    /// Loads a preset by name (see [`PRESETS`]).
    pub fn preset(name: &str) -> Result<HwConfig> {
        let src = preset_source(name).ok_or_else(|| {
            InputError::new(
                Location::file("--preset"),
                "preset",
                format!(
                    "unknown preset `{name}`; known: {}",
                    PRESETS.iter().map(|p| p.0).collect::<Vec<_>>().join(", ")
                ),
            )
        })?;
        Self::from_toml_str(&format!("preset {name}"), src, &[])
    }

    /// Loads a config file.
    pub fn from_file(path: &Path, overrides: &[String]) -> Result<HwConfig> {
        let src = crate::error::read_text(path)?;
        Self::from_toml_str(&path.display().to_string(), &src, overrides)
    }

    /// Loads a preset by name or, if `spec` names an existing file, that file.
    pub fn load(spec: &str, overrides: &[String]) -> Result<HwConfig> {
        if let Some(src) = preset_source(spec) {
            Self::from_toml_str(&format!("preset {spec}"), src, overrides)
        } else if Path::new(spec).exists() {
            Self::from_file(Path::new(spec), overrides)
        } else {
            Self::preset(spec)
        }
    }

    /// Parses TOML text, applies `--set a.b=v` overrides and validates.
    /// `file` names the source in error messages.
    pub fn from_toml_str(file: &str, src: &str, overrides: &[String]) -> Result<HwConfig> {
        if src.trim().is_empty() {
            return Err(InputError::new(Location::at(file, 1, 1), "", "file is empty").into());
        }
        let mut value: toml::Table = toml::from_str(src).map_err(|e| toml_error(file, src, &e))?;
        // Parse once untouched so that type errors point into the file, and
        // through serde_path_to_error so that they name the dotted field.
        let de = toml::Deserializer::parse(src).map_err(|e| toml_error(file, src, &e))?;
        serde_path_to_error::deserialize::<_, HwConfig>(de).map_err(|e| {
            let (field, msg) = field_and_message(&e.path().to_string(), e.inner().message());
            let (line, col) = e.inner().span().map_or((1, 1), |s| line_col(src, s.start));
            crate::Error::from(InputError::new(Location::at(file, line, col), field, msg))
        })?;
        let mut overridden = Vec::new();
        for ov in overrides {
            overridden.push(apply_override(&mut value, ov)?);
        }
        let mut cfg: HwConfig = serde_path_to_error::deserialize(toml::Value::Table(value))
            .map_err(|e| {
                let (field, msg) = field_and_message(&e.path().to_string(), e.inner().message());
                InputError::new(
                    Location::file("--set"),
                    field,
                    format!("override does not fit the config: {msg}"),
                )
            })?;
        if cfg.name.is_empty() {
            cfg.name = file.trim_start_matches("preset ").to_string();
        }
        validate::check(&cfg).map_err(|(field, msg)| {
            // A value set on the command line is not where the file says:
            // blame the override, not the file's line for that key.
            let loc = if overridden.iter().any(|o| field_covers(o, &field)) {
                Location::file("--set")
            } else {
                Location::of_key(file, src, &field)
            };
            InputError::new(loc, field, msg)
        })?;
        Ok(cfg)
    }

    /// Checks every field for values the hardware cannot have.
    pub fn validate(&self, file: &str, src: &str) -> Result<()> {
        validate::check(self).map_err(|(field, msg)| {
            InputError::new(Location::of_key(file, src, &field), field, msg).into()
        })
    }
}

/// Whether setting `set` (a dotted path) replaced `field`: the same path
/// or a section enclosing it.
fn field_covers(set: &str, field: &str) -> bool {
    field == set
        || field
            .strip_prefix(set)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The dotted field of a serde error: its path, extended by the name serde
/// puts in `missing field` / `unknown field` messages (those errors are
/// reported at the enclosing table). `path` is serde_path_to_error's, `.`
/// at the root.
fn field_and_message(path: &str, msg: &str) -> (String, String) {
    let mut field = if path == "." {
        String::new()
    } else {
        path.to_string()
    };
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
        {
            let name = &rest[..end];
            if field.rsplit('.').next() != Some(name) {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(name);
            }
        }
    }
    (field, msg.to_string())
}

fn toml_error(file: &str, src: &str, e: &toml::de::Error) -> crate::Error {
    let offset = e.span().map_or(0, |s| s.start);
    let (line, col) = line_col(src, offset);
    let mut msg = e.message().to_string();
    if msg.contains("as i128") {
        // toml's own wording for an integer beyond i64 is about i128.
        msg = format!("{msg} (TOML integers are signed 64-bit: at most 2^63 - 1)");
    }
    // A syntax error inside a `key = value` line (an unterminated string, a
    // bare word, a duplicate key) belongs to that key.
    let field = key_path_at(src, offset).unwrap_or_default();
    InputError::new(Location::at(file, line, col), field, msg).into()
}

/// The dotted path of the `key = value` line (or `[table]` header) holding
/// byte `offset` of a TOML source: the enclosing table header's path plus
/// the line's key. `None` when the line is neither, or the key is not a
/// plain (bare or basic-quoted) key.
fn key_path_at(src: &str, offset: usize) -> Option<String> {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = src[start..].lines().next().unwrap_or("").trim();
    if line.starts_with('[') {
        return header_path(line);
    }
    let (key, _) = line.split_once('=')?;
    let key = dotted(key)?;
    let section = src[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .and_then(header_path);
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key,
    })
}

/// The path of a `[a.b]` or `[[a.b]]` header line.
fn header_path(line: &str) -> Option<String> {
    // An unclosed header is a syntax error, not a field.
    let inner = match line.strip_prefix("[[") {
        Some(r) => r.split_once("]]")?.0,
        None => line.strip_prefix('[')?.split_once(']')?.0,
    };
    dotted(inner)
}

/// Normalises a TOML key (`a . "b"`) to `a.b`; `None` if it is not made of
/// bare or simple quoted parts.
fn dotted(key: &str) -> Option<String> {
    let parts: Option<Vec<&str>> = key
        .split('.')
        .map(|p| {
            let p = p.trim();
            let p = p
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .unwrap_or(p);
            let ok = !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            ok.then_some(p)
        })
        .collect();
    Some(parts?.join("."))
}

/// 1-based line and column of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

/// Applies `a.b.c=value`. The path must exist (so typos are caught); the
/// value is parsed as TOML (numbers, booleans, quoted strings), and taken as
/// a plain string when it does not parse.
/// Returns the dotted path it set.
fn apply_override(root: &mut toml::Table, ov: &str) -> Result<String> {
    let (path, raw) = ov.split_once('=').ok_or_else(|| {
        InputError::new(
            Location::file("--set"),
            ov.trim(),
            format!("expected `section.field=value`, found `{ov}`"),
        )
    })?;
    let path = path.trim();
    let bad = |msg: String| InputError::new(Location::file("--set"), path, msg);
    if path.is_empty() {
        return Err(bad(format!("no field before `=` in `{ov}`")).into());
    }
    let raw = raw.trim();
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = path.split('.').collect();
    // Sections that are optional in a file may be absent: create them from
    // the defaults so that every field can be set.
    let defaults = toml::Table::try_from(HwConfig {
        name: String::new(),
        gpu: GpuConfig::default(),
        mem: default_mem(),
        link: LinkConfig::default(),
        t3: T3Config::default(),
    })
    .map_err(|e| bad(e.to_string()))?;
    let mut table = root;
    let mut dtable = &defaults;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let known = dtable.get(*part);
        if known.is_none() {
            return Err(bad(format!("unknown field `{path}`")).into());
        }
        if last {
            table.insert(part.to_string(), value);
            return Ok(path.to_string());
        }
        let dsub = known.and_then(|v| v.as_table()).ok_or_else(|| {
            bad(format!(
                "`{}` is a value, not a section",
                parts[..=i].join(".")
            ))
        })?;
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(dsub.clone()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| bad(format!("`{}` is not a section", parts[..=i].join("."))))?;
        dtable = dsub;
    }
    Err(bad("empty field path".into()).into())
}

fn default_mem() -> MemConfig {
    toml::from_str::<HwConfig>(preset_source("t3-asplos24").expect("shipped preset"))
        .expect("shipped preset parses")
        .mem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_loads_and_validates() {
        for (name, _) in PRESETS {
            let c = HwConfig::preset(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(c.mem.capacity_bytes() > 0);
        }
    }

    #[test]
    fn hbm2_stack_peak_is_256_gbps() {
        let c = HwConfig::preset("hbm2-stack").unwrap();
        assert!((c.mem.peak_gbps() - 256.0).abs() < 1e-9);
        assert_eq!(c.mem.access_bytes(), 64);
        let p = HwConfig::preset("t3-asplos24").unwrap();
        assert!((p.mem.peak_gbps() - 1024.0).abs() < 1e-9);
    }

    #[test]
    fn override_sets_nested_field_and_rejects_unknown() {
        let c = HwConfig::load("hbm2-stack", &["mem.channels_per_stack=16".into()]).unwrap();
        assert_eq!(c.mem.channels_per_stack, 16);
        let c = HwConfig::load("hbm2-stack", &["t3.tracker_entries=64".into()]).unwrap();
        assert_eq!(c.t3.tracker_entries, 64);
        let e = HwConfig::load("hbm2-stack", &["mem.chanels=16".into()]).unwrap_err();
        assert!(e.to_string().contains("unknown field `mem.chanels`"), "{e}");
    }

    #[test]
    fn impossible_timing_names_line_and_field() {
        let src = preset_source("hbm2-stack")
            .unwrap()
            .replace("tras = 34", "tras = 3");
        let e = HwConfig::from_toml_str("x.toml", &src, &[]).unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("x.toml:"), "{s}");
        assert!(s.contains("mem.timing.tras"), "{s}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn unknown_field_in_file_is_located() {
        let src = format!(
            "{}\n[gpu]\ncus = 8\nbogus = 1\n",
            preset_source("hbm2-stack").unwrap()
        );
        let e = HwConfig::from_toml_str("y.toml", &src, &[]).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("bogus"), "{s}");
        assert!(s.starts_with("y.toml:"), "{s}");
    }
}
