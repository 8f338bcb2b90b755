//! CSV spelling and the partial-result format shared by shards and the
//! resume journal.
//!
//! A partial file is:
//!
//! ```text
//! # t3sim-sweep v1 spec=<16 hex> shard=<i>/<n> points=<total>
//! index,<param columns>,mode,<metric columns>
//! 5,75,2,t3,1234.5
//! ```
//!
//! The header line is absent while no point has finished. Rows of a journal
//! are in completion order; rows of a finished shard are in index order.

use crate::error::{InputError, Location, Result};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The first line's marker; anything else is not a partial.
pub const MAGIC: &str = "# t3sim-sweep v1";

/// One field, quoted when it must be (RFC 4180). Line breaks become spaces:
/// every record stays on one line so that journals can be appended to and
/// read back line by line.
pub fn field(s: &str) -> Cow<'_, str> {
    let s: Cow<'_, str> = if s.contains(['\n', '\r']) {
        Cow::Owned(s.replace(['\n', '\r'], " "))
    } else {
        Cow::Borrowed(s)
    };
    if s.contains([',', '"']) || s.starts_with(' ') || s.ends_with(' ') {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        s
    }
}

/// A record (without the line break).
pub fn record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(f.as_ref()));
    }
    out
}

/// Splits one CSV line into fields.
pub fn parse_record(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                    if chars.peek().is_some_and(|&n| n != ',') {
                        return Err("text after a closing quote".into());
                    }
                }
            } else {
                cur.push(c);
            }
        } else if c == ',' {
            fields.push(std::mem::take(&mut cur));
            at_start = true;
            continue;
        } else if c == '"' && at_start {
            quoted = true;
        } else {
            cur.push(c);
        }
        at_start = false;
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    fields.push(cur);
    Ok(fields)
}

/// Which shard of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole sweep as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n` (0-based `i`, `0 <= i < n`, `n >= 1`). Shard `i` of `n`
    /// takes the points whose index satisfies `index % n == i`, so shards
    /// are balanced and each one's set does not depend on the others.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = |msg: String| -> crate::error::Error {
            InputError::new(Location::file("--shard"), "shard", msg).into()
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(|| {
            bad(format!(
                "`{s}` is not of the form `i/n` (for example `0/4`)"
            ))
        })?;
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("`{s}`: shard count `{n}` is not a whole number")))?;
        let i: usize = i
            .trim()
            .parse()
            .map_err(|_| bad(format!("`{s}`: shard index `{i}` is not a whole number")))?;
        if n == 0 {
            return Err(bad(format!("`{s}`: the shard count must be at least 1")));
        }
        if i >= n {
            return Err(bad(format!(
                "`{s}`: shard index must be below the count (shards are numbered 0..{})",
                n - 1
            )));
        }
        Ok(Shard { index: i, count: n })
    }

    /// Whether this shard runs the point with this index.
    pub fn owns(&self, index: usize) -> bool {
        index % self.count == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The first line of a partial file.
pub fn meta_line(spec_hash: &str, shard: Shard, points: usize) -> String {
    format!("{MAGIC} spec={spec_hash} shard={shard} points={points}")
}

/// A parsed partial file (a finished shard or a journal).
#[derive(Debug, Clone)]
pub struct Partial {
    pub spec_hash: String,
    pub shard: Shard,
    pub points: usize,
    /// Column names without `index`; `None` while no point has finished.
    pub header: Option<Vec<String>>,
    /// Rows by point index: the fields after `index`, and the 1-based line.
    pub rows: BTreeMap<usize, (Vec<String>, usize)>,
}

/// Parses a partial. With `journal`, a last line without its line break (a
/// write cut short by an interruption) is dropped instead of rejected.
pub fn parse(file: &str, text: &str, journal: bool) -> Result<Partial> {
    let at = |line: usize, msg: String| -> crate::error::Error {
        InputError::new(Location::at(file, line, 1), "", msg).into()
    };
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.last().is_some_and(|l| !l.ends_with('\n')) {
        if journal {
            lines.pop();
        } else {
            return Err(at(
                lines.len(),
                "last line is cut short (no line break): the file is truncated".into(),
            ));
        }
    }
    let first = lines.first().map(|l| l.trim_end()).unwrap_or("");
    let rest = first.strip_prefix(MAGIC).ok_or_else(|| {
        at(
            1,
            format!("not a t3sim sweep partial (expected a first line starting with `{MAGIC}`)"),
        )
    })?;
    let mut spec_hash = None;
    let mut shard = None;
    let mut points = None;
    for kv in rest.split_whitespace() {
        match kv.split_once('=') {
            Some(("spec", v)) => spec_hash = Some(v.to_string()),
            Some(("shard", v)) => shard = Shard::parse(v).ok(),
            Some(("points", v)) => points = v.parse::<usize>().ok(),
            _ => {}
        }
    }
    let (Some(spec_hash), Some(shard), Some(points)) = (spec_hash, shard, points) else {
        return Err(at(
            1,
            "malformed first line: needs spec=, shard= and points=".into(),
        ));
    };
    let mut header = None;
    let mut rows = BTreeMap::new();
    for (i, raw) in lines.iter().enumerate().skip(1) {
        let lineno = i + 1;
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        let fields = parse_record(line).map_err(|m| at(lineno, m))?;
        let Some(h) = &header else {
            if fields.first().map(String::as_str) != Some("index") {
                return Err(at(lineno, "expected the header line `index,...`".into()));
            }
            header = Some(fields[1..].to_vec());
            continue;
        };
        let h: &Vec<String> = h;
        if fields.len() != h.len() + 1 {
            return Err(at(
                lineno,
                format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    h.len() + 1
                ),
            ));
        }
        let index: usize = fields[0].parse().map_err(|_| {
            at(
                lineno,
                format!("point index `{}` is not a number", fields[0]),
            )
        })?;
        if index >= points {
            return Err(at(
                lineno,
                format!("point index {index} is out of range (the sweep has {points} points)"),
            ));
        }
        if !shard.owns(index) {
            return Err(at(
                lineno,
                format!("point {index} does not belong to shard {shard}"),
            ));
        }
        if let Some((_, prev)) = rows.get(&index) {
            return Err(at(
                lineno,
                format!("point {index} appears twice (first on line {prev})"),
            ));
        }
        rows.insert(index, (fields[1..].to_vec(), lineno));
    }
    Ok(Partial {
        spec_hash,
        shard,
        points,
        header,
        rows,
    })
}

