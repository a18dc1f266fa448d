use serde_json::{Map, Value, json};

use super::*;

fn value(text: &str) -> Value {
    Value::Object(parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}")).value)
}

fn error(text: &str) -> ParseError {
    parse(text).expect_err(text)
}

#[test]
fn one_line_blocks_take_attributes_separated_by_spaces_or_commas() {
    let expected = json!({ "ports": { "http": 4646, "rpc": 4647, "serf": 4648 } });
    assert_eq!(value("ports { http = 4646  rpc = 4647  serf = 4648 }"), expected);
    assert_eq!(value("ports { http = 4646, rpc = 4647, serf = 4648, }"), expected);
    assert_eq!(value("ports {\n http = 4646\n rpc = 4647\n serf = 4648\n}"), expected);
}

#[test]
fn block_and_object_forms_are_the_same() {
    assert_eq!(value("client { enabled = true }"), value("client = { enabled = true }"));
    assert_eq!(value("a \"b\" c { x = 1 }"), json!({ "a": { "b": { "c": { "x": 1 } } } }));
}

#[test]
fn repeated_blocks_merge_and_repeated_values_are_refused() {
    let text = "plugin \"acl\" { path = \"a.wasm\" }\nplugin \"license\" {\n  config { key = \"k\" }\n}";
    let expected = json!({ "plugin": { "acl": { "path": "a.wasm" }, "license": { "config": { "key": "k" } } } });
    assert_eq!(value(text), expected);
    assert_eq!(value("server { enabled = true }\nserver { bootstrap_expect = 3 }")["server"]["bootstrap_expect"], 3);
    let twice = error("server { enabled = true }\nserver { enabled = false }");
    assert_eq!((twice.line, twice.message.as_str()), (2, "`server.enabled` is given twice"));
}

#[test]
fn lists_numbers_booleans_and_strings() {
    let text = r#"retry_join = ["10.0.0.6", "10.0.0.7",]
        empty = []
        nested = [[1, -2], [3.5, 1e3], { a = "b" }]
        yes = true
        no = false
        quoted = "tab\there \"q\" back\\slash \u00e9 \U0001F600 /"
        "quoted key" = 1"#;
    assert_eq!(
        value(text),
        json!({
            "retry_join": ["10.0.0.6", "10.0.0.7"],
            "empty": [],
            "nested": [[1, -2], [3.5, 1000.0], { "a": "b" }],
            "yes": true,
            "no": false,
            "quoted": "tab\there \"q\" back\\slash \u{e9} \u{1F600} /",
            "quoted key": 1,
        })
    );
    assert_eq!(value("big = 18446744073709551615")["big"], json!(u64::MAX));
}

#[test]
fn comments_of_three_kinds_are_skipped() {
    let text = "# hash\nname = \"a\" // slashes\n/* block\n comment */ region = /* inline */ \"eu\"";
    assert_eq!(value(text), json!({ "name": "a", "region": "eu" }));
}

#[test]
fn heredocs_keep_their_lines() {
    assert_eq!(value("rules = <<EOF\nline one\n  line two\nEOF\n")["rules"], "line one\n  line two\n");
    assert_eq!(value("rules = <<-EOT\n    a\n      b\n    EOT")["rules"], "a\n  b\n");
    assert!(error("rules = <<EOF\nno end\n").message.contains("EOF"));
}

#[test]
fn errors_name_line_and_column() {
    let e = error("name = \"a\"\nports { http = }");
    assert_eq!((e.line, e.column), (2, 16), "{e}");
    assert_eq!(e.to_string(), "parse hcl: line 2, column 16: expected a value, found `}`");
    assert_eq!(error("server {\n enabled = true\n").message, "unclosed `{`");
    assert_eq!(error("x = \"open\n\"").message, "unterminated string");
    assert_eq!(error("x = nope").message, "expected a value, found `nope`");
    assert_eq!(error("/* open").message, "unterminated `/*` comment");
    assert!(error(&format!("a = {}", "[".repeat(100))).message.contains("nested deeper"));
    assert!(error(&"a {".repeat(100)).message.contains("nested deeper"));
}

#[test]
fn key_positions_point_at_each_key() {
    let document = parse("server {\n  enabled = true\n  bootstrap = 1\n}").expect("parses");
    let position = document.position_of("bootstrap").expect("recorded");
    assert_eq!((position.path.as_str(), position.line, position.column), ("server.bootstrap", 3, 3));
}

#[test]
fn merge_replaces_scalars_and_merges_blocks() {
    let mut base = json!({ "name": "a", "server": { "enabled": true, "retry_join": ["x"] }, "plugin": { "acl": {} } });
    merge(&mut base, json!({ "name": "b", "server": { "retry_join": ["y"] }, "plugin": { "license": {} } }));
    let expected = json!({ "name": "b", "server": { "enabled": true, "retry_join": ["y"] }, "plugin": { "acl": {}, "license": {} } });
    assert_eq!(base, expected);
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn text(&mut self) -> String {
        const CHARS: &[char] = &[
            'a', 'Z', '_', '-', '.', '0', ' ', '"', '\\', '\n', '\t', '#', '/', '*', '{', '}', '=', 'é', '😀', '\u{1}',
            '$',
        ];
        (0..self.below(8)).map(|_| CHARS[self.below(CHARS.len() as u64) as usize]).collect()
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Bool(self.below(2) == 0),
            1 => json!(self.next() as i64),
            2 => json!(self.next() >> 11),
            3 => serde_json::Number::from_f64(f64::from_bits(self.next())).map_or(Value::Bool(true), Value::Number),
            4 => Value::String(self.text()),
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object(self.object(depth + 1)),
        }
    }

    fn object(&mut self, depth: u32) -> Map<String, Value> {
        (0..self.below(5)).map(|_| (self.text(), self.value(depth))).collect()
    }
}

#[test]
fn printing_then_parsing_round_trips() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for round in 0..2_000 {
        let object = random.object(0);
        let text = to_string(&object);
        let parsed = parse(&text).unwrap_or_else(|e| panic!("round {round}: {e}\n{text}"));
        assert_eq!(parsed.value, object, "round {round}:\n{text}");
    }
}

#[test]
fn mangled_input_is_refused_or_read_but_never_panics() {
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let seeds = [
        "ports { http = 4646  rpc = 4647 }",
        "plugin \"a\" { config { k = \"v\" } }\nlist = [1, 2.5, \"x\", { y = true }]",
        "h = <<-EOF\n  text\n  EOF\n# c\n/* d */ x = -1e5",
    ];
    for round in 0..5_000 {
        let mut chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..=random.below(4) {
            let at = random.below(chars.len() as u64 + 1) as usize;
            match random.below(3) {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => chars.insert(at, random.text().chars().next().unwrap_or('"')),
                _ => chars.truncate(at),
            }
        }
        let text: String = chars.into_iter().collect();
        if let Ok(document) = parse(&text) {
            let again = parse(&to_string(&document.value)).expect("a printed document parses");
            assert_eq!(again.value, document.value, "{text:?}");
        }
    }
}
