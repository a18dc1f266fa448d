//! Splits HCL text into tokens with positions. Whitespace, newlines and the
//! three comment forms (`#`, `//`, `/* */`) separate tokens and are dropped:
//! like HCL 1, which Nomad parses policies with, the grammar of policies
//! never needs a newline to tell two items apart.

use std::str::Chars;

use crate::error::{Pos, RuleError};

#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Ident(String),
    Str(String),
    Number(String),
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Equals,
    Comma,
    Eof,
}

impl Token {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(name) => format!("name {name}"),
            Token::Str(text) => format!("string {text:?}"),
            Token::Number(text) => format!("number {text}"),
            Token::LBrace => "'{'".to_owned(),
            Token::RBrace => "'}'".to_owned(),
            Token::LBracket => "'['".to_owned(),
            Token::RBracket => "']'".to_owned(),
            Token::Equals => "'='".to_owned(),
            Token::Comma => "','".to_owned(),
            Token::Eof => "the end of the rules".to_owned(),
        }
    }
}

/// Returns every token of `text`, ending with one `Eof`.
pub fn tokenize(text: &str) -> Result<Vec<(Token, Pos)>, RuleError> {
    let mut cursor = Cursor { chars: text.strip_prefix('\u{feff}').unwrap_or(text).chars(), line: 1, column: 1 };
    let mut tokens = Vec::new();
    loop {
        let at = cursor.pos();
        let Some(c) = cursor.peek() else {
            tokens.push((Token::Eof, at));
            return Ok(tokens);
        };
        let token = match c {
            _ if c.is_whitespace() => {
                cursor.bump();
                continue;
            }
            '#' => {
                cursor.skip_line();
                continue;
            }
            '/' if cursor.peek_second() == Some('/') => {
                cursor.skip_line();
                continue;
            }
            '/' if cursor.peek_second() == Some('*') => {
                cursor.skip_block_comment(at)?;
                continue;
            }
            '{' => punctuation(&mut cursor, Token::LBrace),
            '}' => punctuation(&mut cursor, Token::RBrace),
            '[' => punctuation(&mut cursor, Token::LBracket),
            ']' => punctuation(&mut cursor, Token::RBracket),
            '=' => punctuation(&mut cursor, Token::Equals),
            ',' => punctuation(&mut cursor, Token::Comma),
            '"' => Token::Str(cursor.string(at)?),
            _ if c.is_ascii_alphabetic() || c == '_' => {
                Token::Ident(cursor.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            }
            _ if c.is_ascii_digit() || (c == '-' && cursor.peek_second().is_some_and(|c| c.is_ascii_digit())) => {
                let sign = if c == '-' { cursor.bump().map(String::from).unwrap_or_default() } else { String::new() };
                Token::Number(sign + &cursor.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_')))
            }
            _ => return Err(RuleError::new(Some(at), format!("unexpected character {c:?}"))),
        };
        tokens.push((token, at));
    }
}

fn punctuation(cursor: &mut Cursor<'_>, token: Token) -> Token {
    cursor.bump();
    token
}

struct Cursor<'a> {
    chars: Chars<'a>,
    line: u32,
    column: u32,
}

impl Cursor<'_> {
    fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.column }
    }

    fn peek(&self) -> Option<char> {
        self.chars.clone().next()
    }

    fn peek_second(&self) -> Option<char> {
        self.chars.clone().nth(1)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut taken = String::new();
        while let Some(c) = self.peek().filter(|c| keep(*c)) {
            taken.push(c);
            self.bump();
        }
        taken
    }

    fn skip_line(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    fn skip_block_comment(&mut self, start: Pos) -> Result<(), RuleError> {
        self.bump();
        self.bump();
        loop {
            match self.bump() {
                None => return Err(RuleError::new(Some(start), "comment is not closed with */")),
                Some('*') if self.peek() == Some('/') => {
                    self.bump();
                    return Ok(());
                }
                Some(_) => {}
            }
        }
    }

    /// Reads a quoted string whose opening quote is next. Strings end on the
    /// line they start on, as in HCL 1.
    fn string(&mut self, start: Pos) -> Result<String, RuleError> {
        self.bump();
        let mut text = String::new();
        loop {
            let at = self.pos();
            match self.bump() {
                None | Some('\n') => return Err(RuleError::new(Some(start), "string is not closed with '\"'")),
                Some('"') => return Ok(text),
                Some('\\') => text.push(self.escape(at)?),
                Some(c) => text.push(c),
            }
        }
    }

    fn escape(&mut self, at: Pos) -> Result<char, RuleError> {
        match self.bump() {
            Some('n') => Ok('\n'),
            Some('t') => Ok('\t'),
            Some('r') => Ok('\r'),
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('u') => self.unicode(at, 4),
            Some('U') => self.unicode(at, 8),
            Some(c) if c != '\n' => Err(RuleError::new(Some(at), format!("invalid escape \\{c} in string"))),
            _ => Err(RuleError::new(Some(at), "string ends in the middle of an escape")),
        }
    }

    fn unicode(&mut self, at: Pos, digits: usize) -> Result<char, RuleError> {
        let mut code = 0u32;
        for _ in 0..digits {
            let digit = self.peek().and_then(|c| c.to_digit(16)).ok_or_else(|| {
                RuleError::new(Some(at), format!("invalid escape in string: expected {digits} hex digits"))
            })?;
            self.bump();
            code = code * 16 + digit;
        }
        char::from_u32(code)
            .ok_or_else(|| RuleError::new(Some(at), format!("invalid escape in string: {code:#x} is not a character")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Token> {
        tokenize(text).expect("valid tokens").into_iter().map(|(token, _)| token).collect()
    }

    fn error(text: &str) -> String {
        tokenize(text).expect_err("invalid tokens").to_string()
    }

    #[test]
    fn tokens_of_a_block_with_positions() {
        let tokens = tokenize("namespace \"prod\" {\n  policy = \"read\"\n}").expect("valid");
        let expected = [
            (Token::Ident("namespace".into()), 1, 1),
            (Token::Str("prod".into()), 1, 11),
            (Token::LBrace, 1, 18),
            (Token::Ident("policy".into()), 2, 3),
            (Token::Equals, 2, 10),
            (Token::Str("read".into()), 2, 12),
            (Token::RBrace, 3, 1),
            (Token::Eof, 3, 2),
        ];
        assert_eq!(tokens.len(), expected.len());
        for ((token, at), (want, line, column)) in tokens.into_iter().zip(expected) {
            assert_eq!(token, want);
            assert_eq!(at, Pos { line, column }, "position of {want:?}");
        }
    }

    #[test]
    fn comments_of_all_three_kinds_are_dropped() {
        let text = "# hash\n// slashes\n/* block\n comment */ agent /* inline */ { } // end";
        assert_eq!(kinds(text), [Token::Ident("agent".into()), Token::LBrace, Token::RBrace, Token::Eof]);
    }

    #[test]
    fn strings_take_escapes() {
        assert_eq!(
            kinds(r#""a\"b\\c\n\u00e9\U0001F600""#),
            [Token::Str("a\"b\\c\n\u{e9}\u{1F600}".into()), Token::Eof]
        );
        assert_eq!(kinds("\"prod-*\""), [Token::Str("prod-*".into()), Token::Eof]);
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(
            kinds("a_b-c.d 12 -3.5 true"),
            [
                Token::Ident("a_b-c.d".into()),
                Token::Number("12".into()),
                Token::Number("-3.5".into()),
                Token::Ident("true".into()),
                Token::Eof
            ]
        );
    }

    #[test]
    fn lexical_errors_say_where() {
        assert_eq!(error("agent {\n  policy = \"read\n}"), "2:12: string is not closed with '\"'");
        assert_eq!(error("agent { policy = \"re"), "1:18: string is not closed with '\"'");
        assert_eq!(error("\n /* never closed"), "2:2: comment is not closed with */");
        assert_eq!(error("agent { policy = 'read' }"), "1:18: unexpected character '\\''");
        assert_eq!(error("x = \"a\\qb\""), "1:7: invalid escape \\q in string");
        assert_eq!(error("x = \"\\u12\""), "1:6: invalid escape in string: expected 4 hex digits");
        assert_eq!(error("x = \"\\uD800\""), "1:6: invalid escape in string: 0xd800 is not a character");
        assert_eq!(error("x = \"\\"), "1:6: string ends in the middle of an escape");
        assert_eq!(error("a / b"), "1:3: unexpected character '/'");
        assert_eq!(error("x = <<EOF"), "1:5: unexpected character '<'");
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert_eq!(kinds("\u{feff}agent"), [Token::Ident("agent".into()), Token::Eof]);
    }
}
