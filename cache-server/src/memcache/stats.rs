//! Memcached `stats` groups: general, `settings`, `items`, `slabs`, `sizes`, `detail` (see
//! `detail.rs`) and `reset`, filled from the Memcached counters ([`super::McStats`]) and the
//! shared keyspace, with memcached 1.6.18's keys in its order (tools such as memcached-tool and
//! memcached-exporter parse them). The memory figures are the keyspace's own: `bytes` and
//! `total_malloced` are the weighed bytes of every entry (what `maxmemory` bounds), `curr_items`
//! the items of database 0, `limit_maxbytes` the `maxmemory` budget, `evictions` the core's
//! evictions for size, `reclaimed` its expired entries. There are no slab classes here (each
//! entry is one allocation), so `items` and `slabs` report one class (1) holding every item, one
//! chunk per item, its chunk size the mean item weight. `get_expired` counts the `get`s that
//! found an item past its expiry (and removed it), as memcached does. `get_flushed` stays 0:
//! `flush_all` removes items at once (memcached marks them and counts the `get`s that meet them
//! later), so no read ever meets a flushed item.

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
    let threads = worker_threads(shared.config.read().threads);
    match args.first().map(|a| a.as_ref()) {
        None => {
            // memcached 1.6.18's keys in its order; those with no counterpart here report what an
            // idle memcached reports (0, or its default), so tools see the shape they expect.
            let now = shared.db.clock.now_ms() / 1000;
            let (user, system) = rusage();
            let maxconns = shared.config.read().maxclients;
            stat("pid", &std::process::id());
            stat("uptime", &shared.started.elapsed().as_secs());
            stat("time", &now);
            stat("version", &MEMCACHED_VERSION);
            stat("libevent", &"none");
            stat("pointer_size", &(usize::BITS));
            stat("rusage_user", &user);
            stat("rusage_system", &system);
            stat("max_connections", &maxconns);
            stat("curr_connections", &load(&st.curr_connections));
            stat("total_connections", &load(&st.total_connections));
            stat("rejected_connections", &load(&st.rejected_connections));
            for n in ["connection_structures", "response_obj_oom", "response_obj_count", "response_obj_bytes"] {
                stat(n, &0);
            }
            for n in ["read_buf_count", "read_buf_bytes", "read_buf_bytes_free", "read_buf_oom", "reserved_fds"] {
                stat(n, &0);
            }
            for (n, v) in [
                ("cmd_get", &st.cmd_get),
                ("cmd_set", &st.cmd_set),
                ("cmd_flush", &st.cmd_flush),
                ("cmd_touch", &st.cmd_touch),
                ("cmd_meta", &st.cmd_meta),
                ("get_hits", &st.get_hits),
                ("get_misses", &st.get_misses),
                ("get_expired", &st.get_expired),
                ("get_flushed", &st.get_flushed),
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
                ("store_too_large", &st.store_too_large),
                ("store_no_memory", &st.store_no_memory),
                ("auth_cmds", &st.auth_cmds),
                ("auth_errors", &st.auth_errors),
                ("bytes_read", &st.bytes_read),
                ("bytes_written", &st.bytes_written),
            ] {
                stat(n, &load(v));
            }
            stat("limit_maxbytes", &limit);
            stat("accepting_conns", &1);
            stat("listen_disabled_num", &0);
            stat("time_in_listen_disabled_us", &0);
            stat("threads", &threads);
            for n in [
                "conn_yields",
                "hash_power_level",
                "hash_bytes",
                "hash_is_expanding",
                "slab_reassign_rescues",
                "slab_reassign_chunk_rescues",
                "slab_reassign_evictions_nomem",
                "slab_reassign_inline_reclaim",
                "slab_reassign_busy_items",
                "slab_reassign_busy_deletes",
                "slab_reassign_running",
                "slabs_moved",
                "lru_crawler_running",
                "lru_crawler_starts",
                "lru_maintainer_juggles",
                "malloc_fails",
                "log_worker_dropped",
                "log_worker_written",
                "log_watcher_skipped",
                "log_watcher_sent",
                "log_watchers",
                "unexpected_napi_ids",
                "round_robin_fallback",
            ] {
                stat(n, &0);
            }
            stat("bytes", &bytes);
            stat("curr_items", &items);
            stat("total_items", &load(&st.total_items));
            for n in ["slab_global_page_pool", "expired_unfetched", "evicted_unfetched", "evicted_active"] {
                stat(n, &0);
            }
            stat("evictions", &evictions);
            stat("reclaimed", &reclaimed);
            for n in [
                "crawler_reclaimed",
                "crawler_items_checked",
                "lrutail_reflocked",
                "moves_to_cold",
                "moves_to_warm",
                "moves_within_lru",
                "direct_reclaims",
                "lru_bumps_dropped",
            ] {
                stat(n, &0);
            }
        }
        Some(b"settings") => {
            let c = shared.config.read();
            let mc_port = mc.port.load(Relaxed);
            let evict = if c.maxmemory_policy == crate::MaxMemoryPolicy::NoEviction { "off" } else { "on" };
            let auth = c.requirepass.is_some();
            stat("maxbytes", &limit);
            stat("maxconns", &c.maxclients);
            stat("tcpport", &mc_port);
            stat("udpport", &0);
            stat("inter", &c.bind);
            stat("verbosity", &mc.verbosity.load(Relaxed));
            stat("oldest", &mc.oldest.load(Relaxed));
            stat("evictions", &evict);
            for (n, v) in
                [("domain_socket", "NULL"), ("umask", "700"), ("shutdown_command", "no"), ("growth_factor", "1.25")]
            {
                stat(n, &v);
            }
            stat("chunk_size", &48);
            stat("num_threads", &threads);
            stat("num_threads_per_udp", &threads);
            stat("stat_key_prefix", &":");
            stat("detail_enabled", &if mc.detail.enabled() { "yes" } else { "no" });
            stat("reqs_per_event", &20);
            stat("cas_enabled", &"yes");
            stat("tcp_backlog", &1024);
            // With a password the port behaves as `memcached -Y`: ASCII only, ASCII auth on.
            stat("binding_protocol", &if auth { "ascii" } else { "auto-negotiate" });
            stat("auth_enabled_sasl", &"no");
            stat("auth_enabled_ascii", &if auth { "requirepass" } else { "no" });
            stat("item_size_max", &c.memcached_max_item_size);
            for (n, v) in SETTINGS_TAIL {
                stat(n, v);
            }
        }
        Some(b"items") => {
            if items > 0 {
                let st = &mc.stats;
                let mut item = |n: &str, v: &dyn std::fmt::Display| stat(&format!("items:1:{n}"), v);
                // One queue: everything is "cold" in memcached's segmented-LRU terms.
                for (n, v) in [("number", items), ("number_hot", 0), ("number_warm", 0), ("number_cold", items)] {
                    item(n, &v);
                }
                for (n, v) in
                    [("age_hot", 0), ("age_warm", 0), ("age", 0), ("mem_requested", bytes), ("evicted", evictions)]
                {
                    item(n, &v);
                }
                for (n, v) in [("evicted_nonzero", 0), ("evicted_time", 0), ("outofmemory", load(&st.store_no_memory))]
                {
                    item(n, &v);
                }
                item("tailrepairs", &0);
                item("reclaimed", &reclaimed);
                for n in ITEMS_ZERO {
                    item(n, &0);
                }
                item("hits_to_hot", &0);
                item("hits_to_warm", &0);
                item("hits_to_cold", &load(&st.get_hits));
                item("hits_to_temp", &0);
            }
        }
        Some(b"slabs") => {
            // No slab classes here: every entry is its own allocation, weighed as it is (see
            // `entry.rs`). Class 1 stands for all of them: one chunk per item, the chunk size
            // the mean item weight, nothing free.
            if items > 0 {
                let st = &mc.stats;
                let mut slab = |n: &str, v: u64| stat(&format!("1:{n}"), &v);
                slab("chunk_size", bytes.div_ceil(items));
                slab("chunks_per_page", 1);
                for n in ["total_pages", "total_chunks", "used_chunks"] {
                    slab(n, items);
                }
                slab("free_chunks", 0);
                slab("free_chunks_end", 0);
                for (n, v) in [
                    ("get_hits", &st.get_hits),
                    ("cmd_set", &st.cmd_set),
                    ("delete_hits", &st.delete_hits),
                    ("incr_hits", &st.incr_hits),
                    ("decr_hits", &st.decr_hits),
                    ("cas_hits", &st.cas_hits),
                    ("cas_badval", &st.cas_badval),
                    ("touch_hits", &st.touch_hits),
                ] {
                    slab(n, load(v));
                }
            }
            stat("active_slabs", &u8::from(items > 0));
            stat("total_malloced", &bytes);
        }
        Some(b"detail") => {
            match args.get(1).map(|a| a.as_ref()) {
                Some(b"on") => mc.detail.set_enabled(true),
                Some(b"off") => mc.detail.set_enabled(false),
                Some(b"dump") => return mc.detail.dump(out),
                _ => return out.extend_from_slice(b"CLIENT_ERROR usage: stats detail on|off|dump\r\n"),
            }
            out.extend_from_slice(b"OK\r\n");
            return;
        }
        Some(b"sizes") => s.push_str("STAT sizes_status disabled\r\n"),
        Some(b"reset") => {
            for a in [&st.cmd_get, &st.cmd_set, &st.get_hits, &st.get_misses, &st.total_connections] {
                a.store(0, Relaxed);
            }
            mc.detail.clear();
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

/// `stats items` counters of memcached's LRU maintainer and crawler, which have no counterpart
/// here (expiry and eviction are the core's, counted in `reclaimed` and `evicted`).
const ITEMS_ZERO: &[&str] = &[
    "expired_unfetched",
    "evicted_unfetched",
    "evicted_active",
    "crawler_reclaimed",
    "crawler_items_checked",
    "lrutail_reflocked",
    "moves_to_cold",
    "moves_to_warm",
    "moves_within_lru",
    "direct_reclaims",
];

/// `stats settings` lines after `item_size_max`: memcached 1.6.18's defaults for knobs (slab
/// mover, LRU crawler, extstore, TLS, …) that have no counterpart here.
const SETTINGS_TAIL: &[(&str, &str)] = &[
    ("maxconns_fast", "yes"),
    ("hashpower_init", "0"),
    ("slab_reassign", "yes"),
    ("slab_automove", "1"),
    ("slab_automove_ratio", "0.80"),
    ("slab_automove_window", "30"),
    ("slab_chunk_max", "524288"),
    ("lru_crawler", "yes"),
    ("lru_crawler_sleep", "100"),
    ("lru_crawler_tocrawl", "0"),
    ("tail_repair_time", "0"),
    ("flush_enabled", "yes"),
    ("dump_enabled", "yes"),
    ("hash_algorithm", "murmur3"),
    ("lru_maintainer_thread", "yes"),
    ("lru_segmented", "yes"),
    ("hot_lru_pct", "20"),
    ("warm_lru_pct", "40"),
    ("hot_max_factor", "0.20"),
    ("warm_max_factor", "2.00"),
    ("temp_lru", "no"),
    ("temporary_ttl", "61"),
    ("idle_timeout", "0"),
    ("watcher_logbuf_size", "262144"),
    ("worker_logbuf_size", "65536"),
    ("read_buf_mem_limit", "0"),
    ("track_sizes", "no"),
    ("inline_ascii_response", "no"),
    ("ext_item_size", "512"),
    ("ext_item_age", "4294967295"),
    ("ext_low_ttl", "0"),
    ("ext_recache_rate", "2000"),
    ("ext_wbuf_size", "4194304"),
    ("ext_compact_under", "0"),
    ("ext_drop_under", "0"),
    ("ext_max_sleep", "1000000"),
    ("ext_max_frag", "0.80"),
    ("slab_automove_freeratio", "0.010"),
    ("ext_drop_unread", "no"),
    ("ssl_enabled", "no"),
    ("ssl_chain_cert", "(null)"),
    ("ssl_key", "(null)"),
    ("ssl_verify_mode", "0"),
    ("ssl_keyformat", "1"),
    ("ssl_ciphers", "NULL"),
    ("ssl_ca_cert", "NULL"),
    ("ssl_wbuf_size", "16384"),
    ("ssl_session_cache", "no"),
    ("ssl_kernel_tls", "no"),
    ("ssl_min_version", "tlsv1.2"),
    ("num_napi_ids", "(null)"),
    ("memory_file", "(null)"),
];

/// Worker threads as memcached reports them: the configured count, or one per CPU for 0.
fn worker_threads(configured: usize) -> usize {
    if configured > 0 { configured } else { std::thread::available_parallelism().map_or(1, usize::from) }
}

/// CPU seconds used by this process (user, system) as memcached prints them (`%ld.%06ld`), from
/// `/proc/self/stat` (clock ticks at the usual 100 Hz); zero where that file is missing.
fn rusage() -> (String, String) {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<u64>().ok()?, f.get(12)?.parse::<u64>().ok()?))
        })
        .unwrap_or((0, 0));
    let fmt = |t: u64| format!("{}.{:06}", t / 100, (t % 100) * 10_000);
    (fmt(ticks.0), fmt(ticks.1))
}
