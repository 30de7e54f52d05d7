//! 10x MatrixMarket folders: `matrix.mtx(.gz)` (genes x spots, coordinate format), `features.tsv(.gz)` (id,
//! name, type) or `genes.tsv(.gz)` (id, name) or a one-column gene list, and `barcodes.tsv(.gz)`; coordinates come
//! from a table joined on barcode (`ReadOptions::coords`, or `coords.csv` / `spatial.csv` / `coordinates.csv` /
//! `spatial/tissue_positions*.csv` found in the folder).

use std::path::{Path, PathBuf};

use super::ReadOptions;
use crate::dataset::{Format, SourceInfo, SpatialData};
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// Read a MatrixMarket folder with default options (coordinates table discovered in the folder).
pub fn read_mtx_dir(dir: &Path) -> Result<SpatialData> {
    read_mtx_dir_with(dir, &ReadOptions::default())
}

/// Read a MatrixMarket folder; `opts.coords` names the coordinate table, `opts.feature_types` filters features
/// when the features file has a type column.
pub fn read_mtx_dir_with(dir: &Path, opts: &ReadOptions) -> Result<SpatialData> {
    let (mtx_path, feat_path, bc_path) = find_mtx_files(dir)?;
    let files = MtxFiles {
        matrix: (&mtx_path, &super::read_maybe_gz(&mtx_path)?),
        features: (&feat_path, &super::read_maybe_gz(&feat_path)?),
        barcodes: (&bc_path, &super::read_maybe_gz(&bc_path)?),
    };
    let mut data = assemble(&files, &opts.feature_types).map_err(|e| e.in_file(dir))?;
    data.source = Some(SourceInfo {
        path: dir.to_path_buf(),
        format: Format::MatrixMarket,
        x_layout: "coo".into(),
        x_dtype: data.source.take().map_or_else(String::new, |s| s.x_dtype),
    });
    let data = attach_coords_for_dir(data, dir, opts)?;
    data.validate().map_err(|e| e.in_file(dir))?;
    Ok(data)
}

/// Read a MatrixMarket folder's three files held in memory (the entry point of the fuzz target; no
/// coordinates).
pub fn read_mtx_bytes(matrix: &[u8], features: &[u8], barcodes: &[u8]) -> Result<SpatialData> {
    let files = MtxFiles {
        matrix: (Path::new("<memory>/matrix.mtx"), matrix),
        features: (Path::new("<memory>/features.tsv"), features),
        barcodes: (Path::new("<memory>/barcodes.tsv"), barcodes),
    };
    let data = assemble(&files, &super::FeatureFilter::default())?;
    data.validate()?;
    Ok(data)
}

/// The contents of a folder's three files, each with the path errors name.
struct MtxFiles<'a> {
    matrix: (&'a Path, &'a [u8]),
    features: (&'a Path, &'a [u8]),
    barcodes: (&'a Path, &'a [u8]),
}

/// Spots x kept genes from the three files. The matrix header is checked against the features and barcodes
/// before anything of the matrix's size is allocated.
fn assemble(files: &MtxFiles, filter: &super::FeatureFilter) -> Result<SpatialData> {
    let (feat_path, bc_path) = (files.features.0, files.barcodes.0);
    let features = text_lines(feat_path, files.features.1)?;
    let barcodes: Vec<String> = text_lines(bc_path, files.barcodes.1)?
        .into_iter()
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect();
    let expected = ExpectedShape {
        genes: features.len(),
        spots: barcodes.len(),
        features: feat_path,
        barcodes: bc_path,
    };
    let (n_genes, _, genes_by_spots, dtype) =
        parse_matrix_market(files.matrix.0, files.matrix.1, Some(&expected))?;
    let (ids, names, types, has_ids) = parse_features(&features);
    let keep: Vec<usize> = (0..n_genes).filter(|&j| filter.keeps(&types[j])).collect();
    if keep.is_empty() {
        return Err(DataError::invalid(
            feat_path,
            "feature type",
            format!("no feature passes the filter {filter:?}"),
        ));
    }
    let spots_by_genes = genes_by_spots.transpose();
    let x = if keep.len() == n_genes {
        spots_by_genes
    } else {
        spots_by_genes.select_cols(&keep)
    };
    let var_names: Vec<String> = keep.iter().map(|&j| names[j].clone()).collect();
    let mut data = SpatialData::new(Matrix::Csr(x), barcodes, var_names, None)?;
    super::check_counts(&data, files.matrix.0)?;
    if has_ids {
        data.var_ids = Some(keep.iter().map(|&j| ids[j].clone()).collect());
    }
    data.source = Some(SourceInfo {
        path: files.matrix.0.to_path_buf(),
        format: Format::MatrixMarket,
        x_layout: "coo".into(),
        x_dtype: dtype,
    });
    Ok(data)
}

