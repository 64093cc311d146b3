//! The list layout against a `VecDeque` model (proptest) and its invariants.

use super::*;
use proptest::prelude::*;

fn with_fill<R>(fill: i64, f: impl FnOnce() -> R) -> R {
    TEST_FILL.with(|c| c.set(Some(fill)));
    let r = f();
    TEST_FILL.with(|c| c.set(None));
    r
}

fn items(l: &List) -> Vec<Vec<u8>> {
    l.iter().map(|e| e.to_vec()).collect()
}

#[test]
fn entries_round_trip_in_both_directions() {
    let mut values: Vec<Vec<u8>> = Vec::new();
    for i in [0i64, 1, 127, 128, -1, -4096, 4095, 4096, -4097, 32767, -32768, 32768, 8388607, -8388608, 8388608]
        .into_iter()
        .chain([i64::from(i32::MAX), i64::from(i32::MIN), i64::from(i32::MAX) + 1, i64::MAX, i64::MIN])
    {
        values.push(i.to_string().into_bytes());
    }
    for s in ["", "01", "+1", "-0", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "abc", "\0\r\n"] {
        values.push(s.as_bytes().to_vec());
    }
    for n in [62, 63, 64, 4095, 4096, 70000] {
        values.push(vec![b'x'; n]);
    }
    let l: List = values.iter().collect();
    l.check();
    assert_eq!(items(&l), values);
    let back: Vec<Vec<u8>> = l.iter().rev().map(|e| e.to_vec()).collect();
    assert_eq!(back, values.iter().rev().cloned().collect::<Vec<_>>());
    // Canonical integers are stored as integers, everything else as bytes.
    assert_eq!(classify(b"127"), Raw::Int(127));
    assert_eq!(classify(b"01"), Raw::Str(b"01"));
    assert_eq!(enc_size(classify(b"xxx")), 4);
    assert_eq!(enc_size(classify(b"5")), 2);
    assert_eq!(enc_size(classify(b"-1000")), 3);
}

#[test]
fn size_classes_follow_jemalloc() {
    let got: Vec<usize> = [1, 16, 17, 33, 49, 65, 129, 4097, 8192, 8193].into_iter().map(size_class).collect();
    assert_eq!(got, [16, 16, 32, 48, 64, 80, 160, 5120, 8192, 10240]);
}

#[test]
fn chunks_stay_within_the_budget() {
    for fill in [-1, -2, -5, 0, 1, 3, 128] {
        with_fill(fill, || {
            let mut l = List::new();
            for i in 0..3000 {
                if i % 2 == 0 {
                    l.push_front(format!("e{i}").as_bytes());
                } else {
                    l.push_back(format!("e{i}").as_bytes());
                }
            }
            l.insert(1500, &[b'y'; 300]);
            l.set(10, &[b'z'; 5000]);
            l.check();
            assert_eq!(l.len(), 3001);
        });
    }
}

/// 1M elements of 3 bytes (redis-benchmark's LPUSH) weigh about 3 bytes each in uniform
/// chunks (Redis 7.0: 5); of mixed sizes, one byte more each (Redis: two).
#[test]
fn a_million_small_elements_weigh_their_bytes() {
    let mut l = List::new();
    for _ in 0..1_000_000 {
        l.push_front(b"xxx");
    }
    l.check();
    let per = l.weight() as f64 / 1e6;
    assert!(per < 3.05, "{per} bytes per element");
    let mut l = List::new();
    for i in 0..1_000_000 {
        l.push_back(if i % 2 == 0 { b"xxx" } else { b"yy" });
    }
    l.check();
    let per = l.weight() as f64 / 1e6;
    assert!(per < 3.6, "{per} bytes per element");
    let mut small = List::new();
    for i in 0..10 {
        small.push_back(format!("v{i:03}").as_bytes());
    }
    assert!(small.weight() <= 16 + 48 + 32 + 80, "{}", small.weight());
}

#[derive(Debug, Clone)]
enum Op {
    PushFront(Vec<u8>),
    PushBack(Vec<u8>),
    PopFront,
    PopBack,
    Insert(usize, Vec<u8>),
    Set(usize, Vec<u8>),
    Remove(usize),
    RemoveMatching(Vec<u8>, usize, bool),
    Trim(usize, usize),
    Get(usize),
    IterFrom(usize),
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (-300i64..300).prop_map(|i| i.to_string().into_bytes()),
        1 => any::<i64>().prop_map(|i| i.to_string().into_bytes()),
        4 => proptest::collection::vec(any::<u8>(), 0..8),
        2 => proptest::collection::vec(b'a'..b'c', 0..3),
        1 => proptest::collection::vec(any::<u8>(), 60..200),
        1 => (4000usize..4200).prop_map(|n| vec![b'q'; n]),
    ]
}

