//! The evaluation metrics behind `dpvae.tl`: Procrustes, Moran's I / Geary's C on a kNN graph, and the
//! expression-vs-space distance correlation with its Fisher-z interval.

use dpvae_eval::{AutocorrParams, DistanceCorrelationParams, Features, Transform, WeightsParams};
use numpy::{IntoPyArray, PyReadonlyArray2};

use crate::arrays::{matrix_in, matrix_out};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::to_py;

fn eval_err(e: dpvae_eval::EvalError) -> PyErr {
    to_py(e.into())
}

/// Procrustes of `estimate` onto `truth` (rows matched), as scipy.spatial.procrustes with the transform.
#[pyfunction]
pub fn procrustes<'py>(
    py: Python<'py>,
    truth: PyReadonlyArray2<'py, f64>,
    estimate: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let (truth, estimate) = (matrix_in(&truth, |v| v), matrix_in(&estimate, |v| v));
    let fit =
        dpvae_geometry::procrustes(truth.view(), estimate.view()).map_err(|e| to_py(e.into()))?;
    let d = PyDict::new(py);
    d.set_item("disparity", fit.disparity)?;
    d.set_item("scale", fit.scale)?;
    d.set_item("reflection", fit.reflection)?;
    d.set_item("rotation", matrix_out(py, &fit.rotation)?)?;
    d.set_item("translation", fit.translation.to_vec().into_pyarray(py))?;
    d.set_item("aligned", matrix_out(py, &fit.aligned)?)?;
    d.set_item("residuals", fit.residuals.to_vec().into_pyarray(py))?;
    Ok(d)
}

/// A reference label (`labels`, one string per reference spot at `reference`) carried to spots placed at
/// `placed`, weighted by their calibrated `radius_50` when given: (label per placed spot, its probability).
#[pyfunction]
#[pyo3(signature = (reference, labels, placed, radius_50=None))]
pub fn transfer_labels<'py>(
    py: Python<'py>,
    reference: PyReadonlyArray2<'py, f64>,
    labels: Vec<String>,
    placed: PyReadonlyArray2<'py, f64>,
    radius_50: Option<Vec<f64>>,
) -> PyResult<(Vec<String>, Bound<'py, numpy::PyArray1<f64>>)> {
    let (reference, placed) = (matrix_in(&reference, |v| v), matrix_in(&placed, |v| v));
    let mut names = labels.clone();
    names.sort();
    names.dedup();
    let index: Vec<usize> = labels
        .iter()
        .map(|l| names.binary_search(l).unwrap_or(0))
        .collect();
    let t = dpvae::transfer::transfer_labels(
        reference.view(),
        &index,
        &names,
        placed.view(),
        radius_50.as_deref(),
    )
    .map_err(to_py)?;
    Ok((t.label_names(), t.probability.into_pyarray(py)))
}

/// Moran's I and Geary's C of each column of `values` on the k-nearest-neighbour graph of `coords`.
#[pyfunction]
#[pyo3(signature = (coords, values, names, k=5, weights="binary", n_perms=0, seed=0))]
#[allow(clippy::too_many_arguments)]
pub fn autocorrelation<'py>(
    py: Python<'py>,
    coords: PyReadonlyArray2<'py, f64>,
    values: PyReadonlyArray2<'py, f64>,
    names: Vec<String>,
    k: usize,
    weights: &str,
    n_perms: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let transform: Transform = weights
        .parse()
        .map_err(|e: dpvae_eval::EvalError| PyValueError::new_err(format!("weights: {e}")))?;
    let (coords, values) = (matrix_in(&coords, |v| v), matrix_in(&values, |v| v));
    let table = py
        .detach(|| {
            let w = WeightsParams::knn(k)
                .transform(transform)
                .build(coords.view())?;
            AutocorrParams::new().n_perms(n_perms).seed(seed).run(
                &w,
                &Features::Dense(values.view()),
                &names,
            )
        })
        .map_err(eval_err)?;
    let d = PyDict::new(py);
    let rows = &table.rows;
    d.set_item(
        "feature",
        rows.iter().map(|r| r.feature.clone()).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "moran_i",
        rows.iter().map(|r| r.moran.value).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "moran_p",
        rows.iter().map(|r| r.moran.p_norm).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "moran_fdr",
        rows.iter().map(|r| r.moran.fdr_norm).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "geary_c",
        rows.iter().map(|r| r.geary.value).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "geary_p",
        rows.iter().map(|r| r.geary.p_norm).collect::<Vec<_>>(),
    )?;
    d.set_item(
        "geary_fdr",
        rows.iter().map(|r| r.geary.fdr_norm).collect::<Vec<_>>(),
    )?;
    if n_perms > 0 {
        d.set_item(
            "moran_p_perm",
            rows.iter().map(|r| r.moran.p_perm).collect::<Vec<_>>(),
        )?;
        d.set_item(
            "geary_p_perm",
            rows.iter().map(|r| r.geary.p_perm).collect::<Vec<_>>(),
        )?;
    }
    Ok(d)
}

/// Pearson r of pairwise expression distances with pairwise spatial distances, with its Fisher-z interval
/// and (with `n_perms`) a Mantel permutation p-value.
#[pyfunction]
#[pyo3(signature = (x, coords, confidence_level=0.95, n_perms=0, max_spots=3000, seed=0))]
pub fn distance_correlation<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    coords: PyReadonlyArray2<'py, f64>,
    confidence_level: f64,
    n_perms: usize,
    max_spots: Option<usize>,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, coords) = (matrix_in(&x, |v| v), matrix_in(&coords, |v| v));
    let c = py
        .detach(|| {
            DistanceCorrelationParams::new()
                .confidence_level(confidence_level)
                .n_perms(n_perms)
                .max_spots(max_spots)
                .seed(seed)
                .run(x.view(), coords.view())
        })
        .map_err(eval_err)?;
    let d = PyDict::new(py);
    d.set_item("r", c.r)?;
    d.set_item("ci_low", c.ci_low)?;
    d.set_item("ci_high", c.ci_high)?;
    d.set_item("confidence_level", c.confidence_level)?;
    d.set_item("n_spots", c.n_spots)?;
    d.set_item("n_pairs", c.n_pairs)?;
    d.set_item("sampling_se", c.sampling_se)?;
    d.set_item("spearman", c.spearman)?;
    d.set_item("mantel_p", c.mantel_p)?;
    d.set_item("n_perms", c.n_perms)?;
    Ok(d)
}
