//! Reference/query gene alignment: put a query in the reference's gene space before transfer.
//!
//! The query's genes are reordered to the reference's order; reference genes the query lacks become all-zero
//! columns (reported, and an error above `max_missing_fraction`); query genes the reference lacks are dropped.

use std::collections::HashMap;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::dataset::SpatialData;
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// Which gene identifier to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneKey {
    /// Gene names / symbols (`var_names`).
    #[default]
    Symbols,
    /// Gene ids (e.g. Ensembl, `var_ids`); both datasets must have them.
    Ids,
}

/// How to match genes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlignParams {
    pub key: GeneKey,
    /// Compare identifiers ignoring case (`Gapdh` = `GAPDH`).
    pub case_insensitive: bool,
    /// Fail when more than this fraction of the reference genes is missing from the query (default 0.5).
    pub max_missing_fraction: f64,
}

impl Default for AlignParams {
    fn default() -> Self {
        AlignParams {
            key: GeneKey::Symbols,
            case_insensitive: false,
            max_missing_fraction: 0.5,
        }
    }
}

/// What an alignment did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignReport {
    pub n_reference_genes: usize,
    pub n_query_genes: usize,
    /// Reference genes found in the query.
    pub n_matched: usize,
    /// Reference genes absent from the query, filled with zeros.
    pub n_missing: usize,
    pub missing_fraction: f64,
    /// Up to the first 20 missing reference genes, for the message a user sees.
    pub missing_examples: Vec<String>,
    /// Query genes not in the reference (dropped).
    pub n_query_only: usize,
    /// Query genes whose identifier repeats an earlier one (the first occurrence is used).
    pub n_query_duplicates: usize,
}

impl AlignParams {
    pub fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.max_missing_fraction) {
            return Err(DataError::data(
                "align",
                format!(
                    "max_missing_fraction must be in [0, 1], got {}",
                    self.max_missing_fraction
                ),
            ));
        }
        Ok(())
    }

    fn norm<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        if self.case_insensitive {
            std::borrow::Cow::Owned(s.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    }

    /// The identifiers of `data` this alignment matches on.
    pub fn keys<'a>(&self, data: &'a SpatialData, which: &str) -> Result<&'a [String]> {
        match self.key {
            GeneKey::Symbols => Ok(&data.var_names),
            GeneKey::Ids => data.var_ids.as_deref().ok_or_else(|| {
                DataError::data(
                    format!("{which} var ids"),
                    "matching by gene id was asked for but this dataset has no gene ids (match by symbols instead)",
                )
            }),
        }
    }

    /// For each reference identifier, the query gene with the same identifier (under this matching rule).
    pub fn match_genes(
        &self,
        reference: &[String],
        query: &[String],
    ) -> (Vec<Option<usize>>, usize) {
        let mut index: HashMap<std::borrow::Cow<str>, usize> = HashMap::with_capacity(query.len());
        let mut dups = 0;
        for (j, q) in query.iter().enumerate() {
            if index.insert(self.norm(q), j).is_some() {
                dups += 1;
            }
        }
        // `insert` kept the last duplicate; re-insert so the first occurrence wins.
        if dups > 0 {
            for (j, q) in query.iter().enumerate().rev() {
                index.insert(self.norm(q), j);
            }
        }
        let map = reference
            .iter()
            .map(|r| index.get(&self.norm(r)).copied())
            .collect();
        (map, dups)
    }

    /// Identifiers that occur more than once in `names` (as this alignment compares them), in order of their
    /// second occurrence: only the first occurrence of each is ever read.
    pub fn duplicates(&self, names: &[String]) -> Vec<String> {
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        let mut reported = std::collections::HashSet::new();
        names
            .iter()
            .filter(|n| !seen.insert(self.norm(n)) && reported.insert(self.norm(n)))
            .cloned()
            .collect()
    }

    /// Align `query` to the genes of `reference` (names, and ids when the reference has them).
    pub fn align(
        &self,
        query: &SpatialData,
        reference: &SpatialData,
    ) -> Result<(SpatialData, AlignReport)> {
        let keys = self.keys(reference, "reference")?.to_vec();
        let mut out = self.align_to(query, &keys)?;
        out.0.var_names = reference.var_names.clone();
        out.0.var_ids = reference.var_ids.clone();
        Ok(out)
    }

    /// Align `query` to a list of reference identifiers (symbols or ids, per `key`). The result's `var_names`
    /// are the reference identifiers.
    pub fn align_to(
        &self,
        query: &SpatialData,
        reference: &[String],
    ) -> Result<(SpatialData, AlignReport)> {
        self.check()?;
        if reference.is_empty() {
            return Err(DataError::data("align", "the reference has no genes"));
        }
        let qkeys = self.keys(query, "query")?;
        let (map, dups) = self.match_genes(reference, qkeys);
        let n_matched = map.iter().filter(|m| m.is_some()).count();
        let n_missing = reference.len() - n_matched;
        let missing_fraction = n_missing as f64 / reference.len() as f64;
        let mut used = vec![false; qkeys.len()];
        for j in map.iter().flatten() {
            used[*j] = true;
        }
        let report = AlignReport {
            n_reference_genes: reference.len(),
            n_query_genes: qkeys.len(),
            n_matched,
            n_missing,
            missing_fraction,
            missing_examples: reference
                .iter()
                .zip(&map)
                .filter(|(_, m)| m.is_none())
                .take(20)
                .map(|(r, _)| r.clone())
                .collect(),
            n_query_only: used.iter().filter(|u| !**u).count() - dups.min(qkeys.len()),
            n_query_duplicates: dups,
        };
        if missing_fraction > self.max_missing_fraction {
            return Err(DataError::data(
                "genes",
                format!(
                    "{n_missing} of {} reference genes ({:.1}%) are missing from the query, more than the allowed {:.1}% \
                     (first missing: {}); check that both datasets use the same identifiers (symbols vs ids, species), \
                     or match case-insensitively / by id",
                    reference.len(),
                    100.0 * missing_fraction,
                    100.0 * self.max_missing_fraction,
                    report.missing_examples.join(", ")
                ),
            ));
        }
        if n_missing > 0 {
            // The facade warns once, in words, with examples; a second warning here printed the fact twice.
            tracing::debug!(
                n_missing,
                n_reference = reference.len(),
                "reference genes missing from the query were filled with zeros"
            );
        }
        let aligned = SpatialData {
            x: reindex_cols(&query.x, &map),
            obs_names: query.obs_names.clone(),
            var_names: reference.to_vec(),
            var_ids: None,
            spatial: query.spatial.clone(),
            obs: query.obs.clone(),
            var: DataFrame::empty_with_height(reference.len()),
            obsm: query.obsm.clone(),
            layers: query
                .layers
                .iter()
                .map(|(k, m)| (k.clone(), reindex_cols(m, &map)))
                .collect(),
            uns: query.uns.clone(),
            source: query.source.clone(),
        };
        Ok((aligned, report))
    }
}

