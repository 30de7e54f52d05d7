//! Expression-space vs physical-space distances (the paper's Figure 2): Pearson r over all `m = n(n-1)/2` spot
//! pairs with its Fisher-z interval, Spearman's rho over pairs and a Mantel permutation test.
//!
//! Pearson r is streamed over every pair up to `max_pairs` pairs (20 million: 6300 spots); above that it is
//! estimated on that many uniformly sampled pairs, drawn as [`SAMPLE_REPLICATES`] independent seeded replicates,
//! and the spread of the replicates' r gives the estimate's sampling standard error
//! ([`DistanceCorrelation::sampling_se`]), so a million-cell section costs seconds, not days.
//!
//! On every pair, Pearson r is streamed: each spot `i` computes its distances to spots `j > i` into a row
//! buffer, reduces them to centred moments, and the rows are merged (Chan et al.) in row order, so neither n x n
//! matrix exists and the result is bitwise reproducible. Spearman and Mantel need the expression distances of every pair in memory
//! (8 bytes per pair, plus 24 bytes per pair transiently for ranking); above `max_spots` spots they run on a seeded
//! uniform subsample of spots, reported in [`DistanceCorrelation::n_spots_tested`].

use dpvae_core::distance::sq_euclidean_unrolled;
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::autocorr::permutation;
use crate::error::{EvalError, Result};
use crate::normal::norm_ppf;

/// Alternative hypothesis of the Mantel test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alternative {
    /// `|r_perm| >= |r|` (scikit-bio's default).
    #[default]
    TwoSided,
    /// `r_perm >= r`: distances in expression grow with distances in space.
    Greater,
    /// `r_perm <= r`.
    Less,
}

/// Parameters of [`DistanceCorrelationParams::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct DistanceCorrelationParams {
    /// Confidence level of the Fisher-z interval (0.95).
    pub confidence_level: f64,
    /// Compute Spearman's rho over pairs (true).
    pub spearman: bool,
    /// Mantel permutations (999); 0 skips the test.
    pub n_perms: usize,
    /// Mantel alternative (two-sided).
    pub alternative: Alternative,
    /// Spearman and Mantel use at most this many spots (a seeded uniform subsample); `None` = all. Default 3000
    /// (4.5 M pairs, ~150 MB transient). Pearson r and its interval use every pair (or `max_pairs` sampled ones).
    pub max_spots: Option<usize>,
    /// Pearson r uses every pair up to this many; above, this many sampled pairs (`None`: always every pair).
    pub max_pairs: Option<usize>,
    /// Seed of the subsample, the sampled pairs and the permutations.
    pub seed: u64,
}

/// Independent replicates the sampled pairs are drawn in; their spread estimates the sampling error.
pub const SAMPLE_REPLICATES: usize = 10;

impl Default for DistanceCorrelationParams {
    fn default() -> Self {
        DistanceCorrelationParams {
            confidence_level: 0.95,
            spearman: true,
            n_perms: 999,
            alternative: Alternative::TwoSided,
            max_spots: Some(3000),
            max_pairs: Some(20_000_000),
            seed: 0,
        }
    }
}

/// The result of a distance correlation.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DistanceCorrelation {
    /// Spots in the input.
    pub n_spots: usize,
    /// Pairs behind `r` and its interval: `n(n-1)/2`, or the sampled pairs.
    pub n_pairs: usize,
    /// Pearson correlation of expression distances with spatial distances over all pairs (or the sampled ones).
    pub r: f64,
    /// When `r` was estimated on sampled pairs: its standard error from the sampling (the standard deviation of
    /// the replicates' r over sqrt(replicates)). The Fisher-z interval does not include it.
    #[cfg_attr(feature = "serde", serde(default))]
    pub sampling_se: Option<f64>,
    /// Fisher-z interval `tanh(atanh r -+ z_{(1+level)/2} / sqrt(n_pairs - 3))` (scipy's `confidence_interval`).
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence_level: f64,
    /// Spots behind `spearman` and `mantel_p` (all, or the subsample).
    pub n_spots_tested: usize,
    /// Spearman's rho over the pairs of the tested spots.
    pub spearman: Option<f64>,
    /// Pearson r over the pairs of the tested spots (equals `r` when nothing was subsampled).
    pub r_tested: f64,
    /// Mantel permutation p-value `(#{perm at least as extreme} + 1) / (n_perms + 1)`.
    pub mantel_p: Option<f64>,
    pub n_perms: usize,
}

