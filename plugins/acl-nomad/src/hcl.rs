//! A parser for the part of HCL that ACL policies are written in.
//!
//! The grammar, after comments and whitespace are dropped:
//!
//! ```text
//! body  = { item [","] }
//! item  = NAME "=" value
//!       | NAME { STRING } "{" body "}"
//!       | NAME "=" "{" body "}"
//! value = STRING | NUMBER | "true" | "false" | "[" [ scalar { "," scalar } [","] ] "]"
//! ```
//!
//! That is HCL 1 as Nomad reads policies, minus heredocs, bare-word labels and
//! nested lists, which no policy needs. Anything else is an error with a
//! line and column, never a panic. Nesting is limited to [`MAX_DEPTH`]
//! blocks, far more than the three levels policies use, so that hostile
//! input cannot exhaust the stack.

mod lexer;

use self::lexer::{Token, tokenize};
use crate::document::{Attribute, Block, Item, Value, ValueKind};
use crate::error::{Pos, RuleError};

/// The deepest block nesting accepted (`namespace { variables { path {} } }` is 3).
pub const MAX_DEPTH: usize = 16;

/// Parses an HCL document into its items.
pub fn parse(text: &str) -> Result<Vec<Item>, RuleError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, next: 0 };
    parser.body(0, None)
}

struct Parser {
    /// Always ends with `Token::Eof`, which `bump` never moves past.
    tokens: Vec<(Token, Pos)>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.next).map_or(&Token::Eof, |(token, _)| token)
    }

    fn bump(&mut self) -> (Token, Pos) {
        match self.tokens.get(self.next) {
            Some((token, at)) => {
                if *token != Token::Eof {
                    self.next += 1;
                }
                (token.clone(), *at)
            }
            None => (Token::Eof, Pos { line: 1, column: 1 }),
        }
    }

    /// Parses items until the end of the document (`opened` is `None`) or
    /// until the `}` that closes the block opened at `opened`.
    fn body(&mut self, depth: usize, opened: Option<Pos>) -> Result<Vec<Item>, RuleError> {
        let mut items = Vec::new();
        loop {
            let (token, at) = self.bump();
            match token {
                Token::Eof => {
                    return match opened {
                        Some(opened) => {
                            Err(RuleError::new(Some(at), format!("block opened at {opened} is not closed")))
                        }
                        None => Ok(items),
                    };
                }
                Token::RBrace if opened.is_some() => return Ok(items),
                Token::Ident(name) => items.push(self.item(name, at, depth)?),
                other => {
                    return Err(RuleError::new(
                        Some(at),
                        format!("expected an attribute or block name, found {}", other.describe()),
                    ));
                }
            }
            // HCL 1 allows a comma after an item.
            if *self.peek() == Token::Comma {
                self.bump();
            }
        }
    }

    fn item(&mut self, name: String, at: Pos, depth: usize) -> Result<Item, RuleError> {
        let (token, token_at) = self.bump();
        let mut labels = match token {
            Token::Equals if *self.peek() == Token::LBrace => {
                let (_, brace_at) = self.bump();
                return self.block(name, Vec::new(), at, brace_at, depth);
            }
            Token::Equals => {
                let value = self.value(&name)?;
                return Ok(Item::Attribute(Attribute { name, value, at: Some(at) }));
            }
            Token::LBrace => return self.block(name, Vec::new(), at, token_at, depth),
            Token::Str(label) => vec![label],
            other => {
                return Err(RuleError::new(
                    Some(token_at),
                    format!("expected '=' or '{{' after {name}, found {}", other.describe()),
                ));
            }
        };
        loop {
            match self.bump() {
                (Token::Str(label), _) => labels.push(label),
                (Token::LBrace, brace_at) => return self.block(name, labels, at, brace_at, depth),
                (other, other_at) => {
                    return Err(RuleError::new(
                        Some(other_at),
                        format!("expected '{{' after the label of {name}, found {}", other.describe()),
                    ));
                }
            }
        }
    }

    fn block(
        &mut self,
        name: String,
        labels: Vec<String>,
        at: Pos,
        brace_at: Pos,
        depth: usize,
    ) -> Result<Item, RuleError> {
        if depth >= MAX_DEPTH {
            return Err(RuleError::new(Some(at), format!("blocks are nested more than {MAX_DEPTH} deep")));
        }
        let body = self.body(depth + 1, Some(brace_at))?;
        Ok(Item::Block(Block { name, labels, body, at: Some(at) }))
    }

    fn value(&mut self, name: &str) -> Result<Value, RuleError> {
        let (token, at) = self.bump();
        match token {
            Token::LBracket => self.list(at),
            token => scalar(token, at)
                .map_err(|found| RuleError::new(Some(at), format!("expected a value for {name}, found {found}"))),
        }
    }

    /// Parses the rest of a list whose `[` was at `opened`.
    fn list(&mut self, opened: Pos) -> Result<Value, RuleError> {
        let mut elements = Vec::new();
        loop {
            let (token, at) = self.bump();
            match token {
                Token::RBracket => break,
                Token::Eof => return Err(RuleError::new(Some(at), format!("list opened at {opened} is not closed"))),
                Token::LBracket => return Err(RuleError::new(Some(at), "lists inside lists are not supported")),
                token => elements
                    .push(scalar(token, at).map_err(|found| {
                        RuleError::new(Some(at), format!("expected a list element, found {found}"))
                    })?),
            }
            match self.bump() {
                (Token::Comma, _) => {}
                (Token::RBracket, _) => break,
                (other, other_at) => {
                    return Err(RuleError::new(
                        Some(other_at),
                        format!("expected ',' or ']' in list, found {}", other.describe()),
                    ));
                }
            }
        }
        Ok(Value { kind: ValueKind::List(elements), at: Some(opened) })
    }
}

