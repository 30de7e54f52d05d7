"""dpvae: place cells in a tissue from their gene expression alone (dp-VAE, Zhou & Du 2024).

Train on a spatial reference (raw counts in ``X``, coordinates in ``obsm['spatial']``) and place
expression-only spots or cells in the reference's frame, on AnnData objects in memory::

    import dpvae
    model = dpvae.DpVae(ref, seed=0)
    model.train()
    model.place(query)            # obsm['X_dpvae'], obsm['spatial_dpvae'], obs radii, uns['dpvae']
    dpvae.tl.procrustes(query, "spatial", "spatial_dpvae")

The work is done in Rust (the ``dpvae`` crate) with the GIL released; a model directory saved here is the
one the ``dpvae`` command line reads and writes.
"""

from . import tl
from ._dpvae import __version__
from .model import DpVae

__all__ = ["DpVae", "tl", "__version__"]
