//! Stream payloads: byte equality with one captured from redis-server 7.0.15, round trips of
//! deleted entries, multi-node streams and groups, and refusal of damaged bodies.

use super::super::{Options, dump_payload, restore_payload};
use crate::entry::Value;
use crate::types::stream::{Group, Stream, StreamId};
use bytes::Bytes;
use proptest::prelude::*;
use std::sync::Arc;

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId { ms, seq }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// `XADD s 1-1 a 1 b x`, `XADD s 1-2 a 2 b y`, `XADD s 2-0 c 3`, `XDEL s 1-2`, `XGROUP CREATE s g
/// 0`, `XREADGROUP GROUP g alice COUNT 1 STREAMS s >`: DUMP on redis-server 7.0.15.
const REDIS: &str = "130110000000000000000100000000000000013f3f00000019000201010102018161028162020001020100\
010001010181780205010301000101010201817902050100010101dfff02010181630203010601ff0202000101010203\
010167010181ffffffffffffffff0100000000000000010000000000000001a5bb022ba2010000010105616c696365a5\
bb022ba201000001000000000000000100000000000000010a002fed43dad9f3f259";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn sample() -> Stream {
    let mut s = Stream::default();
    s.append(id(1, 1), &[b("a"), b("1"), b("b"), b("x")]);
    s.append(id(1, 2), &[b("a"), b("2"), b("b"), b("y")]);
    s.append(id(2, 0), &[b("c"), b("3")]);
    s.delete(id(1, 2));
    let mut g = Group::new(id(1, 1), None);
    g.create_consumer(b"alice", 1796017929125);
    g.claim(id(1, 1), b"alice", 1796017929125, Some(1), false);
    s.groups.insert(b("g"), g);
    s
}

/// Everything a stream shows: entries, counters, groups with their PEL and consumers.
fn view(s: &Stream) -> String {
    let entries: Vec<String> = s
        .range(StreamId::MIN, StreamId::MAX)
        .map(|(id, f)| format!("{id}:{:?}", f.pairs().collect::<Vec<_>>()))
        .collect();
    let groups: Vec<String> = s
        .groups
        .iter()
        .map(|(n, g)| {
            let pel: Vec<_> = g.pel_range(StreamId::MIN, StreamId::MAX).map(|(id, p)| format!("{id}:{p:?}")).collect();
            let cons: Vec<_> = g.consumers().map(|(n, c)| format!("{n:?}:{c:?}")).collect();
            format!("{n:?} {} {:?} {pel:?} {cons:?}", g.last_id, g.entries_read)
        })
        .collect();
    format!(
        "{entries:?} len={} last={} first={} maxdel={} added={} {groups:?}",
        s.len(),
        s.last_id(),
        s.recorded_first_id(),
        s.max_deleted_id(),
        s.entries_added()
    )
}

fn round_trip(s: Stream) -> Stream {
    let p = dump_payload(&Value::Stream(Arc::new(s.clone())), Options::default()).unwrap();
    let Value::Stream(back) = restore_payload(&p).unwrap() else { panic!("not a stream") };
    assert_eq!(view(&back), view(&s));
    assert_eq!(back.blocks(), s.blocks());
    let again = dump_payload(&Value::Stream(back.clone()), Options::default()).unwrap();
    assert_eq!(again, p, "a restored stream dumps the same bytes");
    Arc::unwrap_or_clone(back)
}

#[test]
fn dump_matches_redis_bytes() {
    let p = dump_payload(&Value::Stream(Arc::new(sample())), Options::default()).unwrap();
    assert_eq!(p, unhex(REDIS));
    let Value::Stream(back) = restore_payload(&unhex(REDIS)).unwrap() else { panic!("not a stream") };
    assert_eq!(view(&back), view(&sample()));
}

#[test]
fn empty_and_multi_node_streams_round_trip() {
    let mut s = Stream::default();
    s.set_last_id(id(5, 5), Some(7), Some(id(3, 0)));
    round_trip(s);
    let mut s = Stream::default();
    for i in 1..=350u64 {
        let f = if i % 7 == 0 {
            vec![b("other"), b("v")]
        } else {
            vec![b("f"), Bytes::from(i.to_string()), b("g"), b("text")]
        };
        s.append(id(i * 1000, i % 3), &f);
    }
    for i in (5..350u64).step_by(11) {
        s.delete(id(i * 1000, i % 3));
    }
    assert!(s.blocks() > 3);
    let back = round_trip(s);
    assert_eq!(back.len(), 350 - 32);
}

