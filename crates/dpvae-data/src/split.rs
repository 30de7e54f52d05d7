//! Seeded, reproducible index splits: train/test by fraction, k-fold, and leave-k-out anchor selection.
//!
//! Every split shuffles `0..n` with `ChaCha8Rng::seed_from_u64(seed)`; index sets are returned sorted. The
//! shuffle, the hold-out and the rounding rule are [`dpvae_core::split`]'s.

use dpvae_core::split::{Rounding, held_out_count, hold_out, permutation};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// One split of `0..n` into disjoint train and test index sets (both sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

impl Split {
    fn from_test(n: usize, mut test: Vec<usize>) -> Split {
        test.sort_unstable();
        let mut is_test = vec![false; n];
        for &i in &test {
            is_test[i] = true;
        }
        Split {
            train: (0..n).filter(|&i| !is_test[i]).collect(),
            test,
        }
    }
}

/// Random train/test split with `ceil(test_fraction * n)` test items (scikit-learn's rounding); the paper uses
/// `test_fraction = 0.2`.
pub fn train_test_split(n: usize, test_fraction: f64, seed: u64) -> Result<Split> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::data(
            "split",
            format!("test fraction must be in (0, 1), got {test_fraction}"),
        ));
    }
    let n_test = held_out_count(n, test_fraction, Rounding::Ceil);
    if n_test == 0 || n_test >= n {
        return Err(DataError::data(
            "split",
            format!(
                "a test fraction of {test_fraction} of {n} items leaves {n_test} for testing and {} for training; both must be non-empty",
                n.saturating_sub(n_test)
            ),
        ));
    }
    let (train, test) = hold_out(n, n_test, &mut ChaCha8Rng::seed_from_u64(seed));
    Ok(Split { train, test })
}

/// k-fold cross-validation: a shuffled partition into `k` folds (the first `n % k` one item larger, as
/// scikit-learn's `KFold`); split `f` tests on fold `f` and trains on the rest.
pub fn k_fold(n: usize, k: usize, seed: u64) -> Result<Vec<Split>> {
    if k < 2 || k > n {
        return Err(DataError::data(
            "split",
            format!("k-fold needs 2 <= k <= n, got k = {k} for n = {n}"),
        ));
    }
    let perm = permutation(n, seed);
    let mut start = 0;
    Ok((0..k)
        .map(|f| {
            let size = n / k + usize::from(f < n % k);
            let test = perm[start..start + size].to_vec();
            start += size;
            Split::from_test(n, test)
        })
        .collect())
}

/// Leave-k-out: each split holds out `k` items (anchors to predict) and keeps the rest, as the paper's
/// leave-three-out. With `n_rounds = None` every one of the C(n, k) subsets is returned in lexicographic order;
/// otherwise `n_rounds` distinct subsets drawn with the seed.
pub fn leave_k_out(n: usize, k: usize, n_rounds: Option<usize>, seed: u64) -> Result<Vec<Split>> {
    if k == 0 || k >= n {
        return Err(DataError::data(
            "split",
            format!("leave-k-out needs 1 <= k < n, got k = {k} for n = {n}"),
        ));
    }
    let total = binomial(n, k);
    match n_rounds {
        None => {
            if total > 1_000_000 {
                return Err(DataError::data(
                    "split",
                    format!(
                        "C({n}, {k}) = {total} subsets is too many to enumerate; ask for a number of rounds"
                    ),
                ));
            }
            let mut out = Vec::with_capacity(total as usize);
            let mut comb: Vec<usize> = (0..k).collect();
            loop {
                out.push(Split::from_test(n, comb.clone()));
                // Next combination in lexicographic order.
                let Some(i) = (0..k).rev().find(|&i| comb[i] < n - k + i) else {
                    break;
                };
                comb[i] += 1;
                for j in i + 1..k {
                    comb[j] = comb[j - 1] + 1;
                }
            }
            Ok(out)
        }
        Some(r) => {
            if r == 0 || r as u128 > total {
                return Err(DataError::data(
                    "split",
                    format!(
                        "asked for {r} leave-{k}-out rounds but there are {total} distinct subsets of {n}"
                    ),
                ));
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::with_capacity(r);
            let mut idx: Vec<usize> = (0..n).collect();
            while out.len() < r {
                let (chosen, _) = idx.partial_shuffle(&mut rng, k);
                let mut test = chosen.to_vec();
                test.sort_unstable();
                if seen.insert(test.clone()) {
                    out.push(Split::from_test(n, test));
                }
            }
            Ok(out)
        }
    }
}

fn binomial(n: usize, k: usize) -> u128 {
    let k = k.min(n - k);
    let mut c: u128 = 1;
    for i in 0..k {
        c = c * (n - i) as u128 / (i + 1) as u128;
        if c > u64::MAX as u128 {
            return c;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_partition(s: &Split, n: usize) {
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn eighty_twenty_is_seeded() {
        let a = train_test_split(101, 0.2, 7).unwrap();
        assert_eq!(a.test.len(), 21);
        check_partition(&a, 101);
        assert_eq!(a, train_test_split(101, 0.2, 7).unwrap());
        assert_ne!(a, train_test_split(101, 0.2, 8).unwrap());
        assert!(train_test_split(3, 0.0, 1).is_err());
        assert!(train_test_split(1, 0.5, 1).is_err());
    }

    #[test]
    fn k_folds_partition_the_items() {
        let folds = k_fold(11, 3, 1).unwrap();
        let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        assert_eq!(sizes, vec![4, 4, 3]);
        let mut tests: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
        tests.sort_unstable();
        assert_eq!(tests, (0..11).collect::<Vec<_>>());
        for f in &folds {
            check_partition(f, 11);
        }
        assert!(k_fold(3, 4, 0).is_err());
    }

    #[test]
    fn leave_three_out() {
        let all = leave_k_out(6, 3, None, 0).unwrap();
        assert_eq!(all.len(), 20);
        assert_eq!(all[0].test, vec![0, 1, 2]);
        assert_eq!(all[19].test, vec![3, 4, 5]);
        let some = leave_k_out(27, 3, Some(10), 5).unwrap();
        assert_eq!(some.len(), 10);
        let distinct: std::collections::HashSet<_> = some.iter().map(|s| s.test.clone()).collect();
        assert_eq!(distinct.len(), 10);
        assert_eq!(some, leave_k_out(27, 3, Some(10), 5).unwrap());
        assert!(leave_k_out(4, 3, Some(5), 0).is_err());
    }
}
