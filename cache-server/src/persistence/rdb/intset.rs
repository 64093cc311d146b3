//! Redis's intset (`intset.c`), the blob of `RDB_TYPE_SET_INTSET`: sorted distinct integers of
//! one width. `[encoding u32 = 2|4|8][length u32][values, little-endian, ascending]`.

use super::Error;

/// The intset of `values` (sorted ascending, distinct) in the narrowest width holding them all.
pub fn encode(values: &[i64]) -> Vec<u8> {
    let width: usize = match (values.first(), values.last()) {
        (Some(&lo), Some(&hi)) if i16::try_from(lo).is_ok() && i16::try_from(hi).is_ok() => 2,
        (Some(&lo), Some(&hi)) if i32::try_from(lo).is_ok() && i32::try_from(hi).is_ok() => 4,
        (Some(_), Some(_)) => 8,
        _ => 2,
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The integers of an intset blob, checked: a known width, a length that matches the blob, and
/// strictly ascending values.
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, Error> {
    let bad = Error::Corrupt;
    if blob.len() < 8 {
        return Err(bad("intset too short"));
    }
    let width = u32::from_le_bytes(blob[..4].try_into().expect("4 bytes")) as usize;
    let len = u32::from_le_bytes(blob[4..8].try_into().expect("4 bytes")) as usize;
    if ![2, 4, 8].contains(&width) || (blob.len() - 8) / width != len || (blob.len() - 8) % width != 0 {
        return Err(bad("intset header"));
    }
    let values: Vec<i64> = blob[8..]
        .chunks_exact(width)
        .map(|c| {
            let mut v = [0u8; 8];
            v[..width].copy_from_slice(c);
            let shift = 64 - 8 * width as u32;
            (i64::from_le_bytes(v) << shift) >> shift
        })
        .collect();
    if values.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad("intset not sorted"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_and_round_trips() {
        // DUMP of SADD s 1 2 3 on redis 7.0.15 (the blob inside RDB_TYPE_SET_INTSET).
        assert_eq!(encode(&[1, 2, 3]), b"\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00");
        for v in [vec![-70000, 5], vec![i64::MIN, 0, i64::MAX], vec![-1]] {
            assert_eq!(decode(&encode(&v)).unwrap(), v);
        }
        assert!(decode(b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00").is_err(), "duplicate");
        assert!(decode(b"\x03\x00\x00\x00\x00\x00\x00\x00").is_err(), "width");
        assert!(decode(b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00").is_err(), "short");
    }
}
