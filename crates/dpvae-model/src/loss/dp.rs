//! The distance-preserving loss
//! `L_DP = 1/n^2 sum_ij G_ij | ||z_i - z_j|| - lambda ||s_i - s_j|| |`,
//! evaluated directly on the host together with its gradients in z and lambda.
//!
//! Through autodiff the full-batch version builds several n x n x d tensors per step and dominates training
//! time; here it is one O(n^2) pass over the upper triangle (SIMD-friendly structure-of-arrays loops, rayon over
//! fixed row blocks). The trainer feeds the gradient back with the surrogate `sum(z * g)` (see `train`).
//!
//! The result does not depend on the thread count or the CPU's vector width: row blocks are fixed by n alone,
//! block results are merged in order, and every reduction uses explicit lanes.
//!
//! At `z_i = z_j` the distance is not differentiable; the kernel uses the subgradient 0 there, so coincident
//! points never produce NaN. Likewise `d|r|/dr = 0` at `r = 0`.

use burn::prelude::*;
use rayon::prelude::*;

/// Which pairs of a batch enter the loss (`G` restricted to the batch).
#[derive(Debug, Clone, Copy)]
pub enum BatchMask<'a> {
    /// Every pair.
    All,
    /// Pairs whose labels agree (expression clusters); one label per batch row.
    Labels(&'a [u32]),
    /// An explicit list of unordered pairs `(i, j)`, `i < j`, in batch positions; each stands for both
    /// ordered pairs.
    Pairs(&'a [(u32, u32)]),
}

/// Value and gradients of the DP loss for one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct DpGrad {
    /// `L_DP`.
    pub loss: f64,
    /// `dL_DP / dz`, row-major `[n, d]`.
    pub grad_z: Vec<f32>,
    /// `dL_DP / dlambda`.
    pub grad_lambda: f64,
}

const LANES: usize = 16;
/// Below this many rows the kernel runs in one block on the calling thread.
const PARALLEL_MIN_ROWS: usize = 384;
const BLOCKS: usize = 32;

/// Evaluate `L_DP` and its gradients. `z` is row-major `[n, d]`, `coords` row-major `[n, c]`.
pub fn dp_loss_grad(
    z: &[f32],
    d: usize,
    coords: &[f32],
    c: usize,
    lambda: f32,
    mask: BatchMask<'_>,
) -> DpGrad {
    let n = z.len().checked_div(d).unwrap_or(0);
    assert_eq!(z.len(), n * d, "z is not n x d");
    assert_eq!(coords.len(), n * c, "coords do not match z");
    if n == 0 {
        return DpGrad {
            loss: 0.0,
            grad_z: Vec::new(),
            grad_lambda: 0.0,
        };
    }
    let zc = columns(z, n, d);
    let sc = columns(coords, n, c);
    let (half_loss, half_gl, g) = match mask {
        BatchMask::Pairs(pairs) => sparse(&zc, &sc, lambda, pairs),
        BatchMask::All => dense(&zc, &sc, lambda, None),
        BatchMask::Labels(labels) => {
            assert_eq!(labels.len(), n, "one label per row");
            dense(&zc, &sc, lambda, Some(labels))
        }
    };
    // Each unordered pair stands for (i, j) and (j, i).
    let scale = 2.0 / (n as f64 * n as f64);
    let mut grad_z = vec![0.0_f32; n * d];
    for (k, col) in g.iter().enumerate() {
        for (i, v) in col.iter().enumerate() {
            grad_z[i * d + k] = (f64::from(*v) * scale) as f32;
        }
    }
    DpGrad {
        loss: half_loss * scale,
        grad_z,
        grad_lambda: half_gl * scale,
    }
}

fn columns(x: &[f32], n: usize, d: usize) -> Vec<Vec<f32>> {
    (0..d)
        .map(|k| (0..n).map(|i| x[i * d + k]).collect())
        .collect()
}

/// Sum over unordered pairs: (sum |r|, sum d|r|/dlambda, per-column gradient sums).
type Partial = (f64, f64, Vec<Vec<f32>>);

