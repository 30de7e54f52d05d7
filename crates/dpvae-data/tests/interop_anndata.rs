//! Proof that dpvae and Python anndata read each other's h5ad files. Runs when `DPVAE_PYTHON` names a Python with
//! anndata (CI: a venv `.ci/run` creates); prints that it was skipped otherwise.
//!
//! dpvae -> anndata: this test writes h5ad files (CSR and dense X, every column kind, obsm, layers, uns['dpvae'])
//! and a JSON sidecar of their values; `fixtures/interop/check_h5ad.py check` reads them with anndata, every warning
//! an error, and compares. anndata -> dpvae: `check_h5ad.py write` writes CSR/gzip, dense float64 and CSC int64
//! files with a sidecar; this test reads them and compares.

use std::path::{Path, PathBuf};
use std::process::Command;

use dpvae_data::io::h5ad::{H5adWriteOptions, read_h5ad, write_h5ad_with};
use dpvae_data::{Matrix, SpatialData};
use polars::prelude::DataFrame;
use serde_json::{Value, json};

mod common;

fn python() -> Option<PathBuf> {
    match std::env::var_os("DPVAE_PYTHON").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            eprintln!(
                "skipped anndata interop: DPVAE_PYTHON is not set (point it at a python with anndata)"
            );
            None
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop/check_h5ad.py")
}

fn run(py: &Path, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg(script())
        .args(args)
        .output()
        .expect("cannot run DPVAE_PYTHON");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "check_h5ad.py {args:?} failed:\n{text}"
    );
    text
}

fn rows(m: &ndarray::Array2<f64>) -> Value {
    Value::Array(m.rows().into_iter().map(|r| json!(r.to_vec())).collect())
}

/// The JSON description of a dataframe, in check_h5ad.py's column kinds.
fn frame_spec(df: &DataFrame) -> Value {
    let mut out = serde_json::Map::new();
    for col in df.columns() {
        let s = col.as_materialized_series();
        let nulls = s.null_count() > 0;
        let (kind, values): (&str, Vec<Value>) = match s.dtype() {
            polars::prelude::DataType::Float64 => {
                ("float", s.f64().unwrap().iter().map(|v| json!(v)).collect())
            }
            polars::prelude::DataType::Int64 => (
                if nulls { "nullable-int" } else { "int" },
                s.i64().unwrap().iter().map(|v| json!(v)).collect(),
            ),
            polars::prelude::DataType::Boolean => (
                if nulls { "nullable-bool" } else { "bool" },
                s.bool().unwrap().iter().map(|v| json!(v)).collect(),
            ),
            _ => {
                let v: Vec<Option<&str>> = s.str().unwrap().iter().collect();
                let mut distinct: Vec<&str> = v.iter().flatten().copied().collect();
                distinct.sort_unstable();
                distinct.dedup();
                // The writer stores repeated or missing strings as a categorical, as anndata does.
                let kind = if nulls || distinct.len() < v.len() {
                    "category"
                } else {
                    "string"
                };
                (kind, v.into_iter().map(|x| json!(x)).collect())
            }
        };
        out.insert(
            col.name().to_string(),
            json!({"kind": kind, "values": values}),
        );
    }
    Value::Object(out)
}

fn expected_json(d: &SpatialData, layout: &str) -> Value {
    let x = d.x.to_dense();
    let mut obsm = serde_json::Map::new();
    obsm.insert("spatial".into(), rows(d.spatial.as_ref().unwrap()));
    for (k, m) in &d.obsm {
        obsm.insert(k.clone(), rows(m));
    }
    let mut var = frame_spec(&d.var);
    if let Some(ids) = &d.var_ids {
        var.as_object_mut()
            .unwrap()
            .insert("gene_ids".into(), json!({"kind": "string", "values": ids}));
    }
    let mut uns = d.uns.clone();
    // What survives the anndata encoding: null dropped, the mixed array as its JSON text.
    let dp = uns.get_mut("dpvae").unwrap().as_object_mut().unwrap();
    dp.remove("note");
    dp.insert("mixed".into(), json!("[1,\"two\"]"));
    json!({
        "obs_names": d.obs_names,
        "var_names": d.var_names,
        "x_layout": layout,
        "X": x.rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
        "obsm": obsm,
        "obs": frame_spec(&d.obs),
        "obs_order": d.obs.get_column_names().iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "var_order": d.var.get_column_names().iter().map(|s| s.to_string()).chain(d.var_ids.as_ref().map(|_| "gene_ids".to_string())).collect::<Vec<_>>(),
        "var": var,
        "uns": uns,
        "layers": {"counts": d.layers["counts"].to_dense().rows().into_iter().map(|r| r.to_vec()).collect::<Vec<_>>()},
    })
}

