//! Euclidean distances between rows of point matrices, in f64.
//!
//! Two summation orders, both deterministic:
//! * [`sq_euclidean`] (and [`euclidean`], [`row_distance`], [`pairwise_distances`]) add the squared differences in
//!   dimension order, as numpy, scipy and scikit-learn do, so near-ties between neighbours resolve as theirs do.
//!   Used for coordinates (2-3 columns) and wherever a result is compared with those libraries bit for bit.
//! * [`sq_euclidean_unrolled`] (and [`condensed_distances`]) keep four running sums so the loop vectorises on long
//!   rows (embeddings, expression); it differs from the dimension-order sum only by rounding (~1e-16 relative).

use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

/// Squared Euclidean distance `sum_t (a_t - b_t)^2`, summed in dimension order. `a` and `b` have equal length.
#[inline(always)]
pub fn sq_euclidean(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// Euclidean distance, summed in dimension order ([`sq_euclidean`]).
#[inline(always)]
pub fn euclidean(a: &[f64], b: &[f64]) -> f64 {
    sq_euclidean(a, b).sqrt()
}

/// Euclidean distance between rows `i` and `j` of a row-major `n x k` matrix stored flat in `x`.
#[inline(always)]
pub fn row_distance(x: &[f64], k: usize, i: usize, j: usize) -> f64 {
    euclidean(&x[i * k..(i + 1) * k], &x[j * k..(j + 1) * k])
}

/// Squared Euclidean distance between two (possibly strided) ndarray rows, summed in dimension order.
#[inline]
pub fn sq_euclidean_rows(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b.iter()) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// Euclidean distance between two (possibly strided) ndarray rows, summed in dimension order.
#[inline]
pub fn euclidean_rows(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    sq_euclidean_rows(a, b).sqrt()
}

/// Squared Euclidean distance with four accumulators (lanes `t mod 4`, combined as `(l0 + l1) + (l2 + l3)`, then the
/// remainder in order), so the loop vectorises on long rows.
#[inline]
pub fn sq_euclidean_unrolled(a: &[f64], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            let d = x[k] - y[k];
            acc[k] += d * d;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// The `n x n` matrix of Euclidean distances between the rows of `points` (dimension-order sums, exact zeros on
/// the diagonal), computed in parallel over rows. No validation: non-finite input gives non-finite distances.
pub fn pairwise_distances(points: ArrayView2<f64>) -> Array2<f64> {
    let x = points.as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    let (n, k) = points.dim();
    let mut out = vec![0.0; n * n];
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if i == j {
                    0.0
                } else {
                    row_distance(x, k, i, j)
                };
            }
        });
    Array2::from_shape_vec((n, n), out).expect("n x n")
}

/// Condensed Euclidean distances in scipy's `pdist` order ((0,1), (0,2), ..., (1,2), ...), `n(n-1)/2` values,
/// computed in parallel with [`sq_euclidean_unrolled`].
pub fn condensed_distances(x: ArrayView2<f64>) -> Vec<f64> {
    let x = x.as_standard_layout();
    let n = x.nrows();
    let mut out = vec![0.0; n * n.saturating_sub(1) / 2];
    let mut rows: Vec<(usize, &mut [f64])> = Vec::with_capacity(n);
    let mut rest = out.as_mut_slice();
    for i in 0..n {
        let (head, tail) = rest.split_at_mut(n - i - 1);
        rows.push((i, head));
        rest = tail;
    }
    let x = x.view();
    rows.into_par_iter().for_each(|(i, seg)| {
        let xi = x.row(i);
        let xi = xi.as_slice().expect("standard layout");
        for (k, d) in seg.iter_mut().enumerate() {
            let xj = x.row(i + 1 + k);
            *d = sq_euclidean_unrolled(xi, xj.as_slice().expect("standard layout")).sqrt();
        }
    });
    out
}

/// Index into a condensed distance vector of `n` points for the pair `i < j`.
#[inline]
pub fn condensed_index(n: usize, i: usize, j: usize) -> usize {
    debug_assert!(i < j && j < n);
    i * n - i * (i + 1) / 2 + (j - i - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn forms_agree_and_match_known_values() {
        let x = array![[0.0, 0.0], [3.0, 4.0], [6.0, 8.0], [1.0, 1.0]];
        let flat = x.as_slice().unwrap();
        assert_eq!(euclidean(&[0.0, 0.0], &[3.0, 4.0]), 5.0);
        assert_eq!(row_distance(flat, 2, 0, 2), 10.0);
        assert_eq!(euclidean_rows(x.row(1), x.row(2)), 5.0);
        // Columns (0, 3, 6, 1) and (0, 4, 8, 1) differ by (0, 1, 2, 0).
        assert_eq!(euclidean_rows(x.column(0), x.column(1)), 5f64.sqrt());
        let full = pairwise_distances(x.view());
        let cond = condensed_distances(x.view());
        assert_eq!(cond.len(), 6);
        for i in 0..4 {
            assert_eq!(full[[i, i]], 0.0);
            for j in (i + 1)..4 {
                assert_eq!(full[[i, j]], full[[j, i]]);
                assert_eq!(cond[condensed_index(4, i, j)], full[[i, j]]);
            }
        }
        assert!(condensed_distances(x.slice(ndarray::s![..1, ..])).is_empty());
    }

    #[test]
    fn unrolled_sum_equals_ordered_sum_up_to_rounding() {
        let a: Vec<f64> = (0..37).map(|t| (t as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..37).map(|t| (t as f64 * 0.11).cos()).collect();
        let (s, u) = (sq_euclidean(&a, &b), sq_euclidean_unrolled(&a, &b));
        assert!((s - u).abs() <= 1e-14 * s);
        // Short rows (under four values) are summed in order by both.
        assert_eq!(
            sq_euclidean(&a[..3], &b[..3]),
            sq_euclidean_unrolled(&a[..3], &b[..3])
        );
    }
}
