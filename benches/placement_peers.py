#!/usr/bin/env python3
"""Run the Python placement peers on the cases of a jobs file and write their predicted coordinates.

    python benches/placement_peers.py --jobs jobs.json --out peers.json \
        [--methods sklearn_knn,sklearn_mlp,sklearn_mlp_ensemble,tangram,celery] [--threads 1]

Settings follow shared/notes/peers.md. Only the reference's coordinates are read; the caller scores the
query's. A missing package or a failure gives that (case, method) `coords: null` and an error message.
"""
import argparse
import os
import sys

METHODS = ["sklearn_knn", "sklearn_mlp", "sklearn_mlp_ensemble", "tangram", "celery"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", required=True, help="jobs JSON written by the Rust benchmark")
    p.add_argument("--out", required=True, help="where to write the peers JSON")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tangram-epochs", type=int, default=500)
    return p.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # BLAS/OpenMP pools are sized when numpy/torch load, so this must precede those imports.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(ARGS.threads)
    os.environ.setdefault("TQDM_DISABLE", "1")  # CeLEry draws a tqdm bar for each of its 500 epochs

import contextlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import anndata  # noqa: E402
import scanpy as sc  # noqa: E402

DISTS = {"sklearn": "scikit-learn", "scanpy": "scanpy", "anndata": "anndata", "numpy": "numpy",
         "torch": "torch", "tangram": "tangram-sc", "CeLEry": "celerypy"}


def package_versions():
    out = {}
    for key, dist in DISTS.items():
        try:
            out[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[key] = None
    return out


# Imported before any timing starts, so no case pays for them; a failed import fails only its method.
NEEDS = {"sklearn_knn": ["sklearn.decomposition", "sklearn.neighbors"],
         "sklearn_mlp": ["sklearn.decomposition", "sklearn.neural_network"],
         "sklearn_mlp_ensemble": ["sklearn.decomposition", "sklearn.neural_network"],
         "tangram": ["torch", "tangram"], "celery": ["torch", "pandas", "CeLEry"]}


def import_for(method):
    try:
        for mod in NEEDS[method]:
            importlib.import_module(mod)
        return None
    except Exception as e:  # ImportError, or a package that breaks while loading
        return f"package missing or broken: {type(e).__name__}: {e}"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Files:
    """Keeps the last few h5ad files read: a jobs file usually reuses one file for many seeds."""

    def __init__(self, keep=2):
        self.keep, self.cache = keep, {}

    def get(self, path):
        if path not in self.cache:
            if len(self.cache) >= self.keep:
                self.cache.pop(next(iter(self.cache)))
            self.cache[path] = anndata.read_h5ad(path)
        return self.cache[path]


def counts_view(adata, rows):
    """Rows of X as float32 CSR in a fresh AnnData that carries no coordinates."""
    x = adata.X[np.asarray(rows, dtype=np.int64)]
    x = sp.csr_matrix(x, dtype=np.float32)
    out = anndata.AnnData(X=x)
    out.var_names = adata.var_names.astype(str)
    out.var_names_make_unique()
    return out


class Case:
    """Shared preprocessing of one case, built once and reused by every method."""

    def __init__(self, job, files):
        self.id, self.seed = job["id"], int(job.get("seed", 0))
        ref_file, qry_file = files.get(job["reference"]), files.get(job["query"])
        t0 = time.perf_counter()  # reading the files is left out: it depends on the cache, not the method
        ref_rows = np.asarray(job["reference_rows"], dtype=np.int64)
        self.ref_xy = np.asarray(ref_file.obsm["spatial"], dtype=np.float64)[ref_rows, :2]
        ref, qry = counts_view(ref_file, ref_rows), counts_view(qry_file, job["query_rows"])
        if ref.n_obs < 2 or qry.n_obs < 1:
            raise ValueError(f"too few spots: {ref.n_obs} reference, {qry.n_obs} query")

        in_query = set(qry.var_names)
        genes = [g for g in ref.var_names if g in in_query]
        if not genes:
            raise ValueError("reference and query share no genes")
        ref, qry = ref[:, genes].copy(), qry[:, genes].copy()

        # One target for both sides, so query and reference expression share a scale.
        target = float(np.median(np.asarray(ref.X.sum(axis=1)).ravel()))
        for a in (ref, qry):
            sc.pp.normalize_total(a, target_sum=target)
            sc.pp.log1p(a)
        self.ref_log, self.qry_log = ref, qry

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hv = sc.pp.highly_variable_genes(ref, flavor="seurat", n_top_genes=min(2000, len(genes)),
                                             inplace=False)
        self.hvgs = [g for g, keep in zip(genes, hv["highly_variable"].to_numpy()) if keep]
        self.ref_hvg = ref[:, self.hvgs].X.toarray()
        self.qry_hvg = qry[:, self.hvgs].X.toarray()
        self.prep_seconds = time.perf_counter() - t0
        self._pcs, self.pca_seconds = None, 0.0

    def pcs(self):
        if self._pcs is None:  # shared by the sklearn methods; each is charged pca_seconds
            from sklearn.decomposition import PCA
            t0 = time.perf_counter()
            k = min(30, self.ref_hvg.shape[0] - 1, self.ref_hvg.shape[1])
            pca = PCA(n_components=k, random_state=self.seed).fit(self.ref_hvg)
            self._pcs = (pca.transform(self.ref_hvg), pca.transform(self.qry_hvg))
            self.pca_seconds = time.perf_counter() - t0
        return self._pcs


def run_knn(case, args):
    from sklearn.neighbors import KNeighborsRegressor
    tr, te = case.pcs()
    knn = KNeighborsRegressor(n_neighbors=min(10, len(tr)), weights="distance")
    return knn.fit(tr, case.ref_xy).predict(te)


def _mlp(case, seeds, **kw):
    from sklearn.neural_network import MLPRegressor
    tr, te = case.pcs()
    mu, sd = case.ref_xy.mean(axis=0), case.ref_xy.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    y = (case.ref_xy - mu) / sd
    preds = [MLPRegressor(max_iter=500, early_stopping=True, random_state=s, **kw).fit(tr, y).predict(te)
             for s in seeds]
    return np.mean(preds, axis=0) * sd + mu


def run_mlp(case, args):
    return _mlp(case, [case.seed], hidden_layer_sizes=(128, 64))


def run_mlp_ensemble(case, args):
    return _mlp(case, [case.seed * 100 + k for k in range(5)], hidden_layer_sizes=(256, 128), alpha=1e-2)


def _torch(threads, seed):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)


def run_tangram(case, args):
    import tangram as tg
    _torch(args.threads, case.seed)  # Tangram skips its own seeding when random_state is 0, so seed here
    # Tangram's dense branch calls ndarray.toarray(); CSR avoids it. pp_adatas edits its inputs in place.
    ad_sc, ad_sp = case.qry_log.copy(), case.ref_log.copy()
    tg.pp_adatas(ad_sc, ad_sp, genes=case.hvgs)
    ad_map = tg.map_cells_to_space(ad_sc, ad_sp, mode="cells", device="cpu",
                                   num_epochs=args.tangram_epochs, verbose=False)
    m = np.asarray(ad_map.X, dtype=np.float64)
    m = m / m.sum(axis=1, keepdims=True)
    return m @ case.ref_xy


def run_celery(case, args):
    import pandas as pd
    import CeLEry as cel
    _torch(args.threads, case.seed)

    def zscored(x):
        a = anndata.AnnData(X=x.astype(np.float32))
        with np.errstate(divide="ignore", invalid="ignore"):
            cel.get_zscore(a)  # each side with its own mean/sd, as CeLEry's tutorial does
        a.X = np.nan_to_num(np.asarray(a.X, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        return a

    train, test = zscored(case.ref_hvg), zscored(case.qry_hvg)
    # Without location_data Fit_cord would read the first two obs columns as coordinates.
    loc = pd.DataFrame(case.ref_xy, columns=["x_cord", "y_cord"])
    # CeLEry prints a line per epoch to stdout; only the progress lines should reach the caller.
    with tempfile.TemporaryDirectory(prefix="celery_") as tmp, open(os.devnull, "w") as quiet, \
            contextlib.redirect_stdout(quiet):
        # Fit_cord pickles the model to {path}/{filename}.obj and Predict_cord reads it back from there.
        # num_workers=0: batches are plain tensor slices, and a worker would be forked for every epoch.
        cel.Fit_cord(train, location_data=loc, hidden_dims=[30, 25, 15], num_epochs_max=500,
                     batch_size=32, num_workers=0, path=tmp, filename="cord", seednum=case.seed)
        unit = np.asarray(cel.Predict_cord(test, path=tmp, filename="cord"), dtype=np.float64)
    # Fit_cord scales each axis to [0, 1] by (v - (min - 1)) / ((max + 1) - (min - 1)) in float32.
    xy = case.ref_xy.astype(np.float32)
    lo, hi = xy.min(axis=0) - 1, xy.max(axis=0) + 1
    return unit * (hi - lo).astype(np.float64) + lo.astype(np.float64)


RUNNERS = {"sklearn_knn": run_knn, "sklearn_mlp": run_mlp, "sklearn_mlp_ensemble": run_mlp_ensemble,
           "tangram": run_tangram, "celery": run_celery}


def write_atomic(path, doc):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".peers-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def main(args):
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in RUNNERS]
    if unknown:
        sys.exit(f"unknown methods: {', '.join(unknown)} (known: {', '.join(METHODS)})")
    with open(args.jobs) as f:
        cases = json.load(f)["cases"]
    doc = {"python": platform.python_version(), "packages": package_versions(), "threads": args.threads,
           "results": []}
    import_errors = {m: import_for(m) for m in methods}
    logging.getLogger().setLevel(logging.WARNING)  # tangram sets the root logger to INFO on import
    files = Files()
    total, done = len(cases) * len(methods), 0
    for job in cases:
        case_id = job.get("id", "?")
        try:
            case, case_error = Case(job, files), None
        except Exception as e:  # the whole case fails the same way for every method
            case, case_error = None, f"preprocessing failed: {type(e).__name__}: {e}"
        for method in methods:
            done += 1
            t0 = time.perf_counter()
            coords, error = None, case_error or import_errors[method]
            if error is None:
                try:
                    if method.startswith("sklearn_"):
                        case.pcs()  # outside this method's clock; pca_seconds is added below
                        t0 = time.perf_counter()
                    xy = np.asarray(RUNNERS[method](case, args), dtype=np.float64)
                    if xy.shape != (case.qry_hvg.shape[0], 2) or not np.isfinite(xy).all():
                        raise ValueError(f"bad prediction: shape {xy.shape}, finite {np.isfinite(xy).all()}")
                    coords = xy.tolist()
                except Exception as e:
                    error = f"{type(e).__name__}: {e}"
            # Each method is charged the shared preprocessing it uses, as if it ran alone.
            seconds = time.perf_counter() - t0
            if case is not None:
                seconds += case.prep_seconds + (case.pca_seconds if method.startswith("sklearn_") else 0.0)
            doc["results"].append({"case": case_id, "method": method, "coords": coords,
                                   "seconds": round(seconds, 3), "error": error})
            log(f"[{done}/{total}] {case_id} {method}: " + (f"ok {seconds:.1f}s" if error is None
                                                             else f"error {error}"))
        write_atomic(args.out, doc)  # after every case, so an interrupted run keeps what it finished
    write_atomic(args.out, doc)


if __name__ == "__main__":
    main(ARGS)
