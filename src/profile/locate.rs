//! Finds the line of a JSON path (`packages[2].source`) in a profile's text,
//! so that semantic errors point at the line to fix.
//!
//! The text has already been parsed by serde_json; this scanner only walks it
//! to note where each value starts. It is tolerant: on anything unexpected it
//! stops and reports what it has seen.

use std::collections::HashMap;

/// Map from JSON path to the 1-based line where its value (or key) starts.
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut s = Scanner {
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
            out: HashMap::new(),
        };
        s.value(String::new());
        LineIndex { lines: s.out }
    }

    /// The line of `path`, or of its nearest ancestor that is present.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path.to_string();
        loop {
            if let Some(l) = self.lines.get(&p) {
                return Some(*l);
            }
            if p.is_empty() {
                return None;
            }
            p = parent(&p).to_string();
        }
    }
}

fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(i) => &path[..i],
        None => "",
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    out: HashMap<String, usize>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        if c == b'\n' {
            self.line += 1;
        }
        self.pos += 1;
        Some(c)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.bump();
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.bump()? != b'"' {
            return None;
        }
        let start = self.pos;
        loop {
            match self.bump()? {
                b'\\' => {
                    self.bump()?;
                }
                b'"' => break,
                _ => {}
            }
        }
        let raw = &self.bytes[start..self.pos - 1];
        let quoted = format!("\"{}\"", String::from_utf8_lossy(raw));
        match serde_json::from_str::<String>(&quoted) {
            Ok(s) => Some(s),
            Err(_) => Some(quoted),
        }
    }

    fn value(&mut self, path: String) -> Option<()> {
        self.ws();
        self.out.entry(path.clone()).or_insert(self.line);
        match self.peek()? {
            b'{' => {
                self.bump();
                self.ws();
                if self.peek()? == b'}' {
                    self.bump();
                    return Some(());
                }
                loop {
                    self.ws();
                    let key_line = self.line;
                    let key = self.string()?;
                    let child = if path.is_empty() {
                        key
                    } else {
                        format!("{path}.{key}")
                    };
                    self.out.insert(child.clone(), key_line);
                    self.ws();
                    if self.bump()? != b':' {
                        return None;
                    }
                    self.value(child)?;
                    self.ws();
                    match self.bump()? {
                        b',' => continue,
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.bump();
                self.ws();
                if self.peek()? == b']' {
                    self.bump();
                    return Some(());
                }
                let mut i = 0;
                loop {
                    self.value(format!("{path}[{i}]"))?;
                    i += 1;
                    self.ws();
                    match self.bump()? {
                        b',' => continue,
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(|_| ()),
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.bump();
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_paths() {
        let text = "{\n  \"type\": \"bootable\",\n  \"packages\": [\n    {\"id\": \"A\"},\n    {\n      \"id\": \"B\",\n      \"source\": \"x\"\n    }\n  ]\n}\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_of("type"), Some(2));
        assert_eq!(idx.line_of("packages"), Some(3));
        assert_eq!(idx.line_of("packages[0].id"), Some(4));
        assert_eq!(idx.line_of("packages[1]"), Some(5));
        assert_eq!(idx.line_of("packages[1].source"), Some(7));
        // Absent keys fall back to their parent.
        assert_eq!(idx.line_of("packages[1].name"), Some(5));
        assert_eq!(idx.line_of("site.code"), Some(1));
    }
}
