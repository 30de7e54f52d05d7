//! Local quadratic regression (loess) of one response on one predictor, as `skmisc.loess(x, y, span, degree=2)`
//! (Cleveland's netlib loess) fits it.
//!
//! The local fit at `x0`: take the `q = floor(n * span)` nearest points, the radius `r` of the q-th nearest,
//! tricube weights `(1 - (|x - x0| / r)^3)^3` (zero at and beyond the radius), and a weighted least-squares fit
//! of `1, (x - x0), (x - x0)^2`; its intercept is the value and its linear coefficient the slope at `x0`.
//!
//! Two surfaces, as loess offers:
//! - [`Surface::Interpolate`] (loess's and so scanpy's default): a k-d tree over x (bounding box widened by
//!   0.5% each side; a cell is split at the median point, moved to the nearest gap between distinct values, until
//!   it holds at most `floor(n * span * 0.2)` points), local fits (value and slope) at the cell vertices, and
//!   cubic Hermite interpolation inside each cell.
//! - [`Surface::Direct`]: the local fit evaluated at every point.

use crate::error::{DataError, Result};

/// How fitted values are computed from the local fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Surface {
    /// k-d tree vertices plus cubic Hermite interpolation (loess's default `surface="interpolate"`).
    #[default]
    Interpolate,
    /// A local fit at every point (`surface="direct"`).
    Direct,
}

/// loess's default `cell`: a k-d cell holds at most `n * span * cell` points.
const CELL: f64 = 0.2;

/// Fitted values of a degree-2 loess with the given span at each `x[i]`.
pub fn loess_quadratic(x: &[f64], y: &[f64], span: f64, surface: Surface) -> Result<Vec<f64>> {
    let n = x.len();
    if y.len() != n {
        return Err(DataError::data(
            "loess",
            format!("x has {n} values but y has {}", y.len()),
        ));
    }
    if !(span > 0.0 && span <= 1.0) {
        return Err(DataError::data(
            "loess",
            format!("span must be in (0, 1], got {span}"),
        ));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(DataError::data("loess", "x and y must be finite"));
    }
    let q = ((n as f64 * span).floor() as usize).min(n);
    if q < 4 {
        return Err(DataError::data(
            "loess",
            format!(
                "span {span} of {n} points keeps only {q} neighbours; a local quadratic needs at least 4 (use more genes or a larger span)"
            ),
        ));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();

    let local = Local {
        xs: &xs,
        ys: &ys,
        q,
    };
    let mut fitted = vec![0f64; n];
    match surface {
        Surface::Direct => {
            for k in 0..n {
                fitted[order[k]] = local.fit(xs[k])?.0;
            }
        }
        Surface::Interpolate => {
            let vertices = kd_vertices(&xs, ((n as f64) * span * CELL).floor() as usize);
            let fits = vertices
                .iter()
                .map(|&v| local.fit(v))
                .collect::<Result<Vec<_>>>()?;
            for k in 0..n {
                fitted[order[k]] = hermite(&vertices, &fits, xs[k]);
            }
        }
    }
    Ok(fitted)
}

/// The data, sorted by x, and the neighbourhood size.
struct Local<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
    q: usize,
}

impl Local<'_> {
    /// (value, slope) of the local quadratic at `x0`.
    fn fit(&self, x0: f64) -> Result<(f64, f64)> {
        let (xs, q, n) = (self.xs, self.q, self.xs.len());
        // The q nearest points of sorted data form a window; grow it from the insertion point.
        let mut lo = xs.partition_point(|&v| v < x0);
        let mut hi = lo; // window is [lo, hi)
        while hi - lo < q {
            if lo == 0 {
                hi += 1;
            } else if hi == n || x0 - xs[lo - 1] <= xs[hi] - x0 {
                lo -= 1;
            } else {
                hi += 1;
            }
        }
        let radius = (x0 - xs[lo]).max(xs[hi - 1] - x0);
        if radius <= 0.0 {
            return Err(DataError::data(
                "loess",
                format!(
                    "{q} or more points share x = {x0}; the local neighbourhood has zero width (span too small)"
                ),
            ));
        }
        Ok(local_quadratic(&xs[lo..hi], &self.ys[lo..hi], x0, radius))
    }
}

