//! Parameter sweeps: one TOML spec, the cross product of its parameters and
//! modes, run in parallel threads, written as CSV; split across machines
//! with shards and merged back; resumable after an interruption.
//!
//! - [`Spec::load`] reads and checks a spec (format in [`spec`]).
//! - [`run`] runs the points of a spec (or of one shard of it) through a
//!   caller-supplied runner and writes the CSV.
//! - [`merge`] joins shard outputs into the CSV an unsharded run writes.
//!
//! Output CSV columns: the parameters in spec order, `mode`, then the
//! runner's metrics in the order it returns them. Rows are in point-index
//! order whatever the thread count or sharding, so outputs compare byte for
//! byte.
//!
//! **Shards.** `--shard i/n` runs the points with `index % n == i` and writes
//! a partial file (a `#` line with the spec hash, shard and point count, then
//! an `index` column before the others). [`merge`] checks that all partials
//! come from the same spec, have the same columns and together hold every
//! point exactly once.
//!
//! **Resume.** While running, each finished point is appended (and flushed)
//! to `<out>.partial`. Re-running the same spec and shard with the same
//! output skips the points already there; the journal is removed once the
//! output is complete. A journal written for another spec or shard is an
//! error, never silently overwritten.

pub mod partial;
pub mod replay_runner;
pub mod spec;
pub mod value;

pub use partial::Shard;
pub use spec::{MODES, Param, Point, Spec};
pub use value::{Row, Value};

use crate::error::{Error, InputError, Location, Result};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads; 0 uses one per core.
    pub threads: usize,
    /// Run only this shard and write a partial file.
    pub shard: Option<Shard>,
    /// Where to write the CSV (or the shard's partial). Without it nothing
    /// is written and nothing can be resumed.
    pub out: Option<PathBuf>,
    /// Skip the points found in `<out>.partial` (otherwise start over).
    pub resume: bool,
    /// Show a progress bar (only ever drawn when stdout and stderr are both
    /// terminals).
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: 0,
            shard: None,
            out: None,
            resume: true,
            progress: true,
        }
    }
}

/// What a sweep produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    /// The full text written (the final CSV, or the shard's partial).
    pub csv: String,
    /// The file written, if any.
    pub out: Option<PathBuf>,
    /// Points of this shard.
    pub points: usize,
    /// Points run now.
    pub ran: usize,
    /// Points taken from the journal of an earlier, interrupted run.
    pub resumed: usize,
}

/// The journal path for an output path: `<out>.partial`.
pub fn journal_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

struct State {
    metrics: Option<Vec<String>>,
    rows: BTreeMap<usize, Vec<String>>,
    journal: Option<std::fs::File>,
    journal_path: Option<PathBuf>,
    error: Option<(usize, Error)>,
    ran: usize,
}

/// Runs every point of `spec` (or of `opts.shard`) through `runner` and
/// returns (and, with `opts.out`, writes) the CSV.
///
/// The runner must be a pure function of the point for outputs to be
/// reproducible. When it fails for a point, no new points start, the points
/// already finished stay in the journal, and the error names the point.
pub fn run<F>(spec: &Spec, runner: F, opts: &RunOptions) -> Result<SweepOutcome>
where
    F: Fn(&Point) -> Result<Row> + Sync,
{
    let shard = opts.shard.unwrap_or(Shard::ALL);
    let total = spec.len();
    let hash = spec.hash();
    let param_cols = spec.columns();
    let mine: Vec<usize> = (0..total).filter(|&i| shard.owns(i)).collect();

    let mut state = State {
        metrics: None,
        rows: BTreeMap::new(),
        journal: None,
        journal_path: None,
        error: None,
        ran: 0,
    };
    if let Some(out) = &opts.out {
        open_journal(
            &mut state,
            out,
            &hash,
            shard,
            total,
            &param_cols,
            opts.resume,
        )?;
    }
    let resumed = state.rows.len();
    let pending: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|i| !state.rows.contains_key(i))
        .collect();

    let bar = progress_bar(pending.len(), opts.progress);
    let state = Mutex::new(state);
    let abort = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("sweep-{i}"))
        .build()
        .map_err(|e| Error::io("starting sweep threads", std::io::Error::other(e)))?;
    pool.install(|| {
        use rayon::prelude::*;
        pending.par_iter().for_each(|&i| {
            if abort.load(Ordering::Relaxed) {
                return;
            }
            let Some(point) = spec.point(i) else { return };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner(&point)))
                .unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "runner panicked".into());
                    Err(Error::Check(format!("runner panicked: {msg}")))
                });
            let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
            let outcome = result.and_then(|row| record_row(&mut st, &point, row, &param_cols));
            match outcome {
                Ok(()) => {
                    st.ran += 1;
                    bar.inc(1);
                }
                Err(e) => {
                    abort.store(true, Ordering::Relaxed);
                    // Keep the lowest index so the reported error does not
                    // depend on thread timing.
                    if st.error.as_ref().is_none_or(|(j, _)| i < *j) {
                        st.error = Some((i, with_point(e, &point)));
                    }
                }
            }
        });
    });
    bar.finish_and_clear();
    let mut st = state.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some((_, e)) = st.error.take() {
        return Err(e);
    }
    drop(st.journal.take());

    let header: Option<Vec<String>> = st.metrics.as_ref().map(|m| {
        let mut h = param_cols.clone();
        h.extend(m.iter().cloned());
        h
    });
    let csv = if opts.shard.is_some() {
        partial::partial_csv(
            &hash,
            shard,
            total,
            header.as_deref(),
            st.rows.iter().map(|(i, r)| (*i, r)),
        )
    } else {
        let header = header.ok_or_else(|| Error::Check("sweep produced no rows".into()))?;
        partial::final_csv(&header, st.rows.values())
    };
    if let Some(out) = &opts.out {
        write_atomically(out, &csv)?;
        if let Some(j) = &st.journal_path {
            std::fs::remove_file(j)
                .map_err(|e| Error::io(format!("removing journal {}", j.display()), e))?;
        }
    }
    Ok(SweepOutcome {
        csv,
        out: opts.out.clone(),
        points: mine.len(),
        ran: st.ran,
        resumed,
    })
}

