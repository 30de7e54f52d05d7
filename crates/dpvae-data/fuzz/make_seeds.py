"""Write small seed inputs for the fuzz targets into corpus/<target>/ (run from this folder).

h5ad seeds are written by anndata (dense, CSR, CSC, with categorical obs); 10x seeds by h5py in the Cell Ranger
v3 layout; MatrixMarket and ST seeds as the text those formats are. Usage:
    python make_seeds.py   # with anndata, h5py and numpy installed
"""

import io
import os

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

rng = np.random.default_rng(0)
N_SPOTS, N_GENES = 12, 6


def counts():
    return rng.poisson(1.5, size=(N_SPOTS, N_GENES)).astype(np.float32)


def out(target, name):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    return f"corpus/{target}/{name}"


def h5ad_seeds():
    for layout, conv in [("dense", np.asarray), ("csr", sp.csr_matrix), ("csc", sp.csc_matrix)]:
        a = ad.AnnData(conv(counts()))
        a.obs_names = [f"AAC{i:03d}-1" for i in range(N_SPOTS)]
        a.var_names = [f"Gene{j}" for j in range(N_GENES)]
        a.obs["domain"] = pd.Categorical(rng.choice(["L1", "L2", "WM"], N_SPOTS))
        a.obs["n"] = rng.integers(0, 9, N_SPOTS)
        a.obsm["spatial"] = rng.uniform(0, 100, (N_SPOTS, 2))
        a.write_h5ad(out("read_h5ad", f"{layout}.h5ad"))
    a.write_h5ad(out("read_h5ad", "gzip.h5ad"), compression="gzip")


def tenx_seed():
    x = sp.csc_matrix(counts().T.astype(np.int32))  # features x barcodes
    with h5py.File(out("read_10x", "matrix.h5"), "w") as f:
        m = f.create_group("matrix")
        m["data"], m["indices"], m["indptr"] = x.data, x.indices.astype(np.int64), x.indptr.astype(np.int64)
        m["shape"] = np.array(x.shape, dtype=np.int32)
        m["barcodes"] = np.array([f"AAC{i:03d}-1".encode() for i in range(N_SPOTS)])
        feat = m.create_group("features")
        feat["id"] = np.array([f"ENSG{j:05d}".encode() for j in range(N_GENES)])
        feat["name"] = np.array([f"Gene{j}".encode() for j in range(N_GENES)])
        feat["feature_type"] = np.array([b"Gene Expression"] * N_GENES)
        feat["genome"] = np.array([b"GRCh38"] * N_GENES)


def mtx_seed():
    x = sp.coo_matrix(counts().T.astype(np.int64))  # genes x spots
    for field in ["integer", "real"]:
        buf = io.StringIO()
        buf.write(f"%%MatrixMarket matrix coordinate {field} general\n%metadata_json: {{}}\n")
        buf.write(f"{x.shape[0]} {x.shape[1]} {x.nnz}\n")
        for i, j, v in zip(x.row, x.col, x.data):
            buf.write(f"{i + 1} {j + 1} {v if field == 'integer' else float(v)}\n")
        features = "".join(f"ENSG{j:05d}\tGene{j}\tGene Expression\n" for j in range(N_GENES))
        barcodes = "".join(f"AAC{i:03d}-1\n" for i in range(N_SPOTS))
        with open(out("read_mtx", f"{field}.bin"), "wb") as f:
            f.write("\0".join([buf.getvalue(), features, barcodes]).encode())


def st_seed():
    x = counts().astype(int)
    lines = ["\t".join([""] + [f"Gene{j}" for j in range(N_GENES)])]
    lines += ["\t".join([f"{i % 4 + 1}x{i // 4 + 1}"] + [str(v) for v in row]) for i, row in enumerate(x)]
    with open(out("read_st", "counts.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")


h5ad_seeds()
tenx_seed()
mtx_seed()
st_seed()
