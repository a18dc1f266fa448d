//! The house rule that a function fits on a screen, enforced: no function in
//! `host/` or `plugins/` is longer than [`FUNCTION_MAX_LINES`] lines, counted
//! from the line of its `fn` to the line of its closing brace.
//!
//! Sources are parsed with `syn`, so braces in strings and comments cannot
//! fool the count. Free functions, methods, trait methods with a default body
//! and functions nested in other functions or in modules all count; code
//! inside macro invocations and `macro_rules!` bodies is not seen.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

const FUNCTION_MAX_LINES: usize = 70;

/// The folders the rule covers.
const CHECKED_ROOTS: &[&str] = &["host", "plugins"];

/// A function over the limit.
#[derive(Debug, PartialEq, Eq)]
struct LongFunction {
    name: String,
    first_line: usize,
    lines: usize,
}

/// Collects the functions of one file that are longer than the limit.
struct Finder {
    max_lines: usize,
    found: Vec<LongFunction>,
}

impl Finder {
    fn measure(&mut self, name: &syn::Ident, fn_token: &syn::Token![fn], block: &syn::Block) {
        let first_line = fn_token.span.start().line;
        let last_line = block.brace_token.span.close().end().line;
        let lines = last_line + 1 - first_line;
        if lines > self.max_lines {
            self.found.push(LongFunction { name: name.to_string(), first_line, lines });
        }
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        self.measure(&node.sig.ident, &node.sig.fn_token, &node.block);
        syn::visit::visit_item_fn(self, node);
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        self.measure(&node.sig.ident, &node.sig.fn_token, &node.block);
        syn::visit::visit_impl_item_fn(self, node);
    }

    fn visit_trait_item_fn(&mut self, node: &'ast syn::TraitItemFn) {
        if let Some(block) = &node.default {
            self.measure(&node.sig.ident, &node.sig.fn_token, block);
        }
        syn::visit::visit_trait_item_fn(self, node);
    }
}

/// The functions in `source` longer than `max_lines`, in source order.
fn long_functions(source: &str, max_lines: usize) -> syn::Result<Vec<LongFunction>> {
    let file = syn::parse_file(source)?;
    let mut finder = Finder { max_lines, found: Vec::new() };
    finder.visit_file(&file);
    finder.found.sort_by_key(|function| function.first_line);
    Ok(finder.found)
}

/// Every `.rs` file under `dir`, skipping build output.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|error| panic!("list {}: {error}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|error| panic!("list {}: {error}", dir.display())).path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "target") {
                rust_files(&path, files);
            }
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// One line per long function in the checked, not excluded, sources.
fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for checked in CHECKED_ROOTS {
        rust_files(&root.join(checked), &mut files);
    }
    files.sort();
    let mut violations = Vec::new();
    for path in files {
        let relative = path.strip_prefix(root).expect("the file was found under the root");
        let source = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        let found = long_functions(&source, FUNCTION_MAX_LINES)
            .unwrap_or_else(|error| panic!("parse {}: {error}", relative.display()));
        for function in found {
            let LongFunction { name, first_line, lines } = function;
            violations.push(format!("{}:{first_line} fn {name} is {lines} lines", relative.display()));
        }
    }
    violations
}

#[test]
fn no_function_in_host_or_plugins_is_longer_than_the_limit() {
    let violations = violations(&keel_tests::workspace_root());
    assert!(
        violations.is_empty(),
        "functions longer than {FUNCTION_MAX_LINES} lines; split them into named steps:\n{}",
        violations.join("\n")
    );
}

/// A function spanning exactly `lines` lines whose body is full of braces
/// that are not code.
fn function_of(name: &str, lines: usize) -> String {
    let mut text = format!("fn {name}() {{\n");
    for line in 0..lines - 2 {
        let filler = match line % 3 {
            0 => "    let _ = \"}}}\";\n",
            1 => "    // }\n",
            _ => "    let _ = r#\"{\"#;\n",
        };
        text.push_str(filler);
    }
    text.push_str("}\n");
    text
}

#[test]
fn the_limit_counts_from_fn_to_the_closing_brace() {
    let (fits, too_long) = (FUNCTION_MAX_LINES, FUNCTION_MAX_LINES + 1);
    let source = format!("{}{}", function_of("fits", fits), function_of("too_long", too_long));
    let found = long_functions(&source, FUNCTION_MAX_LINES).expect("parses");
    assert_eq!(found, [LongFunction { name: "too_long".into(), first_line: fits + 1, lines: too_long }]);
}

#[test]
fn methods_trait_defaults_and_nested_functions_are_measured() {
    let too_long = FUNCTION_MAX_LINES + 1;
    let body = function_of("inner", too_long);
    let source = format!(
        "/// Docs and attributes do not count.\n#[cfg(test)]\nmod tests {{\n\
         struct S;\nimpl S {{\n{method}}}\n\
         trait T {{\n    fn declared(&self);\n{default}}}\n\
         fn outer() {{\n{body}}}\n}}\n",
        method = function_of("method", too_long).replace("()", "(&self)"),
        default = function_of("default", too_long).replace("()", "(&self)"),
    );
    let found = long_functions(&source, FUNCTION_MAX_LINES).expect("parses");
    let names: Vec<&str> = found.iter().map(|function| function.name.as_str()).collect();
    assert_eq!(names, ["method", "default", "outer", "inner"]);
}
