//! `t3sim replay --cosim`: which blocks, the probed replay, and on a
//! divergence a deterministic re-run of the diverging mode that dumps the
//! waveform of the diverging instance.

use super::input_error;
use super::progress::Ui;
use super::replay::ReplayArgs;
use std::path::PathBuf;
use t3sim::config::HwConfig;
use t3sim::cosim::replay::{Fault, Selection};
use t3sim::modes::Mode;
use t3sim::replay;
use t3sim::trace::Trace;

/// A validated `--cosim` request.
pub struct Request {
    sel: Selection,
    seed: u64,
    fault: Option<Fault>,
    modes: Vec<Mode>,
    out_dir: PathBuf,
}

impl Request {
    pub fn parse(blocks: &str, a: &ReplayArgs, cfg: &HwConfig) -> anyhow::Result<Request> {
        let sel =
            Selection::parse(blocks).map_err(|m| input_error("command line", "--cosim", m))?;
        let fault = a
            .cosim_fault
            .as_deref()
            .map(Fault::parse)
            .transpose()
            .map_err(|m| input_error("command line", "--cosim-fault", m))?;
        let has = |ms: &[Mode]| a.modes.iter().any(|m| ms.contains(m));
        let needs = [
            (
                sel.tracker,
                has(&[Mode::T3, Mode::T3Mca]),
                "tracker",
                "t3 or t3-mca",
            ),
            (
                sel.nmc,
                has(&[Mode::RsNmc, Mode::T3, Mode::T3Mca]),
                "nmc",
                "rs-nmc, t3 or t3-mca",
            ),
            (
                sel.arbiter,
                has(&[Mode::T3Mca])
                    || (cfg.mem.controller.arbitration == "t3-mca"
                        && a.modes.iter().any(|m| *m != Mode::Ideal)),
                "arbiter",
                "t3-mca",
            ),
        ];
        for (wanted, exercised, block, modes) in needs {
            if wanted && !exercised {
                return Err(input_error(
                    "command line",
                    "--cosim",
                    format!("no selected mode exercises the {block}: add {modes} to --modes"),
                ));
            }
        }
        if !cfg!(feature = "rtl") {
            return Err(input_error(
                "command line",
                "--cosim",
                "this t3sim was built without the RTL co-simulation harness; rebuild with \
                 `--features rtl` (needs Verilator 5 and a C++17 compiler: scripts/setup.sh)",
            ));
        }
        Ok(Request {
            sel,
            seed: a.cosim_seed,
            fault,
            modes: a.modes.clone(),
            out_dir: a.out.clone().unwrap_or_else(|| PathBuf::from("out/cosim")),
        })
    }

    #[cfg(not(feature = "rtl"))]
    pub fn run(
        &self,
        _: &Trace,
        _: &HwConfig,
        _: replay::Options,
        _: &Ui,
    ) -> anyhow::Result<(
        t3sim::report::replay::ReplayReport,
        Vec<t3sim::cosim::replay::BlockCheck>,
    )> {
        let _ = (self.sel, self.seed, self.fault, &self.modes, &self.out_dir);
        unreachable!("parse refuses --cosim without the rtl feature")
    }

    /// The replay with the selected blocks checked; a divergence is an
    /// error (exit 1) carrying every block's report.
    #[cfg(feature = "rtl")]
    pub fn run(
        &self,
        trace: &Trace,
        cfg: &HwConfig,
        opts: replay::Options,
        ui: &Ui,
    ) -> anyhow::Result<(
        t3sim::report::replay::ReplayReport,
        Vec<t3sim::cosim::replay::BlockCheck>,
    )> {
        use t3sim::cosim::replay::{Settings, Sink, take};
        use t3sim::cosim::replay_rtl;
        replay_rtl::check_config(cfg, self.sel).map_err(t3sim::Error::from)?;
        let settings = Settings {
            blocks: self.sel,
            seed: self.seed,
            fault: self.fault,
            trace: None,
        };
        let sink = Sink::default();
        let probes = replay_rtl::probes(settings, sink.clone());
        let report = replay::replay_probed(trace, cfg, &self.modes, opts, &probes);
        let mut checks = Vec::new();
        let mut divergences = Vec::new();
        for o in take(&sink) {
            match o {
                Ok(c) => checks.push(c),
                Err(d) => divergences.push(*d),
            }
        }
        if !divergences.is_empty() {
            divergences.sort_by(|a, b| (&a.mode, a.block.name()).cmp(&(&b.mode, b.block.name())));
            let mut text = format!(
                "RTL co-simulation: {} block(s) diverged from the model\n",
                divergences.len()
            );
            for mut d in divergences {
                self.write_waveform(&mut d, trace, cfg, opts);
                text += &format!("{d}\n");
            }
            return Err(t3sim::Error::Check(text.trim_end().to_string()).into());
        }
        let report = report?;
        checks.sort_by(|a, b| (&a.mode, &a.block).cmp(&(&b.mode, &b.block)));
        for c in &checks {
            ui.note(format!(
                "cosim {} ({}): {} checks on {} RTL instance(s), {} RTL cycles for {} DRAM/step cycles, no divergence ({:.1} s)",
                c.block, c.mode, c.checked, c.instances, c.rtl_cycles, c.dram_cycles, c.wall_s
            ));
        }
        Ok((report, checks))
    }

    /// Re-runs the diverging mode with only the diverging block checked and
    /// its instance traced: the run is deterministic, so it diverges at the
    /// same edge and the VCD holds the edges up to it.
    #[cfg(feature = "rtl")]
    fn write_waveform(
        &self,
        d: &mut t3sim::cosim::replay::ReplayDivergence,
        trace: &Trace,
        cfg: &HwConfig,
        opts: replay::Options,
    ) {
        use t3sim::cosim::Waveform;
        use t3sim::cosim::replay::{Settings, Sink, take};
        use t3sim::cosim::replay_rtl;
        let Some(mode) = self.modes.iter().find(|m| m.name() == d.mode) else {
            return;
        };
        let settings = Settings {
            blocks: Selection::only(d.block),
            seed: self.seed,
            fault: self.fault,
            trace: Some(replay_rtl::target_of(d, &self.out_dir)),
        };
        let sink = Sink::default();
        let probes = replay_rtl::probes(settings, sink.clone());
        // The re-run stops at the divergence: its error is expected.
        let _ = replay::run_mode_probed(trace, cfg, *mode, !opts.all_devices, opts, &probes);
        d.waveform = Waveform::NotWritten("the re-run did not diverge at the same edge".into());
        for o in take(&sink) {
            if let Err(again) = o
                && again.block == d.block
                && (again.device, again.channel, again.step) == (d.device, d.channel, d.step)
            {
                d.waveform = again.waveform;
            }
        }
    }
}
