//! Memcached `stats` groups: general, `settings`, `items`, `slabs` and `reset`, filled from the
//! Memcached counters ([`super::McStats`]) and the shared keyspace. There are no slab classes here,
//! so `items` and `slabs` report the whole keyspace as one class (1), which is what tools that
//! read them (memcached-tool, exporters) need to show item counts and memory.

use super::McState;
use super::commands::MEMCACHED_VERSION;
use crate::server::Shared;
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

fn load(a: &AtomicU64) -> u64 {
    a.load(Relaxed)
}

/// Writes the reply to `stats <args>`.
pub fn stats(shared: &Shared, mc: &McState, args: &[Bytes], out: &mut Vec<u8>) {
    let mut s = String::new();
    let mut stat = |name: &str, v: &dyn std::fmt::Display| {
        let _ = write!(s, "STAT {name} {v}\r\n");
    };
    let st = &mc.stats;
    let items = shared.db.dbsize(super::commands::DB);
    let bytes = shared.db.used_memory();
    let limit = shared.db.maxmemory();
    let (evictions, reclaimed) = shared.db.evictions();
    match args.first().map(|a| a.as_ref()) {
        None => {
            let now = shared.db.clock.now_ms() / 1000;
            stat("pid", &std::process::id());
            stat("uptime", &shared.started.elapsed().as_secs());
            stat("time", &now);
            stat("version", &MEMCACHED_VERSION);
            stat("pointer_size", &(usize::BITS));
            stat("curr_connections", &load(&st.curr_connections));
            stat("total_connections", &load(&st.total_connections));
            stat("rejected_connections", &load(&st.rejected_connections));
            for (n, v) in [
                ("cmd_get", &st.cmd_get),
                ("cmd_set", &st.cmd_set),
                ("cmd_flush", &st.cmd_flush),
                ("cmd_touch", &st.cmd_touch),
                ("get_hits", &st.get_hits),
                ("get_misses", &st.get_misses),
                ("delete_misses", &st.delete_misses),
                ("delete_hits", &st.delete_hits),
                ("incr_misses", &st.incr_misses),
                ("incr_hits", &st.incr_hits),
                ("decr_misses", &st.decr_misses),
                ("decr_hits", &st.decr_hits),
                ("cas_misses", &st.cas_misses),
                ("cas_hits", &st.cas_hits),
                ("cas_badval", &st.cas_badval),
                ("touch_hits", &st.touch_hits),
                ("touch_misses", &st.touch_misses),
                ("bytes_read", &st.bytes_read),
                ("bytes_written", &st.bytes_written),
            ] {
                stat(n, &load(v));
            }
            stat("limit_maxbytes", &limit);
            stat("threads", &shared.config.read().threads);
            stat("bytes", &bytes);
            stat("curr_items", &items);
            stat("evictions", &evictions);
            stat("reclaimed", &reclaimed);
        }
        Some(b"settings") => {
            let c = shared.config.read();
            stat("maxbytes", &limit);
            stat("maxconns", &c.maxclients);
            stat("tcpport", &c.memcached_port);
            stat("udpport", &0);
            stat("inter", &c.bind);
            stat("evictions", &if c.maxmemory_policy == crate::MaxMemoryPolicy::NoEviction { "off" } else { "on" });
            stat("cas_enabled", &"yes");
            stat("item_size_max", &c.memcached_max_item_size);
            stat("num_threads", &c.threads);
        }
        Some(b"items") => {
            if items > 0 {
                stat("items:1:number", &items);
                stat("items:1:evicted", &evictions);
                stat("items:1:reclaimed", &reclaimed);
            }
        }
        Some(b"slabs") => {
            if items > 0 {
                stat("1:used_chunks", &items);
                stat("1:mem_requested", &bytes);
            }
            stat("active_slabs", &u8::from(items > 0));
            stat("total_malloced", &bytes);
        }
        Some(b"reset") => {
            for a in [&st.cmd_get, &st.cmd_set, &st.get_hits, &st.get_misses, &st.total_connections] {
                a.store(0, Relaxed);
            }
            out.extend_from_slice(b"RESET\r\n");
            return;
        }
        Some(_) => {
            out.extend_from_slice(b"ERROR\r\n");
            return;
        }
    }
    s.push_str("END\r\n");
    out.extend_from_slice(s.as_bytes());
}
