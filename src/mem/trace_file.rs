//! Memory traces in the formats the well-known DRAM simulators read:
//!
//! - Ramulator 2 (`LoadStoreTrace`): `LD <addr>` / `ST <addr>` per line;
//! - DRAMsim3: `<addr> READ|WRITE <cycle>` per line (the cycle, in DRAM
//!   cycles, is the earliest issue time; 0 = as soon as accepted).
//!
//! Addresses are hexadecimal with `0x` or decimal. Blank lines and lines
//! starting with `#` are skipped. Records are streamed, never all held in
//! memory. Every error names the file, the line and the field.

use crate::error::{InputError, Location, Result};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Trace syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    Ramulator,
    Dramsim3,
}

/// One record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRecord {
    pub addr: u64,
    pub write: bool,
    /// Earliest issue cycle (DRAMsim3 only).
    pub cycle: u64,
    /// 1-based line number, for errors raised later (address range).
    pub line: usize,
}

/// A streaming reader of trace records.
pub struct TraceReader<R: Read> {
    input: BufReader<R>,
    format: TraceFormat,
    file: String,
    line_no: usize,
    buf: Vec<u8>,
}

impl TraceReader<std::fs::File> {
    pub fn open(path: &Path, format: TraceFormat) -> Result<Self> {
        let f = std::fs::File::open(path)
            .map_err(|e| InputError::file(path, format!("cannot open trace: {e}")))?;
        Ok(TraceReader::new(f, format, path.display().to_string()))
    }
}

impl<R: Read> TraceReader<R> {
    pub fn new(input: R, format: TraceFormat, file: String) -> Self {
        TraceReader {
            input: BufReader::with_capacity(1 << 20, input),
            format,
            file,
            line_no: 0,
            buf: Vec::with_capacity(128),
        }
    }

    fn err(&self, col: usize, field: &str, msg: impl Into<String>) -> crate::Error {
        InputError::new(
            Location::at(self.file.clone(), self.line_no, col),
            field,
            msg,
        )
        .into()
    }

    /// The next record, `Ok(None)` at the end.
    pub fn next_record(&mut self) -> Result<Option<TraceRecord>> {
        loop {
            self.buf.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| InputError::file(Path::new(&self.file), format!("read error: {e}")))?;
            if n == 0 {
                return Ok(None);
            }
            self.line_no += 1;
            let line = std::mem::take(&mut self.buf);
            let r = self.parse_line(&line);
            self.buf = line;
            match r? {
                Some(rec) => return Ok(Some(rec)),
                None => continue,
            }
        }
    }

    fn parse_line(&self, line: &[u8]) -> Result<Option<TraceRecord>> {
        let Ok(text) = std::str::from_utf8(line) else {
            return Err(self.err(1, "", "line is not valid UTF-8"));
        };
        let text = text.trim_end_matches(['\n', '\r']);
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(None);
        }
        // (column, token) pairs.
        let mut toks = tokens(text);
        match self.format {
            TraceFormat::Ramulator => {
                let (c0, op) = toks.next().expect("non-empty line has a token");
                let write = match op {
                    "LD" | "R" | "READ" => false,
                    "ST" | "W" | "WRITE" => true,
                    _ => {
                        return Err(self.err(c0, "op", format!("expected LD or ST, found `{op}`")));
                    }
                };
                let (c1, a) = toks
                    .next()
                    .ok_or_else(|| self.err(text.len() + 1, "address", "missing address"))?;
                let addr = parse_u64(a).map_err(|m| self.err(c1, "address", m))?;
                if let Some((c, extra)) = toks.next() {
                    return Err(self.err(c, "", format!("unexpected `{extra}` after the address")));
                }
                Ok(Some(TraceRecord {
                    addr,
                    write,
                    cycle: 0,
                    line: self.line_no,
                }))
            }
            TraceFormat::Dramsim3 => {
                let (c0, a) = toks.next().expect("non-empty line has a token");
                let addr = parse_u64(a).map_err(|m| self.err(c0, "address", m))?;
                let (c1, op) = toks
                    .next()
                    .ok_or_else(|| self.err(text.len() + 1, "op", "missing READ or WRITE"))?;
                let write = match op {
                    "READ" => false,
                    "WRITE" => true,
                    _ => {
                        return Err(self.err(
                            c1,
                            "op",
                            format!("expected READ or WRITE, found `{op}`"),
                        ));
                    }
                };
                let (c2, cy) = toks
                    .next()
                    .ok_or_else(|| self.err(text.len() + 1, "cycle", "missing cycle"))?;
                let cycle = cy
                    .parse::<u64>()
                    .map_err(|_| self.err(c2, "cycle", format!("`{cy}` is not a cycle number")))?;
                if cycle > 1 << 50 {
                    return Err(self.err(c2, "cycle", format!("cycle {cycle} is beyond 2^50")));
                }
                if let Some((c, extra)) = toks.next() {
                    return Err(self.err(c, "", format!("unexpected `{extra}` after the cycle")));
                }
                Ok(Some(TraceRecord {
                    addr,
                    write,
                    cycle,
                    line: self.line_no,
                }))
            }
        }
    }

    pub fn file(&self) -> &str {
        &self.file
    }
}

/// Whitespace-separated tokens with their 1-based columns.
fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        Some((start + 1, &s[start..i]))
    })
}

fn parse_u64(s: &str) -> std::result::Result<u64, String> {
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        s.parse::<u64>()
    };
    r.map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("`{s}` does not fit in 64 bits"),
        _ => format!("`{s}` is not an address (hex with 0x, or decimal)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(src: &str, f: TraceFormat) -> Result<Vec<TraceRecord>> {
        let mut r = TraceReader::new(src.as_bytes(), f, "t.trace".into());
        let mut v = Vec::new();
        while let Some(x) = r.next_record()? {
            v.push(x);
        }
        Ok(v)
    }

    #[test]
    fn reads_both_formats() {
        let v = read_all("LD 0x40\n\n# c\nST 128\n", TraceFormat::Ramulator).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].addr, v[0].write), (64, false));
        assert_eq!((v[1].addr, v[1].write, v[1].line), (128, true, 4));
        let v = read_all("0x80 WRITE 7\r\n0x0 READ 9\n", TraceFormat::Dramsim3).unwrap();
        assert_eq!((v[0].addr, v[0].write, v[0].cycle), (128, true, 7));
        assert_eq!(v[1].cycle, 9);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = read_all("LD 0x40\nLOAD 0x80\n", TraceFormat::Ramulator).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.trace:2:1: field `op`: expected LD or ST, found `LOAD`"
        );
        let e = read_all("0x40 READ 1\n0x4g READ 2\n", TraceFormat::Dramsim3).unwrap_err();
        assert!(
            e.to_string().starts_with("t.trace:2:1: field `address`"),
            "{e}"
        );
        let e = read_all("0x40 READ\n", TraceFormat::Dramsim3).unwrap_err();
        assert!(e.to_string().contains("field `cycle`"), "{e}");
        let e = read_all("LD 0xffffffffffffffffff\n", TraceFormat::Ramulator).unwrap_err();
        assert!(e.to_string().contains("64 bits"), "{e}");
        let e = read_all("ST\n", TraceFormat::Ramulator).unwrap_err();
        assert!(e.to_string().contains("missing address"), "{e}");
    }
}