fn progress_bar(len: usize, wanted: bool) -> indicatif::ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() || !std::io::stdout().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "sweep {bar:40} {pos}/{len} points  {elapsed_precise} elapsed, eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Adds the point to an error without changing its kind (and so the CLI's
/// exit code).
fn with_point(e: Error, p: &Point) -> Error {
    let tag = format!("sweep point {} (id {}: {})", p.index, p.id, p.label());
    match e {
        Error::Input(mut ie) => {
            ie.message = format!("{} [{tag}]", ie.message);
            Error::Input(ie)
        }
        Error::Deadlock(s) => Error::Deadlock(format!("{tag}: {s}")),
        Error::Check(s) => Error::Check(format!("{tag}: {s}")),
        Error::Io { context, source } => Error::Io {
            context: format!("{tag}: {context}"),
            source,
        },
    }
}

fn record_row(st: &mut State, point: &Point, row: Row, param_cols: &[String]) -> Result<()> {
    let names: Vec<String> = row.0.iter().map(|(c, _)| c.clone()).collect();
    match &st.metrics {
        Some(m) if *m != names => {
            return Err(Error::Check(format!(
                "runner returned columns [{}] but earlier points returned [{}]",
                names.join(", "),
                m.join(", ")
            )));
        }
        Some(_) => {}
        None => {
            if names.is_empty() {
                return Err(Error::Check("runner returned no metrics".into()));
            }
            for (i, n) in names.iter().enumerate() {
                if n == "index" || param_cols.contains(n) || names[..i].contains(n) {
                    return Err(Error::Check(format!(
                        "runner metric column `{n}` clashes with another column"
                    )));
                }
            }
            if let Some(j) = &mut st.journal {
                let mut h = vec!["index".to_string()];
                h.extend(param_cols.iter().cloned());
                h.extend(names.iter().cloned());
                journal_line(j, st.journal_path.as_deref(), &partial::record(&h))?;
            }
            st.metrics = Some(names);
        }
    }
    let mut fields: Vec<String> = point.params.iter().map(|(_, v)| v.to_string()).collect();
    fields.push(point.mode.clone());
    fields.extend(row.0.iter().map(|(_, v)| v.to_string()));
    if let Some(j) = &mut st.journal {
        let line = format!("{},{}", point.index, partial::record(&fields));
        journal_line(j, st.journal_path.as_deref(), &line)?;
    }
    st.rows.insert(point.index, fields);
    Ok(())
}

fn journal_line(f: &mut std::fs::File, path: Option<&Path>, line: &str) -> Result<()> {
    let ctx = || {
        format!(
            "writing journal {}",
            path.unwrap_or(Path::new("?")).display()
        )
    };
    // One write per line, flushed at once: an interruption loses at most the
    // line being written, which the reader then drops.
    f.write_all(format!("{line}\n").as_bytes())
        .and_then(|()| f.flush())
        .map_err(|e| Error::io(ctx(), e))
}