impl DistanceCorrelationParams {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn confidence_level(mut self, level: f64) -> Self {
        self.confidence_level = level;
        self
    }
    pub fn spearman(mut self, yes: bool) -> Self {
        self.spearman = yes;
        self
    }
    pub fn n_perms(mut self, n_perms: usize) -> Self {
        self.n_perms = n_perms;
        self
    }
    pub fn alternative(mut self, alternative: Alternative) -> Self {
        self.alternative = alternative;
        self
    }
    pub fn max_spots(mut self, max_spots: Option<usize>) -> Self {
        self.max_spots = max_spots;
        self
    }
    pub fn max_pairs(mut self, max_pairs: Option<usize>) -> Self {
        self.max_pairs = max_pairs;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validate the parameters.
    pub fn check(&self) -> Result<()> {
        if !(self.confidence_level > 0.0 && self.confidence_level < 1.0) {
            return Err(EvalError::param(
                "confidence_level",
                format!("must be in (0, 1), got {}", self.confidence_level),
            ));
        }
        if let Some(m) = self.max_spots
            && m < 4
        {
            return Err(EvalError::param(
                "max_spots",
                format!("must be >= 4, got {m}"),
            ));
        }
        if let Some(m) = self.max_pairs
            && m < 10 * SAMPLE_REPLICATES
        {
            return Err(EvalError::param(
                "max_pairs",
                format!("must be >= {}, got {m}", 10 * SAMPLE_REPLICATES),
            ));
        }
        Ok(())
    }

    /// Correlate the pairwise Euclidean distances of `expression` (spots x features) with those of `coords`
    /// (spots x 2 or 3).
    pub fn run(
        &self,
        expression: ArrayView2<f64>,
        coords: ArrayView2<f64>,
    ) -> Result<DistanceCorrelation> {
        self.check()?;
        let n = expression.nrows();
        if coords.nrows() != n {
            return Err(EvalError::shape(
                "spots in coordinates vs expression",
                n,
                coords.nrows(),
            ));
        }
        if n < 4 {
            return Err(EvalError::input(
                "expression",
                format!("need at least 4 spots, got {n}"),
            ));
        }
        check_finite("expression", expression)?;
        check_finite("coordinates", coords)?;
        let e = expression.as_standard_layout();
        let s = coords.as_standard_layout();
        let all_pairs = n * (n - 1) / 2;
        let (r, n_pairs, sampling_se) = match self.max_pairs {
            Some(m) if m < all_pairs => {
                let (r, sampled, se) = sampled_pearson(e.view(), s.view(), m, self.seed);
                (r, sampled, Some(se))
            }
            _ => {
                let (r, m) = streaming_pearson(e.view(), s.view());
                (r, m, None)
            }
        };
        let (ci_low, ci_high) = fisher_ci(r, n_pairs, self.confidence_level);

        let mut out = DistanceCorrelation {
            n_spots: n,
            n_pairs,
            r,
            sampling_se,
            ci_low,
            ci_high,
            confidence_level: self.confidence_level,
            n_spots_tested: n,
            spearman: None,
            r_tested: r,
            mantel_p: None,
            n_perms: self.n_perms,
        };
        if !self.spearman && self.n_perms == 0 {
            return Ok(out);
        }
        let (e_t, s_t) = match self.max_spots {
            Some(k) if k < n => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                let mut idx = rand::seq::index::sample(&mut rng, n, k).into_vec();
                idx.sort_unstable();
                tracing::info!(
                    n_spots = n,
                    kept = k,
                    "subsampling spots for Spearman and Mantel"
                );
                (e.select(Axis(0), &idx), s.select(Axis(0), &idx))
            }
            _ => (e.to_owned(), s.to_owned()),
        };
        out.n_spots_tested = e_t.nrows();
        let mut a = condensed_distances(e_t.view());
        if self.n_perms > 0 {
            let (r_t, p) = mantel(&a, s_t.view(), self.n_perms, self.alternative, self.seed);
            out.r_tested = r_t;
            out.mantel_p = Some(p);
        } else {
            let b = condensed_distances(s_t.view());
            out.r_tested = pearson(&a, &b);
        }
        if self.spearman {
            rank_in_place(&mut a);
            let mut b = condensed_distances(s_t.view());
            rank_in_place(&mut b);
            out.spearman = Some(pearson(&a, &b));
        }
        Ok(out)
    }
}

