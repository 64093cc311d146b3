//! The redirect decision against tables built by hand: each Redis outcome, in Redis's order.

use super::*;
use crate::cluster::Endpoint;
use crate::commands::registry;

fn args(line: &str) -> Vec<Bytes> {
    line.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
}

/// The decision for the commands `lines` (several: an EXEC queue) where `present` keys exist.
fn run(table: &Table, lines: &[&str], asking: bool, present: &[&str]) -> Result<(), Redirect> {
    let reg = registry();
    let all: Vec<Vec<Bytes>> = lines.iter().map(|l| args(l)).collect();
    let cmds: Vec<Cmd<'_>> = all
        .iter()
        .map(|a| {
            let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
            let mut idx = reg.find(&name).unwrap_or_else(|| panic!("{name}"));
            if !reg.entries[idx].1.subcommands.is_empty() {
                let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
                idx = reg.find(&format!("{name}|{sub}")).unwrap();
            }
            Cmd { full: reg.entries[idx].0.as_str(), spec: reg.entries[idx].1, args: a }
        })
        .collect();
    decide(table, &cmds, asking, |k| present.iter().any(|p| p.as_bytes() == k)).map(drop)
}

/// A table where this node serves every slot but those of `foo` (node 0) and `bar` (unassigned).
fn table() -> Table {
    let mut t = Table { ok: true, ..Table::default() };
    t.owners.fill(Owner::Me);
    t.nodes = vec![Endpoint { host: "127.0.0.1".into(), port: 7001 }, Endpoint { host: "10.0.0.2".into(), port: 7002 }];
    t.owners[usize::from(key_slot(b"foo"))] = Owner::Node(0);
    t.owners[usize::from(key_slot(b"bar"))] = Owner::Unassigned;
    t
}

