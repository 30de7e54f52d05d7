//! k nearest neighbours of every point among the others, with one deterministic tie rule.
//!
//! **Tie rule.** Neighbours are ordered by (squared distance, index): of several points at the same distance the
//! lower index comes first, and the k-th place goes to the lowest index among those tied there (scikit-learn
//! leaves the order of exact ties unspecified). Distances are summed in dimension order
//! ([`crate::distance::sq_euclidean`]), as numpy and scikit-learn do, so near-ties resolve as theirs do.
//!
//! Two implementations of the same rule: [`KdIndex`] (kiddo's immutable kd-tree, 2 or 3 dimensions, for
//! coordinates) and [`knn_brute`] (any dimension, `O(n^2)`, for small inputs or high-dimensional rows).
//! The tests check that they agree.

use std::num::NonZeroUsize;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use ndarray::ArrayView2;
use rayon::prelude::*;

use crate::distance::sq_euclidean;

/// Why a kd-tree could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KnnError {
    /// The points have a different number of columns than the tree's dimension.
    #[error("points have {got} columns; this index takes {expected}")]
    Dimension { expected: usize, got: usize },
    /// More points than `u32` indices.
    #[error("more than 2^32 points")]
    TooMany,
    /// kiddo refused the points.
    #[error("kd-tree construction: {0}")]
    Tree(String),
}

/// Points in `K` dimensions with a kd-tree over them, answering neighbour queries for the points themselves.
pub struct KdIndex<const K: usize> {
    pts: Vec<[f64; K]>,
    tree: ImmutableKdTree<f64, K>,
}

impl<const K: usize> KdIndex<K> {
    /// Index the rows of `coords` (`n x K`, finite values).
    pub fn new(coords: ArrayView2<f64>) -> Result<Self, KnnError> {
        if coords.ncols() != K {
            return Err(KnnError::Dimension {
                expected: K,
                got: coords.ncols(),
            });
        }
        if coords.nrows() > u32::MAX as usize {
            return Err(KnnError::TooMany);
        }
        let pts: Vec<[f64; K]> = coords
            .outer_iter()
            .map(|r| std::array::from_fn(|k| r[k]))
            .collect();
        let tree =
            ImmutableKdTree::new_from_slice(&pts).map_err(|e| KnnError::Tree(format!("{e:?}")))?;
        Ok(Self { pts, tree })
    }

    /// The indexed points.
    pub fn points(&self) -> &[[f64; K]] {
        &self.pts
    }

    fn sq_dist(&self, i: usize, j: usize) -> f64 {
        sq_euclidean(&self.pts[i], &self.pts[j])
    }

    /// The `k` nearest other points of point `i` as `(index, squared distance)`, sorted by (distance, index)
    /// (the module's tie rule); fewer when there are not `k` other points.
    pub fn knn(&self, i: usize, k: usize) -> Vec<(u32, f64)> {
        let k = k.min(self.pts.len().saturating_sub(1));
        let q = NonZeroUsize::new(k + 1).expect("k + 1 > 0");
        let found = self
            .tree
            .query(&self.pts[i])
            .nearest_n::<SquaredEuclidean<f64>>(q)
            .execute();
        let mut cand: Vec<(u32, f64)> = found
            .iter()
            .filter(|r| r.item as usize != i)
            .map(|r| (r.item, self.sq_dist(i, r.item as usize)))
            .collect();
        sort_by_distance_then_index(&mut cand);
        cand.truncate(k);
        let Some(&(_, dk)) = cand.last() else {
            return cand;
        };
        // Exact ties at the k-th distance may have been cut by the tree in arbitrary order: collect every point at
        // distance <= d_k (with a hair of slack for the tree's own rounding) and re-select by (distance, index).
        let all = self
            .tree
            .query(&self.pts[i])
            .within::<SquaredEuclidean<f64>>(dk * (1.0 + 1e-12) + f64::MIN_POSITIVE)
            .execute();
        if all.len() > k + 1 {
            cand = all
                .iter()
                .filter(|r| r.item as usize != i)
                .map(|r| (r.item, self.sq_dist(i, r.item as usize)))
                .filter(|&(_, d)| d <= dk)
                .collect();
            sort_by_distance_then_index(&mut cand);
            cand.truncate(k);
        }
        cand
    }

    /// Every other point within Euclidean distance `sqrt(r2)` of point `i` (inclusive: squared distance `<= r2`,
    /// scikit-learn's radius query), in the tree's order.
    pub fn within(&self, i: usize, r2: f64) -> Vec<u32> {
        self.tree
            .query(&self.pts[i])
            .within::<SquaredEuclidean<f64>>(r2 * (1.0 + 1e-12))
            .execute()
            .iter()
            .filter(|r| r.item as usize != i && self.sq_dist(i, r.item as usize) <= r2)
            .map(|r| r.item)
            .collect()
    }
}

fn sort_by_distance_then_index(cand: &mut [(u32, f64)]) {
    cand.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
}

/// The `k` nearest other rows of every row of `points` (any number of columns) by brute force, in parallel over
/// rows: row `i` of the result lists `(index, squared distance)` sorted by (distance, index), the module's tie
/// rule, so it equals [`KdIndex::knn`] for 2-3 columns. `k` is capped at `n - 1`.
pub fn knn_brute(points: ArrayView2<f64>, k: usize) -> Vec<Vec<(u32, f64)>> {
    let x = points.as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    let (n, dim) = points.dim();
    let k = k.min(n.saturating_sub(1));
    (0..n)
        .into_par_iter()
        .map(|i| {
            if k == 0 {
                return Vec::new();
            }
            let xi = &x[i * dim..(i + 1) * dim];
            let mut d: Vec<(u32, f64)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (j as u32, sq_euclidean(xi, &x[j * dim..(j + 1) * dim])))
                .collect();
            d.select_nth_unstable_by(k - 1, |a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            d.truncate(k);
            sort_by_distance_then_index(&mut d);
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};
    use rand::{Rng, SeedableRng};

    #[test]
    fn ties_go_to_the_lower_index_and_self_is_excluded() {
        // Point 0 at the centre of a square of four equidistant points.
        let c = array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]];
        let tree = KdIndex::<2>::new(c.view()).unwrap();
        assert_eq!(tree.knn(0, 2), vec![(1, 1.0), (2, 1.0)]);
        assert_eq!(knn_brute(c.view(), 2)[0], vec![(1, 1.0), (2, 1.0)]);
        let mut r = tree.within(0, 1.0);
        r.sort_unstable();
        assert_eq!(r, vec![1, 2, 3, 4]);
        assert!(KdIndex::<3>::new(c.view()).is_err());
    }

    #[test]
    fn kd_tree_and_brute_force_agree_on_a_grid_with_many_ties() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        // Integer grid points (many exact ties) plus jittered ones.
        let pts = Array2::from_shape_fn((300, 2), |(i, d)| {
            let base = if d == 0 {
                (i % 17) as f64
            } else {
                (i / 17) as f64
            };
            if i % 3 == 0 {
                base + rng.gen_range(-0.3..0.3)
            } else {
                base
            }
        });
        let tree = KdIndex::<2>::new(pts.view()).unwrap();
        for k in [1, 4, 6, 10] {
            let brute = knn_brute(pts.view(), k);
            for (i, row) in brute.iter().enumerate() {
                assert_eq!(&tree.knn(i, k), row, "point {i}, k = {k}");
            }
        }
    }
}
