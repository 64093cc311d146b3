//! Geospatial commands against a real `redis-server` 7.0: seeded streams from
//! [`cache_tests::gen_geo::GeoGenerator`] sent to both servers and every reply compared byte for
//! byte — scores, decoded coordinates, distances, geohashes and the order of unsorted search
//! results included. RESP2 one by one, RESP3, and RESP2 pipelined in random batches.
//!
//! `CACHE_TESTS_SEED=<u64>` replays a run (`random` picks one); a mismatch prints the seed, the
//! command's index, the command and both replies.

use std::time::Duration;

use cache_tests::diff::{Delivery, Protocol, Source, Suite};
use cache_tests::gen_geo::GeoGenerator;

const GEO: Suite = Suite {
    label: "geo differential",
    default_seed: 0x9e0_0001,
    // Per-run bound on wall time: the loop stops there (reported, not failed).
    time_bound: Duration::from_secs(60),
};

fn differential(count: usize, protocol: Protocol, delivery: Delivery, seed_offset: u64) {
    let Some(run) = GEO.plan(count, protocol, delivery, seed_offset).start() else { return };
    let mut generator = GeoGenerator::new(run.seed());
    run.check(Source { next: &mut || generator.next_command(), agree: &|_, _, _| false });
}

#[test]
fn resp2_geo_stream_matches_redis() {
    differential(6_000, Protocol::Resp2, Delivery::OneByOne, 0);
}

#[test]
fn resp3_geo_stream_matches_redis() {
    differential(3_000, Protocol::Resp3, Delivery::OneByOne, 3);
}

#[test]
fn pipelined_geo_stream_matches_redis() {
    differential(6_000, Protocol::Resp2, Delivery::Pipelined { max_batch: 64 }, 5);
}
