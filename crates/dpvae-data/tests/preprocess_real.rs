//! scanpy cross-check on real sections: normalize_total + log1p + highly_variable_genes(n_top_genes=100/2000)
//! must select the same genes as scanpy for `seurat` and `cell_ranger`, and overlap >= 98% for `seurat_v3`.
//! Expected lists: fixtures/preprocess/hvg_panel.json (fixtures/preprocess/make_hvg.py). Needs DPVAE_DATA.

use std::collections::BTreeSet;

use dpvae_data::preprocess::hvg::{HvgFlavor, HvgParams};
use dpvae_data::preprocess::normalize::{log1p, normalize_total};
use serde_json::Value;

const SECTIONS: [&str; 6] = [
    "visium_dlpfc_151673",
    "visium_dlpfc_151674",
    "visium_dlpfc_151675",
    "visium_dlpfc_151676",
    "st_mouse_brain_hippo1",
    "st_mouse_brain_hippo2",
];

fn expected() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/preprocess/hvg_panel.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture exists")).unwrap()
}

fn set(v: &Value) -> BTreeSet<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn check_section(name: &str) {
    let Some(path) = dpvae_data::testdata::require(name, &format!("panel/{name}.h5ad")) else {
        return;
    };
    let exp = &expected()["sections"][name];
    let raw = dpvae_data::io::read(&path).unwrap();
    assert_eq!(raw.n_obs() as u64, exp["n_obs"].as_u64().unwrap());
    let mut x = raw.x.clone();
    let norm = normalize_total(&mut x, None).unwrap();
    assert_eq!(
        norm.target_sum,
        exp["target_sum"].as_f64().unwrap(),
        "{name}: target_sum"
    );
    log1p(&mut x);
    for n_top in [100usize, 2000] {
        for (flavor, key) in [
            (HvgFlavor::Seurat, "seurat"),
            (HvgFlavor::CellRanger, "cell_ranger"),
        ] {
            let got: BTreeSet<usize> = HvgParams::new(n_top, flavor)
                .fit(&x)
                .unwrap()
                .selected()
                .into_iter()
                .collect();
            let want = set(&exp[format!("{key}_{n_top}")]);
            let only_ours: Vec<_> = got.difference(&want).map(|&j| &raw.var_names[j]).collect();
            let only_scanpy: Vec<_> = want.difference(&got).map(|&j| &raw.var_names[j]).collect();
            assert!(
                got == want,
                "{name} {key} top {n_top}: only ours {only_ours:?}, only scanpy {only_scanpy:?}"
            );
        }
        let got: BTreeSet<usize> = HvgParams::new(n_top, HvgFlavor::SeuratV3)
            .fit(&raw.x)
            .unwrap()
            .selected()
            .into_iter()
            .collect();
        let want = set(&exp[format!("seurat_v3_{n_top}")]);
        let overlap = got.intersection(&want).count() as f64 / n_top as f64;
        eprintln!("{name} seurat_v3 top {n_top}: overlap with scanpy {overlap:.4}");
        assert_eq!(got.len(), n_top);
        assert!(
            overlap >= 0.98,
            "{name} seurat_v3 top {n_top}: overlap {overlap}"
        );
    }
}

#[test]
fn dlpfc_151673() {
    check_section(SECTIONS[0]);
}
#[test]
fn dlpfc_151674() {
    check_section(SECTIONS[1]);
}
#[test]
fn dlpfc_151675() {
    check_section(SECTIONS[2]);
}
#[test]
fn dlpfc_151676() {
    check_section(SECTIONS[3]);
}
#[test]
fn mouse_brain_hippo1() {
    check_section(SECTIONS[4]);
}
#[test]
fn mouse_brain_hippo2() {
    check_section(SECTIONS[5]);
}
