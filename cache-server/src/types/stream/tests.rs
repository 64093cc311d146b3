//! The stream against a model: a `BTreeMap` of entries with the same counters, driven by random
//! appends (with shared and own field names, small and large values), deletes, exact and
//! approximate trims and range reads both ways.

use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append { gap_ms: u64, gap_seq: u64, fields: u8, big: bool },
    Delete(usize),
    TrimLen { max: u64, approx: bool, limit: u64 },
    TrimMin { at: usize, approx: bool },
    Range { a: usize, b: usize, rev: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..3, 0u64..3, 0u8..4, proptest::bool::weighted(0.05))
            .prop_map(|(gap_ms, gap_seq, fields, big)| Op::Append { gap_ms, gap_seq, fields, big }),
        2 => any::<usize>().prop_map(Op::Delete),
        1 => (0u64..300, any::<bool>(), prop_oneof![Just(0u64), 1u64..250])
            .prop_map(|(max, approx, limit)| Op::TrimLen { max, approx, limit }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(at, approx)| Op::TrimMin { at, approx }),
        2 => (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(a, b, rev)| Op::Range { a, b, rev }),
    ]
}

fn pairs_of(fields: u8, n: u64, big: bool) -> Vec<Bytes> {
    let names: &[&str] = match fields {
        0 => &["field"],
        1 => &["field", "other"],
        2 => &["other"],
        _ => &["a", "b", "c"],
    };
    names
        .iter()
        .flat_map(|f| {
            let v = if big { "x".repeat(3000 + n as usize % 7) } else { format!("v{n}") };
            [Bytes::copy_from_slice(f.as_bytes()), Bytes::from(v)]
        })
        .collect()
}

type Model = BTreeMap<StreamId, Vec<Bytes>>;

fn check(s: &Stream, m: &Model) {
    assert_eq!(s.len(), m.len());
    let got: Vec<(StreamId, Vec<Bytes>)> = s
        .range(StreamId::MIN, StreamId::MAX)
        .map(|(id, f)| {
            (id, f.pairs().flat_map(|(a, b)| [Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)]).collect())
        })
        .collect();
    let want: Vec<(StreamId, Vec<Bytes>)> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(got, want);
    assert_eq!(s.first().map(|e| e.0), m.keys().next().copied());
    assert_eq!(s.last().map(|e| e.0), m.keys().next_back().copied());
    let live: u64 = s.blocks.values().map(|b| u64::from(b.live)).sum();
    assert_eq!(live, s.len);
    assert_eq!(s.bytes, s.blocks.values().map(block_weight).sum::<u64>(), "the kept weight is the blocks' sum");
    assert!(s.blocks.iter().all(|(k, b)| b.iter(*k).next().map(|e| e.id) == Some(*k)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn behaves_like_a_sorted_map(ops in proptest::collection::vec(op(), 1..400)) {
        let (mut s, mut m) = (Stream::default(), Model::new());
        let mut n = 0u64;
        for op in ops {
            match op {
                Op::Append { gap_ms, gap_seq, fields, big } => {
                    let last = s.last_id();
                    let id = if gap_ms > 0 { StreamId { ms: last.ms + gap_ms, seq: gap_seq } } else { StreamId { ms: last.ms, seq: last.seq + 1 + gap_seq } };
                    n += 1;
                    let p = pairs_of(fields, n, big);
                    s.append(id, &p);
                    m.insert(id, p);
                    prop_assert_eq!(s.last_id(), id);
                }
                Op::Delete(i) => {
                    let ids: Vec<StreamId> = m.keys().copied().collect();
                    // Deleting an absent id (a gap) is a no-op.
                    let id = if ids.is_empty() || i % 5 == 0 { StreamId { ms: i as u64 % 50, seq: 0 } } else { ids[i % ids.len()] };
                    let was = m.remove(&id).is_some();
                    prop_assert_eq!(s.delete(id), was);
                    if was {
                        prop_assert!(s.max_deleted_id() >= id);
                    }
                }
                Op::TrimLen { max, approx, limit } => {
                    let before = m.len() as u64;
                    let limit = if approx { limit } else { 0 };
                    let gone = s.trim(Trim::MaxLen(max), approx, limit);
                    prop_assert_eq!(s.len() as u64, before - gone);
                    if !approx {
                        prop_assert_eq!(s.len() as u64, before.min(max));
                    } else {
                        prop_assert!(s.len() as u64 >= max.min(before));
                    }
                    // The oldest ones went.
                    for _ in 0..gone {
                        m.pop_first();
                    }
                }
                Op::TrimMin { at, approx } => {
                    let ids: Vec<StreamId> = m.keys().copied().collect();
                    let min = if ids.is_empty() { StreamId::MIN } else { ids[at % ids.len()] };
                    let gone = s.trim(Trim::MinId(min), approx, 0);
                    let below = m.range(..min).count() as u64;
                    if approx {
                        prop_assert!(gone <= below);
                    } else {
                        prop_assert_eq!(gone, below);
                    }
                    for _ in 0..gone {
                        m.pop_first();
                    }
                }
                Op::Range { a, b, rev } => {
                    let pick = |i: usize| StreamId { ms: (i % 60) as u64, seq: (i / 60 % 3) as u64 };
                    let (lo, hi) = (pick(a), pick(b));
                    let want: Vec<StreamId> = if lo <= hi { m.range(lo..=hi).map(|(k, _)| *k).collect() } else { vec![] };
                    let got: Vec<StreamId> = if rev {
                        let mut g: Vec<StreamId> = s.range(lo, hi).rev().map(|e| e.0).collect();
                        g.reverse();
                        g
                    } else {
                        s.range(lo, hi).map(|e| e.0).collect()
                    };
                    prop_assert_eq!(got, want);
                    // Both ends at once meet in the middle.
                    let mut r = s.range(lo, hi);
                    let mut both = Vec::new();
                    let mut tail = Vec::new();
                    loop {
                        match (r.next(), r.next_back()) {
                            (None, None) => break,
                            (x, y) => { both.extend(x.map(|e| e.0)); tail.extend(y.map(|e| e.0)); }
                        }
                    }
                    tail.reverse();
                    both.extend(tail);
                    let want: Vec<StreamId> = if lo <= hi { m.range(lo..=hi).map(|(k, _)| *k).collect() } else { vec![] };
                    prop_assert_eq!(both, want);
                }
            }
            check(&s, &m);
        }
    }
}

#[test]
fn blocks_hold_a_hundred_entries_and_share_field_names() {
    let mut s = Stream::default();
    for i in 1..=250u64 {
        s.append(StreamId { ms: i, seq: 0 }, &[Bytes::from_static(b"field"), Bytes::from(format!("value{i}"))]);
    }
    assert_eq!(s.blocks(), 3);
    // About 12 bytes an entry (flags, two deltas, the value) plus the block's share.
    assert!(s.weight() < 250 * 16, "{}", s.weight());
    assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
    assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
    assert_eq!(s.first().unwrap().0, StreamId { ms: 131, seq: 0 });
    assert_eq!(s.recorded_first_id(), StreamId { ms: 131, seq: 0 });
    let f = s.get(StreamId { ms: 200, seq: 0 }).unwrap();
    assert_eq!(f.pairs().collect::<Vec<_>>(), vec![(&b"field"[..], &b"value200"[..])]);
}
