//! Geospatial commands over sorted sets, as Redis 7.0 runs them: GEOADD GEODIST GEOHASH GEOPOS
//! GEOSEARCH GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER (and their `_RO` forms). A position is a
//! member whose score is its 52-bit geohash ([`crate::types::geohash`]); a search scans the score
//! ranges of the cells around its centre in Redis's order, so even an unsorted reply lists the
//! members as Redis lists them.

use super::zsets::{parse_score, read, store, zadd};
use super::{CmdError, CmdResult, CommandSpec, Ctx, SYNTAX, arg_i64, is, spec};
use crate::notify::Class;
use crate::types::geohash::{self, Shape};
use crate::types::zset::{ScoreBound, ZSet};
use bytes::Bytes;

const G: &str = "geo";
const RO: &[&str] = &["readonly"];
const STORES: &[&str] = &["write", "denyoom", "movablekeys"];

/// The geo family's table rows.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "geoadd",
        -5,
        &["write", "denyoom"],
        (1, 1, 1),
        G,
        "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
        "3.2.0",
        geoadd,
    ),
    spec(
        "geodist",
        -4,
        RO,
        (1, 1, 1),
        G,
        "Returns the distance between two members of a geospatial index.",
        "3.2.0",
        geodist,
    ),
    spec(
        "geohash",
        -2,
        RO,
        (1, 1, 1),
        G,
        "Returns members from a geospatial index as geohash strings.",
        "3.2.0",
        geohash,
    ),
    spec(
        "geopos",
        -2,
        RO,
        (1, 1, 1),
        G,
        "Returns the longitude and latitude of members from a geospatial index.",
        "3.2.0",
        geopos,
    ),
    spec(
        "georadius",
        -6,
        STORES,
        (1, 1, 1),
        G,
        "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
        "3.2.0",
        georadius,
    ),
    spec(
        "georadius_ro",
        -6,
        RO,
        (1, 1, 1),
        G,
        "Returns members from a geospatial index that are within a distance from a coordinate.",
        "3.2.10",
        georadius_ro,
    ),
    spec(
        "georadiusbymember",
        -5,
        STORES,
        (1, 1, 1),
        G,
        "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
        "3.2.0",
        georadiusbymember,
    ),
    spec(
        "georadiusbymember_ro",
        -5,
        RO,
        (1, 1, 1),
        G,
        "Returns members from a geospatial index that are within a distance from a member.",
        "3.2.10",
        georadiusbymember_ro,
    ),
    spec(
        "geosearch",
        -7,
        RO,
        (1, 1, 1),
        G,
        "Queries a geospatial index for members inside an area of a box or a circle.",
        "6.2.0",
        geosearch,
    ),
    spec(
        "geosearchstore",
        -8,
        &["write", "denyoom"],
        (1, 2, 1),
        G,
        "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
        "6.2.0",
        geosearchstore,
    ),
];

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD with geohash scores.
fn geoadd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let first = 2 + a[2..].iter().take_while(|o| is(o, "nx") || is(o, "xx") || is(o, "ch")).count();
    let (nx, xx) = (a[2..first].iter().any(|o| is(o, "nx")), a[2..first].iter().any(|o| is(o, "xx")));
    if (a.len() - first) % 3 != 0 || (nx && xx) {
        return Err(SYNTAX.into());
    }
    let mut args: Vec<Bytes> = a[..first].to_vec();
    for t in a[first..].chunks_exact(3) {
        let (lon, lat) = lon_lat(&t[0], &t[1])?;
        args.push(Bytes::from((geohash::score(lon, lat) as u64).to_string()));
        args.push(t[2].clone());
    }
    zadd(ctx, &args)
}

/// A longitude, latitude pair with Redis's checks.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let float = |b: &[u8]| parse_score(b).ok_or(CmdError::from(super::NOT_FLOAT));
    let (lon, lat) = (float(lon)?, float(lat)?);
    if !geohash::valid(lon, lat) {
        return Err(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}").into());
    }
    Ok((lon, lat))
}

/// Metres per unit.
fn unit(u: &[u8]) -> Result<f64, CmdError> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .iter()
        .find(|(name, _)| is(u, name))
        .map(|(_, m)| *m)
        .ok_or_else(|| "ERR unsupported unit provided. please use M, KM, FT, MI".into())
}

/// The position of `member` in `z`.
fn position(z: &ZSet, member: &[u8]) -> Option<(f64, f64)> {
    z.score(member).map(geohash::decode)
}

