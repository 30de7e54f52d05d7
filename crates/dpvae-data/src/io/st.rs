//! Legacy Spatial Transcriptomics (2016-2019 ST arrays) count tables: tab-separated, one row per spot named
//! `XxY` (array column x, array row y), one column per gene, optionally gzipped; plus an optional alignment table
//! (`x, y, new_x, new_y, pixel_x, pixel_y, selected`, as ST Spot Detector / STUtility write) that maps array
//! positions to image pixels.
//!
//! With an alignment table, spots with `selected == 1` that are in the count table are kept, `obsm['spatial']`
//! is `[pixel_x, pixel_y]` and obs gets `array_x, array_y` (the adjusted `new_x, new_y`). Without one,
//! coordinates are the array positions parsed from the spot ids.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use polars::prelude::{Column, DataFrame};

use super::tables::{coords_from_frame, f64_column, join_coords, read_table};
use crate::dataset::{Format, SourceInfo, SpatialData};
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// Read a legacy ST count table (a file, or a folder holding one and optionally its alignment table).
pub fn read_st_tsv(path: &Path) -> Result<SpatialData> {
    read_st_tsv_with(path, None)
}

/// Read a legacy ST count table; `alignment` names an alignment (or barcode,x,y coordinate) table explicitly.
pub fn read_st_tsv_with(path: &Path, alignment: Option<&Path>) -> Result<SpatialData> {
    let (counts_path, found_alignment) = if path.is_dir() {
        (find_count_table(path)?, find_alignment(path, None))
    } else {
        let dir = path.parent().unwrap_or(Path::new("."));
        (path.to_path_buf(), find_alignment(dir, Some(path)))
    };
    let alignment = alignment.map(Path::to_path_buf).or(found_alignment);
    let mut data = parse_st_table(&counts_path, &super::read_maybe_gz(&counts_path)?)?;
    data.source = Some(SourceInfo {
        path: path.to_path_buf(),
        format: Format::StTsv,
        x_layout: "dense".into(),
        x_dtype: "int".into(),
    });
    if let Some(al) = alignment {
        data = apply_alignment(data, &al)?;
    }
    data.validate().map_err(|e| e.in_file(path))?;
    Ok(data)
}

/// Read a legacy ST count table held in memory (the entry point of the fuzz target; no alignment table).
pub fn read_st_tsv_bytes(bytes: &[u8]) -> Result<SpatialData> {
    let data = parse_st_table(Path::new("<memory>.tsv"), bytes)?;
    data.validate()?;
    Ok(data)
}

/// Spots x genes with array positions (parsed from the spot ids) as coordinates and in obs.
fn parse_st_table(counts_path: &Path, bytes: &[u8]) -> Result<SpatialData> {
    let (spots, genes, x) = parse_count_table(counts_path, bytes)?;
    let n = spots.len();
    let mut grid = Array2::<f64>::zeros((n, 2));
    for (i, s) in spots.iter().enumerate() {
        let (a, b) = parse_spot_id(s).ok_or_else(|| {
            DataError::invalid(
                counts_path,
                format!("row {} spot id", i + 2),
                format!("'{s}' is not of the form XxY"),
            )
        })?;
        grid[[i, 0]] = a;
        grid[[i, 1]] = b;
    }
    let mut data = SpatialData::new(Matrix::Csr(x), spots, genes, Some(grid.clone()))
        .map_err(|e| e.in_file(counts_path))?;
    super::check_counts(&data, counts_path)?;
    data.obs = DataFrame::new(
        n,
        vec![
            Column::new("array_x".into(), grid.column(0).to_vec()),
            Column::new("array_y".into(), grid.column(1).to_vec()),
        ],
    )
    .map_err(|e| DataError::invalid(counts_path, "obs", e.to_string()))?;
    Ok(data)
}

