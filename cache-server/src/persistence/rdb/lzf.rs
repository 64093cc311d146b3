//! LZF, the compression of RDB strings (`rdbcompression yes`): liblzf 3.6's compressor as Redis
//! builds it, so that compressed bytes equal Redis's, and a decompressor that checks every
//! back-reference and never writes past the length the payload announces.

/// Appends one literal byte to the current literal run, closing the run (its header byte) once it
/// holds the most a header can count.
fn literal(out: &mut [u8], op: &mut usize, lit: &mut usize, byte: u8) {
    const MAX_LIT: usize = 32;
    *lit += 1;
    out[*op] = byte;
    *op += 1;
    if *lit == MAX_LIT {
        out[*op - *lit - 1] = (*lit - 1) as u8;
        *lit = 0;
        *op += 1;
    }
}

/// Slots of liblzf's hash table (HLOG 16).
const HSIZE: usize = 1 << 16;

/// liblzf's hash table, all zeros at the start of every call, kept per thread: a fresh zeroed
/// 512 KB table per call cost far more than compressing a short string (a snapshot of a million
/// 32-byte values spent minutes in it). The slots a call writes are noted and zeroed after it,
/// or the whole table when a long input wrote many.
struct Table {
    slots: Vec<usize>,
    touched: Vec<u32>,
    all: bool,
}

impl Table {
    fn get(&self, slot: usize) -> usize {
        self.slots[slot]
    }

    fn set(&mut self, slot: usize, ip: usize) {
        self.slots[slot] = ip;
        if !self.all {
            if self.touched.len() < HSIZE / 8 {
                self.touched.push(slot as u32);
            } else {
                self.all = true;
            }
        }
    }

    fn reset(&mut self) {
        if self.all {
            self.slots.fill(0);
        } else {
            for s in self.touched.drain(..) {
                self.slots[s as usize] = 0;
            }
        }
        self.touched.clear();
        self.all = false;
    }
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> =
        std::cell::RefCell::new(Table { slots: vec![0; HSIZE], touched: Vec::new(), all: false });
}

/// Compresses `input` like liblzf 3.6's `lzf_compress` as Redis builds it (HLOG 16, VERY_FAST, a hash table that starts
/// empty), so compressed bytes equal Redis's. `None` when the result would not fit in `out_len`.
#[must_use]
pub fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let out = compress_with(&mut t, input, out_len);
        t.reset();
        out
    })
}

fn compress_with(htab: &mut Table, input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    const MAX_OFF: usize = 1 << 13;
    const MAX_REF: usize = (1 << 8) + (1 << 3);
    let n = input.len();
    if n < 3 || out_len == 0 {
        return None;
    }
    let idx = |h: u32| ((h >> 8).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1);
    let frst = |p: usize| (u32::from(input[p]) << 8) | u32::from(input[p + 1]);
    let next = |h: u32, p: usize| (h << 8) | u32::from(input[p + 2]);
    let mut out = vec![0u8; out_len + 64];
    let (mut ip, mut op, mut lit) = (0usize, 1usize, 0usize);
    let mut hval = frst(0);
    while ip + 2 < n {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab.get(slot);
        htab.set(slot, ip);
        let matched = r < ip
            && ip - r - 1 < MAX_OFF
            && r > 0
            && input[r + 2] == input[ip + 2]
            && input[r..r + 2] == input[ip..ip + 2];
        if matched {
            let off = ip - r - 1;
            let mut len = 2;
            let maxlen = (n - ip - len).min(MAX_REF);
            if op + 4 >= out_len && op - usize::from(lit == 0) + 4 >= out_len {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);
            // liblzf first compares up to 16 bytes without looking at `maxlen` (it is > 16, so
            // they are inside the input), then one at a time up to it: a match can end 1-2 bytes
            // past `maxlen` near the end of the input, and Redis's bytes depend on it.
            'matching: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'matching;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2; // the offset byte, then room for the next literal run's header
            lit = 0;
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            ip -= 2;
            hval = frst(ip);
            hval = next(hval, ip);
            htab.set(idx(hval), ip);
            ip += 1;
            hval = next(hval, ip);
            htab.set(idx(hval), ip);
            ip += 1;
        } else {
            if op >= out_len {
                return None;
            }
            literal(&mut out, &mut op, &mut lit, input[ip]);
            ip += 1;
        }
    }
    if op + 3 > out_len {
        return None;
    }
    while ip < n {
        literal(&mut out, &mut op, &mut lit, input[ip]);
        ip += 1;
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    if op > out_len {
        return None;
    }
    out.truncate(op);
    Some(out)
}

/// Decompresses `input` into exactly `len` bytes; `None` if it is malformed or does not come
/// out at `len`. Allocates at most what `input` can expand to (an LZF back-reference of 2 or 3
/// bytes yields at most 264 bytes), whatever `len` claims.
#[must_use]
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    if len > input.len().saturating_mul(MAX_EXPANSION) {
        return None;
    }
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            out.extend_from_slice(input.get(i..i + run)?);
            i += run;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            if out.len() + n + 2 > len {
                return None;
            }
            for k in 0..n + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

/// The most output bytes one input byte of LZF can yield (a 3-byte back-reference of 264).
const MAX_EXPANSION: usize = 132;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Repetitive inputs of every length (matches that run to the very end included) come back
        /// whole, and the compressed form never exceeds the room it was given.
        #[test]
        fn compress_round_trips(seed in prop::collection::vec(0u8..4, 1..8), len in 3usize..600, room in 0usize..700) {
            let input: Vec<u8> = (0..len).map(|i| seed[i % seed.len()] + (i % 97 == 0) as u8).collect();
            if let Some(c) = compress(&input, room) {
                prop_assert!(c.len() <= room);
                prop_assert_eq!(decompress(&c, input.len()).unwrap(), input);
            }
        }
    }

    #[test]
    fn round_trips_and_refuses_garbage() {
        for s in
            [vec![b'x'; 300], (0..=255u8).cycle().take(5000).collect::<Vec<u8>>(), b"abcabcabcabcabcabcabcabc".to_vec()]
        {
            if let Some(c) = compress(&s, s.len() - 4) {
                assert_eq!(decompress(&c, s.len()).unwrap(), s);
            }
        }
        assert_eq!(decompress(&[0x00, b'a', 0xe0, 0x00, 0x00], 10).unwrap(), b"aaaaaaaaaa");
        assert!(decompress(&[0x00, b'a', 0xe0, 0x00, 0x00], 9).is_none());
        assert!(decompress(&[0x20, 0x05], 3).is_none(), "reference before the start");
        assert!(decompress(&[0x05, b'a'], 6).is_none(), "literal run past the end");
        assert!(decompress(&[0x00, b'a'], usize::MAX).is_none());
    }
}
