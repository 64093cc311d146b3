//! Pub/sub subscriptions: channel → subscriber ids, glob patterns, shard channels (SSUBSCRIBE:
//! a namespace of their own, as in a non-cluster Redis), each client's own lists (for its
//! subscription counts and UNSUBSCRIBE without arguments), the MONITOR clients, and the live
//! `notify-keyspace-events` flags. Delivery goes through the clients' mailboxes
//! ([`crate::tracking::Tracking::publish`]); this module only keeps who listens. Its users are
//! PUBLISH / SPUBLISH, keyspace notifications ([`crate::notify`]), MONITOR ([`crate::monitor`]) and
//! client-side caching: RESP2 clients receive redirected invalidations as messages on
//! `__redis__:invalidate`.

use bytes::Bytes;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};

/// A kind of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE: one channel.
    Channel,
    /// PSUBSCRIBE: a glob pattern over channels.
    Pattern,
    /// SSUBSCRIBE: one shard channel (SPUBLISH's namespace).
    Shard,
}

impl Kind {
    fn of(pattern: bool) -> Self {
        if pattern { Kind::Pattern } else { Kind::Channel }
    }
}

#[derive(Debug, Default)]
struct Mine {
    channels: Vec<Bytes>,
    patterns: Vec<Bytes>,
    shard: Vec<Bytes>,
}

impl Mine {
    fn get(&self, kind: Kind) -> &Vec<Bytes> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    fn list(&mut self, kind: Kind) -> &mut Vec<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

#[derive(Debug, Default)]
struct Subs {
    channels: HashMap<Bytes, Vec<u64>>,
    patterns: Vec<(Bytes, u64)>,
    shard: HashMap<Bytes, Vec<u64>>,
    /// Per client: channels, patterns and shard channels, in subscription order.
    by_client: HashMap<u64, Mine>,
}

impl Subs {
    fn listening(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }
}

/// Who listens to what.
#[derive(Debug, Default)]
pub struct PubSub {
    subs: RwLock<Subs>,
    /// `notify-keyspace-events` as bits (see [`crate::notify`]); read with one relaxed load.
    notify: AtomicU32,
    /// Someone subscribes to a channel or a pattern (shard channels aside): a keyspace event
    /// with no listener is then not even formatted. Set under the `subs` write lock.
    listening: AtomicBool,
    /// Clients in MONITOR mode.
    pub monitors: crate::monitor::Monitors,
}

impl PubSub {
    /// Subscribes `id` to a channel (`pattern = false`) or pattern; returns the client's count of
    /// channels + patterns afterwards.
    pub fn subscribe(&self, id: u64, name: &Bytes, pattern: bool) -> usize {
        self.subscribe_to(id, name, Kind::of(pattern))
    }

    /// Subscribes `id` to `name` of `kind`; returns the client's count for that kind afterwards
    /// (channels + patterns, or shard channels).
    pub fn subscribe_to(&self, id: u64, name: &Bytes, kind: Kind) -> usize {
        let mut s = self.subs.write();
        let list = s.by_client.entry(id).or_default().list(kind);
        if !list.contains(name) {
            list.push(name.clone());
            match kind {
                Kind::Pattern => s.patterns.push((name.clone(), id)),
                Kind::Channel => s.channels.entry(name.clone()).or_default().push(id),
                Kind::Shard => s.shard.entry(name.clone()).or_default().push(id),
            }
            self.listening.store(s.listening(), Relaxed);
        }
        Self::count(&s, id, kind)
    }

    /// Unsubscribes `id` from one channel or pattern; returns the count afterwards.
    pub fn unsubscribe(&self, id: u64, name: &[u8], pattern: bool) -> usize {
        self.unsubscribe_from(id, name, Kind::of(pattern))
    }

    /// Unsubscribes `id` from `name` of `kind`; returns the count for that kind afterwards.
    pub fn unsubscribe_from(&self, id: u64, name: &[u8], kind: Kind) -> usize {
        let mut s = self.subs.write();
        if let Some(mine) = s.by_client.get_mut(&id) {
            let list = mine.list(kind);
            if let Some(i) = list.iter().position(|n| n == name) {
                list.remove(i);
                let map = match kind {
                    Kind::Pattern => {
                        s.patterns.retain(|(p, c)| !(p == name && *c == id));
                        None
                    }
                    Kind::Channel => Some(&mut s.channels),
                    Kind::Shard => Some(&mut s.shard),
                };
                if let Some(map) = map
                    && let Some(ids) = map.get_mut(name)
                {
                    ids.retain(|&c| c != id);
                    if ids.is_empty() {
                        map.remove(name);
                    }
                }
                self.listening.store(s.listening(), Relaxed);
            }
        }
        Self::count(&s, id, kind)
    }

    /// The channels (or patterns) `id` subscribes to, in subscription order.
    pub fn list(&self, id: u64, pattern: bool) -> Vec<Bytes> {
        self.list_of(id, Kind::of(pattern))
    }

    /// The subscriptions of `kind` of `id`, in subscription order.
    pub fn list_of(&self, id: u64, kind: Kind) -> Vec<Bytes> {
        self.subs.read().by_client.get(&id).map(|m| m.get(kind).clone()).unwrap_or_default()
    }

