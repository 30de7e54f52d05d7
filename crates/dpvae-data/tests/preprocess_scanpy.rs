//! Preprocessing against scanpy on a small synthetic matrix (fixtures/preprocess/synthetic.json, made by
//! fixtures/preprocess/make_hvg.py with scanpy 1.11 and scikit-misc).

use dpvae_data::preprocess::hvg::{HvgFlavor, HvgParams};
use dpvae_data::preprocess::loess::{Surface, loess_quadratic};
use dpvae_data::preprocess::normalize::{ScaleStats, log1p, normalize_total};
use dpvae_data::preprocess::qc::{QcParams, qc_metrics};
use dpvae_data::{CsrMatrix, Matrix, SpatialData};
use ndarray::Array2;
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/preprocess/synthetic.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture exists")).unwrap()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        v => v.as_f64().expect("a number"),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}

fn idx(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn counts(f: &Value) -> Array2<f32> {
    let rows = f["counts"].as_array().unwrap();
    let g = rows[0].as_array().unwrap().len();
    Array2::from_shape_fn((rows.len(), g), |(i, j)| {
        rows[i][j].as_f64().unwrap() as f32
    })
}

fn dataset(f: &Value, sparse: bool) -> SpatialData {
    let x = counts(f);
    let m = if sparse {
        Matrix::Csr(CsrMatrix::from_dense(&x))
    } else {
        Matrix::Dense(x)
    };
    let names = f["var_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let obs = (0..m.n_rows()).map(|i| format!("s{i}")).collect();
    SpatialData::new(m, obs, names, None).unwrap()
}

/// Equal within `rel` relative tolerance, NaN equal to NaN.
fn close(a: &[f64], b: &[f64], rel: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x.is_nan() || y.is_nan() {
            assert!(x.is_nan() && y.is_nan(), "{what}[{i}]: {x} vs {y}");
        } else if x.is_infinite() || y.is_infinite() {
            assert_eq!(x, y, "{what}[{i}]");
        } else {
            assert!(
                (x - y).abs() <= rel * y.abs().max(1e-12) + 1e-12,
                "{what}[{i}]: {x} vs scanpy {y}"
            );
        }
    }
}

fn flat(m: &Matrix) -> Vec<f64> {
    m.to_dense().iter().map(|&v| v as f64).collect()
}

/// The selections are equal, except for genes whose scanpy normalised dispersion equals scanpy's cut-off to within
/// floating-point noise (this 40-gene matrix puts two genes in each `cell_ranger` bin, so many genes tie at
/// exactly +-0.6745 and the last bit decides).
fn same_selection_up_to_ties(ours: &[usize], scanpy: &[usize], norm: &[f64], n: usize, what: &str) {
    let mut finite: Vec<f64> = norm.iter().copied().filter(|v| !v.is_nan()).collect();
    finite.sort_by(|a, b| b.total_cmp(a));
    let cutoff = finite[n - 1];
    let differing: Vec<usize> = ours
        .iter()
        .filter(|j| !scanpy.contains(j))
        .chain(scanpy.iter().filter(|j| !ours.contains(j)))
        .copied()
        .collect();
    for j in &differing {
        assert!(
            (norm[*j] - cutoff).abs() < 1e-9,
            "{what} top {n}: gene {j} ({}) differs and is not a tie at {cutoff}",
            norm[*j]
        );
    }
    assert!(differing.len() <= 4, "{what} top {n}: {differing:?}");
}

#[test]
fn qc_metrics_and_filters_match_scanpy() {
    let f = fixture();
    let d = dataset(&f, true);
    let m = qc_metrics(&d);
    let q = &f["qc"];
    close(
        &m.total_counts,
        &nums(&q["total_counts"]),
        0.0,
        "total_counts",
    );
    // scanpy sums float32 data in float32 here.
    close(
        &m.pct_counts_mt,
        &nums(&q["pct_counts_mt"]),
        1e-7,
        "pct_counts_mt",
    );
    let as_usize = |v: &Value| nums(v).into_iter().map(|x| x as usize).collect::<Vec<_>>();
    assert_eq!(m.n_genes_by_counts, as_usize(&q["n_genes_by_counts"]));
    assert_eq!(m.n_cells_by_counts, as_usize(&q["n_cells_by_counts"]));
    assert_eq!(
        m.mt_genes,
        vec![1, 2],
        "mt-Co1 and MT-ND1 are mitochondrial, Mtor is not"
    );

    let keep = |v: &Value| -> Vec<usize> {
        nums(v)
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0.0)
            .map(|(i, _)| i)
            .collect()
    };
    let (_, r) = QcParams {
        min_counts: Some(150.0),
        ..Default::default()
    }
    .apply(&d)
    .unwrap();
    assert_eq!(r.kept_spots, keep(&q["filter_cells_min_counts_150"]));
    let (_, r) = QcParams {
        min_genes: Some(25),
        ..Default::default()
    }
    .apply(&d)
    .unwrap();
    assert_eq!(r.kept_spots, keep(&q["filter_cells_min_genes_25"]));
    let (out, r) = QcParams {
        min_cells: Some(50),
        ..Default::default()
    }
    .apply(&d)
    .unwrap();
    assert_eq!(r.kept_genes, keep(&q["filter_genes_min_cells_50"]));
    assert_eq!(out.n_vars(), r.kept_genes.len());
    let (out, r) = QcParams {
        max_pct_mt: Some(5.0),
        ..Default::default()
    }
    .apply(&d)
    .unwrap();
    assert!(
        r.n_spots_removed > 0,
        "the empty spot (NaN mt fraction) at least is removed"
    );
    assert!(qc_metrics(&out).pct_counts_mt.iter().all(|&p| p <= 5.0));
    assert!(
        QcParams {
            min_counts: Some(1e12),
            ..Default::default()
        }
        .apply(&d)
        .is_err()
    );
}

