"""Read an h5ad written by the dpvae binary with Python anndata and check what dpvae promises about it.

Usage: anndata_check.py OUTPUT.h5ad EXPECTED.json READ_BACK.json

EXPECTED.json: {"n_obs": int, "latent_dim": int, "configs": {command: settings}}, where each settings object is
what `dpvae COMMAND --print-config` printed. The script asserts that obsm['X_dpvae'] and obsm['spatial_dpvae']
have the right shapes and that uns['dpvae'][command]['config'] equals the printed settings for every command, then
writes the configs as anndata read them to READ_BACK.json, so the caller can feed them back to `--config`.
Every warning is an error.
"""

import importlib.metadata
import json
import math
import sys
import warnings

warnings.simplefilter("error")

import anndata  # noqa: E402
import numpy as np  # noqa: E402


def plain(value):
    """numpy scalars and arrays from anndata as plain Python values."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def same(a, b, where):
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {a} != {b}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, bool) or isinstance(b, bool):
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def main(h5ad, expected_path, read_back_path):
    with open(expected_path) as f:
        expected = json.load(f)
    adata = anndata.read_h5ad(h5ad)
    n, d = expected["n_obs"], expected["latent_dim"]
    assert adata.n_obs == n, (adata.n_obs, n)
    assert adata.obsm["X_dpvae"].shape == (n, d), adata.obsm["X_dpvae"].shape
    assert adata.obsm["spatial_dpvae"].shape == (n, 2), adata.obsm["spatial_dpvae"].shape
    assert np.isfinite(adata.obsm["spatial_dpvae"]).all()
    uns = adata.uns["dpvae"]
    read_back = {}
    for command, settings in expected["configs"].items():
        assert command in uns, f"uns['dpvae'] has no '{command}' (it has {sorted(uns)})"
        stored = plain(uns[command]["config"])
        same(stored, settings, f"uns['dpvae']['{command}']['config']")
        read_back[command] = stored
    with open(read_back_path, "w") as f:
        json.dump(read_back, f)
    print(f"anndata {importlib.metadata.version('anndata')} read {h5ad}: ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
