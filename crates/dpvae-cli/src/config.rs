//! Effective configuration: defaults, then a TOML file (`--config`), then flags; flags win.
//!
//! One mechanism serves every command. A command's settings are one serde struct; for most commands that
//! struct is also its clap flags (`#[command(flatten)]`, defaults in clap so `--help` shows them), and the flags
//! a user actually typed are told apart from defaults by clap's value sources. `train` and `run`, whose settings
//! are nested tables, build their flag overlay by hand. The global `--seed` / `--backend` fill the top-level
//! `seed` / `backend` field of the commands whose settings have one. Merging goes through JSON values, and a key
//! in the file that the command does not know is an error naming the file and the key.
//!
//! The effective settings are stored with the results (see [`Invocation::record`] and
//! [`Invocation::write_config`]): in `uns['dpvae'][command]['config']` of every h5ad a command writes, and as a
//! TOML file beside any other output (`DIR/config.toml` for a folder, `OUT.config.toml` for a file), the same
//! text `--print-config` prints, so `--config` accepts it back.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ArgMatches;
use clap::parser::ValueSource;
use dpvae_model::BackendKind;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::cli::GlobalArgs;
use crate::common::check_output;
use dpvae::anndata::record_in_uns;
pub use dpvae::settings::merge;

/// Name of the settings file written into output folders.
pub const CONFIG_FILE: &str = "config.toml";

/// Settings that come from global options rather than the command's own flags.
const GLOBAL_KEYS: [&str; 2] = ["seed", "backend"];

/// Keys of `file` that `defaults` lacks, as dotted paths, outermost first.
fn unknown_keys(defaults: &Value, file: &Value, prefix: &str, out: &mut Vec<String>) {
    let (Value::Object(d), Value::Object(f)) = (defaults, file) else {
        return;
    };
    for (k, v) in f {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match d.get(k) {
            None => out.push(path),
            Some(dv) => unknown_keys(dv, v, &path, out),
        }
    }
}

/// JSON kind of a value, for "expected a number" messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// The first key of `file` whose value is of another kind than its default, with both values.
fn mistyped_key(defaults: &Value, file: &Value, prefix: &str) -> Option<(String, Value, Value)> {
    let (Value::Object(d), Value::Object(f)) = (defaults, file) else {
        return None;
    };
    for (k, v) in f {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let Some(dv) = d.get(k) else { continue };
        if dv.is_object() && v.is_object() {
            if let Some(found) = mistyped_key(dv, v, &path) {
                return Some(found);
            }
        } else if !dv.is_null() && kind(dv) != kind(v) {
            return Some((path, dv.clone(), v.clone()));
        }
    }
    None
}

