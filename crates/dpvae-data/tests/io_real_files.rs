//! Every real input under `DPVAE_DATA` loads with the shape MANIFEST.tsv gives, and with the ids, sums and
//! coordinates that anndata / scanpy / pandas / scipy read from the same files
//! (`fixtures/data/reader_reference.json`, made by `fixtures/data/make_reader_reference.py`).

use std::path::{Path, PathBuf};

use dpvae_data::io::{self, FeatureFilter, ReadOptions};
use dpvae_data::testdata::require;
use dpvae_data::{Format, Matrix, SpatialData};
use serde_json::Value;

fn reference() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/data/reader_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (relative path, n_obs, n_vars, x_layout) of every MANIFEST row with a shape.
fn manifest(dir: &Path) -> Vec<(String, usize, usize, String)> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (p, o, v, l) = (col("path"), col("n_obs"), col("n_vars"), col("x_layout"));
    lines
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let n_obs = f.get(o)?.parse().ok()?;
            let n_vars = f.get(v)?.parse().ok()?;
            Some((f[p].to_string(), n_obs, n_vars, f[l].to_string()))
        })
        .collect()
}

fn x_sum(x: &Matrix) -> f64 {
    x.row_sums().iter().sum()
}

fn nnz(x: &Matrix) -> usize {
    match x {
        Matrix::Dense(a) => a.iter().filter(|v| **v != 0.0).count(),
        Matrix::Csr(c) => c.data().iter().filter(|v| **v != 0.0).count(),
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1.0)
}

/// Compare a dataset with its reference entry: shape, ids, sums, coordinates.
fn check_against(data: &SpatialData, r: &Value, what: &str) {
    assert_eq!(
        data.n_obs(),
        r["n_obs"].as_u64().unwrap() as usize,
        "{what}: n_obs"
    );
    assert_eq!(
        data.n_vars(),
        r["n_vars"].as_u64().unwrap() as usize,
        "{what}: n_vars"
    );
    let head = |k: &str| -> Vec<String> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        data.obs_names[..3].to_vec(),
        head("obs_names_head"),
        "{what}: obs names"
    );
    assert_eq!(
        data.obs_names.last().unwrap(),
        r["obs_names_last"].as_str().unwrap(),
        "{what}: last obs name"
    );
    assert_eq!(
        data.var_names[..3].to_vec(),
        head("var_names_head"),
        "{what}: var names"
    );
    let s = x_sum(&data.x);
    assert!(
        close(s, r["x_sum"].as_f64().unwrap(), 1e-6),
        "{what}: X sum {s} vs {}",
        r["x_sum"]
    );
    let row0: f64 = data.x.row_sums()[0];
    assert!(
        close(row0, r["row0_sum"].as_f64().unwrap(), 1e-6),
        "{what}: row 0 sum"
    );
    assert_eq!(
        nnz(&data.x),
        r["nnz"].as_u64().unwrap() as usize,
        "{what}: nonzeros"
    );
    if let Some(first) = r.get("spatial_first") {
        let sp = data
            .spatial
            .as_ref()
            .unwrap_or_else(|| panic!("{what}: no coordinates"));
        let n = sp.nrows();
        for j in 0..2 {
            assert!(
                close(sp[[0, j]], first[j].as_f64().unwrap(), 1e-9),
                "{what}: spatial[0]"
            );
            assert!(
                close(sp[[n - 1, j]], r["spatial_last"][j].as_f64().unwrap(), 1e-9),
                "{what}: spatial[-1]"
            );
            let col_sum: f64 = sp.column(j).sum();
            assert!(
                close(col_sum, r["spatial_sum"][j].as_f64().unwrap(), 1e-9),
                "{what}: spatial sum"
            );
        }
    } else {
        assert!(data.spatial.is_none(), "{what}: unexpected coordinates");
    }
}

