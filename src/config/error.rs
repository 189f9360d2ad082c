//! Configuration errors: every problem carries file, line, column and dotted key,
//! so an operator can fix the whole file in one pass instead of one error per run.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all (missing, permissions, ...).
    // The io error is part of the message rather than a `source` so that printing
    // the error with plain `{}` still tells the operator what went wrong.
    #[error("{}: cannot read configuration file: {reason}", path.display())]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    /// The file was read but has one or more problems; all of them are listed.
    #[error("{}", render(problems))]
    Invalid { problems: Vec<Problem> },
}

impl ConfigError {
    /// The located problems (empty for [`ConfigError::Read`]).
    #[cfg(test)]
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems } => problems,
        }
    }
}

/// One line per problem, in file order.
fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// What sort of problem was found; lets callers and tests tell them apart
/// without matching on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Not valid TOML (or not UTF-8).
    Syntax,
    /// A key or section we do not know about.
    UnknownKey,
    /// The value has the wrong TOML type (string where an integer belongs, ...).
    WrongType,
    /// The type is right but the value is not acceptable.
    InvalidValue,
    /// Two settings clash with each other (e.g. one address in two listener lists).
    Conflict,
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The origin given to the loader, normally the file name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Dotted key such as `xmpp.listen[1]`; `None` for syntax errors.
    pub key: Option<String>,
    pub kind: ProblemKind,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Collects problems while the loader walks the document.
pub(super) struct Problems<'a> {
    text: &'a str,
    origin: &'a str,
    pub(super) list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(super) fn new(text: &'a str, origin: &'a str) -> Self {
        Problems {
            text,
            origin,
            list: Vec::new(),
        }
    }

    pub(super) fn push(
        &mut self,
        span: Range<usize>,
        key: Option<String>,
        kind: ProblemKind,
        message: impl Into<String>,
    ) {
        let (line, column) = line_col(self.text, span.start);
        self.list.push(Problem {
            file: self.origin.to_owned(),
            line,
            column,
            key,
            kind,
            message: message.into(),
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Sorted by position so the report reads top to bottom like the file
    /// (the parser's map iterates keys alphabetically, not in file order).
    pub(super) fn into_error(mut self) -> ConfigError {
        self.list.sort_by_key(|p| (p.line, p.column));
        ConfigError::Invalid {
            problems: self.list,
        }
    }
}

/// 1-based line and character column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    // Spans always fall on char boundaries, but be defensive: slicing mid-char panics.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
