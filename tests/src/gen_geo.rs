//! The seeded generator of geospatial command streams for `geo_differential`.
//!
//! It owns *what* is sent: GEOADD of points clustered around a few centres (so that searches find
//! several members at varied distances) and of invalid pairs (out of range, not numbers, NX with
//! XX, odd triples), GEODIST in every unit, GEOHASH and GEOPOS of present and absent members, and
//! searches of every form — GEORADIUS / GEORADIUSBYMEMBER and their `_RO` forms, GEOSEARCH /
//! GEOSEARCHSTORE with FROMMEMBER / FROMLONLAT, BYRADIUS / BYBOX, ASC / DESC, COUNT with or without ANY,
//! WITHCOORD / WITHDIST / WITHHASH, STORE / STOREDIST — unsorted ones included (their order is
//! the order of the cells Redis scans), radii from 0 to half the Earth, centres near the poles and
//! the antimeridian, wrong types and option errors. It stays deterministic for a seed.
//!
//! Members never share a position on purpose: among members at equal distances, a search with
//! COUNT orders them as Redis's partial quicksort happens to leave them, which we do not mimic (we
//! keep the order they were found in, as Redis's full sort does).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::generator::Command;

/// Geo sets, a string (wrong type) and a key nothing creates.
const KEYS: &[&str] = &["g0", "g1", "g2", "str", "none"];
/// Where stores go.
const DESTS: &[&str] = &["d0", "d1"];
/// A sorted set with scores that are no geohash (`1e300`, stored distances): GEOPOS, GEOHASH and
/// GEODIST decode them as Redis does; searches stay away (its members share positions).
const ODD: &str = "odd";
/// Centres points cluster around: Sicily, the antimeridian, near the pole, the origin.
const CENTRES: &[(f64, f64)] = &[(15.0, 37.5), (179.9, -10.0), (-120.0, 84.9), (0.0, 0.0)];
const MEMBERS: usize = 24;
const UNITS: &[&str] = &["m", "km", "ft", "mi", "M", "KM", "parsecs"];

/// Draws geospatial commands.
#[derive(Debug)]
pub struct GeoGenerator {
    rng: StdRng,
}

