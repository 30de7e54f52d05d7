//! Training options as files: older files still load, unknown keys are still refused, the optimiser table.

use dpvae_model::{OptimizerConfig, TrainConfig};

#[test]
fn an_old_config_with_quiet_loads_and_ignores_it() {
    let json: TrainConfig =
        serde_json::from_str(r#"{"epochs": 7, "quiet": true, "weight_decay": 0.01}"#).unwrap();
    let toml: TrainConfig =
        toml::from_str("epochs = 7\nquiet = true\nweight_decay = 0.01\n").unwrap();
    let expected = TrainConfig {
        epochs: 7,
        weight_decay: 0.01,
        ..TrainConfig::default()
    };
    assert_eq!(json, expected);
    assert_eq!(toml, expected);
    // It is not written back.
    let text = serde_json::to_string(&json).unwrap();
    assert!(!text.contains("quiet"), "{text}");
    let back: TrainConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, expected);
}

#[test]
fn unknown_keys_are_still_refused() {
    let err = serde_json::from_str::<TrainConfig>(r#"{"quiet": false, "epoch": 3}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `epoch`"), "{err}");
    let err = toml::from_str::<TrainConfig>("[optimizer]\nbeta = 0.5\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `beta`"), "{err}");
}

#[test]
fn the_optimizer_table_defaults_to_adam_as_before_and_is_checked() {
    let d = TrainConfig::default();
    assert_eq!(d.optimizer, OptimizerConfig::default());
    assert_eq!(
        (d.optimizer.beta1, d.optimizer.beta2, d.optimizer.epsilon),
        (0.9, 0.999, 1e-8)
    );
    assert_eq!(d.weight_decay, 0.0, "plain Adam by default");
    let c: TrainConfig = toml::from_str("[optimizer]\nbeta2 = 0.99\n").unwrap();
    assert_eq!(c.optimizer.beta2, 0.99);
    assert_eq!(c.optimizer.beta1, 0.9);
    c.check().unwrap();
    for bad in [
        "[optimizer]\nbeta1 = 1.0\n",
        "[optimizer]\nbeta2 = -0.1\n",
        "[optimizer]\nepsilon = 0.0\n",
    ] {
        let c: TrainConfig = toml::from_str(bad).unwrap();
        let err = c.check().unwrap_err().to_string();
        assert!(err.contains("optimizer."), "{bad}: {err}");
    }
    // A full config round-trips through TOML, the form `--print-config` prints.
    let text = toml::to_string(&c).unwrap();
    assert!(text.contains("[optimizer]"), "{text}");
    assert_eq!(toml::from_str::<TrainConfig>(&text).unwrap(), c);
}
