//! The unit of work: one trained model (or one correlation) whose numbers several figures share. Each job is
//! a pure function of (job, profile, data, backend), stores its result as `jobs/<key>.json`, and is skipped
//! when that file exists with the same job and profile, which makes a run resumable and lets a scheduler run
//! jobs one by one (`--job-index`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, Result};
use dpvae::evaluate::latent_autocorrelation;
use dpvae::{Model, PlaceOptions, TrainSettings, to_f64, train_reference};
use dpvae_data::SpatialData;
use dpvae_data::split::train_test_split;
use dpvae_eval::{DistanceCorrelationParams, Identity, reconstruction_error};
use dpvae_model::{BackendKind, LambdaMode, Likelihood};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::manifest::Panel;
use super::profile::Profile;

/// One job. The key (file name) is derived from the fields, so equal jobs requested by several experiments run
/// once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Pearson r of expression vs spatial distances (Figure 2).
    Correlation { section: String },
    /// Train on 80% of a section, reconstruct the held-out 20% (Figures 6, 7, 9, 10; Figure 9 also with the
    /// other lambda mode).
    Holdout {
        section: String,
        alpha2: f64,
        seed: u64,
        lambda: LambdaMode,
    },
    /// Train on a whole section recording the latent space as it forms (Figure 5).
    Snapshots {
        section: String,
        alpha2: f64,
        seed: u64,
    },
    /// Train on one section of a group, reconstruct every section of it (Figures 8 and 11).
    Transfer {
        group: String,
        train: String,
        targets: Vec<String>,
        seed: u64,
    },
    /// Train dpvae's recommended pipeline (not the paper's) on 80% of a section and place the held-out 20%
    /// (Figure 9's comparison column).
    Placed { section: String, seed: u64 },
    /// Spatial autocorrelation of the latent of a model trained on a whole section (Table 1).
    Latent {
        section: String,
        likelihood: Likelihood,
        alpha2: f64,
        seed: u64,
    },
}

impl Job {
    /// File-name-safe identifier.
    pub fn key(&self) -> String {
        match self {
            Job::Correlation { section } => format!("correlation-{section}"),
            Job::Holdout {
                section,
                alpha2,
                seed,
                lambda,
            } => format!(
                "holdout-{section}-a2_{alpha2}-seed{seed}-lambda_{}",
                lambda.name()
            ),
            Job::Snapshots {
                section,
                alpha2,
                seed,
            } => format!("snapshots-{section}-a2_{alpha2}-seed{seed}"),
            Job::Transfer { train, seed, .. } => format!("transfer-{train}-seed{seed}"),
            Job::Placed { section, seed } => format!("placed-{section}-seed{seed}"),
            Job::Latent {
                section,
                likelihood,
                alpha2,
                seed,
            } => {
                let l = likelihood.name();
                format!("latent-{section}-{l}-a2_{alpha2}-seed{seed}")
            }
        }
    }

    /// Rough cost in spot-epochs, to start the longest jobs first.
    pub fn cost(&self, panel: &Panel, profile: &Profile) -> f64 {
        let n = |s: &str| panel.get(s).map(|s| s.n_obs.max(1)).unwrap_or(1000) as f64;
        let e = profile.epochs as f64;
        match self {
            Job::Correlation { section } => n(section) * n(section) / 1e4,
            Job::Holdout { section, .. } => n(section) * e * (1.0 - profile.test_fraction),
            Job::Snapshots { section, .. } | Job::Latent { section, .. } => n(section) * e,
            Job::Transfer { train, .. } => n(train) * e,
            // Five members of up to 200 epochs each.
            Job::Placed { section, .. } => n(section) * 1000.0 * (1.0 - profile.test_fraction),
        }
    }
}

/// Version of what jobs compute; bump it when a job's computation changes so cached results are redone.
/// 3: the correlation job stores eval's whole `DistanceCorrelation` (an older record could not be read).
pub const JOB_FORMAT: u32 = 3;

/// What a finished job leaves on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    pub format: u32,
    pub job: Job,
    pub profile: Profile,
    pub backend: String,
    pub seconds: f64,
    pub result: Value,
}