/// Mostly strings of one width (uniform chunks), now and then another shape.
fn same_width() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => proptest::collection::vec(b'a'..b'd', 3..=3),
        1 => proptest::collection::vec(b'a'..b'd', 2..=2),
        1 => (0i64..200).prop_map(|i| i.to_string().into_bytes()),
        1 => (0usize..2).prop_map(|n| vec![b'x'; n * 70]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    op_with(value().boxed())
}

fn op_with(value: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Op> {
    let v = move || value.clone();
    prop_oneof![
        4 => v().prop_map(Op::PushFront),
        4 => v().prop_map(Op::PushBack),
        1 => Just(Op::PopFront),
        1 => Just(Op::PopBack),
        2 => (any::<usize>(), v()).prop_map(|(i, v)| Op::Insert(i, v)),
        2 => (any::<usize>(), v()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => (v(), 0usize..4, any::<bool>()).prop_map(|(v, n, b)| Op::RemoveMatching(v, n, b)),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Op::Trim(a, b)),
        1 => any::<usize>().prop_map(Op::Get),
        1 => any::<usize>().prop_map(Op::IterFrom),
    ]
}

fn apply(l: &mut List, m: &mut VecDeque<Vec<u8>>, op: Op) {
    let len = m.len();
    match op {
        Op::PushFront(v) => {
            l.push_front(&v);
            m.push_front(v);
        }
        Op::PushBack(v) => {
            l.push_back(&v);
            m.push_back(v);
        }
        Op::PopFront => assert_eq!(l.pop_front().map(|b| b.to_vec()), m.pop_front()),
        Op::PopBack => assert_eq!(l.pop_back().map(|b| b.to_vec()), m.pop_back()),
        Op::Insert(i, v) => {
            let i = i % (len + 1);
            l.insert(i, &v);
            m.insert(i, v);
        }
        Op::Set(i, v) => {
            let i = if len == 0 { i % 3 } else { i % (len + 1) };
            assert_eq!(l.set(i, &v), i < len);
            if i < len {
                m[i] = v;
            }
        }
        Op::Remove(i) => {
            let i = i % (len + 1);
            assert_eq!(l.remove(i), m.remove(i).is_some());
        }
        Op::RemoveMatching(v, n, from_back) => {
            let mut removed = 0;
            let max = if n == 0 { usize::MAX } else { n };
            let mut kept: Vec<Vec<u8>> = Vec::new();
            let order: Vec<Vec<u8>> =
                if from_back { m.iter().rev().cloned().collect() } else { m.iter().cloned().collect() };
            for x in order {
                if x == v && removed < max {
                    removed += 1;
                } else {
                    kept.push(x);
                }
            }
            if from_back {
                kept.reverse();
            }
            *m = kept.into();
            assert_eq!(l.remove_matching(&v, n, from_back), removed);
        }
        Op::Trim(a, b) => {
            let (start, end) = (a.min(len), len.saturating_sub(b).max(a.min(len)));
            l.trim(start..end);
            *m = m.iter().skip(start).take(end - start).cloned().collect();
        }
        Op::Get(i) => {
            let i = i % (len + 1);
            assert_eq!(l.get(i).map(|e| e.to_vec()), m.get(i).cloned());
        }
        Op::IterFrom(i) => {
            let i = i % (len + 1);
            let got: Vec<Vec<u8>> = l.iter_from(i).map(|e| e.to_vec()).collect();
            assert_eq!(got, m.iter().skip(i).cloned().collect::<Vec<_>>());
            assert_eq!(l.iter_from(i).len(), len - i);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn behaves_like_a_vecdeque(fill in prop_oneof![Just(-1i64), Just(-2), Just(0), Just(1), Just(2), Just(7)],
                               uniform in any::<bool>(),
                               ops in proptest::collection::vec(op(), 1..300),
                               same in proptest::collection::vec(op_with(same_width().boxed()), 1..600)) {
        let ops = if uniform { same } else { ops };
        with_fill(fill, || {
            let mut l = List::new();
            let mut m = VecDeque::new();
            for op in ops {
                apply(&mut l, &mut m, op);
                l.check();
                prop_assert_eq!(l.len(), m.len());
            }
            prop_assert_eq!(items(&l), m.iter().cloned().collect::<Vec<_>>());
            let back: Vec<Vec<u8>> = l.iter().rev().map(|e| e.to_vec()).collect();
            prop_assert_eq!(back, m.iter().rev().cloned().collect::<Vec<_>>());
            // A mixed walk from both ends meets in the middle without crossing.
            let mut it = l.iter();
            let mut seen = 0;
            while (if seen % 2 == 0 { it.next() } else { it.next_back() }).is_some() {
                seen += 1;
            }
            prop_assert_eq!(seen, m.len());
            Ok(())
        })?;
    }
}
