"""A small simulated tissue for the Python tests: spots on a grid with smooth spatial expression programmes
and Poisson counts, split 80/20 into a reference and a query (both keep obsm['spatial'] as the truth)."""

import os
import pathlib

import anndata as ad
import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def simulate(n_side=20, n_genes=60, seed=0):
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.arange(n_side, dtype=float), np.arange(n_side, dtype=float))
    coords = np.column_stack([xs.ravel(), ys.ravel()]) * 100.0
    u = coords / coords.max()
    # Each gene follows a smooth programme of position: gradients, bumps and stripes.
    centres = rng.uniform(0, 1, size=(n_genes, 2))
    widths = rng.uniform(0.15, 0.4, size=n_genes)
    d2 = ((u[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    rate = 1.0 + 20.0 * np.exp(-d2 / (2 * widths**2))
    counts = rng.poisson(rate).astype(np.float32)
    adata = ad.AnnData(X=counts)
    adata.obs_names = [f"spot{i}" for i in range(adata.n_obs)]
    adata.var_names = [f"gene{j}" for j in range(n_genes)]
    adata.obsm["spatial"] = coords
    return adata


@pytest.fixture(scope="session")
def tissue():
    adata = simulate()
    rng = np.random.default_rng(1)
    order = rng.permutation(adata.n_obs)
    n_query = adata.n_obs // 5
    query = adata[np.sort(order[:n_query])].copy()
    reference = adata[np.sort(order[n_query:])].copy()
    return reference, query


# Small and quick: enough to place a simulated tissue well.
FAST = dict(epochs=40, members=2, pca=10, n_hvg=0)


@pytest.fixture(scope="session")
def cli():
    """The dpvae binary (.ci/run builds it with the tests; DPVAE_BIN names another)."""
    path = pathlib.Path(os.environ.get("DPVAE_BIN", REPO / "target" / "debug" / "dpvae"))
    if not path.exists():
        pytest.skip(f"no dpvae binary at {path} (build it with cargo build -p dpvae-cli)")
    return str(path)
