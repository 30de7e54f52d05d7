//! Training input and its host-side preparation.

use ndarray::{ArrayView1, ArrayView2};
use rand::seq::SliceRandom;

use crate::error::{ModelError, Result};
use crate::model::Likelihood;

/// What the trainer consumes, already preprocessed by the caller.
#[derive(Debug, Clone, Copy)]
pub struct TrainInput<'a> {
    /// `[spots, genes]`: log-normalised expression for the Gaussian likelihoods, raw counts for NB.
    pub expression: ArrayView2<'a, f32>,
    /// `[spots, c]` spatial coordinates; needed when `alpha2 > 0`.
    pub coords: Option<ArrayView2<'a, f64>>,
    /// Per-spot library sizes for NB (default: the row sums of the counts).
    pub library_size: Option<ArrayView1<'a, f32>>,
    /// The rows are this many stacked versions of the same spots (spot `i`'s at rows `i`, `i + n / copies`,
    /// ...), e.g. the spots and their augmented copies: the validation split keeps every version of a spot on
    /// one side. 1 for plain data.
    pub copies: usize,
}

impl<'a> TrainInput<'a> {
    /// Expression and coordinates, library sizes from the row sums.
    pub fn new(expression: ArrayView2<'a, f32>, coords: ArrayView2<'a, f64>) -> Self {
        Self {
            expression,
            coords: Some(coords),
            library_size: None,
            copies: 1,
        }
    }
}

/// Row-major host copies in the form the training loop gathers batches from.
pub(crate) struct Prepared {
    pub n: usize,
    pub genes: usize,
    /// Encoder input (`ln(1 + x)` for NB, `x` otherwise).
    pub input: Vec<f32>,
    /// Reconstruction target (`x`); `None` when it equals `input`.
    pub target: Option<Vec<f32>>,
    /// `ln(library size)` per spot (NB only).
    pub log_library: Vec<f32>,
    /// Centred coordinates (`[n, c]`); centring changes no distance but keeps f32 differences exact.
    pub coords: Option<Vec<f32>>,
    pub coord_dim: usize,
}

impl Prepared {
    pub fn new(input: &TrainInput<'_>, likelihood: Likelihood) -> Result<Self> {
        let x = input.expression;
        let (n, genes) = x.dim();
        if input.copies == 0 || n % input.copies != 0 {
            return Err(ModelError::InvalidInput(format!(
                "{n} rows cannot be {} stacked copies of the same spots",
                input.copies
            )));
        }
        if n < 2 {
            return Err(ModelError::InvalidInput(format!(
                "training needs at least 2 spots, got {n}"
            )));
        }
        if genes == 0 {
            return Err(ModelError::InvalidInput(
                "the expression matrix has no genes".into(),
            ));
        }
        if let Some((idx, v)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(ModelError::InvalidInput(format!(
                "expression value {v} at spot {}, gene {} is not finite",
                idx.0, idx.1
            )));
        }
        let values: Vec<f32> = x.iter().copied().collect();
        let (enc_input, target, log_library) = if likelihood.uses_counts() {
            count_inputs(x, values, input.library_size)?
        } else {
            (values, None, Vec::new())
        };
        let (coords, coord_dim) = match input.coords {
            None => (None, 0),
            Some(c) => (Some(centred_coords(c, n)?), c.ncols()),
        };
        Ok(Self {
            n,
            genes,
            input: enc_input,
            target,
            log_library,
            coords,
            coord_dim,
        })
    }

    /// Copy the rows `idx` of a row-major `[n, width]` matrix into `out`.
    pub fn gather(src: &[f32], width: usize, idx: &[usize], out: &mut Vec<f32>) {
        out.clear();
        for &i in idx {
            out.extend_from_slice(&src[i * width..(i + 1) * width]);
        }
    }
}

/// Deterministic train/validation split: a shuffled `round(fraction * n)` spots are held out (at least one
/// when the fraction is positive); both lists are returned sorted.
/// [`split_indices`] of `n` rows that are `copies` stacked versions of `n / copies` spots: every version of
/// a spot lands on the side its spot was drawn to.
pub fn split_copies(
    n: usize,
    copies: usize,
    fraction: f64,
    rng: &mut impl rand::Rng,
) -> (Vec<usize>, Vec<usize>) {
    let m = n / copies.max(1);
    let (train, val) = split_indices(m, fraction, rng);
    let expand = |rows: Vec<usize>| {
        let mut all: Vec<usize> = (0..copies.max(1))
            .flat_map(|k| rows.iter().map(move |&i| i + k * m))
            .collect();
        all.sort_unstable();
        all
    };
    (expand(train), expand(val))
}

