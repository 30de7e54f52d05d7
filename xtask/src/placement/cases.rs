//! The benchmark's cases: 80/20 held-out splits of every section, and transfer between related sections.

use std::path::PathBuf;

use anyhow::{Context, Result};
use dpvae_data::SpatialData;
use dpvae_data::split::train_test_split;
use serde::Serialize;

use crate::reproduce::manifest::Panel;

/// Transfer pairs (reference, query): adjacent DLPFC sections, pairs across the 300 um gap, ST hippocampus
/// sections, and the two Visium FFPE prostate samples (normal and cancer) both ways. Pairs whose sections the
/// data directories lack are skipped.
pub const TRANSFER_PAIRS: [(&str, &str); 12] = [
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
    ("visium_prostate_1", "visium_prostate_2"),
    ("visium_prostate_2", "visium_prostate_1"),
];

/// A cell annotation the cross-resolution cases transfer (#26): each pseudo-spot takes the most common label of
/// its cells (osmFISH's anatomical `Region`).
pub const LABEL_COLUMN: &str = "Region";

/// The most common `column` label of each pseudo-spot's cells (ties: the first label in sorted order); `None`
/// when the cells have no such column.
fn spot_labels(
    cells: &SpatialData,
    built: &dpvae_data::pseudospots::PseudoSpots,
    column: &str,
) -> Option<Vec<String>> {
    let (labels, names) = dpvae::anndata::obs_labels(cells, column)?;
    let mut counts = vec![vec![0usize; names.len()]; built.spots.n_obs()];
    for (cell, spot) in built.spot_of_cell.iter().enumerate() {
        if let Some(s) = spot {
            counts[*s][labels[cell]] += 1;
        }
    }
    Some(
        counts
            .iter()
            .map(|c| {
                let best = (0..c.len()).fold(0, |b, l| if c[l] > c[b] { l } else { b });
                names[best].clone()
            })
            .collect(),
    )
}

/// Single-cell-resolution sections the cross-resolution cases make pseudo-spots of (#26), when present.
pub const CELL_SECTIONS: [&str; 4] = [
    "xenium_mouse_brain",
    "seqfish_mmc6",
    "osmfish_sscortex",
    "slideseq_cerebellum",
];

/// Most query cells of a cross-resolution case (a seeded subsample of the cells in no spot).
const MAX_QUERY_CELLS: usize = 5000;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseKind {
    Holdout {
        section: String,
        seed: u64,
    },
    Transfer {
        reference: String,
        query: String,
    },
    /// Single cells (in no spot) placed from the section's pseudo-spots.
    Cells {
        section: String,
        seed: u64,
    },
    /// The control: pseudo-spots placed from the other pseudo-spots (80/20).
    Spots {
        section: String,
        seed: u64,
    },
}

/// Pseudo-spots of a single-cell section, sized by its cell density: the pitch is 9 median nearest-cell
/// distances (about Visium's 100 um for Xenium's ~11 um), discs of radius 0.275 x pitch (Visium's 55 um
/// discs at 100 um), at least 3 cells a spot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pseudo {
    pub pitch: f64,
    pub radius: f64,
    pub min_cells: usize,
}

impl Pseudo {
    pub fn for_section(cells: &SpatialData) -> Result<Pseudo> {
        let xy = cells.require_spatial()?;
        let index = dpvae_core::knn::KdIndex::<2>::new(xy.slice(ndarray::s![.., ..2]))?;
        let mut d: Vec<f64> = (0..xy.nrows())
            .filter_map(|i| index.knn(i, 1).first().map(|&(_, d2)| d2.sqrt()))
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        anyhow::ensure!(!d.is_empty(), "no two distinct cell positions");
        let pitch = 9.0 * dpvae_core::stats::median(&mut d);
        Ok(Pseudo {
            pitch,
            radius: 0.275 * pitch,
            min_cells: 3,
        })
    }

    fn build(&self, cells: &SpatialData) -> Result<dpvae_data::pseudospots::PseudoSpots> {
        Ok(dpvae_data::pseudospots::PseudoSpotParams {
            pitch: self.pitch,
            radius: self.radius,
            min_cells: self.min_cells,
        }
        .build(cells)?)
    }
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
    /// The technology of the query's section (the manifest's `tech`): the family the report groups by.
    pub family: String,
    /// Cross-resolution cases: the pseudo-spots the rows refer to (reference rows are spots; query rows are
    /// spots for the control and cells of the section otherwise).
    pub pseudo: Option<Pseudo>,
}