/// Vertices of loess's k-d tree in one dimension: the widened bounding box and every split value, sorted.
fn kd_vertices(xs: &[f64], fc: usize) -> Vec<f64> {
    let n = xs.len();
    let (mn, mx) = (xs[0], xs[n - 1]);
    let mu = 0.005 * (mx - mn).max(1e-10 * mn.abs().max(mx.abs()) + 1e-30);
    let mut vertices = vec![mn - mu, mx + mu];
    // Cells as (first, last) point positions (0-based, inclusive) and their vertex bounds; loess's capacity
    // limits (max(200, n) vertices and cells) only bind for tiny inputs.
    let cap = n.max(200);
    let mut cells = vec![(0usize, n - 1, mn - mu, mx + mu)];
    let mut n_cells = 1usize;
    let mut p = 0;
    while p < cells.len() {
        let (l, u, vlo, vhi) = cells[p];
        p += 1;
        let mut leaf = u - l < fc || vhi - vlo <= 0.0;
        if !leaf {
            leaf = cap < n_cells + 2 || cap < vertices.len() + 1;
        }
        if leaf {
            continue;
        }
        // Median position (loess: m = (l + u) / 2 in 1-based indices), then the nearest position m + o,
        // o = 0, 1, -1, 2, -2, ..., where the sorted values differ, so ties never straddle a split.
        let m0 = (l + u) / 2;
        let mut m = m0;
        let mut offset: isize = 0;
        loop {
            let pos = m0 as isize + offset;
            if pos >= u as isize || pos < l as isize {
                break;
            }
            let pos = pos as usize;
            if xs[pos] == xs[pos + 1] {
                offset = -offset;
                if offset >= 0 {
                    offset += 1;
                }
            } else {
                m = pos;
                break;
            }
        }
        let split = xs[m];
        if split == vlo || split == vhi {
            continue;
        }
        vertices.push(split);
        cells.push((l, m, vlo, split));
        cells.push((m + 1, u, split, vhi));
        n_cells += 2;
    }
    vertices.sort_by(f64::total_cmp);
    vertices.dedup();
    vertices
}

/// Cubic Hermite interpolation of (value, slope) pairs at sorted vertices (loess's `ehg128` in one dimension;
/// a point equal to a vertex belongs to the cell on its left).
fn hermite(vertices: &[f64], fits: &[(f64, f64)], z: f64) -> f64 {
    let i = vertices
        .partition_point(|&v| v < z)
        .clamp(1, vertices.len() - 1);
    let (v0, v1) = (vertices[i - 1], vertices[i]);
    let ((g0, s0), (g1, s1)) = (fits[i - 1], fits[i]);
    let h = (z - v0) / (v1 - v0);
    let phi0 = (1.0 - h) * (1.0 - h) * (1.0 + 2.0 * h);
    let phi1 = h * h * (3.0 - 2.0 * h);
    let psi0 = h * (1.0 - h) * (1.0 - h);
    let psi1 = h * h * (h - 1.0);
    phi0 * g0 + phi1 * g1 + (psi0 * s0 + psi1 * s1) * (v1 - v0)
}

/// (intercept, slope) of the tricube-weighted quadratic fit around `x0` (predictor scaled by the radius for
/// conditioning).
fn local_quadratic(xs: &[f64], ys: &[f64], x0: f64, radius: f64) -> (f64, f64) {
    // Normal equations in the scaled predictor u = (x - x0) / radius: moments s_k = sum w u^k, t_k = sum w y u^k.
    let mut s = [0f64; 5];
    let mut t = [0f64; 3];
    for (&xi, &yi) in xs.iter().zip(ys) {
        let u = (xi - x0) / radius;
        let a = u.abs();
        if a >= 1.0 {
            continue;
        }
        let c = 1.0 - a * a * a;
        let w = c * c * c;
        let u2 = u * u;
        s[0] += w;
        s[1] += w * u;
        s[2] += w * u2;
        s[3] += w * u2 * u;
        s[4] += w * u2 * u2;
        t[0] += w * yi;
        t[1] += w * yi * u;
        t[2] += w * yi * u2;
    }
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    match solve3(m, t) {
        Some(b) => (b[0], b[1] / radius),
        None => (t[0] / s[0], 0.0),
    }
}

/// Solution of a symmetric 3x3 system (Gaussian elimination with partial pivoting);
/// `None` when it is numerically singular (the caller falls back to the local weighted mean, as loess's
/// pseudo-inverse does for a degenerate neighbourhood).
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> Option<[f64; 3]> {
    let scale = a.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
    for col in 0..3 {
        let p = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[p][col].abs() <= scale * 1e-13 {
            return None;
        }
        a.swap(col, p);
        b.swap(col, p);
        let pivot = a[col];
        for r in col + 1..3 {
            let f = a[r][col] / pivot[col];
            for (x, p) in a[r][col..].iter_mut().zip(&pivot[col..]) {
                *x -= f * p;
            }
            b[r] -= f * b[col];
        }
    }
    let mut sol = [0f64; 3];
    for r in (0..3).rev() {
        let mut v = b[r];
        for c in r + 1..3 {
            v -= a[r][c] * sol[c];
        }
        sol[r] = v / a[r][r];
    }
    Some(sol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_a_quadratic_exactly() {
        let x: Vec<f64> = (0..50).map(|i| i as f64 * 0.1).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.0 - 2.0 * v + 0.5 * v * v).collect();
        for surface in [Surface::Direct, Surface::Interpolate] {
            let f = loess_quadratic(&x, &y, 0.3, surface).unwrap();
            for (a, b) in f.iter().zip(&y) {
                assert!((a - b).abs() < 1e-9, "{surface:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn rejects_too_small_spans() {
        assert!(loess_quadratic(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 0.3, Surface::Direct).is_err());
    }
}
