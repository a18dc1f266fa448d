//! The snapshot archive that `GET /v1/operator/snapshot` serves and
//! `PUT /v1/operator/snapshot` restores: `gzip(tar(meta.json, state.bin,
//! SHA256SUMS))`.
//!
//! - `meta.json` describes the snapshot ([`ArchiveMeta`]): the archive format
//!   version, the Keel version that wrote it, the Raft index and term, the
//!   membership and the creation time.
//! - `state.bin` is the serialized state, opaque to this module.
//! - `SHA256SUMS` holds one `<hex>  <name>` line for each of the other two
//!   files, as `sha256sum` writes them.
//!
//! [`write`] is deterministic: the same metadata and state give the same
//! bytes. [`read`] checks everything before it returns anything, so a
//! restore can refuse a bad archive before it touches the state: the gzip
//! stream to its trailer, the tar structure, the exact set of files, every
//! checksum, the metadata and its format version, and the unpacked size
//! against a limit that is enforced while decompressing, so a small archive
//! that unpacks to gigabytes fails after at most `limit` bytes. Every
//! [`ArchiveError`] is fit to be the body of a 400.

use std::io::{self, Read};

use base64::Engine as _;
use flate2::bufread::GzDecoder;
use flate2::{Compression, GzBuilder};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The archive format this server writes and the newest it reads.
/// Version 2 added installed plugins to the state; a version 1 archive
/// restores as a state without any.
pub const FORMAT_VERSION: u32 = 2;

/// The most a restored archive may unpack to: the limit that keeps a
/// restored state within one Raft entry (see `keel_api::limits`).
pub const MAX_UNPACKED_BYTES: u64 = keel_api::limits::RESTORE_UNPACK_MAX_BYTES;

/// The archive's metadata file.
pub const META_FILE: &str = "meta.json";
/// The archive's serialized state.
pub const STATE_FILE: &str = "state.bin";
/// The checksums of the other two files.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// The files of an archive, in the order [`write`] stores them.
const FILES: [&str; 3] = [META_FILE, STATE_FILE, SUMS_FILE];
/// The files that `SHA256SUMS` covers.
const SUMMED_FILES: [&str; 2] = [META_FILE, STATE_FILE];
/// Permissions of every stored file.
const FILE_MODE: u32 = 0o644;

/// `meta.json`: what a snapshot is of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveMeta {
    /// The archive format version; [`FORMAT_VERSION`] for archives written now.
    pub version: u32,
    /// The version of the Keel server that took the snapshot.
    pub keel_version: String,
    /// The Raft index of the last entry the state includes.
    pub index: u64,
    /// The Raft term of that entry.
    pub term: u64,
    /// The Raft membership as of that entry.
    pub membership: Vec<ArchiveServer>,
    /// When the snapshot was taken, RFC 3339 in UTC.
    pub created_at: String,
}

/// One server of the membership recorded in `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveServer {
    /// The server's raft ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// The server's RPC address, `ip:port`.
    pub address: String,
    /// The server's node name.
    pub name: String,
    pub voter: bool,
}

impl ArchiveMeta {
    /// Metadata in the current format, created at `created_at_unix_ms`.
    pub fn new(
        keel_version: impl Into<String>,
        index: u64,
        term: u64,
        membership: Vec<ArchiveServer>,
        created_at_unix_ms: i64,
    ) -> Self {
        Self {
            version: FORMAT_VERSION,
            keel_version: keel_version.into(),
            index,
            term,
            membership,
            created_at: keel_api::time::rfc3339_ms(created_at_unix_ms),
        }
    }

    /// The creation time in milliseconds since the Unix epoch, when
    /// `created_at` is a UTC time as [`keel_api::time::rfc3339_ms`] writes it.
    pub fn created_at_unix_ms(&self) -> Option<i64> {
        keel_api::time::parse_rfc3339_ms(&self.created_at)
    }

    /// The snapshot's identifier as Raft names snapshots:
    /// `<term>-<index>-<creation time in ms>`.
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.term, self.index, self.created_at_unix_ms().unwrap_or(0))
    }
}

