//! Small dense linear algebra: Jacobi eigen and SVD for the d x d (d = 2, 3, ...) problems of Procrustes and
//! the Rayleigh-Ritz step of classical MDS. Hand-written so the crate needs no LAPACK; Jacobi is accurate to
//! machine precision on these tiny matrices, which the scipy cross-check at 1e-9 relies on.

use ndarray::{Array1, Array2};

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations.
///
/// Returns eigenvalues in descending order and the matching eigenvectors as columns.
pub fn symmetric_eigen(a: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut m = a.clone();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let mut off = 0.0;
        let mut diag = 0.0;
        for i in 0..n {
            diag += m[[i, i]] * m[[i, i]];
            for j in (i + 1)..n {
                off += m[[i, j]] * m[[i, j]];
            }
        }
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = m[[p, q]];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[[q, q]] - m[[p, p]]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[[k, p]], m[[k, q]]);
                    m[[k, p]] = c * mkp - s * mkq;
                    m[[k, q]] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[[p, k]], m[[q, k]]);
                    m[[p, k]] = c * mpk - s * mqk;
                    m[[q, k]] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[[j, j]].total_cmp(&m[[i, i]]));
    let vals = Array1::from_iter(order.iter().map(|&i| m[[i, i]]));
    let mut vecs = Array2::zeros((n, n));
    for (c, &i) in order.iter().enumerate() {
        vecs.column_mut(c).assign(&v.column(i));
    }
    (vals, vecs)
}

/// Singular value decomposition `a = u diag(s) v^T` of a small square matrix by one-sided Jacobi.
///
/// Singular values are descending and non-negative; `u` and `v` are orthogonal (columns of `u` belonging
/// to zero singular values are completed to an orthonormal basis).
pub fn svd_square(a: &Array2<f64>) -> (Array2<f64>, Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    debug_assert_eq!(n, a.ncols());
    let mut w = a.clone();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let mut rotated = false;
        for p in 0..n {
            for q in (p + 1)..n {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for k in 0..n {
                    alpha += w[[k, p]] * w[[k, p]];
                    beta += w[[k, q]] * w[[k, q]];
                    gamma += w[[k, p]] * w[[k, q]];
                }
                if gamma.abs() <= 1e-15 * (alpha * beta).sqrt() || gamma == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for k in 0..n {
                    let (wp, wq) = (w[[k, p]], w[[k, q]]);
                    w[[k, p]] = c * wp - s * wq;
                    w[[k, q]] = s * wp + c * wq;
                    let (vp, vq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vp - s * vq;
                    v[[k, q]] = s * vp + c * vq;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let norms: Vec<f64> = (0..n)
        .map(|j| w.column(j).dot(&w.column(j)).sqrt())
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| norms[j].total_cmp(&norms[i]));
    let mut u = Array2::zeros((n, n));
    let mut s = Array1::zeros(n);
    let mut vs = Array2::zeros((n, n));
    let tiny = 1e-300_f64.max(norms.iter().cloned().fold(0.0, f64::max) * 1e-15);
    let mut filled = vec![false; n];
    for (c, &j) in order.iter().enumerate() {
        s[c] = norms[j];
        vs.column_mut(c).assign(&v.column(j));
        if norms[j] > tiny {
            u.column_mut(c).assign(&(&w.column(j) / norms[j]));
            filled[c] = true;
        }
    }
    complete_orthonormal(&mut u, &filled);
    (u, s, vs)
}

/// Fill the columns of `u` not marked `filled` with unit vectors orthogonal to all others (Gram-Schmidt on
/// the standard basis).
fn complete_orthonormal(u: &mut Array2<f64>, filled: &[bool]) {
    let n = u.nrows();
    let mut have: Vec<usize> = (0..n).filter(|&c| filled[c]).collect();
    for (c, &done) in filled.iter().enumerate() {
        if done {
            continue;
        }
        for e in 0..n {
            let mut cand = Array1::<f64>::zeros(n);
            cand[e] = 1.0;
            for &h in &have {
                let proj = u.column(h).dot(&cand);
                cand.scaled_add(-proj, &u.column(h));
            }
            let norm = cand.dot(&cand).sqrt();
            if norm > 1e-8 {
                u.column_mut(c).assign(&(cand / norm));
                have.push(c);
                break;
            }
        }
    }
}

/// Determinant of a small square matrix by Gaussian elimination with partial pivoting.
pub fn determinant(a: &Array2<f64>) -> f64 {
    let n = a.nrows();
    let mut m = a.clone();
    let mut det = 1.0;
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| m[[i, col]].abs().total_cmp(&m[[j, col]].abs()))
            .unwrap_or(col);
        if m[[pivot, col]] == 0.0 {
            return 0.0;
        }
        if pivot != col {
            for k in 0..n {
                m.swap([pivot, k], [col, k]);
            }
            det = -det;
        }
        det *= m[[col, col]];
        for r in (col + 1)..n {
            let f = m[[r, col]] / m[[col, col]];
            for k in col..n {
                m[[r, k]] -= f * m[[col, k]];
            }
        }
    }
    det
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn svd_reconstructs_and_is_orthogonal() {
        let a = array![[2.0, -1.0, 0.5], [0.3, 4.0, 1.0], [-2.0, 0.1, 0.7]];
        let (u, s, v) = svd_square(&a);
        let rec = u.dot(&Array2::from_diag(&s)).dot(&v.t());
        assert!((&rec - &a).iter().all(|d| d.abs() < 1e-12));
        assert!(
            (u.t().dot(&u) - Array2::<f64>::eye(3))
                .iter()
                .all(|d| d.abs() < 1e-12)
        );
        assert!(s[0] >= s[1] && s[1] >= s[2] && s[2] >= 0.0);
    }

    #[test]
    fn svd_of_rank_deficient_matrix_has_orthogonal_u() {
        let a = array![[1.0, 2.0], [2.0, 4.0]];
        let (u, s, v) = svd_square(&a);
        assert!(s[1].abs() < 1e-12);
        assert!(
            (u.t().dot(&u) - Array2::<f64>::eye(2))
                .iter()
                .all(|d| d.abs() < 1e-12)
        );
        let rec = u.dot(&Array2::from_diag(&s)).dot(&v.t());
        assert!((&rec - &a).iter().all(|d| d.abs() < 1e-12));
    }

    #[test]
    fn symmetric_eigen_matches_definition() {
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, -1.0], [0.5, -1.0, -2.0]];
        let (vals, vecs) = symmetric_eigen(&a);
        for k in 0..3 {
            let av = a.dot(&vecs.column(k));
            let lv = &vecs.column(k) * vals[k];
            assert!((&av - &lv).iter().all(|d| d.abs() < 1e-12));
        }
        assert!(vals[0] >= vals[1] && vals[1] >= vals[2]);
    }

    #[test]
    fn determinant_signs() {
        assert!((determinant(&array![[0.0, 1.0], [1.0, 0.0]]) + 1.0).abs() < 1e-15);
        assert!((determinant(&array![[2.0, 0.0], [0.0, 3.0]]) - 6.0).abs() < 1e-15);
    }
}
