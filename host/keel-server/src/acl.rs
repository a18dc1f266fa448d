//! ACL decisions: who a request's token is, and whether it has the right a
//! route needs. Management tokens pass here; every other token's rights
//! come from the ACL plugin, which compiles a token's policies once. The
//! compiled rules are cached per token and dropped as soon as the token or
//! one of its policies changes (their Raft `ModifyIndex`es are the stamp).
//! Each answer is kept with them for as long as the plugin's verdict says
//! (`valid-for-ms`: until the token changes, until a time, or not at all):
//! a token asking again for the same right within that time costs no
//! plugin call. Everything cached belongs to the plugin that computed it:
//! once another ACL plugin is active, the cache starts over.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use keel_api::acl::{ANONYMOUS_POLICY, AclToken};
use keel_http::{ApiError, Capability, RequestContext};
use keel_plugins::acl::{Access, Area, Level, Policy, Request, Verdict};
use keel_plugins::{AclPlugin, Active, CompiledAcl, PluginError, Shadow};
use keel_state::{State, StateView};

/// The cache key of the anonymous token (no accessor is empty).
const ANONYMOUS_KEY: &str = "";

/// At most this many compiled ACLs are kept; past it the cache starts over,
/// which costs one compile per active token.
const CACHE_MAX_ENTRIES: usize = 65_536;

/// Who sent a request, as far as ACLs are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    Management,
    /// A client token (by accessor), or the anonymous token.
    Rules {
        key: String,
        policies: Vec<String>,
    },
}

impl Caller {
    /// Resolves the secret a request carries. No secret is the anonymous
    /// token; an unknown secret or an expired token is a 403.
    pub(crate) fn resolve(state: &State, secret: Option<&str>, now_ms: i64) -> Result<Caller, ApiError> {
        let Some(secret) = secret else {
            return Ok(Caller::Rules { key: ANONYMOUS_KEY.to_owned(), policies: vec![ANONYMOUS_POLICY.to_owned()] });
        };
        let token = known_token(state, secret, now_ms)?;
        Ok(match token.is_management() {
            true => Caller::Management,
            false => Caller::Rules { key: token.accessor_id.clone(), policies: token.policies.clone() },
        })
    }

    /// Whether the caller may read the policy `name`: management tokens any,
    /// everyone the anonymous policy, other tokens those they hold.
    pub(crate) fn may_read_policy(&self, name: &str) -> bool {
        match self {
            Caller::Management => true,
            Caller::Rules { policies, .. } => name == ANONYMOUS_POLICY || policies.iter().any(|held| held == name),
        }
    }
}

/// The token whose secret is `secret`, if it is known and has not expired.
pub(crate) fn known_token<'a>(state: &'a State, secret: &str, now_ms: i64) -> Result<&'a AclToken, ApiError> {
    let token = state.acl.token_by_secret(secret).ok_or_else(ApiError::token_not_found)?;
    if token.is_expired(now_ms) {
        return Err(ApiError::token_expired());
    }
    Ok(token)
}

/// One right asked for: by whom, for what request, and when.
pub(crate) struct Asked<'a> {
    /// The secret the request carries; `None` is the anonymous token.
    pub(crate) token: Option<&'a str>,
    pub(crate) need: Capability,
    pub(crate) request: &'a RequestContext<'a>,
    pub(crate) now_ms: i64,
}

/// What a capability asks the plugin about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    Level(Level),
    /// A namespace capability (`read-job`, ...), asked of the request's
    /// namespace.
    Capability(&'static str),
}

/// The area and access a capability asks the plugin about; `None` for the
/// capabilities the host decides alone.
fn question(need: Capability) -> Option<(Area, Ask)> {
    Some(match need {
        Capability::OperatorRead => (Area::Operator, Ask::Level(Level::Read)),
        Capability::OperatorWrite => (Area::Operator, Ask::Level(Level::Write)),
        Capability::AgentRead => (Area::Agent, Ask::Level(Level::Read)),
        Capability::AgentWrite => (Area::Agent, Ask::Level(Level::Write)),
        Capability::NodeRead => (Area::Node, Ask::Level(Level::Read)),
        Capability::NodeWrite => (Area::Node, Ask::Level(Level::Write)),
        Capability::ListJobs => (Area::Namespace, Ask::Capability("list-jobs")),
        Capability::ReadJob => (Area::Namespace, Ask::Capability("read-job")),
        Capability::SubmitJob => (Area::Namespace, Ask::Capability("submit-job")),
        Capability::ReadLogs => (Area::Namespace, Ask::Capability("read-logs")),
        Capability::None | Capability::Authenticated | Capability::Management => return None,
    })
}

