//! Where coordinates and embeddings come from: an obsm key of any readable dataset, or a table keyed by
//! barcode. Also matching two sources by barcode.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use dpvae_data::io::{self, tables::CoordTable};
use ndarray::{Array2, Axis};

/// True when `path` names a per-spot table rather than a dataset.
pub fn is_table(path: &Path) -> bool {
    matches!(
        path.extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref(),
        Some("csv" | "tsv" | "parquet")
    )
}

/// Coordinates (or any per-spot embedding) from a table, or from `obsm[key]` of a dataset.
pub fn read_coord_source(path: &Path, key: &str) -> Result<CoordTable> {
    if is_table(path) {
        return io::tables::read_coords(path)
            .with_context(|| format!("could not read the coordinate table {}", path.display()));
    }
    let data = io::read(path).with_context(|| format!("could not read {}", path.display()))?;
    let coords = if key == "spatial" {
        data.spatial.clone().with_context(|| {
            format!(
                "{} has no coordinates (obsm['spatial']); give a dataset with coordinates or a CSV with columns barcode,x,y",
                path.display()
            )
        })?
    } else {
        data.obsm.get(key).cloned().with_context(|| {
            format!(
                "{} has no obsm['{key}'] (it has: {}); run `dpvae embed` / `dpvae reconstruct` first or name another key",
                path.display(),
                data.obsm.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?
    };
    Ok(CoordTable::new(data.obs_names.clone(), coords)?)
}

/// Rows of `a` and `b` that share a barcode, in `a`'s order.
pub struct Matched {
    pub barcodes: Vec<String>,
    pub a: Array2<f64>,
    pub b: Array2<f64>,
    pub only_in_a: usize,
    pub only_in_b: usize,
    /// Rows of `b` matched, in the order of `barcodes`.
    pub rows_b: Vec<usize>,
}

/// Row of each barcode.
pub fn barcode_index(barcodes: &[String]) -> HashMap<&str, usize> {
    barcodes
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect()
}

/// How many of two tables' barcodes must be shared for a comparison to mean something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// At least [`MIN_SHARED_FRACTION`] of the larger table: Visium barcodes repeat across slides, so the
    /// wrong section's truth can share thousands of barcodes and still give a plausible disparity.
    Full,
    /// Any 3 or more (`--allow-partial`), with a warning.
    Partial,
}

/// The share of the larger table's barcodes that [`Coverage::Full`] requires.
pub const MIN_SHARED_FRACTION: f64 = 0.9;

/// Match two tables by barcode. Fewer than 3 shared barcodes is an error (nothing can be compared), and so is
/// a share below [`MIN_SHARED_FRACTION`] under [`Coverage::Full`].
pub fn match_by_barcode(
    a: &CoordTable,
    b: &CoordTable,
    what: (&str, &str),
    coverage: Coverage,
) -> Result<Matched> {
    let index = barcode_index(&b.barcodes);
    let mut rows_a = Vec::new();
    let mut rows_b = Vec::new();
    for (i, bc) in a.barcodes.iter().enumerate() {
        if let Some(&j) = index.get(bc.as_str()) {
            rows_a.push(i);
            rows_b.push(j);
        }
    }
    if rows_a.len() < 3 {
        bail!(
            "the {} and the {} share only {} barcodes (of {} and {}); they must describe the same spots, matched by barcode",
            what.0,
            what.1,
            rows_a.len(),
            a.barcodes.len(),
            b.barcodes.len()
        );
    }
    let only_in_a = a.barcodes.len() - rows_a.len();
    let only_in_b = b.barcodes.len() - rows_b.len();
    let larger = a.barcodes.len().max(b.barcodes.len());
    let shared = rows_a.len() as f64 / larger as f64;
    if coverage == Coverage::Full && shared < MIN_SHARED_FRACTION {
        bail!(
            "the {} and the {} share only {:.1}% of their barcodes ({} of {} and {}); below {:.0}% they may be \
             different sections (Visium barcodes repeat across slides). Pass --allow-partial to compare the \
             shared spots anyway",
            what.0,
            what.1,
            100.0 * shared,
            rows_a.len(),
            a.barcodes.len(),
            b.barcodes.len(),
            100.0 * MIN_SHARED_FRACTION
        );
    }
    if only_in_a + only_in_b > 0 {
        tracing::warn!(
            "{} barcodes only in the {}, {} only in the {}; comparing the {} shared spots",
            only_in_a,
            what.0,
            only_in_b,
            what.1,
            rows_a.len()
        );
    }
    Ok(Matched {
        barcodes: rows_a.iter().map(|&i| a.barcodes[i].clone()).collect(),
        a: a.coords.select(Axis(0), &rows_a),
        b: b.coords.select(Axis(0), &rows_b),
        only_in_a,
        only_in_b,
        rows_b,
    })
}

/// Parse `obsm:KEY` (or a bare key) into the obsm key.
pub fn parse_obsm_key(spec: &str) -> Result<String> {
    let key = spec.strip_prefix("obsm:").unwrap_or(spec);
    if key.is_empty() {
        bail!("'{spec}' names no obsm key; write it as obsm:KEY, e.g. obsm:X_dpvae");
    }
    Ok(key.to_string())
}
