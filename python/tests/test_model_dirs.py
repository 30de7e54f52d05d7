"""Model directories are shared with the command line, and Ctrl-C leaves nothing half-written."""

import os
import signal
import subprocess
import threading

import anndata as ad
import numpy as np
import pytest

import dpvae
from conftest import FAST


def cli_flags(seed):
    return ["--quiet", "--seed", str(seed), "--epochs", str(FAST["epochs"]), "--members",
            str(FAST["members"]), "--pca", str(FAST["pca"]), "--hvg", str(FAST["n_hvg"])]


def test_same_seed_same_placement_as_dpvae_run(tissue, cli, tmp_path):
    reference, query = tissue
    reference.write_h5ad(tmp_path / "ref.h5ad")
    query.write_h5ad(tmp_path / "query.h5ad")
    out = tmp_path / "run"
    subprocess.run([cli, "run", str(tmp_path / "ref.h5ad"), str(tmp_path / "query.h5ad"), "--out", str(out),
                    *cli_flags(7)], check=True)
    from_cli = ad.read_h5ad(out / "query_dpvae.h5ad")

    q = query.copy()
    dpvae.DpVae(reference, seed=7, **FAST).train(shared_with=q, quiet=True).place(q)
    np.testing.assert_array_equal(q.obsm["spatial_dpvae"], from_cli.obsm["spatial_dpvae"])
    np.testing.assert_array_equal(q.obsm["X_dpvae"], from_cli.obsm["X_dpvae"])
    np.testing.assert_array_equal(q.obs["dpvae_radius_90"].to_numpy(), from_cli.obs["dpvae_radius_90"].to_numpy())


def test_cli_model_in_python_and_back(tissue, cli, tmp_path):
    reference, query = tissue
    reference.write_h5ad(tmp_path / "ref.h5ad")
    query.write_h5ad(tmp_path / "query.h5ad")
    subprocess.run([cli, "train", str(tmp_path / "ref.h5ad"), "--out", str(tmp_path / "cli_model"),
                    *cli_flags(3)], check=True)
    model = dpvae.DpVae.load(tmp_path / "cli_model")
    q = query.copy()
    model.place(q)
    # Saved again from Python, `dpvae embed` places the query exactly as Python did.
    model.save(tmp_path / "py_model")
    subprocess.run([cli, "--quiet", "embed", str(tmp_path / "py_model"), str(tmp_path / "query.h5ad"),
                    "--out", str(tmp_path / "embedded.h5ad")], check=True)
    embedded = ad.read_h5ad(tmp_path / "embedded.h5ad")
    np.testing.assert_array_equal(embedded.obsm["spatial_dpvae"], q.obsm["spatial_dpvae"])


def test_save_refuses_to_overwrite(tissue, tmp_path):
    reference, _ = tissue
    model = dpvae.DpVae(reference, seed=0, **dict(FAST, epochs=3, members=1)).train(quiet=True)
    target = tmp_path / "model"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(target)
    assert (target / "notes.txt").read_text() == "mine"
    # A model directory is replaced only when it holds nothing dpvae did not write.
    model.save(tmp_path / "replaced")
    (tmp_path / "replaced" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"did not write \(notes.txt\)"):
        model.save(tmp_path / "replaced", overwrite=True)
    assert (tmp_path / "replaced" / "notes.txt").read_text() == "mine"
    (tmp_path / "replaced" / "notes.txt").unlink()
    model.save(tmp_path / "replaced", overwrite=True)
    model.save(tmp_path / "fresh")
    assert dpvae.DpVae.load(tmp_path / "fresh").genes == model.genes


def test_loading_a_missing_or_broken_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        dpvae.DpVae.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises((OSError, ValueError), match="empty"):
        dpvae.DpVae.load(tmp_path / "empty")


class _InterruptAtEpoch:
    """A progress callback that has another thread send SIGINT at epoch 2, while Rust goes on training with
    the GIL released: what a Ctrl-C in a notebook does."""

    def __init__(self, members=None):
        self.events = []

    def __call__(self, event, info):
        self.events.append((event, info.get("epoch")))
        if event == "epoch" and info["epoch"] == 2:
            threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT)).start()

    def close(self):
        pass


def test_ctrl_c_during_training_stops_between_epochs(tissue):
    reference, _ = tissue
    model = dpvae.DpVae(reference, seed=0, **dict(FAST, epochs=100000, members=1))
    progress = _InterruptAtEpoch()
    params = dict(model.settings, seed=0)
    with pytest.raises(KeyboardInterrupt):
        dpvae._dpvae.fit(model._reference, "recommended", params, None, progress)
    epochs = [e for kind, e in progress.events if kind == "epoch"]
    assert progress.events[0][0] == "start" and "finish" not in [k for k, _ in progress.events]
    assert 2 <= max(epochs) < 10, f"training went on to epoch {max(epochs)}"


def test_ctrl_c_leaves_no_model(tissue, tmp_path, monkeypatch):
    reference, _ = tissue
    model = dpvae.DpVae(reference, seed=0, **dict(FAST, epochs=100000, members=1))
    monkeypatch.setattr(dpvae.model, "_Progress", _InterruptAtEpoch)
    with pytest.raises(KeyboardInterrupt):
        model.train()
    assert not model.is_trained
    with pytest.raises(RuntimeError, match="not trained"):
        model.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()
    # The model trains normally afterwards.
    model.settings.update(epochs=3)
    model.train(quiet=True)
    assert model.is_trained
