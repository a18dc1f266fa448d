//! ACL plugins: compile a token's policies, then answer access questions.
//! Any fault denies.
//!
//! A compiled ACL is a guest resource, so it lives in the instance that
//! compiled it, and a plugin has several instances. A [`CompiledAcl`] keeps
//! the policies it was made from and compiles them again, once, in each
//! further instance a check happens to run in; once every instance that
//! held it has been replaced after faults, it is stale and the caller
//! compiles it afresh from the current state.

use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::ResourceAny;

use crate::adapt::Adapt;
pub use crate::bindings::v0_3::acl::exports::keel::plugin::acl::{Access, Area, Level, Policy, Request, Verdict};
use crate::bindings::{v0_1, v0_2, v0_3};
use crate::instance::{Held, InstanceRef, Versioned, Warm, any_version, impl_world};
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::Acl, acl, AclPolicy, AclPolicyPre);

/// An ACL component of any contract version.
type AclWorld = Versioned<v0_1::acl::AclPolicy, v0_2::acl::AclPolicy, v0_3::acl::AclPolicy>;

/// A question about `access` in `area` with no target, as the host asks
/// it for a `GET /` in the `default` namespace now: for tests, benchmarks
/// and the conformance cases.
pub fn question(area: Area, access: Access) -> Request {
    Request {
        area,
        access,
        target: None,
        method: "GET".into(),
        path: "/".into(),
        namespace: "default".into(),
        now_ms: crate::now_ms(),
    }
}

/// A loaded ACL plugin.
pub struct AclPlugin {
    warm: Warm<AclWorld>,
}

/// The compiled rules of one token, held by the plugin instances that
/// compiled them. Dropping it releases them in the plugin.
pub struct CompiledAcl {
    inner: Arc<Compiled>,
}

/// What the call threads share of a compiled ACL.
struct Compiled {
    policies: Vec<Policy>,
    held: Mutex<Vec<Held>>,
}

impl std::fmt::Debug for CompiledAcl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.inner.held.lock().unwrap_or_else(PoisonError::into_inner);
        let instances: Vec<u64> = held.iter().map(|held| held.instance).collect();
        f.debug_struct("CompiledAcl").field("instances", &instances).finish_non_exhaustive()
    }
}

impl AclPlugin {
    pub(crate) fn new(warm: Warm<AclWorld>) -> Self {
        Self { warm }
    }

    pub fn info(&self) -> &PluginInfo {
        self.warm.info()
    }

    pub fn metrics(&self) -> &Metrics {
        self.warm.metrics()
    }

    pub fn contract(&self) -> keel_contract::Contract {
        self.warm.contract()
    }

    /// Checks one policy's rules. `Err(PluginError::Refused)` carries the
    /// plugin's reason, for a 400 reply.
    pub async fn validate(&self, rules: &str) -> Result<(), PluginError> {
        let rules = rules.to_owned();
        let verdict = self.warm.call("validate", move |bindings, store, _| {
            any_version!(bindings, world => world.keel_plugin_acl().call_validate(store, &rules))
        });
        verdict.await?.map_err(|message| self.refused(message))
    }

    /// Merges the policies of one token.
    pub async fn compile(&self, policies: &[Policy]) -> Result<CompiledAcl, PluginError> {
        let policies = policies.to_vec();
        let compiled = self.warm.call("compile", move |bindings, store, instance| {
            let compiled = compile_in(bindings, store, &policies)?;
            Ok(compiled.map(|resource| (policies, Held::new(instance, resource))))
        });
        let (policies, held) = compiled.await?.map_err(|message| self.refused(message))?;
        Ok(CompiledAcl { inner: Arc::new(Compiled { policies, held: Mutex::new(vec![held]) }) })
    }

    /// Answers one access question with the plugin's verdict.
    /// `Err(PluginError::StaleAcl)` means every instance that compiled `acl`
    /// was replaced after a fault; compile again.
    pub async fn check(&self, acl: &CompiledAcl, request: &Request) -> Result<Verdict, PluginError> {
        let compiled = Arc::clone(&acl.inner);
        let request = request.clone();
        let answer = self.warm.call("acl.allowed", move |bindings, store, instance| {
            let Some(resource) = compiled.resource_in(instance) else { return Ok(Err(PluginError::StaleAcl)) };
            let resource = match resource {
                Some(resource) => resource,
                None => match compile_in(bindings, &mut *store, &compiled.policies)? {
                    Ok(resource) => compiled.hold(instance, resource),
                    Err(message) => return Ok(Ok(Err(message))),
                },
            };
            let verdict: Verdict = any_version!(bindings, world => {
                world.keel_plugin_acl().acl().call_allowed(store, resource, &request.adapt())?.adapt()
            });
            Ok(Ok(Ok(verdict)))
        });
        answer.await??.map_err(|message| self.refused(message))
    }

    /// Answers one access question, failing closed: anything but a
    /// completed call that said yes is a no.
    pub async fn allowed(&self, acl: &CompiledAcl, request: &Request) -> bool {
        match self.check(acl, request).await {
            Ok(verdict) => verdict.allow,
            Err(PluginError::StaleAcl) => false,
            Err(error) => {
                tracing::warn!("acl check denied by plugin failure: {error}");
                false
            }
        }
    }

    fn refused(&self, message: String) -> PluginError {
        self.warm.metrics().record_error();
        PluginError::Refused { plugin: self.warm.info().name.clone(), message }
    }
}

/// `compile` in one instance, of any contract version.
fn compile_in(
    bindings: &AclWorld,
    store: &mut wasmtime::Store<crate::store::StoreData>,
    policies: &[Policy],
) -> wasmtime::Result<Result<ResourceAny, String>> {
    any_version!(bindings, world => world.keel_plugin_acl().call_compile(store, &policies.to_vec().adapt()))
}

impl Compiled {
    /// The rules in `instance` (`Some(None)` when they are still to be
    /// compiled there), or `None` when every instance that held them is gone.
    fn resource_in(&self, instance: &InstanceRef) -> Option<Option<ResourceAny>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(Held::alive);
        if held.is_empty() {
            return None;
        }
        Some(held.iter().find(|held| held.is_in(instance)).map(|held| held.resource))
    }

    fn hold(&self, instance: &InstanceRef, resource: ResourceAny) -> ResourceAny {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).push(Held::new(instance, resource));
        resource
    }
}