#[test]
fn old_type_15_derives_the_counters() {
    // Type 19's body without first id, max deleted id, entries added and entries read.
    let mut p = unhex(REDIS);
    p.truncate(p.len() - 10);
    let mut body = vec![super::super::types::STREAM_LISTPACKS];
    let rest = &p[1..];
    // nodes (key + listpack) end where the length (2) and last id (2-0) start.
    let nodes_end = 1 + 17 + 1 + 63;
    body.extend_from_slice(&rest[..nodes_end]);
    body.extend_from_slice(&[2, 2, 0, 1]); // length 2, last id 2-0, one group
    body.extend_from_slice(&[1, b'g', 1, 1]); // name, last id 1-1
    let pel_and_consumers = &rest[nodes_end + 1 + 2 + 2 + 2 + 1 + 1 + 2 + 2 + 9..];
    body.extend_from_slice(pel_and_consumers);
    let Value::Stream(s) = restore_payload(&super::super::seal(body)).unwrap() else { panic!("not a stream") };
    assert_eq!(s.len(), 2);
    assert_eq!(s.entries_added(), 2);
    assert_eq!(s.max_deleted_id(), StreamId::MIN);
    assert_eq!(s.groups[&b("g")].pel_len(), 1);
}

#[test]
fn inconsistent_groups_are_refused() {
    let p = unhex(REDIS);
    // The consumer's PEL count (1) set to 0: the group PEL entry has no consumer.
    let body = &p[..p.len() - 10];
    let at = body.len() - 17;
    assert_eq!(body[at], 1);
    let mut bad = body.to_vec();
    bad[at] = 0;
    bad.truncate(at + 1);
    assert!(restore_payload(&super::super::seal(bad)).is_err());
}

#[test]
fn type_21_of_redis_7_2_is_refused_as_redis_7_0_does() {
    let mut p = unhex(REDIS);
    p.truncate(p.len() - 10);
    p[0] = 21;
    assert!(matches!(restore_payload(&super::super::seal(p)), Err(super::super::Error::UnknownType(21))));
}

/// One step building a stream: append (ms step, seq, fields pattern, value length), delete the
/// k-th id appended, or trim.
#[derive(Debug, Clone)]
enum Op {
    Append(u64, u64, u8, usize),
    Delete(usize),
    Trim(u64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u64..3, 0u64..4, 0u8..4, 0usize..200).prop_map(|(a, b, c, d)| Op::Append(a, b, c, d)),
        2 => any::<usize>().prop_map(Op::Delete),
        1 => (0u64..300, any::<bool>()).prop_map(|(n, approx)| Op::Trim(n, approx)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn built_streams_round_trip(ops in proptest::collection::vec(op(), 0..400)) {
        let mut s = Stream::default();
        let mut ids = Vec::new();
        for o in ops {
            match o {
                Op::Append(dms, seq, shape, vlen) => {
                    let last = s.last_id();
                    let id = if dms == 0 { id(last.ms, last.seq + 1 + seq) } else { id(last.ms + dms, seq) };
                    let v = Bytes::from("v".repeat(vlen));
                    let pairs = match shape {
                        0 => vec![b("f"), v, b("g"), b("12")],
                        1 => vec![b("f"), v],
                        2 => vec![b("h"), Bytes::from(vlen.to_string())],
                        _ => vec![b("f"), b("-7"), b("g"), v],
                    };
                    s.append(id, &pairs);
                    ids.push(id);
                }
                Op::Delete(k) if !ids.is_empty() => {
                    s.delete(ids[k % ids.len()]);
                }
                Op::Trim(n, approx) => {
                    s.trim(crate::types::stream::Trim::MaxLen(n), approx, 0);
                }
                Op::Delete(_) => {}
            }
        }
        if let Some(&first) = ids.first() {
            let mut g = Group::new(first, Some(1));
            g.create_consumer(b"c1", 5);
            g.create_consumer(b"c2", 6);
            for (i, id) in ids.iter().enumerate().step_by(3) {
                g.claim(*id, if i % 2 == 0 { b"c1" } else { b"c2" }, 1000 + i as u64, Some(i as u64 % 5 + 1), false);
            }
            s.groups.insert(b("grp"), g);
        }
        round_trip(s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn damaged_payloads_never_panic(at in 0usize..1000, byte: u8, cut in 0usize..1000) {
        let mut s = sample();
        for i in 3..150u64 {
            s.append(id(i, 0), &[b("a"), Bytes::from(i.to_string()), b("b"), b("y")]);
        }
        let p = dump_payload(&Value::Stream(Arc::new(s)), Options::default()).unwrap();
        let mut body = p[..p.len() - 10].to_vec();
        let at = at % body.len();
        body[at] = byte;
        body.truncate(body.len() - cut % 40);
        let _ = restore_payload(&super::super::seal(body));
    }
}