/// Why an archive was refused. Every message is precise enough to be the
/// whole body of a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("snapshot archive is empty")]
    Empty,
    #[error("snapshot archive is not gzip data")]
    NotGzip,
    #[error("snapshot archive is truncated")]
    Truncated,
    #[error("snapshot archive is corrupt: {0}")]
    Corrupt(String),
    #[error("snapshot archive is not a tar archive: {0}")]
    NotTar(String),
    #[error("snapshot archive is missing {0}")]
    MissingFile(&'static str),
    #[error("snapshot archive has an unexpected file {0:?}")]
    UnexpectedFile(String),
    #[error("snapshot archive has {0} twice")]
    DuplicateFile(&'static str),
    #[error("snapshot archive checksum mismatch for {0}")]
    ChecksumMismatch(&'static str),
    #[error("snapshot archive has a bad SHA256SUMS: {0}")]
    BadSums(String),
    #[error("snapshot archive has a bad meta.json: {0}")]
    BadMeta(String),
    #[error("snapshot format version {found} is newer than this server supports ({supported})")]
    NewerFormat { found: u64, supported: u32 },
    #[error("snapshot archive unpacks to more than the {limit_bytes} bytes allowed")]
    TooLarge { limit_bytes: u64 },
}

/// Builds the archive for `meta` and the serialized `state`. The tar
/// headers carry nothing but the name, the size, mode 0644 and the
/// snapshot's creation time, so the output depends on the inputs only.
pub fn write(meta: &ArchiveMeta, state: &[u8]) -> Vec<u8> {
    let meta_json = serde_json::to_vec_pretty(meta).expect("archive metadata always serializes");
    let sums = format!("{}  {META_FILE}\n{}  {STATE_FILE}\n", sha256_hex(&meta_json), sha256_hex(state));
    let mtime = meta.created_at_unix_ms().map_or(0, |ms| u64::try_from(ms.div_euclid(1_000)).unwrap_or(0));
    pack(&[(META_FILE, &meta_json), (STATE_FILE, state), (SUMS_FILE, sums.as_bytes())], mtime)
}

/// Checks `archive` completely and returns its metadata and state. Nothing
/// is returned unless every check passes; no more than
/// `max_unpacked_bytes` are ever decompressed or held.
pub fn read(archive: &[u8], max_unpacked_bytes: u64) -> Result<(ArchiveMeta, Vec<u8>), ArchiveError> {
    match archive {
        [] => return Err(ArchiveError::Empty),
        [0x1f] => return Err(ArchiveError::Truncated),
        [0x1f, 0x8b, ..] => {}
        _ => return Err(ArchiveError::NotGzip),
    }
    let mut stream = Budget::new(GzDecoder::new(archive), max_unpacked_bytes);
    let files = unpack(&mut stream, max_unpacked_bytes).map_err(|problem| stream.explain(problem))?;
    drain_end_of_archive(&mut stream).map_err(|problem| stream.explain(problem))?;
    if !stream.inner.into_inner().is_empty() {
        return Err(ArchiveError::Corrupt("data after the end of the gzip stream".to_owned()));
    }
    let [meta_json, state, sums] = files;
    verify_sums(&sums, &[(META_FILE, &meta_json), (STATE_FILE, &state)])?;
    Ok((parse_meta(&meta_json)?, state))
}

/// The value of the HTTP `Digest` header for an archive:
/// `sha-256=<standard base64 of the SHA-256 of the gzip bytes>`.
pub fn digest_header(archive: &[u8]) -> String {
    format!("sha-256={}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(archive)))
}

/// gzip(tar(files)), each file with a deterministic header.
fn pack(files: &[(&str, &[u8])], mtime: u64) -> Vec<u8> {
    let gzip = GzBuilder::new().write(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gzip);
    for (name, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(name).expect("archive file names are short relative paths");
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(FILE_MODE);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_cksum();
        tar.append(&header, *data).expect("writing to memory cannot fail");
    }
    let gzip = tar.into_inner().expect("writing to memory cannot fail");
    gzip.finish().expect("writing to memory cannot fail")
}

/// A failure while unpacking, before it is known whether the gzip layer
/// or the size limit caused it.
#[derive(Debug)]
enum Problem {
    /// The archive itself is wrong, whatever the layer below did.
    Archive(ArchiveError),
    /// Reading or parsing the tar stream failed; the description is used
    /// only when the gzip layer and the limit are not to blame.
    Tar(String),
}

/// Reads the tar stream and returns the three files in [`FILES`] order.
/// An entry's declared size is checked against what is left of the limit
/// before anything is allocated for it.
fn unpack(stream: &mut impl Read, max_unpacked_bytes: u64) -> Result<[Vec<u8>; 3], Problem> {
    let mut files: [Option<Vec<u8>>; 3] = [None, None, None];
    let mut held_bytes: u64 = 0;
    let mut tar = tar::Archive::new(stream);
    let entries = tar.entries().map_err(|error| Problem::Tar(error.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| Problem::Tar(error.to_string()))?;
        let path = entry.path_bytes();
        let Some(slot) = FILES.iter().position(|name| name.as_bytes() == &*path) else {
            return Err(Problem::Archive(ArchiveError::UnexpectedFile(String::from_utf8_lossy(&path).into_owned())));
        };
        let name = FILES[slot];
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(Problem::Archive(ArchiveError::UnexpectedFile(name.to_owned())));
        }
        if files[slot].is_some() {
            return Err(Problem::Archive(ArchiveError::DuplicateFile(name)));
        }
        let size = entry.header().entry_size().map_err(|error| Problem::Tar(format!("{name}: {error}")))?;
        held_bytes = held_bytes
            .checked_add(size)
            .filter(|held| *held <= max_unpacked_bytes)
            .ok_or(Problem::Archive(ArchiveError::TooLarge { limit_bytes: max_unpacked_bytes }))?;
        // The buffer grows with the bytes that arrive, never to what the
        // header claims: a tiny archive must not force a large allocation.
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|error| Problem::Tar(format!("{name}: {error}")))?;
        if data.len() as u64 != size {
            return Err(Problem::Tar(format!("{name} is cut short: {} of {size} bytes", data.len())));
        }
        files[slot] = Some(data);
    }
    let [meta, state, sums] = files;
    let missing = |name| Problem::Archive(ArchiveError::MissingFile(name));
    Ok([meta.ok_or(missing(META_FILE))?, state.ok_or(missing(STATE_FILE))?, sums.ok_or(missing(SUMS_FILE))?])
}

/// Reads what follows the tar entries to the end of the gzip stream, which
/// also checks the gzip trailer (CRC and length). Only the zero blocks that
/// end a tar archive may be there.
fn drain_end_of_archive(stream: &mut impl Read) -> Result<(), Problem> {
    let mut block = [0_u8; 8 * 1024];
    loop {
        let read = stream.read(&mut block).map_err(|error| Problem::Tar(error.to_string()))?;
        if read == 0 {
            return Ok(());
        }
        if block[..read].iter().any(|byte| *byte != 0) {
            return Err(Problem::Archive(ArchiveError::NotTar("data after the end of the tar archive".to_owned())));
        }
    }
}

/// The decompressed stream, cut off after `max_unpacked_bytes`, which
/// remembers why it failed so the failure can be named whatever the tar
/// reader made of it.
struct Budget<'a> {
    inner: GzDecoder<&'a [u8]>,
    limit_bytes: u64,
    remaining_bytes: u64,
    exceeded: bool,
    gzip_error: Option<io::Error>,
}

