//! The epoch rules: `currentEpoch` only grows, a slot moves only to a claim with a newer config
//! epoch (an older claimer is told with an UPDATE), two primaries sharing a config epoch are told
//! apart by Redis's collision rule, and BUMPEPOCH / SETSLOT NODE take a new epoch without
//! agreement. Together they keep two owners of one slot from ever sharing an epoch.

use super::state::{NodeId, SlotBitmap, State};

impl State {
    /// Raises `currentEpoch` to at least `epoch`.
    pub fn observe_epoch(&mut self, epoch: u64) {
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.dirty = true;
        }
    }

    /// The largest config epoch of any known node (and `currentEpoch`).
    pub fn max_epoch(&self) -> u64 {
        self.nodes.values().map(|n| n.config_epoch).max().unwrap_or(0).max(self.current_epoch)
    }

    /// CLUSTER BUMPEPOCH (and SETSLOT NODE on the importing side): takes a new config epoch
    /// without agreement unless this node already holds the unique highest one. Returns whether
    /// it bumped, and the config epoch now held.
    pub fn bump_epoch(&mut self) -> (bool, u64) {
        let mine = self.me().config_epoch;
        if mine == 0 || mine != self.max_epoch() {
            self.current_epoch += 1;
            let e = self.current_epoch;
            self.me_mut().config_epoch = e;
            self.dirty = true;
            self.broadcast = true;
            (true, e)
        } else {
            (false, mine)
        }
    }

    /// Redis's config epoch collision rule: two primaries with the same config epoch cannot both
    /// win a slot, so the one with the smaller name takes a new, unique epoch.
    pub fn resolve_collision(&mut self, sender: &NodeId) {
        let Some(other) = self.nodes.get(sender) else { return };
        let me = self.me();
        if !other.is_primary() || !me.is_primary() || other.config_epoch != me.config_epoch || *sender <= self.myself {
            return;
        }
        self.current_epoch += 1;
        let e = self.current_epoch;
        self.me_mut().config_epoch = e;
        self.dirty = true;
        self.broadcast = true;
        tracing::warn!(epoch = e, "config epoch collision with {sender} resolved: took a new config epoch");
    }

    /// Applies `sender`'s claim of `slots` at config epoch `epoch`: each claimed slot whose
    /// owner is unknown or older moves to the sender. Returns the nodes whose newer claims the
    /// sender must hear about (an UPDATE each).
    pub fn apply_claims(&mut self, sender: NodeId, epoch: u64, slots: &SlotBitmap) -> Vec<NodeId> {
        let mut stale_for = Vec::new();
        for s in slots.iter() {
            let owner = self.owners[s];
            if owner == Some(sender) || self.importing.contains_key(&(s as u16)) {
                continue;
            }
            let owner_epoch = owner.and_then(|o| self.nodes.get(&o)).map(|n| n.config_epoch);
            match owner_epoch {
                Some(e) if e > epoch => {
                    if let Some(o) = owner.filter(|o| !stale_for.contains(o)) {
                        stale_for.push(o);
                    }
                }
                Some(e) if e == epoch && owner.is_some() => {
                    // Same epoch, two claims: the collision rule gives one of them a new epoch;
                    // until then the current owner keeps the slot.
                }
                _ => {
                    if owner == Some(self.myself) {
                        tracing::warn!(slot = s, "slot taken over by {sender} (config epoch {epoch})");
                        self.migrating.remove(&(s as u16));
                    }
                    self.assign(s, Some(sender));
                }
            }
        }
        stale_for
    }
}

#[cfg(test)]
mod tests {
    use crate::cluster::state::fixtures::{bitmap, id, with};

    #[test]
    fn claims_go_to_the_newer_epoch_and_stale_claimers_get_an_update() {
        let mut st = with(b'a', &[(b'b', 3), (b'c', 5)]);
        assert!(st.apply_claims(id(b'b'), 3, &bitmap(&[1, 2])).is_empty());
        assert_eq!((st.owners[1], st.count_slots(&id(b'b')), st.size()), (Some(id(b'b')), 2, 1));
        // c claims slot 2 at a newer epoch: it wins.
        assert!(st.apply_claims(id(b'c'), 5, &bitmap(&[2])).is_empty());
        assert_eq!(st.owners[2], Some(id(b'c')));
        // b still claims 2 at epoch 3: it keeps losing, and must hear about c's claim.
        assert_eq!(st.apply_claims(id(b'b'), 3, &bitmap(&[1, 2])), vec![id(b'c')]);
        assert_eq!(st.owners[2], Some(id(b'c')));
        // Importing slots are not taken by claims (SETSLOT NODE settles them).
        st.importing.insert(9, id(b'b'));
        st.apply_claims(id(b'b'), 3, &bitmap(&[9]));
        assert_eq!(st.owners[9], None);
        // Forgetting a node frees its slots.
        st.remove_node(&id(b'c'));
        assert_eq!((st.owners[2], st.size(), st.assigned()), (None, 1, 1));
    }

    #[test]
    fn two_owners_never_share_an_epoch() {
        // Same epoch, competing claim: the current owner keeps the slot until a collision is resolved.
        let mut st = with(b'a', &[(b'b', 4), (b'c', 4)]);
        st.apply_claims(id(b'b'), 4, &bitmap(&[7]));
        st.apply_claims(id(b'c'), 4, &bitmap(&[7]));
        assert_eq!(st.owners[7], Some(id(b'b')));
        // The collision rule: the node with the smaller name takes a new epoch, above all others.
        let mut a = with(b'a', &[(b'b', 4)]);
        a.me_mut().config_epoch = 4;
        a.resolve_collision(&id(b'b'));
        assert_eq!((a.me().config_epoch, a.current_epoch), (5, 5));
        let mut b = with(b'b', &[(b'a', 4)]);
        b.me_mut().config_epoch = 4;
        b.resolve_collision(&id(b'a'));
        assert_eq!(b.me().config_epoch, 4, "the greater name keeps its epoch");
    }

    #[test]
    fn bumpepoch_takes_a_new_epoch_unless_already_the_unique_highest() {
        let mut st = with(b'a', &[(b'b', 3)]);
        assert_eq!(st.bump_epoch(), (true, 4));
        assert_eq!(st.bump_epoch(), (false, 4));
        st.observe_epoch(9);
        assert_eq!(st.bump_epoch(), (true, 10));
    }
}
