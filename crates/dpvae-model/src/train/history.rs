//! Per-epoch training history and latent snapshots.

use std::fmt::Write as _;
use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fsutil::write_atomic;

/// Averages over one epoch's steps (weighted by batch size), and the schedule in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Reconstruction negative log-likelihood per spot.
    pub recon: f64,
    /// KL divergence per spot.
    pub kl: f64,
    /// Distance-preserving loss (0 when no coordinates were given).
    pub dp: f64,
    /// `alpha1 * (recon + beta * kl) + alpha2 * dp` with this epoch's beta and alpha2.
    pub total: f64,
    /// lambda at the end of the epoch.
    pub lambda: f64,
    /// beta used in this epoch.
    pub beta: f64,
    /// alpha2 used in this epoch.
    pub alpha2: f64,
    /// Objective on the validation spots (posterior means, no sampling), if there is a split.
    pub validation: Option<f64>,
    /// DP loss on the validation spots, if there is a split and coordinates.
    #[serde(default)]
    pub validation_dp: Option<f64>,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
}

/// The history of a training run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per completed epoch.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// CSV text with a header row; an absent validation loss is an empty field.
    pub fn to_csv(&self) -> String {
        let mut s = String::from(
            "epoch,recon,kl,dp,total,lambda,beta,alpha2,validation,validation_dp,seconds\n",
        );
        for r in &self.epochs {
            let val = r.validation.map(|v| v.to_string()).unwrap_or_default();
            let val_dp = r.validation_dp.map(|v| v.to_string()).unwrap_or_default();
            let _ = writeln!(
                s,
                "{},{},{},{},{},{},{},{},{},{},{}",
                r.epoch,
                r.recon,
                r.kl,
                r.dp,
                r.total,
                r.lambda,
                r.beta,
                r.alpha2,
                val,
                val_dp,
                r.seconds
            );
        }
        s
    }

    /// Write [`Self::to_csv`] atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_csv().as_bytes())
    }

    /// Write the history as pretty JSON atomically.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        write_atomic(path, serde_json::to_string_pretty(self)?.as_bytes())
    }

    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }
}

/// Posterior means of the training spots after an epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentSnapshot {
    /// 1-based epoch after which it was taken.
    pub epoch: usize,
    /// `[training spots, d]`, rows in the order of [`crate::train::TrainOutcome::train_indices`].
    pub mean: Array2<f32>,
}

/// Long-format CSV of snapshots: `epoch,spot,z1,...,zd`, `spot` being the row of the input matrix.
pub fn snapshots_to_csv(snapshots: &[LatentSnapshot], spots: &[usize]) -> String {
    let d = snapshots.first().map_or(0, |s| s.mean.ncols());
    let mut s = String::from("epoch,spot");
    for k in 1..=d {
        let _ = write!(s, ",z{k}");
    }
    s.push('\n');
    for snap in snapshots {
        for (row, &spot) in snap.mean.rows().into_iter().zip(spots) {
            let _ = write!(s, "{},{}", snap.epoch, spot);
            for v in row {
                let _ = write!(s, ",{v}");
            }
            s.push('\n');
        }
    }
    s
}
