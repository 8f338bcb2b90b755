//! Field paths (`ops[1].tile_m`) and where they sit in a JSON source.
//!
//! serde_json's `Value` forgets positions, so a semantic error found after
//! parsing is placed by walking the source text again along the field's
//! path. The walker only runs on text serde_json has already accepted (or
//! on an error path), and it gives up quietly on anything unexpected: a
//! location is a courtesy, never a reason to fail differently.

use std::fmt;

/// A rejected field and why: what every trace rule returns; the caller
/// places the field in the source.
pub(crate) type Problem = (FieldPath, String);

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A path from the document root to a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    /// The root.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path extended by an object key.
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        FieldPath(v)
    }

    /// This path extended by an array index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        FieldPath(v)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based (line, column) of byte offset `at` in `src`; the column counts
/// characters, as editors do.
pub fn line_col(src: &str, at: usize) -> (usize, usize) {
    let at = at.min(src.len());
    let before = src.as_bytes().get(..at).unwrap_or_default();
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let col = src
        .get(line_start..at)
        .map_or(at - line_start, |s| s.chars().count())
        + 1;
    (line, col)
}

/// Byte offset of `path` in `src`: of the key for an object member, of the
/// value for an array element. When the path is not spelled out in the
/// source (a defaulted field) the deepest ancestor that is.
pub fn locate(src: &str, path: &FieldPath) -> usize {
    let w = Walker { s: src.as_bytes() };
    let mut pos = w.ws(0);
    let mut best = pos;
    for seg in &path.0 {
        let found = match seg {
            Seg::Key(k) => w.member(pos, k),
            Seg::Index(i) => w.element(pos, *i),
        };
        match found {
            Some((at, value)) => {
                best = at;
                pos = value;
            }
            None => break,
        }
    }
    best
}

/// The first object key that appears twice in the same object, with its
/// byte offset. serde_json keeps the last value silently; we refuse, since
/// `"tp": 8, "tp": 16` has no single meaning.
pub fn duplicate_key(src: &str) -> Option<(FieldPath, usize)> {
    let w = Walker { s: src.as_bytes() };
    let start = w.ws(0);
    let mut out = None;
    w.scan_dups(start, &FieldPath::root(), 0, &mut out);
    out
}

