//! Errors at the library boundary.
//!
//! Every problem with user input (a trace, a config, a CLI override) is an
//! [`InputError`] that names where it is: the file, the line and column when
//! known, and the field. The CLI maps it to exit code 2; everything else that
//! fails is exit code 1.

use std::fmt;
use std::path::Path;

/// Where in an input a problem sits. Line and column are 1-based.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            line: None,
            column: None,
        }
    }

    pub fn at(file: impl Into<String>, line: usize, column: usize) -> Self {
        Location {
            file: file.into(),
            line: Some(line),
            column: Some(column),
        }
    }

    /// The location of a dotted key (`mem.timing.tras`) inside a TOML or JSON
    /// source: the line where its last component is written as a key. Falls
    /// back to the file alone when the key is not spelled out in the text
    /// (for example a value taken from a preset).
    pub fn of_key(file: impl Into<String>, src: &str, dotted: &str) -> Self {
        let file = file.into();
        let key = dotted.rsplit('.').next().unwrap_or(dotted);
        for (i, line) in src.lines().enumerate() {
            let t = line.trim_start();
            let indent = line.len() - t.len();
            let rest = t.strip_prefix('"').unwrap_or(t);
            if let Some(after) = rest.strip_prefix(key) {
                let after = after.strip_prefix('"').unwrap_or(after).trim_start();
                if after.starts_with('=') || after.starts_with(':') {
                    return Location::at(file, i + 1, indent + 1);
                }
            }
        }
        Location::file(file)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        Ok(())
    }
}

/// A rejected input: names the file, line, column and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{loc}: {}{message}", field_prefix(.field))]
pub struct InputError {
    pub loc: Location,
    /// Dotted path of the offending field (`mem.timing.tras`), empty if the
    /// problem is not tied to one field (a syntax error).
    pub field: String,
    pub message: String,
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("field `{field}`: ")
    }
}

impl InputError {
    pub fn new(loc: Location, field: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            loc,
            field: field.into(),
            message: message.into(),
        }
    }

    /// An error about a whole file (unreadable, not UTF-8, empty).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        InputError::new(Location::file(path.display().to_string()), "", message)
    }
}

/// Errors the library returns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] InputError),
    /// A simulation stopped making progress; the message carries the state.
    #[error("deadlock: {0}")]
    Deadlock(String),
    /// The model's own result check failed (functional check, invariant).
    #[error("check failed: {0}")]
    Check(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Exit code for the CLI: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a text input, rejecting unreadable, empty and non-UTF-8 files with
/// an [`InputError`] naming the file.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| InputError::file(path, format!("cannot read file: {e}")))?;
    if bytes.is_empty() {
        return Err(InputError::new(
            Location::at(path.display().to_string(), 1, 1),
            "",
            "file is empty",
        )
        .into());
    }
    String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        InputError::new(
            Location::at(path.display().to_string(), line, col),
            "",
            "file is not valid UTF-8",
        )
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_of_key_finds_toml_and_json_keys() {
        let src = "[mem.timing]\ncl = 14\n  tras = 3\n";
        let l = Location::of_key("a.toml", src, "mem.timing.tras");
        assert_eq!((l.line, l.column), (Some(3), Some(3)));
        let js = "{\n  \"tp\": 8,\n  \"ops\": []\n}";
        let l = Location::of_key("t.json", js, "ops");
        assert_eq!(l.line, Some(3));
    }

    #[test]
    fn input_error_message_names_file_line_and_field() {
        let e = InputError::new(Location::at("x.toml", 4, 2), "mem.timing.cl", "must be > 0");
        assert_eq!(
            e.to_string(),
            "x.toml:4:2: field `mem.timing.cl`: must be > 0"
        );
    }
}