/// The single count table of an ST folder (`*.tsv(.gz)` that is not an alignment table).
pub fn find_count_table(dir: &Path) -> Result<PathBuf> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            (name.ends_with(".tsv") || name.ends_with(".tsv.gz"))
                && !name.starts_with("alignment")
                && !["barcodes.tsv", "features.tsv", "genes.tsv"]
                    .contains(&name.trim_end_matches(".gz"))
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(DataError::missing(
            dir,
            "*.tsv(.gz) count table",
            "no legacy ST count table in this folder",
        )),
        _ => Err(DataError::invalid(
            dir,
            "count tables",
            format!(
                "found {} candidate tables {found:?}; pass the file itself",
                found.len()
            ),
        )),
    }
}

/// An alignment table next to the counts: `alignment_table_<stem>.tsv(.gz)`, or the only `alignment*` file.
fn find_alignment(dir: &Path, counts: Option<&Path>) -> Option<PathBuf> {
    if let Some(c) = counts {
        let name = c.file_name()?.to_string_lossy().into_owned();
        let stem = name
            .trim_end_matches(".gz")
            .trim_end_matches(".tsv")
            .trim_end_matches(".txt");
        for ext in ["tsv.gz", "tsv"] {
            let p = dir.join(format!("alignment_table_{stem}.{ext}"));
            if p.exists() {
                return Some(p);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .to_ascii_lowercase()
                    .starts_with("alignment")
            })
        })
        .collect();
    (found.len() == 1).then(|| found.remove(0))
}

