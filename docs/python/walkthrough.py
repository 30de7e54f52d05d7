"""The walk-through of docs/python.md: hold out 20% of a Visium section, place it with dpvae from expression
alone, and draw truth and placement with scanpy.

    python docs/python/walkthrough.py SECTION.h5ad OUT_DIR

SECTION.h5ad: raw counts in X and obsm['spatial'] (the docs used panel/visium_dlpfc_151673.h5ad of the
shared data). Needs `pip install . scanpy`."""

import sys
import time
from pathlib import Path

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scanpy as sc

import dpvae

section, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)

adata = ad.read_h5ad(section)                     # raw counts (CSR here), coordinates in obsm["spatial"]
rng = np.random.default_rng(0)
held_out = rng.random(adata.n_obs) < 0.2
ref, query = adata[~held_out].copy(), adata[held_out].copy()

t0 = time.perf_counter()
model = dpvae.DpVae(ref, seed=0)                  # dpvae's defaults
model.train(shared_with=query)                    # HVGs among the genes the query has, as `dpvae run`
model.place(query)                                # obsm["spatial_dpvae"], obs radii and confidence, uns["dpvae"]
seconds = time.perf_counter() - t0

fit = dpvae.tl.procrustes(query, "spatial", "spatial_dpvae")
print(f"{ref.n_obs} reference spots, {query.n_obs} placed in {seconds:.0f} s")
print(f"held-out Procrustes disparity {fit['disparity']:.3f}")
print(f"median dpvae_radius_90 {query.obs['dpvae_radius_90'].median():.1f} (reference units)")
err = np.linalg.norm(query.obsm["spatial_dpvae"] - query.obsm["spatial"], axis=1)
print(f"true position within dpvae_radius_90 for {np.mean(err <= query.obs['dpvae_radius_90']):.0%} of spots")
print(model.history[["total", "validation_dp"]].tail(3))

# Truth and placement, coloured by the model gene with the strongest spatial pattern in the query (Moran's I on
# the true positions), and the placement coloured by confidence.
sc.pp.normalize_total(query)
sc.pp.log1p(query)
moran = dpvae.tl.morans_i(query, genes=model.genes[:300], k=6)
gene = moran.idxmax()
print(f"most autocorrelated of the first 300 model genes: {gene} (Moran's I {moran.max():.2f})")
fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
sc.pl.embedding(query, basis="spatial", color=gene, ax=axes[0], show=False, title=f"truth ({gene})")
sc.pl.embedding(query, basis="spatial_dpvae", color=gene, ax=axes[1], show=False,
                title=f"dpvae placement ({gene}), disparity {fit['disparity']:.2f}")
sc.pl.embedding(query, basis="spatial_dpvae", color="dpvae_confidence", ax=axes[2], show=False,
                title="dpvae placement (confidence)")
for ax in axes:
    ax.invert_yaxis()                             # image rows grow downwards, as sc.pl.spatial draws them
    ax.set_aspect("equal")
fig.tight_layout()
fig.savefig(out / "python_walkthrough.png", dpi=80)
