//! Classical (Torgerson) MDS: the top eigenvectors of the double-centred matrix `B = -1/2 J D^2 J`.
//!
//! `B` is never formed: products `B U` are computed in one pass over the dissimilarities, and the top
//! eigenpairs come from block subspace iteration with a Rayleigh-Ritz step (Jacobi on the small block), so
//! memory stays at the one `n x n` input.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{GeometryError, Result};
use crate::validate;
use dpvae_data::linalg::symmetric_eigen;

/// Classical MDS embedding and the eigenvalues it was built from.
#[derive(Debug, Clone)]
pub struct ClassicalMds {
    /// `n x n_components` coordinates: eigenvectors scaled by `sqrt(max(eigenvalue, 0))`.
    pub embedding: Array2<f64>,
    /// The top `n_components` eigenvalues of `B` (descending; negative ones contribute a zero column).
    pub eigenvalues: Array1<f64>,
}

/// Classical MDS of a dissimilarity matrix into `n_components` dimensions.
pub fn classical_mds(
    dissimilarities: ArrayView2<f64>,
    n_components: usize,
) -> Result<ClassicalMds> {
    validate::dissimilarities(&dissimilarities, 2)?;
    if n_components == 0 || n_components >= dissimilarities.nrows() {
        return Err(GeometryError::InvalidParameter {
            name: "n_components",
            reason: format!(
                "must be in 1..{} for {} points, got {n_components}",
                dissimilarities.nrows(),
                dissimilarities.nrows()
            ),
        });
    }
    let d = dissimilarities.as_standard_layout();
    Ok(classical_mds_unchecked(
        d.as_slice().expect("standard"),
        dissimilarities.nrows(),
        n_components,
        0,
    ))
}

/// Classical MDS on an already validated row-major `n x n` matrix.
pub(crate) fn classical_mds_unchecked(
    delta: &[f64],
    n: usize,
    k: usize,
    seed: u64,
) -> ClassicalMds {
    let squared: Vec<f64> = delta.par_iter().map(|v| v * v).collect();
    let apply = |u: &Array2<f64>| double_centred_product(&squared, n, u);
    let (vals, vecs) = top_eigen(apply, n, k, seed);
    let mut embedding = Array2::zeros((n, k));
    for c in 0..k {
        let s = vals[c].max(0.0).sqrt();
        embedding.column_mut(c).assign(&(&vecs.column(c) * s));
    }
    ClassicalMds {
        embedding,
        eigenvalues: vals,
    }
}

/// `B U` with `B = -1/2 J S J`, `S` the row-major squared dissimilarities and `J` the centring matrix.
pub(crate) fn double_centred_product(squared: &[f64], n: usize, u: &Array2<f64>) -> Array2<f64> {
    let b = u.ncols();
    let mut centred = u.clone();
    centre_columns(&mut centred);
    let cu = centred.as_standard_layout().into_owned();
    let cu = cu.as_slice().expect("standard");
    let mut out = vec![0.0; n * b];
    out.par_chunks_mut(b)
        .enumerate()
        .with_min_len(16)
        .for_each(|(i, o)| {
            let row = &squared[i * n..(i + 1) * n];
            for (j, &s) in row.iter().enumerate() {
                let uj = &cu[j * b..(j + 1) * b];
                for c in 0..b {
                    o[c] += s * uj[c];
                }
            }
        });
    let mut y = Array2::from_shape_vec((n, b), out).expect("n x b");
    centre_columns(&mut y);
    y *= -0.5;
    y
}

fn centre_columns(x: &mut Array2<f64>) {
    let mean = x.mean_axis(Axis(0)).expect("rows > 0");
    *x -= &mean;
}

/// The `k` largest (algebraic) eigenpairs of a symmetric operator by block subspace iteration.
///
/// The block carries `k + 8` vectors so that a few large negative eigenvalues (non-Euclidean input) cannot
/// crowd out the positive ones the embedding needs.
pub(crate) fn top_eigen<F>(apply: F, n: usize, k: usize, seed: u64) -> (Array1<f64>, Array2<f64>)
where
    F: Fn(&Array2<f64>) -> Array2<f64>,
{
    let b = (k + 8).min(n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0de);
    let mut q = Array2::from_shape_fn((n, b), |_| rng.gen_range(-1.0..1.0));
    orthonormalise(&mut q, &mut rng);
    let mut best = (Array1::zeros(k), Array2::zeros((n, k)));
    for _it in 0..1000 {
        let z = apply(&q);
        let h = q.t().dot(&z);
        let h = (&h + &h.t()) * 0.5;
        let (theta, s) = symmetric_eigen(&h);
        let ritz = q.dot(&s);
        let bz = z.dot(&s);
        let scale = theta
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        let mut converged = true;
        for c in 0..k {
            let r = &bz.column(c) - &(&ritz.column(c) * theta[c]);
            if r.dot(&r).sqrt() > 1e-10 * scale {
                converged = false;
            }
        }
        best = (
            theta.slice(ndarray::s![..k]).to_owned(),
            ritz.slice(ndarray::s![.., ..k]).to_owned(),
        );
        if converged {
            break;
        }
        q = bz;
        orthonormalise(&mut q, &mut rng);
    }
    best
}

/// Modified Gram-Schmidt on the columns; a column that collapses (rank-deficient operator) is replaced by a
/// fresh random direction so the block stays full rank.
fn orthonormalise(q: &mut Array2<f64>, rng: &mut ChaCha8Rng) {
    let (n, b) = q.dim();
    for c in 0..b {
        for attempt in 0..4 {
            let norm_before = q.column(c).dot(&q.column(c)).sqrt();
            // Two passes of projection: "twice is enough" for orthogonality to machine precision.
            for _pass in 0..2 {
                for prev in 0..c {
                    let proj = q.column(prev).dot(&q.column(c));
                    let pc = q.column(prev).to_owned();
                    q.column_mut(c).scaled_add(-proj, &pc);
                }
            }
            let norm = q.column(c).dot(&q.column(c)).sqrt();
            if norm > 1e-10 * norm_before.max(f64::MIN_POSITIVE) && norm > 0.0 {
                q.column_mut(c).mapv_inplace(|v| v / norm);
                break;
            }
            let _ = attempt;
            for i in 0..n {
                q[[i, c]] = rng.gen_range(-1.0..1.0);
            }
        }
    }
}
