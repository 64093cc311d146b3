//! Eviction policies: the contract every policy keeps, and the choice between them.
//!
//! A policy is a single-threaded kernel that owns the queue order of one shard and the weight
//! accounting per queue. The shard tells it what happened (insert, access, update, remove) and
//! asks it for victims when the shard is over capacity; the shard does the actual removal from
//! the index, the slab and the timer wheel. Policies never see keys or values, only slab
//! indices, the 32-bit hash stored in each node, and weights. They take the slab by shared
//! reference and relink nodes through its relaxed-atomic links: the shard's writer, or a reader
//! holding the policy's mutex under the shard's read lock, is the one caller at a time.
//!
//! The contract, for every implementation:
//! - `on_insert` links a node that is in no queue; `on_remove` unlinks a node it linked.
//! - `weighted_size()` is always the sum of the weights of the linked nodes.
//! - after `evict`, `weighted_size() <= capacity`, and `victims` lists exactly the nodes that
//!   were unlinked to get there (each once), in eviction order.
//! - `evict_ranked` is `evict` with a rank per node (its deadline) that a policy may use to
//!   choose victims (lower first); only nearest-expiry eviction does.
//!
//! Pinned entries (never eviction candidates, see [`pinned`]) are kept out of every policy by
//! the [`Pinning`] wrapper the shard holds; policies never see them.

mod lru;
pub(crate) mod pinned;
mod sampled;
pub(crate) mod sketch;
mod tinylfu;

use crate::slab::Slab;
pub(crate) use lru::Lru;
pub(crate) use pinned::Pinning;
pub(crate) use sampled::Sampled;
pub(crate) use tinylfu::TinyLfu;

/// Which eviction policy a cache uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EvictionPolicy {
    /// Adaptive W-TinyLFU (the default): a small LRU admission window in front of a segmented
    /// LRU main region, with admission to the main region decided by a 4-bit count-min
    /// frequency sketch, and the window size tuned by hill climbing on the observed hit rate.
    /// Near-optimal on frequency-skewed workloads, resistant to scans, and adaptive enough to
    /// follow recency-heavy ones.
    #[default]
    TinyLfu,
    /// Exact least-recently-used order per shard.
    Lru,
    /// A uniformly random candidate (Redis's `allkeys-random` / `volatile-random`). Reads cost
    /// the policy nothing; the hit ratio is that of random replacement.
    Random,
    /// The candidate whose deadline is nearest, approximately: each victim is the soonest
    /// expiring of 8 candidates drawn at random (Redis's `volatile-ttl`, which samples too).
    /// Candidates without a deadline rank last. Reads cost the policy nothing.
    NearestExpiry,
}

/// Per-slot weights of a shard; empty when the cache is unweighted (every entry weighs 1).
#[derive(Debug, Default)]
pub(crate) struct Weights(Vec<u32>);

impl Weights {
    pub(crate) fn get(&self, idx: u32) -> u64 {
        self.0.get(idx as usize).map_or(1, |&w| u64::from(w))
    }

    pub(crate) fn set(&mut self, idx: u32, weight: u32) {
        let i = idx as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] = weight;
    }

    pub(crate) fn clear(&mut self) {
        self.0 = Vec::new();
    }
}

/// The policy contract; see the module docs.
pub(crate) trait Policy {
    /// Links the new node `idx` weighing `weight`; `len` is the shard's entry count after it.
    fn on_insert<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, len: u32);
    /// Records a read hit on `idx`.
    fn on_access<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32);
    /// Records a read miss (no node involved).
    fn on_miss(&mut self);
    /// The node `idx` was overwritten and its weight changed from `old` to `new` (counts as an access).
    fn on_update<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32, old: u64, new: u64);
    /// Unlinks `idx`, which weighed `weight`.
    fn on_remove<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64);
    /// Unlinks victims until `weighted_size() <= capacity`, appending them to `victims`.
    fn evict<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, capacity: u64, victims: &mut Vec<u32>);
    /// [`evict`](Self::evict), with `rank(idx)` (the node's deadline) available to choose victims.
    fn evict_ranked<K, V>(
        &mut self,
        slab: &Slab<K, V>,
        weights: &Weights,
        capacity: u64,
        victims: &mut Vec<u32>,
        _rank: &dyn Fn(u32) -> u64,
    ) {
        self.evict(slab, weights, capacity, victims);
    }
    /// The shard's bound changed to `capacity` (the shard evicts right after).
    fn resize(&mut self, capacity: u64);
    /// Sum of the weights of linked nodes.
    fn weighted_size(&self) -> u64;
    /// Forgets every node (the slab is being cleared).
    fn clear(&mut self);
}