fn dense(zc: &[Vec<f32>], sc: &[Vec<f32>], lambda: f32, labels: Option<&[u32]>) -> Partial {
    let n = zc[0].len();
    let blocks = row_blocks(n);
    let run = |&(lo, hi): &(usize, usize)| {
        let mut g = vec![vec![0.0_f32; n]; zc.len()];
        let (loss, gl) = block(zc, sc, lambda, labels, lo, hi, &mut g);
        (loss, gl, g)
    };
    let parts: Vec<Partial> = if blocks.len() == 1 {
        blocks.iter().map(run).collect()
    } else {
        blocks.par_iter().map(run).collect()
    };
    let mut it = parts.into_iter();
    let mut acc = it.next().expect("at least one block");
    for (loss, gl, g) in it {
        acc.0 += loss;
        acc.1 += gl;
        for (a, b) in acc.2.iter_mut().zip(&g) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
    acc
}

/// Row ranges with about equal numbers of upper-triangle pairs; they depend on n only.
fn row_blocks(n: usize) -> Vec<(usize, usize)> {
    if n < PARALLEL_MIN_ROWS {
        return vec![(0, n)];
    }
    let total = n * (n - 1) / 2;
    let mut out = Vec::with_capacity(BLOCKS);
    let (mut lo, mut done) = (0, 0);
    for b in 1..=BLOCKS {
        let target = total * b / BLOCKS;
        let mut hi = lo;
        while hi < n && done < target {
            done += n - 1 - hi;
            hi += 1;
        }
        if b == BLOCKS {
            hi = n;
        }
        if hi > lo {
            out.push((lo, hi));
        }
        lo = hi;
    }
    out
}

fn block(
    zc: &[Vec<f32>],
    sc: &[Vec<f32>],
    lambda: f32,
    labels: Option<&[u32]>,
    lo: usize,
    hi: usize,
    g: &mut [Vec<f32>],
) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { block_avx2(zc, sc, lambda, labels, lo, hi, g) };
        }
    }
    block_generic(zc, sc, lambda, labels, lo, hi, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_avx2(
    zc: &[Vec<f32>],
    sc: &[Vec<f32>],
    lambda: f32,
    labels: Option<&[u32]>,
    lo: usize,
    hi: usize,
    g: &mut [Vec<f32>],
) -> (f64, f64) {
    block_generic(zc, sc, lambda, labels, lo, hi, g)
}

/// Rows `lo..hi` against every later row. No FMA is enabled, so the AVX2 and baseline builds of this function
/// round identically.
#[inline(always)]
fn block_generic(
    zc: &[Vec<f32>],
    sc: &[Vec<f32>],
    lambda: f32,
    labels: Option<&[u32]>,
    lo: usize,
    hi: usize,
    g: &mut [Vec<f32>],
) -> (f64, f64) {
    let n = zc[0].len();
    let mut dz2 = vec![0.0_f32; n];
    let mut ds2 = vec![0.0_f32; n];
    let mut coef = vec![0.0_f32; n];
    let mut weight = vec![1.0_f32; n];
    let (mut loss, mut gl) = (0.0_f64, 0.0_f64);
    for i in lo..hi {
        let j0 = i + 1;
        let m = n - j0;
        if m == 0 {
            continue;
        }
        let (dz2, ds2, coef, weight) = (
            &mut dz2[..m],
            &mut ds2[..m],
            &mut coef[..m],
            &mut weight[..m],
        );
        sq_dist(zc, i, j0, dz2);
        sq_dist(sc, i, j0, ds2);
        if let Some(lab) = labels {
            let li = lab[i];
            for (w, l) in weight.iter_mut().zip(&lab[j0..]) {
                *w = if *l == li { 1.0 } else { 0.0 };
            }
        }
        let mut acc_loss = [0.0_f32; LANES];
        let mut acc_gl = [0.0_f32; LANES];
        let mut pair = |t: usize, lane: usize| {
            let dz = dz2[t].sqrt();
            let ds = ds2[t].sqrt();
            let r = dz - lambda * ds;
            let w = weight[t];
            let s = if r > 0.0 {
                w
            } else if r < 0.0 {
                -w
            } else {
                0.0
            };
            acc_loss[lane] += w * r.abs();
            acc_gl[lane] -= s * ds;
            // Subgradient 0 at coincident points: no 0/0.
            coef[t] = if dz2[t] > 0.0 { s / dz } else { 0.0 };
        };
        let full = m / LANES * LANES;
        for base in (0..full).step_by(LANES) {
            for lane in 0..LANES {
                pair(base + lane, lane);
            }
        }
        for t in full..m {
            pair(t, 0);
        }
        loss += f64::from(acc_loss.iter().sum::<f32>());
        gl += f64::from(acc_gl.iter().sum::<f32>());
        for (k, col) in zc.iter().enumerate() {
            let zi = col[i];
            let gk = &mut g[k];
            let (head, tail) = gk.split_at_mut(j0);
            let mut acc = [0.0_f32; LANES];
            let mut step = |t: usize, lane: usize, gj: &mut f32| {
                let v = coef[t] * (zi - col[j0 + t]);
                acc[lane] += v;
                *gj -= v;
            };
            for base in (0..full).step_by(LANES) {
                for lane in 0..LANES {
                    step(base + lane, lane, &mut tail[base + lane]);
                }
            }
            for (t, gj) in tail.iter_mut().enumerate().skip(full) {
                step(t, 0, gj);
            }
            head[i] += acc.iter().sum::<f32>();
        }
    }
    (loss, gl)
}

#[inline(always)]
fn sq_dist(cols: &[Vec<f32>], i: usize, j0: usize, out: &mut [f32]) {
    out.fill(0.0);
    for col in cols {
        let xi = col[i];
        for (o, xj) in out.iter_mut().zip(&col[j0..]) {
            let d = xi - xj;
            *o += d * d;
        }
    }
}

fn sparse(zc: &[Vec<f32>], sc: &[Vec<f32>], lambda: f32, pairs: &[(u32, u32)]) -> Partial {
    let n = zc[0].len();
    let mut g = vec![vec![0.0_f32; n]; zc.len()];
    let (mut loss, mut gl) = (0.0_f64, 0.0_f64);
    for &(i, j) in pairs {
        let (i, j) = (i as usize, j as usize);
        let dz2: f32 = zc.iter().map(|c| (c[i] - c[j]) * (c[i] - c[j])).sum();
        let ds2: f32 = sc.iter().map(|c| (c[i] - c[j]) * (c[i] - c[j])).sum();
        let (dz, ds) = (dz2.sqrt(), ds2.sqrt());
        let r = dz - lambda * ds;
        let s = if r > 0.0 {
            1.0
        } else if r < 0.0 {
            -1.0
        } else {
            0.0
        };
        loss += f64::from(r.abs());
        gl -= f64::from(s * ds);
        if dz2 > 0.0 {
            let coef = s / dz;
            for (k, col) in zc.iter().enumerate() {
                let v = coef * (col[i] - col[j]);
                g[k][i] += v;
                g[k][j] -= v;
            }
        }
    }
    (loss, gl, g)
}

/// The same loss built from burn tensor operations, so autodiff differentiates it: the reference the direct
/// kernel is tested against, and the path for callers who want the whole objective in one graph. Distances are
/// `sqrt(max(d^2, 1e-12))`: the clamp has zero gradient at coincident points, so they never give NaN.
/// `mask` is a dense `[n, n]` 0/1 matrix, `None` for all pairs.
pub fn dp_loss_autodiff<B: Backend>(
    z: Tensor<B, 2>,
    coords: Tensor<B, 2>,
    log_lambda: Tensor<B, 1>,
    mask: Option<Tensor<B, 2>>,
) -> Tensor<B, 1> {
    let n = z.dims()[0];
    let dz = pairwise_distance(z);
    let ds = pairwise_distance(coords);
    let lambda = log_lambda.exp().unsqueeze_dim::<2>(0);
    let mut r = (dz - ds * lambda).abs();
    if let Some(m) = mask {
        r = r * m;
    }
    r.sum().div_scalar((n * n) as f64)
}

fn pairwise_distance<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let [n, _] = x.dims();
    let diff = x.clone().unsqueeze_dim::<3>(1) - x.unsqueeze_dim::<3>(0);
    diff.square()
        .sum_dim(2)
        .reshape([n, n])
        .clamp_min(1e-12)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_all_rows_once() {
        for n in [1, 2, 383, 384, 1000, 2400] {
            let b = row_blocks(n);
            assert_eq!(b.first().unwrap().0, 0);
            assert_eq!(b.last().unwrap().1, n);
            for w in b.windows(2) {
                assert_eq!(w[0].1, w[1].0);
            }
        }
    }

    #[test]
    fn coincident_points_give_finite_zero_direction() {
        // Two identical latent points at different spatial positions.
        let z = [0.5_f32, -1.0, 0.5, -1.0];
        let s = [0.0_f32, 0.0, 3.0, 4.0];
        let out = dp_loss_grad(&z, 2, &s, 2, 1.0, BatchMask::All);
        assert!((out.loss - 2.0 * 5.0 / 4.0).abs() < 1e-6);
        assert!(out.grad_z.iter().all(|g| g.is_finite() && *g == 0.0));
        // d/dlambda of |0 - 5 lambda| at lambda = 1 is 5, times 2 / n^2.
        assert!((out.grad_lambda - 2.0 * 5.0 / 4.0).abs() < 1e-6);
    }
}
