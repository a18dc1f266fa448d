//! The error every stage of reading a rule document returns.

use std::fmt;

/// A place in an HCL document, both counted from 1; columns count characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What is wrong with a rule document, and where when the syntax tells.
///
/// JSON documents carry no positions past parsing: serde_json reports its
/// own syntax errors with line and column, and the rules themselves are
/// named by their block and label instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub at: Option<Pos>,
    pub message: String,
}

impl RuleError {
    pub fn new(at: Option<Pos>, message: impl Into<String>) -> Self {
        Self { at, message: message.into() }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_shows_its_position_first() {
        let error = RuleError::new(Some(Pos { line: 3, column: 14 }), "invalid agent policy \"admin\"");
        assert_eq!(error.to_string(), "3:14: invalid agent policy \"admin\"");
        assert_eq!(RuleError::new(None, "no rules").to_string(), "no rules");
    }
}
