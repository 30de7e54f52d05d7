//! Model directories: round trip, atomic replacement and clear errors on broken directories.

mod common;

use dpvae_model::{
    BackendKind, ModelConfig, SaveOptions, SavedModel, TrainConfig, TrainInput, TrainingMetadata,
    matrix_checksum, train,
};

fn saved() -> (SavedModel, ndarray::Array2<f32>) {
    let t = common::tissue(6, 7, 21);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let cfg = TrainConfig {
        epochs: 2,
        batch_size: 16,
        seed: 4,
        ..TrainConfig::default()
    };
    let out = train(
        &input,
        &ModelConfig::new(7).with_hidden(vec![16]),
        &cfg,
        BackendKind::Flex,
    )
    .unwrap();
    let mut metadata = TrainingMetadata::new(4, "synthetic", matrix_checksum(t.lognorm.view()));
    metadata.backend = out.backend.to_string();
    metadata.epochs = out.best_epoch;
    let model = SavedModel {
        model: out.model,
        members: Vec::new(),
        placement: None,
        train_config: Some(cfg),
        preprocess: serde_json::json!({"normalize_total": "median", "log1p": true, "n_top_genes": 7}),
        genes: (0..7).map(|g| format!("Gene{g}")).collect(),
        metadata,
    };
    (model, t.lognorm)
}

#[test]
fn round_trip_preserves_everything() {
    let (model, x) = saved();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    model.save(&path).unwrap();
    for f in [
        "manifest.json",
        "config.json",
        "model.mpk",
        "preprocess.json",
        "genes.json",
    ] {
        assert!(path.join(f).is_file(), "{f} missing");
    }
    let back = SavedModel::load(&path).unwrap();
    assert_eq!(back, model);
    let a = model.model.encode(x.view(), BackendKind::Flex).unwrap();
    let b = back.model.encode(x.view(), BackendKind::Ndarray).unwrap();
    for (u, v) in a.mean.iter().zip(b.mean.iter()) {
        assert!((u - v).abs() < 1e-5);
    }
    assert!(a.variance.iter().all(|v| *v > 0.0));
    // Saving again replaces the directory atomically and leaves no temporary files.
    model.save(&path).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("model")]);
}

#[test]
fn broken_directories_give_clear_errors() {
    let (model, _) = saved();
    let dir = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let p = dir.path().join(name);
        model.save(&p).unwrap();
        p
    };
    let p = fresh("missing");
    std::fs::remove_file(p.join("genes.json")).unwrap();
    let e = SavedModel::load(&p).unwrap_err().to_string();
    assert!(e.contains("genes.json is missing"), "{e}");

    let p = fresh("version");
    let m = std::fs::read_to_string(p.join("manifest.json")).unwrap();
    std::fs::write(
        p.join("manifest.json"),
        m.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let e = SavedModel::load(&p).unwrap_err().to_string();
    assert!(e.contains("format version 99"), "{e}");

    let p = fresh("record");
    let bytes = std::fs::read(p.join("model.mpk")).unwrap();
    std::fs::write(p.join("model.mpk"), &bytes[..bytes.len() / 2]).unwrap();
    let e = SavedModel::load(&p).unwrap_err().to_string();
    assert!(e.contains("model.mpk"), "{e}");

    let p = fresh("config");
    let c = std::fs::read_to_string(p.join("config.json")).unwrap();
    std::fs::write(
        p.join("config.json"),
        c.replace("\"latent_dim\": 2", "\"latent_dim\": 3"),
    )
    .unwrap();
    let e = SavedModel::load(&p).unwrap_err().to_string();
    assert!(e.contains("model.mpk"), "{e}");

    let p = fresh("genes");
    std::fs::write(p.join("genes.json"), "[\"A\"]").unwrap();
    let e = SavedModel::load(&p).unwrap_err().to_string();
    assert!(e.contains("genes.json lists 1 genes"), "{e}");

    let p = fresh("json");
    std::fs::write(p.join("config.json"), "{ not json").unwrap();
    let e = SavedModel::load(&p).unwrap_err().to_string();
    assert!(e.contains("config.json is not valid"), "{e}");

    // A directory that is not a model is never overwritten.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep").unwrap();
    assert!(model.save(&other).is_err());
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "keep"
    );
}

#[test]
fn encode_rejects_misaligned_genes() {
    let (model, x) = saved();
    let wrong = x.slice(ndarray::s![.., ..5]).to_owned();
    let e = model
        .model
        .encode(wrong.view(), BackendKind::Flex)
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 genes") && e.contains("7"), "{e}");
}

/// Directories written before training owned the seed and the initial lambda (they were in the model's
/// config) and before `quiet` left the training options still load, and mean the same.
#[test]
fn directories_with_the_older_config_keys_load() {
    let (model, _) = saved();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    model.save(&path).unwrap();
    let file = path.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    config["model"]["seed"] = 4.into();
    config["model"]["lambda_init"] = 0.37.into();
    config["train"]["quiet"] = true.into();
    std::fs::write(&file, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let back = SavedModel::load(&path).unwrap();
    assert_eq!(back, model);
}

/// `save_with` puts the caller's `history.csv` and `config.toml` in the same atomic step as the model (they were
/// written after it, so a kill could lose them: issue #28), refuses other names, and without `replace` leaves
/// an existing directory alone.
#[test]
fn save_with_writes_the_callers_files_in_the_same_step() {
    let (model, _) = saved();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    let options = |replace: bool, history: &'static str| SaveOptions {
        replace,
        extra: vec![
            ("history.csv", history.as_bytes()),
            ("config.toml", b"seed = 4\n".as_slice()),
        ],
    };
    model
        .save_with(&path, &options(false, "epoch\n1\n"))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(path.join("history.csv")).unwrap(),
        "epoch\n1\n"
    );
    assert!(path.join("config.toml").is_file());
    SavedModel::load(&path).unwrap();

    let e = model
        .save_with(&path, &options(false, "epoch\n2\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists") && e.contains("--force"), "{e}");
    model
        .save_with(&path, &options(true, "epoch\n2\n"))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(path.join("history.csv")).unwrap(),
        "epoch\n2\n"
    );

    let bad = SaveOptions {
        replace: true,
        extra: vec![("notes.txt", b"x".as_slice())],
    };
    let e = model.save_with(&path, &bad).unwrap_err().to_string();
    assert!(e.contains("notes.txt"), "{e}");
    assert!(!path.join("notes.txt").exists());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("model")]);
}

/// A directory whose placement record went missing is refused, not loaded as a bare model (issue #28); one
/// written before the config noted the record, and without one, still loads as the bare model it is.
#[test]
fn a_missing_placement_record_is_refused_unless_the_directory_never_had_one() {
    let (mut model, _) = saved();
    model.placement = Some(serde_json::json!({"anchors": []}));
    model.members = vec![model.model.clone()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model");
    model.save(&path).unwrap();
    assert_eq!(SavedModel::load(&path).unwrap(), model);
    std::fs::remove_file(path.join("placement.json")).unwrap();
    let err = SavedModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("placement.json is missing"), "{err}");
    let file = path.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("placement");
    std::fs::write(&file, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let old = SavedModel::load(&path).unwrap();
    assert!(old.placement.is_none());
    assert_eq!(old.members.len(), 1);
}
