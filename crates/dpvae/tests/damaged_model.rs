//! A model directory whose files were damaged, edited or mixed with another model's is refused on loading with
//! the file and field named, never loaded into a silently wrong placement or a panic (issue #28, items 6, 7
//! and 10).

use std::path::Path;

use dpvae::{Model, TrainSettings, train_reference};
use serde_json::Value;

mod common;

fn settings(seed: u64) -> TrainSettings {
    let mut s = TrainSettings::recommended();
    s.train.epochs = 5;
    s.train.seed = seed;
    s.placement.members = 2;
    s.placement.auto.enabled = false;
    s
}

/// An edit of one JSON file of a model directory.
type Damage = Box<dyn Fn(&mut Value)>;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Copy `model` into a fresh directory, let `damage` edit one JSON file, and return the load error.
fn load_after(model: &Path, file: &str, damage: impl Fn(&mut Value)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("m");
    std::fs::create_dir(&copy).unwrap();
    for e in std::fs::read_dir(model).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let mut v = read(&copy.join(file));
    damage(&mut v);
    write(&copy.join(file), &v);
    match Model::load(&copy) {
        Ok(_) => panic!("{file}: the damaged directory loaded"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn damaged_model_files_are_refused_naming_the_field() {
    let (reference, _) = common::split_tissue(300, 2, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let trained = train_reference(&reference, &settings(0), "sim", None).unwrap();
    trained.model.save(&path).unwrap();
    Model::load(&path).expect("the intact directory loads");
    assert!(read(&path.join("placement.json"))["calibration"].is_object());

    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "placement.json",
            Box::new(|v| {
                v["calibration"]["ratios"]
                    .as_array_mut()
                    .unwrap()
                    .truncate(3);
            }),
            "calibration.ratios",
        ),
        (
            "placement.json",
            Box::new(|v| v["calibration"]["ratios"][0] = (-1.0).into()),
            "calibration.ratios",
        ),
        (
            "placement.json",
            Box::new(|v| v["calibration"]["ratios"].as_array_mut().unwrap().reverse()),
            "not sorted",
        ),
        (
            "placement.json",
            Box::new(|v| v["calibration"]["scores"] = Value::Array(vec![])),
            "calibration.scores",
        ),
        (
            "placement.json",
            Box::new(|v| v["anchor_latents"].as_array_mut().unwrap().truncate(1)),
            "anchor_latents",
        ),
        (
            "preprocess.json",
            Box::new(|v| {
                v["pca"]["components"][0]
                    .as_array_mut()
                    .unwrap()
                    .push(0.5.into())
            }),
            "component 0",
        ),
        (
            "preprocess.json",
            Box::new(|v| {
                v["pca"]["components"][1]
                    .as_array_mut()
                    .unwrap()
                    .truncate(5)
            }),
            "component 1",
        ),
        (
            "preprocess.json",
            Box::new(|v| {
                v["pca"]["whiten"] = true.into();
                v["pca"]["explained_variance"] = Value::Array(vec![]);
            }),
            "explained_variance",
        ),
        (
            "config.json",
            Box::new(|v| v["model"]["hidden"] = Value::Array(vec![])),
            "hidden",
        ),
        (
            "config.json",
            Box::new(|v| v["model"]["likelihood"] = "NegativeBinomial".into()),
            "was config.json edited",
        ),
    ];
    for (file, damage, expected) in cases {
        let err = load_after(&path, file, damage);
        assert!(
            err.contains(expected),
            "{file}, expected '{expected}' in: {err}"
        );
    }
}

#[test]
fn files_from_another_model_are_refused() {
    let (reference, _) = common::split_tissue(300, 2, 0);
    let (other, _) = common::split_tissue(300, 5, 1);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let mut s = settings(0);
    s.preprocess.pca = None;
    s.preprocess.center_per_section = false;
    s.preprocess.hvg.as_mut().unwrap().n_top_genes = 40;
    train_reference(&reference, &s, "a", None)
        .unwrap()
        .model
        .save(&a)
        .unwrap();
    train_reference(&other, &s, "b", None)
        .unwrap()
        .model
        .save(&b)
        .unwrap();
    let foreign = read(&b.join("preprocess.json"));
    assert_ne!(foreign["genes"], read(&a.join("preprocess.json"))["genes"]);
    let err = load_after(&a, "preprocess.json", |v| *v = foreign.clone());
    assert!(err.contains("different models"), "{err}");
    // A placement record missing from a directory that had one is refused, not read as a bare model.
    std::fs::remove_file(a.join("placement.json")).unwrap();
    let err = format!("{:#}", Model::load(&a).err().expect("refused"));
    assert!(err.contains("placement.json is missing"), "{err}");
}

#[test]
fn a_truncated_weights_file_is_called_damaged() {
    let (reference, _) = common::split_tissue(300, 2, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    train_reference(&reference, &settings(0), "sim", None)
        .unwrap()
        .model
        .save(&path)
        .unwrap();
    for file in ["model.mpk", "member-1.mpk"] {
        let copy = dir.path().join(format!("copy-{file}"));
        std::fs::create_dir(&copy).unwrap();
        for e in std::fs::read_dir(&path).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
        }
        let bytes = std::fs::read(copy.join(file)).unwrap();
        std::fs::write(copy.join(file), &bytes[..bytes.len() / 2]).unwrap();
        let err = format!("{:#}", Model::load(&copy).err().expect("refused"));
        assert!(
            err.contains(file) && err.contains("truncated or damaged"),
            "{err}"
        );
        assert!(!err.contains("feature"), "{err}");
    }
}
