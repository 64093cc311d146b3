//! Geohash arithmetic as Redis computes it for its GEO commands, so that scores, decoded
//! positions, distances and the boxes a search visits are Redis's to the bit: 52-bit interleaved
//! hashes over the Web-Mercator latitude range, decoding to the cell's centre, haversine distances
//! on Redis's Earth radius, and the 3×3 neighbourhood of cells a radius or box search scans.
//!
//! ```text
//!   score (f64, exact below 2^53) = interleave(lat cell, lon cell) at step 26
//!   bit 2i: latitude bit i   bit 2i+1: longitude bit i
//! ```

/// Longitude range.
pub const LON_MIN: f64 = -180.0;
/// Longitude range.
pub const LON_MAX: f64 = 180.0;
/// Latitude range (Web Mercator's limit).
pub const LAT_MIN: f64 = -85.05112878;
/// Latitude range.
pub const LAT_MAX: f64 = 85.05112878;
/// Steps of a stored score (26 bits per coordinate).
pub const STEP_MAX: u8 = 26;
/// Redis's Earth radius, metres.
const EARTH_RADIUS: f64 = 6372797.560856;
/// Half the Earth's circumference in Web Mercator, metres.
const MERCATOR_MAX: f64 = 20037726.37;

/// A hash of `step` bits per coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hash {
    /// Interleaved bits.
    pub bits: u64,
    /// Bits per coordinate; 0 with `bits` 0 marks a cell a search skips.
    pub step: u8,
}

impl Hash {
    const ZERO: Hash = Hash { bits: 0, step: 0 };

    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The hash shifted to 52 bits: the lowest score in its cell.
    pub fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// A coordinate range.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    min: f64,
    max: f64,
}

const LON: Range = Range { min: LON_MIN, max: LON_MAX };
const LAT: Range = Range { min: LAT_MIN, max: LAT_MAX };

fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// True if Redis accepts the pair as a position.
pub fn valid(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

fn encode_in(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Hash {
    if !valid(lon, lat) || lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return Hash { bits: 0, step };
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    Hash { bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1), step }
}

/// The hash of a position at `step` bits per coordinate.
pub fn encode(lon: f64, lat: f64, step: u8) -> Hash {
    encode_in(LON, LAT, lon, lat, step)
}

/// The score GEOADD stores for a position.
pub fn score(lon: f64, lat: f64) -> f64 {
    encode(lon, lat, STEP_MAX).align52() as f64
}

/// A cell's bounds: (longitude, latitude) ranges.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Area {
    lon: Range,
    lat: Range,
}

fn decode_area(h: Hash) -> Area {
    let (ilat, ilon) = (squash(h.bits), squash(h.bits >> 1));
    let cells = (1u64 << h.step) as f64;
    let (lat_scale, lon_scale) = (LAT.max - LAT.min, LON.max - LON.min);
    Area {
        lat: Range {
            min: LAT.min + (f64::from(ilat) / cells) * lat_scale,
            max: LAT.min + ((f64::from(ilat) + 1.0) / cells) * lat_scale,
        },
        lon: Range {
            min: LON.min + (f64::from(ilon) / cells) * lon_scale,
            max: LON.min + ((f64::from(ilon) + 1.0) / cells) * lon_scale,
        },
    }
}

/// C's `(uint64_t)d` as x86-64 computes it, which is what Redis decodes a member's score with:
/// in-range values truncate, out-of-range ones (a ZADD of `1e300` or `-inf` into a geo set) take
/// the bit pattern `cvttsd2si` leaves (Rust's `as` saturates instead).
fn c_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let cvtt = |d: f64| if d.is_nan() || !(-TWO_63..TWO_63).contains(&d) { i64::MIN } else { d as i64 };
    if d >= TWO_63 { (cvtt(d - TWO_63) as u64) ^ (1 << 63) } else { cvtt(d) as u64 }
}

