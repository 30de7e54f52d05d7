//! The Preprocess fit/apply split, reference/query alignment and the default parameters.

use dpvae_data::align::{AlignParams, GeneKey};
use dpvae_data::preprocess::hvg::HvgFlavor;
use dpvae_data::preprocess::{FittedPreprocess, HvgParams, Preprocess, QcParams};
use dpvae_data::simulate::SimulateParams;
use dpvae_data::{CsrMatrix, Matrix, SpatialData};
use ndarray::array;

fn section(seed: u64) -> SpatialData {
    SimulateParams {
        n_spots: 300,
        n_genes: 200,
        n_domains: 5,
        seed,
        ..Default::default()
    }
    .simulate()
    .unwrap()
}

#[test]
fn defaults_are_scanpys_and_the_papers() {
    let d = Preprocess::default();
    assert!(d.normalize_total && d.log1p && !d.scale && d.target_sum.is_none());
    assert_eq!(
        d.hvg,
        Some(HvgParams {
            n_top_genes: 2000,
            flavor: HvgFlavor::Seurat,
            n_bins: 20,
            span: 0.3
        })
    );
    let p = Preprocess::paper();
    assert_eq!(p.hvg.as_ref().unwrap().n_top_genes, 100);
    assert_eq!(p.hvg.as_ref().unwrap().flavor, HvgFlavor::Seurat);
    // Serde: a partial JSON fills in defaults, unknown keys are rejected.
    let q: Preprocess =
        serde_json::from_str(r#"{"hvg": {"n_top_genes": 50, "flavor": "seurat_v3"}}"#).unwrap();
    assert_eq!(q.hvg.as_ref().unwrap().flavor, HvgFlavor::SeuratV3);
    assert_eq!(q.hvg.as_ref().unwrap().n_bins, 20);
    assert!(serde_json::from_str::<Preprocess>(r#"{"hvg_genes": 5}"#).is_err());
    assert!(
        Preprocess {
            target_sum: Some(-1.0),
            ..Default::default()
        }
        .check()
        .is_err()
    );
}

#[test]
fn applying_the_fit_to_the_reference_reproduces_it_exactly() {
    let reference = section(1);
    for flavor in [
        HvgFlavor::Seurat,
        HvgFlavor::CellRanger,
        HvgFlavor::SeuratV3,
    ] {
        let p = Preprocess {
            qc: QcParams {
                min_counts: Some(50.0),
                min_cells: Some(3),
                ..Default::default()
            },
            hvg: Some(HvgParams::new(60, flavor)),
            scale: true,
            scale_max_value: Some(10.0),
            ..Default::default()
        };
        let (processed, fitted, report) = p.fit(&reference).unwrap();
        assert!(
            processed.n_vars() >= 60 && processed.n_vars() <= 70,
            "{flavor:?}: {}",
            processed.n_vars()
        );
        assert_eq!(fitted.genes, processed.var_names);
        assert_eq!(
            fitted.target_sum,
            report.normalize.as_ref().map(|n| n.target_sum)
        );
        // The fitted state processes the reference into the same matrix, bit for bit.
        let (again, r) = fitted.apply(&reference).unwrap();
        assert_eq!(r.alignment.n_missing, 0);
        assert_eq!(again.obs_names, processed.obs_names);
        assert_eq!(again.x.to_dense(), processed.x.to_dense(), "{flavor:?}");
        assert!(again.uns.contains_key("preprocess"));
        // Saved as JSON and restored: the same genes and target; the scaling statistics can differ in the last
        // bit (serde_json's default float parser), so the output agrees to f32 rounding.
        let restored = FittedPreprocess::from_json(&fitted.to_json().unwrap()).unwrap();
        assert_eq!(
            (&restored.genes, restored.target_sum),
            (&fitted.genes, fitted.target_sum)
        );
        let (from_disk, _) = restored.apply(&reference).unwrap();
        let (a, b) = (from_disk.x.to_dense(), processed.x.to_dense());
        assert!(
            a.iter()
                .zip(b.iter())
                .all(|(x, y)| (x - y).abs() <= 1e-6 * y.abs().max(1.0)),
            "{flavor:?}"
        );
    }
}

#[test]
fn a_query_is_processed_in_the_reference_gene_space() {
    let reference = section(2);
    let (processed, fitted, _) = Preprocess::paper().fit(&reference).unwrap();
    assert_eq!(processed.n_vars(), 100);
    // A query with genes reversed, lower-cased, and a fifth of them missing.
    let query = section(3);
    let keep: Vec<usize> = (0..query.n_vars()).rev().filter(|j| j % 5 != 0).collect();
    let mut q = query.select_vars(&keep).unwrap();
    q.var_names = q.var_names.iter().map(|g| g.to_lowercase()).collect();
    // Exact matching finds almost nothing: an error naming the problem.
    let err = fitted.apply(&q).unwrap_err().to_string();
    assert!(err.contains("missing from the query"), "{err}");
    let mut ci = fitted.clone();
    ci.params.align.case_insensitive = true;
    let (out, r) = ci.apply(&q).unwrap();
    assert_eq!(out.var_names, fitted.genes);
    let expected_missing = fitted
        .genes
        .iter()
        .filter(|g| reference.var_names.iter().position(|n| n == *g).unwrap() % 5 == 0)
        .count();
    assert_eq!(r.alignment.n_missing, expected_missing);
    assert!(expected_missing > 0);
    // Missing genes are all-zero columns; present genes carry the query's values.
    let dense = out.x.to_dense();
    for (k, g) in fitted.genes.iter().enumerate() {
        let missing = reference.var_names.iter().position(|n| n == g).unwrap() % 5 == 0;
        let col_sum: f32 = dense.column(k).sum();
        if missing {
            assert_eq!(col_sum, 0.0, "{g}");
        }
    }
    assert!(dense.iter().all(|v| v.is_finite() && *v >= 0.0));
}

#[test]
fn alignment_reorders_fills_and_reports() {
    let x = Matrix::Csr(CsrMatrix::from_dense(&array![
        [1.0f32, 2.0, 3.0],
        [4.0, 0.0, 6.0]
    ]));
    let query = SpatialData::new(
        x,
        vec!["a".into(), "b".into()],
        vec!["Gc".into(), "GA".into(), "gx".into()],
        None,
    )
    .unwrap();
    let genes: Vec<String> = vec!["ga".into(), "gb".into(), "gc".into()];
    let p = AlignParams {
        case_insensitive: true,
        ..Default::default()
    };
    let (out, r) = p.align_to(&query, &genes).unwrap();
    assert_eq!(
        out.x.to_dense(),
        array![[2.0f32, 0.0, 1.0], [0.0, 0.0, 4.0]]
    );
    assert_eq!((r.n_matched, r.n_missing, r.n_query_only), (2, 1, 1));
    assert_eq!(r.missing_examples, vec!["gb".to_string()]);
    // Dense input gives the same result.
    let dense_q = SpatialData {
        x: Matrix::Dense(query.x.to_dense()),
        ..query.clone()
    };
    assert_eq!(
        p.align_to(&dense_q, &genes).unwrap().0.x.to_dense(),
        out.x.to_dense()
    );
    // Case-sensitive: nothing matches, above the 50% default.
    assert!(AlignParams::default().align_to(&query, &genes).is_err());
    // The threshold is configurable.
    let lenient = AlignParams {
        max_missing_fraction: 1.0,
        ..Default::default()
    };
    assert_eq!(lenient.align_to(&query, &genes).unwrap().1.n_missing, 3);
    // Ids are required when matching by id.
    let by_id = AlignParams {
        key: GeneKey::Ids,
        ..Default::default()
    };
    assert!(
        by_id
            .align_to(&query, &genes)
            .unwrap_err()
            .to_string()
            .contains("no gene ids")
    );
    let mut with_ids = query.clone();
    with_ids.var_ids = Some(vec!["E3".into(), "E1".into(), "E9".into()]);
    let (o, r) = by_id
        .align_to(&with_ids, &["E1".into(), "E3".into()])
        .unwrap();
    assert_eq!(r.n_missing, 0);
    assert_eq!(o.x.to_dense(), array![[2.0f32, 1.0], [0.0, 4.0]]);
}

/// `normalize_total` + `log1p` of `data`, as scanpy would leave a query (target 1e4).
fn log_normalised(data: &SpatialData) -> SpatialData {
    let mut x = data.x.to_dense();
    for mut row in x.rows_mut() {
        let total: f32 = row.sum();
        if total > 0.0 {
            row.mapv_inplace(|v| (v * 1e4 / total).ln_1p());
        }
    }
    let mut out = data.clone();
    out.x = Matrix::Dense(x);
    out
}

#[test]
fn a_log_normalised_query_or_reference_is_refused_with_what_to_do() {
    let reference = section(5);
    let (_, fitted, _) = Preprocess::recommended().fit(&reference).unwrap();
    let query = log_normalised(&section(6));
    let err = fitted.apply(&query).unwrap_err().to_string();
    assert!(
        err.contains("the query's X")
            && err.contains("log-normalised")
            && err.contains("raw counts"),
        "{err}"
    );
    let err = Preprocess::recommended()
        .fit(&log_normalised(&reference))
        .unwrap_err()
        .to_string();
    assert!(err.contains("the reference's X"), "{err}");
    // Told the data is normalised already, dpvae takes it as it is.
    let as_is = Preprocess {
        normalize_total: false,
        log1p: false,
        ..Preprocess::recommended()
    };
    as_is.fit(&log_normalised(&reference)).unwrap();
    // Normalised without the log (values far above any log's) is only warned about.
    let mut cpm = log_normalised(&section(6));
    cpm.x = Matrix::Dense(cpm.x.to_dense().mapv(|v| v.exp_m1() * 100.0));
    fitted.apply(&cpm).unwrap();
}

#[test]
fn repeated_gene_names_are_found_once_each() {
    let names: Vec<String> = ["A", "b", "a", "B", "c", "b"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        AlignParams::default().duplicates(&names),
        vec!["b".to_string()]
    );
    let ci = AlignParams {
        case_insensitive: true,
        ..Default::default()
    };
    assert_eq!(
        ci.duplicates(&names),
        vec!["a".to_string(), "B".to_string()]
    );
}
