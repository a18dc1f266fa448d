//! The recursive-descent reader behind [`crate::parse`].

use serde_json::{Map, Number, Value};

use crate::{Document, KeyPosition, ParseError};

/// How deep objects and lists may nest: a bound on the recursion, so a
/// hostile file cannot overflow the stack.
const NESTING_MAX: usize = 64;

pub(crate) struct Parser {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
    keys: Vec<KeyPosition>,
    depth: usize,
}

impl Parser {
    pub(crate) fn new(text: &str) -> Self {
        Self { chars: text.chars().collect(), at: 0, line: 1, column: 1, keys: Vec::new(), depth: 0 }
    }

    pub(crate) fn document(mut self) -> Result<Document, ParseError> {
        let value = self.body("", false)?;
        Ok(Document { value, keys: self.keys })
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError { line: self.line, column: self.column, message: message.into() })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn expect(&mut self, wanted: char) -> Result<(), ParseError> {
        match self.peek() {
            Some(c) if c == wanted => {
                self.bump();
                Ok(())
            }
            Some(c) => self.error(format!("expected `{wanted}`, found `{c}`")),
            None => self.error(format!("expected `{wanted}`, found the end of the file")),
        }
    }

    /// Skips whitespace, newlines and the three kinds of comment.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('#'), _) | (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    self.bump();
                    self.bump();
                    while !(self.peek() == Some('*') && self.peek_at(1) == Some('/')) {
                        if self.bump().is_none() {
                            return self.error("unterminated `/*` comment");
                        }
                    }
                    self.bump();
                    self.bump();
                }
                _ => return Ok(()),
            }
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > NESTING_MAX {
            return self.error(format!("nested deeper than {NESTING_MAX} levels"));
        }
        Ok(())
    }

    /// Items up to the end of the file, or up to `}` when `braced`.
    fn body(&mut self, path: &str, braced: bool) -> Result<Map<String, Value>, ParseError> {
        self.enter()?;
        let mut object = Map::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                None if braced => return self.error("unclosed `{`"),
                None => break,
                Some('}') if braced => {
                    self.bump();
                    break;
                }
                Some(_) => self.item(path, &mut object)?,
            }
            self.skip_trivia()?;
            if self.peek() == Some(',') {
                self.bump();
            }
        }
        self.depth -= 1;
        Ok(object)
    }

    fn item(&mut self, path: &str, object: &mut Map<String, Value>) -> Result<(), ParseError> {
        let (line, column) = (self.line, self.column);
        let key = self.key("a key")?;
        let key_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        self.keys.push(KeyPosition { path: key_path.clone(), line, column });
        self.skip_trivia()?;
        let value = if self.peek() == Some('=') {
            self.bump();
            self.skip_trivia()?;
            self.value(&key_path)?
        } else {
            let mut labels = Vec::new();
            while self.peek() != Some('{') {
                labels.push(self.key("a block label or `{`")?);
                self.skip_trivia()?;
            }
            self.bump();
            let inner_path = labels.iter().fold(key_path, |path, label| format!("{path}.{label}"));
            let body = Value::Object(self.body(&inner_path, true)?);
            labels.into_iter().rev().fold(body, |inner, label| Value::Object(Map::from_iter([(label, inner)])))
        };
        insert(object, key, value).map_err(|duplicate| ParseError {
            line,
            column,
            message: format!("`{duplicate}` is given twice"),
        })
    }

    fn key(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some('"') => self.string(),
            Some(c) if c.is_alphabetic() || c == '_' => Ok(self.ident()),
            Some(c) => self.error(format!("expected {what}, found `{c}`")),
            None => self.error(format!("expected {what}, found the end of the file")),
        }
    }

    fn ident(&mut self) -> String {
        let mut ident = String::new();
        while let Some(c) = self.peek().filter(|&c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            ident.push(c);
            self.bump();
        }
        ident
    }

    fn value(&mut self, path: &str) -> Result<Value, ParseError> {
        match self.peek() {
            Some('"') => self.string().map(Value::String),
            Some('<') if self.peek_at(1) == Some('<') => self.heredoc().map(Value::String),
            Some('[') => self.list(path),
            Some('{') => {
                self.bump();
                self.body(path, true).map(Value::Object)
            }
            Some(c) if c.is_ascii_digit() || c == '-' => self.number(),
            Some(c) if c.is_alphabetic() => match self.ident().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                other => self.error(format!("expected a value, found `{other}`")),
            },
            Some(c) => self.error(format!("expected a value, found `{c}`")),
            None => self.error("expected a value, found the end of the file"),
        }
    }

    fn list(&mut self, path: &str) -> Result<Value, ParseError> {
        self.enter()?;
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek() == Some(']') {
                self.bump();
                break;
            }
            items.push(self.value(path)?);
            self.skip_trivia()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {}
                _ => return self.error("expected `,` or `]` in a list"),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let (line, column) = (self.line, self.column);
        let mut text = String::new();
        let mut float = false;
        if self.peek() == Some('-') {
            text.push('-');
            self.bump();
        }
        while let Some(c) = self.peek() {
            let sign_after_exponent = matches!(c, '+' | '-') && text.ends_with(['e', 'E']);
            if !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E') || sign_after_exponent) {
                break;
            }
            float |= matches!(c, '.' | 'e' | 'E');
            text.push(c);
            self.bump();
        }
        let number = if float {
            text.parse::<f64>().ok().and_then(Number::from_f64)
        } else {
            text.parse::<i64>().map(Number::from).ok().or_else(|| text.parse::<u64>().map(Number::from).ok())
        };
        number.map(Value::Number).ok_or(ParseError { line, column, message: format!("`{text}` is not a number") })
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(text),
                Some('\\') => text.push(self.escape()?),
                Some('\n') | None => return self.error("unterminated string"),
                Some(c) => text.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, ParseError> {
        let digits = match self.bump() {
            Some('n') => return Ok('\n'),
            Some('t') => return Ok('\t'),
            Some('r') => return Ok('\r'),
            Some(c @ ('"' | '\\' | '/')) => return Ok(c),
            Some('u') => 4,
            Some('U') => 8,
            Some(c) => return self.error(format!("unknown escape `\\{c}`")),
            None => return self.error("unterminated string"),
        };
        let mut code = 0u32;
        for _ in 0..digits {
            match self.bump().and_then(|c| c.to_digit(16)) {
                Some(digit) => code = code * 16 + digit,
                None => return self.error("expected a hexadecimal digit in a `\\u` escape"),
            }
        }
        char::from_u32(code).map_or_else(|| self.error(format!("`{code:x}` is not a unicode scalar value")), Ok)
    }

    fn heredoc(&mut self) -> Result<String, ParseError> {
        self.bump();
        self.bump();
        let indented = self.peek() == Some('-');
        if indented {
            self.bump();
        }
        let marker = self.ident();
        if marker.is_empty() {
            return self.error("expected a heredoc marker after `<<`");
        }
        if self.peek() == Some('\r') {
            self.bump();
        }
        self.expect('\n')?;
        let mut lines = Vec::new();
        loop {
            if self.peek().is_none() {
                return self.error(format!("heredoc not closed by `{marker}`"));
            }
            let mut line = String::new();
            while let Some(c) = self.peek().filter(|&c| c != '\n') {
                line.push(c);
                self.bump();
            }
            let line = line.strip_suffix('\r').map(str::to_owned).unwrap_or(line);
            let closing = if indented { line.trim_start() } else { line.as_str() };
            if closing == marker {
                break;
            }
            self.bump();
            lines.push(line);
        }
        Ok(heredoc_text(lines, indented))
    }
}

/// The lines of a heredoc, each ending in a newline; `<<-` removes the
/// indentation all non-blank lines share.
fn heredoc_text(lines: Vec<String>, indented: bool) -> String {
    let indent = if indented {
        let blank = |line: &&String| line.trim().is_empty();
        let widths = lines.iter().filter(|line| !blank(line)).map(|l| l.len() - l.trim_start().len());
        widths.min().unwrap_or(0)
    } else {
        0
    };
    lines.iter().map(|line| format!("{}\n", line.get(indent..).unwrap_or(line.trim_start()))).collect()
}

/// Adds `key = value`, merging blocks given twice; the key's path comes back
/// when a non-object value is given twice.
fn insert(object: &mut Map<String, Value>, key: String, value: Value) -> Result<(), String> {
    match (object.get_mut(&key), value) {
        (None, value) => {
            object.insert(key, value);
            Ok(())
        }
        (Some(Value::Object(existing)), Value::Object(more)) => {
            for (inner, value) in more {
                insert(existing, inner.clone(), value).map_err(|path| format!("{key}.{path}"))?;
            }
            Ok(())
        }
        (Some(_), _) => Err(key),
    }
}