/// Static dispatch over the policies a shard can run.
#[derive(Debug)]
pub(crate) enum AnyPolicy {
    Lru(Lru),
    TinyLfu(Box<TinyLfu>),
    Sampled(Sampled),
}

impl AnyPolicy {
    /// The access-frequency estimate the policy keeps for `hash`, if it keeps any (TinyLFU).
    pub(crate) fn frequency(&self, hash: u32) -> Option<u8> {
        match self {
            Self::Lru(_) | Self::Sampled(_) => None,
            Self::TinyLfu(p) => Some(p.frequency(hash)),
        }
    }

    /// `capacity` is the shard's bound; `entries_hint` sizes the frequency sketch (None: grow it
    /// with the entry count, for weighted or unbounded shards).
    pub(crate) fn new(kind: EvictionPolicy, capacity: u64, entries_hint: Option<u64>, seed: u64) -> Self {
        match kind {
            EvictionPolicy::Lru => Self::Lru(Lru::default()),
            EvictionPolicy::TinyLfu => Self::TinyLfu(Box::new(TinyLfu::new(capacity, entries_hint, seed))),
            EvictionPolicy::Random => Self::Sampled(Sampled::new(false, seed)),
            EvictionPolicy::NearestExpiry => Self::Sampled(Sampled::new(true, seed)),
        }
    }
}

impl AnyPolicy {
    /// The nodes linked in the policy's queues, each checked for consistent links and a queue
    /// tag matching the queue it is in (tests).
    #[cfg(test)]
    pub(crate) fn checked_members<K, V>(&self, slab: &Slab<K, V>) -> Vec<u32> {
        match self {
            Self::Lru(p) => p.checked_members(slab),
            Self::TinyLfu(p) => p.checked_members(slab),
            Self::Sampled(p) => p.checked_members(slab),
        }
    }

    /// Prefetches what an access of a node with `hash` will touch in the policy's own tables
    /// (the sketch line), without changing anything.
    pub(crate) fn warm(&self, hash: u32) {
        match self {
            Self::Lru(_) | Self::Sampled(_) => {}
            Self::TinyLfu(p) => p.warm(hash),
        }
    }
}

/// The nodes of `deque` front to back, checked for consistent links and for the tag of `queue`
/// (tests).
#[cfg(test)]
fn checked_queue<K, V>(deque: crate::list::Deque, slab: &Slab<K, V>, queue: crate::slab::Queue) -> Vec<u32> {
    let members = deque.to_vec(slab);
    assert!(members.iter().all(|&i| slab.get(i).queue() == queue), "a node in {queue:?} tagged for another queue");
    members
}

macro_rules! dispatch {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            AnyPolicy::Lru($p) => $e,
            AnyPolicy::TinyLfu($p) => $e,
            AnyPolicy::Sampled($p) => $e,
        }
    };
}

impl Policy for AnyPolicy {
    fn on_insert<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64, len: u32) {
        dispatch!(self, p => p.on_insert(slab, idx, weight, len))
    }
    fn on_access<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32) {
        dispatch!(self, p => p.on_access(slab, weights, idx))
    }
    fn on_miss(&mut self) {
        dispatch!(self, p => p.on_miss())
    }
    fn on_update<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, idx: u32, old: u64, new: u64) {
        dispatch!(self, p => p.on_update(slab, weights, idx, old, new))
    }
    fn on_remove<K, V>(&mut self, slab: &Slab<K, V>, idx: u32, weight: u64) {
        dispatch!(self, p => p.on_remove(slab, idx, weight))
    }
    fn evict<K, V>(&mut self, slab: &Slab<K, V>, weights: &Weights, capacity: u64, victims: &mut Vec<u32>) {
        dispatch!(self, p => p.evict(slab, weights, capacity, victims))
    }
    fn evict_ranked<K, V>(
        &mut self,
        slab: &Slab<K, V>,
        weights: &Weights,
        capacity: u64,
        victims: &mut Vec<u32>,
        rank: &dyn Fn(u32) -> u64,
    ) {
        dispatch!(self, p => p.evict_ranked(slab, weights, capacity, victims, rank))
    }
    fn resize(&mut self, capacity: u64) {
        dispatch!(self, p => p.resize(capacity))
    }
    fn weighted_size(&self) -> u64 {
        dispatch!(self, p => p.weighted_size())
    }
    fn clear(&mut self) {
        dispatch!(self, p => p.clear())
    }
}
