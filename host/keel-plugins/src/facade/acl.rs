//! ACL plugins: compile a token's policies once, then answer access
//! questions. Any fault denies.

use std::sync::{Arc, Mutex};

use wasmtime::component::ResourceAny;

use crate::bindings::acl::AclPolicy;
pub use crate::bindings::acl::exports::keel::plugin::acl::{Access, Area, Level, Policy, Request};
use crate::instance::{Warm, impl_world};
use crate::{Metrics, PluginError, PluginInfo};

impl_world!(keel_contract::Kind::Acl, acl, AclPolicy, AclPolicyPre);

/// Compiled ACLs dropped by their owners, waiting to be released in the
/// instance they belong to (by generation).
type DropQueue = Arc<Mutex<Vec<(u64, ResourceAny)>>>;

/// A loaded ACL plugin.
pub struct AclPlugin {
    warm: Warm<AclPolicy>,
    dropped: DropQueue,
}

/// The compiled rules of one token, held by the plugin instance that
/// compiled them. Dropping it releases them in the plugin.
pub struct CompiledAcl {
    resource: ResourceAny,
    generation: u64,
    dropped: DropQueue,
}

impl Drop for CompiledAcl {
    fn drop(&mut self) {
        let mut dropped = self.dropped.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        dropped.push((self.generation, self.resource));
    }
}

impl std::fmt::Debug for CompiledAcl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledAcl").field("generation", &self.generation).finish_non_exhaustive()
    }
}

impl AclPlugin {
    pub(crate) fn new(warm: Warm<AclPolicy>) -> Self {
        Self { warm, dropped: DropQueue::default() }
    }

    pub fn info(&self) -> &PluginInfo {
        self.warm.info()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.warm.metrics
    }

    /// Checks one policy's rules. `Err(PluginError::Refused)` carries the
    /// plugin's reason, for a 400 reply.
    pub fn validate(&self, rules: &str) -> Result<(), PluginError> {
        let verdict =
            self.call("validate", |bindings, store, _| bindings.keel_plugin_acl().call_validate(store, rules))?;
        verdict.map_err(|message| self.refused(message))
    }

    /// Merges the policies of one token.
    pub fn compile(&self, policies: &[Policy]) -> Result<CompiledAcl, PluginError> {
        let (compiled, generation) = self.call("compile", |bindings, store, generation| {
            Ok((bindings.keel_plugin_acl().call_compile(store, policies)?, generation))
        })?;
        let resource = compiled.map_err(|message| self.refused(message))?;
        Ok(CompiledAcl { resource, generation, dropped: Arc::clone(&self.dropped) })
    }

    /// Answers one access question. `Err(PluginError::StaleAcl)` means the
    /// instance that compiled `acl` was replaced after a fault; compile again.
    pub fn check(&self, acl: &CompiledAcl, request: &Request) -> Result<bool, PluginError> {
        self.call("acl.allowed", |bindings, store, generation| {
            if generation != acl.generation {
                return Ok(Err(PluginError::StaleAcl));
            }
            Ok(Ok(bindings.keel_plugin_acl().acl().call_allowed(store, acl.resource, request)?))
        })?
    }

    /// Answers one access question, failing closed: anything but a
    /// completed call that said yes is a no.
    pub fn allowed(&self, acl: &CompiledAcl, request: &Request) -> bool {
        match self.check(acl, request) {
            Ok(allowed) => allowed,
            Err(PluginError::StaleAcl) => false,
            Err(error) => {
                tracing::warn!("acl check denied by plugin failure: {error}");
                false
            }
        }
    }

    /// Runs a call after releasing the compiled ACLs dropped since the last
    /// one (those of replaced instances are simply forgotten).
    fn call<R>(
        &self,
        function: &'static str,
        call: impl FnOnce(&AclPolicy, &mut wasmtime::Store<crate::store::StoreData>, u64) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let dropped = std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        self.warm.call(function, |bindings, store, generation| {
            for (owner, resource) in dropped {
                if owner == generation {
                    resource.resource_drop(&mut *store)?;
                }
            }
            call(bindings, store, generation)
        })
    }

    fn refused(&self, message: String) -> PluginError {
        self.warm.metrics.record_error();
        PluginError::Refused { plugin: self.warm.info().name.clone(), message }
    }
}
