//! Training and placement through the `dpvae` facade, with the GIL released while Rust works. Progress goes
//! to a Python callback once an epoch, which is also where Ctrl-C is noticed.

use std::path::PathBuf;

use dpvae::network::{
    BackendKind, EpochReport, LambdaMode, Likelihood, MaskSpec, TrainObserver, TrainStart,
    TrainSummary,
};
use dpvae::{DpVae, DpVaeParams, PlaceOptions};
use numpy::IntoPyArray;
use pyo3::exceptions::{PyFileExistsError, PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::matrix_out;
use crate::dataset::Dataset;
use crate::to_py;

/// A trained dp-VAE ensemble with its preprocessing and placement record (a `dpvae train` model directory).
#[pyclass(module = "dpvae._dpvae", frozen)]
pub struct Model {
    inner: dpvae::Model,
}

/// Train on `reference` (raw counts and coordinates). `protocol` is "recommended" (dpvae's defaults) or
/// "paper"; `params` overrides single settings by name; `shared_genes` restricts the genes to those a query
/// has (as `dpvae run` does), `shared_with` (a query dataset) also its depth, so a much shallower query
/// (single cells) is trained for on a thinned reference; `progress(event, info)` is called on "start",
/// "epoch" and "finish".
/// Returns the model and the first member's history as columns.
#[pyfunction]
#[pyo3(signature = (reference, protocol, params, shared_genes=None, progress=None, shared_with=None))]
pub fn fit<'py>(
    py: Python<'py>,
    reference: &Dataset,
    protocol: &str,
    params: &Bound<'py, PyDict>,
    shared_genes: Option<Vec<String>>,
    progress: Option<Py<PyAny>>,
    shared_with: Option<PyRef<'py, Dataset>>,
) -> PyResult<(Model, Bound<'py, PyDict>)> {
    let mut p = match protocol {
        "recommended" => DpVae::params(),
        "paper" => DpVae::paper(),
        other => {
            return Err(PyValueError::new_err(format!(
                "protocol must be 'recommended' or 'paper', not '{other}'"
            )));
        }
    };
    for (key, value) in params.iter() {
        p = apply(p, &key.extract::<String>()?, &value)?;
    }
    if let Some(genes) = &shared_genes {
        p = p.shared_genes(genes);
    }
    if let Some(query) = &shared_with {
        p = p.shared_with(&query.data).map_err(to_py)?;
    }
    let valid = p.check().map_err(to_py)?;
    let mut observer = PyObserver {
        callback: progress,
        error: None,
    };
    let data = &reference.data;
    let result = py.detach(|| valid.fit_observed(data, &mut observer));
    let trained = match (result, observer.error) {
        (Ok(t), _) => t,
        // The callback raised, or Ctrl-C was pressed: raise that, not the Rust error it caused.
        (Err(_), Some(e)) => return Err(e),
        (Err(e), None) => return Err(to_py(e)),
    };
    let history = history_columns(py, &trained.outcome.history)?;
    Ok((
        Model {
            inner: trained.model,
        },
        history,
    ))
}

/// Read a model directory written by `dpvae train`, `dpvae run` or `Model.save`.
#[pyfunction]
pub fn load(py: Python<'_>, dir: PathBuf) -> PyResult<Model> {
    if !dir.is_dir() {
        return Err(PyFileNotFoundError::new_err(format!(
            "{} is not a model directory (it does not exist or is not a folder)",
            dir.display()
        )));
    }
    let inner = py.detach(|| DpVae::load(&dir)).map_err(to_py)?;
    Ok(Model { inner })
}