/// Figure 2: the section's distance correlation and how many genes it was computed on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CorrelationResult {
    pub n_genes: usize,
    #[serde(flatten)]
    pub correlation: dpvae_eval::DistanceCorrelation,
}

/// Figures 6, 7, 9, 10.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoldoutResult {
    pub n_train: usize,
    pub n_test: usize,
    /// Procrustes disparity of the held-out spots' latent means against their true coordinates.
    pub test_disparity: f64,
    /// The same for the training spots.
    pub train_disparity: f64,
    pub final_lambda: f64,
    /// Total training loss per epoch.
    pub loss: Vec<f64>,
    /// Held-out spots: latent means and true coordinates (for the leave-three-out imputation).
    pub test_latent: Vec<[f64; 2]>,
    pub test_truth: Vec<[f64; 2]>,
}

/// Figure 9's column for dpvae's recommended pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlacedResult {
    pub n_train: usize,
    pub n_test: usize,
    /// Procrustes disparity of the held-out spots' placement against their true coordinates.
    pub test_disparity: f64,
}

/// Figure 5.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotsResult {
    pub epochs: Vec<usize>,
    /// Latent means of every spot at each snapshot epoch.
    pub latents: Vec<Vec<[f32; 2]>>,
    /// Disparity of each snapshot against the true coordinates.
    pub disparity: Vec<f64>,
    pub truth: Vec<[f64; 2]>,
}

/// One target section of a transfer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferTarget {
    pub section: String,
    pub disparity: f64,
    /// Mean per-spot error after Procrustes alignment, in spot spacings.
    pub mean_error_spacings: f64,
    /// Per-spot errors in spot spacings and the true coordinates (Figure 8).
    pub error_spacings: Vec<f32>,
    pub truth: Vec<[f32; 2]>,
    /// Genes of the model found in the target.
    pub genes_found: usize,
}

/// Figures 8 and 11.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferResult {
    pub targets: Vec<TransferTarget>,
}

/// Table 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatentResult {
    /// Mean over the latent dimensions.
    pub moran_i: f64,
    pub geary_c: f64,
    pub disparity: f64,
}

/// Shared state of a run: the sections (read once, on first use) and the settings.
pub struct Context {
    pub panel: Panel,
    pub profile: Profile,
    pub backend: BackendKind,
    cache: Mutex<HashMap<String, Arc<SpatialData>>>,
}

