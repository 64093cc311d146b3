//! A stream's consumer groups: each group's last delivered id and read counter, its pending
//! entries list (PEL: delivered, not yet acknowledged, with owner, delivery time and count) and
//! its consumers. It owns the group bookkeeping XREADGROUP, XACK, XPENDING, XCLAIM and XAUTOCLAIM
//! share; the entries themselves stay in [`super::Stream`].

use super::StreamId;

/// One consumer group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The last id delivered to the group's consumers.
    pub last_id: StreamId,
}

impl Group {
    /// Bytes of payload for the memory budget.
    pub fn weight(&self) -> u64 {
        64
    }
}