fn read_toml(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the config file {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid TOML", path.display()))?;
    Ok(serde_json::to_value(table)?)
}

/// Defaults, then the TOML file at `file`, then `flags` (`null` = not given): the effective settings of
/// `command`. A key of the file that the settings do not take is an error naming the file and the key; nested
/// keys are judged by the settings type, since a nested table may be an enum whose fields depend on the variant.
pub fn resolve_value<S: Serialize + DeserializeOwned>(
    command: &str,
    defaults: Value,
    file: Option<&Path>,
    flags: Value,
) -> Result<S> {
    let mut value = defaults;
    let mut table = Value::Null;
    let mut unknown = Vec::new();
    let mut mistyped = None;
    let unknown_key = |path: &Path, key: &str, why: &str| {
        anyhow::anyhow!(
            "the config file {} has the key `{key}`, which dpvae {command} does not know{why}; `dpvae {command} --print-config` prints the settings it takes",
            path.display()
        )
    };
    if let Some(path) = file {
        table = read_toml(path)?;
        drop_retired_keys(&mut table, path);
        mistyped = mistyped_key(&value, &table, "");
        unknown_keys(&value, &table, "", &mut unknown);
        if let Some(top) = unknown.iter().find(|k| !k.contains('.')) {
            let known = value
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>());
            let why = format!(
                " (its settings are: {})",
                known.unwrap_or_default().join(", ")
            );
            return Err(unknown_key(path, top, &why));
        }
        merge(&mut value, table.clone());
    }
    merge(&mut value, flags);
    let settings: S = serde_json::from_value(value).map_err(|e| {
        let text = e.to_string();
        let named = unknown.iter().find(|k| {
            let last = k.rsplit('.').next().unwrap_or(k);
            text.contains(&format!("unknown field `{last}`"))
        });
        match (file, named, &mistyped) {
            (Some(p), Some(key), _) => unknown_key(p, key, &format!(" ({text})")),
            (Some(p), None, Some((key, default, given))) => anyhow::anyhow!(
                "the config file {} sets `{key}` to {given}, but dpvae {command} expects {} there (the default is {default}): {text}",
                p.display(),
                kind(default)
            ),
            (Some(p), None, None) => anyhow::anyhow!(
                "the settings from the config file {} and the flags do not fit dpvae {command}: {text}",
                p.display()
            ),
            (None, _, _) => anyhow::anyhow!("the flags do not fit dpvae {command}: {text}"),
        }
    })?;
    // A key the settings type accepted but dropped (e.g. a field another variant of an enum would have) is
    // unknown too: every key of the file must survive into the effective settings.
    if let Some(path) = file {
        let mut dropped = Vec::new();
        unknown_keys(&serde_json::to_value(&settings)?, &table, "", &mut dropped);
        if let Some(key) = dropped.first() {
            return Err(unknown_key(path, key, ""));
        }
    }
    Ok(settings)
}

/// Remove keys older dpvae versions wrote but that are no longer settings (`train.quiet`: a display choice,
/// now the global `-q`), so their config files still load.
fn drop_retired_keys(table: &mut Value, path: &Path) {
    let Some(train) = table.get_mut("train").and_then(Value::as_object_mut) else {
        return;
    };
    for key in dpvae_model::TrainConfig::IGNORED_KEYS {
        if train.remove(*key).is_some() {
            tracing::warn!(
                "the config file {} sets train.{key}, which is no longer a setting and is ignored (use -q for no progress output)",
                path.display()
            );
        }
    }
}

/// The effective settings as TOML, for `--print-config` and the files stored beside outputs.
pub fn to_toml<S: Serialize>(command: &str, settings: &S) -> Result<String> {
    let text = format!(
        "# dpvae {command} {}: effective settings (defaults < --config file < flags); give this file to --config\n{}",
        env!("CARGO_PKG_VERSION"),
        toml::to_string_pretty(settings)?
    );
    Ok(with_unset_keys(text, &serde_json::to_value(settings)?))
}

/// TOML has no null, so settings left unset (`None`: a default computed from the data, or a step turned off)
/// would be missing from the file. Each is listed as a comment under its table, so every key is shown.
fn with_unset_keys(text: String, settings: &Value) -> String {
    let mut unset: Vec<(String, String)> = Vec::new();
    collect_unset(settings, "", &mut unset);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (table, key) in unset.iter().rev() {
        let comment = format!("# {key} = (not set)");
        let header = format!("[{table}]");
        let at = if table.is_empty() {
            Some(1)
        } else {
            lines.iter().position(|l| *l == header).map(|i| i + 1)
        };
        match at {
            Some(i) => lines.insert(i, comment),
            None => lines.push(format!("# [{table}] {key} = (not set)")),
        }
    }
    lines.join("\n") + "\n"
}

fn collect_unset(value: &Value, table: &str, out: &mut Vec<(String, String)>) {
    if let Value::Object(fields) = value {
        for (key, v) in fields {
            match v {
                Value::Null => out.push((table.to_string(), key.clone())),
                Value::Object(_) => {
                    let sub = if table.is_empty() {
                        key.clone()
                    } else {
                        format!("{table}.{key}")
                    };
                    collect_unset(v, &sub, out);
                }
                _ => {}
            }
        }
    }
}

