//! ACL policies: compile a token's policies, then answer access questions.

use crate::bindings::exports::keel::plugin::acl as wit;
pub use crate::bindings::exports::keel::plugin::acl::{Access, Area, Level, Policy, Request, Verdict};
use crate::plugin::{Adapter, Plugin, Slot};

/// An ACL policy language.
///
/// # To ensure correctness
/// - `compile` must merge policies so that `deny` wins over any grant.
/// - The compiled [`CompiledAcl`] must answer `false` for anything the
///   policies do not grant, and must depend on nothing but those policies.
/// - `validate` and `compile` errors name the policy or rule at fault; they
///   reach the operator in a 400 reply.
/// - Management tokens never reach the plugin; do not model them.
///
/// # When the host calls it
/// `validate` when an operator writes a policy. `compile` the first time a
/// token is used after it or one of its policies changed (the host keeps one
/// compiled [`CompiledAcl`] per token, per plugin instance, until then).
/// [`CompiledAcl::allowed`] when a request needs a right the host keeps no
/// still-valid answer for: see [`Verdict`] for how long an answer is kept.
pub trait AclPolicy: Plugin {
    /// The merged rules of one token.
    type Acl: CompiledAcl;

    /// Checks one policy's rule document.
    fn validate(&self, rules: &str) -> Result<(), String>;

    /// Merges the policies of one token.
    fn compile(&self, policies: &[Policy]) -> Result<Self::Acl, String>;
}

/// The compiled rules of one token.
pub trait CompiledAcl: 'static {
    /// Answers one access question, and says how long the answer holds.
    ///
    /// The host keeps the answer per token and question (`area`, `access`,
    /// `target`) for as long as the verdict says, and calls again after:
    /// [`Verdict::lasting`] for answers that depend on the policies alone,
    /// [`Verdict::until`] for answers that change at a known time,
    /// [`Verdict::once`] for answers that depend on the request's method,
    /// path or namespace. It runs on a request's path: keep it fast.
    fn allowed(&self, request: &Request) -> Verdict;
}

impl Verdict {
    /// An answer that holds until the token or its policies change.
    pub fn lasting(allow: bool) -> Self {
        Verdict { allow, valid_for_ms: None }
    }

    /// An answer that holds until `until_ms` (ms since the epoch), asked
    /// by `request`: the host asks again from then on.
    pub fn until(allow: bool, request: &Request, until_ms: u64) -> Self {
        Verdict { allow, valid_for_ms: Some(until_ms.saturating_sub(request.now_ms)) }
    }

    /// An answer for this request only.
    pub fn once(allow: bool) -> Self {
        Verdict { allow, valid_for_ms: Some(0) }
    }
}

/// Makes an [`AclPolicy`] the exports of an `acl-policy` component.
#[macro_export]
macro_rules! export_acl_policy {
    ($plugin:ty) => {
        $crate::__keel_export!($plugin, acl, __export_keel_plugin_acl_0_3_0_cabi);
    };
}

/// The guest resource behind `acl`: one compiled token.
#[doc(hidden)]
pub struct AclResource<A>(A);

impl<A: CompiledAcl> wit::GuestAcl for AclResource<A> {
    fn allowed(&self, request: Request) -> Verdict {
        self.0.allowed(&request)
    }
}

impl<P: Slot + AclPolicy> wit::Guest for Adapter<P> {
    type Acl = AclResource<P::Acl>;

    fn validate(rules: String) -> Result<(), String> {
        Self::with(|plugin| plugin.validate(&rules))
    }

    fn compile(policies: Vec<Policy>) -> Result<wit::Acl, String> {
        let compiled = Self::with(|plugin| plugin.compile(&policies))?;
        Ok(wit::Acl::new(AclResource(compiled)))
    }
}