fn check_finite(what: &'static str, m: ArrayView2<f64>) -> Result<()> {
    match m.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((i, j), v)) => Err(EvalError::input(
            what,
            format!("value at spot {i}, column {j} is {v} (must be finite)"),
        )),
        None => Ok(()),
    }
}

/// Fisher-z confidence interval of a Pearson r from `m` pairs: `tanh(atanh r -+ z / sqrt(m - 3))` with `z` the
/// exact normal quantile of `(1 + level) / 2` (1.959963984540054 for 95 %), as `scipy.stats.pearsonr(...)
/// .confidence_interval()`. NaN when `m <= 3`.
pub fn fisher_ci(r: f64, m: usize, level: f64) -> (f64, f64) {
    if m <= 3 || r.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    let h = norm_ppf(0.5 + level / 2.0);
    let se = (1.0 / (m as f64 - 3.0)).sqrt();
    let z = r.atanh();
    ((z - h * se).tanh(), (z + h * se).tanh())
}

/// Pearson correlation of two equal-length slices (two-pass, centred); NaN if either is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "pearson: lengths differ");
    let m = centred_moments(a, b);
    m.cab / (m.m2a.sqrt() * m.m2b.sqrt())
}

/// Spearman's rho: Pearson correlation of average ranks (ties share their mean rank), as `scipy.stats.spearmanr`.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let mut ra = a.to_vec();
    let mut rb = b.to_vec();
    rank_in_place(&mut ra);
    rank_in_place(&mut rb);
    pearson(&ra, &rb)
}

/// Replace each value by its 1-based rank, tied values getting the mean of their ranks (`scipy.stats.rankdata`).
pub fn rank_in_place(v: &mut [f64]) {
    // Sort integer keys that order like the floats (cheaper to compare than f64::total_cmp); -0.0 joins 0.0.
    let key = |x: f64| {
        let b = if x == 0.0 { 0u64 } else { x.to_bits() };
        if b >> 63 == 1 { !b } else { b | (1 << 63) }
    };
    let mut order: Vec<(u64, u32)> = v
        .iter()
        .enumerate()
        .map(|(i, &x)| (key(x), i as u32))
        .collect();
    order.par_sort_unstable();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0 == order[start].0 {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &(_, i) in &order[start..end] {
            v[i as usize] = rank;
        }
        start = end;
    }
}

/// Condensed Euclidean distances (scipy's `pdist` order: (0,1), (0,2), ..., (1,2), ...), `n(n-1)/2` values; the
/// one implementation is [`dpvae_core::distance::condensed_distances`].
pub use dpvae_core::distance::condensed_distances;

/// Centred co-moments of a sample of pairs (count, means, sums of squared deviations and of cross products).
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: f64,
    ma: f64,
    mb: f64,
    m2a: f64,
    m2b: f64,
    cab: f64,
}

impl Moments {
    /// Combine two samples (Chan, Golub & LeVeque).
    fn merge(self, o: Moments) -> Moments {
        if o.n == 0.0 {
            return self;
        }
        if self.n == 0.0 {
            return o;
        }
        let n = self.n + o.n;
        let da = o.ma - self.ma;
        let db = o.mb - self.mb;
        let f = self.n * o.n / n;
        Moments {
            n,
            ma: self.ma + da * o.n / n,
            mb: self.mb + db * o.n / n,
            m2a: self.m2a + o.m2a + da * da * f,
            m2b: self.m2b + o.m2b + db * db * f,
            cab: self.cab + o.cab + da * db * f,
        }
    }
}

fn centred_moments(a: &[f64], b: &[f64]) -> Moments {
    let n = a.len() as f64;
    if a.is_empty() {
        return Moments::default();
    }
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let (mut m2a, mut m2b, mut cab) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (da, db) = (x - ma, y - mb);
        m2a += da * da;
        m2b += db * db;
        cab += da * db;
    }
    Moments {
        n,
        ma,
        mb,
        m2a,
        m2b,
        cab,
    }
}