impl Case {
    pub fn label(&self) -> String {
        match &self.kind {
            CaseKind::Holdout { section, .. }
            | CaseKind::Cells { section, .. }
            | CaseKind::Spots { section, .. } => section.clone(),
            CaseKind::Transfer { reference, query } => format!("{reference} -> {query}"),
        }
    }

    pub fn is_holdout(&self) -> bool {
        matches!(self.kind, CaseKind::Holdout { .. })
    }

    /// "holdout", "transfer", "cells" or "spots".
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            CaseKind::Holdout { .. } => "holdout",
            CaseKind::Transfer { .. } => "transfer",
            CaseKind::Cells { .. } => "cells",
            CaseKind::Spots { .. } => "spots",
        }
    }

    /// The reference and query datasets.
    pub fn load(&self) -> Result<(SpatialData, SpatialData)> {
        let read = |p: &PathBuf| {
            dpvae_data::io::read(p).with_context(|| format!("reading {}", p.display()))
        };
        if let Some(pseudo) = &self.pseudo {
            let cells = read(&self.reference_path)?;
            let built = pseudo.build(&cells)?;
            let labels = spot_labels(&cells, &built, LABEL_COLUMN);
            let mut spots = built.spots;
            if let Some(l) = labels {
                spots
                    .obs
                    .with_column(polars::prelude::Column::new(LABEL_COLUMN.into(), l))?;
            }
            let query = match self.kind {
                CaseKind::Spots { .. } => spots.select_obs(&self.query_rows)?,
                _ => cells.select_obs(&self.query_rows)?,
            };
            return Ok((spots.select_obs(&self.reference_rows)?, query));
        }
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
        // Raw instrument folders state no size in the manifest.
        let n_obs = match s.n_obs {
            0 => dpvae_data::io::read(&s.path)
                .with_context(|| format!("reading {}", s.path.display()))?
                .n_obs(),
            n => n,
        };
        for &seed in seeds {
            let split = train_test_split(n_obs, 0.2, seed)?;
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
                family: s.tech.clone(),
                pseudo: None,
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
            family: sb.tech.clone(),
            pseudo: None,
        });
    }
    Ok(cases)
}

/// Cross-resolution cases of every [`CELL_SECTIONS`] section among `sections`: single cells in no spot placed
/// from all the pseudo-spots, and the spots-from-spots control (80/20), for each seed.
pub fn build_cross(panel: &Panel, sections: &[String], seeds: &[u64]) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for name in sections
        .iter()
        .filter(|s| CELL_SECTIONS.contains(&s.as_str()))
    {
        let Some(s) = panel.get(name) else { continue };
        let cells = dpvae_data::io::read(&s.path)
            .with_context(|| format!("reading {}", s.path.display()))?;
        let pseudo = Pseudo::for_section(&cells)?;
        let built = pseudo.build(&cells)?;
        let free: Vec<usize> = (0..cells.n_obs())
            .filter(|&i| built.spot_of_cell[i].is_none())
            .collect();
        let n_spots = built.spots.n_obs();
        for &seed in seeds {
            let query_cells = dpvae::placement::seeded_subset(&free, MAX_QUERY_CELLS, seed, 0xce11);
            let mut query_cells = query_cells;
            query_cells.sort_unstable();
            let split = train_test_split(n_spots, 0.2, seed)?;
            let base = |kind, id: String, reference_rows, query_rows| Case {
                id,
                kind,
                reference_path: s.path.clone(),
                reference_rows,
                query_path: s.path.clone(),
                query_rows,
                seed,
                family: s.tech.clone(),
                pseudo: Some(pseudo),
            };
            cases.push(base(
                CaseKind::Cells {
                    section: name.clone(),
                    seed,
                },
                format!("cells-{name}-seed{seed}"),
                (0..n_spots).collect(),
                query_cells,
            ));
            cases.push(base(
                CaseKind::Spots {
                    section: name.clone(),
                    seed,
                },
                format!("spots-{name}-seed{seed}"),
                split.train,
                split.test,
            ));
        }
    }
    Ok(cases)
}
