//! Writing a value back as HCL1, for tools and for the round-trip test.

use std::fmt::Write;

use serde_json::{Map, Value};

/// Prints `object` as an HCL1 body that [`crate::parse`] reads back as the
/// same value: objects as blocks, strings quoted with escapes. HCL has no
/// null, so a null prints as an empty string.
pub fn to_string(object: &Map<String, Value>) -> String {
    let mut out = String::new();
    body(&mut out, object, 0);
    out
}

fn body(out: &mut String, object: &Map<String, Value>, indent: usize) {
    for (key, value) in object {
        out.push_str(&"  ".repeat(indent));
        push_key(out, key);
        match value {
            Value::Object(inner) => block(out, inner, indent),
            other => {
                out.push_str(" = ");
                scalar_or_list(out, other, indent);
            }
        }
        out.push('\n');
    }
}

fn block(out: &mut String, object: &Map<String, Value>, indent: usize) {
    out.push_str(" {\n");
    body(out, object, indent + 1);
    out.push_str(&"  ".repeat(indent));
    out.push('}');
}

fn scalar_or_list(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("\"\""),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => push_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                scalar_or_list(out, item, indent);
            }
            out.push(']');
        }
        Value::Object(object) => {
            out.push('{');
            out.push('\n');
            body(out, object, indent + 1);
            out.push_str(&"  ".repeat(indent));
            out.push('}');
        }
    }
}

fn push_key(out: &mut String, key: &str) {
    let mut chars = key.chars();
    let bare = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if bare { out.push_str(key) } else { push_string(out, key) }
}

fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