/// The settings file stored beside a file output: `OUT.config.toml` (the extension replaced).
pub fn beside(output: &Path) -> PathBuf {
    output.with_extension(CONFIG_FILE)
}

/// One run of one command: its global options, its name and the flags given on its command line.
pub struct Invocation<'a> {
    pub global: &'a GlobalArgs,
    /// The subcommand's name (`train`, `impute`, ...): the key under `uns['dpvae']`.
    pub command: &'a str,
    matches: &'a ArgMatches,
}

impl<'a> Invocation<'a> {
    pub fn new(global: &'a GlobalArgs, command: &'a str, matches: &'a ArgMatches) -> Self {
        Invocation {
            global,
            command,
            matches,
        }
    }

    /// The effective settings of a command whose settings struct is also its flags: clap's values (defaults
    /// where nothing was typed), then `--config`, then the flags typed, then `--seed` / `--backend`.
    /// `None` when `--print-config` printed them: the command stops there.
    pub fn settings<S: Serialize + DeserializeOwned>(&self, parsed: &S) -> Result<Option<S>> {
        let parsed = serde_json::to_value(parsed)?;
        let typed = self.typed_flags(&parsed);
        self.finish(self.resolve(parsed, typed)?)
    }

    /// [`Self::settings`], then refuse to replace any of `outputs` without `--force` (before any work).
    pub fn prepare<S: Serialize + DeserializeOwned>(
        &self,
        parsed: &S,
        outputs: &[&Path],
    ) -> Result<Option<S>> {
        let settings = self.settings(parsed)?;
        if settings.is_some() {
            for out in outputs {
                check_output(out, self.global.force)?;
            }
        }
        Ok(settings)
    }

    /// Defaults, the config file, `flags` (`null` = not given), then the global `--seed` / `--backend` where
    /// the settings have a top-level field of that name.
    pub fn resolve<S: Serialize + DeserializeOwned>(
        &self,
        defaults: Value,
        flags: Value,
    ) -> Result<S> {
        let mut globals = Map::new();
        let given = [
            ("seed", self.global.seed.map(Value::from)),
            (
                "backend",
                self.global.backend.map(|b| Value::from(b.name())),
            ),
        ];
        for (key, value) in given {
            if let Some(v) = value
                && defaults.get(key).is_some()
            {
                globals.insert(key.to_string(), v);
            }
        }
        let mut flags = flags;
        merge(&mut flags, Value::Object(globals));
        resolve_value(self.command, defaults, self.global.config.as_deref(), flags)
    }

    /// Print the settings and stop for `--print-config`; otherwise check that their backend (if they have one)
    /// can run on this machine, before any work is done.
    pub fn finish<S: Serialize>(&self, settings: S) -> Result<Option<S>> {
        if self.global.print_config {
            print!("{}", to_toml(self.command, &settings)?);
            return Ok(None);
        }
        if let Some(b) = serde_json::to_value(&settings)?.get("backend") {
            let kind: BackendKind = serde_json::from_value(b.clone())?;
            kind.ensure_available().with_context(|| {
                format!("--backend {kind} cannot be used here; use --backend flex (the default CPU backend)")
            })?;
        }
        Ok(Some(settings))
    }

