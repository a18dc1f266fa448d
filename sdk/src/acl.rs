//! ACL policies: compile a token's policies, then answer access questions.

use crate::bindings::exports::keel::plugin::acl as wit;
pub use crate::bindings::exports::keel::plugin::acl::{Access, Area, Level, Policy, Request};
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
    /// Answers one access question. Runs on every request: keep it fast.
    fn allowed(&self, request: &Request) -> bool;
}

/// Makes an [`AclPolicy`] the exports of an `acl-policy` component.
#[macro_export]
macro_rules! export_acl_policy {
    ($plugin:ty) => {
        $crate::__keel_export!($plugin, acl, __export_keel_plugin_acl_0_1_0_cabi);
    };
}

/// The guest resource behind `acl`: one compiled token.
#[doc(hidden)]
pub struct AclResource<A>(A);

impl<A: CompiledAcl> wit::GuestAcl for AclResource<A> {
    fn allowed(&self, request: Request) -> bool {
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