impl GeoGenerator {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed) }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn member(&mut self) -> String {
        format!("m{}", self.rng.random_range(0..MEMBERS))
    }

    fn coords(&mut self) -> (String, String) {
        if self.rng.random_range(0..20) == 0 {
            let bad = ["200", "-181", "86", "-85.06", "x", "inf", "1e400", "85.05112878"];
            return (self.pick(&bad).into(), self.pick(&bad).into());
        }
        let (x, y) = CENTRES[self.rng.random_range(0..CENTRES.len())];
        // No two members share a position, short of chance: Redis sorts a COUNT search with a
        // partial quicksort whose order among equal distances we do not reproduce.
        let spread = [0.002, 0.01, 0.5, 3.0][self.rng.random_range(0..4)];
        let lon = (x + self.rng.random_range(-1.0..=1.0) * spread).clamp(-180.0, 180.0);
        let lat = (y + self.rng.random_range(-1.0..=1.0) * spread).clamp(-85.05, 85.05);
        (format!("{lon:.6}"), format!("{lat:.6}"))
    }

    fn distance(&mut self) -> (String, String) {
        if self.rng.random_range(0..15) == 0 {
            return (self.pick(&["-1", "x", "1e400"]).into(), self.pick(&["km", "au"]).into());
        }
        let r = ["0", "1", "500", "50", "200", "1000", "5000", "20000"];
        (self.pick(&r).into(), self.pick(&["km", "km", "km", "m", "mi", "ft", "KM"]).into())
    }

    fn options(&mut self, store: bool, search_store: bool) -> Vec<String> {
        let mut o = Vec::new();
        for _ in 0..self.rng.random_range(0..4) {
            match self.rng.random_range(0..12) {
                0 => o.push("WITHDIST".into()),
                1 => o.push("WITHCOORD".into()),
                2 => o.push("WITHHASH".into()),
                3 => o.push("ASC".into()),
                4 => o.push("DESC".into()),
                5 | 6 => {
                    o.push("COUNT".into());
                    o.push(self.pick(&["1", "2", "3", "10", "2", "3", "5", "0"]).into());
                    if self.rng.random_range(0..3) == 0 {
                        o.push("ANY".into());
                    }
                }
                7 => o.push("ANY".into()),
                8 if store => {
                    o.push(self.pick(&["STORE", "STOREDIST"]).into());
                    o.push(self.pick(DESTS).into());
                }
                9 if search_store => o.push("STOREDIST".into()),
                _ => {}
            }
        }
        o
    }

    /// The next command.
    pub fn next_command(&mut self) -> Command {
        let key =
            if self.rng.random_range(0..12) == 0 { self.pick(&KEYS[3..]) } else { self.pick(&KEYS[..3]) }.to_string();
        let words: Vec<String> = match self.rng.random_range(0..100) {
            0..=29 => {
                let mut w = vec!["GEOADD".into(), key];
                match self.rng.random_range(0..10) {
                    0 => w.push("NX".into()),
                    1 => w.push("XX".into()),
                    2 => w.push("CH".into()),
                    3 => w.extend(["NX".into(), "XX".into()]),
                    _ => {}
                }
                for _ in 0..self.rng.random_range(1..4) {
                    let (lon, lat) = self.coords();
                    w.extend([lon, lat, self.member()]);
                }
                if self.rng.random_range(0..30) == 0 {
                    w.pop();
                }
                w
            }
            30..=37 => {
                let key = if self.rng.random_range(0..4) == 0 { ODD.to_string() } else { key };
                let mut w = vec!["GEODIST".into(), key, self.member(), self.member()];
                if self.rng.random_range(0..2) == 0 {
                    w.push(self.pick(UNITS).into());
                }
                w
            }
            38..=43 => {
                let name = self.pick(&["GEOHASH", "GEOPOS"]);
                let key = if self.rng.random_range(0..4) == 0 { ODD.to_string() } else { key };
                let mut w = vec![name.into(), key];
                for _ in 0..self.rng.random_range(0..4) {
                    w.push(self.member());
                }
                w
            }
            44..=59 => {
                let store = self.rng.random_range(0..2) == 0;
                let mut w = vec![if store { "GEOSEARCHSTORE" } else { "GEOSEARCH" }.to_string()];
                if store {
                    w.push(self.pick(DESTS).into());
                }
                w.push(key);
                let mut from = vec![];
                if self.rng.random_range(0..2) == 0 {
                    from.extend(["FROMMEMBER".into(), self.member()]);
                } else {
                    let (lon, lat) = self.coords();
                    from.extend(["FROMLONLAT".into(), lon, lat]);
                }
                let mut by = vec![];
                let (r, unit) = self.distance();
                if self.rng.random_range(0..2) == 0 {
                    by.extend(["BYRADIUS".into(), r, unit]);
                } else {
                    let (h, _) = self.distance();
                    by.extend(["BYBOX".into(), r, h, unit]);
                }
                match self.rng.random_range(0..20) {
                    0 => from.clear(),
                    1 => by.clear(),
                    _ => {}
                }
                w.extend(from);
                w.extend(by);
                w.extend(self.options(false, store));
                w
            }
            60..=79 => {
                let (by_member, ro) = (self.rng.random_range(0..2) == 0, self.rng.random_range(0..3) == 0);
                let name = match (by_member, ro) {
                    (false, false) => "GEORADIUS",
                    (false, true) => "GEORADIUS_RO",
                    (true, false) => "GEORADIUSBYMEMBER",
                    (true, true) => "GEORADIUSBYMEMBER_RO",
                };
                let mut w = vec![name.into(), key];
                if by_member {
                    w.push(self.member());
                } else {
                    let (lon, lat) = self.coords();
                    w.extend([lon, lat]);
                }
                let (r, unit) = self.distance();
                w.extend([r, unit]);
                w.extend(self.options(true, false));
                w
            }
            80..=87 => vec!["ZRANGE".into(), self.pick(DESTS).into(), "0".into(), "-1".into(), "WITHSCORES".into()],
            88..=90 => vec!["SET".into(), "str".into(), "x".into()],
            91..=93 => vec!["DEL".into(), self.pick(&["g0", "g1", "g2", "d0", "d1"]).into()],
            94..=96 => {
                let name = self.pick(&["GEOADD", "GEODIST", "GEOPOS", "GEOSEARCH", "GEORADIUS", "GEOSEARCHSTORE"]);
                let n = self.rng.random_range(0..3);
                std::iter::once(name.to_string()).chain((0..n).map(|_| "g0".to_string())).collect()
            }
            _ => {
                let score = self.pick(&["1e300", "-inf", "inf", "-1", "0.5", "123456.789", "4503599627370496"]);
                vec!["ZADD".into(), ODD.into(), score.into(), self.member()]
            }
        };
        words.into_iter().map(String::into_bytes).collect()
    }
}