/// What an answer is kept under: the capability, and the namespace it was
/// asked of (empty for the capabilities of no namespace).
type AnswerKey = (Capability, String);

fn answer_key(need: Capability, (_, ask): (Area, Ask), context: &RequestContext<'_>) -> AnswerKey {
    match ask {
        Ask::Capability(_) => (need, context.namespace.to_owned()),
        Ask::Level(_) => (need, String::new()),
    }
}

/// The plugin's question in full: built only when no kept answer holds, so
/// a cached check copies nothing of the request.
fn request_for((area, ask): (Area, Ask), context: &RequestContext<'_>, now_ms: u64) -> Request {
    let (access, target) = match ask {
        Ask::Level(level) => (Access::Level(level), None),
        Ask::Capability(name) => (Access::Capability(name.to_owned()), Some(context.namespace.to_owned())),
    };
    Request {
        area,
        access,
        target,
        method: context.method.to_owned(),
        path: context.path.to_owned(),
        namespace: context.namespace.to_owned(),
        now_ms,
    }
}

/// A plugin's answer while it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    allow: bool,
    /// Until when (ms since the epoch) the answer holds; `None` until the
    /// token or its policies change.
    until_ms: Option<u64>,
}

impl Kept {
    /// What to keep of `verdict`, given at `now_ms`: nothing for an answer
    /// that is for one request only.
    fn of(verdict: Verdict, now_ms: u64) -> Option<Kept> {
        match verdict.valid_for_ms {
            None => Some(Kept { allow: verdict.allow, until_ms: None }),
            Some(0) => None,
            Some(ms) => Some(Kept { allow: verdict.allow, until_ms: Some(now_ms.saturating_add(ms)) }),
        }
    }

    /// The answer, if it still holds at `now_ms`.
    fn at(self, now_ms: u64) -> Option<bool> {
        self.until_ms.is_none_or(|until| now_ms < until).then_some(self.allow)
    }
}

/// A compiled ACL, the plugin that compiled it and the indexes of what it
/// was compiled from.
struct Cached {
    /// The [`Active::generation`] of the plugin: once another plugin is
    /// active, the entry is never used again.
    generation: u64,
    token_index: u64,
    policy_indexes: Vec<u64>,
    acl: Arc<TokenAcl>,
}

/// One token's compiled rules, the policies they came from (for a shadow
/// to compile too) and the plugin's answers so far.
struct TokenAcl {
    compiled: CompiledAcl,
    policies: Vec<Policy>,
    answers: RwLock<HashMap<AnswerKey, Kept>>,
}

/// The `ModifyIndex` of the token behind `key` (0 for the anonymous token)
/// and of each of its policies (0 for a policy that does not exist).
fn stamp<'a>(state: &'a State, key: &str, policies: &'a [String]) -> (u64, impl Iterator<Item = u64> + 'a) {
    let token_index = state.acl.tokens.get(key).map_or(0, |token| token.modify_index);
    let policy_indexes = policies.iter().map(|name| state.acl.policies.get(name).map_or(0, |p| p.modify_index));
    (token_index, policy_indexes)
}

/// The answer when the plugin could not decide: a full call queue is a 503
/// (the plugin is overloaded, not the token wanting); anything else denies.
/// Either way the reason goes to the log, not to the client.
fn denied(accessor: &str, call: &str, error: &PluginError) -> Result<bool, ApiError> {
    if let PluginError::Busy { .. } = error {
        tracing::warn!(accessor, "acl {call} refused, the plugin call queue is full: {error}");
        return Err(ApiError::unavailable("the ACL plugin is busy; try again"));
    }
    tracing::warn!(accessor, "acl {call} denied by plugin failure: {error}");
    Ok(false)
}

