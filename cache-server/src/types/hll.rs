//! Redis's HyperLogLog byte layout, so that a value written by Redis (GET, DUMP) is one of ours
//! and back, and PFCOUNT returns the number Redis returns for the same input. It owns the layout
//! and the register math only; the commands are in `commands/hyperloglog.rs`.
//!
//! ```text
//!   header (16 B): "HYLL" | encoding (0 dense, 1 sparse) | 3 unused | cached cardinality (u64 LE,
//!                  bit 63 set = stale)
//!   dense:  16384 registers of 6 bits, little-endian bit order, 12288 bytes
//!   sparse: run-length opcodes   ZERO  00xxxxxx            (1..64 zero registers)
//!                                XZERO 01xxxxxx yyyyyyyy   (1..16384 zero registers)
//!                                VAL   1vvvvvxx            (1..4 registers of value 1..32)
//! ```
//!
//! An element goes to register `h & 16383` of its 64-bit MurmurHash64A (seed `0xadc83b19`) with
//! value "trailing zeros of `h >> 14` plus one". A sparse value is updated in place by the same
//! opcode split and merge steps as Redis, so the bytes stay identical; it turns dense when a value
//! above 32 must be stored or when it would grow past `hll-sparse-max-bytes`. The estimate is
//! Ertl's improved estimator over the register histogram (Redis 7's `hllCount`).

/// Header bytes.
pub const HDR: usize = 16;
/// Registers (2^14).
pub const REGISTERS: usize = 1 << P;
/// Bytes of a dense value, header included.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
/// Redis's default `hll-sparse-max-bytes`.
pub const SPARSE_MAX_BYTES: usize = 3000;

const P: u32 = 14;
const Q: usize = 64 - P as usize;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const SEED: u64 = 0xadc8_3b19;

/// A sparse value whose opcodes do not cover exactly the 16384 registers (Redis's
/// "INVALIDOBJ Corrupted HLL object detected").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A as Redis computes it (little-endian 8-byte blocks).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes(b.try_into().expect("8-byte chunk"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the value it proposes (Redis's `hllPatLen`).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, SEED);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty HLL: sparse, one XZERO covering every register, cached cardinality 0.
pub fn create() -> Vec<u8> {
    let mut v = vec![0u8; HDR];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        v.extend_from_slice(&xzero(n));
        left -= n;
    }
    v
}

/// Redis's `isHLLObjectOrReply` test: the header is there, the encoding known, a dense value
/// has the dense size. (A sparse value's opcodes are checked when they are read.)
pub fn is_valid(b: &[u8]) -> bool {
    b.len() >= HDR && &b[..4] == b"HYLL" && b[4] <= SPARSE && (b[4] == SPARSE || b.len() == DENSE_SIZE)
}

/// True if the value is sparse.
pub fn is_sparse(b: &[u8]) -> bool {
    b[4] == SPARSE
}

