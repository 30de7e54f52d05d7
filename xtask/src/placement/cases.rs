//! The benchmark's cases: 80/20 held-out splits of every section, and transfer between related sections.

use std::path::PathBuf;

use anyhow::{Context, Result};
use dpvae_data::SpatialData;
use dpvae_data::split::train_test_split;
use serde::Serialize;

use crate::reproduce::manifest::Panel;

/// Transfer pairs (reference, query): adjacent DLPFC sections, pairs across the 300 um gap, and ST hippocampus
/// sections. Pairs whose sections the data directory lacks are skipped.
pub const TRANSFER_PAIRS: [(&str, &str); 10] = [
    ("visium_dlpfc_151673", "visium_dlpfc_151674"),
    ("visium_dlpfc_151673", "visium_dlpfc_151675"),
    ("visium_dlpfc_151674", "visium_dlpfc_151673"),
    ("visium_dlpfc_151675", "visium_dlpfc_151676"),
    ("visium_dlpfc_151676", "visium_dlpfc_151674"),
    ("st_mouse_brain_hippo1", "st_mouse_brain_hippo5"),
    ("st_mouse_brain_hippo1", "st_mouse_brain_hippo2"),
    ("st_mouse_brain_hippo3", "st_mouse_brain_hippo4"),
    ("st_mouse_brain_hippo5", "st_mouse_brain_hippo6"),
    ("st_mouse_brain_hippo7", "st_mouse_brain_hippo8"),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseKind {
    Holdout { section: String, seed: u64 },
    Transfer { reference: String, query: String },
}

/// One placement problem: reference rows (with coordinates) and query rows (coordinates hidden).
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    pub id: String,
    pub kind: CaseKind,
    pub reference_path: PathBuf,
    pub reference_rows: Vec<usize>,
    pub query_path: PathBuf,
    pub query_rows: Vec<usize>,
    /// Seed of every method on this case.
    pub seed: u64,
}

impl Case {
    pub fn label(&self) -> String {
        match &self.kind {
            CaseKind::Holdout { section, .. } => section.clone(),
            CaseKind::Transfer { reference, query } => format!("{reference} -> {query}"),
        }
    }

    pub fn is_holdout(&self) -> bool {
        matches!(self.kind, CaseKind::Holdout { .. })
    }

    /// The reference and query datasets.
    pub fn load(&self) -> Result<(SpatialData, SpatialData)> {
        let read = |p: &PathBuf| {
            dpvae_data::io::read(p).with_context(|| format!("reading {}", p.display()))
        };
        let r = read(&self.reference_path)?;
        let q = if self.query_path == self.reference_path {
            r.clone()
        } else {
            read(&self.query_path)?
        };
        Ok((
            r.select_obs(&self.reference_rows)?,
            q.select_obs(&self.query_rows)?,
        ))
    }
}

/// Held-out cases for `sections` x `seeds`, and the transfer pairs among `transfer`.
pub fn build(
    panel: &Panel,
    sections: &[String],
    seeds: &[u64],
    transfer: &[(String, String)],
) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for name in sections {
        let s = panel
            .get(name)
            .with_context(|| format!("section {name} is not in the data directory"))?;
        for &seed in seeds {
            let split = train_test_split(s.n_obs, 0.2, seed)?;
            cases.push(Case {
                id: format!("holdout-{name}-seed{seed}"),
                kind: CaseKind::Holdout {
                    section: name.clone(),
                    seed,
                },
                reference_path: s.path.clone(),
                reference_rows: split.train,
                query_path: s.path.clone(),
                query_rows: split.test,
                seed,
            });
        }
    }
    for (a, b) in transfer {
        let (Some(sa), Some(sb)) = (panel.get(a), panel.get(b)) else {
            continue;
        };
        cases.push(Case {
            id: format!("transfer-{a}-to-{b}"),
            kind: CaseKind::Transfer {
                reference: a.clone(),
                query: b.clone(),
            },
            reference_path: sa.path.clone(),
            reference_rows: (0..sa.n_obs).collect(),
            query_path: sb.path.clone(),
            query_rows: (0..sb.n_obs).collect(),
            seed: 0,
        });
    }
    Ok(cases)
}
