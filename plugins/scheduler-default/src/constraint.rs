//! Constraints, compiled once per call and checked per node with the
//! semantics of Nomad's `checkConstraint`.

use std::cmp::Ordering;
use std::collections::HashMap;

use keel_sdk::scheduler::{Constraint, Node};
use regex_lite::Regex;

use crate::target::Target;
use crate::version::{self, Flavor, VersionConstraint};

/// What a constraint checks, with everything that can be prepared once.
#[derive(Debug, Clone)]
enum Check {
    Equal,
    NotEqual,
    Order(Ordering, bool),
    Regexp(Pattern<Regex>),
    SetContainsAll,
    SetContainsAny,
    IsSet,
    IsNotSet,
    Version(Flavor, Pattern<VersionConstraint>),
    /// Checked per placement, not per node: see [`CompiledConstraint::distinct_hosts`].
    DistinctHosts(bool),
}

/// A right-hand side prepared once when it is a literal, and per value when
/// it is resolved on each node.
#[derive(Debug, Clone)]
enum Pattern<T> {
    Literal(T),
    PerNode(HashMap<String, Option<T>>),
}

/// One constraint, ready to check nodes.
#[derive(Debug, Clone)]
pub(crate) struct CompiledConstraint {
    /// `ltarget operand rtarget`, as Nomad prints a constraint; the key of
    /// the failure metrics.
    pub(crate) key: String,
    ltarget: Target,
    rtarget: Target,
    check: Check,
}

impl CompiledConstraint {
    /// Compiles one constraint. Fails when the operand is unknown or a
    /// literal right-hand side is not a valid pattern or version range.
    pub(crate) fn compile(constraint: &Constraint) -> Result<Self, String> {
        let key = format!("{} {} {}", constraint.ltarget, constraint.operand, constraint.rtarget);
        let rtarget = Target::parse(&constraint.rtarget);
        let invalid = |why: String| format!("constraint {key:?}: {why}");
        let check = match constraint.operand.as_str() {
            // Nomad's job parser fills in `=` when the operator is left out.
            "" | "=" | "==" | "is" => Check::Equal,
            "!=" | "not" => Check::NotEqual,
            "<" => Check::Order(Ordering::Less, false),
            "<=" => Check::Order(Ordering::Less, true),
            ">" => Check::Order(Ordering::Greater, false),
            ">=" => Check::Order(Ordering::Greater, true),
            "regexp" => Check::Regexp(match &rtarget {
                Target::Literal(pattern) => {
                    Pattern::Literal(Regex::new(pattern).map_err(|e| invalid(format!("invalid regexp: {e}")))?)
                }
                _ => Pattern::PerNode(HashMap::new()),
            }),
            "set_contains" | "set_contains_all" => Check::SetContainsAll,
            "set_contains_any" => Check::SetContainsAny,
            "is_set" => Check::IsSet,
            "is_not_set" => Check::IsNotSet,
            "version" => Check::Version(Flavor::Version, version_pattern(&rtarget, Flavor::Version).map_err(invalid)?),
            "semver" => Check::Version(Flavor::Semver, version_pattern(&rtarget, Flavor::Semver).map_err(invalid)?),
            "distinct_hosts" => Check::DistinctHosts(distinct_hosts_enabled(&constraint.rtarget)),
            other => return Err(invalid(format!("unsupported operand {other:?}"))),
        };
        Ok(Self { key, ltarget: Target::parse(&constraint.ltarget), rtarget, check })
    }

    /// Whether this is an enabled `distinct_hosts` constraint, which the
    /// placement loop checks against the allocations it has planned.
    pub(crate) fn distinct_hosts(&self) -> bool {
        matches!(self.check, Check::DistinctHosts(true))
    }

    /// Whether `node` satisfies the constraint. `distinct_hosts` always
    /// holds here. Takes `&mut self` to remember patterns resolved per node.
    pub(crate) fn holds(&mut self, node: &Node) -> bool {
        let left = self.ltarget.resolve(node);
        let right = self.rtarget.resolve(node);
        match &mut self.check {
            Check::Equal => left.is_some() && left == right,
            Check::NotEqual => left != right,
            Check::Order(order, or_equal) => match (left, right) {
                (Some(l), Some(r)) => {
                    let got = compare(l, r);
                    got == *order || (*or_equal && got == Ordering::Equal)
                }
                _ => false,
            },
            Check::Regexp(pattern) => match (left, right) {
                (Some(l), Some(r)) => prepared(pattern, r, |p| Regex::new(p).ok()).is_some_and(|re| re.is_match(l)),
                _ => false,
            },
            Check::SetContainsAll => match (left, right) {
                (Some(l), Some(r)) => r.split(',').all(|want| set(l).any(|have| have == want.trim())),
                _ => false,
            },
            Check::SetContainsAny => match (left, right) {
                (Some(l), Some(r)) => r.split(',').any(|want| set(l).any(|have| have == want.trim())),
                _ => false,
            },
            Check::IsSet => left.is_some(),
            Check::IsNotSet => left.is_none(),
            Check::Version(flavor, pattern) => match (left, right) {
                (Some(l), Some(r)) => {
                    let flavor = *flavor;
                    let range = prepared(pattern, r, |p| VersionConstraint::parse(p, flavor).ok());
                    match (range, version::parse(l, flavor)) {
                        (Some(range), Some(version)) => range.matches(&version),
                        _ => false,
                    }
                }
                _ => false,
            },
            Check::DistinctHosts(_) => true,
        }
    }
}

