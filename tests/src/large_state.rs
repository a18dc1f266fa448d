//! Large replicated states for the restore tests: ACL policies with long
//! rules, added until the state's JSON reaches a size. Shared with
//! `host/keel-cluster/tests` by path, so that crate needs no dependency on
//! this one.

use keel_api::acl::AclPolicy;
use keel_state::State;

/// `state` with ACL policies of 256 KiB of rules added until its JSON is
/// at least `bytes` (and at most one policy more).
pub fn grow(mut state: State, bytes: usize) -> State {
    const RULES_BYTES: usize = 256 * 1024;
    let line = "namespace \"default\" { policy = \"read\" }\n";
    let mut size = serde_json::to_vec(&state).expect("json").len();
    let mut index = 0;
    while size < bytes {
        let rules = format!("# {index}\n{}", line.repeat(RULES_BYTES / line.len()));
        let policy = AclPolicy { name: format!("restored-{index:05}"), rules, ..AclPolicy::default() };
        // The policy's JSON, its key, the quotes, a colon and a comma.
        size += serde_json::to_vec(&policy).expect("json").len() + policy.name.len() + 4;
        state.acl.policies.insert(policy.name.clone(), policy);
        index += 1;
    }
    state
}
