//! The agent's data directory: the one place on disk the host writes to.
//!
//! The directory is opened once, as a `cap_std::fs::Dir`, and every file
//! below it is reached through that handle with a name checked by
//! [`DataDir::subdir`] or the small-file helpers. No path that comes from a
//! request can therefore name anything outside it.
//!
//! The one exception is sled, which only accepts a path. [`DataDir::open_sled`]
//! creates the fixed subdirectory [`RAFT_DIR`] through the `Dir` and then
//! hands sled the configured root joined with that constant name. That is
//! the only path this module ever builds, and nothing in it comes from
//! outside the process.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

/// The subdirectory that holds the sled database with the Raft log and the
/// state machine.
pub const RAFT_DIR: &str = "raft";

/// The file that holds this server's node ID.
pub const NODE_ID_FILE: &str = "node-id";

/// The files that hold this client's node ID and secret.
pub const CLIENT_ID_FILE: &str = "client-id";
pub const CLIENT_SECRET_FILE: &str = "client-secret";

/// The largest file the small-file helpers read. They are meant for
/// identity and marker files, not data.
pub const SMALL_FILE_MAX_BYTES: u64 = 64 * 1024;

/// The longest name accepted for a subdirectory or a small file.
const NAME_MAX_BYTES: usize = 128;

/// The agent's data directory, opened once.
pub struct DataDir {
    /// The canonical path the directory was opened at; only used to build
    /// the one path sled needs.
    root: PathBuf,
    dir: Dir,
}

