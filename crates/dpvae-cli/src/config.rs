//! Effective configuration: defaults, then a TOML file (`--config`), then flags; flags win.
//!
//! Settings structs are plain serde types with defaults. Merging goes through JSON values so one generic
//! function serves every command, and unknown keys in a file are reported instead of ignored.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

/// Merge `overlay` into `base`: objects merge key by key, `null` in the overlay means "not given".
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (_, Value::Null) => {}
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        if !v.is_null() {
                            b.insert(k, v);
                        }
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Resolve the effective settings of a command from its defaults, an optional TOML file and the flags given.
/// `flags` serialises with `null` for every flag that was not given.
pub fn resolve<S, F>(file: Option<&Path>, flags: &F) -> Result<S>
where
    S: Serialize + DeserializeOwned + Default,
    F: Serialize,
{
    let mut value = serde_json::to_value(S::default())?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the config file {}", path.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("the config file {} is not valid TOML", path.display()))?;
        merge(&mut value, serde_json::to_value(table)?);
    }
    merge(&mut value, serde_json::to_value(flags)?);
    serde_json::from_value(value).with_context(|| match file {
        Some(p) => format!(
            "the settings from {} and the flags do not fit together (an unknown key or a wrong type)",
            p.display()
        ),
        None => "the flags do not fit together".to_string(),
    })
}

/// The effective settings as TOML, for `--print-config` (a file that `--config` accepts back).
pub fn to_toml<S: Serialize>(settings: &S) -> Result<String> {
    Ok(toml::to_string_pretty(settings)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct S {
        epochs: usize,
        lr: f64,
        name: String,
    }
    impl Default for S {
        fn default() -> Self {
            S {
                epochs: 10,
                lr: 0.1,
                name: "a".into(),
            }
        }
    }
    #[derive(Serialize)]
    struct Flags {
        epochs: Option<usize>,
        lr: Option<f64>,
    }

    #[test]
    fn flags_win_over_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "epochs = 50\nname = \"b\"\n").unwrap();
        let s: S = resolve(
            Some(&path),
            &Flags {
                epochs: Some(7),
                lr: None,
            },
        )
        .unwrap();
        assert_eq!(
            s,
            S {
                epochs: 7,
                lr: 0.1,
                name: "b".into()
            }
        );
        let round: S = toml::from_str(&to_toml(&s).unwrap()).unwrap();
        assert_eq!(round, s);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "epoch = 50\n").unwrap();
        let r: Result<S> = resolve(
            Some(&path),
            &Flags {
                epochs: None,
                lr: None,
            },
        );
        assert!(r.is_err());
    }
}