    /// Drops every subscription of a client that left or RESET, and its MONITOR mode.
    pub fn unsubscribe_all(&self, id: u64) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in self.list_of(id, kind) {
                self.unsubscribe_from(id, &name, kind);
            }
        }
        self.subs.write().by_client.remove(&id);
        self.monitors.remove(id);
    }

    /// Subscribers of shard channel `channel` (SPUBLISH).
    pub fn shard_receivers(&self, channel: &[u8]) -> Vec<u64> {
        self.subs.read().shard.get(channel).cloned().unwrap_or_default()
    }

    /// Active channels (or shard channels) matching `pattern` (all if `None`): PUBSUB CHANNELS.
    pub fn active(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let s = self.subs.read();
        let map = if shard { &s.shard } else { &s.channels };
        map.keys().filter(|c| pattern.is_none_or(|p| crate::glob::matches(p, c, false))).cloned().collect()
    }

    /// Subscribers of a channel (or shard channel), patterns excluded: PUBSUB NUMSUB.
    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        let s = self.subs.read();
        let map = if shard { &s.shard } else { &s.channels };
        map.get(channel).map_or(0, Vec::len)
    }

    /// Total subscriptions of `id` of every kind (RESP2 subscribe mode while not zero).
    pub fn total_of(&self, id: u64) -> usize {
        self.subs.read().by_client.get(&id).map_or(0, |m| m.channels.len() + m.patterns.len() + m.shard.len())
    }

    /// True if any client subscribes to a channel or pattern (one relaxed load): PUBLISH-style
    /// delivery can only reach someone then.
    #[inline]
    pub fn listening(&self) -> bool {
        self.listening.load(Relaxed)
    }

    /// The live `notify-keyspace-events` bits.
    #[inline]
    pub fn notify_flags(&self) -> u32 {
        self.notify.load(Relaxed)
    }

    /// Installs new `notify-keyspace-events` bits (see [`crate::notify::configure`]).
    pub fn set_notify_flags(&self, flags: u32) {
        self.notify.store(flags, Relaxed);
    }

    /// Receivers of a message on `channel`: `(id, None)` for channel subscribers, then
    /// `(id, Some(pattern))` for each matching pattern subscription.
    pub fn receivers(&self, channel: &[u8]) -> Vec<(u64, Option<Bytes>)> {
        let s = self.subs.read();
        let mut out: Vec<(u64, Option<Bytes>)> =
            s.channels.get(channel).map(|ids| ids.iter().map(|&id| (id, None)).collect()).unwrap_or_default();
        for (p, id) in &s.patterns {
            if crate::glob::matches(p, channel, false) {
                out.push((*id, Some(p.clone())));
            }
        }
        out
    }

    /// Channels, patterns and shard channels one client subscribes to (CLIENT LIST `sub=`,
    /// `psub=`, `ssub=`).
    pub fn counts_of(&self, id: u64) -> (usize, usize, usize) {
        self.subs.read().by_client.get(&id).map_or((0, 0, 0), |m| (m.channels.len(), m.patterns.len(), m.shard.len()))
    }

    /// Shard channels anyone subscribes to (INFO `pubsubshard_channels`).
    pub fn shard_channel_count(&self) -> usize {
        self.subs.read().shard.len()
    }

    /// INFO `pubsub_channels` and `pubsub_patterns` (distinct patterns, as PUBSUB NUMPAT).
    pub fn counts(&self) -> (usize, usize) {
        let s = self.subs.read();
        let mut patterns: Vec<&Bytes> = s.patterns.iter().map(|(p, _)| p).collect();
        patterns.sort_unstable();
        patterns.dedup();
        (s.channels.len(), patterns.len())
    }

    /// The count a subscribe reply of `kind` shows for `id` (channels + patterns, or shard).
    pub fn subscribe_count(&self, id: u64, kind: Kind) -> usize {
        Self::count(&self.subs.read(), id, kind)
    }

    fn count(s: &Subs, id: u64, kind: Kind) -> usize {
        s.by_client.get(&id).map_or(0, |m| match kind {
            Kind::Shard => m.shard.len(),
            _ => m.channels.len() + m.patterns.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_subscribe_and_unsubscribe() {
        let ps = PubSub::default();
        let (a, b) = (Bytes::from("a"), Bytes::from("n*"));
        assert_eq!(ps.subscribe(1, &a, false), 1);
        assert_eq!(ps.subscribe(1, &a, false), 1);
        assert_eq!(ps.subscribe(1, &b, true), 2);
        assert_eq!(ps.subscribe(2, &a, false), 1);
        assert_eq!(ps.receivers(b"a"), vec![(1, None), (2, None)]);
        assert_eq!(ps.receivers(b"news"), vec![(1, Some(b.clone()))]);
        assert_eq!(ps.unsubscribe(1, b"a", false), 1);
        assert_eq!(ps.unsubscribe(1, b"zz", false), 1);
        ps.unsubscribe_all(1);
        assert_eq!(ps.receivers(b"news"), vec![]);
        assert_eq!(ps.counts(), (1, 0));
        assert!(ps.listening());
        ps.unsubscribe_all(2);
        assert!(!ps.listening());
        ps.subscribe_to(3, &a, Kind::Shard);
        assert!(!ps.listening(), "shard channels get no keyspace events");
    }

    #[test]
    fn shard_channels_are_their_own_namespace() {
        let ps = PubSub::default();
        let a = Bytes::from("a");
        assert_eq!(ps.subscribe_to(1, &a, Kind::Shard), 1);
        assert_eq!(ps.subscribe_to(1, &a, Kind::Channel), 1);
        assert_eq!(ps.total_of(1), 2);
        assert_eq!(ps.shard_receivers(b"a"), vec![1]);
        assert_eq!(ps.numsub(true, b"a"), 1);
        assert_eq!(ps.active(true, Some(b"?")), vec![a.clone()]);
        assert_eq!(ps.unsubscribe_from(1, b"a", Kind::Shard), 0);
        assert_eq!(ps.numsub(true, b"a"), 0);
        assert_eq!(ps.receivers(b"a"), vec![(1, None)]);
        ps.unsubscribe_all(1);
        assert_eq!(ps.total_of(1), 0);
    }
}