/// A data-directory operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// The directory itself could not be created or opened.
    #[error("open data directory {path:?}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    /// A name that is not a single plain path component.
    #[error("data directory entry {0:?}: not a plain file name")]
    BadName(String),
    /// An operation on an entry inside the directory failed.
    #[error("{op} {name:?} in the data directory: {source}")]
    Io { op: &'static str, name: String, source: std::io::Error },
    /// A small file is larger than [`SMALL_FILE_MAX_BYTES`].
    #[error("read {name:?} in the data directory: larger than {SMALL_FILE_MAX_BYTES} bytes")]
    TooLarge { name: String },
    /// The node-id file does not hold a UUID.
    #[error("read a node id or secret from the data dir: {0:?} is not a uuid")]
    BadNodeId(String),
    /// sled refused to open its database.
    #[error("open sled database in {RAFT_DIR:?}: {0}")]
    Sled(#[from] sled::Error),
}

impl DataDir {
    /// Opens the data directory at `path`, creating it (and its parents) if
    /// it is missing. This is the only place the host uses ambient authority
    /// on the file system.
    pub fn open(path: impl AsRef<Path>) -> Result<DataDir, DataDirError> {
        let path = path.as_ref();
        let fail = |source| DataDirError::Open { path: path.to_owned(), source };
        Dir::create_ambient_dir_all(path, ambient_authority()).map_err(fail)?;
        let root = std::fs::canonicalize(path).map_err(fail)?;
        let dir = Dir::open_ambient_dir(&root, ambient_authority()).map_err(fail)?;
        Ok(DataDir { root, dir })
    }

    /// The directory handle itself.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// The canonical path the directory was opened at, for log messages.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens the subdirectory `name`, creating it if needed. `name` must be
    /// one plain path component: no separators, no `.` or `..`.
    pub fn subdir(&self, name: &str) -> Result<Dir, DataDirError> {
        check_name(name)?;
        let io = |op| move |source| DataDirError::Io { op, name: name.to_owned(), source };
        if let Err(error) = self.dir.create_dir(name)
            && error.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(io("create")(error));
        }
        self.dir.open_dir(name).map_err(io("open"))
    }

    /// Opens the sled database in the [`RAFT_DIR`] subdirectory with
    /// `config` (whose path is replaced).
    ///
    /// sled only takes a path, so this creates the subdirectory through the
    /// `Dir` first and then gives sled the canonical root joined with the
    /// constant [`RAFT_DIR`]: the only path the host ever builds.
    pub fn open_sled(&self, config: sled::Config) -> Result<sled::Db, DataDirError> {
        self.subdir(RAFT_DIR)?;
        Ok(config.path(self.root.join(RAFT_DIR)).open()?)
    }

    /// Reads the whole small file `name`, or `None` when it does not exist.
    /// Files over [`SMALL_FILE_MAX_BYTES`] are refused.
    pub fn read_small_file(&self, name: &str) -> Result<Option<Vec<u8>>, DataDirError> {
        check_name(name)?;
        let io = |source| DataDirError::Io { op: "read", name: name.to_owned(), source };
        let file = match self.dir.open(name) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io(error)),
        };
        let mut bytes = Vec::new();
        file.take(SMALL_FILE_MAX_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > SMALL_FILE_MAX_BYTES {
            return Err(DataDirError::TooLarge { name: name.to_owned() });
        }
        Ok(Some(bytes))
    }

    /// Replaces the small file `name` with `bytes` atomically: a reader
    /// sees the old content or the new, never a mix, even after a crash.
    pub fn write_small_file(&self, name: &str, bytes: &[u8]) -> Result<(), DataDirError> {
        check_name(name)?;
        let tmp = format!(".{name}.tmp");
        let io = |op| move |source| DataDirError::Io { op, name: name.to_owned(), source };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let mut file = self.dir.open_with(&tmp, &options).map_err(io("create"))?;
        file.write_all(bytes).map_err(io("write"))?;
        // The content must be on disk before the rename makes it visible,
        // or a crash could leave the new name pointing at an empty file.
        file.sync_all().map_err(io("sync"))?;
        self.dir.rename(&tmp, &self.dir, name).map_err(io("rename"))?;
        // Syncing the directory makes the rename itself durable. The `Dir`
        // handle may be a path-only descriptor, which cannot be synced, so
        // the directory is opened again for reading.
        let dir = self.dir.open_with(".", OpenOptions::new().read(true)).map_err(io("sync directory for"))?;
        dir.sync_all().map_err(io("sync directory for"))
    }

    /// This server's node ID: the UUID in [`NODE_ID_FILE`], or a fresh
    /// random one written there on first start.
    pub fn node_id(&self) -> Result<String, DataDirError> {
        self.uuid_file(NODE_ID_FILE)
    }

    /// This client's node ID and secret: the UUIDs in [`CLIENT_ID_FILE`]
    /// and [`CLIENT_SECRET_FILE`], fresh random ones on first start, so that
    /// a restarted client is the same node.
    pub fn client_identity(&self) -> Result<(String, String), DataDirError> {
        Ok((self.uuid_file(CLIENT_ID_FILE)?, self.uuid_file(CLIENT_SECRET_FILE)?))
    }

    /// The UUID in file `name`, or a fresh random one written there.
    fn uuid_file(&self, name: &str) -> Result<String, DataDirError> {
        if let Some(bytes) = self.read_small_file(name)? {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            return match uuid::Uuid::parse_str(&text) {
                Ok(id) => Ok(id.hyphenated().to_string()),
                Err(_) => Err(DataDirError::BadNodeId(text)),
            };
        }
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        self.write_small_file(name, format!("{id}\n").as_bytes())?;
        Ok(id)
    }
}

/// Accepts only a single, plain path component, so a name can never reach
/// outside the directory, even before cap-std checks it again.
fn check_name(name: &str) -> Result<(), DataDirError> {
    let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !plain || name.is_empty() || name.len() > NAME_MAX_BYTES || name.starts_with('.') {
        return Err(DataDirError::BadName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_one_plain_component() {
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "/abs", ".hidden", "a\0b", "é"] {
            assert!(matches!(check_name(bad), Err(DataDirError::BadName(_))), "{bad:?} accepted");
        }
        for good in ["raft", "plugin-cache", "node-id", "snap_1.tmp"] {
            assert!(check_name(good).is_ok(), "{good:?} refused");
        }
    }
}
