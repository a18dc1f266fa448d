//! `keel operator snapshot save | restore | inspect`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Subcommand;
use keel_state::archive::{self, ArchiveMeta, ArchiveServer};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::http::{ClientArgs, MAX_SNAPSHOT_BYTES};
use super::progress::{stderr_is_terminal, transfer_bar};
use super::table::{key_values, table};

const SNAPSHOT_PATH: &str = "/v1/operator/snapshot";
/// The most `inspect` unpacks, and the largest file it reads.
const INSPECT_MAX_BYTES: u64 = 1 << 30;

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Saves a snapshot of the cluster state to FILE, checked against the
    /// server's Digest header before FILE is written.
    Save {
        /// Where to write the snapshot.
        file: PathBuf,
    },
    /// Replaces the cluster state with the snapshot in FILE.
    Restore {
        /// The snapshot to restore.
        file: PathBuf,
    },
    /// Checks the snapshot in FILE and prints what it holds; needs no agent.
    Inspect {
        /// The snapshot to inspect.
        file: PathBuf,
    },
}

pub fn run(args: &ClientArgs, command: SnapshotCommand) -> anyhow::Result<()> {
    match command {
        SnapshotCommand::Save { file } => {
            let client = args.client()?;
            let mut download = client.download(SNAPSHOT_PATH).context("save a snapshot")?;
            let digest = download.header("Digest").map(str::to_owned);
            let expected = expected_sha256(digest.as_deref()).context("save a snapshot")?;
            let bar = transfer_bar("Saving", download.content_length(), stderr_is_terminal());
            let outcome = save_verified(&mut bar.wrap_read(download.reader(MAX_SNAPSHOT_BYTES)), &file, &expected);
            bar.finish_and_clear();
            outcome.with_context(|| format!("save a snapshot to {}", file.display()))?;
            println!("State file written to {}", file.display());
        }
        SnapshotCommand::Restore { file } => {
            let client = args.client()?;
            let source = File::open(&file).with_context(|| format!("open {}", file.display()))?;
            let length = source.metadata().with_context(|| format!("read {}", file.display()))?.len();
            let bar = transfer_bar("Restoring", Some(length), stderr_is_terminal());
            let outcome = client.upload(SNAPSHOT_PATH, &mut bar.wrap_read(source), length);
            bar.finish_and_clear();
            outcome.with_context(|| format!("restore {}", file.display()))?;
            println!("Snapshot Restored");
        }
        SnapshotCommand::Inspect { file } => {
            let inspection = inspect(&file).with_context(|| format!("inspect {}", file.display()))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&inspection).expect("an inspection serializes"));
            } else {
                print!("{}", render_inspection(&inspection));
            }
        }
    }
    Ok(())
}

/// The SHA-256 a `Digest` header announces (RFC 3230: comma-separated
/// `algorithm=base64` pairs, the algorithm case-insensitive).
fn expected_sha256(header: Option<&str>) -> anyhow::Result<[u8; 32]> {
    let header = header.context("the server sent no Digest header")?;
    let encoded = header
        .split(',')
        .filter_map(|item| item.trim().split_once('='))
        .find(|(algorithm, _)| algorithm.trim().eq_ignore_ascii_case("sha-256"))
        .map(|(_, value)| value.trim())
        .with_context(|| format!("the Digest header {header:?} has no sha-256"))?;
    STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .with_context(|| format!("the Digest header's sha-256 {encoded:?} is not a base64 SHA-256"))
}

/// Streams `body` to `FILE.tmp`, then renames it to `file` if the bytes
/// hash to `expected`; otherwise removes it, leaving `file` untouched.
fn save_verified(body: &mut impl Read, file: &Path, expected: &[u8; 32]) -> anyhow::Result<()> {
    let temporary = temporary_path(file);
    let outcome = write_hashed(body, &temporary).and_then(|actual| {
        if actual != *expected {
            anyhow::bail!(
                "the snapshot does not match its Digest header (sent sha-256={}, received sha-256={})",
                STANDARD.encode(expected),
                STANDARD.encode(actual)
            );
        }
        fs::rename(&temporary, file).with_context(|| format!("rename {} to {}", temporary.display(), file.display()))
    });
    if outcome.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ignored = fs::remove_file(&temporary);
    }
    outcome
}

/// Writes `body` to `path`, flushed to disk, and returns its SHA-256.
fn write_hashed(body: &mut impl Read, path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut out = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = body.read(&mut buffer).context("receive the snapshot")?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read]).with_context(|| format!("write {}", path.display()))?;
    }
    out.sync_all().with_context(|| format!("write {}", path.display()))?;
    Ok(hasher.finalize().into())
}