/// The cached cardinality, if it is valid.
pub fn cached(b: &[u8]) -> Option<u64> {
    (b[15] & 0x80 == 0).then(|| u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")))
}

/// Marks the cached cardinality stale.
pub fn invalidate(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// Stores `card` as the cached cardinality.
pub fn store_card(v: &mut [u8], card: u64) {
    v[8..16].copy_from_slice(&card.to_le_bytes());
}

fn xzero(n: usize) -> [u8; 2] {
    let l = n - 1;
    [0x40 | (l >> 8) as u8, (l & 0xff) as u8]
}

fn zero(n: usize) -> u8 {
    (n - 1) as u8
}

fn val(value: u8, n: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (n - 1) as u8
}

/// One sparse opcode at `p`: (registers covered, value, bytes). A truncated XZERO reads its
/// missing byte as zero, as Redis reads the string's terminator.
fn opcode(v: &[u8], p: usize) -> (usize, u8, usize) {
    let b = v[p];
    if b & 0xc0 == 0 {
        (usize::from(b & 0x3f) + 1, 0, 1)
    } else if b & 0xc0 == 0x40 {
        let lo = v.get(p + 1).copied().unwrap_or(0);
        (((usize::from(b & 0x3f) << 8) | usize::from(lo)) + 1, 0, 2)
    } else {
        (usize::from(b & 3) + 1, ((b >> 2) & 0x1f) + 1, 1)
    }
}

/// Dense register `i` of the register bytes `regs` (a byte past the end reads as zero).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let (byte, fb) = (i * 6 / 8, (i * 6) % 8);
    let b0 = u32::from(regs[byte]);
    let b1 = u32::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

fn dense_put(regs: &mut [u8], i: usize, value: u8) {
    let (byte, fb) = (i * 6 / 8, (i * 6) % 8);
    let v = u32::from(value);
    regs[byte] = ((u32::from(regs[byte]) & !(63 << fb)) | (v << fb)) as u8;
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = ((u32::from(*b) & !(63 >> (8 - fb))) | (v >> (8 - fb))) as u8;
    }
}

/// Raises dense register `i` to `count` (Redis's `hllDenseSet`); true if it changed.
fn dense_set(v: &mut [u8], i: usize, count: u8) -> bool {
    let regs = &mut v[HDR..];
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// True if adding `ele` would change a dense value (a read-only probe, to skip the copy).
pub fn dense_would_change(b: &[u8], ele: &[u8]) -> bool {
    let (i, count) = pat_len(ele);
    count > dense_get(&b[HDR..], i)
}

/// Converts a sparse value to dense in place (header kept, encoding changed); `Ok(false)` if it
/// was dense already.
pub fn to_dense(v: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if v[4] == DENSE {
        return Ok(false);
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&v[..HDR]);
    dense[4] = DENSE;
    let (mut p, mut idx) = (HDR, 0usize);
    while p < v.len() {
        let (run, value, len) = opcode(v, p);
        if value > 0 {
            if idx + run > REGISTERS {
                return Err(Corrupt);
            }
            for r in idx..idx + run {
                dense_put(&mut dense[HDR..], r, value);
            }
        }
        idx += run;
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *v = dense;
    Ok(true)
}

/// Adds `ele` (Redis's `hllAdd`); true if a register changed.
pub fn add(v: &mut Vec<u8>, ele: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (i, count) = pat_len(ele);
    set(v, i, count, sparse_max)
}

/// Raises register `index` to `count` in either encoding (Redis's `hllDenseSet` /
/// `hllSparseSet`); true if it changed.
pub fn set(v: &mut Vec<u8>, index: usize, count: u8, sparse_max: usize) -> Result<bool, Corrupt> {
    if v[4] == DENSE {
        return Ok(dense_set(v, index, count));
    }
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: the opcode covering `index`.
    let (mut p, mut first, mut prev, mut span) = (HDR, 0usize, None, 0usize);
    while p < v.len() {
        let (run, _, len) = opcode(v, p);
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += len;
        first += span;
    }
    if span == 0 || p >= v.len() {
        return Err(Corrupt);
    }
    let (run, value, oplen) = opcode(v, p);
    // Steps 2-3: the trivial cases in place, otherwise split the opcode.
    if value >= count {
        return Ok(false);
    }
    if run == 1 && (value > 0 || oplen == 1) {
        v[p] = val(count, 1);
    } else {
        let last = first + span - 1;
        let mut seq = Vec::with_capacity(5);
        let gap = |seq: &mut Vec<u8>, n: usize| {
            if value > 0 {
                seq.push(val(value, n));
            } else if n > ZERO_MAX_LEN {
                seq.extend_from_slice(&xzero(n));
            } else {
                seq.push(zero(n));
            }
        };
        if index != first {
            gap(&mut seq, index - first);
        }
        seq.push(val(count, 1));
        if index != last {
            gap(&mut seq, last - index);
        }
        if seq.len() > oplen && v.len() + seq.len() - oplen > sparse_max {
            return promote(v, index, count);
        }
        if p + oplen <= v.len() {
            v.splice(p..p + oplen, seq);
        } else {
            // A truncated XZERO at the end: Redis writes the sequence over it and then keeps
            // the length it computed (old length + difference), cutting the sequence short.
            let len = v.len() + seq.len() - oplen;
            v.truncate(p);
            v.extend_from_slice(&seq);
            v.truncate(len);
        }
    }
    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to 5 opcodes from `prev`.
    let mut q = prev.unwrap_or(HDR);
    let mut scan = 5;
    while q < v.len() && scan > 0 {
        scan -= 1;
        let b = v[q];
        if b & 0xc0 == 0x40 {
            q += 2;
            continue;
        }
        if b & 0xc0 == 0 {
            q += 1;
            continue;
        }
        if let Some(&next) = v.get(q + 1)
            && next & 0x80 != 0
        {
            let ((l1, v1, _), (l2, v2, _)) = (opcode(v, q), opcode(v, q + 1));
            if v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                v[q + 1] = val(v1, l1 + l2);
                v.remove(q);
                continue;
            }
        }
        q += 1;
    }
    invalidate(v);
    Ok(true)
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(v)?;
    let changed = dense_set(v, index, count);
    debug_assert!(changed, "a promotion always raises the register");
    Ok(true)
}

/// Raises `max[i]` to every register `i` of `b` (Redis's `hllMerge`).
pub fn merge_into(max: &mut [u8; REGISTERS], b: &[u8]) -> Result<(), Corrupt> {
    if b[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&b[HDR..], i));
        }
        return Ok(());
    }
    let (mut p, mut i) = (HDR, 0usize);
    while p < b.len() {
        let (run, value, len) = opcode(b, p);
        if value > 0 {
            if i + run > REGISTERS {
                return Err(Corrupt);
            }
            for m in &mut max[i..i + run] {
                *m = (*m).max(value);
            }
        }
        i += run;
        p += len;
    }
    if i == REGISTERS { Ok(()) } else { Err(Corrupt) }
}