/// The genes x spots shape that `features.tsv` and `barcodes.tsv` imply.
struct ExpectedShape<'a> {
    genes: usize,
    spots: usize,
    features: &'a Path,
    barcodes: &'a Path,
}

impl ExpectedShape<'_> {
    fn check(&self, genes: usize, spots: usize) -> Result<()> {
        if self.genes != genes {
            return Err(DataError::invalid(
                self.features,
                "features",
                format!(
                    "has {} rows but matrix.mtx has {genes} genes (shape mismatch)",
                    self.genes
                ),
            ));
        }
        if self.spots != spots {
            return Err(DataError::invalid(
                self.barcodes,
                "barcodes",
                format!(
                    "has {} rows but matrix.mtx has {spots} spots (shape mismatch)",
                    self.spots
                ),
            ));
        }
        Ok(())
    }
}

/// The matrix, features and barcodes files of a 10x MatrixMarket folder (gzipped or not).
fn find_mtx_files(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let find = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.exists());
    let mtx_path = find(&["matrix.mtx.gz", "matrix.mtx"]).ok_or_else(|| {
        DataError::missing(
            dir,
            "matrix.mtx(.gz)",
            "a 10x MatrixMarket folder holds the count matrix",
        )
    })?;
    let feat_path = find(&[
        "features.tsv.gz",
        "features.tsv",
        "genes.tsv.gz",
        "genes.tsv",
    ])
    .ok_or_else(|| {
        DataError::missing(
            dir,
            "features.tsv(.gz)",
            "gene names (features.tsv or genes.tsv)",
        )
    })?;
    let bc_path = find(&["barcodes.tsv.gz", "barcodes.tsv"])
        .ok_or_else(|| DataError::missing(dir, "barcodes.tsv(.gz)", "spot barcodes"))?;
    Ok((mtx_path, feat_path, bc_path))
}

/// Gene ids, names and feature types from the rows of `features.tsv` (name and type default to the id and
/// "Gene Expression" for the one-column `genes.tsv`), and whether any row has a second column.
fn parse_features(features: &[String]) -> (Vec<String>, Vec<String>, Vec<String>, bool) {
    let fields: Vec<Vec<&str>> = features.iter().map(|l| l.split('\t').collect()).collect();
    let (ids, names, types) = {
        let mut ids = Vec::with_capacity(features.len());
        let mut names = Vec::with_capacity(features.len());
        let mut types = Vec::with_capacity(features.len());
        for f in &fields {
            ids.push(f[0].to_string());
            names.push(f.get(1).copied().unwrap_or(f[0]).to_string());
            types.push(f.get(2).copied().unwrap_or("Gene Expression").to_string());
        }
        (ids, names, types)
    };
    let has_ids = fields.iter().any(|f| f.len() >= 2);
    (ids, names, types, has_ids)
}

/// Attach coordinates: the table named in the options, or one discovered in the folder (a Space Ranger
/// `tissue_positions` file is read with its own reader); finding none is not an error.
fn attach_coords_for_dir(
    mut data: SpatialData,
    dir: &Path,
    opts: &ReadOptions,
) -> Result<SpatialData> {
    let coords = opts.coords.clone().or_else(|| discover_coords(dir));
    match coords {
        Some(table_path) => {
            if table_path.to_string_lossy().contains("tissue_positions") {
                let pos = super::spaceranger::read_tissue_positions(&table_path)?;
                let coords = ndarray::Array2::from_shape_fn((pos.barcodes.len(), 2), |(i, j)| {
                    if j == 0 {
                        pos.pxl_col_in_fullres[i]
                    } else {
                        pos.pxl_row_in_fullres[i]
                    }
                });
                let table = super::tables::CoordTable::new(pos.barcodes, coords)
                    .map_err(|e| e.in_file(&table_path))?;
                data = super::tables::join_coords(data, &table, &table_path)?;
            } else {
                data = super::tables::attach_coords(data, &table_path)?;
            }
        }
        None => {
            tracing::info!(dir = %dir.display(), "no coordinate table found; the dataset has no coordinates")
        }
    }
    Ok(data)
}

