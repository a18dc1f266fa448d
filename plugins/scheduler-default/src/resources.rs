//! Resource arithmetic in the three dimensions placement checks.

use keel_sdk::scheduler::Resources;

/// One of the dimensions a node can run out of, in the order Nomad checks
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dimension {
    Cpu,
    Memory,
    Disk,
}

impl Dimension {
    pub(crate) const ALL: [Dimension; 3] = [Dimension::Cpu, Dimension::Memory, Dimension::Disk];

    /// The name Nomad's AllocMetric uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dimension::Cpu => "cpu",
            Dimension::Memory => "memory",
            Dimension::Disk => "disk",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Dimension::Cpu => 0,
            Dimension::Memory => 1,
            Dimension::Disk => 2,
        }
    }
}

/// CPU in MHz, memory and disk in MB. Arithmetic saturates: the input is
/// untrusted, and a node that reports more use than capacity simply has
/// nothing free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Res {
    pub(crate) cpu: u64,
    pub(crate) memory: u64,
    pub(crate) disk: u64,
}

impl Res {
    pub(crate) fn of(r: &Resources) -> Self {
        Self { cpu: r.cpu_mhz, memory: r.memory_mb, disk: r.disk_mb }
    }

    pub(crate) fn get(self, dimension: Dimension) -> u64 {
        match dimension {
            Dimension::Cpu => self.cpu,
            Dimension::Memory => self.memory,
            Dimension::Disk => self.disk,
        }
    }

    pub(crate) fn plus(self, other: Res) -> Res {
        Res {
            cpu: self.cpu.saturating_add(other.cpu),
            memory: self.memory.saturating_add(other.memory),
            disk: self.disk.saturating_add(other.disk),
        }
    }

    pub(crate) fn minus(self, other: Res) -> Res {
        Res {
            cpu: self.cpu.saturating_sub(other.cpu),
            memory: self.memory.saturating_sub(other.memory),
            disk: self.disk.saturating_sub(other.disk),
        }
    }

    /// The first dimension in which `self` cannot hold `ask`.
    pub(crate) fn short_for(self, ask: Res) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|&d| self.get(d) < ask.get(d))
    }

    pub(crate) fn holds(self, ask: Res) -> bool {
        self.short_for(ask).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_short_dimension_is_reported_in_nomads_order() {
        let free = Res { cpu: 100, memory: 100, disk: 100 };
        assert_eq!(free.short_for(Res { cpu: 100, memory: 100, disk: 100 }), None);
        assert_eq!(free.short_for(Res { cpu: 101, memory: 101, disk: 0 }), Some(Dimension::Cpu));
        assert_eq!(free.short_for(Res { cpu: 0, memory: 101, disk: 101 }), Some(Dimension::Memory));
        assert_eq!(free.short_for(Res { cpu: 0, memory: 0, disk: 101 }), Some(Dimension::Disk));
        assert!(free.holds(Res::default()));
    }

    #[test]
    fn arithmetic_saturates() {
        let big = Res { cpu: u64::MAX, memory: 1, disk: 0 };
        assert_eq!(big.plus(big).cpu, u64::MAX);
        assert_eq!(Res::default().minus(big), Res::default());
    }
}