/// The field being written at byte `offset` (where a syntax error sits):
/// each open container's current key or index. A lexical scan, so it
/// tolerates the broken text it is used on.
pub fn path_at(src: &str, offset: usize) -> FieldPath {
    enum Frame {
        Obj {
            key: Option<String>,
            expect_key: bool,
        },
        Arr {
            index: usize,
        },
    }
    let s = src.as_bytes();
    let end = offset.min(s.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut p = 0;
    while p < end {
        match s[p] {
            b'"' => {
                let mut q = p + 1;
                while q < s.len() && s[q] != b'"' {
                    q += if s[q] == b'\\' { 2 } else { 1 };
                }
                if q >= end {
                    break;
                }
                if let Some(Frame::Obj { key, expect_key }) = stack.last_mut()
                    && *expect_key
                {
                    let raw = String::from_utf8_lossy(&s[p..=q]);
                    let text = serde_json::from_str::<String>(&raw)
                        .unwrap_or_else(|_| raw.trim_matches('"').to_string());
                    *key = Some(text);
                    *expect_key = false;
                }
                p = q;
            }
            b'{' => stack.push(Frame::Obj {
                key: None,
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Arr { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Obj { key, expect_key }) => {
                    *key = None;
                    *expect_key = true;
                }
                Some(Frame::Arr { index }) => *index += 1,
                None => {}
            },
            _ => {}
        }
        p += 1;
    }
    let mut path = FieldPath::root();
    for f in &stack {
        match f {
            Frame::Obj { key: Some(k), .. } => path = path.key(k),
            Frame::Obj { key: None, .. } => break,
            Frame::Arr { index } => path = path.index(*index),
        }
    }
    path
}

const MAX_DEPTH: usize = 512;

struct Walker<'a> {
    s: &'a [u8],
}

impl Walker<'_> {
    fn at(&self, p: usize) -> Option<u8> {
        self.s.get(p).copied()
    }

    fn ws(&self, mut p: usize) -> usize {
        while matches!(self.at(p), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            p += 1;
        }
        p
    }

    /// The end of the string starting at `p` (which holds `"`), and its
    /// decoded text.
    fn string(&self, p: usize) -> Option<(usize, String)> {
        if self.at(p)? != b'"' {
            return None;
        }
        let mut q = p + 1;
        loop {
            match self.at(q)? {
                b'\\' => q += 2,
                b'"' => break,
                _ => q += 1,
            }
        }
        let raw = std::str::from_utf8(self.s.get(p..=q)?).ok()?;
        let text = serde_json::from_str::<String>(raw).ok()?;
        Some((q + 1, text))
    }

    /// The end of the value starting at `p`.
    fn skip(&self, p: usize, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.at(p)? {
            b'"' => self.string(p).map(|(e, _)| e),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                let mut q = self.ws(p + 1);
                if self.at(q)? == close {
                    return Some(q + 1);
                }
                loop {
                    if open == b'{' {
                        q = self.string(q)?.0;
                        q = self.ws(q);
                        if self.at(q)? != b':' {
                            return None;
                        }
                        q = self.ws(q + 1);
                    }
                    q = self.ws(self.skip(q, depth + 1)?);
                    match self.at(q)? {
                        b',' => q = self.ws(q + 1),
                        c if c == close => return Some(q + 1),
                        _ => return None,
                    }
                }
            }
            _ => {
                let mut q = p;
                while let Some(c) = self.at(q) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    q += 1;
                }
                (q > p).then_some(q)
            }
        }
    }

    /// (key offset, value offset) of member `key` of the object at `p`.
    fn member(&self, p: usize, key: &str) -> Option<(usize, usize)> {
        if self.at(p)? != b'{' {
            return None;
        }
        let mut q = self.ws(p + 1);
        let mut hit = None;
        while self.at(q)? == b'"' {
            let (after, k) = self.string(q)?;
            let colon = self.ws(after);
            if self.at(colon)? != b':' {
                return None;
            }
            let v = self.ws(colon + 1);
            // The last occurrence wins, as in serde_json.
            if k == key {
                hit = Some((q, v));
            }
            q = self.ws(self.skip(v, 0)?);
            match self.at(q)? {
                b',' => q = self.ws(q + 1),
                _ => break,
            }
        }
        hit
    }

    /// (offset, offset) of element `i` of the array at `p`.
    fn element(&self, p: usize, i: usize) -> Option<(usize, usize)> {
        if self.at(p)? != b'[' {
            return None;
        }
        let mut q = self.ws(p + 1);
        for _ in 0..i {
            q = self.ws(self.skip(q, 0)?);
            if self.at(q)? != b',' {
                return None;
            }
            q = self.ws(q + 1);
        }
        if self.at(q)? == b']' {
            return None;
        }
        Some((q, q))
    }

    fn scan_dups(
        &self,
        p: usize,
        path: &FieldPath,
        depth: usize,
        out: &mut Option<(FieldPath, usize)>,
    ) -> Option<usize> {
        if depth > MAX_DEPTH || out.is_some() {
            return None;
        }
        match self.at(p)? {
            b'{' => {
                let mut seen: Vec<String> = Vec::new();
                let mut q = self.ws(p + 1);
                if self.at(q)? == b'}' {
                    return Some(q + 1);
                }
                loop {
                    let (after, k) = self.string(q)?;
                    if seen.contains(&k) {
                        *out = Some((path.key(&k), q));
                        return None;
                    }
                    let colon = self.ws(after);
                    if self.at(colon)? != b':' {
                        return None;
                    }
                    let v = self.ws(colon + 1);
                    q = self.ws(self.scan_dups(v, &path.key(&k), depth + 1, out)?);
                    seen.push(k);
                    match self.at(q)? {
                        b',' => q = self.ws(q + 1),
                        b'}' => return Some(q + 1),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                let mut q = self.ws(p + 1);
                if self.at(q)? == b']' {
                    return Some(q + 1);
                }
                let mut i = 0;
                loop {
                    q = self.ws(self.scan_dups(q, &path.index(i), depth + 1, out)?);
                    i += 1;
                    match self.at(q)? {
                        b',' => q = self.ws(q + 1),
                        b']' => return Some(q + 1),
                        _ => return None,
                    }
                }
            }
            _ => self.skip(p, depth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "{\n  \"tp\": 8,\n  \"ops\": [\n    {\"name\": \"a\"},\n    {\n      \"name\": \"b\",\n      \"tile_m\": 0\n    }\n  ]\n}\n";

    #[test]
    fn locates_nested_fields_and_falls_back_to_ancestors() {
        let p = FieldPath::root().key("ops").index(1).key("tile_m");
        assert_eq!(p.to_string(), "ops[1].tile_m");
        assert_eq!(line_col(SRC, locate(SRC, &p)), (7, 7));
        let missing = FieldPath::root().key("ops").index(0).key("m");
        assert_eq!(line_col(SRC, locate(SRC, &missing)), (4, 5));
        let tp = FieldPath::root().key("tp");
        assert_eq!(line_col(SRC, locate(SRC, &tp)), (2, 3));
        let past_end = FieldPath::root().key("ops").index(5);
        assert_eq!(line_col(SRC, locate(SRC, &past_end)), (3, 3));
    }

    #[test]
    fn finds_duplicate_keys_at_any_depth() {
        assert_eq!(duplicate_key(SRC), None);
        let src = "{\"ops\": [{\"m\": 1, \"n\": 2, \"m\": 3}]}";
        let (path, at) = duplicate_key(src).expect("duplicate");
        assert_eq!(path.to_string(), "ops[0].m");
        assert_eq!(at, 26);
    }

    #[test]
    fn path_at_names_the_field_being_written() {
        let src = "{\"tp\": 8, \"ops\": [{\"name\": \"g\"}, {\"name\": \"r\", \"m\": ";
        assert_eq!(path_at(src, src.len()).to_string(), "ops[1].m");
        assert_eq!(path_at(src, 7).to_string(), "tp");
        assert_eq!(path_at("{\"a\": 1, ", 9).to_string(), "");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        assert_eq!(line_col("{\"é\": 1, \"x\": 2}", 10), (1, 10));
    }
}
