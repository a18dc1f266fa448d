//! Reads JSON rule documents into the same tree as HCL ones.
//!
//! The shape is the one HCL 1 gives JSON, which Nomad accepts:
//! `{"namespace": {"default": {"policy": "read"}}, "agent": {"policy": "read"}}`.
//! An object is a block; under `namespace`, `node_pool`, `host_volume` and
//! `path` its keys are labels. A list of objects stands for several blocks.
//!
//! serde_json's own `Value` keeps only the last of duplicate keys, which
//! would let `{"prod": {"policy": "deny"}, "prod": {"policy": "write"}}`
//! read as a grant. The document is therefore read with a visitor that
//! keeps every key in order, and duplicates reach the rules like repeated
//! HCL blocks do: merged, with deny winning.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::document::{Attribute, Block, Item, Value, ValueKind};
use crate::error::RuleError;

/// Parses a JSON document into its items.
pub fn parse(text: &str) -> Result<Vec<Item>, RuleError> {
    let json: Json =
        serde_json::from_str(text).map_err(|error| RuleError::new(None, format!("invalid JSON: {error}")))?;
    match json {
        Json::Object(members) => body(members),
        other => Err(RuleError::new(None, format!("JSON rules must be an object, found {}", other.describe()))),
    }
}

/// Block names whose JSON object is keyed by label.
fn takes_label(name: &str) -> bool {
    matches!(name, "namespace" | "node_pool" | "host_volume" | "path")
}

fn body(members: Vec<(String, Json)>) -> Result<Vec<Item>, RuleError> {
    let mut items = Vec::new();
    for (name, json) in members {
        match json {
            Json::Object(members) => blocks(&name, members, &mut items)?,
            Json::Array(elements) if !elements.is_empty() && elements.iter().all(Json::is_object) => {
                for element in elements {
                    if let Json::Object(members) = element {
                        blocks(&name, members, &mut items)?;
                    }
                }
            }
            json => {
                let value = value(&name, json)?;
                items.push(Item::Attribute(Attribute { name, value, at: None }));
            }
        }
    }
    Ok(items)
}

/// Adds the block or blocks that the object `members` under `name` stands for.
fn blocks(name: &str, members: Vec<(String, Json)>, items: &mut Vec<Item>) -> Result<(), RuleError> {
    if !takes_label(name) {
        items.push(Item::Block(Block { name: name.to_owned(), labels: Vec::new(), body: body(members)?, at: None }));
        return Ok(());
    }
    for (label, json) in members {
        let bodies = match json {
            Json::Object(members) => vec![members],
            Json::Array(elements) if elements.iter().all(Json::is_object) => elements
                .into_iter()
                .filter_map(|element| match element {
                    Json::Object(members) => Some(members),
                    _ => None,
                })
                .collect(),
            other => {
                return Err(RuleError::new(
                    None,
                    format!("{name} {label:?} must be an object of rules, found {}", other.describe()),
                ));
            }
        };
        for members in bodies {
            let labels = vec![label.clone()];
            items.push(Item::Block(Block { name: name.to_owned(), labels, body: body(members)?, at: None }));
        }
    }
    Ok(())
}

fn value(name: &str, json: Json) -> Result<Value, RuleError> {
    let kind = match json {
        Json::Array(elements) => ValueKind::List(
            elements
                .into_iter()
                .map(|element| match scalar(element) {
                    Ok(kind) => Ok(Value { kind, at: None }),
                    Err(found) => Err(RuleError::new(
                        None,
                        format!("{name} must be a list of strings, found a list holding {found}"),
                    )),
                })
                .collect::<Result<_, _>>()?,
        ),
        json => scalar(json).map_err(|found| RuleError::new(None, format!("unexpected {found} for {name}")))?,
    };
    Ok(Value { kind, at: None })
}

/// A string, number, bool or null; anything else comes back described.
fn scalar(json: Json) -> Result<ValueKind, &'static str> {
    match json {
        Json::Null => Ok(ValueKind::Null),
        Json::Bool(value) => Ok(ValueKind::Bool(value)),
        Json::Number(text) => Ok(ValueKind::Number(text)),
        Json::Str(text) => Ok(ValueKind::Str(text)),
        other => Err(other.describe()),
    }
}

