//! BITFIELD and BITFIELD_RO: signed and unsigned fields of 1 to 64 bits (unsigned up to 63) at bit
//! or `#`-scaled offsets, GET, SET and INCRBY with WRAP, SAT or FAIL overflow, parsed and checked in
//! Redis's order (every operation is parsed before the key is looked at). Reads and writes go
//! through the family's [`View`] and `write_bits`, so a write costs what it changes.

use super::{View, offset_arg, write_bits};
use crate::commands::{CmdError, CmdResult, Ctx, SYNTAX, arg_i64, is};
use crate::frame::parse_i64;
use crate::notify::Class;
use bytes::Bytes;

const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Get,
    Set(i64),
    Incr(i64),
}

struct Field {
    op: Op,
    signed: bool,
    bits: u32,
    at: u64,
    overflow: Overflow,
}

fn type_arg(a: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE.into()),
    };
    let bits = parse_i64(&a[1..]).ok_or(BAD_TYPE)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(BAD_TYPE.into());
    }
    Ok((signed, bits as u32))
}

/// Parses BITFIELD's operations in Redis's order of checks.
fn parse_fields(ctx: &Ctx<'_>, a: &[Bytes]) -> Result<Vec<Field>, CmdError> {
    let (mut fields, mut overflow, mut j) = (Vec::new(), Overflow::Wrap, 2);
    while j < a.len() {
        let left = a.len() - j - 1;
        let sub = &a[j];
        let op = if is(sub, "get") && left >= 2 {
            Op::Get
        } else if is(sub, "set") && left >= 3 {
            Op::Set(0)
        } else if is(sub, "incrby") && left >= 3 {
            Op::Incr(0)
        } else if is(sub, "overflow") && left >= 1 {
            let kind = &a[j + 1];
            overflow = if is(kind, "wrap") {
                Overflow::Wrap
            } else if is(kind, "sat") {
                Overflow::Sat
            } else if is(kind, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified".into());
            };
            j += 2;
            continue;
        } else {
            return Err(SYNTAX.into());
        };
        let (signed, bits) = type_arg(&a[j + 1])?;
        let at = offset_arg(ctx, &a[j + 2], Some(bits))?;
        let op = match op {
            Op::Get => Op::Get,
            Op::Set(_) => Op::Set(arg_i64(&a[j + 3])?),
            Op::Incr(_) => Op::Incr(arg_i64(&a[j + 3])?),
        };
        fields.push(Field { op, signed, bits, at, overflow });
        j += if op == Op::Get { 3 } else { 4 };
    }
    Ok(fields)
}

/// `value + incr` in a field of `bits` bits: the stored result, or `None` if it overflows
/// under FAIL (Redis's `checkSignedBitfieldOverflow` / `checkUnsignedBitfieldOverflow`).
fn add_field(signed: bool, bits: u32, value: i128, incr: i128, overflow: Overflow) -> Option<u64> {
    let (min, max) =
        if signed { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) } else { (0, (1i128 << bits) - 1) };
    let sum = value + incr;
    if (min..=max).contains(&sum) {
        return Some(sum as u64);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(if sum > max { max as u64 } else { min as u64 }),
        Overflow::Wrap => {
            let mask = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            Some((sum as u64) & mask)
        }
    }
}

/// Runs the fields against `view`; the replies (`None`: FAIL overflow) and whether a field changed.
fn run_fields(view: &mut View<'_>, fields: &[Field], grew: bool) -> (Vec<Option<i64>>, bool) {
    let mut changes = false;
    let replies = fields
        .iter()
        .map(|f| {
            let old = if f.signed {
                i128::from(view.get_signed(f.at, f.bits))
            } else {
                i128::from(view.get_unsigned(f.at, f.bits))
            };
            let (new, reply) = match f.op {
                Op::Get => return Some(old as i64),
                // An unsigned SET of a negative number is that number's 64-bit pattern.
                Op::Set(v) => {
                    let v = if f.signed { i128::from(v) } else { i128::from(v as u64) };
                    (add_field(f.signed, f.bits, v, 0, f.overflow), old)
                }
                Op::Incr(d) => {
                    let new = add_field(f.signed, f.bits, old, i128::from(d), f.overflow);
                    (new, new.map_or(0, |n| if f.signed { sign_extend(n, f.bits) } else { i128::from(n) }))
                }
            };
            let new = new?;
            let old_bits = view.get_unsigned(f.at, f.bits);
            let mask = if f.bits == 64 { u64::MAX } else { (1u64 << f.bits) - 1 };
            changes |= grew || old_bits != new & mask;
            view.set_unsigned(f.at, f.bits, new & mask);
            Some(reply as i64)
        })
        .collect();
    (replies, changes)
}

fn sign_extend(v: u64, bits: u32) -> i128 {
    let v = if bits < 64 && v & (1 << (bits - 1)) != 0 { v | (u64::MAX << bits) } else { v };
    i128::from(v as i64)
}

fn reply_fields(ctx: &mut Ctx<'_>, replies: &[Option<i64>]) {
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => ctx.out.int(*n),
            None => ctx.out.null(),
        }
    }
}

pub(super) fn bitfield(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, a, false)
}

pub(super) fn bitfield_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, a, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, a: &[Bytes], read_only: bool) -> CmdResult {
    let fields = parse_fields(ctx, a)?;
    let highest = fields.iter().filter(|f| f.op != Op::Get).map(|f| f.at + u64::from(f.bits) - 1).max();
    let Some(highest) = highest else {
        let s = ctx.get_str(&a[1])?.unwrap_or_default();
        let (replies, _) = run_fields(&mut View::new(&s), &fields, false);
        reply_fields(ctx, &replies);
        return Ok(());
    };
    if read_only {
        return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
    }
    let need = (highest >> 3) as usize + 1;
    let (replies, changes) = write_bits(ctx, &a[1], need, |view, grew| run_fields(view, &fields, grew))?;
    if changes {
        ctx.notify(Class::String, "setbit", &a[1]);
    }
    reply_fields(ctx, &replies);
    Ok(())
}