fn discover_coords(dir: &Path) -> Option<PathBuf> {
    [
        "coords.csv",
        "coords.tsv",
        "coords.parquet",
        "coordinates.csv",
        "spatial.csv",
        "spatial/tissue_positions.csv",
        "spatial/tissue_positions_list.csv",
    ]
    .iter()
    .map(|n| dir.join(n))
    .find(|p| p.exists())
}

fn text_lines(path: &Path, bytes: &[u8]) -> Result<Vec<String>> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| DataError::invalid(path, "text", "is not UTF-8"))?;
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect())
}

/// Parse a MatrixMarket `coordinate` file (real, integer or pattern; general) into CSR of the stored
/// orientation (rows x cols as in the header). Duplicate entries are summed, as scipy does.
pub fn read_matrix_market(path: &Path) -> Result<(usize, usize, CsrMatrix, String)> {
    parse_matrix_market(path, &super::read_maybe_gz(path)?, None)
}

/// [`read_matrix_market`] on the file's bytes; with `expected`, the size line must match it.
fn parse_matrix_market(
    path: &Path,
    bytes: &[u8],
    expected: Option<&ExpectedShape>,
) -> Result<(usize, usize, CsrMatrix, String)> {
    let bad =
        |line: usize, problem: String| DataError::invalid(path, format!("line {line}"), problem);
    let mut lines = bytes.split(|&b| b == b'\n').enumerate();
    let (_, header) = lines.next().ok_or_else(|| bad(1, "file is empty".into()))?;
    let field = parse_header(header, &bad)?;
    let mut size: Option<(usize, usize, usize)> = None;
    let mut row_idx: Vec<u32> = Vec::new();
    let mut col_idx: Vec<u32> = Vec::new();
    let mut vals: Vec<f32> = Vec::new();
    for (ln, raw) in lines {
        let line_no = ln + 1;
        let line = trim_ascii(raw);
        if line.is_empty() || line[0] == b'%' {
            continue;
        }
        let mut it = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|t| !t.is_empty());
        let (Some(t1), Some(t2)) = (it.next(), it.next()) else {
            return Err(bad(line_no, "expected at least two numbers".into()));
        };
        let t3 = it.next();
        match size {
            None => {
                let r = parse_usize(t1).ok_or_else(|| bad(line_no, "bad row count".into()))?;
                let c = parse_usize(t2).ok_or_else(|| bad(line_no, "bad column count".into()))?;
                let nnz = t3
                    .and_then(parse_usize)
                    .ok_or_else(|| bad(line_no, "bad entry count".into()))?;
                if r > u32::MAX as usize || c > u32::MAX as usize {
                    return Err(bad(line_no, "matrix too large".into()));
                }
                if let Some(shape) = expected {
                    shape.check(r, c)?;
                }
                if t3.and_then(|_| it.next()).is_some() {
                    return Err(bad(
                        line_no,
                        "the size line has more than three numbers".into(),
                    ));
                }
                size = Some((r, c, nnz));
                let cap = nnz.min(bytes.len() / 4 + 1);
                row_idx.reserve(cap);
                col_idx.reserve(cap);
                vals.reserve(cap);
            }
            Some((r, c, _)) => {
                let i = parse_usize(t1).ok_or_else(|| bad(line_no, "bad row index".into()))?;
                let j = parse_usize(t2).ok_or_else(|| bad(line_no, "bad column index".into()))?;
                if i == 0 || i > r || j == 0 || j > c {
                    return Err(bad(
                        line_no,
                        format!(
                            "entry ({i}, {j}) is outside the {r} x {c} matrix (indices are 1-based)"
                        ),
                    ));
                }
                let v = parse_value(t3, &field, line_no, &bad)?;
                if it.next().is_some() {
                    return Err(bad(
                        line_no,
                        "has more than 3 fields (an entry is 'row column value')".into(),
                    ));
                }
                row_idx.push((i - 1) as u32);
                col_idx.push((j - 1) as u32);
                vals.push(v);
            }
        }
    }
    let (n_rows, n_cols, nnz) = size.ok_or_else(|| bad(2, "no size line".into()))?;
    if vals.len() != nnz {
        return Err(DataError::invalid(
            path,
            "entries",
            format!(
                "header promises {nnz} entries but the file has {} (truncated?)",
                vals.len()
            ),
        ));
    }
    let csr = coo_to_csr(n_rows, n_cols, &row_idx, &col_idx, &vals).map_err(|e| e.in_file(path))?;
    let dtype = if field == "integer" { "int" } else { "float" };
    Ok((n_rows, n_cols, csr, dtype.to_string()))
}

