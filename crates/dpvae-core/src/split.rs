//! Seeded hold-out splits of `0..n`: shuffle `0..n` with the caller's generator, hold out the first `m` of the
//! permutation, return both index sets sorted.
//!
//! **Rounding.** How many items a fraction holds out is the caller's explicit choice ([`Rounding`]), because the
//! two callers differ and changing either would change which spots are held out in committed results:
//! `dpvae_data::split::train_test_split` uses [`Rounding::Ceil`] (scikit-learn's `train_test_split`), training's
//! validation split (`dpvae_model::train::split_indices`) uses [`Rounding::Round`] clamped to `1..=n-1`.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How `fraction * n` becomes a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// `ceil(fraction * n)` (scikit-learn's test size).
    Ceil,
    /// `round(fraction * n)`, halves away from zero.
    Round,
}

/// The number of items `fraction` of `n` holds out under `rounding` (not clamped).
pub fn held_out_count(n: usize, fraction: f64, rounding: Rounding) -> usize {
    let x = fraction * n as f64;
    (match rounding {
        Rounding::Ceil => x.ceil(),
        Rounding::Round => x.round(),
    }) as usize
}

/// `0..n` shuffled by `ChaCha8Rng::seed_from_u64(seed)`.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    shuffled(n, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// `0..n` shuffled by `rng`.
pub fn shuffled(n: usize, rng: &mut impl rand::Rng) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    idx
}

/// Shuffle `0..n` with `rng` and hold out the first `m` (`m <= n`): returns `(kept, held_out)`, both sorted.
pub fn hold_out(n: usize, m: usize, rng: &mut impl rand::Rng) -> (Vec<usize>, Vec<usize>) {
    assert!(m <= n, "cannot hold out {m} of {n} items");
    let idx = shuffled(n, rng);
    let mut held = idx[..m].to_vec();
    let mut kept = idx[m..].to_vec();
    held.sort_unstable();
    kept.sort_unstable();
    (kept, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_rules_and_seeded_hold_out() {
        assert_eq!(held_out_count(10, 0.25, Rounding::Ceil), 3);
        assert_eq!(held_out_count(10, 0.25, Rounding::Round), 3);
        assert_eq!(held_out_count(10, 0.21, Rounding::Ceil), 3);
        assert_eq!(held_out_count(10, 0.21, Rounding::Round), 2);
        let (kept, held) = hold_out(20, 5, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(held.len(), 5);
        assert_eq!(kept.len(), 15);
        let mut all: Vec<usize> = kept.iter().chain(&held).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        // The held-out set is the head of the seeded permutation.
        let mut head = permutation(20, 3)[..5].to_vec();
        head.sort_unstable();
        assert_eq!(held, head);
    }
}
