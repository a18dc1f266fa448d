//! Fuzzing the decoders of untrusted input (`keel_tests::fuzz`): ACL
//! policies (HCL and JSON), snapshot archives, license documents, what a
//! peer sends on the RPC port, and HTTP bodies. Each runs from its seed
//! corpus in `tests/corpus/` for `FUZZ_SECONDS` (2 in `make test`; `make
//! fuzz` runs longer) and fails on any panic, with the input saved.
//! Beyond not panicking, each target checks what its decoder promises.

use keel_api::acl::{AclPolicy as PolicyBody, AclToken};
use keel_api::operator::{AutopilotConfiguration, SchedulerConfiguration};
use keel_api::plugin::PluginInstallRequest;
use keel_sdk::Plugin as _;
use keel_sdk::acl::{AclPolicy as _, Policy};
use keel_sdk::license::LicenseValidator as _;
use keel_tests::fuzz::{self, Report, outcome};

/// The public key the seed license (`tests/corpus/license_document/signed`) was signed for.
const ISSUER_PUBLIC_KEY: &str = "cBT2ILXi8xEJS9iOzMEiJwRlwKedP+A2wA4gPL5wpvU=";

fn check(report: Report) {
    println!("{report}");
    assert!(report.findings.is_empty(), "{report}: {:#?}", report.findings);
}

fn text(input: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(input).map_err(|_| "not utf8".to_owned())
}

#[test]
fn acl_policies_in_hcl_and_json() {
    let acl = acl_nomad::NomadAcl::configure(&[]).expect("no settings");
    let dictionary: &[&[u8]] = &[
        b"namespace",
        b"policy",
        b"capabilities",
        b"{",
        b"}",
        b"[",
        b"]",
        b"=",
        b"\"",
        b"\\",
        b"*",
        b"<<EOF\n",
        b"\nEOF\n",
        b"/*",
        b"#",
        b"\"write\"",
        b"null",
        b"1e999",
    ];
    check(fuzz::fuzz("acl_policy", dictionary, fuzz::duration(), |input| {
        let Ok(rules) = text(input) else { return "not utf8".to_owned() };
        let validated = acl.validate(rules);
        let compiled = acl.compile(&[Policy { name: "fuzz".into(), rules: rules.to_owned() }]);
        assert_eq!(validated.is_ok(), compiled.is_ok(), "validate and compile agree on {rules:?}");
        outcome(validated)
    }));
}

#[test]
fn snapshot_archives() {
    let dictionary: &[&[u8]] = &[b"meta.json", b"state.bin", b"SHA256SUMS", b"ustar", b"\x1f\x8b\x08", &[0; 512]];
    check(fuzz::fuzz("snapshot_archive", dictionary, fuzz::duration(), |input| {
        match keel_state::archive::read(input, 1 << 20) {
            Ok((_, state)) => {
                assert!(state.len() <= 1 << 20, "held more than the cap");
                outcome(serde_json::from_slice::<keel_state::State>(&state))
            }
            Err(error) => outcome::<(), _>(Err(error)),
        }
    }));
}

#[test]
fn license_documents() {
    let settings = [("public_key".to_owned(), ISSUER_PUBLIC_KEY.to_owned())];
    let validator = license_ed25519::Ed25519Validator::configure(&settings).expect("the seed's issuer key");
    let dictionary: &[&[u8]] = &[b"keel-license-v1.", b".", b"=", b"eyJ", b"AAAA"];
    check(fuzz::fuzz("license_document", dictionary, fuzz::duration(), |input| {
        let Ok(blob) = text(input) else { return "not utf8".to_owned() };
        let verdict = validator.validate(blob, "nomad", 1_800_000_000_000);
        if verdict.is_ok() {
            let seed = fuzz::seeds("license_document").concat();
            assert_eq!(
                blob.trim().as_bytes(),
                String::from_utf8_lossy(&seed).trim().as_bytes(),
                "only the signed document validates"
            );
        }
        outcome(verdict)
    }));
}

#[test]
fn rpc_requests_from_a_peer() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let dictionary: &[&[u8]] = &[&[0, 0, 0, 0], &[0xff, 0xff, 0xff, 0xff], &[0, 0x50, 0, 0], &[0x80], &[0xff; 9]];
    check(fuzz::fuzz("rpc_requests", dictionary, fuzz::duration(), |input| {
        outcome(runtime.block_on(keel_cluster::decode_requests(input)))
    }));
}

#[test]
fn http_bodies() {
    let dictionary: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"null",
        b"true",
        b"\"5000000h\"",
        b"\"1s\"",
        b"-1",
        b"18446744073709551616",
        b"[[[[[[[[",
        b"{\"a\":{\"a\":",
    ];
    check(fuzz::fuzz("http_bodies", dictionary, fuzz::duration(), |input| {
        let decoded = [
            outcome(keel_api::json::from_slice::<AutopilotConfiguration>(input)),
            outcome(keel_api::json::from_slice::<SchedulerConfiguration>(input)),
            outcome(keel_api::json::from_slice::<PolicyBody>(input)),
            outcome(keel_api::json::from_slice::<AclToken>(input)),
            outcome(keel_api::json::from_slice::<PluginInstallRequest>(input)),
        ];
        if decoded.iter().any(|o| o == "ok") {
            let first = input.iter().find(|b| !b.is_ascii_whitespace());
            assert_eq!(first, Some(&b'{'), "only an object decodes: {:?}", String::from_utf8_lossy(input));
        }
        decoded.join(" | ")
    }));
}
