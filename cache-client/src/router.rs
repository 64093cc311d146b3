//! Routing: which node owns a key (through the [`Ring`](crate::ring::Ring)), splitting a
//! multi-key command into one sub-command per node and putting the answers back in the
//! caller's order, and a dependency-free `join_all` to run the per-node parts concurrently.
//! No I/O of its own.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use crate::ring::Ring;

/// Keys grouped by node: `(node index, positions of its keys in the caller's list)`, in order
/// of first appearance.
#[must_use]
pub fn split<K: AsRef<[u8]>>(ring: &Ring, keys: &[K]) -> Vec<(usize, Vec<usize>)> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (pos, k) in keys.iter().enumerate() {
        let node = ring.node_for(k.as_ref()).unwrap_or(0);
        match groups.iter_mut().find(|(n, _)| *n == node) {
            Some((_, positions)) => positions.push(pos),
            None => groups.push((node, vec![pos])),
        }
    }
    groups
}

/// Scatters per-group results back to the caller's positions.
#[must_use]
pub fn gather<T: Default + Clone>(len: usize, groups: &[(usize, Vec<usize>)], results: Vec<Vec<T>>) -> Vec<T> {
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

    #[test]
    fn split_and_gather_keep_the_callers_order() {
        let ring = Ring::new(&[("a:1", 1), ("b:1", 1), ("c:1", 1)]);
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        let groups = split(&ring, &keys);
        assert!(groups.len() > 1);
        let results: Vec<Vec<String>> =
            groups.iter().map(|(_, pos)| pos.iter().map(|&p| keys[p].clone()).collect()).collect();
        assert_eq!(gather(keys.len(), &groups, results), keys);
        for (node, pos) in &groups {
            assert!(pos.iter().all(|&p| ring.node_for(keys[p].as_bytes()) == Some(*node)));
        }
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
