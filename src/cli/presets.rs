//! `t3sim presets`: list the shipped presets, or print one in full.
//!
//! `--show` prints the config the simulator would run with, not the preset
//! file: every field (sections a preset leaves out appear with their
//! defaults), after `--set` overrides. The output is itself a valid config
//! file, so `--show X > my.toml` is the way to start a new one.

use super::progress::{self, Ui};
use clap::Args;
use std::path::Path;
use t3sim::config::{HwConfig, PRESETS};

pub const EXAMPLES: &str = "Examples:
  t3sim presets                                         # name, memory, compute, description
  t3sim presets --show t3-asplos24 > my-gpu.toml        # every field, a valid config file
  t3sim presets --show hbm2-stack --set mem.channels_per_stack=16
  t3sim presets --show my-gpu.toml --set t3.tracker_entries=64

Field reference: docs/config.md.";

/// Arguments of `presets`.
#[derive(Debug, Args)]
pub struct PresetsArgs {
    /// Print this preset (or config file) in full, as TOML.
    #[arg(long, value_name = "NAME|FILE")]
    pub show: Option<String>,
    /// Override a field before printing, e.g. `--set mem.timing.cl=16`.
    #[arg(long = "set", value_name = "FIELD=VALUE", requires = "show")]
    pub set: Vec<String>,
}

pub fn run(a: PresetsArgs, _ui: &Ui) -> anyhow::Result<()> {
    match &a.show {
        None => progress::stdout(&list()?),
        Some(spec) => progress::stdout(&show(spec, &a.set)?),
    }
}

fn list() -> anyhow::Result<String> {
    let mut out = String::new();
    for (name, src) in PRESETS {
        let cfg = HwConfig::preset(name)?;
        let about = description(src);
        out.push_str(&format!(
            "{name:14} {:>5.0} GB/s {:>3} ch {:>5} CUs  {about}\n",
            cfg.mem.peak_gbps(),
            cfg.mem.channels(),
            cfg.gpu.cus
        ));
    }
    Ok(out)
}

/// The first sentence of a preset's leading comment.
fn description(src: &str) -> String {
    let mut out = String::new();
    for line in src.lines() {
        let Some(text) = line.strip_prefix('#') else {
            break;
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(text.trim());
        if out.ends_with('.') {
            break;
        }
    }
    out
}

/// A preset name, or a path when it is not one.
pub(super) fn load(spec: &str, set: &[String]) -> anyhow::Result<HwConfig> {
    if t3sim::config::preset_source(spec).is_some() {
        return Ok(HwConfig::load(spec, set)?);
    }
    let looks_like_path = spec.contains('/') || spec.ends_with(".toml") || Path::new(spec).exists();
    if looks_like_path {
        Ok(HwConfig::from_file(Path::new(spec), set)?)
    } else {
        // Unknown name: the library's error lists the presets there are.
        HwConfig::preset(spec).map_err(|e| match e {
            t3sim::Error::Input(mut ie) => {
                ie.loc = t3sim::error::Location::file("command line");
                ie.field = "--show".into();
                t3sim::Error::Input(ie).into()
            }
            other => other.into(),
        })
    }
}

fn show(spec: &str, set: &[String]) -> anyhow::Result<String> {
    let cfg = load(spec, set)?;
    let body = toml::to_string_pretty(&cfg)?;
    let mut out = format!("# t3sim config `{spec}`");
    if !set.is_empty() {
        out.push_str(&format!(" with --set {}", set.join(" --set ")));
    }
    out.push_str(&format!(
        "\n# Every field, defaults included; units and ranges in docs/config.md.\n\
         # Peak DRAM bandwidth {:.1} GB/s over {} channels; capacity {}.\n",
        cfg.mem.peak_gbps(),
        cfg.mem.channels(),
        super::bytes(cfg.mem.capacity_bytes())
    ));
    out.push_str(&body);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_config_parses_back_to_the_same_config() {
        for (name, _) in PRESETS {
            let text = show(name, &["gpu.cus=64".into()]).unwrap();
            let back = HwConfig::from_toml_str("shown.toml", &text, &[]).unwrap();
            let want = HwConfig::load(name, &["gpu.cus=64".into()]).unwrap();
            assert_eq!(back, want, "{name}");
        }
    }

    #[test]
    fn shown_config_has_every_section() {
        let text = show("hbm2-stack", &[]).unwrap();
        for s in [
            "[gpu]",
            "[mem]",
            "[mem.timing]",
            "[mem.controller]",
            "[mem.nmc]",
            "[link]",
            "[t3]",
        ] {
            assert!(text.contains(s), "{s} missing:\n{text}");
        }
    }
}
