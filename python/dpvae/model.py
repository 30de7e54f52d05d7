"""The user API, shaped like scvi-tools': set up on a reference AnnData, ``train()``, ``place(query)``."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Optional, Sequence

import numpy as np
import pandas as pd

from . import _dpvae
from ._anndata import (
    OBS_UNCERTAINTY,
    OBSM_LATENT,
    OBSM_LATENT_VAR,
    OBSM_PLACED,
    OBSM_SPATIAL,
    UNS_KEY,
    to_dataset,
)

# Settings the Rust facade takes by name (dpvae::DpVaeParams); None keeps dpvae's default.
_SETTINGS = (
    "alpha2", "epochs", "batch_size", "learning_rate", "beta", "validation_fraction", "latent_dim",
    "hidden", "dropout", "members", "n_hvg", "pca", "likelihood", "mask", "lambda_mode", "hvg_flavor",
    "auto", "thin_below", "backend",
)


class DpVae:
    """A dp-VAE placement model for one spatial reference.

    Parameters
    ----------
    adata
        The reference: raw counts in ``X`` (dense or scipy CSR/CSC) or in ``layers[layer]``, and spot
        coordinates in ``obsm[spatial_key]``.
    seed
        Seed of everything random; the same seed on the same backend gives the same placement.
    protocol
        ``"recommended"`` (dpvae's defaults, chosen by cross-validation across sections; docs/placement.md)
        or ``"paper"`` (the protocol of Zhou & Du 2024).
    spatial_key, layer
        Where the coordinates and the counts are.
    alpha2, epochs, batch_size, learning_rate, beta, validation_fraction, latent_dim, hidden, dropout,
    members, n_hvg, pca, likelihood, mask, lambda_mode, hvg_flavor, auto, thin_below, backend
        Single settings, as the command line's flags of the same names (``dpvae train --help``); left at
        ``None`` they keep the protocol's value. ``auto=False`` is ``--no-auto``: no per-reference choice of
        the gene selection on the reference's own validation spots (naming ``hvg_flavor`` also fixes it). ``likelihood``, ``mask``, ``lambda_mode``, ``hvg_flavor`` and
        ``backend`` are strings such as ``"nb"``, ``"knn:10"``, ``"learned"``, ``"seurat_v3"``, ``"flex"``.

    Examples
    --------
    >>> model = dpvae.DpVae(ref, alpha2=100, epochs=300, seed=0)
    >>> model.train()
    >>> model.place(query)
    >>> model.save("model_dir")
    """

    def __init__(self, adata, *, seed: int = 0, protocol: str = "recommended",
                 spatial_key: str = OBSM_SPATIAL, layer: Optional[str] = None, **settings: Any):
        unknown = sorted(set(settings) - set(_SETTINGS))
        if unknown:
            raise TypeError(f"unknown settings {unknown}; known: {', '.join(_SETTINGS)}")
        if protocol not in ("recommended", "paper"):
            raise ValueError(f"protocol must be 'recommended' or 'paper', not {protocol!r}")
        self.adata = adata
        self.seed = int(seed)
        self.protocol = protocol
        self.spatial_key = spatial_key
        self.layer = layer
        self.settings: Dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
        self._model: Optional[_dpvae.Model] = None
        self._history: Optional[pd.DataFrame] = None
        # Checked now, as scvi-tools' setup_anndata does, so a missing obsm['spatial'] fails before training.
        self._reference = to_dataset(
            adata, spatial_key=spatial_key, layer=layer,
            require_spatial=self.settings.get("alpha2", 1.0) != 0,
        )

    # -- training -------------------------------------------------------------------------------------
    def train(self, *, shared_with=None, quiet: bool = False) -> "DpVae":
        """Preprocess the reference and train the ensemble (the GIL is released meanwhile).

        ``shared_with``: a query AnnData (or a list of gene names); highly variable genes are then chosen
        among the genes it has, as ``dpvae run`` does, so none of the model's genes is missing there. Given
        an AnnData much shallower than the reference (single cells placed from spots), training also sees
        the reference thinned to its counts per cell (``thin_below``), as ``dpvae run`` does.
        A progress bar (tqdm when installed) is shown unless ``quiet``. Ctrl-C stops training between
        epochs with ``KeyboardInterrupt`` and leaves the model untrained.
        """
        params = dict(self.settings, seed=self.seed)
        genes, query = _shared(shared_with)
        progress = None if quiet else _Progress(params.get("members"))
        try:
            model, history = _dpvae.fit(self._reference, self.protocol, params, genes, progress, query)
        finally:
            if progress is not None:
                progress.close()
        self._model = model
        self._history = pd.DataFrame(history).set_index("epoch")
        return self

    @property
    def is_trained(self) -> bool:
        return self._model is not None

    @property
    def history(self) -> pd.DataFrame:
        """Per-epoch losses of the first ensemble member (recon, kl, dp, total, lambda, validation, ...)."""
        if self._history is None:
            raise RuntimeError("no training history: call train() (a loaded model keeps none)")
        return self._history

    @property
    def genes(self) -> list:
        """The genes the model reads from a query (its highly variable genes), in order."""
        return self._require().genes

    # -- placement ------------------------------------------------------------------------------------
    def place(self, query, *, allow_missing_genes: bool = False, seed: Optional[int] = None,
              layer: Optional[str] = None, transfer_obs: Sequence[str] = (), copy: bool = False):
        """Embed ``query`` (raw counts) and place it in the reference's frame.

        Writes ``obsm['X_dpvae']`` (latent means), ``obsm['X_dpvae_var']`` (their variances),
        ``obsm['spatial_dpvae']`` (coordinates in the reference's units), ``obs['dpvae_radius_50']``,
        ``obs['dpvae_radius_90']`` and ``obs['dpvae_confidence']`` (calibrated per-spot uncertainty) and
        ``uns['dpvae']['placement']``, as ``dpvae run`` does. Returns the AnnData when ``copy``, else None.
        More than half of the model's genes missing from the query is an error unless
        ``allow_missing_genes``. Each reference ``obs`` column named in ``transfer_obs`` (a region, layer or
        cluster) is carried to the query as ``obs['dpvae_<column>']`` with ``obs['dpvae_<column>_prob']``: the
        reference spots around the placement vote, weighted by a Gaussian whose median radius is the spot's
        ``dpvae_radius_50``, as ``dpvae run --transfer-obs`` does.
        """
        model = self._require()
        target = query.copy() if copy else query
        # Placement reads expression only; a query's own coordinates (if any) are the truth for evaluation.
        dataset = to_dataset(target, spatial_key=None, layer=layer)
        result = model.place(dataset, seed=seed, allow_missing_genes=allow_missing_genes)
        target.obsm[OBSM_LATENT] = result[OBSM_LATENT]
        target.obsm[OBSM_LATENT_VAR] = result[OBSM_LATENT_VAR]
        if OBSM_PLACED in result:
            target.obsm[OBSM_PLACED] = result[OBSM_PLACED]
        for column in OBS_UNCERTAINTY:
            if column in result:
                target.obs[column] = np.asarray(result[column])
        for column in transfer_obs:
            _transfer(self.adata, self.spatial_key, column, target)
        uns = dict(target.uns.get(UNS_KEY, {}))
        uns["placement"] = json.loads(result["summary"])
        uns["version"] = _dpvae.__version__
        target.uns[UNS_KEY] = uns
        return target if copy else None

    # -- model directories ----------------------------------------------------------------------------
    def save(self, dir_path: "str | os.PathLike[str]", *, overwrite: bool = False) -> None:
        """Write the model directory ``dpvae embed`` and ``dpvae run`` read; it appears whole or not at all."""
        self._require().save(os.fspath(dir_path), overwrite)

    @classmethod
    def load(cls, dir_path: "str | os.PathLike[str]", adata=None) -> "DpVae":
        """Read a model directory written by ``dpvae train``, ``dpvae run`` or :meth:`save`."""
        self = cls.__new__(cls)
        self.adata = adata
        self.seed = 0
        self.protocol = "recommended"
        self.spatial_key = OBSM_SPATIAL
        self.layer = None
        self.settings = {}
        self._reference = None
        self._history = None
        self._model = _dpvae.load(os.fspath(dir_path))
        return self

    def __repr__(self) -> str:
        state = f"trained, {len(self.genes)} genes" if self.is_trained else "not trained"
        return f"DpVae({state}, protocol={self.protocol!r}, seed={self.seed})"

    def _require(self) -> "_dpvae.Model":
        if self._model is None:
            raise RuntimeError("the model is not trained: call train() or DpVae.load(dir) first")
        return self._model


def _transfer(reference, spatial_key: str, column: str, target) -> None:
    """Carry ``reference.obs[column]`` to the placed ``target`` (see :meth:`DpVae.place`)."""
    if reference is None or column not in reference.obs:
        raise KeyError(f"transfer_obs: the reference has no obs column {column!r}")
    if OBSM_PLACED not in target.obsm:
        raise ValueError("transfer_obs needs a placement in the reference's frame (obsm['spatial_dpvae'])")
    labels = [str(v) for v in reference.obs[column].astype(str)]
    radius = target.obs[OBS_UNCERTAINTY[0]].to_numpy(dtype=float) if OBS_UNCERTAINTY[0] in target.obs else None
    names, prob = _dpvae.transfer_labels(
        np.asarray(reference.obsm[spatial_key], dtype=float),
        labels,
        np.asarray(target.obsm[OBSM_PLACED], dtype=float),
        None if radius is None else list(radius),
    )
    target.obs[f"dpvae_{column}"] = pd.Categorical(names)
    target.obs[f"dpvae_{column}_prob"] = np.asarray(prob)


def _shared(shared_with):
    """The genes of ``shared_with`` (a query AnnData or a list of names), and the query itself as a dataset
    when it is an AnnData (its counts per cell tell training whether it is much shallower than the reference)."""
    if shared_with is None:
        return None, None
    if hasattr(shared_with, "var_names"):
        return None, to_dataset(shared_with, spatial_key=None)
    return [str(g) for g in shared_with], None


class _Progress:
    """A progress bar per ensemble member: tqdm when installed, otherwise a line on stderr every 10%."""

    def __init__(self, members: Optional[int]):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self._tqdm = tqdm
        self._bar = None
        self._member = 0
        self._members = members
        self._last = -1

    def __call__(self, event: str, info: Dict[str, Any]) -> None:
        if event == "start":
            self.close()
            self._member += 1
            label = f"member {self._member}" + (f"/{self._members}" if self._members else "")
            self._epochs = info["epochs"]
            if self._tqdm is not None:
                self._bar = self._tqdm(total=info["epochs"], desc=f"training {label}", unit="epoch")
            else:
                print(f"training {label}: {info['n_train']} spots, up to {info['epochs']} epochs",
                      file=sys.stderr)
        elif event == "epoch":
            if self._bar is not None:
                self._bar.update(1)
                self._bar.set_postfix(loss=f"{info['total']:.4g}")
            else:
                step = max(1, self._epochs // 10)
                if info["epoch"] % step == 0 or info["stopping"]:
                    print(f"  epoch {info['epoch']}/{info['epochs']}  loss {info['total']:.4g}",
                          file=sys.stderr)
        elif event == "finish":
            if self._bar is None:
                stop = " (early stopping)" if info["stopped_early"] else ""
                print(f"  kept epoch {info['best_epoch']} of {info['epochs_run']}{stop}", file=sys.stderr)
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
