//! What a client agent reports about its machine: CPU, memory, the disk of
//! its data dir, OS and architecture, and the task drivers it offers, as
//! Nomad's fingerprinters name them.

use std::collections::BTreeMap;
use std::path::Path;

use keel_api::node::{DriverInfo, NodeCpuResources, NodeDiskResources, NodeMemoryResources, NodeResources};

/// What the client found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) resources: NodeResources,
    pub(crate) drivers: BTreeMap<String, DriverInfo>,
}

/// The MHz a core is counted at when the machine does not say.
const UNKNOWN_CORE_MHZ: u64 = 1_000;

/// Fingerprints this machine. `raw_exec` says whether that driver is on.
pub(crate) fn fingerprint(data_dir: &Path, raw_exec: bool, now_rfc3339: &str) -> Fingerprint {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let mhz = read("/proc/cpuinfo").and_then(|text| core_mhz(&text));
    let memory_bytes = read("/proc/meminfo").and_then(|text| mem_total_bytes(&text)).unwrap_or(0);
    let disk_bytes = free_bytes(data_dir).unwrap_or(0);
    let per_core = mhz.unwrap_or(UNKNOWN_CORE_MHZ);
    let mut attributes = BTreeMap::from([
        ("kernel.name".to_owned(), std::env::consts::OS.to_owned()),
        ("cpu.arch".to_owned(), std::env::consts::ARCH.to_owned()),
        ("cpu.numcores".to_owned(), cores.to_string()),
        ("cpu.totalcompute".to_owned(), (per_core * u64::from(cores)).to_string()),
        ("memory.totalbytes".to_owned(), memory_bytes.to_string()),
        ("nomad.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
    ]);
    if let Some(mhz) = mhz {
        attributes.insert("cpu.frequency".to_owned(), mhz.to_string());
    }
    let kernel = read("/proc/sys/kernel/osrelease");
    let hostname = read("/proc/sys/kernel/hostname");
    for (key, value) in [("kernel.version", kernel), ("unique.hostname", hostname)] {
        if let Some(value) = value {
            attributes.insert(key.to_owned(), value.trim().to_owned());
        }
    }
    if let Some(os) = read("/etc/os-release").and_then(|text| os_release(&text, "ID")) {
        attributes.insert("os.name".to_owned(), os);
    }
    let mut drivers = BTreeMap::new();
    if raw_exec {
        attributes.insert("driver.raw_exec".to_owned(), "1".to_owned());
        drivers.insert(
            "raw_exec".to_owned(),
            DriverInfo {
                attributes: BTreeMap::from([("driver.raw_exec".to_owned(), "true".to_owned())]),
                detected: true,
                healthy: true,
                health_description: "Healthy".to_owned(),
                update_time: now_rfc3339.to_owned(),
            },
        );
    }
    let resources = NodeResources {
        cpu: NodeCpuResources { cpu_shares: per_core * u64::from(cores), total_cpu_cores: cores },
        memory: NodeMemoryResources { memory_mb: memory_bytes / (1024 * 1024) },
        disk: NodeDiskResources { disk_mb: disk_bytes / (1024 * 1024) },
    };
    Fingerprint { attributes, resources, drivers }
}

impl Fingerprint {
    /// What the client reports when its configuration overrides what was
    /// found, attributes included.
    pub(crate) fn with(mut self, capacity: crate::Capacity) -> Self {
        if let Some(mhz) = capacity.cpu_total_compute {
            self.resources.cpu.cpu_shares = mhz;
            self.attributes.insert("cpu.totalcompute".to_owned(), mhz.to_string());
        }
        if let Some(mb) = capacity.memory_total_mb {
            self.resources.memory.memory_mb = mb;
            self.attributes.insert("memory.totalbytes".to_owned(), (mb * 1024 * 1024).to_string());
        }
        self
    }
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The fastest core's MHz from `/proc/cpuinfo`.
fn core_mhz(cpuinfo: &str) -> Option<u64> {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("cpu MHz"))
        .filter_map(|line| line.split_once(':')?.1.trim().parse::<f64>().ok())
        .map(|mhz| mhz.round() as u64)
        .max()
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.trim_start_matches("MemTotal:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// A key of `/etc/os-release`, unquoted.
fn os_release(text: &str, key: &str) -> Option<String> {
    let value = text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='))?;
    Some(value.trim().trim_matches('"').to_owned())
}

/// The bytes free to unprivileged users on the file system of `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` a writable
    // statvfs; the call writes `stat` only when it returns 0.
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return None;
        }
        stat.assume_init()
    };
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_memory_and_os_are_read_as_linux_writes_them() {
        let cpuinfo = "processor\t: 0\ncpu MHz\t\t: 2399.998\nprocessor\t: 1\ncpu MHz\t\t: 3100.4\n";
        assert_eq!(core_mhz(cpuinfo), Some(3100));
        assert_eq!(core_mhz("processor : 0\n"), None);
        assert_eq!(mem_total_bytes("MemTotal:       16314572 kB\nMemFree: 1 kB\n"), Some(16_314_572 * 1024));
        assert_eq!(os_release("NAME=\"Debian GNU/Linux\"\nID=debian\n", "ID"), Some("debian".into()));
    }

    #[test]
    fn this_machine_has_cores_memory_disk_and_raw_exec_when_asked() {
        let dir = std::env::temp_dir();
        let found = fingerprint(&dir, true, "2026-01-01T00:00:00Z");
        assert!(found.resources.cpu.total_cpu_cores >= 1);
        assert!(found.resources.cpu.cpu_shares >= 1);
        assert!(found.resources.memory.memory_mb > 0);
        assert!(found.resources.disk.disk_mb > 0);
        assert_eq!(found.attributes["kernel.name"], std::env::consts::OS);
        assert!(found.drivers["raw_exec"].detected);
        assert!(fingerprint(&dir, false, "").drivers.is_empty());
    }

    #[test]
    fn the_configured_capacity_replaces_what_was_found_and_the_rest_stays() {
        let found = fingerprint(&std::env::temp_dir(), false, "");
        let set = found.clone().with(crate::Capacity { memory_total_mb: Some(64), cpu_total_compute: Some(500) });
        assert_eq!((set.resources.memory.memory_mb, set.resources.cpu.cpu_shares), (64, 500));
        assert_eq!(
            (set.attributes["memory.totalbytes"].as_str(), set.attributes["cpu.totalcompute"].as_str()),
            ("67108864", "500")
        );
        assert_eq!(set.resources.disk, found.resources.disk);
        assert_eq!(found.clone().with(crate::Capacity::default()), found);
    }
}
