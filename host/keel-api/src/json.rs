//! Reading a JSON request body into a wire type the way Go's
//! `encoding/json` would accept it.
//!
//! serde's derived `Deserialize` for a struct also accepts a JSON array and
//! fills the fields in order, so `[]` would decode as "every field at its
//! default" — a whole configuration reset by a body Go refuses. [`from_slice`]
//! reads structs only from JSON objects, at any depth, and refuses a body
//! nested deeper than [`DEPTH_MAX`] before decoding starts, with one linear
//! pass that does not recurse.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Unexpected, Visitor};

/// The deepest nesting of objects and arrays a body may have; real bodies
/// stay below five.
pub const DEPTH_MAX: usize = 64;

/// Why a body was refused.
#[derive(Debug)]
pub enum JsonError {
    /// The body is valid JSON of another kind than an object: Go's name for
    /// that kind (`array`, `string`, `number`, `bool`, `null`).
    NotAnObject(&'static str),
    /// Objects and arrays are nested deeper than [`DEPTH_MAX`].
    TooDeep,
    /// serde_json's reason, from syntax to a wrong type inside the object.
    Decode(serde_json::Error),
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::NotAnObject(kind) => write!(f, "json: cannot unmarshal {kind} into an object"),
            JsonError::TooDeep => write!(f, "json: exceeded max depth of {DEPTH_MAX}"),
            JsonError::Decode(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for JsonError {}

/// Decodes `body`, which must be one JSON object, into `T`; a struct
/// anywhere inside it must be an object too.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonError> {
    // An array gets Go's wording; other kinds get serde's, which names the
    // value as well.
    if let Some(kind) = top_level_kind(body).filter(|kind| *kind == "array") {
        return Err(JsonError::NotAnObject(kind));
    }
    if depth_exceeds(body, DEPTH_MAX) {
        return Err(JsonError::TooDeep);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(Strict(&mut deserializer)).map_err(JsonError::Decode)?;
    deserializer.end().map_err(JsonError::Decode)?;
    Ok(value)
}

/// Go's name for the kind of value `body` starts with; `None` when it starts
/// with nothing JSON knows, which the decoder then reports as a syntax error.
fn top_level_kind(body: &[u8]) -> Option<&'static str> {
    let first = body.iter().find(|byte| !matches!(byte, b' ' | b'\t' | b'\r' | b'\n'))?;
    Some(match first {
        b'{' => "object",
        b'[' => "array",
        b'"' => "string",
        b't' | b'f' => "bool",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "number",
        _ => return None,
    })
}

/// Whether objects and arrays nest deeper than `max` anywhere in `body`,
/// brackets inside strings aside. One pass, constant memory.
fn depth_exceeds(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// A deserializer that hands every struct visitor only maps: it wraps each
/// visitor, and everything a visitor is given to read further, so the rule
/// holds at every depth.
struct Strict<D>(D);

/// A visitor that passes everything on, except a sequence where a struct was
/// asked for.
struct Guard<V> {
    inner: V,
    struct_expected: bool,
}

impl<V> Guard<V> {
    fn any(inner: V) -> Self {
        Guard { inner, struct_expected: false }
    }

    fn structure(inner: V) -> Self {
        Guard { inner, struct_expected: true }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Guard::any(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Guard::any(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Guard::any(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Guard::any(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Guard::any(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, Guard::structure(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Guard::any(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident($type:ty))*) => {$(
        fn $method<E: de::Error>(self, value: $type) -> Result<V::Value, E> {
            self.inner.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Guard<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64) visit_i128(i128)
        visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64) visit_u128(u128) visit_f32(f32)
        visit_f64(f64) visit_char(char) visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Strict(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Strict(deserializer))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.struct_expected {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        self.inner.visit_seq(StrictAccess(seq))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(StrictAccess(map))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(StrictAccess(data))
    }
}

/// A seed whose value is read through [`Strict`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(deserializer))
    }
}

/// A sequence, map, enum or variant whose parts are read through [`Strict`].
struct StrictAccess<A>(A);

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for StrictAccess<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for StrictAccess<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for StrictAccess<A> {
    type Error = A::Error;
    type Variant = StrictAccess<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0.variant_seed(Seed(seed)).map(|(value, variant)| (value, StrictAccess(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for StrictAccess<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Guard::any(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Guard::structure(visitor))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::operator::{AutopilotConfiguration, SchedulerConfiguration};

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        a: u32,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        inner: Option<Inner>,
        list: Vec<Inner>,
        pair: (u8, u8),
    }

    #[test]
    fn structs_come_only_from_objects() {
        for (body, kind) in [("[]", "array"), (" [false]", "array")] {
            let error = from_slice::<SchedulerConfiguration>(body.as_bytes()).expect_err(body);
            assert!(matches!(error, JsonError::NotAnObject(k) if k == kind), "{body}: {error}");
        }
        for body in ["null", "\"x\"", "7", "true"] {
            assert!(from_slice::<AutopilotConfiguration>(body.as_bytes()).is_err(), "{body}");
        }
        let nested = br#"{"SchedulerAlgorithm": "spread", "PreemptionConfig": [true, true, true, true]}"#;
        let error = from_slice::<SchedulerConfiguration>(nested).expect_err("a struct from an array");
        assert!(error.to_string().starts_with("invalid type: sequence, expected struct PreemptionConfig"), "{error}");
        let error = from_slice::<Outer>(br#"{"inner": [1], "list": [], "pair": [1, 2]}"#).expect_err("inside Some");
        assert!(error.to_string().contains("expected struct Inner"), "{error}");
        let error = from_slice::<Outer>(br#"{"inner": null, "list": [[1]], "pair": [1, 2]}"#).expect_err("in a Vec");
        assert!(error.to_string().contains("expected struct Inner"), "{error}");
    }

    #[test]
    fn sequences_and_tuples_still_read_arrays() {
        let outer: Outer = from_slice(br#"{"inner": {"a": 1}, "list": [{"a": 2}], "pair": [3, 4]}"#).expect("valid");
        assert_eq!(outer, Outer { inner: Some(Inner { a: 1 }), list: vec![Inner { a: 2 }], pair: (3, 4) });
        let config: SchedulerConfiguration =
            from_slice(br#"{"SchedulerAlgorithm": "spread", "PreemptionConfig": {"BatchSchedulerEnabled": true}}"#)
                .expect("valid");
        assert_eq!(config.scheduler_algorithm, "spread");
        assert!(config.preemption_config.batch_scheduler_enabled);
    }

    #[test]
    fn depth_is_bounded_without_recursion() {
        let nested = |levels: usize| format!("{}{{}}{}", "{\"x\":".repeat(levels - 1), "}".repeat(levels - 1));
        assert!(from_slice::<AutopilotConfiguration>(nested(DEPTH_MAX).as_bytes()).is_ok());
        assert!(matches!(
            from_slice::<AutopilotConfiguration>(nested(DEPTH_MAX + 1).as_bytes()),
            Err(JsonError::TooDeep)
        ));
        // Deep enough to overflow the stack if the check recursed.
        assert!(matches!(from_slice::<AutopilotConfiguration>(nested(1_000_000).as_bytes()), Err(JsonError::TooDeep)));
        let arrays = format!("{{\"x\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(from_slice::<AutopilotConfiguration>(arrays.as_bytes()), Err(JsonError::TooDeep)));
        let quoted = format!("{{\"x\": \"{}\\\"{}\"}}", "[".repeat(1_000), "{".repeat(1_000));
        assert!(from_slice::<AutopilotConfiguration>(quoted.as_bytes()).is_ok(), "brackets in strings do not count");
    }

    #[test]
    fn syntax_errors_and_trailing_data_are_errors() {
        for body in ["", "{", "{} {}", "{\"MaxTrailingLogs\": \"x\"}", "\u{feff}{}"] {
            assert!(from_slice::<AutopilotConfiguration>(body.as_bytes()).is_err(), "{body:?}");
        }
    }
}