/// The final CSV: header then rows in index order.
pub fn final_csv<'a>(header: &[String], rows: impl Iterator<Item = &'a Vec<String>>) -> String {
    let mut out = record(header);
    out.push('\n');
    for r in rows {
        out.push_str(&record(r));
        out.push('\n');
    }
    out
}

/// A finished partial: meta line, `index` header, rows in index order.
pub fn partial_csv<'a>(
    spec_hash: &str,
    shard: Shard,
    points: usize,
    header: Option<&[String]>,
    rows: impl Iterator<Item = (usize, &'a Vec<String>)>,
) -> String {
    let mut out = meta_line(spec_hash, shard, points);
    out.push('\n');
    if let Some(h) = header {
        out.push_str("index,");
        out.push_str(&record(h));
        out.push('\n');
        for (i, r) in rows {
            out.push_str(&i.to_string());
            out.push(',');
            out.push_str(&record(r));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_quoting() {
        let fields = vec![
            "plain".to_string(),
            "a,b".into(),
            "say \"hi\"".into(),
            "".into(),
            " pad".into(),
        ];
        let line = record(&fields);
        assert_eq!(line, "plain,\"a,b\",\"say \"\"hi\"\"\",,\" pad\"");
        assert_eq!(parse_record(&line).unwrap(), fields);
        assert_eq!(record(&["two\nlines"]), "two lines");
    }

    #[test]
    fn shard_strings_are_checked() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for (s, want) in [
            ("4/4", "below the count"),
            ("0/0", "at least 1"),
            ("1-4", "form `i/n`"),
            ("a/4", "not a whole number"),
            ("-1/4", "not a whole number"),
        ] {
            let e = Shard::parse(s).unwrap_err().to_string();
            assert!(e.starts_with("--shard: field `shard`"), "{e}");
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn journal_drops_a_torn_last_line_but_a_shard_file_is_rejected() {
        let text = format!("{}\nindex,a,m\n0,1,2\n1,3", meta_line("ab", Shard::ALL, 4));
        let p = parse("j", &text, true).unwrap();
        assert_eq!(p.rows.len(), 1);
        let e = parse("j", &text, false).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}
