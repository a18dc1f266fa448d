//! The syntax tree that both rule syntaxes parse into: blocks with labels,
//! attributes and values, with no meaning attached yet. Giving HCL and JSON
//! one tree means the rules are checked by one piece of code, so the same
//! mistake gets the same message in either syntax.

use crate::error::Pos;

/// One entry of a document or of a block's body.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Attribute(Attribute),
    Block(Block),
}

/// `name = value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub value: Value,
    /// Where the name starts.
    pub at: Option<Pos>,
}

/// `name "label" ... { body }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub name: String,
    pub labels: Vec<String>,
    pub body: Vec<Item>,
    /// Where the name starts.
    pub at: Option<Pos>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub at: Option<Pos>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    Str(String),
    Bool(bool),
    /// Kept as written: no rule takes a number, so it only shows in errors.
    Number(String),
    Null,
    /// Lists hold scalars only; both parsers reject nested lists.
    List(Vec<Value>),
}

impl ValueKind {
    /// How the value reads in an error message, e.g. "a list".
    pub fn describe(&self) -> &'static str {
        match self {
            ValueKind::Str(_) => "a string",
            ValueKind::Bool(_) => "a bool",
            ValueKind::Number(_) => "a number",
            ValueKind::Null => "null",
            ValueKind::List(_) => "a list",
        }
    }
}

/// Helpers for the parsers' tests: both read into this tree.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Block, Item};
    use crate::error::RuleError;

    /// The items `parse` reads from `text`, which must parse.
    pub(crate) fn ok(parse: fn(&str) -> Result<Vec<Item>, RuleError>, text: &str) -> Vec<Item> {
        match parse(text) {
            Ok(items) => items,
            Err(error) => panic!("{text:?} should parse: {error}"),
        }
    }

    /// The error `parse` gives for `text`, which must not parse.
    pub(crate) fn error(parse: fn(&str) -> Result<Vec<Item>, RuleError>, text: &str) -> String {
        match parse(text) {
            Ok(items) => panic!("{text:?} should not parse, gave {items:?}"),
            Err(error) => error.to_string(),
        }
    }

    /// The block `item` must be.
    pub(crate) fn block(item: &Item) -> &Block {
        match item {
            Item::Block(block) => block,
            Item::Attribute(attribute) => panic!("expected a block, found {attribute:?}"),
        }
    }
}
