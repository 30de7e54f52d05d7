"""dpvae.tl against scipy and numpy on the same inputs."""

import numpy as np
import pytest
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.distance import pdist

import dpvae


def test_procrustes_equals_scipy(tissue):
    _, query = tissue
    q = query.copy()
    rng = np.random.default_rng(0)
    truth = q.obsm["spatial"]
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    q.obsm["estimate"] = 0.01 * truth @ rot + 5 + rng.normal(scale=1.0, size=truth.shape)
    fit = dpvae.tl.procrustes(q, "spatial", "estimate")
    _, _, expected = scipy_procrustes(truth, q.obsm["estimate"])
    assert fit["disparity"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert fit["aligned"].shape == truth.shape
    with pytest.raises(ValueError, match="obsm\\['nope'\\]"):
        dpvae.tl.procrustes(q, "spatial", "nope")


def morans_i_binary_knn(coords, x, k):
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    w = np.zeros_like(d)
    nn = np.argsort(d, axis=1, kind="stable")[:, :k]
    w[np.arange(len(x))[:, None], nn] = 1.0
    z = x - x.mean()
    return len(x) / w.sum() * (z @ w @ z) / (z @ z)


def test_morans_i_matches_its_definition(tissue):
    reference, _ = tissue
    a = reference.copy()
    # Jitter breaks the grid's distance ties, which the reference formula above would order differently.
    a.obsm["spatial"] = a.obsm["spatial"] + np.random.default_rng(2).normal(scale=1e-3, size=(a.n_obs, 2))
    genes = list(a.var_names[:3])
    table = dpvae.tl.autocorr(a, genes=genes, k=5)
    for g in genes:
        x = np.asarray(a[:, g].X, dtype=float).ravel()
        assert table.loc[g, "moran_i"] == pytest.approx(morans_i_binary_knn(a.obsm["spatial"], x, 5), rel=1e-9)
    assert (dpvae.tl.morans_i(a, genes=genes, k=5) == table["moran_i"]).all()
    assert set(dpvae.tl.gearys_c(a, genes=genes).index) == set(genes)
    with pytest.raises(ValueError, match="exactly one"):
        dpvae.tl.autocorr(a)


def test_distance_correlation_is_pearson_of_pairwise_distances(tissue):
    reference, _ = tissue
    a = reference.copy()
    x = np.asarray(a.X, dtype=float)
    res = dpvae.tl.distance_correlation(a)
    expected = np.corrcoef(pdist(x), pdist(a.obsm["spatial"]))[0, 1]
    assert res["r"] == pytest.approx(expected, rel=1e-9)
    assert res["ci_low"] < res["r"] < res["ci_high"]
    assert res["n_pairs"] == a.n_obs * (a.n_obs - 1) // 2
    assert res["sampling_se"] is None, "every pair was used"
