//! The standard normal distribution: `erfc`, CDF, survival function and quantile, to ~1e-15 relative.
//!
//! Written here rather than pulled from a statistics crate (which would bring in a linear-algebra stack).
//! Small arguments use the Maclaurin series of `erf`; tails use the Laplace continued fraction
//! `K(x; c) = 1/(x + c/(x + 2c/(x + 3c/(x + ...))))` (`erfc x = exp(-x^2)/sqrt(pi) K(x; 1/2)`, Mills' ratio
//! `P(Z > z)/phi(z) = K(z; 1)`), evaluated backwards from a depth found by a forward Lentz pass, so every step
//! adds positive terms and errors do not accumulate. `exp(-x^2)` is split as `exp(-h^2) exp((h - x)(h + x))`
//! with `h` exact to 26 bits, so the rounding of `x^2` costs nothing in the far tail. The normal CDF works on `z`
//! directly (no rounding of `z / sqrt 2`), which makes it more accurate than Cephes' `ndtr` below z = -10.
//! The quantile refines Acklam's rational approximation with two Halley steps.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;

/// The error function.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.abs() < 0.5 {
        erf_series(x)
    } else if x > 0.0 {
        1.0 - erfc_tail(x)
    } else {
        erfc_tail(-x) - 1.0
    }
}

/// The complementary error function `1 - erf(x)`, accurate in the upper tail.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.abs() < 0.5 {
        1.0 - erf_series(x)
    } else if x > 0.0 {
        erfc_tail(x)
    } else {
        2.0 - erfc_tail(-x)
    }
}

/// Standard normal CDF `P(Z <= z)`, accurate in relative terms in the lower tail.
pub fn norm_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    if z.abs() < 0.7 {
        0.5 + 0.5 * erf_series(z * FRAC_1_SQRT_2)
    } else if z < 0.0 {
        upper_tail(-z)
    } else {
        1.0 - upper_tail(z)
    }
}

/// Standard normal survival function `P(Z > z)`, accurate for large `z` (no `1 - cdf` cancellation).
pub fn norm_sf(z: f64) -> f64 {
    norm_cdf(-z)
}

/// Two-sided p-value of a standard-normal statistic: `2 P(Z > |z|)`; NaN for NaN.
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    (2.0 * norm_sf(z.abs())).min(1.0)
}

/// Standard normal quantile (scipy's `ndtri`): the `z` with `norm_cdf(z) = p`; `-inf`/`inf` at 0/1, NaN outside.
pub fn norm_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        // 1 - p is exact for p >= 0.5; the lower tail is where the CDF is accurate in relative terms.
        return -norm_ppf(1.0 - p);
    }
    let mut x = acklam(p);
    let central = p > 0.02425;
    let q = p - 0.5; // exact (Sterbenz)
    for _ in 0..2 {
        // Near the centre the residual is taken against q = p - 1/2 so a tiny x keeps its relative accuracy.
        let e = if central {
            0.5 * erf(x * FRAC_1_SQRT_2) - q
        } else {
            norm_cdf(x) - p
        };
        let u = e * (2.0 * PI).sqrt() * (0.5 * x * x).exp();
        x -= u / (1.0 + 0.5 * x * u);
    }
    x
}

fn erf_series(x: f64) -> f64 {
    // erf x = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1)); |x| < 0.5 so terms fall by > 4x each.
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    loop {
        n += 1.0;
        term *= -x2 / n;
        let add = term / (2.0 * n + 1.0);
        sum += add;
        if add.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    TWO_OVER_SQRT_PI * sum
}

/// erfc(x) for x >= 0.5.
fn erfc_tail(x: f64) -> f64 {
    if x > 27.3 {
        return 0.0; // below the smallest subnormal
    }
    exp_neg_square(x) / PI.sqrt() * laplace_cf(x, 0.5)
}

/// P(Z > z) for z >= 0.7: phi(z) times Mills' ratio.
fn upper_tail(z: f64) -> f64 {
    if z > 38.6 {
        return 0.0;
    }
    // exp(-z^2 / 2) = exp(-(z / sqrt 2)^2) would round z / sqrt 2; split z itself instead.
    let h = f64::from_bits(z.to_bits() & 0xffff_ffff_f800_0000);
    let e = (-0.5 * h * h).exp() * (0.5 * (h - z) * (h + z)).exp();
    e / (2.0 * PI).sqrt() * laplace_cf(z, 1.0)
}

/// `1/(x + c/(x + 2c/(x + 3c/(x + ...))))` for x > 0: depth from forward Lentz, value from backward recurrence.
fn laplace_cf(x: f64, c: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (mut cc, mut d) = (x, 0.0);
    let mut depth = 5000;
    for i in 1..5000 {
        let a = c * i as f64;
        d = x + a * d;
        if d.abs() < TINY {
            d = TINY;
        }
        cc = x + a / cc;
        if cc.abs() < TINY {
            cc = TINY;
        }
        d = 1.0 / d;
        let delta = cc * d;
        if (delta - 1.0).abs() <= f64::EPSILON {
            depth = i;
            break;
        }
    }
    let mut t = 0.0;
    for i in (1..=depth + depth / 4 + 8).rev() {
        t = c * i as f64 / (x + t);
    }
    1.0 / (x + t)
}

/// exp(-x^2) without the rounding error of forming x^2: h has 26 significant bits so h*h is exact.
fn exp_neg_square(x: f64) -> f64 {
    let h = f64::from_bits(x.to_bits() & 0xffff_ffff_f800_0000);
    (-h * h).exp() * ((h - x) * (h + x)).exp()
}

/// Acklam's rational approximation of the normal quantile (relative error < 1.2e-9), for 0 < p <= 0.5.
#[allow(clippy::excessive_precision)] // the published coefficients, verbatim
fn acklam(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239e0,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838e0,
        -2.549732539343734e0,
        4.374664141464968e0,
        2.938163982698783e0,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996e0,
        3.754408661907416e0,
    ];
    if p < 0.02425 {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_and_known_values() {
        assert_eq!(norm_cdf(0.0), 0.5);
        assert!((norm_cdf(1.0) + norm_cdf(-1.0) - 1.0).abs() < 1e-16);
        assert!((erf(0.3) + erf(-0.3)).abs() < 1e-17);
        assert!((norm_ppf(0.975) - 1.959963984540054).abs() < 1e-15);
        assert_eq!(norm_ppf(0.5), 0.0);
        assert!(norm_ppf(1.5).is_nan());
        assert_eq!(norm_ppf(0.0), f64::NEG_INFINITY);
        assert!(two_sided_p(f64::NAN).is_nan());
        assert!((two_sided_p(0.0) - 1.0).abs() < 1e-16);
    }
}
