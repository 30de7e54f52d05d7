//! Write -> read round trips in Rust: h5ad (dense and CSR X, every column kind, obsm, layers, uns), coordinate
//! tables (CSV and Parquet), and the guarantee that a failed write leaves nothing behind.

mod common;

use common::sample;

use dpvae_data::io::h5ad::{H5adWriteOptions, read_h5ad, write_h5ad, write_h5ad_with};
use dpvae_data::io::tables::{CoordTable, read_coords, write_coords_csv, write_coords_parquet};
use dpvae_data::io::{self, ReadOptions};
use dpvae_data::{Matrix, SpatialData};
use ndarray::{Array2, array};
use serde_json::json;

fn assert_same(a: &SpatialData, b: &SpatialData) {
    assert_eq!(a.x.to_dense(), b.x.to_dense());
    assert_eq!(a.x.layout(), b.x.layout());
    assert_eq!(a.obs_names, b.obs_names);
    assert_eq!(a.var_names, b.var_names);
    assert_eq!(a.var_ids, b.var_ids);
    assert_eq!(a.spatial, b.spatial);
    assert_eq!(a.obsm, b.obsm);
    for col in a.obs.columns() {
        let other = b
            .obs
            .column(col.name())
            .unwrap_or_else(|_| panic!("obs column {} lost", col.name()));
        let x = col.as_materialized_series();
        let y = other.as_materialized_series();
        assert!(
            x.equals_missing(y),
            "obs column {}: {x:?} vs {y:?}",
            col.name()
        );
    }
    let names: Vec<String> = b
        .obs
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let expected: Vec<String> = a
        .obs
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, expected, "column order");
    assert!(
        b.var
            .column("highly_variable")
            .unwrap()
            .as_materialized_series()
            .equals(
                a.var
                    .column("highly_variable")
                    .unwrap()
                    .as_materialized_series()
            )
    );
}

#[test]
fn h5ad_round_trip_csr_and_dense() {
    let dir = tempfile::tempdir().unwrap();
    for dense in [false, true] {
        let d = sample(dense);
        let path = dir.path().join(format!("rt_{dense}.h5ad"));
        write_h5ad(&path, &d).unwrap();
        let back = read_h5ad(&path).unwrap();
        assert_same(&d, &back);
        let p = &back.uns["dpvae"]["params"];
        assert_eq!(p["latent_dim"], 2);
        assert_eq!(p["lambda"], 0.75);
        assert_eq!(p["dp_loss"], true);
        assert_eq!(p["hidden"], json!([124, 64]));
        assert_eq!(back.uns["dpvae"]["genes"], json!(["Gfap", "Mbp"]));
        assert_eq!(back.uns["dpvae"]["version"], "0.1.0");
        // null has no anndata encoding; mixed arrays are kept as their JSON text.
        assert!(back.uns["dpvae"].get("note").is_none());
        assert_eq!(back.uns["dpvae"]["mixed"], "[1,\"two\"]");
        assert_eq!(
            back.source.as_ref().unwrap().x_layout,
            if dense { "dense" } else { "csr" }
        );
        // The counts layer comes back as X on request.
        let counts = io::read_with(&path, &ReadOptions::default().layer("counts")).unwrap();
        assert_eq!(counts.x.to_dense(), d.layers["counts"].to_dense());
    }
}

#[test]
fn h5ad_gzip_round_trip_is_identical_and_smaller() {
    let dir = tempfile::tempdir().unwrap();
    // A larger, compressible matrix so gzip has something to do.
    let x = Array2::from_shape_fn((200, 50), |(i, j)| {
        if (i + j) % 7 == 0 {
            (i % 5) as f32
        } else {
            0.0
        }
    });
    let names: Vec<String> = (0..200).map(|i| format!("spot{i}")).collect();
    let genes: Vec<String> = (0..50).map(|j| format!("g{j}")).collect();
    let coords = Array2::from_shape_fn((200, 2), |(i, j)| (i * (j + 1)) as f64);
    let d = SpatialData::new(Matrix::Dense(x), names, genes, Some(coords)).unwrap();
    let plain = dir.path().join("plain.h5ad");
    let packed = dir.path().join("packed.h5ad");
    write_h5ad(&plain, &d).unwrap();
    write_h5ad_with(&packed, &d, &H5adWriteOptions { gzip: Some(6) }).unwrap();
    let a = read_h5ad(&plain).unwrap();
    let b = read_h5ad(&packed).unwrap();
    assert_eq!(a.x, b.x);
    assert_eq!(a.spatial, b.spatial);
    let (sa, sb) = (
        std::fs::metadata(&plain).unwrap().len(),
        std::fs::metadata(&packed).unwrap().len(),
    );
    assert!(sb < sa, "gzip file {sb} not smaller than plain {sa}");
}

#[test]
fn invalid_dataset_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.h5ad");
    let mut d = sample(false);
    d.obs_names[1] = d.obs_names[0].clone();
    let err = write_h5ad(&path, &d).unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a failed write left a file"
    );
}

