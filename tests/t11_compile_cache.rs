//! The compile cache: a second load of the same component, also from a new
//! runtime (a restart), deserializes instead of compiling.

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use keel_plugins::{CompileCache, Runtime, RuntimeConfig};
use keel_tests::plugin;

fn runtime_over(dir: &std::path::Path) -> Runtime {
    let cache_dir = Dir::open_ambient_dir(dir, ambient_authority()).expect("open cache dir");
    Runtime::new(RuntimeConfig::default(), Some(cache_dir)).expect("plugin runtime starts")
}

#[test]
fn second_load_uses_the_cache_file() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let component = plugin("scheduler-default");

    let first = runtime_over(dir.path());
    first.load_scheduler(&component, &[]).expect("loads");
    let cache = first.cache().expect("cache configured");
    assert_eq!((cache.compiles(), cache.hits()), (1, 0));
    let entry = dir.path().join(CompileCache::entry_name(first.engine(), &component));
    assert!(entry.is_file(), "cache entry written");
    let written = std::fs::metadata(&entry).expect("entry").modified().expect("mtime");

    first.load_scheduler(&component, &[]).expect("loads again");
    assert_eq!((cache.compiles(), cache.hits()), (1, 1));
    drop(first);

    let restarted = runtime_over(dir.path());
    restarted.load_scheduler(&component, &[]).expect("loads after restart");
    let cache = restarted.cache().expect("cache configured");
    assert_eq!((cache.compiles(), cache.hits()), (0, 1), "a restart does not recompile");
    assert_eq!(std::fs::metadata(&entry).expect("entry").modified().expect("mtime"), written);
}

#[tokio::test]
async fn a_corrupt_cache_entry_is_recompiled_not_trusted() {
    let dir = tempfile::tempdir().expect("temporary dir");
    let component = plugin("license-ed25519");
    let runtime = runtime_over(dir.path());
    let entry = dir.path().join(CompileCache::entry_name(runtime.engine(), &component));
    std::fs::write(&entry, b"not a compiled component").expect("plant a corrupt entry");

    let validator = runtime.load_license(&component, &[]).expect("loads despite the corrupt entry");
    assert!(validator.validate("x", "nomad", 0).await.features().is_empty());
    let cache = runtime.cache().expect("cache configured");
    assert_eq!((cache.compiles(), cache.hits()), (1, 0));
    assert_ne!(std::fs::read(&entry).expect("entry"), b"not a compiled component", "entry rewritten");
}
