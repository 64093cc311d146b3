//! Round trips of every type and encoding, payloads captured from redis-server 7.0.15, and a
//! mutation fuzzer asserting that no damaged payload panics or loads.

use super::*;
use crate::entry::{HashValue, Value};
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::zset::ZSet;
use bytes::Bytes;
use proptest::prelude::*;
use std::sync::Arc;

fn hash(pairs: &[(&[u8], &[u8])]) -> Value {
    let mut h = HashValue::default();
    for (f, v) in pairs {
        h.insert(f, Bytes::copy_from_slice(v));
    }
    Value::Hash(Arc::new(h))
}

fn list(items: &[&[u8]]) -> Value {
    let mut l = List::new();
    items.iter().for_each(|i| l.push_back(i));
    Value::List(Arc::new(l))
}

fn set(items: &[&[u8]]) -> Value {
    let mut s = Set::new();
    items.iter().for_each(|i| {
        s.insert(i);
    });
    Value::Set(Arc::new(s))
}

fn zset(pairs: &[(f64, &[u8])]) -> Value {
    Value::ZSet(Arc::new(pairs.iter().map(|&(s, m)| (s, m)).collect::<ZSet>()))
}

/// The value's contents in a comparable form (type, encoding, elements in a canonical order).
fn contents(v: &Value) -> (String, &'static str, Vec<Vec<u8>>) {
    let mut items: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.to_vec()],
        Value::List(l) => l.iter().map(|e| e.to_vec()).collect(),
        Value::Set(s) => s.iter().map(|e| e.as_ref().to_vec()).collect(),
        Value::ZSet(z) => z.iter().flat_map(|(s, m)| [m.to_vec(), s.to_string().into_bytes()]).collect(),
        Value::Hash(h) => h.iter().flat_map(|(f, v)| [f.to_vec(), v.to_vec()]).collect(),
        Value::Stream(_) => vec![],
    };
    if matches!(v, Value::Set(_)) {
        items.sort();
    }
    (v.type_name().to_string(), v.encoding(), items)
}

fn round_trip(v: &Value) -> Vec<u8> {
    let p = dump_payload(v, Options::default()).unwrap();
    let back = restore_payload(&p).unwrap();
    assert_eq!(contents(&back), contents(v));
    p
}

/// A DUMP reply of redis-cli (`"\x11..."` escapes) as bytes.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b[i + 1] {
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 4;
                    continue;
                }
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'b' => out.push(8),
                b'a' => out.push(7),
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn payloads_equal_redis_7_0_15() {
    let cases: [(Value, &str); 5] = [
        (
            zset(&[(1.5, b"a"), (3.0, b"b"), (-0.0, b"c"), (1e19, b"d")]),
            r"\x11##\x00\x00\x00\b\x00\x81c\x02\x00\x01\x81a\x02\x831.5\x04\x81b\x02\x03\x01\x81d\x02\x851e+19\x06\xff\n\x00\x96\xc3Dr\xbc\xe5\x8f\xdb",
        ),
        (
            hash(&[(b"f", b"v"), (b"n", b"12")]),
            r"\x10\x12\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81n\x02\x0c\x01\xff\n\x00\x016\x94\x81\xd3[\x89t",
        ),
        (
            list(&[b"a", b"1", b"-5", b"300", b"100000"]),
            r"\x12\x01\x02\x17\x17\x00\x00\x00\x05\x00\x81a\x02\x01\x01\xdf\xfb\x02\xc1,\x02\xf2\xa0\x86\x01\x04\xff\n\x00>\xc3\x11\xcao\n\xa6\xab",
        ),
        (
            set(&[b"1", b"2", b"3"]),
            r"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\n\x00\xa5\x02\\\xe2mnM\x1b",
        ),
        (Value::str(b"12345"), r"\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\b\xb9"),
    ];
    for (v, redis) in cases {
        assert_eq!(round_trip(&v), unescape(redis), "{v:?}");
    }
}