#[test]
fn every_h5ad_in_the_manifest_loads_with_its_shape_and_values() {
    let Some(dir) = require("every_h5ad_in_the_manifest_loads", "MANIFEST.tsv")
        .map(|p| p.parent().unwrap().to_path_buf())
    else {
        return;
    };
    let reference = reference();
    let rows = manifest(&dir);
    assert!(rows.len() >= 14, "MANIFEST has {} shaped rows", rows.len());
    let mut h5ads: Vec<(String, usize, usize, String)> = rows
        .into_iter()
        .filter(|r| r.0.ends_with(".h5ad"))
        .collect();
    h5ads.push(("raw/squidpy_test_data.h5ad".into(), 49, 1999, "csr".into()));
    for (rel, n_obs, n_vars, layout) in h5ads {
        let path = dir.join(&rel);
        assert_eq!(io::detect(&path).unwrap(), Format::H5ad);
        let data = io::read(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(
            (data.n_obs(), data.n_vars()),
            (n_obs, n_vars),
            "{rel}: shape"
        );
        let src = data.source.as_ref().unwrap();
        assert_eq!(src.x_layout, layout, "{rel}: layout");
        assert_eq!(src.format, Format::H5ad);
        let r = &reference[&rel];
        check_against(&data, r, &rel);
        let obs_cols: Vec<String> = data
            .obs
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ref_cols: Vec<String> = r["obs_columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(obs_cols, ref_cols, "{rel}: obs columns");
        let mut keys: Vec<String> = data.obsm.keys().cloned().collect();
        if data.spatial.is_some() {
            keys.push("spatial".into());
        }
        keys.sort();
        let ref_keys: Vec<String> = r["obsm_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(keys, ref_keys, "{rel}: obsm keys");
    }
}

#[test]
fn squidpy_fixture_columns_and_uns_match_anndata() {
    let Some(path) = require("squidpy_fixture_columns", "raw/squidpy_test_data.h5ad") else {
        return;
    };
    let r = &reference()["raw/squidpy_test_data.h5ad"];
    let data = io::read(&path).unwrap();
    let in_tissue: i64 = data
        .obs
        .column("in_tissue")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .flatten()
        .sum::<i64>();
    assert_eq!(in_tissue, r["obs_in_tissue_sum"].as_i64().unwrap());
    let leiden: Vec<String> = data
        .obs
        .column("leiden")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .take(5)
        .map(|s| s.unwrap().to_string())
        .collect();
    let ref_leiden: Vec<String> = r["obs_leiden_head"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(leiden, ref_leiden);
    let hv = data
        .var
        .column("highly_variable")
        .unwrap()
        .bool()
        .unwrap()
        .iter()
        .flatten()
        .filter(|b| *b)
        .count();
    assert_eq!(hv as i64, r["var_highly_variable_sum"].as_i64().unwrap());
    let means: f64 = data
        .var
        .column("means")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .sum::<f64>();
    assert!(close(means, r["var_means_sum"].as_f64().unwrap(), 1e-9));
    let ids = data.var_ids.as_ref().unwrap();
    assert_eq!(ids[0], r["var_gene_ids_head"][0].as_str().unwrap());
    assert_eq!(
        data.uns["umap"]["params"]["a"].as_f64().unwrap(),
        r["uns_umap_a"].as_f64().unwrap()
    );
    assert_eq!(
        data.uns["neighbors"]["params"]["method"],
        r["uns_neighbors_method"]
    );
    let sf = &data.uns["spatial"]["V1_Adult_Mouse_Brain"]["scalefactors"];
    assert!(sf["tissue_lowres_scalef"].as_f64().unwrap() > 0.0);
    let pca: f64 = data.obsm["X_pca"].sum();
    assert!(
        close(pca, r["obsm_X_pca_sum"].as_f64().unwrap(), 1e-5),
        "{pca}"
    );
    // obsm['spatial'] is int64 on disk: read as f64 all the same.
    assert_eq!(data.spatial.as_ref().unwrap().ncols(), 2);
}

#[test]
fn layers_are_read_on_request() {
    let Some(path) = require("layers_are_read_on_request", "raw/squidpy_test_data.h5ad") else {
        return;
    };
    // The fixture has an empty `layers` dict: asking for counts names what is (not) there.
    let err = io::read_with(&path, &ReadOptions::default().layer("counts")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("layers['counts']") && msg.contains("missing"),
        "{msg}"
    );
}

fn raw(rel: &str, test: &str) -> Option<PathBuf> {
    require(test, rel)
}

#[test]
fn space_ranger_folders_match_scanpy() {
    let reference = reference();
    for rel in ["raw/visium_cytassist_mouse", "raw/visium_scanpy_fixture"] {
        let Some(path) = raw(rel, "space_ranger_folders_match_scanpy") else {
            return;
        };
        assert_eq!(io::detect(&path).unwrap(), Format::SpaceRanger);
        let data = io::read_with(&path, &ReadOptions::default().require_spatial(true))
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let r = &reference[rel];
        check_against(&data, r, rel);
        let array_row: i64 = data
            .obs
            .column("array_row")
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .flatten()
            .sum::<i64>();
        assert_eq!(array_row, r["array_row_sum"].as_i64().unwrap(), "{rel}");
        let lib = data.uns["spatial"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(
            lib["scalefactors"]["tissue_lowres_scalef"], r["tissue_lowres_scalef"],
            "{rel}"
        );
        assert_eq!(data.source.as_ref().unwrap().format, Format::SpaceRanger);
    }
}

#[test]
fn tenx_h5_alone_reads_all_barcodes_with_gene_ids() {
    let rel = "raw/visium_cytassist_mouse/filtered_feature_bc_matrix.h5";
    let Some(path) = raw(rel, "tenx_h5_alone") else {
        return;
    };
    assert_eq!(io::detect(&path).unwrap(), Format::TenxH5);
    let data = io::read(&path).unwrap();
    let r = &reference()[rel];
    check_against(&data, r, rel);
    assert_eq!(
        data.var_ids.as_ref().unwrap()[..3].to_vec(),
        r["var_ids_head"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    );
    let err = io::read_with(&path, &ReadOptions::default().require_spatial(true)).unwrap_err();
    assert!(err.to_string().contains("obsm['spatial']"), "{err}");
}

#[test]
fn xenium_folder_keeps_gene_expression_and_centroids() {
    let rel = "raw/xenium_mouse_brain";
    let Some(path) = raw(rel, "xenium_folder") else {
        return;
    };
    assert_eq!(io::detect(&path).unwrap(), Format::Xenium);
    let data = io::read(&path).unwrap();
    let r = &reference()[rel];
    check_against(&data, r, rel);
    assert!(data.obs.column("cell_area").is_ok());
    let all = io::read_with(
        &path,
        &ReadOptions::default().feature_types(FeatureFilter::All),
    )
    .unwrap();
    assert_eq!(
        all.n_vars(),
        r["n_vars_all_features"].as_u64().unwrap() as usize
    );
    assert!(close(
        x_sum(&all.x),
        r["x_sum_all_features"].as_f64().unwrap(),
        1e-6
    ));
    let probes = io::read_with(
        &path,
        &ReadOptions::default()
            .feature_types(FeatureFilter::Types(vec!["Negative Control Probe".into()])),
    )
    .unwrap();
    assert_eq!(probes.n_vars(), 27);
}

#[test]
fn matrix_market_folder_joins_its_coordinate_table() {
    let rel = "raw/mtx_lymph_node";
    let Some(path) = raw(rel, "matrix_market_folder") else {
        return;
    };
    assert_eq!(io::detect(&path).unwrap(), Format::MatrixMarket);
    let data = io::read(&path).unwrap();
    check_against(&data, &reference()[rel], rel);
    let join = &data.uns["dpvae_io"]["coords_join"];
    assert_eq!(join["matched"], 1000);
    assert_eq!(join["missing_in_table"], 0);
}

#[test]
fn legacy_st_table_with_and_without_alignment() {
    let Some(dir) = raw("raw/st_tsv_hippo1", "legacy_st_table") else {
        return;
    };
    let reference = reference();
    assert_eq!(io::detect(&dir).unwrap(), Format::StTsv);
    let data = io::read(&dir).unwrap();
    let r = &reference["raw/st_tsv_hippo1"];
    check_against(&data, r, "st folder");
    let ax: f64 = data
        .obs
        .column("array_x")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .sum::<f64>();
    assert!(close(ax, r["array_x_sum"].as_f64().unwrap(), 1e-9));
    // The same spots as the panel h5ad made from this table.
    if let Some(panel) = require("legacy_st_table", "panel/st_mouse_brain_hippo1.h5ad") {
        let p = io::read(&panel).unwrap();
        assert_eq!(p.obs_names, data.obs_names);
        assert_eq!(p.x.to_dense(), data.x.to_dense());
    }
    // An explicit file in a temp folder without its alignment table: array coordinates from the spot ids.
    let tmp = tempfile::tempdir().unwrap();
    let lone = tmp.path().join("Hippo1.tsv.gz");
    std::fs::copy(dir.join("Hippo1.tsv.gz"), &lone).unwrap();
    let counts_only = io::read(&lone).unwrap();
    check_against(
        &counts_only,
        &reference["raw/st_tsv_hippo1/Hippo1.tsv.gz"],
        "st counts only",
    );
}

#[test]
fn visium_positions_files_parse() {
    let Some(dir) = raw("raw/visium_positions", "visium_positions_files_parse") else {
        return;
    };
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path().join("tissue_positions_list.csv");
        let pos = io::spaceranger::read_tissue_positions(&p).unwrap();
        // Every Visium v1 slide has the full 4992-spot array.
        assert_eq!(pos.barcodes.len(), 4992, "{}", p.display());
        assert!(pos.in_tissue.iter().all(|&v| v == 0 || v == 1));
    }
}