#[test]
fn anndata_reads_what_dpvae_writes() {
    let Some(py) = python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for (dense, gzip) in [(false, None), (true, Some(4))] {
        let d = common::sample(dense);
        let layout = if dense { "dense" } else { "csr" };
        let h5ad = tmp.path().join(format!("dpvae_{layout}.h5ad"));
        write_h5ad_with(&h5ad, &d, &H5adWriteOptions { gzip }).unwrap();
        let sidecar = tmp.path().join(format!("dpvae_{layout}.json"));
        std::fs::write(
            &sidecar,
            serde_json::to_string(&expected_json(&d, layout)).unwrap(),
        )
        .unwrap();
        let out = run(
            &py,
            &["check", h5ad.to_str().unwrap(), sidecar.to_str().unwrap()],
        );
        assert!(out.contains("ok: anndata"), "{out}");
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

#[test]
fn dpvae_reads_what_anndata_writes() {
    let Some(py) = python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = run(&py, &["write", tmp.path().to_str().unwrap()]);
    let mut n = 0;
    for line in out.lines().filter(|l| l.ends_with(".h5ad")) {
        n += 1;
        let path = PathBuf::from(line.trim());
        let exp: Value =
            serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
                .unwrap();
        let d = read_h5ad(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let what = path.display().to_string();
        assert_eq!(
            d.source.as_ref().unwrap().x_layout,
            exp["x_layout"].as_str().unwrap(),
            "{what}"
        );
        assert_eq!(
            serde_json::to_value(&d.obs_names).unwrap(),
            exp["obs_names"],
            "{what}"
        );
        assert_eq!(
            serde_json::to_value(&d.var_names).unwrap(),
            exp["var_names"],
            "{what}"
        );
        let x = d.x.to_dense();
        for (i, row) in exp["X"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                x.row(i).iter().map(|&v| v as f64).collect::<Vec<_>>(),
                f64s(row),
                "{what}: X row {i}"
            );
        }
        assert!(
            matches!(d.x, Matrix::Csr(_)) == (exp["x_layout"] != "dense"),
            "{what}"
        );
        let sp = d.spatial.as_ref().unwrap();
        for (i, row) in exp["obsm"]["spatial"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(sp.row(i).to_vec(), f64s(row), "{what}: spatial");
        }
        assert_eq!(d.obsm["X_pca"].nrows(), d.n_obs());
        for (df, spec, order) in [
            (&d.obs, &exp["obs"], &exp["obs_order"]),
            (&d.var, &exp["var"], &exp["var_order"]),
        ] {
            let names: Vec<String> = df
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect();
            assert_eq!(
                serde_json::to_value(&names).unwrap(),
                *order,
                "{what}: columns in column-order"
            );
            for (col, cs) in spec.as_object().unwrap() {
                let s = df.column(col).unwrap().as_materialized_series();
                let got: Vec<Value> = match cs["kind"].as_str().unwrap() {
                    "float" => s.f64().unwrap().iter().map(|v| json!(v)).collect(),
                    "int" | "nullable-int" => s.i64().unwrap().iter().map(|v| json!(v)).collect(),
                    "bool" | "nullable-bool" => {
                        s.bool().unwrap().iter().map(|v| json!(v)).collect()
                    }
                    _ => s.str().unwrap().iter().map(|v| json!(v)).collect(),
                };
                assert_eq!(Value::Array(got), cs["values"], "{what}: column {col}");
            }
        }
        assert_eq!(d.var_ids.as_ref().unwrap()[0], "ENSMUSG00000");
        assert_eq!(Value::Object(d.uns.clone()), exp["uns"], "{what}: uns");
        // layers['counts'] as X on request.
        let counts = dpvae_data::io::read_with(
            &path,
            &dpvae_data::io::ReadOptions::default().layer("counts"),
        )
        .unwrap();
        assert_eq!(counts.x.to_dense(), x, "{what}: counts layer");
    }
    assert_eq!(n, 3, "expected three anndata files:\n{out}");
}
