//! Global spatial autocorrelation of many features at once: Moran's I and Geary's C with analytic inference under
//! normality (as squidpy 1.8.2 / PySAL esda), seeded permutation tests and Benjamini-Hochberg FDR.
//!
//! For a feature `x` over `n` spots, `z = x - mean(x)` and weights `W` with `S0 = sum_ij w_ij`:
//! `I = n / S0 * sum_ij w_ij z_i z_j / sum_i z_i^2` and `C = (n - 1) / (2 S0) * sum_ij w_ij (x_i - x_j)^2 / sum_i z_i^2`.

use std::io::Write;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{EvalError, Result};
use crate::features::{Columns, Features};
use crate::multitest::benjamini_hochberg;
use crate::normal::{norm_cdf, norm_sf, two_sided_p};
use crate::weights::SpatialWeights;

/// Features per work unit: read as one column-major block (amortises strided reads of row-major input).
const BLOCK: usize = 16;
/// Permutations generated and held at once (bounds memory at `PERM_BATCH * n` indices).
const PERM_BATCH: usize = 64;

/// Parameters of [`AutocorrParams::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct AutocorrParams {
    /// Number of permutations for the permutation p-values; 0 skips them.
    pub n_perms: usize,
    /// Seed of the permutations.
    pub seed: u64,
    /// Two-sided normal p-values (default); one-sided takes the tail the statistic lies in (squidpy's default).
    pub two_sided: bool,
}

impl Default for AutocorrParams {
    fn default() -> Self {
        AutocorrParams {
            n_perms: 0,
            seed: 0,
            two_sided: true,
        }
    }
}

/// One statistic (Moran's I or Geary's C) of one feature with its inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatResult {
    /// The statistic (NaN for a constant feature).
    pub value: f64,
    /// Its expectation under no spatial autocorrelation: `-1/(n-1)` for I, `1` for C.
    pub expected: f64,
    /// Its variance under the normality assumption.
    pub variance: f64,
    /// `(value - expected) / sqrt(variance)`.
    pub z: f64,
    /// Normal-approximation p-value.
    pub p_norm: f64,
    /// Benjamini-Hochberg FDR of `p_norm` over all features.
    pub fdr_norm: f64,
    /// Permutation p-value `(min(k, P - k) + 1) / (P + 1)`, `k` = #permuted statistics >= observed.
    pub p_perm: Option<f64>,
    /// Benjamini-Hochberg FDR of `p_perm`.
    pub fdr_perm: Option<f64>,
}

/// Moran's I and Geary's C of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct AutocorrRow {
    pub feature: String,
    pub moran: StatResult,
    pub geary: StatResult,
}

/// Results for all features, in input order; one row per feature.
#[derive(Debug, Clone, PartialEq)]
pub struct AutocorrTable {
    pub n_spots: usize,
    pub n_perms: usize,
    pub rows: Vec<AutocorrRow>,
}