impl<'a> Budget<'a> {
    fn new(inner: GzDecoder<&'a [u8]>, limit_bytes: u64) -> Self {
        Self { inner, limit_bytes, remaining_bytes: limit_bytes, exceeded: false, gzip_error: None }
    }

    /// The error to report for a failure: the size limit first, then the
    /// gzip layer, then the problem as the tar reader saw it.
    fn explain(&mut self, problem: Problem) -> ArchiveError {
        if self.exceeded {
            return ArchiveError::TooLarge { limit_bytes: self.limit_bytes };
        }
        if self.gzip_error.is_none() && matches!(problem, Problem::Tar(_)) {
            // The tar reader may have tripped over bytes that a damaged
            // gzip stream made up: reading the stream to its end (within
            // the limit) tells which layer is broken.
            let _ignored = io::copy(&mut *self, &mut io::sink());
        }
        if let Some(error) = &self.gzip_error {
            return gzip_error(error);
        }
        match problem {
            Problem::Archive(error) => error,
            Problem::Tar(description) => ArchiveError::NotTar(description),
        }
    }
}

impl Read for Budget<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte more than the budget is asked for, so that exceeding it
        // is noticed without decompressing anything further.
        let wanted = usize::try_from(self.remaining_bytes.saturating_add(1)).unwrap_or(usize::MAX).min(buf.len());
        let read = match self.inner.read(&mut buf[..wanted]) {
            Ok(read) => read,
            Err(error) => {
                let copy = io::Error::new(error.kind(), error.to_string());
                self.gzip_error.get_or_insert(copy);
                return Err(error);
            }
        };
        if read as u64 > self.remaining_bytes {
            self.exceeded = true;
            self.remaining_bytes = 0;
            return Err(io::Error::other("snapshot archive exceeds the unpacked size limit"));
        }
        self.remaining_bytes -= read as u64;
        Ok(read)
    }
}

