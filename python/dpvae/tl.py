"""Evaluation on AnnData, as ``scanpy.tl`` / ``squidpy.gr`` functions: Procrustes disparity of a placement,
Moran's I and Geary's C, and the expression-vs-space distance correlation with its Fisher-z interval."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _dpvae
from ._anndata import OBSM_PLACED, OBSM_SPATIAL, coordinates, expression


def procrustes(adata, truth_key: str = OBSM_SPATIAL, estimate_key: str = OBSM_PLACED) -> Dict[str, Any]:
    """Procrustes fit of ``obsm[estimate_key]`` onto ``obsm[truth_key]`` (rows are the same spots).

    Returns ``disparity`` (scipy.spatial.procrustes: 0 perfect, 1 no relation), ``scale``, ``rotation``,
    ``translation``, ``reflection``, ``aligned`` (the estimate in the truth's frame) and ``residuals``
    (per-spot distance after alignment).
    """
    truth = coordinates(adata, truth_key, required=True)
    estimate = coordinates(adata, estimate_key, required=True)
    return _dpvae.procrustes(truth, estimate)


def autocorr(adata, *, genes: Optional[Sequence[str]] = None, obsm_key: Optional[str] = None,
             coords_key: str = OBSM_SPATIAL, k: int = 5, weights: str = "binary", n_perms: int = 0,
             seed: int = 0, layer: Optional[str] = None) -> pd.DataFrame:
    """Moran's I and Geary's C on the ``k``-nearest-neighbour graph of ``obsm[coords_key]``.

    Tests the columns of ``obsm[obsm_key]`` (e.g. ``"X_dpvae"``) or the ``genes`` of X (or of
    ``layers[layer]``) as stored: log-normalise first, as squidpy expects. ``weights`` is ``"binary"``
    (the paper) or ``"row"`` (squidpy's default). Returns one row per feature with the statistics,
    normal-approximation p-values and Benjamini-Hochberg FDRs (and permutation p-values with ``n_perms``).
    """
    coords = coordinates(adata, coords_key, required=True)
    values, names = _features(adata, genes, obsm_key, layer)
    table = _dpvae.autocorrelation(coords, values, names, k=k, weights=weights, n_perms=n_perms, seed=seed)
    return pd.DataFrame(table).set_index("feature")


def morans_i(adata, **kwargs: Any) -> pd.Series:
    """Moran's I of each feature (see :func:`autocorr` for the arguments)."""
    return autocorr(adata, **kwargs)["moran_i"]


def gearys_c(adata, **kwargs: Any) -> pd.Series:
    """Geary's C of each feature (see :func:`autocorr` for the arguments)."""
    return autocorr(adata, **kwargs)["geary_c"]


def distance_correlation(adata, *, use_rep: Optional[str] = None, coords_key: str = OBSM_SPATIAL,
                         layer: Optional[str] = None, confidence_level: float = 0.95, n_perms: int = 0,
                         max_spots: Optional[int] = 3000, seed: int = 0) -> Dict[str, Any]:
    """Pearson r of pairwise expression distances with pairwise spatial distances over all spot pairs.

    Expression is ``obsm[use_rep]`` (e.g. ``"X_pca"``) or X (``layers[layer]``) as stored. Returns ``r``
    with its Fisher-z interval (``ci_low``, ``ci_high``), Spearman's rho and, with ``n_perms``, a Mantel
    p-value computed on at most ``max_spots`` spots. Above 20 million pairs (about 6300 spots) ``r`` is
    estimated on 20 million sampled pairs and ``sampling_se`` is its standard error (``None`` otherwise).
    """
    coords = coordinates(adata, coords_key, required=True)
    if use_rep is not None:
        x = coordinates(adata, use_rep, required=True)
    else:
        x = expression(adata, layer)
        x = x.toarray() if sp.issparse(x) else np.asarray(x)
        x = np.asarray(x, dtype=np.float64)
    return _dpvae.distance_correlation(
        x, coords, confidence_level=confidence_level, n_perms=n_perms, max_spots=max_spots, seed=seed
    )


def _features(adata, genes, obsm_key, layer):
    if (genes is None) == (obsm_key is None):
        raise ValueError("give exactly one of genes= (names in var_names) or obsm_key=")
    if obsm_key is not None:
        values = coordinates(adata, obsm_key, required=True)
        return values, [f"{obsm_key}_{j + 1}" for j in range(values.shape[1])]
    missing = [g for g in genes if g not in adata.var_names]
    if missing:
        raise ValueError(f"genes not in var_names: {missing[:10]}")
    idx = adata.var_names.get_indexer(list(genes))
    x = expression(adata, layer)[:, idx]
    x = x.toarray() if sp.issparse(x) else np.asarray(x)
    return np.asarray(x, dtype=np.float64), [str(g) for g in genes]