/// The items of a comma-separated set, trimmed.
fn set(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim)
}

/// Numbers compare as numbers when both sides are numbers; anything else
/// compares as text, as in Nomad.
fn compare(left: &str, right: &str) -> Ordering {
    if let (Ok(l), Ok(r)) = (left.trim().parse::<i64>(), right.trim().parse::<i64>()) {
        return l.cmp(&r);
    }
    if let (Ok(l), Ok(r)) = (left.trim().parse::<f64>(), right.trim().parse::<f64>())
        && let Some(order) = l.partial_cmp(&r)
    {
        return order;
    }
    left.cmp(right)
}

fn version_pattern(rtarget: &Target, flavor: Flavor) -> Result<Pattern<VersionConstraint>, String> {
    match rtarget {
        Target::Literal(text) => VersionConstraint::parse(text, flavor)
            .map(Pattern::Literal)
            .map_err(|e| format!("invalid version constraint: {e}")),
        _ => Ok(Pattern::PerNode(HashMap::new())),
    }
}

/// The prepared form of a right-hand side: the literal one, or the one
/// prepared for this node's value, prepared once per distinct value.
fn prepared<'p, T>(pattern: &'p mut Pattern<T>, value: &str, prepare: impl FnOnce(&str) -> Option<T>) -> Option<&'p T> {
    match pattern {
        Pattern::Literal(literal) => Some(literal),
        Pattern::PerNode(cache) => cache.entry(value.to_owned()).or_insert_with(|| prepare(value)).as_ref(),
    }
}

