//! A query of another depth: single cells (a few hundred counts each) placed from a spot reference (thousands
//! per spot). The reference is thinned binomially to depths drawn from the query's library sizes before
//! training, so the model learns (and its validation spots calibrate) profiles as sparse as the query's.

use std::collections::HashSet;

use dpvae_data::SpatialData;
use dpvae_data::align::AlignParams;
use dpvae_data::depth::{median_skipna as median, shares_to_depths, thin};

use crate::error::Result;

/// What training may know of the query: which genes it has and how deeply it was sequenced, never where its
/// spots are.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryProfile {
    /// The query's gene identifiers (symbols or ids, as the alignment matches them).
    pub genes: Vec<String>,
    /// Per query spot or cell, its total counts over every gene.
    pub library_sizes: Vec<f64>,
    /// Per query gene, its total counts over the query.
    pub gene_totals: Vec<f64>,
}

impl QueryProfile {
    /// The profile of `query`, its genes named as `align` matches them.
    pub fn of(query: &SpatialData, align: &AlignParams) -> Result<Self> {
        let genes = align.keys(query, "query")?.to_vec();
        let csr = query.x.to_csr();
        let mut gene_totals = vec![0.0; csr.n_cols()];
        for (&j, &v) in csr.indices().iter().zip(csr.data()) {
            gene_totals[j as usize] += v as f64;
        }
        Ok(Self {
            genes,
            library_sizes: query.x.row_sums(),
            gene_totals,
        })
    }

    /// A profile that names the genes only (no depth is matched).
    pub fn genes_only(genes: &[String]) -> Self {
        Self {
            genes: genes.to_vec(),
            library_sizes: Vec::new(),
            gene_totals: Vec::new(),
        }
    }

    /// The query's library sizes counted over the genes the reference also has (keys `reference_genes`):
    /// each spot's total scaled by the shared genes' share of the query's counts.
    fn shared_library_sizes(&self, reference_genes: &HashSet<&str>) -> Vec<f64> {
        let total: f64 = self.gene_totals.iter().sum();
        let shared: f64 = self
            .genes
            .iter()
            .zip(&self.gene_totals)
            .filter(|(g, _)| reference_genes.contains(g.as_str()))
            .map(|(_, t)| t)
            .sum();
        let share = if total > 0.0 { shared / total } else { 0.0 };
        self.library_sizes.iter().map(|l| l * share).collect()
    }
}

/// How the reference was brought to the query's depth: stored in placement.json and
/// `uns['dpvae']['placement']['depth']`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DepthMatch {
    /// Median counts per query spot or cell over the genes both share.
    pub query_median: f64,
    /// The same for the reference's spots, before thinning.
    pub reference_median: f64,
}

/// What a user is told when training matched a shallower query's depth (`None` when it did not).
pub fn depth_note(record: Option<&crate::placement::PlacementRecord>) -> Option<String> {
    let d = record?.depth.as_ref()?;
    Some(format!(
        "the query has {:.1}x fewer counts per spot or cell than the reference (median {:.0} against {:.0} over \
         the shared genes): trained on the reference's spots and copies thinned to the query's depth, and \
         calibrated the radii on those copies (placement.thin_below = 0 turns this off)",
        d.reference_median / d.query_median.max(1e-9),
        d.query_median,
        d.reference_median
    ))
}

/// The reference thinned to the query's depth, when the query's median library size over the shared genes is
/// below `below` times the reference's (`below` 0: never). `None` leaves the reference as it is.
pub(crate) fn matched(
    reference: &SpatialData,
    query: Option<&QueryProfile>,
    align: &AlignParams,
    below: f64,
    seed: u64,
) -> Result<Option<(SpatialData, DepthMatch)>> {
    let Some(query) = query.filter(|q| below > 0.0 && !q.library_sizes.is_empty()) else {
        return Ok(None);
    };
    let query_genes: HashSet<&str> = query.genes.iter().map(String::as_str).collect();
    let reference_keys = align.keys(reference, "reference")?;
    let shared_cols: Vec<usize> = (0..reference_keys.len())
        .filter(|&j| query_genes.contains(reference_keys[j].as_str()))
        .collect();
    if shared_cols.is_empty() {
        return Ok(None);
    }
    let reference_genes: HashSet<&str> = reference_keys.iter().map(String::as_str).collect();
    let query_sizes = query.shared_library_sizes(&reference_genes);
    let reference_sizes = dpvae_data::depth::library_sizes(reference, Some(&shared_cols));
    let (q, r) = (median(&query_sizes), median(&reference_sizes));
    if !(q.is_finite() && r.is_finite() && r > 0.0 && q < below * r) {
        return Ok(None);
    }
    tracing::info!(
        query_median = q,
        reference_median = r,
        "the query has {:.1}x fewer counts per spot than the reference (over the shared genes): training on \
         the reference thinned to the query's depth",
        r / q.max(1e-9)
    );
    let shares = shares_to_depths(&reference_sizes, &query_sizes, seed ^ 0xdee9);
    let depth = DepthMatch {
        query_median: q,
        reference_median: r,
    };
    Ok(Some((thin(reference, &shares, seed ^ 0x7417)?, depth)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dpvae_data::Matrix;
    use ndarray::Array2;

    fn section(n: usize, depth: f32, genes: &[&str]) -> SpatialData {
        let x = Array2::from_elem((n, genes.len()), depth);
        SpatialData::new(
            Matrix::Dense(x),
            (0..n).map(|i| format!("s{i}")).collect(),
            genes.iter().map(|g| g.to_string()).collect(),
            Some(Array2::zeros((n, 2))),
        )
        .unwrap()
    }

    #[test]
    fn a_shallow_query_thins_the_reference_and_a_deep_one_does_not() {
        let align = AlignParams::default();
        let reference = section(200, 100.0, &["a", "b", "c", "d"]);
        // Per cell 10 counts on each of a, b and 30 on a gene the reference lacks: 20 shared counts.
        let mut cells = section(50, 10.0, &["a", "b", "z"]);
        cells.x = Matrix::Dense(
            ndarray::array![[10.0f32, 10.0, 30.0]]
                .broadcast((50, 3))
                .unwrap()
                .to_owned(),
        );
        let profile = QueryProfile::of(&cells, &align).unwrap();
        let (thinned, depth) = matched(&reference, Some(&profile), &align, 0.5, 0)
            .unwrap()
            .expect("a 10x shallower query thins");
        assert_eq!((depth.query_median, depth.reference_median), (20.0, 200.0));
        // The reference's shared-gene depth (200) is brought to the query's (20); the other genes follow.
        let mean = thinned.x.row_sums().iter().sum::<f64>() / 200.0;
        assert!((mean - 40.0).abs() < 3.0, "mean library {mean}");
        let deep = QueryProfile::of(&section(50, 80.0, &["a", "b"]), &align).unwrap();
        assert!(
            matched(&reference, Some(&deep), &align, 0.5, 0)
                .unwrap()
                .is_none()
        );
        assert!(
            matched(&reference, Some(&profile), &align, 0.0, 0)
                .unwrap()
                .is_none()
        );
        let names = QueryProfile::genes_only(&profile.genes);
        assert!(
            matched(&reference, Some(&names), &align, 0.5, 0)
                .unwrap()
                .is_none()
        );
    }
}