/// Asks the shadow plugin, beside the request, what the active one answered.
/// The record names the token by accessor and its policies by name.
fn ask_shadow(shadow: Arc<Shadow<AclPlugin>>, key: &str, policies: &[Policy], request: Request, allowed: bool) {
    let asks = format!("{:?} {:?} ({} {})", request.area, request.access, request.method, request.path);
    let names: Vec<&str> = policies.iter().map(|policy| policy.name.as_str()).collect();
    let who = if key == ANONYMOUS_KEY { "anonymous".to_owned() } else { format!("token {key}") };
    let input = format!("{who} with policies [{}] asks {asks}", names.join(", "));
    let policies = policies.to_vec();
    shadow.compare(input, allowed, move |shadow| async move {
        let compiled = shadow.plugin.compile(&policies).await.map_err(|error| error.to_string())?;
        shadow.plugin.check(&compiled, &request).await.map(|verdict| verdict.allow).map_err(|error| error.to_string())
    });
}

/// What the state said about a non-management caller.
enum Lookup {
    Hit(Arc<TokenAcl>),
    Miss { token_index: u64, policy_indexes: Vec<u64>, policies: Vec<Policy> },
}

/// ACL enforcement for one agent.
pub(crate) struct AclGate {
    enabled: bool,
    cache: RwLock<HashMap<String, Cached>>,
}

