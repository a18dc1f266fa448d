//! The compile cache: compiled components kept in the data directory, keyed
//! by the component's digest and the engine's compatibility hash.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::Dir;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::PluginError;

/// Compiled components on disk.
///
/// A cache entry is only ever written by this process's engine and read
/// back by an engine with the same compatibility hash, through a directory
/// handle that nothing else in the host writes to: `Component::deserialize`
/// never sees bytes from anywhere else.
pub struct CompileCache {
    dir: Dir,
    hits: AtomicU64,
    compiles: AtomicU64,
}

impl CompileCache {
    /// Uses `dir` (for example `<data-dir>/plugin-cache`) for cache files.
    pub fn new(dir: Dir) -> Self {
        Self { dir, hits: AtomicU64::new(0), compiles: AtomicU64::new(0) }
    }

    /// How many loads were served from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many loads compiled the component.
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    /// The cache file name for `component` compiled by `engine`.
    pub fn entry_name(engine: &Engine, component: &[u8]) -> String {
        let mut engine_hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut engine_hasher);
        format!("{}-{:016x}.cwasm", hex::encode(Sha256::digest(component)), engine_hasher.finish())
    }

    /// Returns the compiled component, from the cache when it holds it.
    pub(crate) fn load(&self, engine: &Engine, component: &[u8]) -> Result<Component, PluginError> {
        let name = Self::entry_name(engine, component);
        match self.dir.read(&name) {
            Ok(compiled) => {
                // SAFETY: the file is one this cache wrote with `serialize`
                // for an engine with the same compatibility hash (it is in
                // the name), in a directory no request can write to.
                match unsafe { Component::deserialize(engine, &compiled) } {
                    Ok(loaded) => {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(loaded);
                    }
                    Err(e) => tracing::warn!(entry = %name, "unreadable plugin cache entry, recompiling: {e:#}"),
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(PluginError::Cache(e)),
        }
        let compiled = compile(engine, component)?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        let serialized = compiled
            .serialize()
            .map_err(|e| PluginError::Cache(std::io::Error::other(format!("serialize compiled plugin: {e:#}"))))?;
        // Written whole under a temporary name, then renamed: a crash leaves
        // either no entry or a complete one.
        let temporary = format!("{name}.tmp");
        self.dir.write(&temporary, &serialized).map_err(PluginError::Cache)?;
        self.dir.rename(&temporary, &self.dir, &name).map_err(PluginError::Cache)?;
        Ok(compiled)
    }
}

/// Compiles a component without a cache.
pub(crate) fn compile(engine: &Engine, component: &[u8]) -> Result<Component, PluginError> {
    Component::new(engine, component).map_err(|e| PluginError::Compile(format!("{e:#}")))
}