/// Column `k` of the result is column `map[k]` of `x`, or zeros when `None` (a source column may repeat).
pub fn reindex_cols(x: &Matrix, map: &[Option<usize>]) -> Matrix {
    match x {
        Matrix::Dense(a) => {
            let mut out = ndarray::Array2::<f32>::zeros((a.nrows(), map.len()));
            for (k, m) in map.iter().enumerate() {
                if let Some(j) = m {
                    out.column_mut(k).assign(&a.column(*j));
                }
            }
            Matrix::Dense(out)
        }
        Matrix::Csr(c) => {
            let mut targets: Vec<Vec<u32>> = vec![Vec::new(); c.n_cols()];
            for (k, m) in map.iter().enumerate() {
                if let Some(j) = m {
                    targets[*j].push(k as u32);
                }
            }
            let mut indptr = Vec::with_capacity(c.n_rows() + 1);
            let mut indices = Vec::new();
            let mut data = Vec::new();
            let mut buf: Vec<(u32, f32)> = Vec::new();
            indptr.push(0);
            for i in 0..c.n_rows() {
                buf.clear();
                let (idx, val) = c.row(i);
                for (&j, &v) in idx.iter().zip(val) {
                    for &k in &targets[j as usize] {
                        buf.push((k, v));
                    }
                }
                buf.sort_unstable_by_key(|p| p.0);
                for &(k, v) in &buf {
                    indices.push(k);
                    data.push(v);
                }
                indptr.push(data.len());
            }
            Matrix::Csr(
                CsrMatrix::new(c.n_rows(), map.len(), indptr, indices, data)
                    .expect("reindexing keeps a valid CSR structure"),
            )
        }
    }
}
