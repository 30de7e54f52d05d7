//! The two protocols: `full` (the paper's settings) and `quick` (the same experiments, small enough for CI).

use dpvae_model::LambdaMode;
use serde::{Deserialize, Serialize};

use super::manifest::{Group, Panel};

/// Every setting the experiments depend on; recorded in each job's result and in results.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    /// Training epochs of every model (the paper: 2000).
    pub epochs: usize,
    /// Adam learning rate (the paper: 5e-4 or 1e-4).
    pub learning_rate: f64,
    pub batch_size: usize,
    /// a2 of "the" dp-VAE (Figures 5, 6, 9, 11, Table 1). Our reconstruction loss is summed over genes, so the
    /// scale of a2 differs from the paper's (docs/method.md).
    pub alpha2_dp: f64,
    /// The a2 sensitivity grid (Figures 7 and 10); includes 0 (the VAE) and `alpha2_dp`.
    pub alpha2_grid: Vec<f64>,
    /// The distance scale lambda of every dp-VAE. The paper learns it; trained for 2000 epochs, a learned lambda
    /// shrinks by orders of magnitude with the latent and the latent loses the tissue's shape (in-sample
    /// disparity on the adult mouse brain 0.34 at epoch 400, 0.72 at epoch 2000; fixed: 0.11), so the
    /// protocol holds it at its data-derived initial value and Figure 9 reports the learned variant beside it.
    pub lambda: LambdaMode,
    /// Held-out fraction of the out-of-sample experiments.
    pub test_fraction: f64,
    /// Latent snapshots every this many epochs (Figure 5; the paper: 400).
    pub snapshot_every: usize,
    /// Seeds of Table 1.
    pub table1_seeds: Vec<u64>,
    /// Sections of Table 1.
    pub table1_sections: usize,
    /// Members per transfer group (Figure 11: 4).
    pub group_size: usize,
    /// Run on at most this many sections (quick: the smallest ones).
    pub max_sections: Option<usize>,
    /// Mantel permutations of Figure 2.
    pub mantel_perms: usize,
    /// Random anchor triplets per section for the leave-three-out imputation (Figure 6).
    pub triplets: usize,
    /// Seed of splits, initialisation and anchor draws.
    pub seed: u64,
}

impl Profile {
    /// The paper's protocol on every section.
    pub fn full() -> Profile {
        Profile {
            name: "full".into(),
            epochs: 2000,
            learning_rate: 5e-4,
            batch_size: 128,
            alpha2_dp: 100.0,
            alpha2_grid: vec![0.0, 1.0, 10.0, 100.0, 1000.0],
            lambda: LambdaMode::Fixed,
            test_fraction: 0.2,
            snapshot_every: 400,
            table1_seeds: vec![0, 1, 2, 3, 4],
            table1_sections: 4,
            group_size: 4,
            max_sections: None,
            mantel_perms: 199,
            triplets: 10,
            seed: 0,
        }
    }

    /// Few epochs, the three smallest sections, an a2 grid of two: minutes on two cores.
    pub fn quick() -> Profile {
        Profile {
            name: "quick".into(),
            epochs: 120,
            learning_rate: 1e-3,
            alpha2_grid: vec![0.0, 100.0],
            snapshot_every: 40,
            table1_seeds: vec![0, 1],
            table1_sections: 2,
            group_size: 2,
            max_sections: Some(3),
            mantel_perms: 49,
            triplets: 5,
            ..Profile::full()
        }
    }

    /// Sections of the per-section experiments (Figures 2, 6, 7, 9, 10).
    pub fn sections(&self, panel: &Panel) -> Vec<String> {
        match self.max_sections {
            Some(k) => panel.smallest(k),
            None => panel.sections.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// Transfer groups (Figures 8 and 11).
    pub fn groups(&self, panel: &Panel) -> Vec<Group> {
        panel.groups(self.group_size)
    }

    /// The section whose training is shown (Figures 5 and 6): the paper's mouse-brain Visium section when
    /// present, else the first section of the run.
    pub fn showcase(&self, panel: &Panel) -> String {
        let run = self.sections(panel);
        run.iter()
            .find(|s| s.contains("Adult_Mouse_Brain"))
            .or_else(|| run.first())
            .cloned()
            .unwrap_or_default()
    }

    /// Sections of Table 1: the mouse-brain ST group when present (the paper's tissue), else the first group,
    /// else the first sections of the run.
    pub fn table1_sections(&self, panel: &Panel) -> Vec<String> {
        let groups = panel.groups(self.table1_sections);
        let mut s = groups
            .iter()
            .find(|g| g.name == "mouse_brain_st")
            .or(groups.first())
            .map(|g| g.sections.clone())
            .unwrap_or_else(|| self.sections(panel));
        s.truncate(self.table1_sections);
        s
    }
}
