//! The O(n^2) pair loops behind SMACOF, stress and their gradients, on raw row-major slices.
//!
//! One fused pass per iteration computes, for every point `i`, `sum_j w_ij c(d_ij, delta_ij) (x_i - x_j)`
//! together with the loss and `sum_j d_ij^2`, without forming `B(X)` or the distance matrix of `X`.
//! Rows run in parallel (rayon); per-row sums are added up sequentially so results are bit-for-bit
//! deterministic whatever the thread count.

use rayon::prelude::*;

/// Sums over all ordered pairs, halved to sums over `i < j`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PassSums {
    /// `sum_{i<j} w_ij loss(d_ij, delta_ij)`.
    pub loss: f64,
    /// `sum_{i<j} w_ij d_ij^2`.
    pub sum_d2: f64,
}

/// Per-pair loss: returns `(loss, coefficient)` where the coefficient multiplies `(x_i - x_j)` in the
/// accumulated row vector. For the Guttman transform it is `delta / d`; for gradients it is
/// `dloss/dd / d`.
pub(crate) trait PairLoss: Sync {
    fn eval(&self, d: f64, delta: f64) -> (f64, f64);
}

/// Squared residual; the accumulated vector is `B(X) X` (Guttman transform numerator).
pub(crate) struct GuttmanLoss;
impl PairLoss for GuttmanLoss {
    #[inline(always)]
    fn eval(&self, d: f64, delta: f64) -> (f64, f64) {
        let r = d - delta;
        // b_ij = 0 when d_ij = 0: the standard SMACOF convention (the majorisation still holds).
        (r * r, if d > 0.0 { delta / d } else { 0.0 })
    }
}

/// Squared residual; the accumulated vector is the gradient of `sum_{i<j} w (d - delta)^2`.
pub(crate) struct SquaredGradLoss;
impl PairLoss for SquaredGradLoss {
    #[inline(always)]
    fn eval(&self, d: f64, delta: f64) -> (f64, f64) {
        let r = d - delta;
        (r * r, if d > 0.0 { 2.0 * r / d } else { 0.0 })
    }
}

/// Smoothed absolute residual `sqrt(r^2 + mu^2)` and its gradient coefficient.
pub(crate) struct SmoothAbsGradLoss {
    pub mu: f64,
}
impl PairLoss for SmoothAbsGradLoss {
    #[inline(always)]
    fn eval(&self, d: f64, delta: f64) -> (f64, f64) {
        let r = d - delta;
        let s = (r * r + self.mu * self.mu).sqrt();
        (s, if d > 0.0 { r / (s * d) } else { 0.0 })
    }
}

/// Exact absolute residual (for reporting the paper's L1 stress; the coefficient is unused).
pub(crate) struct AbsLoss;
impl PairLoss for AbsLoss {
    #[inline(always)]
    fn eval(&self, d: f64, delta: f64) -> (f64, f64) {
        ((d - delta).abs(), 0.0)
    }
}

/// One pass over all pairs. `delta` and `weights` are `n x n` row-major, `x` and `out` are `n x p`.
/// When `out` is `None` only the sums are computed.
pub(crate) fn pair_pass<L: PairLoss>(
    delta: &[f64],
    weights: Option<&[f64]>,
    x: &[f64],
    p: usize,
    out: Option<&mut [f64]>,
    loss: &L,
) -> PassSums {
    // Literal dimensions let the compiler unroll the inner loops for the common 2-D and 3-D cases.
    match p {
        2 => pass_dim(delta, weights, x, 2, out, loss),
        3 => pass_dim(delta, weights, x, 3, out, loss),
        _ => pass_dim(delta, weights, x, p, out, loss),
    }
}

#[inline(always)]
fn pass_dim<L: PairLoss>(
    delta: &[f64],
    weights: Option<&[f64]>,
    x: &[f64],
    p: usize,
    out: Option<&mut [f64]>,
    loss: &L,
) -> PassSums {
    let n = x.len() / p;
    let row = |i: usize, acc: Option<&mut [f64]>| -> (f64, f64) {
        let xi = &x[i * p..(i + 1) * p];
        let drow = &delta[i * n..(i + 1) * n];
        let wrow = weights.map(|w| &w[i * n..(i + 1) * n]);
        let mut l_sum = 0.0;
        let mut d2_sum = 0.0;
        let mut tmp = [0.0f64; 8];
        let use_tmp = p <= 8;
        let mut acc = acc;
        for j in 0..n {
            if j == i {
                continue;
            }
            let xj = &x[j * p..(j + 1) * p];
            let mut d2 = 0.0;
            for k in 0..p {
                let t = xi[k] - xj[k];
                d2 += t * t;
            }
            let d = d2.sqrt();
            let w = wrow.map_or(1.0, |w| w[j]);
            let (l, c) = loss.eval(d, drow[j]);
            l_sum += w * l;
            d2_sum += w * d2;
            if let Some(a) = acc.as_deref_mut() {
                let wc = w * c;
                if use_tmp {
                    for k in 0..p {
                        tmp[k] += wc * (xi[k] - xj[k]);
                    }
                } else {
                    for k in 0..p {
                        a[k] += wc * (xi[k] - xj[k]);
                    }
                }
            }
        }
        if let Some(a) = acc
            && use_tmp
        {
            a.copy_from_slice(&tmp[..p]);
        }
        (l_sum, d2_sum)
    };
    let per_row: Vec<(f64, f64)> = match out {
        Some(out) => out
            .par_chunks_mut(p)
            .enumerate()
            .with_min_len(16)
            .map(|(i, a)| {
                a.iter_mut().for_each(|v| *v = 0.0);
                row(i, Some(a))
            })
            .collect(),
        None => (0..n)
            .into_par_iter()
            .with_min_len(16)
            .map(|i| row(i, None))
            .collect(),
    };
    let mut sums = PassSums::default();
    for (l, d2) in per_row {
        sums.loss += l;
        sums.sum_d2 += d2;
    }
    sums.loss *= 0.5;
    sums.sum_d2 *= 0.5;
    sums
}

/// `out = V u` for the weighted Laplacian `V = diag(W 1) - W`: `(V u)_i = sum_j w_ij (u_i - u_j)`.
/// Rows flagged in `skip` are treated as zero in `u` (used to restrict `V` to the free points).
pub(crate) fn laplacian_matvec(
    weights: &[f64],
    u: &[f64],
    p: usize,
    skip: Option<&[bool]>,
    out: &mut [f64],
) {
    let n = u.len() / p;
    out.par_chunks_mut(p)
        .enumerate()
        .with_min_len(16)
        .for_each(|(i, o)| {
            o.iter_mut().for_each(|v| *v = 0.0);
            let wrow = &weights[i * n..(i + 1) * n];
            let ui_zero = skip.is_some_and(|s| s[i]);
            for j in 0..n {
                if j == i {
                    continue;
                }
                let w = wrow[j];
                let uj_zero = skip.is_some_and(|s| s[j]);
                for k in 0..p {
                    let ui = if ui_zero { 0.0 } else { u[i * p + k] };
                    let uj = if uj_zero { 0.0 } else { u[j * p + k] };
                    o[k] += w * (ui - uj);
                }
            }
        });
}

/// Euclidean distance between rows `i` and `j` of a row-major `n x k` matrix (the one implementation is
/// [`dpvae_core::distance::row_distance`]).
pub(crate) use dpvae_core::distance::row_distance;
