//! Unit tests of the tracking table: remembering, invalidation, NOLOOP, BCAST batching, flush,
//! the table bound and REDIRECT delivery.

use super::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn inval(keys: &[&str]) -> Push {
    Push::Invalidate { keys: Some(keys.iter().map(|k| b(k)).collect()), null_resp3: false, redirected: false }
}

#[test]
fn a_read_key_is_invalidated_once_on_write() {
    let t = Tracking::default();
    let mb = t.connect(1);
    t.enable(1, Mode::default(), &[]);
    t.remember(1, [b("k"), b("k")].iter(), 0);
    assert_eq!(t.counts(), (1, 1, 0));
    t.modified(b"other");
    assert!(!mb.has_pending());
    t.modified(b"k");
    assert_eq!(mb.take(), vec![inval(&["k"])]);
    t.modified(b"k");
    assert!(!mb.has_pending());
    assert_eq!(t.counts(), (0, 0, 0));
}

#[test]
fn noloop_skips_own_writes_only() {
    let t = Tracking::default();
    let mb = t.connect(1);
    t.enable(1, Mode { noloop: true, ..Mode::default() }, &[]);
    t.remember(1, [b("k")].iter(), 0);
    set_current_client(1);
    t.modified(b"k");
    set_current_client(0);
    assert!(!mb.has_pending());
    t.remember(1, [b("k")].iter(), 0);
    set_current_client(2);
    t.modified(b"k");
    set_current_client(0);
    assert_eq!(mb.take(), vec![inval(&["k"])]);
}

#[test]
fn bcast_batches_per_command_sorted_and_by_prefix() {
    let t = Tracking::default();
    let mb = t.connect(1);
    t.enable(1, Mode { bcast: true, ..Mode::default() }, &[b("a"), b("b")]);
    assert!(t.prefix_collision(1, &[b("ab")]).is_some());
    assert!(t.prefix_collision(1, &[b("c"), b("cd")]).is_some());
    set_current_client(7);
    for k in ["a2", "a1", "b1", "zz", "a2"] {
        t.modified(k.as_bytes());
    }
    set_current_client(0);
    assert!(!mb.has_pending(), "batched until the command ends");
    t.flush_broadcast();
    assert_eq!(mb.take(), vec![inval(&["a1", "a2"]), inval(&["b1"])]);
    // Outside a command (Memcached, expiry) the message goes at once.
    t.modified(b"a9");
    assert_eq!(mb.take(), vec![inval(&["a9"])]);
    assert_eq!(t.counts().2, 2);
    t.disable(1);
    assert_eq!(t.counts(), (0, 0, 0));
}

#[test]
fn flush_sends_null_and_empties_the_table() {
    let t = Tracking::default();
    let mb = t.connect(1);
    mb.resp3.store(true, Relaxed);
    t.enable(1, Mode::default(), &[]);
    t.remember(1, [b("k")].iter(), 0);
    t.flush();
    assert_eq!(mb.take(), vec![Push::Invalidate { keys: None, null_resp3: true, redirected: false }]);
    assert_eq!(t.counts(), (0, 0, 0));
}

#[test]
fn table_bound_invalidates_until_it_fits() {
    let t = Tracking::default();
    let mb = t.connect(1);
    t.enable(1, Mode::default(), &[]);
    let keys: Vec<Bytes> = (0..10).map(|i| b(&format!("k{i}"))).collect();
    t.remember(1, keys.iter(), 4);
    assert_eq!(t.counts().0, 4);
    assert_eq!(mb.take().len(), 6);
}

#[test]
fn redirect_goes_to_the_target_and_breaks_when_it_leaves() {
    let t = Tracking::default();
    let own = t.connect(1);
    let target = t.connect(2);
    t.enable(1, Mode { redirect: 2, ..Mode::default() }, &[]);
    t.remember(1, [b("k")].iter(), 0);
    t.modified(b"k");
    assert!(!own.has_pending());
    assert_eq!(target.take(), vec![Push::Invalidate { keys: Some(vec![b("k")]), null_resp3: false, redirected: true }]);
    t.disconnect(2);
    t.remember(1, [b("k")].iter(), 0);
    t.modified(b"k");
    assert_eq!(own.take(), vec![Push::RedirBroken(2)]);
    assert!(t.info(1).broken_redirect);
}