impl AclGate {
    pub(crate) fn new(enabled: bool) -> Self {
        Self { enabled, cache: RwLock::new(HashMap::new()) }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Decides whether the request's token has the right it needs. Each
    /// answer the plugin gives (not one from the cache) is also asked of
    /// `shadow`.
    pub(crate) async fn authorize(
        &self,
        view: &StateView,
        plugin: &Active<AclPlugin>,
        shadow: Option<Arc<Shadow<AclPlugin>>>,
        asked: Asked<'_>,
    ) -> Result<(), ApiError> {
        if !self.enabled || asked.need == Capability::None {
            return Ok(());
        }
        let caller = view.read(|state| Caller::resolve(state, asked.token, asked.now_ms))?;
        let allowed = match (&caller, asked.need) {
            (_, Capability::Authenticated) | (Caller::Management, _) => true,
            (Caller::Rules { .. }, Capability::Management) => false,
            (Caller::Rules { key, policies }, _) => {
                self.plugin_allows(view, (plugin, shadow), key, policies, &asked).await?
            }
        };
        if allowed { Ok(()) } else { Err(ApiError::permission_denied()) }
    }

    /// Asks the plugin, compiling the caller's policies on a cache miss. A
    /// compiled ACL whose plugin instance was replaced after a fault is
    /// compiled again once. A full plugin call queue is a 503, so that the
    /// client knows to try again; any other failure denies.
    async fn plugin_allows(
        &self,
        view: &StateView,
        (plugin, shadow): (&Active<AclPlugin>, Option<Arc<Shadow<AclPlugin>>>),
        key: &str,
        policies: &[String],
        asked: &Asked<'_>,
    ) -> Result<bool, ApiError> {
        let need = asked.need;
        let Some(question) = question(need) else { return Ok(false) };
        let now_ms = u64::try_from(asked.now_ms).unwrap_or(0);
        for _attempt in 0..2 {
            let acl = match self.compiled(view, plugin, key, policies).await {
                Ok(acl) => acl,
                Err(error) => return denied(key, "compile", &error),
            };
            let answer = answer_key(need, question, asked.request);
            let kept = acl.answers.read().unwrap_or_else(PoisonError::into_inner).get(&answer).copied();
            if let Some(answer) = kept.and_then(|kept| kept.at(now_ms)) {
                return Ok(answer);
            }
            let request = request_for(question, asked.request, now_ms);
            match plugin.check(&acl.compiled, &request).await {
                Ok(verdict) => {
                    let mut answers = acl.answers.write().unwrap_or_else(PoisonError::into_inner);
                    match Kept::of(verdict, now_ms) {
                        Some(kept) => answers.insert(answer, kept),
                        None => answers.remove(&answer),
                    };
                    drop(answers);
                    if let Some(shadow) = shadow {
                        ask_shadow(shadow, key, &acl.policies, request, verdict.allow);
                    }
                    return Ok(verdict.allow);
                }
                Err(PluginError::StaleAcl) => {
                    self.lock_write().remove(key);
                }
                Err(error) => return denied(key, "check", &error),
            }
        }
        Ok(false)
    }

    /// The caller's compiled ACL: the cached one while its stamp matches
    /// the state, else a fresh compile, which is cached.
    async fn compiled(
        &self,
        view: &StateView,
        plugin: &Active<AclPlugin>,
        key: &str,
        names: &[String],
    ) -> Result<Arc<TokenAcl>, PluginError> {
        let lookup = view.read(|state| {
            let (token_index, mut policy_indexes) = stamp(state, key, names);
            if let Some(cached) = self.lock_read().get(key)
                && cached.generation == plugin.generation()
                && cached.token_index == token_index
                && cached.policy_indexes.len() == names.len()
                && cached.policy_indexes.iter().all(|&index| Some(index) == policy_indexes.next())
            {
                return Lookup::Hit(Arc::clone(&cached.acl));
            }
            let (_, policy_indexes) = stamp(state, key, names);
            let policies = names
                .iter()
                .filter_map(|name| state.acl.policies.get(name))
                .map(|policy| Policy { name: policy.name.clone(), rules: policy.rules.clone() })
                .collect();
            Lookup::Miss { token_index, policy_indexes: policy_indexes.collect(), policies }
        });
        let (token_index, policy_indexes, policies) = match lookup {
            Lookup::Hit(compiled) => return Ok(compiled),
            Lookup::Miss { token_index, policy_indexes, policies } => (token_index, policy_indexes, policies),
        };
        let compiled = plugin.compile(&policies).await?;
        let acl = Arc::new(TokenAcl { compiled, policies, answers: RwLock::new(HashMap::new()) });
        let mut cache = self.lock_write();
        if cache.len() >= CACHE_MAX_ENTRIES {
            cache.clear();
        }
        let generation = plugin.generation();
        cache.insert(key.to_owned(), Cached { generation, token_index, policy_indexes, acl: Arc::clone(&acl) });
        Ok(acl)
    }

    /// Forgets every compiled ACL: another ACL plugin is active.
    pub(crate) fn clear(&self) {
        self.lock_write().clear();
    }

    /// Forgets the compiled ACL of a deleted token.
    pub(crate) fn forget(&self, accessor: &str) {
        self.lock_write().remove(accessor);
    }

    fn lock_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Cached>> {
        self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Cached>> {
        self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use keel_api::acl::{AclPolicy, CLIENT, MANAGEMENT};
    use keel_state::Command;

    use super::*;

    fn state() -> State {
        let mut state = State::default();
        let token = |accessor: &str, token_type: &str, policies: &[&str], expires: Option<i64>| AclToken {
            accessor_id: accessor.into(),
            secret_id: format!("secret-{accessor}"),
            token_type: token_type.into(),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
            expiration_time: expires,
            ..AclToken::default()
        };
        let tokens = vec![
            token("root", MANAGEMENT, &[], None),
            token("ops", CLIENT, &["ops"], None),
            token("old", CLIENT, &["ops"], Some(1_000)),
        ];
        state.apply(2, Command::UpsertAclTokens { tokens });
        let policy =
            AclPolicy { name: "ops".into(), rules: "operator { policy = \"read\" }".into(), ..Default::default() };
        state.apply(3, Command::UpsertAclPolicies { policies: vec![policy] });
        state
    }

    #[test]
    fn secrets_resolve_to_callers() {
        let state = state();
        assert_eq!(Caller::resolve(&state, Some("secret-root"), 0), Ok(Caller::Management));
        assert_eq!(
            Caller::resolve(&state, Some("secret-ops"), 0),
            Ok(Caller::Rules { key: "ops".into(), policies: vec!["ops".into()] })
        );
        assert_eq!(
            Caller::resolve(&state, None, 0),
            Ok(Caller::Rules { key: String::new(), policies: vec!["anonymous".into()] })
        );
        assert_eq!(Caller::resolve(&state, Some("secret-nobody"), 0), Err(ApiError::token_not_found()));
        assert!(Caller::resolve(&state, Some("secret-old"), 999).is_ok());
        assert_eq!(Caller::resolve(&state, Some("secret-old"), 1_000), Err(ApiError::token_expired()));
    }

    #[test]
    fn policies_are_readable_by_their_holders_and_anonymous_by_all() {
        let ops = Caller::Rules { key: "ops".into(), policies: vec!["ops".into()] };
        assert!(ops.may_read_policy("ops") && ops.may_read_policy("anonymous") && !ops.may_read_policy("dev"));
        assert!(Caller::Management.may_read_policy("dev"));
    }

    const CONTEXT: RequestContext<'static> =
        RequestContext { method: "PUT", path: "/v1/operator/scheduler/configuration", namespace: "ops" };

    /// The plugin request `need` makes for [`CONTEXT`] at `now_ms`.
    fn asked(need: Capability, now_ms: u64) -> Option<Request> {
        question(need).map(|question| request_for(question, &CONTEXT, now_ms))
    }

    #[test]
    fn only_plugin_capabilities_become_plugin_questions() {
        let operator_write = asked(Capability::OperatorWrite, 5).expect("a question");
        assert!(matches!((operator_write.area, &operator_write.access), (Area::Operator, Access::Level(Level::Write))));
        let node_read = asked(Capability::NodeRead, 5).expect("a question");
        assert!(matches!((node_read.area, &node_read.access), (Area::Node, Access::Level(Level::Read))));
        for host_decides in [Capability::None, Capability::Authenticated, Capability::Management] {
            assert!(asked(host_decides, 5).is_none());
        }
    }

    #[test]
    fn namespace_capabilities_ask_of_the_request_namespace_and_are_kept_per_namespace() {
        let submit = asked(Capability::SubmitJob, 5).expect("a question");
        assert_eq!(submit.area, Area::Namespace);
        assert_eq!(submit.access, Access::Capability("submit-job".into()));
        assert_eq!(submit.target.as_deref(), Some("ops"));
        let read_job = question(Capability::ReadJob).expect("a question");
        let other = RequestContext { namespace: "dev", ..CONTEXT };
        assert_ne!(
            answer_key(Capability::ReadJob, read_job, &CONTEXT),
            answer_key(Capability::ReadJob, read_job, &other)
        );
        let node = question(Capability::NodeRead).expect("a question");
        assert_eq!(answer_key(Capability::NodeRead, node, &CONTEXT), answer_key(Capability::NodeRead, node, &other));
    }

    #[test]
    fn questions_carry_the_request_and_its_time() {
        let asked = asked(Capability::AgentRead, 1_700).expect("a question");
        assert_eq!(
            (asked.method.as_str(), asked.path.as_str(), asked.namespace.as_str(), asked.now_ms),
            ("PUT", "/v1/operator/scheduler/configuration", "ops", 1_700)
        );
    }

    #[test]
    fn answers_are_kept_exactly_as_long_as_the_verdict_says() {
        let verdict = |allow, valid_for_ms| Verdict { allow, valid_for_ms };
        let lasting = Kept::of(verdict(true, None), 1_000).expect("kept");
        assert_eq!((lasting.at(1_000), lasting.at(u64::MAX)), (Some(true), Some(true)));
        let minute = Kept::of(verdict(false, Some(60_000)), 1_000).expect("kept");
        assert_eq!((minute.at(60_999), minute.at(61_000)), (Some(false), None));
        assert_eq!(Kept::of(verdict(true, Some(0)), 1_000), None, "an answer for one request is not kept");
        let forever = Kept::of(verdict(true, Some(u64::MAX)), 1_000).expect("kept");
        assert_eq!(forever.at(u64::MAX - 1), Some(true), "no overflow");
    }
}