/// `FILE.tmp`, beside `FILE`.
fn temporary_path(file: &Path) -> PathBuf {
    let mut name = OsString::from(file.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

/// What `inspect` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Inspection {
    #[serde(rename = "ID")]
    id: String,
    /// The serialized state's size in bytes.
    size: u64,
    /// The archive file's size in bytes.
    archive_size: u64,
    index: u64,
    term: u64,
    version: u32,
    keel_version: String,
    created_at: String,
    membership: Vec<ArchiveServer>,
}

impl Inspection {
    fn new(meta: ArchiveMeta, state_bytes: usize, archive_bytes: usize) -> Self {
        Self {
            id: meta.id(),
            size: state_bytes as u64,
            archive_size: archive_bytes as u64,
            index: meta.index,
            term: meta.term,
            version: meta.version,
            keel_version: meta.keel_version,
            created_at: meta.created_at,
            membership: meta.membership,
        }
    }
}

/// Reads and checks the archive in `file` as a restore would.
fn inspect(file: &Path) -> anyhow::Result<Inspection> {
    let source = File::open(file).context("open the file")?;
    let mut bytes = Vec::new();
    source.take(INSPECT_MAX_BYTES + 1).read_to_end(&mut bytes).context("read the file")?;
    if bytes.len() as u64 > INSPECT_MAX_BYTES {
        anyhow::bail!("the file is larger than {INSPECT_MAX_BYTES} bytes");
    }
    let (meta, state) = archive::read(&bytes, INSPECT_MAX_BYTES)?;
    Ok(Inspection::new(meta, state.len(), bytes.len()))
}

fn render_inspection(inspection: &Inspection) -> String {
    let summary = key_values(&[
        ("ID", inspection.id.clone()),
        ("Size", inspection.size.to_string()),
        ("Archive Size", inspection.archive_size.to_string()),
        ("Index", inspection.index.to_string()),
        ("Term", inspection.term.to_string()),
        ("Version", inspection.version.to_string()),
        ("Keel Version", inspection.keel_version.clone()),
        ("Created", inspection.created_at.clone()),
    ]);
    let rows: Vec<Vec<String>> = inspection
        .membership
        .iter()
        .map(|server| vec![server.name.clone(), server.id.clone(), server.address.clone(), server.voter.to_string()])
        .collect();
    format!("{summary}\nMembership\n{}", table(&["Name", "ID", "Address", "Voter"], &rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn the_digest_header_names_the_sha256() {
        let body = b"snapshot bytes";
        let header = archive::digest_header(body);
        assert_eq!(expected_sha256(Some(&header)).expect("valid"), sha256(body));
        let mixed = format!("MD5=HUXZLQLMuI/KZ5KDcJPcOA==, SHA-256={}", &header["sha-256=".len()..]);
        assert_eq!(expected_sha256(Some(&mixed)).expect("valid"), sha256(body));
        for bad in [None, Some("md5=HUXZLQLMuI/KZ5KDcJPcOA=="), Some("sha-256=not base64!"), Some("sha-256=AAAA")] {
            assert!(expected_sha256(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_verified_download_is_renamed_into_place() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("backup.snap");
        let body = b"the archive".to_vec();
        save_verified(&mut body.as_slice(), &file, &sha256(&body)).expect("the digest matches");
        assert_eq!(fs::read(&file).expect("written"), body);
        assert!(!temporary_path(&file).exists());
        assert_eq!(temporary_path(&file), dir.path().join("backup.snap.tmp"));
    }

    #[test]
    fn a_mismatched_download_writes_nothing() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("backup.snap");
        fs::write(&file, b"an older snapshot").expect("write");
        let error = save_verified(&mut &b"tampered"[..], &file, &sha256(b"original")).expect_err("mismatch");
        assert!(error.to_string().contains("does not match its Digest header"), "{error}");
        assert_eq!(fs::read(&file).expect("kept"), b"an older snapshot");
        assert!(!temporary_path(&file).exists());
    }

    fn meta() -> ArchiveMeta {
        let server = ArchiveServer {
            id: "7d2e-01".to_owned(),
            address: "127.0.0.1:4647".to_owned(),
            name: "one.global".to_owned(),
            voter: true,
        };
        ArchiveMeta::new("0.1.0", 42, 3, vec![server], 1_764_000_000_250)
    }

    #[test]
    fn inspect_reads_and_checks_the_archive() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("backup.snap");
        let bytes = archive::write(&meta(), b"{\"state\":true}");
        fs::write(&file, &bytes).expect("write");
        let inspection = inspect(&file).expect("a good archive");
        let rendered = render_inspection(&inspection);
        assert!(rendered.starts_with("ID           = 3-42-1764000000250\nSize         = 14\n"), "{rendered}");
        assert!(rendered.contains(&format!("Archive Size = {}\n", bytes.len())), "{rendered}");
        assert!(rendered.contains("Created      = 2025-11-24T16:00:00.250Z\n"), "{rendered}");
        assert!(
            rendered
                .ends_with("Name        ID       Address         Voter\none.global  7d2e-01  127.0.0.1:4647  true\n")
        );
        let json = serde_json::to_value(&inspection).expect("serializes");
        assert_eq!(json["ID"], "3-42-1764000000250");
        assert_eq!(json["KeelVersion"], "0.1.0");
        assert_eq!(json["Membership"][0]["Address"], "127.0.0.1:4647");

        fs::write(&file, &bytes[..bytes.len() / 2]).expect("write");
        let error = inspect(&file).expect_err("truncated");
        assert_eq!(error.to_string(), "snapshot archive is truncated");
    }
}
