//! The sorted set against a `BTreeMap` model, across both encodings and their conversion.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const SCORES: [f64; 11] = [f64::NEG_INFINITY, -1.5, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, 0.1, 1e300, f64::INFINITY];

fn member(i: u16) -> Vec<u8> {
    // Short and long members (the long ones are boxed in the tree and break a low value limit).
    if i % 5 == 0 {
        format!("long-member-{i:03}-{}", "x".repeat(i as usize % 13)).into_bytes()
    } else {
        let [hi, lo] = i.to_be_bytes();
        vec![b'a' + (i % 26) as u8, lo, hi]
    }
}

/// The model: member → score; order derived by sorting.
#[derive(Default, Debug)]
struct Model(BTreeMap<Vec<u8>, f64>);

impl Model {
    fn sorted(&self) -> Vec<(f64, Vec<u8>)> {
        let mut v: Vec<(f64, Vec<u8>)> = self.0.iter().map(|(m, s)| (*s, m.clone())).collect();
        v.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then_with(|| a.1.cmp(&b.1)));
        v
    }

    fn add(&mut self, m: &[u8], score: f64, f: AddFlags) -> Result<Added, NotANumber> {
        match self.0.get(m).copied() {
            None if f.xx => Ok(Added::Skipped),
            None => {
                self.0.insert(m.to_vec(), score);
                Ok(Added::New(score))
            }
            Some(_) if f.nx => Ok(Added::Skipped),
            Some(cur) => {
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(NotANumber);
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    return Ok(Added::Skipped);
                }
                if new == cur {
                    return Ok(Added::Same(new));
                }
                self.0.insert(m.to_vec(), new);
                Ok(Added::Updated(new))
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Add(u16, usize, u8),
    Remove(u16),
    Pop(usize, bool),
    RemoveRange(usize, usize),
}

fn op(members: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..members, 0..SCORES.len(), 0u8..32).prop_map(|(m, s, f)| Op::Add(m, s, f)),
        2 => (0..members).prop_map(Op::Remove),
        1 => (0usize..4, any::<bool>()).prop_map(|(c, x)| Op::Pop(c, x)),
        1 => (0usize..30, 0usize..6).prop_map(|(lo, n)| Op::RemoveRange(lo, lo + n)),
    ]
}

fn flags(bits: u8) -> AddFlags {
    // Only the combinations Redis accepts (NX excludes XX, GT and LT; GT excludes LT).
    let f =
        AddFlags { incr: bits & 1 != 0, nx: bits & 2 != 0, xx: bits & 4 != 0, gt: bits & 8 != 0, lt: bits & 16 != 0 };
    if f.nx {
        AddFlags { xx: false, gt: false, lt: false, ..f }
    } else if f.gt {
        AddFlags { lt: false, ..f }
    } else {
        f
    }
}

fn same(a: f64, b: f64) -> bool {
    a == b
}

