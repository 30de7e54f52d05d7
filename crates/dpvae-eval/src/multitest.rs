//! Multiple-testing correction.

/// Benjamini-Hochberg adjusted p-values (statsmodels `multipletests(method='fdr_bh')`): `min_{k >= i} m p_(k) / k`,
/// capped at 1. NaN p-values (constant features) are left out of `m` and stay NaN.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len() as f64;
    let mut out = vec![f64::NAN; p.len()];
    let mut running = f64::INFINITY;
    for (rank, &i) in order.iter().enumerate().rev() {
        let adj = p[i] * m / (rank + 1) as f64;
        running = running.min(adj);
        out[i] = running.min(1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computation_and_skips_nan() {
        // m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.04, 0.04, 0.5
        let adj = benjamini_hochberg(&[0.03, f64::NAN, 0.01, 0.5, 0.02]);
        let want = [0.04, f64::NAN, 0.04, 0.5, 0.04];
        for (a, w) in adj.iter().zip(want) {
            assert!(
                (a - w).abs() < 1e-15 || (a.is_nan() && w.is_nan()),
                "{adj:?}"
            );
        }
        assert_eq!(benjamini_hochberg(&[0.9, 0.95]), vec![0.95, 0.95]);
    }
}