impl Context {
    pub fn new(panel: Panel, profile: Profile, backend: BackendKind) -> Context {
        Context {
            panel,
            profile,
            backend,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn section(&self, name: &str) -> Result<Arc<SpatialData>> {
        if let Some(d) = self.cache.lock().expect("section cache").get(name) {
            return Ok(d.clone());
        }
        let s = self
            .panel
            .get(name)
            .with_context(|| format!("section {name} is not in {}", self.panel.source.display()))?;
        let data = dpvae_data::io::read(&s.path)
            .with_context(|| format!("reading section {name} from {}", s.path.display()))?;
        data.require_spatial()
            .with_context(|| format!("section {name} has no coordinates"))?;
        let data = Arc::new(data);
        self.cache
            .lock()
            .expect("section cache")
            .insert(name.to_string(), data.clone());
        Ok(data)
    }

    fn settings(&self, alpha2: f64, seed: u64) -> TrainSettings {
        let mut s = TrainSettings::paper();
        s.train.epochs = self.profile.epochs;
        s.train.learning_rate = self.profile.learning_rate;
        s.train.batch_size = self.profile.batch_size;
        s.train.alpha2 = alpha2;
        s.train.seed = seed;
        s.train.lambda = self.profile.lambda;
        s.backend = self.backend;
        s
    }

    /// Run `job` and return its result as JSON.
    pub fn run(&self, job: &Job) -> Result<Value> {
        let v = match job {
            Job::Correlation { section } => serde_json::to_value(self.correlation(section)?)?,
            Job::Holdout {
                section,
                alpha2,
                seed,
                lambda,
            } => serde_json::to_value(self.holdout(section, *alpha2, *seed, *lambda)?)?,
            Job::Snapshots {
                section,
                alpha2,
                seed,
            } => serde_json::to_value(self.snapshots(section, *alpha2, *seed)?)?,
            Job::Transfer {
                group: _,
                train,
                targets,
                seed,
            } => serde_json::to_value(self.transfer(train, targets, *seed)?)?,
            Job::Placed { section, seed } => serde_json::to_value(self.placed(section, *seed)?)?,
            Job::Latent {
                section,
                likelihood,
                alpha2,
                seed,
            } => serde_json::to_value(self.latent(section, *likelihood, *alpha2, *seed)?)?,
        };
        Ok(v)
    }

    fn correlation(&self, section: &str) -> Result<CorrelationResult> {
        let data = self.section(section)?;
        let (processed, _, _) = dpvae_data::preprocess::Preprocess::paper().fit(&data)?;
        let x = to_f64(&processed.x.to_dense());
        let coords = processed.require_spatial()?;
        let c = DistanceCorrelationParams::new()
            .n_perms(self.profile.mantel_perms)
            .seed(self.profile.seed)
            .run(x.view(), coords.view())?;
        Ok(CorrelationResult {
            n_genes: x.ncols(),
            correlation: c,
        })
    }

    fn holdout(
        &self,
        section: &str,
        alpha2: f64,
        seed: u64,
        lambda: LambdaMode,
    ) -> Result<HoldoutResult> {
        let data = self.section(section)?;
        let split = train_test_split(data.n_obs(), self.profile.test_fraction, seed)?;
        let reference = data.select_obs(&split.train)?;
        let query = data.select_obs(&split.test)?;
        let mut settings = self.settings(alpha2, seed);
        settings.train.lambda = lambda;
        let trained = train_reference(&reference, &settings, section, None)?;
        let test = latent_of(&trained.model, &query, self.backend)?;
        let train = latent_of(&trained.model, &reference, self.backend)?;
        let truth = query.require_spatial()?;
        let history = &trained.outcome.history;
        Ok(HoldoutResult {
            n_train: reference.n_obs(),
            n_test: query.n_obs(),
            test_disparity: dpvae_geometry::procrustes(truth.view(), test.view())?.disparity,
            train_disparity: dpvae_geometry::procrustes(
                reference.require_spatial()?.view(),
                train.view(),
            )?
            .disparity,
            final_lambda: history.last().map(|e| e.lambda).unwrap_or(f64::NAN),
            loss: history.epochs.iter().map(|e| e.total).collect(),
            test_latent: rows2(test.view()),
            test_truth: rows2(truth.view()),
        })
    }

    fn placed(&self, section: &str, seed: u64) -> Result<PlacedResult> {
        let data = self.section(section)?;
        let split = train_test_split(data.n_obs(), self.profile.test_fraction, seed)?;
        let reference = data.select_obs(&split.train)?;
        let query = data.select_obs(&split.test)?;
        let mut settings = TrainSettings::recommended();
        settings.train.seed = seed;
        settings.backend = self.backend;
        let profile = dpvae::QueryProfile::of(&query, &settings.preprocess.align)?;
        let trained = train_reference(&reference, &settings, section, Some(&profile))?;
        let opts = PlaceOptions {
            backend: self.backend,
            seed,
            ..Default::default()
        };
        let placed = trained.model.place_with(&query, &opts)?;
        let truth = query.require_spatial()?;
        Ok(PlacedResult {
            n_train: reference.n_obs(),
            n_test: query.n_obs(),
            test_disparity: dpvae_geometry::procrustes(truth.view(), placed.coords.view())?
                .disparity,
        })
    }

    fn snapshots(&self, section: &str, alpha2: f64, seed: u64) -> Result<SnapshotsResult> {
        let data = self.section(section)?;
        let mut settings = self.settings(alpha2, seed);
        settings.train.snapshot_every = Some(self.profile.snapshot_every);
        let trained = train_reference(&data, &settings, section, None)?;
        let truth = data.require_spatial()?;
        let mut out = SnapshotsResult {
            epochs: vec![],
            latents: vec![],
            disparity: vec![],
            truth: rows2(truth.view()),
        };
        for snap in &trained.outcome.snapshots {
            let z = to_f64(&snap.mean);
            out.epochs.push(snap.epoch);
            out.disparity
                .push(dpvae_geometry::procrustes(truth.view(), z.view())?.disparity);
            out.latents
                .push(snap.mean.rows().into_iter().map(|r| [r[0], r[1]]).collect());
        }
        Ok(out)
    }

    fn transfer(&self, train: &str, targets: &[String], seed: u64) -> Result<TransferResult> {
        let data = self.section(train)?;
        // Highly variable genes are chosen among the genes every section of the group measured: sections
        // stored with their own gene selection (the DLPFC panel keeps each section's 5000 HVGs) would
        // otherwise miss many of the reference's genes.
        let mut shared: std::collections::HashSet<&str> =
            data.var_names.iter().map(String::as_str).collect();
        let target_data: Vec<Arc<SpatialData>> = targets
            .iter()
            .map(|t| self.section(t))
            .collect::<Result<_>>()?;
        for t in &target_data {
            let names: std::collections::HashSet<&str> =
                t.var_names.iter().map(String::as_str).collect();
            shared.retain(|g| names.contains(g));
        }
        let cols: Vec<usize> = (0..data.n_vars())
            .filter(|&j| shared.contains(data.var_names[j].as_str()))
            .collect();
        tracing::info!(
            train,
            shared = cols.len(),
            genes = data.n_vars(),
            "genes measured in every section of the group"
        );
        let reference = data.select_vars(&cols)?;
        let trained = train_reference(
            &reference,
            &self.settings(self.profile.alpha2_dp, seed),
            train,
            None,
        )?;
        let mut out = Vec::new();
        for (t, target) in targets.iter().zip(&target_data) {
            let z = latent_of(&trained.model, target, self.backend)?;
            let truth = target.require_spatial()?;
            let fit = dpvae_geometry::procrustes(truth.view(), z.view())?;
            let report = reconstruction_error(truth.view(), fit.aligned.view(), &Identity)?;
            let genes_found = trained
                .model
                .genes()
                .iter()
                .filter(|g| target.var_names.contains(g))
                .count();
            out.push(TransferTarget {
                section: t.clone(),
                disparity: fit.disparity,
                mean_error_spacings: report.summary.mean / report.spacing,
                error_spacings: report
                    .per_spot
                    .iter()
                    .map(|e| (e / report.spacing) as f32)
                    .collect(),
                truth: truth
                    .rows()
                    .into_iter()
                    .map(|r| [r[0] as f32, r[1] as f32])
                    .collect(),
                genes_found,
            });
        }
        Ok(TransferResult { targets: out })
    }

    fn latent(
        &self,
        section: &str,
        likelihood: Likelihood,
        alpha2: f64,
        seed: u64,
    ) -> Result<LatentResult> {
        let data = self.section(section)?;
        let mut settings = self.settings(alpha2, seed);
        settings.model.likelihood = likelihood;
        let trained = train_reference(&data, &settings, section, None)?;
        let z = latent_of(&trained.model, &data, self.backend)?;
        let truth = data.require_spatial()?;
        let ac = latent_autocorrelation(truth.view(), z.view(), 5, "z")?;
        Ok(LatentResult {
            moran_i: ac.mean_moran(),
            geary_c: ac.mean_geary(),
            disparity: dpvae_geometry::procrustes(truth.view(), z.view())?.disparity,
        })
    }
}

fn latent_of(model: &Model, data: &SpatialData, backend: BackendKind) -> Result<Array2<f64>> {
    let (_, emb) = model.embed(data, backend)?;
    Ok(to_f64(&emb.mean))
}

fn rows2(m: ArrayView2<f64>) -> Vec<[f64; 2]> {
    m.rows().into_iter().map(|r| [r[0], r[1]]).collect()
}

/// Finished jobs on disk.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(out: &Path) -> Store {
        Store {
            dir: out.join("jobs"),
        }
    }