/// GEODIST key member1 member2 [M|KM|FT|MI].
fn geodist(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let metres = match a.len() {
        4 => 1.0,
        5 => unit(&a[4])?,
        _ => return Err(SYNTAX.into()),
    };
    let z = read(ctx, &a[1])?;
    match z.as_deref().and_then(|z| Some((position(z, &a[2])?, position(z, &a[3])?))) {
        Some(((x1, y1), (x2, y2))) => {
            ctx.out.bulk(format!("{:.4}", geohash::distance(x1, y1, x2, y2) / metres).as_bytes())
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...].
fn geohash(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let z = read(ctx, &a[1])?;
    ctx.out.array(a.len() - 2);
    for m in &a[2..] {
        match z.as_deref().and_then(|z| position(z, m)) {
            Some((lon, lat)) => ctx.out.bulk(&geohash::standard(lon, lat)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// GEOPOS key [member ...].
fn geopos(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    let z = read(ctx, &a[1])?;
    ctx.out.array(a.len() - 2);
    for m in &a[2..] {
        match z.as_deref().and_then(|z| position(z, m)) {
            Some((lon, lat)) => {
                ctx.out.array(2);
                ctx.out.human_double(lon);
                ctx.out.human_double(lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

/// Which command runs the search: where its arguments start and what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS[_RO] key lon lat radius unit …
    Coords { store: bool },
    /// GEORADIUSBYMEMBER[_RO] key member radius unit …
    Member { store: bool },
    /// GEOSEARCH key … / GEOSEARCHSTORE dst key …
    Search { store: bool },
}

fn search_form(form: Form) -> bool {
    matches!(form, Form::Search { .. })
}

/// A parsed search.
#[derive(Debug, Default)]
struct Search {
    center: Option<(f64, f64)>,
    shape: Option<Shape>,
    metres: f64,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    desc: Option<bool>,
    count: usize,
    any: bool,
    store: Option<Bytes>,
    store_dist: bool,
}

fn radius(a: &[Bytes]) -> Result<(Shape, f64), CmdError> {
    let r = parse_score(&a[0]).ok_or(CmdError::from("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    let m = unit(&a[1])?;
    Ok((Shape::Radius(r * m), m))
}

fn boxed(a: &[Bytes]) -> Result<(Shape, f64), CmdError> {
    let w = parse_score(&a[0]).ok_or(CmdError::from("ERR need numeric width"))?;
    let h = parse_score(&a[1]).ok_or(CmdError::from("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err("ERR height or width cannot be negative".into());
    }
    let m = unit(&a[2])?;
    Ok((Shape::Box(w * m, h * m), m))
}

/// Parses a search in Redis's order (georadiusGeneric): the fixed arguments, then the options
/// left to right, then the checks between options.
fn parse(a: &[Bytes], form: Form, z: Option<&ZSet>) -> Result<Search, CmdError> {
    let mut s = Search::default();
    let not_member = || CmdError::from("ERR could not decode requested zset member");
    let base = match form {
        Form::Coords { .. } => {
            s.center = Some(lon_lat(&a[2], &a[3])?);
            (s.shape, s.metres) = radius(&a[4..6]).map(|(sh, m)| (Some(sh), m))?;
            6
        }
        Form::Member { .. } => {
            if let Some(z) = z {
                s.center = Some(position(z, &a[2]).ok_or_else(not_member)?);
                (s.shape, s.metres) = radius(&a[3..5]).map(|(sh, m)| (Some(sh), m))?;
            }
            5
        }
        Form::Search { store } => {
            if store {
                s.store = Some(a[1].clone());
            }
            2 + usize::from(store)
        }
    };
    let (search, may_store) = match form {
        Form::Search { store } => (true, store),
        Form::Coords { store } | Form::Member { store } => (false, store),
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) = (false, false, false, false);
    let rest = &a[base..];
    let mut i = 0;
    while i < rest.len() {
        let (o, more) = (&rest[i], rest.len() - i - 1);
        if is(o, "withdist") {
            s.with_dist = true;
        } else if is(o, "withhash") {
            s.with_hash = true;
        } else if is(o, "withcoord") {
            s.with_coord = true;
        } else if is(o, "any") {
            s.any = true;
        } else if is(o, "asc") {
            s.desc = Some(false);
        } else if is(o, "desc") {
            s.desc = Some(true);
        } else if is(o, "count") && more >= 1 {
            let n = arg_i64(&rest[i + 1])?;
            if n <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            s.count = n as usize;
            i += 1;
        } else if (is(o, "store") || is(o, "storedist")) && more >= 1 && may_store && !search {
            s.store = Some(rest[i + 1].clone());
            s.store_dist = is(o, "storedist");
            i += 1;
        } else if is(o, "storedist") && search && may_store {
            s.store_dist = true;
        } else if is(o, "frommember") && more >= 1 && search && !from_lonlat {
            if let Some(z) = z {
                s.center = Some(position(z, &rest[i + 1]).ok_or_else(not_member)?);
            }
            from_member = true;
            i += 1;
        } else if is(o, "fromlonlat") && more >= 2 && search && !from_member {
            s.center = Some(lon_lat(&rest[i + 1], &rest[i + 2])?);
            from_lonlat = true;
            i += 2;
        } else if is(o, "byradius") && more >= 2 && search && !by_box {
            (s.shape, s.metres) = radius(&rest[i + 1..i + 3]).map(|(sh, m)| (Some(sh), m))?;
            by_radius = true;
            i += 2;
        } else if is(o, "bybox") && more >= 3 && search && !by_radius {
            (s.shape, s.metres) = boxed(&rest[i + 1..i + 4]).map(|(sh, m)| (Some(sh), m))?;
            by_box = true;
            i += 3;
        } else {
            return Err(SYNTAX.into());
        }
        i += 1;
    }
    if s.store.is_some() && (s.with_dist || s.with_hash || s.with_coord) {
        let what = if search { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options").into());
    }
    let name = String::from_utf8_lossy(&a[0]);
    if search && !(from_member || from_lonlat) {
        return Err(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}").into());
    }
    if search && !(by_radius || by_box) {
        return Err(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}").into());
    }
    if s.any && s.count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    Ok(s)
}

/// One member found: its distance from the centre (metres), score and position.
struct Found<'z> {
    dist: f64,
    score: f64,
    member: &'z [u8],
}

/// The members of `z` inside the search's shape, in the order Redis finds them.
fn find<'z>(z: &'z ZSet, s: &Search) -> Vec<Found<'z>> {
    let (center, shape) = (s.center.expect("parsed"), s.shape.expect("parsed"));
    let limit = if s.any { s.count } else { 0 };
    let mut found = Vec::new();
    for (lo, hi) in geohash::search_ranges(center, shape) {
        if limit != 0 && found.len() >= limit {
            break;
        }
        let (from, to) = z.score_range(
            ScoreBound { value: lo as f64, exclusive: false },
            ScoreBound { value: hi as f64, exclusive: true },
        );
        for (score, member) in z.range(from, to, false) {
            if let Some(dist) = shape.holds(center, geohash::decode(score)) {
                found.push(Found { dist, score, member });
                if limit != 0 && found.len() >= limit {
                    break;
                }
            }
        }
    }
    found
}

fn search(ctx: &mut Ctx<'_>, a: &[Bytes], form: Form) -> CmdResult {
    let src = if matches!(form, Form::Search { store: true }) { &a[2] } else { &a[1] };
    let z = read(ctx, src)?;
    let s = parse(a, form, z.as_deref())?;
    let Some(z) = z else {
        match &s.store {
            Some(dst) => {
                if ctx.remove(dst) {
                    ctx.notify(Class::Generic, "del", dst);
                }
                ctx.out.int(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    let mut found = ctx.long(z.len(), |_| find(&z, &s));
    let desc = s.desc.or((s.count != 0 && !s.any).then_some(false));
    if let Some(desc) = desc {
        found.sort_by(|x, y| {
            let o = x.dist.partial_cmp(&y.dist).unwrap_or(std::cmp::Ordering::Equal);
            if desc { o.reverse() } else { o }
        });
    }
    if s.count != 0 {
        found.truncate(s.count);
    }
    if let Some(dst) = &s.store {
        let pairs: Vec<(f64, &[u8])> =
            found.iter().map(|f| (if s.store_dist { f.dist / s.metres } else { f.score }, f.member)).collect();
        let event = if search_form(form) { "geosearchstore" } else { "georadiusstore" };
        let n = store(ctx, dst, ZSet::build(pairs), event);
        ctx.out.int(n as i64);
        return Ok(());
    }
    let extra = usize::from(s.with_dist) + usize::from(s.with_hash) + usize::from(s.with_coord);
    ctx.long(found.len(), |ctx| {
        let out = &mut *ctx.out;
        out.array(found.len());
        for f in &found {
            if extra > 0 {
                out.array(extra + 1);
            }
            out.bulk(f.member);
            if s.with_dist {
                out.bulk(format!("{:.4}", f.dist / s.metres).as_bytes());
            }
            if s.with_hash {
                out.int(f.score as i64);
            }
            if s.with_coord {
                let (lon, lat) = geohash::decode(f.score);
                out.array(2);
                out.human_double(lon);
                out.human_double(lat);
            }
        }
    });
    Ok(())
}

/// Runs a search that may store, holding its source and destination keys together.
fn search_holding(ctx: &mut Ctx<'_>, a: &[Bytes], form: Form) -> CmdResult {
    let keys: Vec<Bytes> = match super::movable_keys(ctx.name, a) {
        Some(Some(keys)) => keys.into_iter().cloned().collect(),
        _ => a[1..2].to_vec(),
    };
    ctx.atomically(&keys, |ctx| search(ctx, a, form))
}

fn georadius(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    search_holding(ctx, a, Form::Coords { store: true })
}

fn georadius_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Coords { store: false })
}

fn georadiusbymember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    search_holding(ctx, a, Form::Member { store: true })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Member { store: false })
}

fn geosearch(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Search { store: false })
}

fn geosearchstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    ctx.atomically(&a[1..3], |ctx| search(ctx, a, Form::Search { store: true }))
}