    /// The flags typed on the command line, as a partial settings object.
    fn typed_flags(&self, parsed: &Value) -> Value {
        let mut out = Map::new();
        if let Value::Object(fields) = parsed {
            for (key, value) in fields {
                let typed = matches!(
                    self.matches.value_source(key),
                    Some(ValueSource::CommandLine | ValueSource::EnvVariable)
                );
                if typed && !GLOBAL_KEYS.contains(&key.as_str()) {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        Value::Object(out)
    }

    /// A progress or result line on stderr, unless `-q`.
    pub fn note(&self, line: String) {
        if !self.global.quiet {
            eprintln!("{line}");
        }
    }

    /// Store the settings (and `details`, an object of what the run found) in `uns['dpvae'][command]` of a
    /// dataset about to be written: the settings under `config`.
    pub fn record<S: Serialize>(
        &self,
        data: &mut dpvae_data::SpatialData,
        settings: &S,
        details: Value,
    ) -> Result<()> {
        let mut entry = match details {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => Map::from_iter([("details".to_string(), other)]),
        };
        entry.insert("config".into(), serde_json::to_value(settings)?);
        record_in_uns(data, self.command, Value::Object(entry));
        Ok(())
    }

    /// The settings as the TOML text [`Invocation::write_config`] writes.
    pub fn config_text<S: Serialize>(&self, settings: &S) -> Result<String> {
        to_toml(self.command, settings)
    }

    /// Write the settings as TOML to `path` (atomically): `DIR/config.toml` for a folder output, [`beside`] a
    /// file output.
    pub fn write_config<S: Serialize>(&self, path: &Path, settings: &S) -> Result<()> {
        dpvae_data::atomic::write_bytes_atomic(path, to_toml(self.command, settings)?.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct S {
        epochs: usize,
        lr: f64,
        name: String,
        inner: Inner,
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq, Default)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        k: usize,
    }
    impl Default for S {
        fn default() -> Self {
            S {
                epochs: 10,
                lr: 0.1,
                name: "a".into(),
                inner: Inner::default(),
            }
        }
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn defaults() -> Value {
        serde_json::to_value(S::default()).unwrap()
    }

    #[test]
    fn flags_win_over_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "epochs = 50\nname = \"b\"\n[inner]\nk = 3\n");
        let flags = json!({"epochs": 7, "lr": null});
        let s: S = resolve_value("x", defaults(), Some(&path), flags).unwrap();
        assert_eq!(
            s,
            S {
                epochs: 7,
                lr: 0.1,
                name: "b".into(),
                inner: Inner { k: 3 },
            }
        );
        let round: S = toml::from_str(&to_toml("x", &s).unwrap()).unwrap();
        assert_eq!(round, s);
    }

    /// Unset (None) settings used to be missing from --print-config: each is now a comment under its table,
    /// and the file still reads back to the same settings.
    #[test]
    fn unset_settings_are_listed() {
        let settings = dpvae::TrainSettings::default();
        let text = to_toml("train", &settings).unwrap();
        for line in ["# target_sum = (not set)", "# min_counts = (not set)"] {
            assert!(text.contains(line), "{text}");
        }
        let qc = text.find("[preprocess.qc]").unwrap();
        assert!(text[qc..].starts_with("[preprocess.qc]\n# "), "{text}");
        let round: dpvae::TrainSettings = toml::from_str(&text).unwrap();
        assert_eq!(round, settings);
    }

    #[test]
    fn unknown_keys_name_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "epoch = 50\n");
        let e = resolve_value::<S>("x", defaults(), Some(&path), json!({})).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("`epoch`") && text.contains("c.toml") && text.contains("epochs"),
            "{text}"
        );
        let path = write(&dir, "[inner]\nkk = 1\n");
        let e = resolve_value::<S>("x", defaults(), Some(&path), json!({})).unwrap_err();
        assert!(e.to_string().contains("`inner.kk`"), "{e}");
    }

    #[test]
    fn wrong_types_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "epochs = \"many\"\n");
        let e = resolve_value::<S>("x", defaults(), Some(&path), json!({})).unwrap_err();
        assert!(e.to_string().contains("c.toml"), "{e}");
    }

    #[test]
    fn sidecar_names() {
        assert_eq!(
            beside(Path::new("out/auto.csv")),
            PathBuf::from("out/auto.config.toml")
        );
        assert_eq!(beside(Path::new("fig")), PathBuf::from("fig.config.toml"));
    }
}