/// A JSON value that keeps every member of an object, in order.
#[derive(Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    fn describe(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a bool",
            Json::Number(_) => "a number",
            Json::Str(_) => "a string",
            Json::Array(_) => "a list",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
        Ok(Json::Number(value.to_string()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::Str(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut elements = Vec::new();
        while let Some(element) = seq.next_element()? {
            elements.push(element);
        }
        Ok(Json::Array(elements))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry::<String, Json>()? {
            members.push(member);
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<Item> {
        crate::document::testing::ok(parse, text)
    }

    fn error(text: &str) -> String {
        crate::document::testing::error(parse, text)
    }

    use crate::document::testing::block;

    fn string(value: &str) -> Value {
        Value { kind: ValueKind::Str(value.to_owned()), at: None }
    }

    #[test]
    fn labelled_and_plain_blocks() {
        let items = ok(r#"{
            "namespace": {"default": {"policy": "read", "capabilities": ["submit-job"]}},
            "agent": {"policy": "write"}
        }"#);
        assert_eq!(items.len(), 2);
        let namespace = block(&items[0]);
        assert_eq!((namespace.name.as_str(), namespace.labels.as_slice()), ("namespace", &["default".to_owned()][..]));
        assert_eq!(
            namespace.body,
            [
                Item::Attribute(Attribute { name: "policy".into(), value: string("read"), at: None }),
                Item::Attribute(Attribute {
                    name: "capabilities".into(),
                    value: Value { kind: ValueKind::List(vec![string("submit-job")]), at: None },
                    at: None,
                }),
            ]
        );
        let agent = block(&items[1]);
        assert!(agent.labels.is_empty());
    }

    #[test]
    fn lists_of_objects_are_several_blocks() {
        let items = ok(r#"{
            "namespace": [{"a": {"policy": "read"}}, {"b": [{"policy": "write"}, {"policy": "deny"}]}],
            "variables_holder": {"x": 1}
        }"#);
        let labels: Vec<_> = items.iter().map(|item| block(item).labels.clone()).collect();
        assert_eq!(labels, [vec!["a".to_owned()], vec!["b".to_owned()], vec!["b".to_owned()], vec![]]);
    }

    #[test]
    fn duplicate_keys_are_all_kept() {
        let items = ok(r#"{"namespace": {"prod": {"policy": "deny"}, "prod": {"policy": "write"}}}"#);
        assert_eq!(items.len(), 2);
        assert_eq!(
            block(&items[0]).body[0],
            Item::Attribute(Attribute { name: "policy".into(), value: string("deny"), at: None })
        );
    }

    #[test]
    fn nested_variables_paths_take_labels() {
        let items = ok(r#"{"namespace": {"dev": {"variables": {"path": {"nomad/*": {"capabilities": ["read"]}}}}}}"#);
        let variables = block(&block(&items[0]).body[0]);
        assert_eq!(variables.name, "variables");
        assert!(variables.labels.is_empty());
        let path = block(&variables.body[0]);
        assert_eq!((path.name.as_str(), path.labels[0].as_str()), ("path", "nomad/*"));
    }

    #[test]
    fn scalars_other_than_strings_are_kept_for_the_rules_to_reject() {
        let items = ok(r#"{"agent": {"policy": 3, "extra": null, "flag": true}}"#);
        let kinds: Vec<_> = block(&items[0])
            .body
            .iter()
            .map(|item| match item {
                Item::Attribute(attribute) => attribute.value.kind.clone(),
                Item::Block(block) => panic!("unexpected block {block:?}"),
            })
            .collect();
        assert_eq!(kinds, [ValueKind::Number("3".into()), ValueKind::Null, ValueKind::Bool(true)]);
    }

    #[test]
    fn shape_and_syntax_errors() {
        assert_eq!(error("[1]"), "JSON rules must be an object, found a list");
        assert_eq!(
            error(r#"{"namespace": {"prod": "read"}}"#),
            "namespace \"prod\" must be an object of rules, found a string"
        );
        assert_eq!(
            error(r#"{"namespace": {"policy": ["read"]}}"#),
            "namespace \"policy\" must be an object of rules, found a list"
        );
        assert_eq!(
            error(r#"{"agent": {"capabilities": [["a"]]}}"#),
            "capabilities must be a list of strings, found a list holding a list"
        );
        assert_eq!(error(r#"{"agent": {"policy": "read",}}"#), "invalid JSON: trailing comma at line 1 column 29");
        assert!(error("{\n\"agent\": ").starts_with("invalid JSON: EOF while parsing a value at line 2"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
        assert!(error(&deep).starts_with("invalid JSON: recursion limit exceeded"));
    }
}