#[pymethods]
impl Model {
    /// Write the model directory (what `dpvae embed` and `dpvae run` read). An existing path is an error
    /// unless `overwrite`; the directory appears complete or not at all.
    #[pyo3(signature = (dir, overwrite=false))]
    fn save(&self, py: Python<'_>, dir: PathBuf, overwrite: bool) -> PyResult<()> {
        if dir.exists() && !overwrite {
            return Err(PyFileExistsError::new_err(format!(
                "{} exists; pass overwrite=True to replace it",
                dir.display()
            )));
        }
        // Without overwrite, a directory another process writes meanwhile is not replaced either.
        let options = dpvae::network::SaveOptions {
            replace: overwrite,
            extra: Vec::new(),
        };
        py.detach(|| self.inner.save_with(&dir, &options))
            .map_err(to_py)
    }

    /// Embed and place `query`; returns the arrays and the summary that belong in the AnnData's slots.
    #[pyo3(signature = (query, seed=None, allow_missing_genes=false))]
    fn place<'py>(
        &self,
        py: Python<'py>,
        query: &Dataset,
        seed: Option<u64>,
        allow_missing_genes: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let opts = PlaceOptions {
            backend: self.backend(),
            seed: seed.unwrap_or_else(|| self.seed()),
            allow_missing_genes,
            ..Default::default()
        };
        let data = &query.data;
        let placed = py
            .detach(|| self.inner.place_with(data, &opts))
            .map_err(to_py)?;
        let out = PyDict::new(py);
        out.set_item(dpvae::anndata::OBSM_LATENT, matrix_out(py, &placed.latent)?)?;
        out.set_item(
            dpvae::anndata::OBSM_LATENT_VAR,
            matrix_out(py, &placed.variance)?,
        )?;
        if placed.has_coordinates() {
            out.set_item(dpvae::anndata::OBSM_PLACED, matrix_out(py, &placed.coords)?)?;
        }
        if let Some(u) = &placed.uncertainty {
            for (name, values) in u.columns() {
                out.set_item(name, values.to_vec().into_pyarray(py))?;
            }
        }
        out.set_item("summary", placed.summary().to_string())?;
        Ok(out)
    }

    /// The genes the model reads from a query (after QC and HVG selection, before any PCA), in order.
    #[getter]
    fn genes(&self) -> Vec<String> {
        self.inner.preprocess().genes.clone()
    }

    /// Ensemble members.
    #[getter]
    fn n_members(&self) -> usize {
        self.inner.members().len()
    }

    /// The training options, as JSON (the `train` table of `dpvae train --print-config`).
    #[getter]
    fn train_config(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.saved().train_config)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

impl Model {
    /// The training seed, which `dpvae run` also gives SMACOF when it places.
    fn seed(&self) -> u64 {
        self.inner.saved().metadata.seed
    }

    /// The backend that trained the model (the default one if it is not known here).
    fn backend(&self) -> BackendKind {
        self.inner
            .saved()
            .metadata
            .backend
            .parse()
            .unwrap_or_default()
    }
}

/// One named setting onto the builder.
fn apply(p: DpVaeParams, key: &str, v: &Bound<'_, PyAny>) -> PyResult<DpVaeParams> {
    let parse_err = |e: &dyn std::fmt::Display| PyValueError::new_err(format!("{key}: {e}"));
    Ok(match key {
        "alpha2" => p.alpha2(v.extract()?),
        "epochs" => p.epochs(v.extract()?),
        "batch_size" => p.batch_size(v.extract()?),
        "learning_rate" => p.learning_rate(v.extract()?),
        "beta" => p.beta(v.extract()?),
        "validation_fraction" => p.validation_fraction(v.extract()?),
        "seed" => p.seed(v.extract()?),
        "latent_dim" => p.latent_dim(v.extract()?),
        "hidden" => p.hidden(v.extract()?),
        "dropout" => p.dropout(v.extract()?),
        "members" => p.members(v.extract()?),
        "n_hvg" => p.n_hvg(v.extract()?),
        "pca" => p.pca(v.extract()?),
        "likelihood" => p.likelihood(
            v.extract::<String>()?
                .parse::<Likelihood>()
                .map_err(|e| parse_err(&e))?,
        ),
        "mask" => p.mask(
            v.extract::<String>()?
                .parse::<MaskSpec>()
                .map_err(|e| parse_err(&e))?,
        ),
        "lambda_mode" => p.lambda(
            v.extract::<String>()?
                .parse::<LambdaMode>()
                .map_err(|e| parse_err(&e))?,
        ),
        "auto" => p.auto(v.extract()?),
        "thin_below" => p.thin_below(v.extract()?),
        "hvg_flavor" => p.hvg_flavor(v.extract::<String>()?.parse().map_err(|e| parse_err(&e))?),
        "backend" => p.backend(
            v.extract::<String>()?
                .parse::<BackendKind>()
                .map_err(|e| parse_err(&e))?,
        ),
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown setting '{other}'; known: alpha2, epochs, batch_size, learning_rate, beta, \
                 validation_fraction, seed, latent_dim, hidden, dropout, members, n_hvg, pca, likelihood, \
                 mask, lambda_mode, hvg_flavor, auto, thin_below, backend"
            )));
        }
    })
}