    pub fn path(&self, job: &Job) -> PathBuf {
        self.dir.join(format!("{}.json", job.key()))
    }

    /// The record of `job` if it finished under `profile` with this version of the job code; a record from
    /// another profile or version does not count.
    pub fn load(&self, job: &Job, profile: &Profile) -> Option<JobRecord> {
        let text = std::fs::read_to_string(self.path(job)).ok()?;
        let rec: JobRecord = serde_json::from_str(&text).ok()?;
        (rec.format == JOB_FORMAT && rec.job == *job && rec.profile == *profile).then_some(rec)
    }

    /// The result of a finished job, parsed.
    pub fn result<T: serde::de::DeserializeOwned>(
        &self,
        job: &Job,
        profile: &Profile,
    ) -> Option<T> {
        serde_json::from_value(self.load(job, profile)?.result).ok()
    }

    pub fn save(&self, rec: &JobRecord) -> Result<()> {
        let path = self.path(&rec.job);
        dpvae_data::atomic::write_bytes_atomic(&path, serde_json::to_string(rec)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// Run one job and store it.
pub fn run_and_store(ctx: &Context, store: &Store, job: &Job) -> Result<JobRecord> {
    let t0 = Instant::now();
    let result = ctx
        .run(job)
        .with_context(|| format!("job {} failed", job.key()))?;
    let rec = JobRecord {
        format: JOB_FORMAT,
        job: job.clone(),
        profile: ctx.profile.clone(),
        backend: ctx.backend.name().to_string(),
        seconds: t0.elapsed().as_secs_f64(),
        result,
    };
    store.save(&rec)?;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figure 2 on every panel section against scanpy + scipy (fixtures/reproduce/make_fig2_scanpy.py).
    #[test]
    fn figure2_correlations_match_scanpy() {
        let Some(manifest) =
            dpvae_data::testdata::require("figure2_correlations_match_scanpy", "MANIFEST.tsv")
        else {
            return;
        };
        let panel = Panel::from_manifest(manifest.parent().expect("data dir")).unwrap();
        let profile = Profile {
            mantel_perms: 0,
            ..Profile::quick()
        };
        let fixture: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/reproduce/fig2_scanpy.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let expected = fixture["sections"].as_object().unwrap();
        assert_eq!(expected.len(), panel.sections.len());
        let ctx = Context::new(panel, profile, BackendKind::Flex);
        for (name, want) in expected {
            let got = ctx.correlation(name).unwrap();
            assert_eq!(
                got.correlation.n_pairs as u64,
                want["n_pairs"].as_u64().unwrap(),
                "{name}"
            );
            for (value, key) in [
                (got.correlation.r, "r"),
                (got.correlation.ci_low, "ci_low"),
                (got.correlation.ci_high, "ci_high"),
            ] {
                let w = want[key].as_f64().unwrap();
                assert!(
                    (value - w).abs() < 1e-6,
                    "{name} {key}: {value} vs scanpy/scipy {w}"
                );
            }
        }
    }

    #[test]
    fn job_keys_name_every_field_that_changes_the_result() {
        let a = Job::Latent {
            section: "s".into(),
            likelihood: Likelihood::NegativeBinomial,
            alpha2: 100.0,
            seed: 3,
        };
        assert_eq!(a.key(), "latent-s-nb-a2_100-seed3");
        let b = Job::Holdout {
            section: "s".into(),
            alpha2: 0.1,
            seed: 0,
            lambda: LambdaMode::Learned,
        };
        assert_eq!(b.key(), "holdout-s-a2_0.1-seed0-lambda_learned");
    }

    #[test]
    fn stored_results_are_reused_only_for_the_same_profile_and_format() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let job = Job::Correlation {
            section: "s".into(),
        };
        let rec = JobRecord {
            format: JOB_FORMAT,
            job: job.clone(),
            profile: Profile::quick(),
            backend: "flex".into(),
            seconds: 1.0,
            result: serde_json::json!({"r": 0.5}),
        };
        store.save(&rec).unwrap();
        assert!(store.load(&job, &Profile::quick()).is_some());
        assert!(store.load(&job, &Profile::full()).is_none());
        let old = JobRecord {
            format: JOB_FORMAT + 1,
            ..rec
        };
        store.save(&old).unwrap();
        assert!(store.load(&job, &Profile::quick()).is_none());
    }
}
