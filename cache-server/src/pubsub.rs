//! Pub/sub subscriptions: channel → subscriber ids, glob patterns, and each client's own list
//! (for its subscription count and UNSUBSCRIBE without arguments). Delivery goes through the
//! clients' mailboxes ([`crate::tracking::Tracking::publish`]); this module only keeps who listens.
//! Its main user is client-side caching: RESP2 clients receive redirected invalidations as
//! messages on `__redis__:invalidate`.

use bytes::Bytes;
use parking_lot::RwLock;
use std::collections::HashMap;

#[derive(Debug, Default)]
struct Subs {
    channels: HashMap<Bytes, Vec<u64>>,
    patterns: Vec<(Bytes, u64)>,
    /// Per client: channels then patterns, in subscription order.
    by_client: HashMap<u64, (Vec<Bytes>, Vec<Bytes>)>,
}

/// Who listens to what.
#[derive(Debug, Default)]
pub struct PubSub {
    subs: RwLock<Subs>,
}

impl PubSub {
    /// Subscribes `id` to a channel (`pattern = false`) or pattern; returns the client's count of
    /// channels + patterns afterwards.
    pub fn subscribe(&self, id: u64, name: &Bytes, pattern: bool) -> usize {
        let mut s = self.subs.write();
        let mine = s.by_client.entry(id).or_default();
        let list = if pattern { &mut mine.1 } else { &mut mine.0 };
        if !list.contains(name) {
            list.push(name.clone());
            if pattern {
                s.patterns.push((name.clone(), id));
            } else {
                s.channels.entry(name.clone()).or_default().push(id);
            }
        }
        Self::count(&s, id)
    }

    /// Unsubscribes `id` from one channel or pattern; returns the count afterwards.
    pub fn unsubscribe(&self, id: u64, name: &[u8], pattern: bool) -> usize {
        let mut s = self.subs.write();
        if let Some(mine) = s.by_client.get_mut(&id) {
            let list = if pattern { &mut mine.1 } else { &mut mine.0 };
            if let Some(i) = list.iter().position(|n| n == name) {
                list.remove(i);
                if pattern {
                    s.patterns.retain(|(p, c)| !(p == name && *c == id));
                } else if let Some(ids) = s.channels.get_mut(name) {
                    ids.retain(|&c| c != id);
                    if ids.is_empty() {
                        s.channels.remove(name);
                    }
                }
            }
        }
        Self::count(&s, id)
    }

    /// The channels (or patterns) `id` subscribes to, in subscription order.
    pub fn list(&self, id: u64, pattern: bool) -> Vec<Bytes> {
        let s = self.subs.read();
        s.by_client.get(&id).map(|m| if pattern { m.1.clone() } else { m.0.clone() }).unwrap_or_default()
    }

    /// Drops every subscription of a client that left.
    pub fn unsubscribe_all(&self, id: u64) {
        for pattern in [false, true] {
            for name in self.list(id, pattern) {
                self.unsubscribe(id, &name, pattern);
            }
        }
        self.subs.write().by_client.remove(&id);
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

    /// Channels and patterns one client subscribes to (CLIENT LIST `sub=` / `psub=`).
    pub fn counts_of(&self, id: u64) -> (usize, usize) {
        self.subs.read().by_client.get(&id).map_or((0, 0), |m| (m.0.len(), m.1.len()))
    }

    /// INFO `pubsub_channels` and `pubsub_patterns`.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.subs.read();
        (s.channels.len(), s.patterns.len())
    }

    fn count(s: &Subs, id: u64) -> usize {
        s.by_client.get(&id).map_or(0, |m| m.0.len() + m.1.len())
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
    }
}