#[test]
fn coordinate_tables_round_trip_in_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(false);
    let table = CoordTable::from_spatial(&d, None)
        .unwrap()
        .with_column("error_um", vec![0.5, 1.0, 1.5, 2.0, 2.5])
        .unwrap();
    for name in ["coords.csv", "coords.parquet"] {
        let path = dir.path().join(name);
        if name.ends_with(".csv") {
            write_coords_csv(&path, &table).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("barcode,x,y,error_um\n"), "{text}");
        } else {
            write_coords_parquet(&path, &table).unwrap();
        }
        let back = read_coords(&path).unwrap();
        assert_eq!(back, table, "{name}");
    }
    // 3-D coordinates and the embedding slots.
    let z = CoordTable::new(
        d.obs_names.clone(),
        Array2::from_shape_fn((5, 3), |(i, j)| (i + j) as f64),
    )
    .unwrap();
    let path = dir.path().join("z.parquet");
    write_coords_parquet(&path, &z).unwrap();
    assert_eq!(read_coords(&path).unwrap().coords.ncols(), 3);
    let emb = CoordTable::from_spatial(&d, Some("spatial_dpvae")).unwrap();
    assert_eq!(emb.coords, d.obsm["spatial_dpvae"]);
    assert!(CoordTable::new(vec!["a".into(), "a".into()], Array2::zeros((2, 2))).is_err());
}

#[test]
fn a_coordinate_table_replaces_coordinates_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample(false);
    let h5ad = dir.path().join("d.h5ad");
    write_h5ad(&h5ad, &d).unwrap();
    // A table that misses one spot and has one spot the matrix does not: the join reports both.
    let table = dir.path().join("new.csv");
    std::fs::write(&table, "barcode,x,y,score\nCCTA-1,10,11,0.5\nAAAC-1,12,13,0.25\nGGTT-1,1,2,0\nTTTA-1,3,4,1\nZZZZ-1,0,0,0\n").unwrap();
    let joined = io::read_with(&h5ad, &ReadOptions::default().coords(&table)).unwrap();
    assert_eq!(
        joined.obs_names,
        vec!["AAAC-1", "CCTA-1", "GGTT-1", "TTTA-1"]
    );
    assert_eq!(
        joined.spatial.as_ref().unwrap().row(1).to_vec(),
        vec![10.0, 11.0]
    );
    let report = &joined.uns["dpvae_io"]["coords_join"];
    assert_eq!(report["missing_in_table"], 1);
    assert_eq!(report["missing_examples"], json!(["AAAG-1"]));
    assert_eq!(report["extra_in_table"], 1);
    assert_eq!(
        joined.obs.column("score").unwrap().f64().unwrap().get(1),
        Some(0.5)
    );
    // No barcode in common is an error naming both sides.
    std::fs::write(&table, "barcode,x,y\nnope,1,2\n").unwrap();
    let err = io::read_with(&h5ad, &ReadOptions::default().coords(&table))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no barcode in common") && err.contains("AAAC-1"),
        "{err}"
    );
}

#[test]
fn detection_by_extension_and_folder_contents() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let touch = |rel: &str| {
        let f = p.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, b"").unwrap();
    };
    touch("a.h5ad");
    touch("m.h5");
    touch("st/Hippo.tsv.gz");
    touch("sr/filtered_feature_bc_matrix.h5");
    touch("sr/spatial/tissue_positions.csv");
    touch("xe/cell_feature_matrix.h5");
    touch("xe/cells.csv.gz");
    touch("mx/matrix.mtx.gz");
    touch("nothing/readme.md");
    use dpvae_data::Format::*;
    assert_eq!(io::detect(&p.join("a.h5ad")).unwrap(), H5ad);
    assert_eq!(io::detect(&p.join("m.h5")).unwrap(), TenxH5);
    assert_eq!(io::detect(&p.join("st/Hippo.tsv.gz")).unwrap(), StTsv);
    assert_eq!(io::detect(&p.join("st")).unwrap(), StTsv);
    assert_eq!(io::detect(&p.join("sr")).unwrap(), SpaceRanger);
    assert_eq!(io::detect(&p.join("xe")).unwrap(), Xenium);
    assert_eq!(io::detect(&p.join("mx")).unwrap(), MatrixMarket);
    let err = io::detect(&p.join("nothing")).unwrap_err().to_string();
    assert!(err.contains("not a supported input"), "{err}");
    assert!(io::detect(&p.join("missing.h5ad")).is_err());
}

#[test]
fn mtx_folder_from_scratch_with_features_types_and_tsv_coords() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // genes x spots: 3 genes (one antibody), 2 spots; a duplicate entry is summed as scipy does.
    std::fs::write(
        p.join("matrix.mtx"),
        "%%MatrixMarket matrix coordinate integer general\n%c\n3 2 4\n1 1 5\n3 2 2\n2 2 1\n3 2 1\n",
    )
    .unwrap();
    std::fs::write(
        p.join("features.tsv"),
        "E1\tGeneA\tGene Expression\nE2\tGeneB\tGene Expression\nA1\tCD3\tAntibody Capture\n",
    )
    .unwrap();
    std::fs::write(p.join("barcodes.tsv"), "s1\ns2\n").unwrap();
    std::fs::write(p.join("spots.tsv"), "barcode\tx\ty\ns2\t3\t4\ns1\t1\t2\n").unwrap();
    let d = io::read_with(p, &ReadOptions::default().coords(p.join("spots.tsv"))).unwrap();
    assert_eq!(d.var_names, vec!["GeneA", "GeneB"]);
    assert_eq!(
        d.var_ids.as_ref().unwrap(),
        &vec!["E1".to_string(), "E2".to_string()]
    );
    assert_eq!(d.x.to_dense(), array![[5.0f32, 0.0], [0.0, 1.0]]);
    assert_eq!(d.spatial.unwrap(), array![[1.0, 2.0], [3.0, 4.0]]);
    let all = io::read_with(
        p,
        &ReadOptions::default().feature_types(io::FeatureFilter::All),
    )
    .unwrap();
    assert_eq!(
        all.x.to_dense(),
        array![[5.0f32, 0.0, 0.0], [0.0, 1.0, 3.0]]
    );
    assert!(all.spatial.is_none());
}
