//! Plumbing shared by every command: logging, output safety, error text.

use std::path::Path;

use anyhow::{Context, Result, bail};

pub use dpvae::logging::init_logging;

/// Serde for library option enums by the names they parse from and print as (`FromStr` / `Display`), for
/// settings structs whose library type has no serde of its own.
pub mod by_name {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Refuse to replace an existing output unless `--force` was given.
pub fn check_output(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!(
            "the output {} already exists. dpvae never overwrites results silently: choose another output path or pass --force to replace it.",
            path.display()
        );
    }
    Ok(())
}

/// Take the advisory lock on an output ([`dpvae_core::atomic::OutputLock`]) for as long as the guard lives:
/// a second dpvae process writing the same output fails at once with a message naming it.
pub fn lock_output(path: &Path) -> Result<dpvae_core::atomic::OutputLock> {
    dpvae_core::atomic::OutputLock::acquire(path)
        .with_context(|| format!("could not lock the output {}", path.display()))
}

/// The error and its causes as one paragraph, most specific last.
pub fn error_paragraph(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Write a per-spot table as CSV or Parquet, chosen by the extension.
pub fn write_table(path: &Path, table: &dpvae_data::io::tables::CoordTable) -> Result<()> {
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if parquet {
        dpvae_data::io::tables::write_coords_parquet(path, table)?;
    } else {
        dpvae_data::io::tables::write_coords_csv(path, table)?;
    }
    Ok(())
}