/// Reports each member's training to a Python callback and watches for Ctrl-C between epochs.
struct PyObserver {
    callback: Option<Py<PyAny>>,
    /// The first exception raised by the callback or by a signal handler; it ends training.
    error: Option<PyErr>,
}

impl PyObserver {
    fn call(&mut self, event: &str, fill: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>) {
        let Some(cb) = &self.callback else { return };
        if self.error.is_some() {
            return;
        }
        let result = Python::attach(|py| {
            let info = PyDict::new(py);
            fill(&info)?;
            cb.call1(py, (event, info)).map(|_| ())
        });
        if let Err(e) = result {
            self.error = Some(e);
        }
    }
}

impl TrainObserver for PyObserver {
    fn on_start(&mut self, s: &TrainStart) {
        self.call("start", |d| {
            d.set_item("epochs", s.epochs)?;
            d.set_item("n_train", s.n_train)?;
            d.set_item("n_validation", s.n_validation)?;
            d.set_item("batch_size", s.batch_size)
        });
    }

    fn on_epoch(&mut self, r: &EpochReport<'_>) {
        self.call("epoch", |d| {
            d.set_item("epoch", r.record.epoch)?;
            d.set_item("epochs", r.epochs)?;
            d.set_item("total", r.record.total)?;
            d.set_item("dp", r.record.dp)?;
            d.set_item("validation_dp", r.record.validation_dp)?;
            d.set_item("stopping", r.stopping)
        });
    }

    fn on_finish(&mut self, s: &TrainSummary) {
        self.call("finish", |d| {
            d.set_item("epochs_run", s.epochs_run)?;
            d.set_item("best_epoch", s.best_epoch)?;
            d.set_item("stopped_early", s.stopped_early)
        });
    }

    fn keep_going(&mut self) -> bool {
        if self.error.is_none()
            && let Err(e) = Python::attach(|py| py.check_signals())
        {
            self.error = Some(e);
        }
        self.error.is_none()
    }
}

/// The history as columns (NaN where there is no validation split).
fn history_columns<'py>(
    py: Python<'py>,
    h: &dpvae::network::History,
) -> PyResult<Bound<'py, PyDict>> {
    let col = |f: fn(&dpvae::network::EpochRecord) -> f64| -> Vec<f64> {
        h.epochs.iter().map(f).collect()
    };
    let d = PyDict::new(py);
    d.set_item(
        "epoch",
        h.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
    )?;
    d.set_item("recon", col(|e| e.recon))?;
    d.set_item("kl", col(|e| e.kl))?;
    d.set_item("dp", col(|e| e.dp))?;
    d.set_item("total", col(|e| e.total))?;
    d.set_item("lambda", col(|e| e.lambda))?;
    d.set_item("validation", col(|e| e.validation.unwrap_or(f64::NAN)))?;
    d.set_item(
        "validation_dp",
        col(|e| e.validation_dp.unwrap_or(f64::NAN)),
    )?;
    d.set_item("seconds", col(|e| e.seconds))?;
    Ok(d)
}