pub fn split_indices(
    n: usize,
    fraction: f64,
    rng: &mut impl rand::Rng,
) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    if fraction <= 0.0 {
        return (idx, Vec::new());
    }
    idx.shuffle(rng);
    let n_val = ((fraction * n as f64).round() as usize).clamp(1, n - 1);
    let mut val = idx[..n_val].to_vec();
    let mut train = idx[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    (train, val)
}

/// Encoder input, reconstruction target (raw counts) and log library sizes.
type CountInputs = (Vec<f32>, Option<Vec<f32>>, Vec<f32>);

/// The negative-binomial likelihood's inputs: log1p counts for the encoder, the raw counts as the target and
/// the log library sizes (given, or each spot's total).
fn count_inputs(
    x: ArrayView2<'_, f32>,
    values: Vec<f32>,
    library_size: Option<ArrayView1<'_, f32>>,
) -> Result<CountInputs> {
    let n = x.nrows();
    if let Some((idx, v)) = x
        .indexed_iter()
        .find(|(_, v)| **v < 0.0 || v.fract() != 0.0)
    {
        return Err(ModelError::InvalidInput(format!(
            "the negative-binomial likelihood needs raw counts, but spot {}, gene {} holds {v} \
             (log-normalised data goes with the Gaussian likelihood)",
            idx.0, idx.1
        )));
    }
    let lib: Vec<f32> = match library_size {
        Some(l) => {
            if l.len() != n {
                return Err(ModelError::InvalidInput(format!(
                    "{} library sizes for {n} spots",
                    l.len()
                )));
            }
            l.to_vec()
        }
        None => x.rows().into_iter().map(|r| r.sum()).collect(),
    };
    if let Some((i, v)) = lib
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v > 0.0))
    {
        return Err(ModelError::InvalidInput(format!(
            "spot {i} has library size {v}; the NB likelihood needs positive library sizes \
             (drop empty spots first)"
        )));
    }
    let log_input = values.iter().map(|v| v.ln_1p()).collect();
    Ok((
        log_input,
        Some(values),
        lib.iter().map(|l| l.ln()).collect(),
    ))
}

/// Coordinates checked against the spots and centred, row-major as f32.
fn centred_coords(c: ArrayView2<'_, f64>, n: usize) -> Result<Vec<f32>> {
    if c.nrows() != n {
        return Err(ModelError::InvalidInput(format!(
            "{} coordinate rows for {n} spots",
            c.nrows()
        )));
    }
    if c.ncols() == 0 {
        return Err(ModelError::InvalidInput(
            "coordinates have no columns".into(),
        ));
    }
    if c.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::InvalidInput(
            "coordinates contain NaN or infinity".into(),
        ));
    }
    let first = c.row(0);
    if c.rows().into_iter().all(|r| r == first) {
        // The distance-preservation term and lambda's scale would be 0/0: nothing spatial to learn.
        return Err(ModelError::InvalidInput(format!(
            "the coordinates have no spread: every one of the {n} spots is at one position {first}"
        )));
    }
    let mean = c.mean_axis(ndarray::Axis(0)).expect("n >= 2");
    let centred = c.rows().into_iter().flat_map(|r| {
        r.iter()
            .zip(mean.iter())
            .map(|(v, m)| (v - m) as f32)
            .collect::<Vec<_>>()
    });
    Ok(centred.collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_version_of_a_spot_lands_on_its_side() {
        let rng = || rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (train, val) = split_copies(30, 3, 0.2, &mut rng());
        assert_eq!(val.len(), 6);
        for i in 0..10 {
            let sides: Vec<bool> = (0..3).map(|k| val.contains(&(i + 10 * k))).collect();
            assert!(sides.iter().all(|s| *s == sides[0]), "spot {i}: {sides:?}");
        }
        assert_eq!(train.len() + val.len(), 30);
        // One copy is the plain split.
        assert_eq!(
            split_copies(30, 1, 0.2, &mut rng()),
            split_indices(30, 0.2, &mut rng())
        );
    }
}
