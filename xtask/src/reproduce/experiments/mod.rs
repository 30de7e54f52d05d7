//! The paper's experiments: which jobs each needs, and how its figure, table, headline numbers and verdict are
//! made from their results.

mod correlation;
mod holdout;
mod impute;
mod table1;
mod training;
mod transfer;

use std::path::{Path, PathBuf};

use anyhow::Result;
use dpvae_model::LambdaMode;
use dpvae_model::Likelihood;
use serde::Serialize;
use serde_json::{Map, Value};

use super::jobs::{Job, Store};
use super::manifest::Panel;
use super::profile::Profile;

/// One experiment of the paper; each is also a subcommand (`cargo xtask reproduce fig9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Experiment {
    /// Pearson r of expression vs spatial distances per section, Fisher-Z 95% intervals, Mantel p.
    Fig2,
    /// Latent space during training, VAE vs dp-VAE, two anchor triplets marked.
    Fig5,
    /// Leave-three-out: three anchors, the rest imputed.
    Fig6,
    /// Normalised training-loss curves over the a2 grid.
    Fig7,
    /// Per-spot reconstruction error maps of one training section on its group.
    Fig8,
    /// Out-of-sample disparity, VAE vs dp-VAE, per section; Wilcoxon signed-rank.
    Fig9,
    /// Test disparity vs a2.
    Fig10,
    /// Transfer matrix within groups of related sections.
    Fig11,
    /// Moran's I / Geary's C of the latent, Gaussian and NB, with and without the DP loss.
    Table1,
}

impl Experiment {
    pub const ALL: [Experiment; 9] = [
        Experiment::Fig2,
        Experiment::Fig5,
        Experiment::Fig6,
        Experiment::Fig7,
        Experiment::Fig8,
        Experiment::Fig9,
        Experiment::Fig10,
        Experiment::Fig11,
        Experiment::Table1,
    ];

