//! Presets shipped in `presets/`, embedded so the binary needs no files.

/// (name, TOML source) of every shipped preset.
pub const PRESETS: &[(&str, &str)] = &[
    ("hbm2-stack", include_str!("../../presets/hbm2-stack.toml")),
    (
        "t3-asplos24",
        include_str!("../../presets/t3-asplos24.toml"),
    ),
];

/// The TOML text of a preset.
pub fn preset_source(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|p| p.0 == name).map(|p| p.1)
}