#[test]
fn normalize_log1p_and_scale_match_scanpy() {
    let f = fixture();
    for sparse in [false, true] {
        let mut x = dataset(&f, sparse).x;
        let r = normalize_total(&mut x, None).unwrap();
        assert_eq!(r.target_sum, num(&f["target_sum"]));
        assert_eq!(r.n_zero_total, 1);
        close(&flat(&x), &nums(&f["normalized"]), 0.0, "normalize_total");
        log1p(&mut x);
        close(&flat(&x), &nums(&f["log1p"]), 2e-7, "log1p");
        let s = ScaleStats::fit(&x, Some(3.0)).unwrap();
        // Centring cancels digits; compare on the scale of the data (values are O(1)).
        let scaled = flat(&s.apply(&x).unwrap());
        for (a, b) in scaled.iter().zip(nums(&f["scaled_max_value_3"])) {
            assert!((a - b).abs() < 2e-6, "scale: {a} vs scanpy {b}");
        }
    }
}

#[test]
fn seurat_and_cell_ranger_statistics_and_selection_match_scanpy() {
    let f = fixture();
    let mut x = dataset(&f, true).x;
    normalize_total(&mut x, None).unwrap();
    log1p(&mut x);
    for (flavor, key) in [
        (HvgFlavor::Seurat, "seurat"),
        (HvgFlavor::CellRanger, "cell_ranger"),
    ] {
        let e = &f[key];
        let r = HvgParams::new(10, flavor).fit(&x).unwrap();
        // expm1/log1p on f32 may differ from numpy's (SIMD) versions in the last bit of single values.
        close(&r.means, &nums(&e["means"]), 1e-7, &format!("{key} means"));
        close(
            &r.dispersions,
            &nums(&e["dispersions"]),
            1e-6,
            &format!("{key} dispersions"),
        );
        close(
            &r.dispersions_norm,
            &nums(&e["dispersions_norm"]),
            1e-5,
            &format!("{key} dispersions_norm"),
        );
        let want_norm = nums(&e["dispersions_norm"]);
        same_selection_up_to_ties(&r.selected(), &idx(&e["top10"]), &want_norm, 10, key);
        let r25 = HvgParams::new(25, flavor).fit(&x).unwrap();
        same_selection_up_to_ties(&r25.selected(), &idx(&e["top25"]), &want_norm, 25, key);
    }
    // The high-mean gene 7 sits alone in its seurat bin: normalised dispersion exactly 1, as scanpy sets it.
    let r = HvgParams::new(10, HvgFlavor::Seurat).fit(&x).unwrap();
    assert_eq!(r.dispersions_norm[7], 1.0);
    assert!(
        r.dispersions_norm[0].is_nan(),
        "an unexpressed gene has no dispersion"
    );
    assert_eq!(
        r.dispersions_norm[4], r.dispersions_norm[5],
        "identical genes tie"
    );
}

#[test]
fn seurat_v3_matches_scanpy() {
    let f = fixture();
    let x = dataset(&f, false).x;
    let e = &f["seurat_v3"];
    let r = HvgParams::new(10, HvgFlavor::SeuratV3).fit(&x).unwrap();
    close(&r.means, &nums(&e["means"]), 1e-12, "v3 means");
    close(&r.dispersions, &nums(&e["variances"]), 1e-9, "v3 variances");
    close(
        &r.dispersions_norm,
        &nums(&e["variances_norm"]),
        1e-6,
        "v3 variances_norm",
    );
    assert_eq!(r.selected(), idx(&e["top10"]));
}

#[test]
fn loess_matches_skmisc_for_both_surfaces() {
    let f = fixture();
    let l = &f["loess"];
    let (x, y) = (nums(&l["x"]), nums(&l["y"]));
    let direct = loess_quadratic(&x, &y, 0.3, Surface::Direct).unwrap();
    close(&direct, &nums(&l["direct"]), 1e-9, "loess direct");
    let interp = loess_quadratic(&x, &y, 0.3, Surface::Interpolate).unwrap();
    close(&interp, &nums(&l["interpolate"]), 1e-9, "loess interpolate");
}