/// The value field of a MatrixMarket `coordinate general` header line (`real`, `integer`, `pattern` or `double`).
fn parse_header(header: &[u8], bad: &impl Fn(usize, String) -> DataError) -> Result<String> {
    let header = String::from_utf8_lossy(header).to_ascii_lowercase();
    let words: Vec<&str> = header.split_whitespace().collect();
    if words.len() < 5 || words[0] != "%%matrixmarket" || words[1] != "matrix" {
        return Err(bad(
            1,
            format!("is not a MatrixMarket header: '{}'", header.trim()),
        ));
    }
    if words[2] != "coordinate" {
        return Err(bad(
            1,
            format!(
                "'{}' storage is not supported; 10x writes 'coordinate'",
                words[2]
            ),
        ));
    }
    let field = words[3].to_string();
    if !["real", "integer", "pattern", "double"].contains(&field.as_str()) {
        return Err(bad(
            1,
            format!("field '{field}' is not supported (real, integer or pattern)"),
        ));
    }
    if words[4] != "general" {
        return Err(bad(
            1,
            format!("symmetry '{}' is not supported (general only)", words[4]),
        ));
    }
    Ok(field)
}

/// The value of one entry: 1 for a pattern matrix, else the third token, which must be a finite number.
fn parse_value(
    t3: Option<&[u8]>,
    field: &str,
    line_no: usize,
    bad: &impl Fn(usize, String) -> DataError,
) -> Result<f32> {
    if field == "pattern" {
        return match t3 {
            None => Ok(1.0),
            Some(_) => Err(bad(
                line_no,
                "has a value, but a pattern entry is 'row column'".into(),
            )),
        };
    }
    let t = t3.ok_or_else(|| bad(line_no, "missing value".into()))?;
    let text = std::str::from_utf8(t).ok();
    let parsed = if field == "integer" {
        // An integer file promises integers: 2.5 there is a corrupt file, not a count.
        text.and_then(|s| s.parse::<i64>().ok()).map(|v| v as f32)
    } else {
        text.and_then(|s| s.parse::<f32>().ok())
    };
    let v = parsed.ok_or_else(|| {
        bad(
            line_no,
            format!(
                "bad value '{}' (the header says the values are {field})",
                String::from_utf8_lossy(t)
            ),
        )
    })?;
    if !v.is_finite() {
        return Err(bad(line_no, format!("value {v} is not finite")));
    }
    Ok(v)
}