/// `distinct_hosts` is on unless its value is a boolean false; like Nomad,
/// an empty or unparsable value keeps it on.
fn distinct_hosts_enabled(rtarget: &str) -> bool {
    !matches!(rtarget, "0" | "f" | "F" | "false" | "FALSE" | "False")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::node;

    fn node_with(attributes: &[(&str, &str)]) -> Node {
        let mut n = node("n1");
        n.attributes = attributes.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        n
    }

    fn check(ltarget: &str, operand: &str, rtarget: &str, n: &Node) -> bool {
        let constraint = Constraint { ltarget: ltarget.into(), operand: operand.into(), rtarget: rtarget.into() };
        CompiledConstraint::compile(&constraint).expect("valid constraint").holds(n)
    }

    #[test]
    fn equality_in_every_spelling() {
        let n = node_with(&[("kernel.name", "linux")]);
        for op in ["=", "==", "is", ""] {
            assert!(check("${attr.kernel.name}", op, "linux", &n), "{op}");
            assert!(!check("${attr.kernel.name}", op, "windows", &n), "{op}");
            assert!(!check("${attr.missing}", op, "linux", &n), "{op}: a missing target never equals");
        }
        assert!(!check("${attr.missing}", "=", "${attr.other}", &n), "two missing targets are not equal");
    }

    #[test]
    fn inequality_in_every_spelling() {
        let n = node_with(&[("kernel.name", "linux")]);
        for op in ["!=", "not"] {
            assert!(check("${attr.kernel.name}", op, "windows", &n), "{op}");
            assert!(!check("${attr.kernel.name}", op, "linux", &n), "{op}");
            assert!(check("${attr.missing}", op, "linux", &n), "{op}: missing differs from a value");
            assert!(!check("${attr.missing}", op, "${meta.missing}", &n), "{op}: missing equals missing");
        }
    }

    #[test]
    fn order_is_numeric_when_both_sides_are_numbers() {
        let n = node_with(&[("cpu.numcores", "8"), ("ratio", "0.75"), ("name", "beta")]);
        assert!(!check("${attr.cpu.numcores}", ">", "10", &n));
        assert!(check("${attr.cpu.numcores}", "<", "10", &n), "8 < 10 numerically though not as text");
        assert!(check("${attr.cpu.numcores}", "<=", "8", &n));
        assert!(check("${attr.cpu.numcores}", ">=", "8", &n));
        assert!(!check("${attr.cpu.numcores}", ">", "8", &n));
        assert!(check("${attr.ratio}", ">", "0.5", &n));
        assert!(check("${attr.ratio}", "<", "1", &n));
        assert!(check("${attr.name}", ">", "alpha", &n), "lexical when not numbers");
        assert!(check("${attr.name}", "<", "gamma", &n));
        assert!(!check("${attr.missing}", "<", "10", &n));
    }

    #[test]
    fn regexp_matches_anywhere_unless_anchored() {
        let n = node_with(&[("os.name", "ubuntu-22.04"), ("pattern", "^ubu")]);
        assert!(check("${attr.os.name}", "regexp", "ubuntu", &n));
        assert!(check("${attr.os.name}", "regexp", "^ubuntu-2[0-9]", &n));
        assert!(!check("${attr.os.name}", "regexp", "^debian", &n));
        assert!(!check("${attr.missing}", "regexp", ".*", &n));
        assert!(check("${attr.os.name}", "regexp", "${attr.pattern}", &n), "patterns may come from the node");
    }

    #[test]
    fn set_contains_needs_every_item_and_any_needs_one() {
        let n = node_with(&[("features", "avx, sse4,aes")]);
        assert!(check("${attr.features}", "set_contains", "aes,avx", &n));
        assert!(check("${attr.features}", "set_contains_all", "sse4", &n));
        assert!(!check("${attr.features}", "set_contains", "aes,neon", &n));
        assert!(check("${attr.features}", "set_contains_any", "neon, aes", &n));
        assert!(!check("${attr.features}", "set_contains_any", "neon,sve", &n));
        assert!(!check("${attr.missing}", "set_contains_any", "aes", &n));
    }

    #[test]
    fn is_set_and_is_not_set_look_only_at_the_left() {
        let n = node_with(&[("driver.docker", "1")]);
        assert!(check("${attr.driver.docker}", "is_set", "", &n));
        assert!(!check("${attr.driver.podman}", "is_set", "", &n));
        assert!(check("${attr.driver.podman}", "is_not_set", "", &n));
        assert!(!check("${attr.driver.docker}", "is_not_set", "", &n));
    }

    #[test]
    fn version_and_semver_ranges() {
        let n = node_with(&[("kernel.version", "5.15.0-91-generic"), ("nomad.version", "1.7.2"), ("odd", "banana")]);
        assert!(check("${attr.nomad.version}", "version", ">= 1.6, < 2.0", &n));
        assert!(!check("${attr.nomad.version}", "version", ">= 1.8", &n));
        assert!(check("${attr.nomad.version}", "version", "~> 1.7.0", &n));
        assert!(check("${attr.nomad.version}", "semver", ">= 1.7.0, < 1.8.0", &n));
        assert!(!check("${attr.kernel.version}", "version", ">= 5.0", &n), "pre-releases stay out of plain ranges");
        assert!(check("${attr.kernel.version}", "semver", ">= 5.0", &n));
        assert!(!check("${attr.odd}", "version", ">= 1.0", &n), "an unparsable version never matches");
        assert!(!check("${attr.missing}", "semver", ">= 1.0", &n));
    }

    #[test]
    fn node_targets_work_on_either_side() {
        let mut n = node("n1");
        n.node_class = "large".into();
        assert!(check("${node.class}", "=", "large", &n));
        assert!(check("dc1", "=", "${node.datacenter}", &n));
        assert!(check("${node.unique.id}", "!=", "n2", &n));
        assert!(check("${node.unique.name}", "regexp", "^n1", &n));
        assert!(check("${node.pool}", "=", "default", &n));
    }

    #[test]
    fn distinct_hosts_holds_per_node_and_knows_whether_it_is_on() {
        let compile = |rtarget: &str| {
            CompiledConstraint::compile(&Constraint {
                ltarget: String::new(),
                operand: "distinct_hosts".into(),
                rtarget: rtarget.into(),
            })
            .expect("valid")
        };
        let mut on = compile("true");
        assert!(on.distinct_hosts() && on.holds(&node("n1")));
        assert!(compile("").distinct_hosts());
        assert!(compile("yes please").distinct_hosts());
        assert!(!compile("false").distinct_hosts());
        assert_eq!(on.key, " distinct_hosts true");
    }

    #[test]
    fn invalid_constraints_are_refused_with_their_key() {
        let compile = |operand: &str, rtarget: &str| {
            CompiledConstraint::compile(&Constraint {
                ltarget: "${attr.a}".into(),
                operand: operand.into(),
                rtarget: rtarget.into(),
            })
        };
        let unknown = compile("near", "x").expect_err("unknown operand");
        assert!(unknown.contains("\"${attr.a} near x\"") && unknown.contains("unsupported operand"), "{unknown}");
        assert!(compile("regexp", "(unclosed").expect_err("bad regexp").contains("invalid regexp"));
        assert!(compile("version", ">= one").expect_err("bad range").contains("invalid version constraint"));
        assert!(compile("semver", "~> 1.0").is_err());
        assert!(compile("regexp", "${attr.pattern}").is_ok(), "per-node patterns are checked per node");
    }

    #[test]
    fn a_bad_pattern_from_a_node_filters_that_node() {
        let n = node_with(&[("name", "x"), ("pattern", "(unclosed")]);
        assert!(!check("${attr.name}", "regexp", "${attr.pattern}", &n));
    }

    #[test]
    fn literal_patterns_are_compiled_once() {
        let constraint = Constraint { ltarget: "${attr.a}".into(), operand: "regexp".into(), rtarget: "^a".into() };
        let compiled = CompiledConstraint::compile(&constraint).expect("valid");
        assert!(matches!(compiled.check, Check::Regexp(Pattern::Literal(_))));
    }
}