/// Pearson r of the distances over `max_pairs` uniformly drawn pairs `i != j`, in [`SAMPLE_REPLICATES`]
/// seeded replicates (each its own ChaCha8 stream, so the result does not depend on the thread count): the
/// pooled r, the pairs drawn (`max_pairs` rounded down to whole replicates) and the standard error of r from
/// the replicates' spread.
fn sampled_pearson(
    e: ArrayView2<f64>,
    s: ArrayView2<f64>,
    max_pairs: usize,
    seed: u64,
) -> (f64, usize, f64) {
    let n = e.nrows();
    let per = max_pairs / SAMPLE_REPLICATES;
    let (ev, sv) = (
        e.as_slice().expect("standard layout"),
        s.as_slice().expect("standard layout"),
    );
    let (de, ds) = (e.ncols(), s.ncols());
    let replicates: Vec<Moments> = (0..SAMPLE_REPLICATES)
        .into_par_iter()
        .map(|k| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream((2 << 32) + k as u64);
            let (mut a, mut b) = (Vec::with_capacity(per), Vec::with_capacity(per));
            while a.len() < per {
                let i = rand::Rng::gen_range(&mut rng, 0..n);
                let j = rand::Rng::gen_range(&mut rng, 0..n);
                if i != j {
                    let (ei, ej) = (&ev[i * de..(i + 1) * de], &ev[j * de..(j + 1) * de]);
                    let (si, sj) = (&sv[i * ds..(i + 1) * ds], &sv[j * ds..(j + 1) * ds]);
                    a.push(sq_euclidean_unrolled(ei, ej).sqrt());
                    b.push(sq_euclidean_unrolled(si, sj).sqrt());
                }
            }
            centred_moments(&a, &b)
        })
        .collect();
    let r_of = |m: &Moments| m.cab / (m.m2a.sqrt() * m.m2b.sqrt());
    let rs: Vec<f64> = replicates.iter().map(r_of).collect();
    let pooled = replicates
        .into_iter()
        .fold(Moments::default(), Moments::merge);
    let k = rs.len() as f64;
    let mean = rs.iter().sum::<f64>() / k;
    let var = rs.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (k - 1.0);
    (r_of(&pooled), per * SAMPLE_REPLICATES, (var / k).sqrt())
}

/// Pearson r of expression vs spatial distances over all pairs, streamed row by row.
fn streaming_pearson(e: ArrayView2<f64>, s: ArrayView2<f64>) -> (f64, usize) {
    let n = e.nrows();
    let rows: Vec<Moments> = (0..n)
        .into_par_iter()
        .map_init(
            || (vec![0.0; n], vec![0.0; n]),
            |(ba, bb), i| {
                let len = n - i - 1;
                let ei = e.row(i);
                let ei = ei.as_slice().expect("standard layout");
                let si = s.row(i);
                let si = si.as_slice().expect("standard layout");
                for k in 0..len {
                    let j = i + 1 + k;
                    ba[k] =
                        sq_euclidean_unrolled(ei, e.row(j).as_slice().expect("standard layout"))
                            .sqrt();
                    bb[k] =
                        sq_euclidean_unrolled(si, s.row(j).as_slice().expect("standard layout"))
                            .sqrt();
                }
                centred_moments(&ba[..len], &bb[..len])
            },
        )
        .collect();
    let m = rows.into_iter().fold(Moments::default(), Moments::merge);
    (m.cab / (m.m2a.sqrt() * m.m2b.sqrt()), n * (n - 1) / 2)
}

/// Mantel test: observed r (over the pairs of `coords`' spots) and its permutation p-value. Spot labels of the
/// spatial side are permuted; `a` (expression distances) is centred once so only `sum a_c * b_perm` changes.
fn mantel(
    a: &[f64],
    coords: ArrayView2<f64>,
    n_perms: usize,
    alternative: Alternative,
    seed: u64,
) -> (f64, f64) {
    let n = coords.nrows();
    let mean_a = a.iter().sum::<f64>() / a.len() as f64;
    let ac: Vec<f64> = a.iter().map(|v| v - mean_a).collect();
    let ss_a: f64 = ac.iter().map(|v| v * v).sum();
    let b = condensed_distances(coords);
    let mb = centred_moments(&b, &b);
    drop(b);
    let denom = ss_a.sqrt() * mb.m2b.sqrt();
    let stat = |perm: Option<&[u32]>| -> f64 {
        let pc: Array2<f64> = match perm {
            Some(p) => coords.select(Axis(0), &p.iter().map(|&i| i as usize).collect::<Vec<_>>()),
            None => coords.to_owned(),
        };
        cross_sum(&ac, pc.view()) / denom
    };
    let r_obs = stat(None);
    let extreme: usize = (0..n_perms)
        .into_par_iter()
        .map(|p| {
            // Stream offset keeps Mantel's permutations distinct from the subsample's generator.
            let perm = permutation(seed, (1 << 32) + p as u64, n);
            let r = stat(Some(&perm));
            usize::from(match alternative {
                Alternative::TwoSided => r.abs() >= r_obs.abs(),
                Alternative::Greater => r >= r_obs,
                Alternative::Less => r <= r_obs,
            })
        })
        .sum();
    (r_obs, (extreme + 1) as f64 / (n_perms + 1) as f64)
}

