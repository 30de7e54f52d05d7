//! Order statistics as numpy computes them: the median and the linear-interpolation quantile.

/// The median of sorted values as `numpy.median` computes it: the middle value, or the mean `(a + b) / 2` of the
/// two middle values for even length; NaN for empty input.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// The median of `v` as `numpy.median` computes it ([`median_sorted`]), sorting `v` in place (by `total_cmp`).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    median_sorted(v)
}

/// The median of the non-NaN values of `v` (pandas' `median(skipna=True)`); NaN when there are none.
pub fn median_skipna(v: &[f64]) -> f64 {
    let mut w: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    median(&mut w)
}

/// `numpy.quantile(sorted, q, method="linear")` for `q` in `[0, 1]` on non-empty sorted values, bit for bit:
/// virtual index `h = (n - 1) q`, and numpy's `_lerp` rounding, which interpolates from the upper neighbour when
/// the fraction is at least 1/2 (`b - (b - a)(1 - g)`) and from the lower one otherwise (`a + (b - a) g`).
///
/// # Panics
/// On empty input.
pub fn quantile_linear_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    assert!(n > 0, "quantile of an empty sample");
    let virtual_index = (n - 1) as f64 * q;
    if virtual_index >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let prev = virtual_index.floor();
    let gamma = virtual_index - prev;
    let a = sorted[prev as usize];
    let b = sorted[prev as usize + 1];
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_follow_numpy() {
        assert!(median(&mut []).is_nan());
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median_skipna(&[f64::NAN, 1.0, 5.0]), 3.0);
        assert!(median_skipna(&[f64::NAN]).is_nan());
    }

    #[test]
    fn linear_quantile_matches_numpy() {
        let s = [1.0, 2.0, 4.0, 8.0, 16.0];
        assert_eq!(quantile_linear_sorted(&s, 0.0), 1.0);
        assert_eq!(quantile_linear_sorted(&s, 1.0), 16.0);
        assert_eq!(quantile_linear_sorted(&s, 0.5), 4.0);
        assert_eq!(quantile_linear_sorted(&s, 0.9), 12.8);
        assert_eq!(quantile_linear_sorted(&s, 0.3), 2.4);
        // numpy's _lerp rounding: at a fraction >= 1/2 it interpolates down from the upper neighbour, which here
        // gives 0.5199999999999999 where the lower-neighbour formula gives 0.52.
        let two = [0.1, 0.7];
        assert_eq!(quantile_linear_sorted(&two, 0.7), 0.519_999_999_999_999_9);
        assert_eq!(quantile_linear_sorted(&two, 0.3), 0.1 + (0.7 - 0.1) * 0.3);
        assert_eq!(quantile_linear_sorted(&[5.0], 0.3), 5.0);
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_linear_sorted(&s, 0.5), 2.5);
        assert!((quantile_linear_sorted(&s, 0.1) - 1.3).abs() < 1e-12);
    }
}