    pub fn id(&self) -> &'static str {
        match self {
            Experiment::Fig2 => "fig2",
            Experiment::Fig5 => "fig5",
            Experiment::Fig6 => "fig6",
            Experiment::Fig7 => "fig7",
            Experiment::Fig8 => "fig8",
            Experiment::Fig9 => "fig9",
            Experiment::Fig10 => "fig10",
            Experiment::Fig11 => "fig11",
            Experiment::Table1 => "table1",
        }
    }

    /// The jobs this experiment reads.
    pub fn jobs(&self, panel: &Panel, p: &Profile) -> Vec<Job> {
        let sections = p.sections(panel);
        let holdout_with = |alpha2: f64, lambda: LambdaMode| -> Vec<Job> {
            sections
                .iter()
                .map(|s| Job::Holdout {
                    section: s.clone(),
                    alpha2,
                    seed: p.seed,
                    lambda,
                })
                .collect()
        };
        let holdout = |alpha2: f64| holdout_with(alpha2, p.lambda);
        match self {
            Experiment::Fig2 => sections
                .iter()
                .map(|s| Job::Correlation { section: s.clone() })
                .collect(),
            Experiment::Fig5 => [0.0, p.alpha2_dp]
                .into_iter()
                .map(|alpha2| Job::Snapshots {
                    section: p.showcase(panel),
                    alpha2,
                    seed: p.seed,
                })
                .collect(),
            Experiment::Fig6 => {
                let mut j = holdout(0.0);
                j.extend(holdout(p.alpha2_dp));
                j
            }
            Experiment::Fig9 => {
                let mut j = holdout(0.0);
                j.extend(holdout(p.alpha2_dp));
                j.extend(holdout_with(p.alpha2_dp, other_lambda(p.lambda)));
                j.extend(sections.iter().map(|s| Job::Placed {
                    section: s.clone(),
                    seed: p.seed,
                }));
                j
            }
            Experiment::Fig7 | Experiment::Fig10 => {
                p.alpha2_grid.iter().flat_map(|&a| holdout(a)).collect()
            }
            Experiment::Fig8 | Experiment::Fig11 => p
                .groups(panel)
                .into_iter()
                .flat_map(|g| {
                    let targets = g.sections.clone();
                    let name = g.name.clone();
                    let seed = p.seed;
                    g.sections.into_iter().map(move |train| Job::Transfer {
                        group: name.clone(),
                        train,
                        targets: targets.clone(),
                        seed,
                    })
                })
                .filter(|j| *self == Experiment::Fig11 || is_first_of_group(j))
                .collect(),
            Experiment::Table1 => {
                let mut jobs = Vec::new();
                for section in p.table1_sections(panel) {
                    for (likelihood, alpha2) in table1::CONDITIONS.map(|c| (c.1, c.2)) {
                        for &seed in &p.table1_seeds {
                            jobs.push(Job::Latent {
                                section: section.clone(),
                                likelihood,
                                alpha2: if alpha2 { p.alpha2_dp } else { 0.0 },
                                seed,
                            });
                        }
                    }
                }
                jobs
            }
        }
    }

    /// Build this experiment's figure, tables, headline numbers and verdict from finished jobs.
    pub fn assemble(&self, ctx: &Assembly) -> Result<Outcome> {
        let missing: Vec<String> = self
            .jobs(ctx.panel, ctx.profile)
            .iter()
            .filter(|j| ctx.store.load(j, ctx.profile).is_none())
            .map(|j| j.key())
            .collect();
        if !missing.is_empty() {
            return Ok(Outcome::not_run(*self, missing));
        }
        match self {
            Experiment::Fig2 => correlation::fig2(ctx),
            Experiment::Fig5 => training::fig5(ctx),
            Experiment::Fig6 => impute::fig6(ctx),
            Experiment::Fig7 => training::fig7(ctx),
            Experiment::Fig8 => transfer::fig8(ctx),
            Experiment::Fig9 => holdout::fig9(ctx),
            Experiment::Fig10 => holdout::fig10(ctx),
            Experiment::Fig11 => transfer::fig11(ctx),
            Experiment::Table1 => table1::table1(ctx),
        }
    }
}

/// The lambda mode Figure 9 compares with the protocol's.
pub fn other_lambda(l: LambdaMode) -> LambdaMode {
    match l {
        LambdaMode::Fixed => LambdaMode::Learned,
        LambdaMode::Learned => LambdaMode::Fixed,
    }
}

fn is_first_of_group(job: &Job) -> bool {
    matches!(job, Job::Transfer { train, targets, .. } if targets.first() == Some(train))
}

/// What the assembly step reads and where it writes.
pub struct Assembly<'a> {
    pub panel: &'a Panel,
    pub profile: &'a Profile,
    pub store: &'a Store,
    pub out: &'a Path,
}

impl Assembly<'_> {
    /// A finished job's result (assemble() has checked that every job finished).
    fn result<T: serde::de::DeserializeOwned>(&self, job: &Job) -> Result<T> {
        self.store.result(job, self.profile).ok_or_else(|| {
            anyhow::anyhow!(
                "the result of job {} in {} cannot be read; delete it to re-run the job",
                job.key(),
                self.store.path(job).display()
            )
        })
    }

    fn holdout(&self, section: &str, alpha2: f64) -> Result<super::jobs::HoldoutResult> {
        self.holdout_with(section, alpha2, self.profile.lambda)
    }

    fn holdout_with(
        &self,
        section: &str,
        alpha2: f64,
        lambda: LambdaMode,
    ) -> Result<super::jobs::HoldoutResult> {
        self.result(&Job::Holdout {
            section: section.to_string(),
            alpha2,
            seed: self.profile.seed,
            lambda,
        })
    }

    /// dpvae's recommended pipeline on the same split.
    fn placed(&self, section: &str) -> Result<super::jobs::PlacedResult> {
        self.result(&Job::Placed {
            section: section.to_string(),
            seed: self.profile.seed,
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.out.join(file)
    }

    /// Write a CSV atomically.
    fn csv(&self, file: &str, header: &[&str], rows: &[Vec<String>]) -> Result<PathBuf> {
        let mut text = header.join(",");
        text.push('\n');
        for r in rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        let path = self.path(file);
        dpvae_data::atomic::write_bytes_atomic(&path, text.as_bytes())?;
        Ok(path)
    }
}

/// Whether our numbers support the paper's claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Reproduced,
    PartlyReproduced,
    NotReproduced,
    NotRun,
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::PartlyReproduced => "partly reproduced",
            Verdict::NotReproduced => "NOT reproduced",
            Verdict::NotRun => "not run",
        }
    }

    fn from_checks(all: bool, any: bool) -> Verdict {
        match (all, any) {
            (true, _) => Verdict::Reproduced,
            (false, true) => Verdict::PartlyReproduced,
            (false, false) => Verdict::NotReproduced,
        }
    }
}

