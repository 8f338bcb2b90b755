//! Builds the RTL co-simulation harness when the `rtl` feature is on:
//! verilates each block in `rtl/`, then compiles the generated models, the
//! C++ wrappers in `sim/`, the cxx bridge and Verilator's runtime (once) into
//! one static library. The default build needs neither Verilator nor C++.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "rtl")]
    rtl::build();
}

#[cfg(feature = "rtl")]
mod rtl {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Top modules, each verilated into its own `V<name>` class.
    const BLOCKS: &[&str] = &["tracker", "nmc_alu", "mca_arbiter"];

    /// Warnings Verilator's generated code trips; the set verilated.mk uses
    /// (`CFG_CXXFLAGS_NO_UNUSED`).
    const NO_WARN: &[&str] = &[
        "-faligned-new",
        "-fcf-protection=none",
        "-Wno-bool-operation",
        "-Wno-sign-compare",
        "-Wno-uninitialized",
        "-Wno-unused-but-set-variable",
        "-Wno-unused-parameter",
        "-Wno-unused-variable",
        "-Wno-shadow",
    ];

    pub fn build() {
        for f in ["sim/bridge.rs", "sim/harness.h", "sim/harness.cpp"] {
            println!("cargo:rerun-if-changed={f}");
        }
        for b in BLOCKS {
            println!("cargo:rerun-if-changed=rtl/{b}.v");
        }
        println!("cargo:rerun-if-env-changed=VERILATOR");

        let verilator = std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into());
        let root = verilator_root(&verilator);
        let include = root.join("include");
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

        let mut build = cxx_build::bridge("sim/bridge.rs");
        for b in BLOCKS {
            let mdir = out.join(format!("vl_{b}"));
            verilate(&verilator, b, &mdir);
            build.include(&mdir);
            build.files(generated_sources(&mdir));
        }
        build
            .file("sim/harness.cpp")
            .file(include.join("verilated.cpp"))
            .file(include.join("verilated_threads.cpp"))
            .file(include.join("verilated_vcd_c.cpp"))
            .include(&include)
            .include(include.join("vltstd"))
            .std("c++17")
            // The model's speed must not follow the profile: a debug test
            // run would otherwise simulate about 6x slower.
            .opt_level(3)
            // Built where it runs, like the Rust side (.cargo/config.toml):
            // about 15 % faster ALU evaluation in a co-simulated replay.
            .flag_if_supported("-march=native")
            .define("VM_COVERAGE", "0")
            .define("VM_SC", "0")
            .define("VM_TRACE", "1")
            .define("VM_TRACE_VCD", "1")
            .define("VM_TRACE_FST", "0")
            .warnings(false);
        for f in NO_WARN {
            build.flag_if_supported(f);
        }
        build.compile("t3sim_rtl");
    }

    fn verilator_root(verilator: &str) -> PathBuf {
        let out = Command::new(verilator)
            .args(["--getenv", "VERILATOR_ROOT"])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "feature `rtl` needs Verilator 5 (`{verilator}` failed: {e}); \
                     run scripts/setup.sh or build without `--features rtl`"
                )
            });
        assert!(
            out.status.success(),
            "`{verilator} --getenv VERILATOR_ROOT` failed"
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }

    fn verilate(verilator: &str, top: &str, mdir: &Path) {
        // A clean directory: stale generated files would be compiled too.
        let _ = std::fs::remove_dir_all(mdir);
        let status = Command::new(verilator)
            .args(["--cc", "--trace", "-O3", "--x-assign", "fast"])
            .args(["--x-initial", "fast", "--noassert", "-Wall"])
            // Trace the whole tracker table, not only the first 32 entries.
            .args(["--trace-max-array", "1024"])
            .args(["--top-module", top, "--prefix", &format!("V{top}")])
            .args(block_flags(top))
            .arg("--Mdir")
            .arg(mdir)
            .arg(format!("rtl/{top}.v"))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {verilator}: {e}"));
        assert!(status.success(), "verilator failed on rtl/{top}.v");
    }

    /// Flags for one block only.
    fn block_flags(top: &str) -> &'static [&'static str] {
        match top {
            // The ALU's 32 lanes stay one loop in the generated C++, which
            // the C++ compiler vectorises (rtl/nmc_alu.v says what that
            // takes); unrolled, they are 32 scalar copies, about 5x slower.
            "nmc_alu" => &["--unroll-count", "1"],
            _ => &[],
        }
    }

    fn generated_sources(mdir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(mdir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", mdir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
            .collect();
        v.sort();
        v
    }
}
