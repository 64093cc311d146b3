//! The draws every seeded command generator makes from its random source: one of a list, a yes
//! with some chance, a keyword in a random letter case. Each generator implements [`Draw`] by
//! lending its `StdRng`; the draws are made in the same order with the same ranges whatever the
//! generator, so a seed keeps meaning the same stream. It owns nothing of what the generators
//! build.

use rand::Rng;
use rand::rngs::StdRng;

/// Draws from a generator's seeded random source.
pub trait Draw {
    /// The generator's random source.
    fn rng(&mut self) -> &mut StdRng;

    /// One of `items`, uniformly.
    ///
    /// # Panics
    ///
    /// When `items` is empty.
    fn pick<'a, T: ?Sized>(&mut self, items: &'a [&'a T]) -> &'a T {
        let i = self.rng().random_range(0..items.len());
        items[i]
    }

    /// `true` in `percent` draws out of 100.
    fn chance(&mut self, percent: u32) -> bool {
        self.rng().random_range(0..100) < percent
    }

    /// `w` as given, or in lower case three times in ten: command names and options are
    /// case-insensitive, and the stream checks that they stay so.
    fn word(&mut self, w: &str) -> Vec<u8> {
        if self.chance(30) { w.to_ascii_lowercase().into_bytes() } else { w.as_bytes().to_vec() }
    }
}