/// An experiment's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub experiment: Experiment,
    pub title: String,
    /// The paper's claim this experiment checks, and how we test it.
    pub claim: String,
    /// What we found, with the numbers.
    pub finding: String,
    pub verdict: Verdict,
    /// Figures (PNG and SVG) and CSV tables, relative to the output folder.
    pub files: Vec<String>,
    /// A Markdown table for the report, when the experiment is a table.
    #[serde(skip)]
    pub table_md: Option<String>,
    /// The numbers CI compares against tolerance bands.
    pub headline: Map<String, Value>,
}

impl Outcome {
    fn not_run(e: Experiment, missing: Vec<String>) -> Outcome {
        Outcome {
            experiment: e,
            title: e.id().to_string(),
            claim: String::new(),
            finding: format!(
                "{} job(s) have not finished: {}",
                missing.len(),
                missing.join(", ")
            ),
            verdict: Verdict::NotRun,
            files: vec![],
            table_md: None,
            headline: Map::new(),
        }
    }
}

/// Paths relative to the output folder, for the report's links.
fn relative(out: &Path, files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            f.strip_prefix(out)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// A section's name without the panel's technology prefixes, for figure labels: `visium_dlpfc_151673` ->
/// `151673`, `st_mouse_brain_hippo1` -> `hippo1`.
fn short_name(s: &str) -> String {
    const PREFIXES: [&str; 5] = [
        "st_mouse_brain_",
        "visium_dlpfc_",
        "visium_V1_",
        "visium_",
        "V1_",
    ];
    PREFIXES
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s)
        .to_string()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Sample standard deviation (n - 1), 0 for fewer than two values.
fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

fn f(x: f64) -> String {
    format!("{x:.4}")
}

fn likelihood_name(l: Likelihood) -> &'static str {
    match l {
        Likelihood::NegativeBinomial => "NB",
        _ => "Gaussian",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_prefixes() {
        assert_eq!(short_name("visium_dlpfc_151673"), "151673");
        assert_eq!(short_name("st_mouse_brain_hippo1"), "hippo1");
        assert_eq!(
            short_name("visium_V1_Human_Lymph_Node_1000"),
            "Human_Lymph_Node_1000"
        );
        assert_eq!(short_name("other"), "other");
    }

    #[test]
    fn sd_is_the_sample_standard_deviation() {
        assert_eq!(sd(&[1.0]), 0.0);
        assert!((sd(&[1.0, 2.0, 3.0, 4.0]) - 1.2909944487358056).abs() < 1e-15);
        assert_eq!(mean(&[1.0, 2.0]), 1.5);
    }

    #[test]
    fn verdicts_follow_the_checks() {
        assert_eq!(Verdict::from_checks(true, true), Verdict::Reproduced);
        assert_eq!(Verdict::from_checks(false, true), Verdict::PartlyReproduced);
        assert_eq!(Verdict::from_checks(false, false), Verdict::NotReproduced);
    }
}
