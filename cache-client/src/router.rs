//! Routing: splitting a multi-key command into one sub-command per group (per ring node, or in
//! cluster mode per hash slot, as the server refuses keys of several slots with `-CROSSSLOT`)
//! and putting the answers back in the caller's order, and a dependency-free `join_all` to run
//! the parts concurrently. No I/O of its own.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::hash::Hash;
use std::pin::Pin;
use std::task::Poll;

/// Keys grouped by `group_of(key)`: `(group, positions of its keys in the caller's list)`, in
/// order of first appearance.
#[must_use]
pub fn split_by<K: AsRef<[u8]>, G: Copy + Eq + Hash>(
    keys: &[K],
    group_of: impl Fn(&[u8]) -> G,
) -> Vec<(G, Vec<usize>)> {
    let mut groups: Vec<(G, Vec<usize>)> = Vec::new();
    let mut index: HashMap<G, usize> = HashMap::new();
    for (pos, k) in keys.iter().enumerate() {
        let g = group_of(k.as_ref());
        let i = *index.entry(g).or_insert_with(|| {
            groups.push((g, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(pos);
    }
    groups
}

/// Scatters per-group results back to the caller's positions.
#[must_use]
pub fn gather<T: Default + Clone, G>(len: usize, groups: &[(G, Vec<usize>)], results: Vec<Vec<T>>) -> Vec<T> {
    let mut out = vec![T::default(); len];
    for ((_, positions), values) in groups.iter().zip(results) {
        for (&pos, v) in positions.iter().zip(values) {
            out[pos] = v;
        }
    }
    out
}

/// Runs all `futs` concurrently on the current task; outputs in input order.
pub async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|v| v.expect("every future completed")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::Ring;

    #[test]
    fn split_and_gather_keep_the_callers_order() {
        let ring = Ring::new(&[("a:1", 1), ("b:1", 1), ("c:1", 1)]);
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        let groups = split_by(&keys, |k| ring.node_for(k).unwrap_or(0));
        assert!(groups.len() > 1);
        let results: Vec<Vec<String>> =
            groups.iter().map(|(_, pos)| pos.iter().map(|&p| keys[p].clone()).collect()).collect();
        assert_eq!(gather(keys.len(), &groups, results), keys);
        for (node, pos) in &groups {
            assert!(pos.iter().all(|&p| ring.node_for(keys[p].as_bytes()) == Some(*node)));
        }
        let by_slot = split_by(&keys, crate::slot::key_slot);
        assert_eq!(by_slot.iter().map(|(_, p)| p.len()).sum::<usize>(), keys.len());
        assert!(by_slot.iter().all(|(s, pos)| pos.iter().all(|&p| crate::slot::key_slot(keys[p].as_bytes()) == *s)));
    }

    #[tokio::test]
    async fn join_all_runs_concurrently_in_order() {
        let futs: Vec<_> = (0..5u64)
            .map(|i| async move {
                tokio::time::sleep(std::time::Duration::from_millis(10 * (5 - i))).await;
                i
            })
            .collect();
        assert_eq!(join_all(futs).await, vec![0, 1, 2, 3, 4]);
    }
}