/// `sum_{i<j} ac_ij * ||c_i - c_j||` with spatial distances computed on the fly.
fn cross_sum(ac: &[f64], c: ArrayView2<f64>) -> f64 {
    let n = c.nrows();
    let d = c.ncols();
    let flat: Vec<f64> = c.iter().copied().collect();
    let mut off = 0;
    let mut total = 0.0;
    for i in 0..n {
        let ci = &flat[i * d..(i + 1) * d];
        let mut acc = 0.0;
        for (k, j) in (i + 1..n).enumerate() {
            let cj = &flat[j * d..(j + 1) * d];
            let mut s = 0.0;
            for (x, y) in ci.iter().zip(cj) {
                let v = x - y;
                s += v * v;
            }
            acc += ac[off + k] * s.sqrt();
        }
        off += n - i - 1;
        total += acc;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn ranks_average_ties() {
        let mut v = vec![3.0, 1.0, 3.0, 2.0, 3.0];
        rank_in_place(&mut v);
        assert_eq!(v, vec![4.0, 1.0, 4.0, 2.0, 4.0]);
        let mut v = vec![-1.5, 0.0, -0.0, 2.0, -3.0];
        rank_in_place(&mut v);
        assert_eq!(v, vec![2.0, 3.5, 3.5, 5.0, 1.0]);
    }

    #[test]
    fn streaming_matches_materialised_and_mantel_identity() {
        let e = array![
            [0.0, 1.0],
            [2.0, 0.5],
            [1.0, 3.0],
            [4.0, 4.0],
            [0.3, 2.2],
            [3.3, 0.1]
        ];
        let s = array![
            [0.0, 0.0],
            [1.0, 0.0],
            [0.5, 1.5],
            [3.0, 2.0],
            [0.0, 1.0],
            [2.0, 0.2]
        ];
        let a = condensed_distances(e.view());
        let b = condensed_distances(s.view());
        assert_eq!(a.len(), 15);
        let (r, m) = streaming_pearson(e.view(), s.view());
        assert_eq!(m, 15);
        assert!((r - pearson(&a, &b)).abs() < 1e-14);
        // Mantel's observed statistic is the same r; the p-value lies in (0, 1].
        let (r_obs, p) = mantel(&a, s.view(), 50, Alternative::TwoSided, 1);
        assert!((r_obs - r).abs() < 1e-13);
        assert!(p > 0.0 && p <= 1.0);
    }

    #[test]
    fn fisher_interval_uses_exact_quantile() {
        let (lo, hi) = fisher_ci(0.5, 103, 0.95);
        let z = 0.5f64.atanh();
        assert!((lo - (z - 1.959963984540054 / 10.0).tanh()).abs() < 1e-15);
        assert!((hi - (z + 1.959963984540054 / 10.0).tanh()).abs() < 1e-15);
        assert!(fisher_ci(0.5, 3, 0.95).0.is_nan());
    }

    #[test]
    fn bad_parameters_and_shapes() {
        let e = array![[0.0], [1.0], [2.0], [3.0]];
        let s = array![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]];
        assert!(
            DistanceCorrelationParams::new()
                .run(e.view(), s.view())
                .is_err()
        );
        assert!(
            DistanceCorrelationParams::new()
                .confidence_level(1.0)
                .check()
                .is_err()
        );
        assert!(
            DistanceCorrelationParams::new()
                .max_spots(Some(2))
                .check()
                .is_err()
        );
    }
}