fn parse_spot_id(s: &str) -> Option<(f64, f64)> {
    let (a, b) = s.split_once('x')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Parse the count table straight into CSR (spots x genes), skipping zeros; no per-cell allocation.
fn parse_count_table(path: &Path, bytes: &[u8]) -> Result<(Vec<String>, Vec<String>, CsrMatrix)> {
    let mut lines = bytes.split(|&b| b == b'\n');
    let header = lines
        .next()
        .ok_or_else(|| DataError::invalid(path, "header", "file is empty"))?;
    let header = std::str::from_utf8(header)
        .map_err(|_| DataError::invalid(path, "header", "is not UTF-8"))?;
    let genes: Vec<String> = header
        .trim_end_matches('\r')
        .split('\t')
        .skip(1)
        .map(str::to_string)
        .collect();
    if genes.is_empty() {
        return Err(DataError::invalid(
            path,
            "header",
            "has no gene columns (expected tab-separated spots x genes)",
        ));
    }
    let n_genes = genes.len();
    let mut spots = Vec::new();
    let mut indptr = vec![0usize];
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for (ln, line) in lines.enumerate() {
        let line_no = ln + 2;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(|&b| b == b'\t');
        let spot = fields.next().unwrap_or_default();
        let spot = std::str::from_utf8(spot).map_err(|_| {
            DataError::invalid(path, format!("line {line_no}"), "spot id is not UTF-8")
        })?;
        spots.push(spot.to_string());
        let mut j = 0usize;
        for f in fields {
            if j >= n_genes {
                return Err(DataError::invalid(
                    path,
                    format!("line {line_no}"),
                    format!("has more than {n_genes} values"),
                ));
            }
            let v = parse_count(f).ok_or_else(|| {
                DataError::invalid(
                    path,
                    format!("line {line_no}, column {}", j + 2),
                    format!("'{}' is not a finite number", String::from_utf8_lossy(f)),
                )
            })?;
            if v != 0.0 {
                indices.push(j as u32);
                data.push(v);
            }
            j += 1;
        }
        if j != n_genes {
            return Err(DataError::invalid(
                path,
                format!("line {line_no}"),
                format!("has {j} values, the header names {n_genes} genes"),
            ));
        }
        indptr.push(data.len());
    }
    let x =
        CsrMatrix::new(spots.len(), n_genes, indptr, indices, data).map_err(|e| e.in_file(path))?;
    Ok((spots, genes, x))
}

/// Integers take a fast path; anything else goes through `f32::from_str`. Non-finite values are rejected.
fn parse_count(f: &[u8]) -> Option<f32> {
    if !f.is_empty() && f.len() < 9 && f.iter().all(u8::is_ascii_digit) {
        let mut v = 0u32;
        for &c in f {
            v = v * 10 + (c - b'0') as u32;
        }
        return Some(v as f32);
    }
    let v: f32 = std::str::from_utf8(f).ok()?.trim().parse().ok()?;
    v.is_finite().then_some(v)
}

/// Join an alignment table (`x, y, pixel_x, pixel_y[, new_x, new_y, selected]`) or a generic barcode,x,y table.
fn apply_alignment(data: SpatialData, path: &Path) -> Result<SpatialData> {
    let df = read_table(path, true)?;
    let is_alignment = ["x", "y", "pixel_x", "pixel_y"]
        .iter()
        .all(|c| df.column(c).is_ok());
    if !is_alignment {
        let table = coords_from_frame(path, &df)?;
        return join_coords(data, &table, path);
    }
    let x = f64_column(path, &df, "x")?;
    let y = f64_column(path, &df, "y")?;
    let px = f64_column(path, &df, "pixel_x")?;
    let py = f64_column(path, &df, "pixel_y")?;
    let (ax, ay) = if df.column("new_x").is_ok() && df.column("new_y").is_ok() {
        (
            f64_column(path, &df, "new_x")?,
            f64_column(path, &df, "new_y")?,
        )
    } else {
        (x.clone(), y.clone())
    };
    let selected = if df.column("selected").is_ok() {
        Some(f64_column(path, &df, "selected")?)
    } else {
        None
    };
    let ids: Vec<String> = x
        .iter()
        .zip(&y)
        .map(|(a, b)| format!("{}x{}", *a as i64, *b as i64))
        .collect();
    let lookup = super::index_of(ids.iter().map(|s| s.as_str())).map_err(|dup| {
        DataError::invalid(path, "x, y", format!("spot {dup} occurs more than once"))
    })?;
    let mut keep = Vec::new();
    let mut rows = Vec::new();
    for (i, s) in data.obs_names.iter().enumerate() {
        if let Some(&r) = lookup.get(s.as_str())
            && selected.as_ref().is_none_or(|sel| sel[r] == 1.0)
        {
            keep.push(i);
            rows.push(r);
        }
    }
    if keep.is_empty() {
        return Err(DataError::invalid(
            path,
            "x, y",
            "no selected spot of the alignment table is in the count table",
        ));
    }
    tracing::info!(
        table = %path.display(),
        kept = keep.len(),
        dropped = data.n_obs() - keep.len(),
        "joined the ST alignment table (selected spots under tissue)"
    );
    let mut data = data.select_obs(&keep)?;
    let n = keep.len();
    let spatial = Array2::from_shape_fn(
        (n, 2),
        |(k, j)| if j == 0 { px[rows[k]] } else { py[rows[k]] },
    );
    if let Some((k, _)) = spatial.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(DataError::invalid(
            path,
            "pixel_x, pixel_y",
            format!("spot {} has no finite pixel position", data.obs_names[k.0]),
        ));
    }
    data.spatial = Some(spatial);
    data.obs = DataFrame::new(
        n,
        vec![
            Column::new(
                "array_x".into(),
                rows.iter().map(|&r| ax[r]).collect::<Vec<f64>>(),
            ),
            Column::new(
                "array_y".into(),
                rows.iter().map(|&r| ay[r]).collect::<Vec<f64>>(),
            ),
        ],
    )
    .map_err(|e| DataError::invalid(path, "obs", e.to_string()))?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_counts_and_non_utf8_spot_ids_are_refused() {
        let e = read_st_tsv_bytes(b"\tA\tB\n1x1\t3\t0\n2x1\t0\t-2\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-2") && e.contains("2x1") && e.contains("'B'"),
            "{e}"
        );
        let e = read_st_tsv_bytes(b"\tA\n1x\xff1\t3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
        let ok = read_st_tsv_bytes(b"\tA\tB\n1x1\t3\t0\n2x1\t0\t2\n").unwrap();
        assert_eq!(ok.n_obs(), 2);
    }
}