#[test]
fn every_encoding_round_trips() {
    let big: Vec<Vec<u8>> = (0..3000).map(|i| format!("member:{i}").into_bytes()).collect();
    let big_refs: Vec<&[u8]> = big.iter().map(|b| &b[..]).collect();
    let long = vec![b'q'; 70];
    let values = [
        Value::str(b""),
        Value::str(&[b'z'; 5000]),
        Value::str(&(0..=255u8).collect::<Vec<_>>()),
        Value::str(b"-2147483648"),
        list(&big_refs),
        list(&[b"", &long, b"9223372036854775807", b"-9223372036854775808"]),
        set(&big_refs),
        set(&[b"-70000", b"5", b"9223372036854775807"]),
        set(&[b"x", b"1"]),
        zset(&[(f64::INFINITY, b"a"), (f64::NEG_INFINITY, b"b"), (0.1, b"c"), (1e300, &long)]),
        Value::ZSet(Arc::new(big_refs.iter().enumerate().map(|(i, m)| (i as f64 / 3.0, *m)).collect::<ZSet>())),
        hash(&[(b"", b""), (b"1", b"2")]),
        hash(&[(b"f", &long)]),
        Value::Hash(Arc::new({
            let mut h = HashValue::default();
            big.iter().for_each(|m| {
                h.insert(m, Bytes::copy_from_slice(m));
            });
            h
        })),
    ];
    for v in &values {
        round_trip(v);
    }
}

