//! The data directory: names stay inside it, small files are replaced
//! whole, and the node ID is created once and then kept.

use anyhow::{Result, ensure};
use keel_state::data_dir::NODE_ID_FILE;
use keel_state::{DataDir, DataDirError};

#[test]
fn open_creates_the_directory_and_its_parents() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("a").join("b");
    DataDir::open(&path)?;
    ensure!(path.is_dir());
    Ok(())
}

#[test]
fn subdirectories_are_created_once_and_must_be_plain_names() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let data_dir = DataDir::open(tmp.path())?;
    data_dir.subdir("plugin-cache")?.write("x", b"1")?;
    assert_eq!(data_dir.subdir("plugin-cache")?.read("x")?, b"1");
    for bad in ["..", "../escape", "a/b", "/etc", ""] {
        ensure!(matches!(data_dir.subdir(bad), Err(DataDirError::BadName(_))), "{bad:?} accepted");
    }
    Ok(())
}

#[test]
fn small_files_are_replaced_whole_and_bounded() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let data_dir = DataDir::open(tmp.path())?;
    assert_eq!(data_dir.read_small_file("marker")?, None);
    data_dir.write_small_file("marker", b"first")?;
    data_dir.write_small_file("marker", b"second")?;
    assert_eq!(data_dir.read_small_file("marker")?, Some(b"second".to_vec()));
    let names: Vec<_> = std::fs::read_dir(tmp.path())?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    assert_eq!(names, ["marker"], "a temporary file was left behind");

    let big = vec![b'x'; keel_state::data_dir::SMALL_FILE_MAX_BYTES as usize + 1];
    std::fs::write(tmp.path().join("big"), big)?;
    ensure!(matches!(data_dir.read_small_file("big"), Err(DataDirError::TooLarge { .. })));
    Ok(())
}

#[test]
fn the_node_id_is_a_uuid_created_once() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let first = DataDir::open(tmp.path())?.node_id()?;
    ensure!(uuid::Uuid::parse_str(&first).is_ok(), "{first:?} is not a uuid");
    assert_eq!(DataDir::open(tmp.path())?.node_id()?, first);

    std::fs::write(tmp.path().join(NODE_ID_FILE), "not-a-uuid")?;
    ensure!(matches!(DataDir::open(tmp.path())?.node_id(), Err(DataDirError::BadNodeId(_))));
    Ok(())
}
