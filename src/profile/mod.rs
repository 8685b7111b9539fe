//! Media profiles: parsing ([`model`]), error locations ([`locate`]) and
//! semantic checks ([`validate`]).

pub mod locate;
pub mod model;
pub mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::*;
pub use validate::{Dates, ValidProfile};

use locate::LineIndex;

/// One problem in a profile: where (JSON path and line), what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// JSON path such as `packages[2].source`; empty for the whole document.
    pub path: String,
    /// 1-based line in the profile, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            "(document)".to_string()
        } else {
            self.path.clone()
        };
        match self.line {
            Some(l) => write!(f, "{at} (line {l}): {}", self.message)?,
            None => write!(f, "{at}: {}", self.message)?,
        }
        if !self.fix.is_empty() {
            write!(f, "\n    fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// A profile that cannot be used. Callers branch on it to exit with code 2.
#[derive(Debug, Clone, thiserror::Error)]
pub struct InvalidProfile {
    /// The profile file.
    pub file: PathBuf,
    /// Every problem found, in document order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for InvalidProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "profile {} is invalid ({} problem{})",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Collects problems while checking a profile, attaching line numbers.
pub struct Problems<'a> {
    index: &'a LineIndex,
    list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub fn new(index: &'a LineIndex) -> Self {
        Problems {
            index,
            list: Vec::new(),
        }
    }

    pub fn add(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let path = path.into();
        let line = self.index.line_of(&path);
        self.list.push(Problem {
            path,
            line,
            message: message.into(),
            fix: fix.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.list
    }
}

/// A profile read from disk, parsed but not yet validated.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    /// The profile file as given.
    pub file: PathBuf,
    /// Folder that relative paths resolve against.
    pub base_dir: PathBuf,
    /// The parsed document.
    pub profile: Profile,
    /// SHA-256 of the profile's bytes: its identity.
    pub sha256: String,
    /// Where each JSON path sits in the text.
    pub lines: LineIndex,
}

/// Reads and parses a profile. Syntax, type and unknown-key errors come back
/// as [`InvalidProfile`] naming the JSON path and line.
pub fn load(file: &Path) -> anyhow::Result<LoadedProfile> {
    use anyhow::Context;

    let invalid = |problems| InvalidProfile {
        file: file.to_path_buf(),
        problems,
    };
    let meta = std::fs::metadata(file).map_err(|e| {
        invalid(vec![Problem {
            path: String::new(),
            line: None,
            message: format!("cannot read the profile: {e}"),
            fix: "check the path given to --profile".into(),
        }])
    })?;
    if meta.is_dir() {
        return Err(invalid(vec![Problem {
            path: String::new(),
            line: None,
            message: "is a folder, not a profile file".into(),
            fix: "give the path of a .json profile (tsmedia profile init --type T > P.json makes one)".into(),
        }])
        .into());
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let (profile, sha256, lines) = parse(bytes, file)?;
    let base_dir = file
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    Ok(LoadedProfile {
        file: file.to_path_buf(),
        base_dir,
        profile,
        sha256,
        lines,
    })
}

/// Parses a profile's bytes (the profile's own file name for messages):
/// its content, SHA-256 and line index. Untrusted input: never panics.
pub fn parse(bytes: Vec<u8>, file: &Path) -> Result<(Profile, String, LineIndex), InvalidProfile> {
    use sha2::Digest;
    let invalid = |problems| InvalidProfile {
        file: file.to_path_buf(),
        problems,
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(_) => {
            return Err(invalid(vec![Problem {
                path: String::new(),
                line: None,
                message: "is not UTF-8 text".into(),
                fix: "save the profile as UTF-8 JSON".into(),
            }]))
        }
    };
    let sha256 = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    let text = strip_comments(&text);
    let lines = LineIndex::new(&text);
    if !text.trim_start().starts_with('{') && !text.trim().is_empty() {
        let line = text.len() - text.trim_start().len();
        let line = text[..line].matches('\n').count() + 1;
        return Err(invalid(vec![Problem {
            path: String::new(),
            line: Some(line),
            message: "the profile is not a JSON object".into(),
            fix:
                "a profile is one JSON object `{ ... }`; `tsmedia profile init --type T` prints one"
                    .into(),
        }]));
    }
    let mut de = serde_json::Deserializer::from_str(&text);
    let parsed = serde_path_to_error::deserialize(&mut de);
    if parsed.is_ok() {
        if let Err(e) = de.end() {
            let (message, fix) = describe_serde_error(&e, "");
            return Err(invalid(vec![Problem {
                path: String::new(),
                line: Some(e.line()),
                message,
                fix,
            }]));
        }
    }
    let profile: Profile = match parsed {
        Ok(p) => p,
        Err(e) => {
            let path = json_path(e.path());
            let inner = e.into_inner();
            let line = if inner.line() > 0 {
                Some(inner.line())
            } else {
                lines.line_of(&path)
            };
            let (message, fix) = describe_serde_error(&inner, &path);
            return Err(invalid(vec![Problem {
                path,
                line,
                message,
                fix,
            }]));
        }
    };
    Ok((profile, sha256, lines))
}

/// serde_path_to_error prints `a.b[0].c` already, except for the root (`.`).
fn json_path(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." || s == "?" {
        String::new()
    } else {
        s
    }
}

fn describe_serde_error(e: &serde_json::Error, path: &str) -> (String, String) {
    use serde_json::error::Category;
    let raw = e.to_string();
    // serde_json appends " at line L column C"; the line is reported separately.
    let msg = match raw.rfind(" at line ") {
        Some(i) => raw[..i].to_string(),
        None => raw,
    };
    let fix = match e.classify() {
        Category::Syntax | Category::Eof => {
            "fix the JSON syntax there (check for a missing comma, quote or bracket)".to_string()
        }
        Category::Io => "check that the file can be read".to_string(),
        Category::Data => {
            if msg.starts_with("unknown field") {
                "remove the key or correct its spelling; `tsmedia profile schema` lists every key"
                    .to_string()
            } else if msg.starts_with("missing field") {
                "add the missing key; `tsmedia profile init --type T` shows a complete profile"
                    .to_string()
            } else if msg.starts_with("unknown variant") {
                "use one of the listed values".to_string()
            } else if path.is_empty() {
                "the profile must be a JSON object; `tsmedia profile init --type T` shows one"
                    .to_string()
            } else {
                "give the value the type shown; `tsmedia profile schema` describes every key"
                    .to_string()
            }
        }
    };
    (msg, fix)
}

/// Blanks out `//` line comments outside strings (keeping every newline, so
/// line numbers stay right): profiles may carry comments.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_str = false;
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            for n in chars.by_ref() {
                if n == '\n' {
                    out.push('\n');
                    break;
                }
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    out
}
