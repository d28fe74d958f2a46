//! Character cursor shared by the template and expression parsers.

use crate::ast::Pos;

pub(crate) struct Cursor {
    pub chars: Vec<char>,
    pub pos: usize,
    line_starts: Vec<usize>,
}

impl Cursor {
    pub fn new(src: &str) -> Self {
        let chars: Vec<char> = src.chars().collect();
        let mut line_starts = vec![0];
        for (i, c) in chars.iter().enumerate() {
            if *c == '\n' {
                line_starts.push(i + 1);
            }
        }
        Cursor {
            chars,
            pos: 0,
            line_starts,
        }
    }

    pub fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    pub fn peek(&self) -> Option<char> {
        self.at(0)
    }

    pub fn eof(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    pub fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(i, c)| self.at(i) == Some(c))
    }

    pub fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(c) if c.is_whitespace()) {
            self.pos += 1;
        }
    }

    pub fn slice(&self, from: usize, to: usize) -> String {
        let to = to.min(self.chars.len());
        let from = from.min(to);
        self.chars[from..to].iter().collect()
    }

    pub fn pos_of(&self, offset: usize) -> Pos {
        let idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(idx).copied().unwrap_or(0);
        Pos {
            line: idx + 1,
            column: offset.saturating_sub(start) + 1,
        }
    }

    /// Reads `[a-zA-Z_][a-zA-Z0-9_]*`, plus `-` when followed by an identifier char.
    pub fn ident(&mut self, allow_hyphen: bool) -> Option<String> {
        let first = self.peek()?;
        if !(first.is_ascii_alphabetic() || first == '_') {
            return None;
        }
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_alphanumeric() || c == '_' => self.pos += 1,
                Some('-')
                    if allow_hyphen
                        && matches!(self.at(1), Some(c) if c.is_ascii_alphanumeric() || c == '_') =>
                {
                    self.pos += 1
                }
                _ => break,
            }
        }
        Some(self.slice(start, self.pos))
    }
}

pub(crate) fn is_ident_start(c: Option<char>) -> bool {
    matches!(c, Some(c) if c.is_ascii_alphabetic() || c == '_')
}