/// The position a stored score stands for: the centre of its cell.
pub fn decode(score: f64) -> (f64, f64) {
    let a = decode_area(Hash { bits: c_u64(score), step: STEP_MAX });
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The 11-character standard geohash GEOHASH prints for a position (re-encoded over latitude
/// ±90; the last character stands for bits a 52-bit score does not have).
pub fn standard(lon: f64, lat: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let h = encode_in(LON, Range { min: -90.0, max: 90.0 }, lon, lat, STEP_MAX);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((h.bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

fn rad(deg: f64) -> f64 {
    deg * (std::f64::consts::PI / 180.0)
}

fn deg(rad: f64) -> f64 {
    rad / (std::f64::consts::PI / 180.0)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (rad(lat2) - rad(lat1)).abs()
}

/// Haversine distance in metres, as Redis computes it.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((rad(lon2) - rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (rad(lat1), rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// What a search covers, in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// BYRADIUS.
    Radius(f64),
    /// BYBOX width height.
    Box(f64, f64),
}

impl Shape {
    /// The distance from the centre `(x, y)` to the point `(lon, lat)` if the shape holds it.
    pub fn holds(self, (x, y): (f64, f64), (lon, lat): (f64, f64)) -> Option<f64> {
        match self {
            Shape::Radius(r) => Some(distance(x, y, lon, lat)).filter(|d| *d <= r),
            Shape::Box(w, h) => {
                if lat_distance(lat, y) > h / 2.0 || distance(lon, lat, x, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(x, y, lon, lat))
            }
        }
    }

    /// Half extents (width, height) in metres.
    fn half(self) -> (f64, f64) {
        match self {
            Shape::Radius(r) => (r, r),
            Shape::Box(w, h) => (w / 2.0, h / 2.0),
        }
    }
}

fn steps_for(mut metres: f64, lat: f64) -> u8 {
    if metres == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while metres < MERCATOR_MAX {
        metres *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn move_x(h: Hash, d: i8) -> Hash {
    let (x, y) = (h.bits & 0xaaaa_aaaa_aaaa_aaaa, h.bits & 0x5555_5555_5555_5555);
    let zz = 0x5555_5555_5555_5555u64 >> (64 - u32::from(h.step) * 2);
    let x = if d > 0 { x.wrapping_add(zz + 1) } else { (x | zz).wrapping_sub(zz + 1) };
    Hash { bits: (x & (0xaaaa_aaaa_aaaa_aaaa >> (64 - u32::from(h.step) * 2))) | y, step: h.step }
}

fn move_y(h: Hash, d: i8) -> Hash {
    let (x, y) = (h.bits & 0xaaaa_aaaa_aaaa_aaaa, h.bits & 0x5555_5555_5555_5555);
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - u32::from(h.step) * 2);
    let y = if d > 0 { y.wrapping_add(zz + 1) } else { (y | zz).wrapping_sub(zz + 1) };
    Hash { bits: x | (y & (0x5555_5555_5555_5555 >> (64 - u32::from(h.step) * 2))), step: h.step }
}

/// The score ranges `[min, max)` a search around `(lon, lat)` scans, in Redis's order (the centre
/// cell, then N S E W NE NW SE SW), without cells the shape cannot reach and without a cell equal
/// to the one scanned just before it.
pub fn search_ranges(center: (f64, f64), shape: Shape) -> Vec<(u64, u64)> {
    let (lon, lat) = center;
    let (half_w, half_h) = shape.half();
    let lat_delta = deg(half_h / EARTH_RADIUS);
    let top = deg(half_w / EARTH_RADIUS / rad(lat + lat_delta).cos());
    let bottom = deg(half_w / EARTH_RADIUS / rad(lat - lat_delta).cos());
    let lon_delta = if lat < 0.0 { bottom } else { top };
    let (min_lon, max_lon, min_lat, max_lat) = (lon - lon_delta, lon + lon_delta, lat - lat_delta, lat + lat_delta);
    let radius = match shape {
        Shape::Radius(r) => r,
        Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    };
    let mut step = steps_for(radius, lat);
    let around = |step: u8| {
        let c = encode(lon, lat, step);
        let [n, s, e, w] = [move_y(c, 1), move_y(c, -1), move_x(c, 1), move_x(c, -1)];
        [c, n, s, e, w, move_y(e, 1), move_y(w, 1), move_y(e, -1), move_y(w, -1)]
    };
    let mut cells = around(step);
    let too_coarse = decode_area(cells[1]).lat.max < max_lat
        || decode_area(cells[2]).lat.min > min_lat
        || decode_area(cells[3]).lon.max < max_lon
        || decode_area(cells[4]).lon.min > min_lon;
    if step > 1 && too_coarse {
        step -= 1;
        cells = around(step);
    }
    if step >= 2 {
        let a = decode_area(cells[0]);
        // [c, n, s, e, w, ne, nw, se, sw]
        let mut drop = |ix: [usize; 3]| ix.iter().for_each(|&i| cells[i] = Hash::ZERO);
        if a.lat.min < min_lat {
            drop([2, 8, 7]);
        }
        if a.lat.max > max_lat {
            drop([1, 5, 6]);
        }
        if a.lon.min < min_lon {
            drop([4, 8, 6]);
        }
        if a.lon.max > max_lon {
            drop([3, 7, 5]);
        }
    }
    let mut out = Vec::with_capacity(9);
    let mut last = 0;
    for i in 0..cells.len() {
        let h = cells[i];
        if h.is_zero() || (last != 0 && h == cells[last]) {
            continue;
        }
        out.push((h.align52(), Hash { bits: h.bits + 1, step: h.step }.align52()));
        last = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figures from Redis 7.0.15 (`GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669
    /// Catania`, then ZSCORE, GEOPOS, GEODIST, GEOHASH).
    #[test]
    fn matches_redis_for_its_documented_example() {
        assert_eq!(score(13.361389, 38.115556), 3479099956230698.0);
        assert_eq!(score(15.087269, 37.502669), 3479447370796909.0);
        let (lon, lat) = decode(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        let (lon2, lat2) = decode(3479447370796909.0);
        assert_eq!(format!("{:.4}", distance(lon, lat, lon2, lat2)), "166274.1516");
        assert_eq!(&standard(lon, lat), b"sqc8b49rny0");
        assert_eq!(&standard(lon2, lat2), b"sqdtr74hyu0");
    }

    #[test]
    fn interleaving_round_trips() {
        for v in [0u32, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(squash(spread(v) << 1 >> 1), v);
        }
    }

    #[test]
    fn a_search_scans_the_centre_cell_first_and_covers_its_points() {
        let ranges = search_ranges((15.0, 37.0), Shape::Radius(200_000.0));
        let s = score(15.087269, 37.502669) as u64;
        assert!(ranges.iter().any(|&(lo, hi)| lo <= s && s < hi));
        let c = encode(15.0, 37.0, 26).align52();
        assert!(ranges[0].0 <= c && c < ranges[0].1);
    }
}
