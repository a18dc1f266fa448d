//! An allocation's directory under the client's data dir, laid out as
//! Nomad lays it out:
//!
//! ```text
//! <data_dir>/alloc/<alloc id>/
//!     alloc/            shared by the allocation's tasks (NOMAD_ALLOC_DIR)
//!         data/ tmp/
//!         logs/         <task>.stdout.0, <task>.stderr.0
//!     <task>/
//!         local/        the task's own (NOMAD_TASK_DIR)
//!         secrets/ tmp/
//! ```
//!
//! A task runs in its `<task>/` directory.

use std::io;
use std::path::{Path, PathBuf};

pub use keel_api::task::LogKind;

/// The directory of one allocation.
#[derive(Debug, Clone)]
pub struct AllocDir {
    root: PathBuf,
}

impl AllocDir {
    /// The directory of allocation `id` under `allocs` (`<data_dir>/alloc`).
    /// An id that is not one path component has no directory.
    pub fn new(allocs: &Path, id: &str) -> Option<Self> {
        let plain = !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\0']);
        plain.then(|| Self { root: allocs.join(id) })
    }

    /// Creates the shared directories and those of each task.
    pub fn build<'a>(&self, tasks: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        for shared in ["data", "tmp", "logs"] {
            std::fs::create_dir_all(self.shared().join(shared))?;
        }
        for task in tasks {
            for own in ["local", "secrets", "tmp"] {
                std::fs::create_dir_all(self.task_dir(task).join(own))?;
            }
        }
        Ok(())
    }

    /// Whether the directory is there.
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    /// `alloc/`: what the allocation's tasks share.
    pub fn shared(&self) -> PathBuf {
        self.root.join("alloc")
    }

    /// `<task>/`, where the task runs.
    pub fn task_dir(&self, task: &str) -> PathBuf {
        self.root.join(task)
    }

    /// `<task>/local/`.
    pub fn task_local(&self, task: &str) -> PathBuf {
        self.task_dir(task).join("local")
    }

    /// `alloc/logs/<task>.<kind>.0`.
    pub fn log(&self, task: &str, kind: LogKind) -> PathBuf {
        self.shared().join("logs").join(format!("{task}.{}.0", kind.name()))
    }

    /// Removes the directory and everything in it.
    pub fn destroy(&self) -> io::Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_nomads_and_ids_cannot_leave_the_allocs_dir() {
        let data = tempfile::tempdir().expect("a temp dir");
        let dir = AllocDir::new(data.path(), "a1").expect("a plain id");
        dir.build(["web", "sidecar"]).expect("built");
        for made in ["alloc/data", "alloc/tmp", "alloc/logs", "web/local", "web/secrets", "sidecar/tmp"] {
            assert!(data.path().join("a1").join(made).is_dir(), "{made}");
        }
        assert_eq!(dir.log("web", LogKind::Stderr), data.path().join("a1/alloc/logs/web.stderr.0"));
        for hostile in ["", ".", "..", "../a1", "a/b"] {
            assert!(AllocDir::new(data.path(), hostile).is_none(), "{hostile:?}");
        }
        dir.destroy().expect("removed");
        assert!(!dir.exists());
        dir.destroy().expect("removing what is gone is no error");
        assert_eq!(LogKind::parse("stdout"), Some(LogKind::Stdout));
        assert_eq!(LogKind::parse("stdin"), None);
    }
}