/// Counting sort by row, then sort and merge duplicates within each row.
fn coo_to_csr(
    n_rows: usize,
    n_cols: usize,
    rows: &[u32],
    cols: &[u32],
    vals: &[f32],
) -> Result<CsrMatrix> {
    let mut indptr = vec![0usize; n_rows + 1];
    for &r in rows {
        indptr[r as usize + 1] += 1;
    }
    for i in 0..n_rows {
        indptr[i + 1] += indptr[i];
    }
    let mut next = indptr.clone();
    let mut indices = vec![0u32; vals.len()];
    let mut data = vec![0f32; vals.len()];
    for k in 0..vals.len() {
        let r = rows[k] as usize;
        indices[next[r]] = cols[k];
        data[next[r]] = vals[k];
        next[r] += 1;
    }
    // Sort each row by column and merge duplicates in place.
    let mut out_ptr = Vec::with_capacity(n_rows + 1);
    out_ptr.push(0usize);
    let mut w = 0usize;
    let mut row_buf: Vec<(u32, f32)> = Vec::new();
    for i in 0..n_rows {
        row_buf.clear();
        row_buf.extend((indptr[i]..indptr[i + 1]).map(|k| (indices[k], data[k])));
        row_buf.sort_unstable_by_key(|p| p.0);
        let start = w;
        for &(j, v) in &row_buf {
            if w > start && indices[w - 1] == j {
                data[w - 1] += v;
            } else {
                indices[w] = j;
                data[w] = v;
                w += 1;
            }
        }
        out_ptr.push(w);
    }
    indices.truncate(w);
    data.truncate(w);
    CsrMatrix::new(n_rows, n_cols, out_ptr, indices, data)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

fn parse_usize(t: &[u8]) -> Option<usize> {
    if t.is_empty() || t.len() > 19 {
        return None;
    }
    let mut v = 0usize;
    for &c in t {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as usize;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coo_merges_duplicates_and_sorts_rows() {
        let m = coo_to_csr(2, 3, &[1, 0, 1, 1], &[2, 1, 0, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(m.indptr(), &[0, 1, 3]);
        assert_eq!(m.indices(), &[1, 0, 2]);
        assert_eq!(m.data(), &[2.0, 3.0, 5.0]);
    }

    #[test]
    fn matrix_market_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.mtx");
        std::fs::write(
            &p,
            "%%MatrixMarket matrix coordinate integer general\n%\n2 2 2\n1 1 3\n3 1 1\n",
        )
        .unwrap();
        let e = read_matrix_market(&p).unwrap_err().to_string();
        assert!(e.contains("line 5") && e.contains("outside"), "{e}");
        std::fs::write(
            &p,
            "%%MatrixMarket matrix coordinate integer general\n2 2 3\n1 1 3\n",
        )
        .unwrap();
        let e = read_matrix_market(&p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(
            &p,
            "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 nan\n",
        )
        .unwrap();
        assert!(
            read_matrix_market(&p)
                .unwrap_err()
                .to_string()
                .contains("not finite")
        );
    }

    const FEATURES: &[u8] = b"G1\tGene1\tGene Expression\nG2\tGene2\tGene Expression\n";
    const BARCODES: &[u8] = b"AAA-1\nCCC-1\nGGG-1\n";

    fn folder(matrix: &str) -> Result<SpatialData> {
        read_mtx_bytes(matrix.as_bytes(), FEATURES, BARCODES)
    }

    #[test]
    fn a_header_larger_than_the_features_is_refused_before_allocating() {
        // Before the check moved ahead of the allocation, this header made the reader allocate gigabytes.
        let e = folder(
            "%%MatrixMarket matrix coordinate integer general\n1000000000 1000000000 1\n1 1 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("features.tsv") && e.contains("1000000000 genes"),
            "{e}"
        );
        let e = folder("%%MatrixMarket matrix coordinate integer general\n2 4000000000 1\n1 1 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("barcodes.tsv") && e.contains("4000000000 spots"),
            "{e}"
        );
        assert_eq!(
            folder("%%MatrixMarket matrix coordinate integer general\n2 3 1\n2 3 7\n")
                .unwrap()
                .x
                .to_dense()[[2, 1]],
            7.0
        );
    }

    #[test]
    fn integer_files_hold_integers_and_three_fields() {
        let head = "%%MatrixMarket matrix coordinate integer general\n2 3 1\n";
        let e = folder(&format!("{head}1 1 2.5\n")).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("2.5") && e.contains("integer"),
            "{e}"
        );
        let e = folder(&format!("{head}1 1 2 9\n")).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("more than 3 fields"),
            "{e}"
        );
        let e = folder("%%MatrixMarket matrix coordinate integer general\n2 3 1 5\n1 1 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("more than three"), "{e}");
        let e = folder("%%MatrixMarket matrix coordinate pattern general\n2 3 1\n1 1 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("pattern entry"), "{e}");
        assert!(folder("%%MatrixMarket matrix coordinate real general\n2 3 1\n1 1 2.5\n").is_ok());
    }

    #[test]
    fn negative_counts_are_refused_naming_spot_and_gene() {
        let e = folder("%%MatrixMarket matrix coordinate integer general\n2 3 2\n1 1 4\n2 3 -3\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-3")
                && e.contains("GGG-1")
                && e.contains("Gene2")
                && e.contains("negative"),
            "{e}"
        );
    }
}
