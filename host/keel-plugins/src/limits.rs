//! How long a call may run and how much memory an instance may hold.

use std::time::Duration;

use crate::Kind;

/// The limits of one plugin kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindLimits {
    /// Wall-clock time one call may take before it is interrupted.
    pub call_deadline: Duration,
    /// The most linear memory one instance may grow to, in bytes.
    pub memory_max_bytes: usize,
}

/// The limits of every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub acl: KindLimits,
    pub autopilot: KindLimits,
    pub scheduler: KindLimits,
    pub license: KindLimits,
}

const MIB: usize = 1 << 20;

impl Default for Limits {
    /// ACL checks run on every request and must be quick; a placement over a
    /// large cluster may take longer and hold more memory.
    fn default() -> Self {
        Self {
            acl: KindLimits { call_deadline: Duration::from_millis(50), memory_max_bytes: 64 * MIB },
            autopilot: KindLimits { call_deadline: Duration::from_millis(200), memory_max_bytes: 32 * MIB },
            scheduler: KindLimits { call_deadline: Duration::from_millis(1000), memory_max_bytes: 256 * MIB },
            license: KindLimits { call_deadline: Duration::from_millis(200), memory_max_bytes: 16 * MIB },
        }
    }
}

impl Limits {
    pub fn of(&self, kind: Kind) -> KindLimits {
        match kind {
            Kind::Acl => self.acl,
            Kind::Autopilot => self.autopilot,
            Kind::Scheduler => self.scheduler,
            Kind::License => self.license,
        }
    }

    pub fn of_mut(&mut self, kind: Kind) -> &mut KindLimits {
        match kind {
            Kind::Acl => &mut self.acl,
            Kind::Autopilot => &mut self.autopilot,
            Kind::Scheduler => &mut self.scheduler,
            Kind::License => &mut self.license,
        }
    }

    /// The largest memory cap of any kind: the pooling allocator's slot size.
    pub fn largest_memory_max_bytes(&self) -> usize {
        Kind::ALL.iter().map(|kind| self.of(*kind).memory_max_bytes).max().unwrap_or(MIB)
    }
}