fn check_against(z: &ZSet, model: &Model) {
    z.check();
    let want = model.sorted();
    let got: Vec<(f64, Vec<u8>)> = z.iter().map(|(s, m)| (s, m.to_vec())).collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(same(g.0, w.0) && g.1 == w.1, "{g:?} vs {w:?}");
    }
    let rev: Vec<Vec<u8>> = z.range(0, z.len(), true).map(|(_, m)| m.to_vec()).collect();
    assert_eq!(rev, want.iter().rev().map(|(_, m)| m.clone()).collect::<Vec<_>>());
    for (i, (s, m)) in want.iter().enumerate() {
        assert_eq!(z.rank(m), Some(i));
        assert!(same(z.score(m).unwrap(), *s));
        assert_eq!(z.nth(i).1, &m[..]);
    }
    assert_eq!(z.score(b"absent"), None);
    // Score ranges.
    for (a, b) in [(0, 10), (3, 4), (4, 3), (1, 8), (5, 5)] {
        for (xa, xb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (min, max) =
                (ScoreBound { value: SCORES[a], exclusive: xa }, ScoreBound { value: SCORES[b], exclusive: xb });
            let inside = |s: f64| {
                (if xa { s > min.value } else { s >= min.value }) && (if xb { s < max.value } else { s <= max.value })
            };
            let (lo, hi) = z.score_range(min, max);
            let expect: Vec<&Vec<u8>> = want.iter().filter(|(s, _)| inside(*s)).map(|(_, m)| m).collect();
            let got: Vec<Vec<u8>> = z.range(lo, hi, false).map(|(_, m)| m.to_vec()).collect();
            assert_eq!(got.iter().collect::<Vec<_>>(), expect);
        }
    }
    // Lex ranges are defined when every score is equal.
    if want.windows(2).all(|w| w[0].0 == w[1].0) {
        let probes: [&[u8]; 4] = [b"", b"c", b"l", b"zz"];
        let mut bounds = vec![LexBound::Min, LexBound::Max];
        for p in probes {
            bounds.push(LexBound::Incl(p));
            bounds.push(LexBound::Excl(p));
        }
        for min in &bounds {
            for max in &bounds {
                let expect: Vec<&Vec<u8>> =
                    want.iter().map(|(_, m)| m).filter(|m| min.below(m) && max.above(m)).collect();
                for rev in [false, true] {
                    let (lo, hi) = z.lex_range(*min, *max, rev);
                    let got: Vec<Vec<u8>> = z.range(lo, hi, false).map(|(_, m)| m.to_vec()).collect();
                    assert_eq!(got.iter().collect::<Vec<_>>(), expect, "{min:?} {max:?} {rev}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_model(ops in proptest::collection::vec(op(40), 1..300), entries in 0usize..12, value in 1usize..20) {
        run(ops, (entries, value))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Enough members for a tree of many leaves, updates and removals across them.
    #[test]
    fn large_matches_the_model(ops in proptest::collection::vec(op(3000), 500..2500)) {
        run(ops, (16, 64))?;
    }
}

fn run(ops: Vec<Op>, limits: (usize, usize)) -> Result<(), TestCaseError> {
    let (entries, value) = limits;
    {
        let mut z = ZSet::default();
        let mut model = Model::default();
        let mut converted = false;
        for op in ops {
            match op {
                Op::Add(m, s, f) => {
                    let (m, f) = (member(m), flags(f));
                    let got = z.add_with(&m, SCORES[s], f, limits);
                    let want = model.add(&m, SCORES[s], f);
                    match (got, want) {
                        (Ok(Added::New(a)), Ok(Added::New(b)))
                        | (Ok(Added::Updated(a)), Ok(Added::Updated(b)))
                        | (Ok(Added::Same(a)), Ok(Added::Same(b))) => prop_assert!(same(a, b)),
                        (g, w) => prop_assert_eq!(g, w),
                    }
                }
                Op::Remove(m) => prop_assert_eq!(z.remove(&member(m)), model.0.remove(&member(m)).is_some()),
                Op::Pop(count, max) => {
                    let mut want = model.sorted();
                    if max {
                        want.reverse();
                    }
                    want.truncate(count);
                    let got = z.pop(count, max);
                    prop_assert_eq!(got.len(), want.len());
                    for ((_, gm), (_, wm)) in got.iter().zip(&want) {
                        prop_assert_eq!(&gm[..], &wm[..]);
                        model.0.remove(wm);
                    }
                }
                Op::RemoveRange(lo, hi) => {
                    let (lo, hi) = (lo.min(z.len()), hi.min(z.len()));
                    for (_, m) in &model.sorted()[lo..hi.max(lo)] {
                        model.0.remove(m);
                    }
                    z.remove_range(lo, hi);
                }
            }
            // Sticky conversion: once large, large for good.
            if converted {
                prop_assert_eq!(z.encoding(), "skiplist");
            }
            converted = z.encoding() == "skiplist";
            if !converted {
                prop_assert!(z.len() <= entries);
            }
        }
        check_against(&z, &model);
        let rebuilt = ZSet::build_with(model.sorted(), limits);
        let fits = model.0.len() <= entries && model.0.keys().all(|m| m.len() <= value);
        prop_assert_eq!(rebuilt.encoding(), if fits { "listpack" } else { "skiplist" });
        check_against(&rebuilt, &model);
    }
    Ok(())
}

#[test]
fn layout_stays_compact() {
    assert_eq!(size_of::<ZSet>(), 32);
    assert!(ZSet::default().weight() <= 48);
}

#[test]
fn listpack_stores_negative_zero_as_zero_and_skiplist_keeps_it() {
    let mut z = ZSet::default();
    assert_eq!(z.add_with(b"m", -0.0, AddFlags::default(), (128, 64)), Ok(Added::New(-0.0)));
    assert!(z.score(b"m").unwrap().is_sign_positive());
    let mut z = ZSet::default();
    z.add_with(b"m", -0.0, AddFlags::default(), (0, 64)).unwrap();
    assert_eq!(z.encoding(), "skiplist");
    assert!(z.score(b"m").unwrap().is_sign_negative());
    // Equal scores do not count as an update: the stored -0 stays.
    assert_eq!(z.add_with(b"m", 0.0, AddFlags::default(), (0, 64)), Ok(Added::Same(0.0)));
    assert!(z.score(b"m").unwrap().is_sign_negative());
}

#[test]
fn incr_to_nan_changes_nothing() {
    for limits in [(128, 64), (0, 64)] {
        let mut z = ZSet::default();
        z.add_with(b"m", f64::INFINITY, AddFlags::default(), limits).unwrap();
        let incr = AddFlags { incr: true, ..AddFlags::default() };
        assert_eq!(z.add_with(b"m", f64::NEG_INFINITY, incr, limits), Err(NotANumber));
        assert_eq!(z.score(b"m"), Some(f64::INFINITY));
    }
}

#[test]
fn a_million_members_stay_compact() {
    // The redis-benchmark shape: `element:<12 digits>` with random integer scores.
    let mut z = ZSet::default();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..200_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        z.insert(format!("element:{:012}", (x ^ i) % 1_000_000_000_000).as_bytes(), (x % 1000) as f64);
    }
    let per = z.weight() as f64 / z.len() as f64;
    assert!(per < 100.0, "{per:.1} B per member");
    z.check();
}

#[test]
fn a_small_skiplist_set_stays_small() {
    // Five 101-byte members: `skiplist` (members past 64 bytes), one leaf sized to them.
    let long = "x".repeat(100);
    let mut z = ZSet::default();
    for i in 0..5 {
        z.add_with(format!("{i}{long}").as_bytes(), f64::from(i), AddFlags::default(), (128, 64)).unwrap();
    }
    assert_eq!(z.encoding(), "skiplist");
    assert!(z.weight() < 1300, "{} B", z.weight());
    for i in 0..4 {
        z.remove(format!("{i}{long}").as_bytes());
    }
    z.check();
    assert!(z.weight() < 800, "{} B", z.weight());
}