#[test]
fn old_encodings_load() {
    let seal = |ty: u8, body: &[u8]| {
        let mut p = vec![ty];
        p.extend_from_slice(body);
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    let lp_string = |items: &[&[u8]]| {
        let mut w = listpack::Writer::default();
        items.iter().for_each(|i| w.push(i));
        let mut out = Vec::new();
        io::put_string(&mut out, &w.finish(), Options::default());
        out
    };
    // A ziplist of "a", 1, "b", 2 (prevlens 0, 3, 2, 3).
    let zl = b"\x15\x00\x00\x00\x12\x00\x00\x00\x04\x00\x00\x01a\x03\xf2\x02\x01b\x03\xf3\xff";
    let zl_string = [&[zl.len() as u8][..], zl].concat();
    let h = restore_payload(&seal(types::HASH_ZIPLIST, &zl_string)).unwrap();
    assert_eq!(contents(&h), contents(&hash(&[(b"a", b"1"), (b"b", b"2")])));
    let z = restore_payload(&seal(types::ZSET_ZIPLIST, &zl_string)).unwrap();
    assert_eq!(contents(&z), contents(&zset(&[(1.0, b"a"), (2.0, b"b")])));
    let l = restore_payload(&seal(types::LIST_ZIPLIST, &zl_string)).unwrap();
    assert_eq!(contents(&l), contents(&list(&[b"a", b"1", b"b", b"2"])));
    let ql = [&[1u8][..], &zl_string].concat();
    assert_eq!(contents(&restore_payload(&seal(types::LIST_QUICKLIST, &ql)).unwrap()), contents(&l));
    let zm = b"\x0f\x02\x01f\x02\x00vv\x01g\x01\x02x\x00\x00\xff";
    let h = restore_payload(&seal(types::HASH_ZIPMAP, zm)).unwrap();
    assert_eq!(contents(&h), contents(&hash(&[(b"f", b"vv"), (b"g", b"x")])));
    // Plain types: list, set, zset with text scores, hash; a quicklist 2 with a plain node.
    let l = restore_payload(&seal(types::LIST, b"\x02\x01a\xc0\x07")).unwrap();
    assert_eq!(contents(&l), contents(&list(&[b"a", b"7"])));
    let z = restore_payload(&seal(types::ZSET, b"\x02\x01a\x031.5\x01b\xfe")).unwrap();
    assert_eq!(contents(&z), contents(&zset(&[(1.5, b"a"), (f64::INFINITY, b"b")])));
    let ql2 = [&b"\x02\x01\x03big\x02"[..], &lp_string(&[b"x"])].concat();
    let l = restore_payload(&seal(types::LIST_QUICKLIST_2, &ql2)).unwrap();
    assert_eq!(contents(&l), contents(&list(&[b"big", b"x"])));
    // What Redis refuses, we refuse.
    for (ty, body) in [
        (types::SET, &b"\x02\x01a\x01a"[..]),
        (types::SET, b"\x00"),
        (types::HASH, b"\x02\x01a\x01b\x01a\x01c"),
        (types::ZSET_2, b"\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f"),
        (types::ZSET, b"\x01\x01a\xfd"),
        (types::LIST_QUICKLIST_2, b"\x01\x03\x01a"),
        (types::STREAM_LISTPACKS_2, b"\x00"),
        (6, b"\x00"),
    ] {
        assert!(restore_payload(&seal(ty, body)).is_err(), "type {ty} body {body:?}");
    }
    let mut newer = seal(types::STRING, b"\x01a");
    newer[3] = 11;
    let crc = crc64(0, &newer[..newer.len() - 8]);
    let at = newer.len() - 8;
    newer[at..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(restore_payload(&newer).unwrap_err(), Error::Footer, "RDB version 11");
    assert_eq!(restore_payload(b"\x00\x01a\x0a\x00").unwrap_err(), Error::Footer, "too short");
}

fn samples() -> Vec<Vec<u8>> {
    let long: Vec<u8> = (0..200u8).collect();
    [
        Value::str(&[b'a'; 100]),
        list(&[b"a", b"12", &long]),
        set(&[b"1", b"300"]),
        set(&[b"x", b"y"]),
        zset(&[(1.5, b"a"), (2.0, b"b")]),
        Value::ZSet(Arc::new(ZSet::build_with(vec![(1.0, &b"a"[..]), (2.0, b"b")], (0, 0)))),
        hash(&[(b"f", b"v"), (b"g", &long)]),
        hash(&[(b"f", b"v")]),
    ]
    .iter()
    .map(|v| {
        let p = dump_payload(v, Options::default()).unwrap();
        p[..p.len() - 10].to_vec()
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// A valid body with bytes flipped, inserted, removed or cut never panics; what loads is a
    /// well-formed value (its own DUMP loads back to the same contents).
    #[test]
    fn mutated_bodies_never_panic(pick in 0usize..8, edits in prop::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 1..6)) {
        let mut body = samples()[pick].clone();
        for (at, byte, op) in edits {
            let at = usize::from(at) % (body.len() + 1);
            match op {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                2 if at < body.len() => { body.remove(at); }
                _ => body.truncate(at),
            }
        }
        let mut r = Reader::new(&body);
        if let Ok(ty) = r.byte() {
            if let Ok(v) = decode_value(ty, &mut r) {
                let again = restore_payload(&dump_payload(&v, Options::default()).unwrap()).unwrap();
                prop_assert_eq!(contents(&again), contents(&v));
            }
        }
    }
}

#[test]
fn hostile_lengths_are_refused_before_allocating() {
    let seal = |body: &[u8]| {
        let mut p = body.to_vec();
        p.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    let huge = b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"; // a 64-bit length of 2^32
    let cases: Vec<Vec<u8>> = vec![
        [&[types::STRING][..], huge].concat(),
        [&[types::STRING, 0xc3, 0x02][..], huge, b"\x00a"].concat(), // LZF: 2 bytes claiming 4 GiB
        [&[types::SET][..], huge].concat(),
        [&[types::LIST_QUICKLIST_2][..], huge].concat(),
        [&[types::ZSET_2][..], huge].concat(),
        [&[types::HASH][..], huge].concat(),
        [&[types::HASH_LISTPACK, 0x07][..], b"\xff\xff\xff\xff\x00\x00\xff"].concat(),
        [&[types::SET_INTSET, 0x08][..], b"\x08\x00\x00\x00\xff\xff\xff\xff"].concat(),
    ];
    for body in cases {
        let started = std::time::Instant::now();
        assert!(restore_payload(&seal(&body)).is_err(), "{body:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{body:?}");
    }
}
