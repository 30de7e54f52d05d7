//! Shared test fixtures: a small dataset exercising every slot the h5ad writer handles.

use std::collections::BTreeMap;

use dpvae_data::{CsrMatrix, Matrix, SpatialData};
use ndarray::{Array2, array};
use polars::prelude::{Column, DataFrame};
use serde_json::json;

/// A small dataset exercising every slot the writer handles.
pub fn sample(dense: bool) -> SpatialData {
    let x = array![
        [1.0f32, 0.0, 2.5, 0.0],
        [0.0, 0.0, 0.0, 7.0],
        [3.0, 4.0, 0.0, 0.0],
        [0.0, 1.0, 1.0, 1.0],
        [9.0, 0.0, 0.0, 0.0]
    ];
    let m = if dense {
        Matrix::Dense(x.clone())
    } else {
        Matrix::Csr(CsrMatrix::from_dense(&x))
    };
    let mut d = SpatialData::new(
        m,
        ["AAAC-1", "AAAG-1", "CCTA-1", "GGTT-1", "TTTA-1"]
            .map(String::from)
            .to_vec(),
        ["Gfap", "Mbp", "Snap25", "Pcp4"].map(String::from).to_vec(),
        Some(array![
            [0.5, 1.5],
            [2.0, 3.0],
            [4.25, 5.0],
            [6.0, 7.0],
            [8.0, 9.5]
        ]),
    )
    .unwrap();
    d.obs = DataFrame::new(
        5,
        vec![
            Column::new("total".into(), vec![3.5f64, 7.0, 7.0, 3.0, 9.0]),
            Column::new("n_genes".into(), vec![2i64, 1, 2, 3, 1]),
            Column::new("in_tissue".into(), vec![true, true, false, true, true]),
            Column::new("layer".into(), vec!["L1", "L2", "L1", "WM", "L2"]),
            Column::new("note".into(), vec!["a", "b", "c", "d", "e"]),
            Column::new(
                "maybe".into(),
                vec![Some(1i64), None, Some(3), None, Some(5)],
            ),
            Column::new(
                "flag".into(),
                vec![Some(true), None, Some(false), Some(true), None],
            ),
            Column::new(
                "cluster".into(),
                vec![Some("x"), None, Some("y"), Some("x"), Some("x")],
            ),
        ],
    )
    .unwrap();
    d.var = DataFrame::new(
        4,
        vec![Column::new(
            "highly_variable".into(),
            vec![true, false, true, true],
        )],
    )
    .unwrap();
    d.var_ids = Some(
        ["ENSG1", "ENSG2", "ENSG3", "ENSG4"]
            .map(String::from)
            .to_vec(),
    );
    let mut obsm = BTreeMap::new();
    obsm.insert(
        "X_dpvae".to_string(),
        Array2::from_shape_fn((5, 3), |(i, j)| i as f64 * 0.1 - j as f64),
    );
    obsm.insert(
        "spatial_dpvae".to_string(),
        Array2::from_shape_fn((5, 2), |(i, j)| (i * 2 + j) as f64 / 3.0),
    );
    d.obsm = obsm;
    d.layers.insert(
        "counts".into(),
        Matrix::Csr(CsrMatrix::from_dense(&x.mapv(|v| v.round()))),
    );
    d.uns.insert(
        "dpvae".into(),
        json!({
            "version": "0.1.0",
            "params": {"latent_dim": 2, "lambda": 0.75, "epochs": 300, "dp_loss": true, "hidden": [124, 64]},
            "genes": ["Gfap", "Mbp"],
            "note": null,
            "mixed": [1, "two"],
        }),
    );
    d
}