impl AutocorrParams {
    /// Defaults: no permutations, seed 0, two-sided.
    pub fn new() -> Self {
        Self::default()
    }
    pub fn n_perms(mut self, n_perms: usize) -> Self {
        self.n_perms = n_perms;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn two_sided(mut self, two_sided: bool) -> Self {
        self.two_sided = two_sided;
        self
    }

    /// Validate the parameters.
    pub fn check(&self) -> Result<()> {
        if self.n_perms > 1_000_000 {
            return Err(EvalError::param(
                "n_perms",
                format!("{} is more than 1e6", self.n_perms),
            ));
        }
        Ok(())
    }

    /// Moran's I and Geary's C of every feature (column) of `features` under `weights`; `names` labels the rows.
    pub fn run(
        &self,
        weights: &SpatialWeights,
        features: &Features<'_>,
        names: &[String],
    ) -> Result<AutocorrTable> {
        self.check()?;
        let (n, g, s0) = check_inputs(weights, features, names)?;
        let cols = Columns::new(features)?;
        let kernel = Kernel { w: weights, n, s0 };

        // Observed statistics, plus the centred features kept for the permutations.
        let blocks: Vec<(usize, usize)> = (0..g)
            .step_by(BLOCK)
            .map(|s| (s, BLOCK.min(g - s)))
            .collect();
        let observed: Vec<FeatureStats> = blocks
            .par_iter()
            .flat_map_iter(|&(start, len)| {
                let mut buf = vec![0.0; len * n];
                cols.fill(start, len, n, &mut buf);
                (0..len)
                    .map(|c| kernel.observe(&buf[c * n..(c + 1) * n]))
                    .collect::<Vec<_>>()
            })
            .collect();

        let n_const = observed.iter().filter(|o| o.constant).count();
        if n_const > 0 {
            tracing::warn!(
                n_constant = n_const,
                "{n_const} of {g} features are constant; their Moran's I and Geary's C are NaN"
            );
        }

        let perm_counts = if self.n_perms > 0 {
            Some(self.permutation_counts(&kernel, &cols, &blocks, &observed))
        } else {
            None
        };

        let m = weights.moments();
        let nf = n as f64;
        let s02 = m.s0 * m.s0;
        let e_i = -1.0 / (nf - 1.0);
        let var_i =
            (nf * nf * m.s1 - nf * m.s2 + 3.0 * s02) / ((nf - 1.0) * (nf + 1.0) * s02) - e_i * e_i;
        let var_c = ((2.0 * m.s1 + m.s2) * (nf - 1.0) - 4.0 * s02) / (2.0 * (nf + 1.0) * s02);

        let mut rows: Vec<AutocorrRow> = observed
            .iter()
            .enumerate()
            .map(|(j, o)| AutocorrRow {
                feature: names[j].clone(),
                moran: self.stat_result(o.moran, e_i, var_i, perm_counts.as_ref().map(|c| c[j].0)),
                geary: self.stat_result(o.geary, 1.0, var_c, perm_counts.as_ref().map(|c| c[j].1)),
            })
            .collect();
        fill_fdr(&mut rows, |r| &mut r.moran);
        fill_fdr(&mut rows, |r| &mut r.geary);
        Ok(AutocorrTable {
            n_spots: n,
            n_perms: self.n_perms,
            rows,
        })
    }

    /// One statistic with its normal-approximation z-score and p-value (one- or two-sided as configured) and, when
    /// permutations ran, the permutation p-value from `ge` (the count of permuted values at or above `value`).
    fn stat_result(
        &self,
        value: f64,
        expected: f64,
        variance: f64,
        ge: Option<usize>,
    ) -> StatResult {
        let z = (value - expected) / variance.sqrt();
        let p_norm = if self.two_sided {
            two_sided_p(z)
        } else if z > 0.0 {
            norm_sf(z)
        } else {
            norm_cdf(z)
        };
        let p_perm = ge.map(|k| {
            if value.is_nan() {
                f64::NAN
            } else {
                let p = self.n_perms;
                (k.min(p - k) + 1) as f64 / (p + 1) as f64
            }
        });
        StatResult {
            value,
            expected,
            variance,
            z,
            p_norm: if value.is_nan() { f64::NAN } else { p_norm },
            fdr_norm: f64::NAN,
            p_perm,
            fdr_perm: None,
        }
    }

    /// For each feature, how many permuted I and C are >= the observed ones. Spot labels are permuted (the
    /// textbook randomisation, as esda); the same permutations are used for every feature, and permutation `p`
    /// draws from ChaCha8 stream `p`, so results do not depend on the thread count.
    fn permutation_counts(
        &self,
        kernel: &Kernel<'_>,
        cols: &Columns<'_>,
        blocks: &[(usize, usize)],
        observed: &[FeatureStats],
    ) -> Vec<(usize, usize)> {
        let n = kernel.n;
        let mut counts = vec![(0usize, 0usize); observed.len()];
        let mut done = 0;
        while done < self.n_perms {
            let batch = PERM_BATCH.min(self.n_perms - done);
            let perms: Vec<Vec<u32>> = (done..done + batch)
                .into_par_iter()
                .map(|p| permutation(self.seed, p as u64, n))
                .collect();
            let add: Vec<(usize, usize)> = blocks
                .par_iter()
                .flat_map_iter(|&(start, len)| {
                    let mut buf = vec![0.0; len * n];
                    cols.fill(start, len, n, &mut buf);
                    let mut zp = vec![0.0; n];
                    (0..len)
                        .map(|c| {
                            let o = &observed[start + c];
                            if o.constant {
                                return (0, 0);
                            }
                            let z = center(&mut buf[c * n..(c + 1) * n]);
                            let (mut ki, mut kc) = (0, 0);
                            for perm in &perms {
                                for (t, &s) in zp.iter_mut().zip(perm) {
                                    *t = z[s as usize];
                                }
                                let (mi, gc) = kernel.numerators(&zp);
                                let (i, c) = kernel.finish(mi, gc, o.ss);
                                ki += usize::from(i >= o.moran);
                                kc += usize::from(c >= o.geary);
                            }
                            (ki, kc)
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            for (c, a) in counts.iter_mut().zip(add) {
                c.0 += a.0;
                c.1 += a.1;
            }
            done += batch;
        }
        counts
    }
}

fn fill_fdr(rows: &mut [AutocorrRow], stat: impl Fn(&mut AutocorrRow) -> &mut StatResult) {
    let p: Vec<f64> = rows.iter_mut().map(|r| stat(r).p_norm).collect();
    for (r, q) in rows.iter_mut().zip(benjamini_hochberg(&p)) {
        stat(r).fdr_norm = q;
    }
    let pp: Option<Vec<f64>> = rows.iter_mut().map(|r| stat(r).p_perm).collect();
    if let Some(pp) = pp {
        for (r, q) in rows.iter_mut().zip(benjamini_hochberg(&pp)) {
            stat(r).fdr_perm = Some(q);
        }
    }
}

/// Check that features, names and weights fit together; returns `(n_spots, n_features, S0)`.
fn check_inputs(
    weights: &SpatialWeights,
    features: &Features<'_>,
    names: &[String],
) -> Result<(usize, usize, f64)> {
    let (n, g) = features.shape();
    if n != weights.n_spots() {
        return Err(EvalError::shape(
            "spots in features vs weights",
            weights.n_spots(),
            n,
        ));
    }
    if names.len() != g {
        return Err(EvalError::shape("feature names", g, names.len()));
    }
    if n < 4 {
        return Err(EvalError::input(
            "features",
            format!("need at least 4 spots, got {n}"),
        ));
    }
    let s0 = weights.moments().s0;
    if s0 <= 0.0 {
        return Err(EvalError::input(
            "weights",
            "the graph has no edges (S0 = 0)",
        ));
    }
    Ok((n, g, s0))
}

/// Permutation `p` of `0..n` from ChaCha8 stream `p` of `seed`.
pub(crate) fn permutation(seed: u64, p: u64, n: usize) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(p);
    let mut v: Vec<u32> = (0..n as u32).collect();
    v.shuffle(&mut rng);
    v
}

struct FeatureStats {
    moran: f64,
    geary: f64,
    ss: f64,
    constant: bool,
}

struct Kernel<'w> {
    w: &'w SpatialWeights,
    n: usize,
    s0: f64,
}

/// Centre `x` in place (two-pass mean) and return it.
fn center(x: &mut [f64]) -> &[f64] {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    x.iter_mut().for_each(|v| *v -= mean);
    x
}

impl Kernel<'_> {
    fn observe(&self, x: &[f64]) -> FeatureStats {
        let constant = x.iter().all(|&v| v == x[0]);
        if constant {
            return FeatureStats {
                moran: f64::NAN,
                geary: f64::NAN,
                ss: 0.0,
                constant,
            };
        }
        let mut z = x.to_vec();
        center(&mut z);
        let ss: f64 = z.iter().map(|v| v * v).sum();
        let (mi, gc) = self.numerators(&z);
        let (moran, geary) = self.finish(mi, gc, ss);
        FeatureStats {
            moran,
            geary,
            ss,
            constant,
        }
    }

    /// `sum_ij w_ij z_i z_j` and `sum_ij w_ij (z_i - z_j)^2` in one pass over the edges.
    #[inline]
    #[allow(clippy::needless_range_loop)] // i indexes both z and the CSR row pointer
    fn numerators(&self, z: &[f64]) -> (f64, f64) {
        let (indptr, indices, values) = (self.w.indptr(), self.w.indices(), self.w.values());
        let (mut mi, mut gc) = (0.0, 0.0);
        for i in 0..self.n {
            let zi = z[i];
            let (mut lag, mut sq) = (0.0, 0.0);
            for p in indptr[i]..indptr[i + 1] {
                let zj = z[indices[p] as usize];
                let w = values[p];
                lag += w * zj;
                let d = zi - zj;
                sq += w * d * d;
            }
            mi += zi * lag;
            gc += sq;
        }
        (mi, gc)
    }

    #[inline]
    fn finish(&self, mi: f64, gc: f64, ss: f64) -> (f64, f64) {
        let n = self.n as f64;
        (n / self.s0 * mi / ss, (n - 1.0) / (2.0 * self.s0) * gc / ss)
    }
}

impl AutocorrTable {
    /// Column names of [`AutocorrTable::values`], in order (permutation columns only when permutations ran).
    pub fn columns(&self) -> Vec<&'static str> {
        let mut c = vec!["feature"];
        for s in ["morans_i", "gearys_c"] {
            let names: &[&'static str] = match s {
                "morans_i" => &[
                    "morans_i",
                    "morans_i_expected",
                    "morans_i_var",
                    "morans_i_z",
                    "morans_i_p",
                    "morans_i_fdr",
                    "morans_i_p_perm",
                    "morans_i_fdr_perm",
                ],
                _ => &[
                    "gearys_c",
                    "gearys_c_expected",
                    "gearys_c_var",
                    "gearys_c_z",
                    "gearys_c_p",
                    "gearys_c_fdr",
                    "gearys_c_p_perm",
                    "gearys_c_fdr_perm",
                ],
            };
            c.extend_from_slice(if self.n_perms > 0 { names } else { &names[..6] });
        }
        c
    }

    /// The numeric cells of row `i`, matching `columns()[1..]`.
    pub fn values(&self, i: usize) -> Vec<f64> {
        let r = &self.rows[i];
        let mut v = Vec::with_capacity(16);
        for s in [&r.moran, &r.geary] {
            v.extend([s.value, s.expected, s.variance, s.z, s.p_norm, s.fdr_norm]);
            if self.n_perms > 0 {
                v.push(s.p_perm.unwrap_or(f64::NAN));
                v.push(s.fdr_perm.unwrap_or(f64::NAN));
            }
        }
        v
    }

    /// Write the table as CSV (header, then one row per feature; NaN written as `NaN`, full precision).
    pub fn write_csv<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        writeln!(out, "{}", self.columns().join(","))?;
        for (i, r) in self.rows.iter().enumerate() {
            write!(out, "{}", csv_field(&r.feature))?;
            for v in self.values(i) {
                write!(out, ",{v:?}")?;
            }
            writeln!(out)?;
        }
        Ok(())
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::WeightsParams;
    use ndarray::Array2;

    fn grid(nx: usize, ny: usize) -> Array2<f64> {
        Array2::from_shape_fn((nx * ny, 2), |(i, d)| {
            if d == 0 {
                (i % nx) as f64
            } else {
                (i / nx) as f64
            }
        })
    }

    #[test]
    fn gradient_is_positively_autocorrelated_checkerboard_negatively() {
        let c = grid(10, 10);
        let w = WeightsParams::knn(4).build(c.view()).unwrap();
        let x = Array2::from_shape_fn((100, 3), |(i, f)| match f {
            0 => (i % 10) as f64,
            1 => ((i % 10 + i / 10) % 2) as f64,
            _ => 7.0,
        });
        let names = vec!["grad".into(), "checker".into(), "const".into()];
        let t = AutocorrParams::new()
            .n_perms(99)
            .seed(3)
            .run(&w, &Features::Dense(x.view()), &names)
            .unwrap();
        assert!(t.rows[0].moran.value > 0.8 && t.rows[0].geary.value < 0.2);
        assert!(
            t.rows[1].moran.value < -0.6 && t.rows[1].geary.value > 1.5,
            "{:?}",
            t.rows[1]
        );
        assert_eq!(t.rows[0].moran.p_perm, Some(0.01));
        assert_eq!(t.rows[1].moran.p_perm, Some(0.01));
        assert!(t.rows[2].moran.value.is_nan() && t.rows[2].geary.p_norm.is_nan());
        assert!(t.rows[2].moran.p_perm.unwrap().is_nan());
        let mut csv = Vec::new();
        t.write_csv(&mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert_eq!(csv.lines().next().unwrap().split(',').count(), 17);
    }

    #[test]
    fn permutations_are_seeded_and_layout_independent() {
        let c = grid(8, 8);
        let w = WeightsParams::knn(5).build(c.view()).unwrap();
        let x = Array2::from_shape_fn((64, 20), |(i, f)| ((i * 31 + f * 17) % 13) as f64);
        let names: Vec<String> = (0..20).map(|f| f.to_string()).collect();
        let p = AutocorrParams::new().n_perms(150).seed(11);
        let a = p.run(&w, &Features::Dense(x.view()), &names).unwrap();
        let xt = x.t().as_standard_layout().into_owned();
        let b = p.run(&w, &Features::Dense(xt.t()), &names).unwrap();
        assert_eq!(a, b);
        let xf = x.mapv(|v| v as f32);
        let cf = p.run(&w, &Features::DenseF32(xf.view()), &names).unwrap();
        assert_eq!(a, cf);
        let other = AutocorrParams::new()
            .n_perms(150)
            .seed(12)
            .run(&w, &Features::Dense(x.view()), &names)
            .unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn shape_errors() {
        let c = grid(4, 4);
        let w = WeightsParams::knn(2).build(c.view()).unwrap();
        let x = Array2::<f64>::zeros((15, 2));
        let names = vec!["a".into(), "b".into()];
        assert!(matches!(
            AutocorrParams::new().run(&w, &Features::Dense(x.view()), &names),
            Err(EvalError::ShapeMismatch { .. })
        ));
        let x = Array2::<f64>::zeros((16, 2));
        assert!(
            AutocorrParams::new()
                .run(&w, &Features::Dense(x.view()), &names[..1])
                .is_err()
        );
    }
}
