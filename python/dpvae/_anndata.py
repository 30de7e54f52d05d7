"""AnnData to the Rust dataset, without densifying a sparse X or copying a dense one on the Python side."""

from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp

from . import _dpvae

# Where results go, as the command line writes them (dpvae::anndata).
OBSM_SPATIAL = "spatial"
OBSM_LATENT = "X_dpvae"
OBSM_LATENT_VAR = "X_dpvae_var"
OBSM_PLACED = "spatial_dpvae"
OBS_UNCERTAINTY = ("dpvae_radius_50", "dpvae_radius_90", "dpvae_confidence")
UNS_KEY = "dpvae"

# Dtypes the extension reads in place; others are converted to float32 first.
_NATIVE = tuple(np.dtype(t) for t in ("float32", "float64", "int32", "int64"))


def expression(adata, layer: Optional[str]):
    """``adata.X`` or ``adata.layers[layer]``, with a clear error when the layer is absent."""
    if layer is None:
        return adata.X
    if layer not in adata.layers:
        raise ValueError(
            f"layers['{layer}'] does not exist; the AnnData has layers {sorted(adata.layers.keys())}"
        )
    return adata.layers[layer]


def coordinates(adata, key: str, required: bool) -> Optional[np.ndarray]:
    """``obsm[key]`` as float64 (n_obs x 2 or 3), or None when absent and not required."""
    if key not in adata.obsm:
        if required:
            raise ValueError(
                f"obsm['{key}'] is missing: the reference needs spot coordinates there "
                f"(the AnnData has obsm keys {sorted(adata.obsm.keys())})"
            )
        return None
    coords = np.asarray(adata.obsm[key], dtype=np.float64)
    if coords.ndim != 2 or coords.shape[0] != adata.n_obs:
        raise ValueError(f"obsm['{key}'] has shape {coords.shape}; expected ({adata.n_obs}, 2 or 3)")
    return coords


def to_dataset(adata, *, spatial_key: Optional[str] = OBSM_SPATIAL, layer: Optional[str] = None,
               require_spatial: bool = False) -> "_dpvae.Dataset":
    """The Rust view of an AnnData: X (dense, CSR or CSC), names and, unless ``spatial_key`` is None,
    coordinates."""
    x = expression(adata, layer)
    obs_names = [str(v) for v in adata.obs_names]
    var_names = [str(v) for v in adata.var_names]
    spatial = None if spatial_key is None else coordinates(adata, spatial_key, require_spatial)
    if sp.issparse(x):
        if x.format not in ("csr", "csc"):
            x = x.tocsr()
        data = x.data if x.data.dtype in _NATIVE else x.data.astype(np.float32)
        return _dpvae.Dataset.sparse(
            x.format, data, x.indices, x.indptr, tuple(x.shape), obs_names, var_names, spatial
        )
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise ValueError(f"X has dtype {x.dtype}; expected numbers")
    if x.dtype not in _NATIVE:
        x = x.astype(np.float32)
    return _dpvae.Dataset.dense(x, obs_names, var_names, spatial)
