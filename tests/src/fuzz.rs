//! A mutation fuzzer for the decoders of untrusted input, on stable Rust.
//!
//! Each target is a function from bytes to a short description of what it
//! made of them (`"ok"`, or the kind of error). The fuzzer starts from the
//! target's checked-in seed corpus (`tests/corpus/<target>/`), mutates
//! inputs (bit flips, interesting bytes, inserts and deletes, repeated
//! ranges, splices of two inputs, tokens from a dictionary), and keeps in
//! its working corpus every input that produced an outcome not seen before,
//! a coarse stand-in for coverage. A panic is a finding: the input is
//! written to `target/fuzz-findings/<target>/` and the run reports it.
//!
//! `t70_fuzz` runs every target for `FUZZ_SECONDS` (2 by default, in
//! `make test`); `make fuzz` runs them longer.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Inputs never grow past this many bytes.
const INPUT_MAX_BYTES: usize = 64 * 1024;

/// The working corpus stops growing here, so that later inputs still come
/// from the seeds and the early finds as often as from the late ones.
const CORPUS_MAX: usize = 4_096;

/// Bytes that sit on the edges of signed and unsigned ranges.
const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, b'0', b'9'];

/// What one target's run did.
#[derive(Debug)]
pub struct Report {
    pub target: String,
    pub executions: u64,
    pub seeds: usize,
    /// Inputs kept for a new outcome, seeds included.
    pub corpus: usize,
    pub outcomes: usize,
    /// Where each panicking input was written, with the panic message.
    pub findings: Vec<(PathBuf, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} executions, {} seeds, corpus {}, {} distinct outcomes, {} findings",
            self.target,
            self.executions,
            self.seeds,
            self.corpus,
            self.outcomes,
            self.findings.len()
        )
    }
}

/// How long each target runs: `FUZZ_SECONDS`, else 2 seconds.
pub fn duration() -> Duration {
    let seconds = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    Duration::from_secs(seconds)
}

/// The checked-in seeds of `target`, in name order.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = crate::workspace_root().join("tests/corpus").join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| Some(entry.ok()?.path()))
        .collect();
    paths.sort();
    paths.iter().map(|path| std::fs::read(path).expect("a seed file")).collect()
}

/// Fuzzes `run` for `duration`, starting from `target`'s seeds, with the
/// byte strings of `dictionary` as tokens to insert.
pub fn fuzz(target: &str, dictionary: &[&[u8]], duration: Duration, run: impl Fn(&[u8]) -> String) -> Report {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "{target} has no seeds");
    let mut rng = StdRng::seed_from_u64(u64::from_le_bytes(*b"keelfuzz"));
    let mut corpus = seeds.clone();
    let mut outcomes = BTreeSet::new();
    let mut findings = Vec::new();
    let mut executions = 0;
    let mut execute = |input: &[u8], outcomes: &mut BTreeSet<String>, findings: &mut Vec<(PathBuf, String)>| {
        executions += 1;
        match catch_unwind(AssertUnwindSafe(|| run(input))) {
            Ok(outcome) => outcomes.insert(outcome),
            Err(panic) => {
                findings.push((save_finding(target, input), panic_message(&panic)));
                false
            }
        }
    };
    for seed in &seeds {
        execute(seed, &mut outcomes, &mut findings);
    }
    let started = Instant::now();
    while started.elapsed() < duration {
        let parent = &corpus[rng.gen_range(0..corpus.len())];
        let other = &corpus[rng.gen_range(0..corpus.len())];
        let input = mutate(&mut rng, parent, other, dictionary);
        if execute(&input, &mut outcomes, &mut findings) && corpus.len() < CORPUS_MAX {
            corpus.push(input);
        }
    }
    Report {
        target: target.to_owned(),
        executions,
        seeds: seeds.len(),
        corpus: corpus.len(),
        outcomes: outcomes.len(),
        findings,
    }
}

/// One to four mutations of `input`.
fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8], dictionary: &[&[u8]]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let at = rng.gen_range(0..=bytes.len());
        match rng.gen_range(0..8) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] = INTERESTING[rng.gen_range(0..INTERESTING.len())];
            }
            2 => {
                let count = rng.gen_range(1..=8);
                let random: Vec<u8> = (0..count).map(|_| rng.r#gen()).collect();
                bytes.splice(at..at, random);
            }
            3 if at < bytes.len() => {
                let end = rng.gen_range(at..=bytes.len().min(at + 64));
                bytes.drain(at..end);
            }
            4 if at < bytes.len() => {
                let end = rng.gen_range(at..=bytes.len().min(at + 64));
                let copy = bytes[at..end].to_vec();
                for _ in 0..rng.gen_range(1..=16) {
                    bytes.splice(at..at, copy.iter().copied());
                }
            }
            5 if !other.is_empty() => {
                let from = rng.gen_range(0..other.len());
                bytes.truncate(at);
                bytes.extend_from_slice(&other[from..]);
            }
            6 if !dictionary.is_empty() => {
                let token = dictionary[rng.gen_range(0..dictionary.len())];
                bytes.splice(at..at, token.iter().copied());
            }
            _ => bytes.truncate(at),
        }
        bytes.truncate(INPUT_MAX_BYTES);
    }
    bytes
}

fn save_finding(target: &str, input: &[u8]) -> PathBuf {
    use sha2::Digest as _;
    let dir = crate::workspace_root().join("target/fuzz-findings").join(target);
    std::fs::create_dir_all(&dir).expect("a findings directory");
    let path = dir.join(hex::encode(&sha2::Sha256::digest(input)[..8]));
    std::fs::write(&path, input).expect("write a finding");
    path
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The first words of an error, as an outcome: enough to tell kinds of
/// refusal apart without making every position in the input its own.
pub fn outcome<T, E: std::fmt::Debug>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => {
            // Quoted parts name the input, not the kind of refusal. In the
            // debug form a quote inside a message is escaped (`\"`).
            let mut quoted = false;
            let text: String = format!("{error:?}")
                .replace("\\\"", "\u{1}")
                .chars()
                .filter(|&c| {
                    if c == '\u{1}' || c == '`' {
                        quoted = !quoted;
                        return false;
                    }
                    !quoted
                })
                .collect();
            // Long words are names taken from the input more often than not.
            let words: Vec<&str> = text
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| (1..=12).contains(&w.len()))
                .take(5)
                .collect();
            words.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_within_the_size_limit_and_change_the_input() {
        let mut rng = StdRng::seed_from_u64(7);
        let input = vec![b'a'; INPUT_MAX_BYTES];
        let mut changed = 0;
        for _ in 0..200 {
            let mutated = mutate(&mut rng, &input, b"xyz", &[b"{}"]);
            assert!(mutated.len() <= INPUT_MAX_BYTES);
            changed += usize::from(mutated != input);
        }
        assert!(changed > 150, "only {changed} of 200 mutations changed the input");
    }

    #[test]
    fn an_outcome_is_the_first_words_of_the_error() {
        assert_eq!(outcome::<(), _>(Err("line 3, column 7: expected `=` after key")), "line column expected after key");
        assert_eq!(
            outcome::<(), _>(Err(r#"unknown field "Bogus" at line 1"#)),
            "unknown field at line",
            "quoted input is left out"
        );
        assert_eq!(outcome::<_, String>(Ok(1)), "ok");
    }
}