/// The estimate of a value's cardinality (Redis's `hllCount`), ignoring the cache.
pub fn count(b: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u32; 64];
    if b[4] == DENSE {
        for i in 0..REGISTERS {
            histo[usize::from(dense_get(&b[HDR..], i))] += 1;
        }
    } else {
        let (mut p, mut idx) = (HDR, 0usize);
        while p < b.len() {
            let (run, value, len) = opcode(b, p);
            histo[usize::from(value)] += run as u32;
            idx += run;
            p += len;
        }
        if idx != REGISTERS {
            return Err(Corrupt);
        }
    }
    Ok(estimate(&histo))
}

/// The estimate over plain registers (one byte each): PFCOUNT of several keys.
pub fn count_raw(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u32; 64];
    for &r in max {
        histo[usize::from(r)] += 1;
    }
    estimate(&histo)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// Ertl's estimator over the register histogram, rounded as Redis's `llroundl`.
fn estimate(histo: &[u32; 64]) -> u64 {
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histo[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(histo[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histo[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// PFDEBUG DECODE's text for a sparse value: `z:<n>`, `Z:<n>`, `v:<value>,<n>` separated by spaces.
pub fn decode(b: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while p < b.len() {
        let (run, value, len) = opcode(b, p);
        out.push(match (value, len) {
            (0, 1) => format!("z:{run}"),
            (0, _) => format!("Z:{run}"),
            _ => format!("v:{value},{run}"),
        });
        p += len;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn registers(b: &[u8]) -> Vec<u8> {
        let mut max = [0u8; REGISTERS];
        merge_into(&mut max, b).unwrap();
        max.to_vec()
    }

    #[test]
    fn murmur_matches_known_values() {
        // Register and value of "a" as Redis's PFDEBUG GETREG shows them after PFADD h a.
        let (i, c) = pat_len(b"a");
        assert_eq!((i, c), (12711, 2));
        assert_eq!(murmur64a(b"", 0), 0);
    }

    #[test]
    fn empty_is_sparse_with_one_xzero() {
        let v = create();
        assert_eq!(v.len(), 18);
        assert_eq!(&v[16..], &[0x7f, 0xff]);
        assert_eq!(count(&v), Ok(0));
        assert_eq!(decode(&v), "Z:16384");
    }

    #[test]
    fn corrupt_sparse_is_detected() {
        let mut v = create();
        v.truncate(17);
        v[16] = 0x00;
        assert_eq!(count(&v), Err(Corrupt));
        assert_eq!(to_dense(&mut v), Err(Corrupt));
    }

    proptest! {
        #[test]
        fn sparse_and_dense_hold_the_same_registers(
            adds in proptest::collection::vec((0usize..REGISTERS, 1u8..=51), 0..400),
            max_bytes in prop_oneof![Just(60usize), Just(300), Just(3000)],
        ) {
            let mut model = vec![0u8; REGISTERS];
            let mut v = create();
            for &(i, c) in &adds {
                let changed = set(&mut v, i, c, max_bytes).unwrap();
                prop_assert_eq!(changed, c > model[i]);
                model[i] = model[i].max(c);
                prop_assert!(is_valid(&v));
                prop_assert!(!is_sparse(&v) || v.len() <= max_bytes.max(18));
            }
            prop_assert_eq!(&registers(&v), &model);
            let sparse_count = count(&v).unwrap();
            let mut d = v.clone();
            to_dense(&mut d).unwrap();
            prop_assert_eq!(&registers(&d), &model);
            prop_assert_eq!(count(&d).unwrap(), sparse_count);
            let mut raw = [0u8; REGISTERS];
            raw.copy_from_slice(&model);
            prop_assert_eq!(count_raw(&raw), sparse_count);
        }
    }
}