/// A string, number or bool; any other token comes back described.
fn scalar(token: Token, at: Pos) -> Result<Value, String> {
    let kind = match token {
        Token::Str(text) => ValueKind::Str(text),
        Token::Number(text) => ValueKind::Number(text),
        Token::Ident(word) if word == "true" => ValueKind::Bool(true),
        Token::Ident(word) if word == "false" => ValueKind::Bool(false),
        Token::Ident(word) => return Err(format!("name {word} (strings need double quotes)")),
        other => return Err(other.describe()),
    };
    Ok(Value { kind, at: Some(at) })
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

    fn attribute(item: &Item) -> &Attribute {
        match item {
            Item::Attribute(attribute) => attribute,
            Item::Block(block) => panic!("expected an attribute, found {block:?}"),
        }
    }

    fn strings(value: &Value) -> Vec<&str> {
        match &value.kind {
            ValueKind::List(elements) => elements
                .iter()
                .map(|element| match &element.kind {
                    ValueKind::Str(text) => text.as_str(),
                    other => panic!("expected a string, found {other:?}"),
                })
                .collect(),
            other => panic!("expected a list, found {other:?}"),
        }
    }

    #[test]
    fn a_labelled_block_with_attributes() {
        let items = ok(r#"
            namespace "prod-*" {
              policy       = "read"
              capabilities = ["submit-job", "read-logs",]
            }
        "#);
        assert_eq!(items.len(), 1);
        let namespace = block(&items[0]);
        assert_eq!(namespace.name, "namespace");
        assert_eq!(namespace.labels, ["prod-*"]);
        assert_eq!(namespace.at, Some(Pos { line: 2, column: 13 }));
        let policy = attribute(&namespace.body[0]);
        assert_eq!(policy.name, "policy");
        assert_eq!(policy.value.kind, ValueKind::Str("read".into()));
        assert_eq!(policy.value.at, Some(Pos { line: 3, column: 30 }));
        assert_eq!(strings(&attribute(&namespace.body[1]).value), ["submit-job", "read-logs"]);
    }

    #[test]
    fn blocks_without_labels_and_nested_blocks() {
        let items = ok(r#"
            agent { policy = "read" }
            namespace "default" {
              variables {
                path "nomad/jobs/*" { capabilities = ["read"] }
              }
            }
        "#);
        assert_eq!(items.len(), 2);
        let agent = block(&items[0]);
        assert!(agent.labels.is_empty());
        assert_eq!(attribute(&agent.body[0]).value.kind, ValueKind::Str("read".into()));
        let variables = block(&block(&items[1]).body[0]);
        assert_eq!(variables.name, "variables");
        let path = block(&variables.body[0]);
        assert_eq!(path.labels, ["nomad/jobs/*"]);
        assert_eq!(strings(&attribute(&path.body[0]).value), ["read"]);
    }

    #[test]
    fn hcl1_forms_items_on_one_line_commas_and_object_assignment() {
        let items = ok(r#"node = { policy = "write", } operator { policy = "read" capabilities = [] }, quota {}"#);
        let names: Vec<_> = items.iter().map(|item| block(item).name.as_str()).collect();
        assert_eq!(names, ["node", "operator", "quota"]);
        assert_eq!(block(&items[1]).body.len(), 2);
        assert!(block(&items[2]).body.is_empty());
    }

    #[test]
    fn scalar_values() {
        let items = ok("a = true\nb = false\nc = 12\nd = [1, true, \"x\"]\ne = []");
        let kinds: Vec<_> = items.iter().map(|item| attribute(item).value.kind.clone()).collect();
        assert_eq!(kinds[0], ValueKind::Bool(true));
        assert_eq!(kinds[1], ValueKind::Bool(false));
        assert_eq!(kinds[2], ValueKind::Number("12".into()));
        let ValueKind::List(elements) = &kinds[3] else { panic!("d is a list") };
        assert_eq!(elements.len(), 3);
        assert_eq!(elements[1].kind, ValueKind::Bool(true));
        assert_eq!(kinds[4], ValueKind::List(Vec::new()));
    }

    #[test]
    fn several_labels_are_kept_for_the_rules_to_reject() {
        let items = ok(r#"namespace "a" "b" {}"#);
        assert_eq!(block(&items[0]).labels, ["a", "b"]);
    }

    #[test]
    fn empty_and_comment_only_documents_have_no_items() {
        assert!(ok("").is_empty());
        assert!(ok("  # nothing\n// here\n/* at all */").is_empty());
    }

    #[test]
    fn syntax_errors_say_where_and_what() {
        assert_eq!(error("agent {\n  policy = \"read\"\n"), "3:1: block opened at 1:7 is not closed");
        assert_eq!(error("agent { policy = \"read\" }\n}"), "2:1: expected an attribute or block name, found '}'");
        assert_eq!(error("agent { policy \"read\" }"), "1:23: expected '{' after the label of policy, found '}'");
        assert_eq!(error("agent { policy }"), "1:16: expected '=' or '{' after policy, found '}'");
        assert_eq!(
            error("agent { policy = read }"),
            "1:18: expected a value for policy, found name read (strings need double quotes)"
        );
        assert_eq!(error("agent { policy = }"), "1:18: expected a value for policy, found '}'");
        assert_eq!(error("namespace prod { }"), "1:11: expected '=' or '{' after namespace, found name prod");
        assert_eq!(error("\"agent\" { }"), "1:1: expected an attribute or block name, found string \"agent\"");
        assert_eq!(error("x = [\"a\" \"b\"]"), "1:10: expected ',' or ']' in list, found string \"b\"");
        assert_eq!(error("x = [\"a\",\n"), "2:1: list opened at 1:5 is not closed");
        assert_eq!(error("x = [[\"a\"]]"), "1:6: lists inside lists are not supported");
        assert_eq!(error("x = [{}]"), "1:6: expected a list element, found '{'");
        assert_eq!(error("= \"read\""), "1:1: expected an attribute or block name, found '='");
    }

    #[test]
    fn nesting_is_limited() {
        let deep = "a {".repeat(MAX_DEPTH + 1) + &"}".repeat(MAX_DEPTH + 1);
        assert_eq!(error(&deep), format!("1:{}: blocks are nested more than {MAX_DEPTH} deep", 3 * MAX_DEPTH + 1));
        let allowed = "a {".repeat(MAX_DEPTH) + &"}".repeat(MAX_DEPTH);
        assert_eq!(ok(&allowed).len(), 1);
        let hostile = "a {".repeat(100_000);
        assert!(error(&hostile).contains("nested more than"));
    }

    #[test]
    fn no_prefix_of_a_policy_makes_the_parser_panic() {
        let text = "namespace \"p*\" { policy = \"read\" capabilities = [\"a\", \"b\"] variables { path \"x\" { \
                    capabilities = [\"read\"] } } } /* c */ agent = { policy = \"\\u00e9\" } # end";
        for (end, _) in text.char_indices() {
            let _ = parse(&text[..end]);
        }
        for garbage in ["{", "}", "]", "[", "=", ",", "a", "a =", "a = [", "a \"", "a \"b\"", "\u{0}", "a = -", "😀"]
        {
            let _ = parse(garbage);
        }
    }
}