fn open_journal(
    st: &mut State,
    out: &Path,
    hash: &str,
    shard: Shard,
    total: usize,
    param_cols: &[String],
    resume: bool,
) -> Result<()> {
    let jpath = journal_path(out);
    let mut text = partial::meta_line(hash, shard, total);
    text.push('\n');
    if resume && jpath.exists() {
        let name = jpath.display().to_string();
        let old = std::fs::read_to_string(&jpath)
            .map_err(|e| Error::io(format!("reading journal {name}"), e))?;
        let p = partial::parse(&name, &old, true)?;
        if p.spec_hash != hash || p.shard != shard || p.points != total {
            return Err(InputError::new(
                Location::file(&name),
                "",
                format!(
                    "journal of an interrupted run of another sweep (spec {}, shard {}, {} points; \
                     this run: spec {hash}, shard {shard}, {total} points): delete it or write \
                     to another output",
                    p.spec_hash, p.shard, p.points
                ),
            )
            .into());
        }
        if let Some(h) = &p.header {
            if h.len() <= param_cols.len() || h[..param_cols.len()] != *param_cols {
                return Err(InputError::new(
                    Location::at(&name, 2, 1),
                    "",
                    "journal columns do not match the spec's parameters",
                )
                .into());
            }
            let metrics = h[param_cols.len()..].to_vec();
            let mut hh = vec!["index".to_string()];
            hh.extend(h.iter().cloned());
            text.push_str(&partial::record(&hh));
            text.push('\n');
            for (i, (fields, _)) in &p.rows {
                text.push_str(&format!("{i},{}\n", partial::record(fields)));
                st.rows.insert(*i, fields.clone());
            }
            st.metrics = Some(metrics);
        }
    }
    // Rewrite rather than append so a torn last line does not stay in the
    // middle of the file.
    if let Some(dir) = jpath.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    write_atomically(&jpath, &text)?;
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&jpath)
        .map_err(|e| Error::io(format!("opening journal {}", jpath.display()), e))?;
    st.journal = Some(f);
    st.journal_path = Some(jpath);
    Ok(())
}

/// Writes through a temporary file and a rename, so a reader never sees half
/// a file.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Merges shard outputs (in any order) into exactly the CSV an unsharded run
/// of the same spec writes.
///
/// Fails, naming the files, when partials come from different specs, have
/// different columns, hold a point twice, or when points are missing.
pub fn merge<P: AsRef<Path>>(paths: &[P]) -> Result<String> {
    if paths.is_empty() {
        return Err(
            InputError::new(Location::file("sweep merge"), "", "no partial files given").into(),
        );
    }
    let mut parts = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let name = p.display().to_string();
        let text = crate::error::read_text(p)?;
        parts.push((name.clone(), partial::parse(&name, &text, false)?));
    }
    let (first_name, first) = &parts[0];
    let mut header: Option<(&str, &Vec<String>)> = None;
    let mut rows: BTreeMap<usize, (&str, &Vec<String>)> = BTreeMap::new();
    for (name, p) in &parts {
        if p.spec_hash != first.spec_hash || p.points != first.points {
            return Err(InputError::new(
                Location::file(name),
                "",
                format!(
                    "from another sweep: spec {} with {} points, but {first_name} has spec {} \
                     with {} points",
                    p.spec_hash, p.points, first.spec_hash, first.points
                ),
            )
            .into());
        }
        if let Some(h) = &p.header {
            match header {
                Some((hn, hh)) if hh != h => {
                    return Err(InputError::new(
                        Location::at(name, 2, 1),
                        "",
                        format!(
                            "columns [{}] differ from those of {hn} [{}]",
                            h.join(", "),
                            hh.join(", ")
                        ),
                    )
                    .into());
                }
                Some(_) => {}
                None => header = Some((name, h)),
            }
        }
        for (i, (fields, line)) in &p.rows {
            if let Some((other, _)) = rows.get(i) {
                return Err(InputError::new(
                    Location::at(name, *line, 1),
                    "",
                    format!("point {i} is also in {other} (the same shard given twice?)"),
                )
                .into());
            }
            rows.insert(*i, (name, fields));
        }
    }
    let missing: Vec<usize> = (0..first.points)
        .filter(|i| !rows.contains_key(i))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|i| i.to_string()).collect();
        let count = parts[0].1.shard.count;
        let absent: std::collections::BTreeSet<usize> = missing.iter().map(|i| i % count).collect();
        let absent: Vec<String> = absent.iter().map(|s| format!("{s}/{count}")).collect();
        return Err(InputError::new(
            Location::file("sweep merge"),
            "",
            format!(
                "{} of {} points missing (indices {}{}); shards not given or unfinished: {}",
                missing.len(),
                first.points,
                shown.join(", "),
                if missing.len() > 10 { ", ..." } else { "" },
                absent.join(", ")
            ),
        )
        .into());
    }
    let (_, header) = header.ok_or_else(|| Error::Check("no partial holds any rows".into()))?;
    Ok(partial::final_csv(header, rows.values().map(|(_, r)| *r)))
}