#[test]
fn moved_crossslot_unbound_and_keyless_commands() {
    let t = table();
    assert_eq!(run(&t, &["get a"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["get foo"], false, &[]), Err(Redirect::Moved(12182, "127.0.0.1:7001".into())));
    assert_eq!(Redirect::Moved(12182, "127.0.0.1:7001".into()).message(), "MOVED 12182 127.0.0.1:7001");
    assert_eq!(run(&t, &["get bar"], false, &[]), Err(Redirect::Unbound));
    assert_eq!(run(&t, &["mget a b"], false, &[]), Err(Redirect::CrossSlot));
    // The first key decides: unbound before cross-slot, cross-slot before moved.
    assert_eq!(run(&t, &["mget bar foo"], false, &[]), Err(Redirect::Unbound));
    assert_eq!(run(&t, &["mget foo {foo}x a"], false, &[]), Err(Redirect::CrossSlot));
    assert_eq!(run(&t, &["mget foo {foo}x"], false, &[]), Err(Redirect::Moved(12182, "127.0.0.1:7001".into())));
    assert_eq!(run(&t, &["mset a 1 a 2"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["ping"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["dbsize"], false, &[]), Ok(()));
    // Keys found by parsing: numkeys, STORE, STREAMS; EVAL with no keys runs anywhere.
    assert_eq!(run(&t, &["eval x 0"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["eval x 1 foo"], false, &[]), Err(Redirect::Moved(12182, "127.0.0.1:7001".into())));
    assert_eq!(run(&t, &["fcall f 2 a b"], false, &[]), Err(Redirect::CrossSlot));
    assert_eq!(run(&t, &["zunionstore a 2 {a}1 {a}2"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["zunionstore a 2 {a}1 b"], false, &[]), Err(Redirect::CrossSlot));
    assert_eq!(run(&t, &["xread streams a b 0 0"], false, &[]), Err(Redirect::CrossSlot));
    assert_eq!(run(&t, &["sort a store b"], false, &[]), Err(Redirect::CrossSlot));
    assert_eq!(run(&t, &["object encoding foo"], false, &[]), Err(Redirect::Moved(12182, "127.0.0.1:7001".into())));
}

#[test]
fn transactions_are_one_slot() {
    let t = table();
    assert_eq!(run(&t, &["set {a}1 x", "get {a}2"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["set a x", "ping", "get b"], false, &[]), Err(Redirect::CrossSlot));
    assert_eq!(run(&t, &["ping", "get foo"], false, &[]), Err(Redirect::Moved(12182, "127.0.0.1:7001".into())));
}

#[test]
fn cluster_down_refuses_keyed_commands_and_may_allow_reads() {
    let mut t = table();
    t.ok = false;
    assert_eq!(run(&t, &["ping"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["get a"], false, &[]), Err(Redirect::Down));
    assert_eq!(run(&t, &["get bar"], false, &[]), Err(Redirect::Unbound));
    t.reads_when_down = true;
    assert_eq!(run(&t, &["get a"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["set a 1"], false, &[]), Err(Redirect::DownReadOnly));
    assert_eq!(run(&t, &["get foo"], false, &[]), Err(Redirect::Moved(12182, "127.0.0.1:7001".into())));
    assert_eq!(Redirect::DownReadOnly.message(), "CLUSTERDOWN The cluster is down and only accepts read commands");
}

#[test]
fn migrating_slot_asks_for_missing_keys_and_tries_again_for_partial_ones() {
    let mut t = table();
    let s = key_slot(b"a");
    t.migrating.insert(s, 1);
    let ask = Err(Redirect::Ask(s, "10.0.0.2:7002".into()));
    assert_eq!(run(&t, &["get a"], false, &["a"]), Ok(()));
    assert_eq!(run(&t, &["get a"], false, &[]), ask);
    assert_eq!(run(&t, &["mget a {a}x"], false, &["a", "{a}x"]), Ok(()));
    assert_eq!(run(&t, &["mget a {a}x"], false, &["a"]), Err(Redirect::TryAgain));
    assert_eq!(run(&t, &["mget a {a}x"], false, &[]), ask);
    // MIGRATE works locally on an open slot.
    assert_eq!(run(&t, &["migrate h 1 a 0 10"], false, &[]), Ok(()));
}

#[test]
fn importing_slot_serves_asking_clients_only() {
    let mut t = table();
    let s = key_slot(b"foo");
    t.importing.insert(s, 0);
    let moved = Err(Redirect::Moved(s, "127.0.0.1:7001".into()));
    assert_eq!(run(&t, &["get foo"], false, &[]), moved);
    assert_eq!(run(&t, &["get foo"], true, &[]), Ok(()));
    assert_eq!(run(&t, &["restore-asking foo 0 x"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["mget foo {foo}x"], true, &["foo"]), Err(Redirect::TryAgain));
    assert_eq!(run(&t, &["mget foo {foo}x"], true, &["foo", "{foo}x"]), Ok(()));
    assert_eq!(run(&t, &["mget foo foo"], true, &[]), Ok(()));
}

#[test]
fn parked_clients_are_redirected_when_their_slot_leaves() {
    let mut t = table();
    let keys = |k: &str| vec![Bytes::copy_from_slice(k.as_bytes())];
    assert_eq!(blocked_redirect(&t, &keys("a")), None);
    assert_eq!(blocked_redirect(&t, &keys("foo")), Some(Redirect::Moved(12182, "127.0.0.1:7001".into())));
    assert_eq!(blocked_redirect(&t, &keys("bar")), Some(Redirect::Unbound));
    t.importing.insert(key_slot(b"foo"), 0);
    assert_eq!(blocked_redirect(&t, &keys("foo")), None);
    t.ok = false;
    t.reads_when_down = true;
    assert_eq!(blocked_redirect(&t, &keys("a")), Some(Redirect::Down));
}

#[test]
fn shard_channels_route_like_keys() {
    let mut t = table();
    assert_eq!(run(&t, &["spublish foo m"], false, &[]), Err(Redirect::Moved(12182, "127.0.0.1:7001".into())));
    assert_eq!(run(&t, &["spublish a m"], false, &[]), Ok(()));
    assert_eq!(run(&t, &["ssubscribe a b"], false, &[]), Err(Redirect::CrossSlot));
    assert_eq!(run(&t, &["sunsubscribe"], false, &[]), Ok(()));
    t.ok = false;
    assert_eq!(run(&t, &["spublish a m"], false, &[]), Ok(()));
    // The publish (a write) is never refused as one while down, nor asked for in a migration.
    t.ok = true;
    t.migrating.insert(key_slot(b"a"), 1);
    assert_eq!(run(&t, &["spublish a m"], false, &[]), Ok(()));
}
