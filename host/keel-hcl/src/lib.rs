//! HCL1, the syntax Nomad's agent configuration files are written in, read
//! into [`serde_json::Value`]s so that a config struct deserializes the same
//! way from an `.hcl` and a `.json` file.
//!
//! This crate owns the grammar, the printer that writes a value back as HCL1
//! (so that printing and parsing round-trip), and Nomad's merge of several
//! files. It depends on serde_json and thiserror only and does no I/O; the
//! agent reads the files. HCL2 expressions (interpolation, functions) are not
//! evaluated: `"${x}"` stays the string it is.
//!
//! # Grammar
//!
//! ```text
//! body    = { item [","] }
//! item    = key "=" value
//!         | key { label } object          (a block: `plugin "acl" { ... }`)
//! key     = ident | string
//! label   = ident | string
//! value   = string | heredoc | number | "true" | "false" | list | object
//! object  = "{" body "}"
//! list    = "[" [ value { "," value } [","] ] "]"
//! ident   = (letter | "_") { letter | digit | "_" | "-" | "." }
//! string  = '"' { char | "\" ( "n" | "t" | "r" | '"' | "\" | "/" | "uXXXX" | "UXXXXXXXX" ) } '"'
//! heredoc = "<<" ["-"] ident newline { line } ident    (`<<-` strips the common indentation)
//! number  = ["-"] digits ["." digits] [("e" | "E") ["+" | "-"] digits]
//! ```
//!
//! Whitespace, newlines and comments (`#` and `//` to the end of the line,
//! `/* ... */`) may stand between any two tokens, so a block fits on one line
//! with its attributes separated by spaces or commas:
//! `ports { http = 4646  rpc = 4647 }`. A block with labels nests one object
//! per label: `plugin "acl" { path = "x" }` is `{"plugin": {"acl": {"path":
//! "x"}}}`. Repeated blocks merge key by key, so two `plugin "..." {}` blocks
//! make one `plugin` object; a key given two non-object values is an error.
//!
//! ```
//! let document = keel_hcl::parse("ports { http = 4646, rpc = 4647 }").expect("parses");
//! assert_eq!(document.value["ports"]["rpc"], 4647);
//! ```

mod parse;
mod print;

use serde_json::{Map, Value};

pub use print::to_string;

/// A parsed file: its top-level object and where each key was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub value: Map<String, Value>,
    /// Every key in the order it was read, with its dotted path
    /// (`server.server_join.retry_join`) and position.
    pub keys: Vec<KeyPosition>,
}

/// Where a key was written, counted from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPosition {
    pub path: String,
    pub line: usize,
    pub column: usize,
}

impl Document {
    /// The first place the key `name` was written at any depth, to point an
    /// error about that key (an unknown field) at its line.
    pub fn position_of(&self, name: &str) -> Option<&KeyPosition> {
        self.keys.iter().find(|key| key.path.rsplit('.').next() == Some(name))
    }
}

/// Why a text is not HCL1, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse hcl: line {line}, column {column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads an HCL1 text.
pub fn parse(text: &str) -> Result<Document, ParseError> {
    parse::Parser::new(text).document()
}

/// Merges `overlay` into `base` as Nomad merges config files: objects (blocks)
/// key by key at every depth, anything else replaced by the later value.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests;