/// Names a failure of the gzip decoder.
fn gzip_error(error: &io::Error) -> ArchiveError {
    match error.kind() {
        io::ErrorKind::UnexpectedEof => ArchiveError::Truncated,
        _ => ArchiveError::Corrupt(error.to_string()),
    }
}

/// Checks `SHA256SUMS` against the files it covers: it must list each of
/// them exactly once and nothing else, and every hash must match.
fn verify_sums(sums: &[u8], files: &[(&'static str, &[u8])]) -> Result<(), ArchiveError> {
    let bad = |reason: String| ArchiveError::BadSums(reason);
    let text = std::str::from_utf8(sums).map_err(|_| bad("not UTF-8 text".to_owned()))?;
    let mut listed: Vec<(&'static str, [u8; 32])> = Vec::new();
    for (number, line) in text.lines().enumerate().map(|(index, line)| (index + 1, line)) {
        let Some((hash, name)) = line.split_once("  ") else {
            return Err(bad(format!("line {number} is not \"<sha-256 in hex>  <file name>\"")));
        };
        let Some(summed) = SUMMED_FILES.into_iter().find(|summed| *summed == name) else {
            return Err(bad(format!("line {number} names {name:?}, which is not a checksummed file")));
        };
        let mut digest = [0_u8; 32];
        hex::decode_to_slice(hash, &mut digest)
            .map_err(|_| bad(format!("line {number}: {hash:?} is not a SHA-256 in hex")))?;
        if listed.iter().any(|(known, _)| *known == summed) {
            return Err(bad(format!("line {number} lists {summed} a second time")));
        }
        listed.push((summed, digest));
    }
    for (name, data) in files {
        let Some((_, expected)) = listed.iter().find(|(listed_name, _)| listed_name == name) else {
            return Err(bad(format!("{name} is not listed")));
        };
        if Sha256::digest(data).as_slice() != expected {
            return Err(ArchiveError::ChecksumMismatch(name));
        }
    }
    Ok(())
}

/// Parses `meta.json`, checking the format version before the rest of the
/// shape so that a newer format is named as such even when its fields differ.
fn parse_meta(meta_json: &[u8]) -> Result<ArchiveMeta, ArchiveError> {
    let bad = |reason: String| ArchiveError::BadMeta(reason);
    let value: serde_json::Value = serde_json::from_slice(meta_json).map_err(|error| bad(error.to_string()))?;
    let version = value
        .get("Version")
        .and_then(serde_json::Value::as_u64)
        .filter(|version| *version > 0)
        .ok_or_else(|| bad("Version is missing or not a positive integer".to_owned()))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(ArchiveError::NewerFormat { found: version, supported: FORMAT_VERSION });
    }
    serde_json::from_value(value).map_err(|error| bad(error.to_string()))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Lets tests build archives with arbitrary contents the way [`write`] does.
#[cfg(test)]
fn pack_for_test(files: &[(&str, &[u8])]) -> Vec<u8> {
    pack(files, 0)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    const LIMIT: u64 = 1 << 20;

    fn meta() -> ArchiveMeta {
        let membership = vec![
            ArchiveServer {
                id: "7d2e1c7a-0000-4000-8000-000000000001".to_owned(),
                address: "127.0.0.1:4647".to_owned(),
                name: "one.global".to_owned(),
                voter: true,
            },
            ArchiveServer {
                id: "7d2e1c7a-0000-4000-8000-000000000002".to_owned(),
                address: "127.0.0.2:4647".to_owned(),
                name: "two.global".to_owned(),
                voter: false,
            },
        ];
        ArchiveMeta::new("0.1.0", 42, 3, membership, 1_764_000_000_250)
    }

    fn state() -> Vec<u8> {
        br#"{"autopilot":null,"scheduler":{"SchedulerAlgorithm":"spread"},"license":null}"#.to_vec()
    }

    fn refused(archive: &[u8]) -> ArchiveError {
        match read(archive, LIMIT) {
            Ok((meta, _)) => panic!("the archive should be refused, read {meta:?}"),
            Err(error) => error,
        }
    }

    /// The three files of a good archive, to change one before packing.
    fn good_files() -> Vec<(String, Vec<u8>)> {
        let meta_json = serde_json::to_vec_pretty(&meta()).expect("serializes");
        let sums = format!("{}  meta.json\n{}  state.bin\n", sha256_hex(&meta_json), sha256_hex(&state()));
        vec![
            ("meta.json".to_owned(), meta_json),
            ("state.bin".to_owned(), state()),
            ("SHA256SUMS".to_owned(), sums.into_bytes()),
        ]
    }

    fn pack_files(files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(name, data)| (name.as_str(), data.as_slice())).collect();
        pack_for_test(&borrowed)
    }

    /// A deterministic stream of bytes that looks random.
    fn noise(length: usize, mut seed: u64) -> Vec<u8> {
        (0..length)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn an_archive_round_trips() {
        let archive = write(&meta(), &state());
        let (read_meta, read_state) = read(&archive, LIMIT).expect("a written archive reads back");
        assert_eq!(read_meta, meta());
        assert_eq!(read_state, state());
        assert_eq!(read_meta.created_at, "2025-11-24T16:00:00.250Z");
        assert_eq!(read_meta.id(), "3-42-1764000000250");
    }

    #[test]
    fn an_empty_state_round_trips() {
        let archive = write(&meta(), &[]);
        assert_eq!(read(&archive, LIMIT).expect("reads").1, Vec::<u8>::new());
    }

    #[test]
    fn writing_is_deterministic_with_plain_headers() {
        let archive = write(&meta(), &state());
        assert_eq!(archive, write(&meta(), &state()));
        let mut tar = tar::Archive::new(GzDecoder::new(archive.as_slice()));
        let mut names = Vec::new();
        for entry in tar.entries().expect("a tar stream") {
            let entry = entry.expect("an entry");
            let header = entry.header();
            assert_eq!(header.mode().expect("mode"), 0o644);
            assert_eq!(header.mtime().expect("mtime"), 1_764_000_000);
            assert_eq!((header.uid().expect("uid"), header.gid().expect("gid")), (0, 0));
            names.push(String::from_utf8(entry.path_bytes().into_owned()).expect("utf-8"));
        }
        assert_eq!(names, ["meta.json", "state.bin", "SHA256SUMS"]);
    }

    #[test]
    fn meta_json_has_the_documented_shape() {
        let json = serde_json::to_value(meta()).expect("serializes");
        assert_eq!(json["Version"], 2);
        assert_eq!(json["KeelVersion"], "0.1.0");
        assert_eq!((json["Index"].as_u64(), json["Term"].as_u64()), (Some(42), Some(3)));
        assert_eq!(json["Membership"][1]["ID"], "7d2e1c7a-0000-4000-8000-000000000002");
        assert_eq!(json["Membership"][1]["Voter"], false);
        assert_eq!(json["CreatedAt"], "2025-11-24T16:00:00.250Z");
    }

    #[test]
    fn sums_are_what_sha256sum_writes() {
        let archive = write(&meta(), b"");
        let mut tar = tar::Archive::new(GzDecoder::new(archive.as_slice()));
        let mut sums = String::new();
        for entry in tar.entries().expect("a tar stream") {
            let mut entry = entry.expect("an entry");
            if &*entry.path_bytes() == b"SHA256SUMS" {
                entry.read_to_string(&mut sums).expect("text");
            }
        }
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(sums.ends_with(&format!("\n{empty}  state.bin\n")), "{sums}");
        assert!(sums.lines().next().is_some_and(|line| line.ends_with("  meta.json") && line.len() == 64 + 11));
    }

    #[test]
    fn the_digest_header_is_base64_sha256_of_the_bytes() {
        assert_eq!(digest_header(b""), "sha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        let archive = write(&meta(), &state());
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&archive));
        assert_eq!(digest_header(&archive), format!("sha-256={expected}"));
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(refused(b""), ArchiveError::Empty);
    }

    #[test]
    fn random_bytes_are_not_gzip() {
        for seed in 1..20 {
            let mut bytes = noise(4096, seed);
            if bytes[0] == 0x1f {
                bytes[0] = 0;
            }
            assert_eq!(refused(&bytes), ArchiveError::NotGzip, "seed {seed}");
        }
        assert_eq!(refused(b"{\"Index\": 1}"), ArchiveError::NotGzip);
        assert_eq!(refused(&[0x1f, 0x00, 0x08]), ArchiveError::NotGzip);
    }

    #[test]
    fn random_bytes_behind_a_gzip_magic_are_corrupt() {
        for seed in 1..20 {
            let mut bytes = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
            bytes.extend(noise(4096, seed));
            let error = refused(&bytes);
            assert!(matches!(error, ArchiveError::Corrupt(_) | ArchiveError::Truncated), "seed {seed}: {error}");
        }
    }

    #[test]
    fn every_truncation_is_refused_as_truncated() {
        let archive = write(&meta(), &state());
        for length in 1..archive.len() {
            assert_eq!(refused(&archive[..length]), ArchiveError::Truncated, "cut at {length} of {}", archive.len());
        }
    }

    #[test]
    fn gzip_data_that_is_not_tar_is_refused() {
        let mut gzip = GzBuilder::new().write(Vec::new(), Compression::default());
        gzip.write_all(&noise(2048, 7)).expect("memory");
        let error = refused(&gzip.finish().expect("memory"));
        assert!(matches!(error, ArchiveError::NotTar(_)), "{error}");
    }

    #[test]
    fn a_flipped_state_byte_is_caught_by_the_checksum() {
        let mut files = good_files();
        files[1].1[5] ^= 0x01;
        assert_eq!(refused(&pack_files(&files)), ArchiveError::ChecksumMismatch("state.bin"));
    }

    #[test]
    fn a_changed_meta_json_is_caught_by_the_checksum() {
        let mut files = good_files();
        files[0].1 = serde_json::to_vec_pretty(&ArchiveMeta { index: 43, ..meta() }).expect("serializes");
        assert_eq!(refused(&pack_files(&files)), ArchiveError::ChecksumMismatch("meta.json"));
    }

    #[test]
    fn a_tampered_sums_file_is_refused() {
        let mut files = good_files();
        let digit = &mut files[2].1[0];
        *digit = if *digit == b'0' { b'1' } else { b'0' };
        assert_eq!(refused(&pack_files(&files)), ArchiveError::ChecksumMismatch("meta.json"));

        let state_sum = sha256_hex(&state());
        let meta_sum = sha256_hex(&files[0].1);
        let cases: [(String, &str); 7] = [
            (String::new(), "meta.json is not listed"),
            (format!("{meta_sum}  meta.json\n"), "state.bin is not listed"),
            (format!("{meta_sum} meta.json\n"), "line 1 is not"),
            (format!("{meta_sum}  meta.json\n{state_sum}  state.bin\n{state_sum}  state.bin\n"), "a second time"),
            (format!("{meta_sum}  meta.json\n{state_sum}  other.bin\n"), "line 2 names \"other.bin\""),
            (format!("{}  meta.json\n", &meta_sum[..60]), "is not a SHA-256 in hex"),
            ("\u{0}\u{ff}".to_owned(), "line 1 is not"),
        ];
        for (sums, reason) in cases {
            files[2].1 = sums.into_bytes();
            match refused(&pack_files(&files)) {
                ArchiveError::BadSums(found) => assert!(found.contains(reason), "{found:?} should say {reason:?}"),
                other => panic!("expected a bad SHA256SUMS for {reason:?}, got {other}"),
            }
        }
        files[2].1 = vec![0xff, 0xfe];
        assert_eq!(refused(&pack_files(&files)), ArchiveError::BadSums("not UTF-8 text".to_owned()));
    }

    #[test]
    fn a_missing_file_is_named() {
        for (index, name) in FILES.iter().enumerate() {
            let mut files = good_files();
            files.remove(index);
            assert_eq!(refused(&pack_files(&files)), ArchiveError::MissingFile(name), "without {name}");
        }
    }

    #[test]
    fn an_extra_or_repeated_file_is_named() {
        let mut files = good_files();
        files.push(("notes.txt".to_owned(), b"hello".to_vec()));
        let error = refused(&pack_files(&files));
        assert_eq!(error, ArchiveError::UnexpectedFile("notes.txt".to_owned()));
        assert_eq!(error.to_string(), "snapshot archive has an unexpected file \"notes.txt\"");

        // tar tools often write `./name`; the header's bytes are compared
        // as they are, so that is not the expected file.
        let mut header = tar::Header::new_ustar();
        let raw_name = b"./state.bin";
        header.as_ustar_mut().expect("a ustar header").name[..raw_name.len()].copy_from_slice(raw_name);
        header.set_size(0);
        header.set_cksum();
        let mut tar = tar::Builder::new(GzBuilder::new().write(Vec::new(), Compression::default()));
        tar.append(&header, &[][..]).expect("memory");
        let archive = tar.into_inner().expect("memory").finish().expect("memory");
        assert_eq!(refused(&archive), ArchiveError::UnexpectedFile("./state.bin".to_owned()));

        let mut files = good_files();
        files.push(("state.bin".to_owned(), state()));
        assert_eq!(refused(&pack_files(&files)), ArchiveError::DuplicateFile("state.bin"));
    }

    #[test]
    fn a_directory_entry_is_unexpected() {
        let mut gzip_tar = tar::Builder::new(GzBuilder::new().write(Vec::new(), Compression::default()));
        let mut header = tar::Header::new_ustar();
        header.set_path("state.bin").expect("short");
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        header.set_cksum();
        gzip_tar.append(&header, &[][..]).expect("memory");
        let archive = gzip_tar.into_inner().expect("memory").finish().expect("memory");
        assert_eq!(refused(&archive), ArchiveError::UnexpectedFile("state.bin".to_owned()));
    }

    #[test]
    fn a_version_one_archive_still_reads() {
        let archive = write(&ArchiveMeta { version: 1, ..meta() }, &state());
        let (read_meta, read_state) = read(&archive, LIMIT).expect("a version 1 archive reads");
        assert_eq!((read_meta.version, read_state), (1, state()));
    }

    #[test]
    fn a_newer_format_is_refused_naming_both_versions() {
        let archive = write(&ArchiveMeta { version: 3, ..meta() }, &state());
        let error = refused(&archive);
        assert_eq!(error, ArchiveError::NewerFormat { found: 3, supported: 2 });
        assert_eq!(error.to_string(), "snapshot format version 3 is newer than this server supports (2)");
    }

    #[test]
    fn a_newer_format_with_a_different_shape_is_still_named_newer() {
        let meta_json = br#"{"Version": 7, "Everything": "changed"}"#.to_vec();
        let sums = format!("{}  meta.json\n{}  state.bin\n", sha256_hex(&meta_json), sha256_hex(&state()));
        let files = [("meta.json", meta_json.as_slice()), ("state.bin", &state()), ("SHA256SUMS", sums.as_bytes())];
        assert_eq!(refused(&pack_for_test(&files)), ArchiveError::NewerFormat { found: 7, supported: 2 });
    }

    #[test]
    fn a_bad_meta_json_is_refused() {
        for (meta_json, reason) in [
            (&b"not json"[..], "expected ident"),
            (br#"{"Version": 0}"#, "Version is missing"),
            (br#"{"Index": 3}"#, "Version is missing"),
            (br#"{"Version": 1, "Index": 3}"#, "missing field"),
        ] {
            let sums = format!("{}  meta.json\n{}  state.bin\n", sha256_hex(meta_json), sha256_hex(&state()));
            let files = [("meta.json", meta_json), ("state.bin", &state()), ("SHA256SUMS", sums.as_bytes())];
            match refused(&pack_for_test(&files)) {
                ArchiveError::BadMeta(found) => assert!(found.contains(reason), "{found:?} should say {reason:?}"),
                other => panic!("expected a bad meta.json for {reason:?}, got {other}"),
            }
        }
    }

    #[test]
    fn a_state_over_the_limit_is_refused() {
        let big_state = noise(64 * 1024, 3);
        let archive = write(&meta(), &big_state);
        assert_eq!(read(&archive, 16 * 1024), Err(ArchiveError::TooLarge { limit_bytes: 16 * 1024 }));
        assert!(read(&archive, 80 * 1024).is_ok());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 64 MiB of zeros declared honestly in the tar header compress to
        // about 64 KiB; reading must stop after the limit.
        const BOMB_BYTES: u64 = 64 << 20;
        let mut tar = tar::Builder::new(GzBuilder::new().write(Vec::new(), Compression::fast()));
        let mut header = tar::Header::new_ustar();
        header.set_path("state.bin").expect("short");
        header.set_size(BOMB_BYTES);
        header.set_cksum();
        tar.append(&header, io::repeat(0).take(BOMB_BYTES)).expect("memory");
        let bomb = tar.into_inner().expect("memory").finish().expect("memory");
        assert!(bomb.len() < 1 << 20, "the bomb is small: {} bytes", bomb.len());
        assert_eq!(read(&bomb, LIMIT), Err(ArchiveError::TooLarge { limit_bytes: LIMIT }));
    }

    #[test]
    fn a_lying_size_is_refused_before_allocation() {
        // The header claims a terabyte that the stream does not hold.
        let mut header = tar::Header::new_ustar();
        header.set_path("state.bin").expect("short");
        header.set_size(1 << 40);
        header.set_cksum();
        let mut gzip = GzBuilder::new().write(Vec::new(), Compression::default());
        gzip.write_all(header.as_bytes()).expect("memory");
        gzip.write_all(&[0; 1024]).expect("memory");
        let archive = gzip.finish().expect("memory");
        assert_eq!(read(&archive, LIMIT), Err(ArchiveError::TooLarge { limit_bytes: LIMIT }));
    }

    #[test]
    fn a_bad_gzip_checksum_is_corrupt() {
        let mut archive = write(&meta(), &state());
        let crc_at = archive.len() - 8;
        archive[crc_at] ^= 0xff;
        let error = refused(&archive);
        assert!(matches!(error, ArchiveError::Corrupt(_)), "{error}");
    }

    #[test]
    fn data_after_the_gzip_stream_is_corrupt() {
        let mut archive = write(&meta(), &state());
        archive.extend_from_slice(b"trailing");
        assert_eq!(refused(&archive), ArchiveError::Corrupt("data after the end of the gzip stream".to_owned()));
        let mut twice = write(&meta(), &state());
        twice.extend(write(&meta(), &state()));
        assert_eq!(refused(&twice), ArchiveError::Corrupt("data after the end of the gzip stream".to_owned()));
    }

    #[test]
    fn data_after_the_tar_end_is_refused() {
        let archive = write(&meta(), &state());
        let mut tar_bytes = Vec::new();
        GzDecoder::new(archive.as_slice()).read_to_end(&mut tar_bytes).expect("decodes");
        tar_bytes.extend_from_slice(b"garbage after the end");
        let mut gzip = GzBuilder::new().write(Vec::new(), Compression::default());
        gzip.write_all(&tar_bytes).expect("memory");
        let error = refused(&gzip.finish().expect("memory"));
        assert_eq!(error, ArchiveError::NotTar("data after the end of the tar archive".to_owned()));
    }

    #[test]
    fn an_odd_creation_time_still_names_the_snapshot() {
        let odd = ArchiveMeta { created_at: "yesterday".to_owned(), ..meta() };
        assert_eq!(odd.id(), "3-42-0");
        let archive = write(&odd, &state());
        assert_eq!(read(&archive, LIMIT).expect("reads").0.created_at, "yesterday");
    }

    #[test]
    fn errors_read_as_reasons() {
        assert_eq!(ArchiveError::MissingFile("SHA256SUMS").to_string(), "snapshot archive is missing SHA256SUMS");
        assert_eq!(
            ArchiveError::ChecksumMismatch("state.bin").to_string(),
            "snapshot archive checksum mismatch for state.bin"
        );
        assert_eq!(
            ArchiveError::TooLarge { limit_bytes: 10 }.to_string(),
            "snapshot archive unpacks to more than the 10 bytes allowed"
        );
    }
}
