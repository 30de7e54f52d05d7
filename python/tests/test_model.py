"""Fit on a reference AnnData and place a query in memory: slots, accuracy, determinism, inputs."""

import anndata
import numpy as np
import pytest
import scipy.sparse as sp

import dpvae
from conftest import FAST


@pytest.fixture(scope="module")
def trained(tissue):
    reference, _ = tissue
    return dpvae.DpVae(reference, seed=0, **FAST).train(quiet=True)


def test_place_fills_the_anndata_slots(tissue, trained):
    _, query = tissue
    q = query.copy()
    assert trained.place(q) is None
    assert q.obsm["X_dpvae"].shape == (q.n_obs, 2)
    assert q.obsm["X_dpvae_var"].shape == (q.n_obs, 2)
    assert q.obsm["spatial_dpvae"].shape == (q.n_obs, 2)
    for column in ("dpvae_radius_50", "dpvae_radius_90", "dpvae_confidence"):
        assert np.isfinite(q.obs[column]).all()
    assert (q.obs["dpvae_radius_90"] >= q.obs["dpvae_radius_50"]).all()
    assert q.uns["dpvae"]["placement"]["frame"] == "reference"
    assert q.uns["dpvae"]["version"] == dpvae.__version__
    fit = dpvae.tl.procrustes(q, "spatial", "spatial_dpvae")
    assert fit["disparity"] < 0.35, fit["disparity"]
    # In the reference's frame and units already: the median error is a fraction of the 1900-unit tissue.
    err = np.linalg.norm(q.obsm["spatial_dpvae"] - q.obsm["spatial"], axis=1)
    assert np.median(err) < 400, np.median(err)


def test_history_is_a_dataframe(trained):
    h = trained.history
    assert list(h.columns[:5]) == ["recon", "kl", "dp", "total", "lambda"]
    assert h.index.name == "epoch" and 1 <= len(h) <= FAST["epochs"]
    assert np.isfinite(h["total"]).all()


def test_copy_leaves_the_query_alone(tissue, trained):
    _, query = tissue
    q = query.copy()
    out = trained.place(q, copy=True)
    assert "spatial_dpvae" in out.obsm and "spatial_dpvae" not in q.obsm


def test_same_seed_same_placement_dense_csr_and_csc(tissue, trained):
    reference, query = tissue
    placed = trained.place(query, copy=True).obsm["spatial_dpvae"]
    for convert in (sp.csr_matrix, sp.csc_matrix):
        ref = reference.copy()
        ref.X = convert(ref.X)
        q = query.copy()
        q.X = convert(q.X)
        again = dpvae.DpVae(ref, seed=0, **FAST).train(quiet=True).place(q, copy=True)
        np.testing.assert_array_equal(again.obsm["spatial_dpvae"], placed)
    other = dpvae.DpVae(reference, seed=1, **FAST).train(quiet=True).place(query, copy=True)
    assert not np.array_equal(other.obsm["spatial_dpvae"], placed)


def test_missing_spatial_is_a_clear_error(tissue):
    reference, _ = tissue
    ref = reference.copy()
    del ref.obsm["spatial"]
    with pytest.raises(ValueError, match=r"obsm\['spatial'\] is missing"):
        dpvae.DpVae(ref)


def test_unknown_setting_and_bad_value(tissue):
    reference, _ = tissue
    with pytest.raises(TypeError, match="unknown settings"):
        dpvae.DpVae(reference, alpha=3)
    with pytest.raises(ValueError, match="alpha2"):
        dpvae.DpVae(reference, alpha2=float("nan")).train(quiet=True)
    with pytest.raises(ValueError, match="mask"):
        dpvae.DpVae(reference, mask="knn:6.9").train(quiet=True)


def test_genes_that_do_not_overlap(tissue, trained):
    _, query = tissue
    q = query.copy()
    q.var_names = [f"other{j}" for j in range(q.n_vars)]
    with pytest.raises(ValueError, match="missing from the query"):
        trained.place(q)
    # Most genes missing: refused unless allowed; allowed, it places.
    q = query[:, :20].copy()
    with pytest.raises(ValueError, match="missing from the query"):
        trained.place(q)
    trained.place(q, allow_missing_genes=True)
    assert q.obsm["spatial_dpvae"].shape == (q.n_obs, 2)


def test_shared_with_picks_genes_the_query_has(tissue):
    reference, query = tissue
    q = query[:, :30].copy()
    model = dpvae.DpVae(reference, seed=0, **dict(FAST, epochs=5, members=1)).train(shared_with=q, quiet=True)
    assert set(model.genes) <= set(q.var_names)
    model.place(q)


def test_untrained_model_says_so(tissue):
    reference, query = tissue
    with pytest.raises(RuntimeError, match="not trained"):
        dpvae.DpVae(reference).place(query.copy())


def test_help_documents_the_api():
    assert "obsm['spatial_dpvae']" in dpvae.DpVae.place.__doc__
    assert "Parameters" in dpvae.DpVae.__doc__
    assert dpvae._dpvae.fit.__doc__


def test_placed_anndata_writes_and_reads_back(tissue, trained, tmp_path):
    _, query = tissue
    q = query.copy()
    trained.place(q)
    q.write_h5ad(tmp_path / "placed.h5ad")
    back = anndata.read_h5ad(tmp_path / "placed.h5ad")
    np.testing.assert_array_equal(back.obsm["spatial_dpvae"], q.obsm["spatial_dpvae"])
    assert back.uns["dpvae"]["placement"]["members"] == FAST["members"]
    assert list(back.obs.columns) == ["dpvae_radius_50", "dpvae_radius_90", "dpvae_confidence"]


def test_transfer_obs_carries_a_reference_label(tissue, trained):
    reference, query = tissue
    # A label the position decides: the left and right halves of the tissue.
    trained.adata.obs["half"] = np.where(reference.obsm["spatial"][:, 0] < 1000, "left", "right")
    q = query.copy()
    trained.place(q, transfer_obs=["half"])
    truth = np.where(q.obsm["spatial"][:, 0] < 1000, "left", "right")
    got = q.obs["dpvae_half"].astype(str).to_numpy()
    assert (got == truth).mean() > 0.8, (got == truth).mean()
    prob = q.obs["dpvae_half_prob"].to_numpy()
    assert ((prob > 0) & (prob <= 1)).all()
    # Spots placed near the boundary are less sure than those far from it.
    dist = np.abs(q.obsm["spatial_dpvae"][:, 0] - 950)
    assert prob[dist > 500].mean() > prob[dist < 200].mean()
    with pytest.raises(KeyError, match="no obs column"):
        trained.place(query.copy(), transfer_obs=["nope"])
    del trained.adata.obs["half"]
