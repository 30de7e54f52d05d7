//! Choosing the gene selection per reference by validation. A reference carries its own answer key: its
//! validation spots (held out of training, shared by every member) are exchangeable with held-out query spots.
//! Each candidate gene selection trains a small ensemble on the same split, places the validation spots in
//! the reference's frame, and is scored by the Procrustes disparity of that placement against their true
//! coordinates. The best candidate is completed to the full ensemble (its search members are kept, since the
//! full ensemble would train them again identically). The query is never used to choose.

use dpvae_data::preprocess::{HvgFlavor, HvgParams};
use serde::{Deserialize, Serialize};

use crate::error::{Result, bail};
use crate::settings::TrainSettings;
use crate::uncertainty::MIN_CALIBRATION;

/// What the automatic choice searches and what it may spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoSettings {
    /// Choose per reference (`--no-auto` turns it off: `preprocess.hvg` is then used as it is).
    pub enabled: bool,
    /// The gene selections tried, each keeping `preprocess.hvg`'s number of genes.
    pub hvg_flavors: Vec<HvgFlavor>,
    /// Members each candidate trains for the search.
    pub members: usize,
    /// Above this many reference spots the search runs on a seeded subsample of this size (the chosen
    /// candidate then trains on every spot).
    pub max_spots: usize,
}

impl Default for AutoSettings {
    fn default() -> Self {
        Self::recommended()
    }
}

impl AutoSettings {
    /// dpvae's defaults: top-variance, `seurat_v3` and `seurat` genes (the fixed default first, so a tie or a
    /// reference with fewer genes than asked for keeps it), two members each, at most 50000 spots.
    pub fn recommended() -> Self {
        AutoSettings {
            enabled: true,
            hvg_flavors: vec![HvgFlavor::Variance, HvgFlavor::SeuratV3, HvgFlavor::Seurat],
            members: 2,
            max_spots: 50000,
        }
    }

    /// No search (the paper's protocol).
    pub fn off() -> Self {
        AutoSettings {
            enabled: false,
            ..Self::recommended()
        }
    }

    pub fn check(&self) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.hvg_flavors.is_empty() {
            bail!(
                "placement.auto.hvg_flavors is empty: list at least one flavor or set enabled = false"
            );
        }
        if self.members == 0 {
            bail!("placement.auto.members must be at least 1");
        }
        if self.max_spots < 10 * MIN_CALIBRATION {
            bail!(
                "placement.auto.max_spots must be at least {} so the search has validation spots to score",
                10 * MIN_CALIBRATION
            );
        }
        Ok(())
    }
}

/// One candidate of the search and how it scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub hvg_flavor: HvgFlavor,
    /// Genes the candidate selected.
    pub n_genes: usize,
    /// Procrustes disparity of its ensemble's placement of the validation spots (lower is better).
    pub validation_disparity: Option<f64>,
    /// The earlier candidate that selected the same genes: this one was not trained again, since it would
    /// train the same models, and has that candidate's score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_genes_as: Option<HvgFlavor>,
    /// Why the candidate could not be tried (e.g. its gene selection failed on this reference); the search
    /// went on without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// The search's outcome, stored in placement.json and `uns['dpvae']['placement']['selection']`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub chosen: HvgFlavor,
    pub candidates: Vec<Candidate>,
    /// Validation spots every candidate was scored on.
    pub validation_spots: usize,
    /// Members each candidate trained for the search.
    pub members: usize,
    /// Reference spots the search used, when it ran on a subsample.
    pub subsample: Option<usize>,
}

/// The candidates' settings when a search should run for `settings` on `n_spots` reference spots: `None` when
/// it is off, when there is nothing to choose, or when the reference has too few validation spots to score.
pub fn candidates(settings: &TrainSettings, n_spots: usize) -> Option<Vec<TrainSettings>> {
    let auto = &settings.placement.auto;
    let hvg = settings.preprocess.hvg.as_ref()?;
    let searched = n_spots.min(auto.max_spots);
    let n_validation = (settings.train.validation_fraction * searched as f64).round() as usize;
    let mut flavors: Vec<HvgFlavor> = Vec::new();
    for f in &auto.hvg_flavors {
        if !flavors.contains(f) {
            flavors.push(*f);
        }
    }
    if !auto.enabled || flavors.len() < 2 || !settings.placement.reference_frame {
        return None;
    }
    if n_validation < MIN_CALIBRATION {
        tracing::info!(
            n_validation,
            "too few validation spots to choose the gene selection; using preprocess.hvg as set"
        );
        return None;
    }
    Some(
        flavors
            .into_iter()
            .map(|flavor| {
                let mut s = settings.clone();
                s.preprocess.hvg = Some(HvgParams {
                    flavor,
                    ..hvg.clone()
                });
                s.placement.auto.enabled = false;
                s
            })
            .collect(),
    )
}

/// The rows of a seeded subsample of `n` spots when `n` exceeds `max` (the search's subsample).
pub fn subsample_rows(n: usize, max: usize, seed: u64) -> Option<Vec<usize>> {
    (n > max).then(|| {
        let mut rows =
            crate::placement::seeded_subset(&(0..n).collect::<Vec<_>>(), max, seed, 0xa070);
        rows.sort_unstable();
        rows
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_need_a_choice_and_enough_validation_spots() {
        let s = TrainSettings::recommended();
        let c = candidates(&s, 2000).expect("a search");
        let flavors: Vec<HvgFlavor> = c
            .iter()
            .map(|s| s.preprocess.hvg.as_ref().unwrap().flavor)
            .collect();
        assert_eq!(
            flavors,
            vec![HvgFlavor::Variance, HvgFlavor::SeuratV3, HvgFlavor::Seurat]
        );
        assert!(
            c.iter().all(|s| !s.placement.auto.enabled
                && s.preprocess.hvg.as_ref().unwrap().n_top_genes == 2000)
        );
        // 10% of 150 spots is 15 validation spots: too few to score.
        assert!(candidates(&s, 150).is_none());
        let mut off = s.clone();
        off.placement.auto.enabled = false;
        assert!(candidates(&off, 2000).is_none());
        assert!(candidates(&TrainSettings::paper(), 2000).is_none());
    }

    #[test]
    fn settings_are_checked() {
        let mut a = AutoSettings::recommended();
        a.check().unwrap();
        a.members = 0;
        assert!(a.check().is_err());
        a = AutoSettings::recommended();
        a.hvg_flavors.clear();
        assert!(a.check().is_err());
        a.enabled = false;
        a.check().unwrap();
    }

    #[test]
    fn large_references_search_on_a_seeded_subsample() {
        assert!(subsample_rows(100, 200, 0).is_none());
        let a = subsample_rows(1000, 300, 4).unwrap();
        assert_eq!(a.len(), 300);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, subsample_rows(1000, 300, 4).unwrap());
    }
}
