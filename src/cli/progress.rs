//! What the CLI may say besides its results, and when it shows progress.
//!
//! Policy (the same for every command):
//! - **stdout** carries the command's result only (a trace, a table, a
//!   TOML file), so it can be piped or redirected; a closed pipe (`| head`)
//!   ends the output quietly.
//! - **stderr** carries notes (`wrote x.json`), warnings and errors.
//!   `-q/--quiet` drops the notes and progress bars, never warnings or
//!   errors.
//! - **Progress bars** are drawn on stderr only when it is a terminal and
//!   `--quiet` is off, so batch logs (Slurm, CI) stay free of control
//!   characters and runs stay byte-for-byte reproducible in their output.
//!
//! Long commands take a [`Progress`] from [`Ui::progress`] and call
//! [`Progress::inc`]; library code that draws its own bar (the sweep runner)
//! gets [`Ui::show_progress`] as its `progress` switch.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// The command's view of the terminal: quiet or not, bars or not.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `-q/--quiet` was given.
    pub quiet: bool,
    /// stderr is a terminal (decided once, at start-up).
    stderr_tty: bool,
}

impl Ui {
    /// The policy for this process: `quiet` from the command line, the
    /// terminal check from the real stderr.
    pub fn new(quiet: bool) -> Ui {
        Ui {
            quiet,
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// Whether progress bars are drawn at all.
    pub fn show_progress(&self) -> bool {
        !self.quiet && self.stderr_tty
    }

    /// Prints an informational line on stderr unless `--quiet`.
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// Prints a warning on stderr, even with `--quiet`.
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!("warning: {}", msg.as_ref());
    }

    /// A bar over `len` steps of `what` (`traces`, `points`, `DRAM requests`);
    /// hidden unless [`Ui::show_progress`].
    pub fn progress(&self, len: u64, what: &str) -> Progress {
        if !self.show_progress() {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        // The template is a constant; should it ever be rejected the bar
        // keeps indicatif's default look rather than failing the command.
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what}  {{elapsed_precise}} elapsed, eta {{eta}}  {{msg}}"
        )) {
            bar.set_style(style);
        }
        Progress { bar }
    }

    /// A spinner for work of unknown length; hidden unless
    /// [`Ui::show_progress`].
    pub fn spinner(&self, what: &str) -> Progress {
        if !self.show_progress() {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}  {elapsed_precise}") {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }
}

/// A progress bar that may be hidden; every method is cheap when it is.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Advances by `n` steps.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Sets the text after the counters (the item in progress).
    pub fn set_message(&self, msg: impl Into<String>) {
        self.bar.set_message(msg.into());
    }

    /// Prints a line above the bar (or plainly when the bar is hidden), so
    /// notes do not tear the bar apart. Respects `--quiet` like
    /// [`Ui::note`].
    // For the replay and sweep commands, which print per-item results while
    // a bar runs; nothing in this branch needs it yet.
    #[allow(dead_code)]
    pub fn note(&self, ui: &Ui, msg: impl AsRef<str>) {
        if ui.quiet {
            return;
        }
        if self.bar.is_hidden() {
            eprintln!("{}", msg.as_ref());
        } else {
            self.bar.println(msg.as_ref());
        }
    }

    /// The underlying bar, for `indicatif::ProgressIterator` and rayon.
    #[allow(dead_code)]
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Removes the bar from the terminal.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// Writes the command's result to stdout. A reader that went away (`| head`)
/// is not an error: the rest of the output is simply not wanted.
pub fn stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hides_bars_even_on_a_terminal() {
        let ui = Ui {
            quiet: true,
            stderr_tty: true,
        };
        assert!(!ui.show_progress());
        assert!(ui.progress(10, "traces").bar().is_hidden());
    }

    #[test]
    fn no_bar_when_stderr_is_not_a_terminal() {
        let ui = Ui {
            quiet: false,
            stderr_tty: false,
        };
        assert!(!ui.show_progress());
        assert!(ui.progress(10, "traces").bar().is_hidden());
        assert!(ui.spinner("importing").bar().is_hidden());
    }
}
