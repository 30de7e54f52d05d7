//! In-sample training behaviour: the latent space as it forms (Figure 5) and the loss curves over the a2 grid
//! (Figure 7).

use anyhow::Result;
use dpvae_plot::{BandSeries, Colouring, Panel, ScatterStyle, band_chart, scatter_panels};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, json};

use super::{Assembly, Experiment, Outcome, Verdict, f, mean, relative, sd};
use crate::reproduce::jobs::{Job, SnapshotsResult};

pub fn fig5(ctx: &Assembly) -> Result<Outcome> {
    let p = ctx.profile;
    let section = p.showcase(ctx.panel);
    let mut files = Vec::new();
    let mut rows = Vec::new();
    let mut finals = Vec::new();
    let mut firsts = Vec::new();
    for (name, alpha2) in [("VAE", 0.0), ("dp-VAE", p.alpha2_dp)] {
        let r: SnapshotsResult = ctx.result(&Job::Snapshots {
            section: section.clone(),
            alpha2,
            seed: p.seed,
        })?;
        let n = r.truth.len();
        // Two random triplets (the same spots in every panel): their triangles show whether the latent
        // keeps the tissue's shape.
        let marked = sample(&mut ChaCha8Rng::seed_from_u64(p.seed), n, 6.min(n)).into_vec();
        let colouring = Colouring::Continuous {
            values: r.truth.iter().map(|t| t[0]).collect(),
            name: "true x".into(),
        };
        let mut panels = vec![Panel {
            title: format!("{section} (truth)"),
            points: r.truth.iter().map(|t| (t[0], t[1])).collect(),
            colouring: colouring.clone(),
            marked: marked.clone(),
            radii: vec![],
        }];
        for ((epoch, z), d) in r.epochs.iter().zip(&r.latents).zip(&r.disparity) {
            panels.push(Panel {
                title: format!("{name}, epoch {epoch} (disparity {d:.3})"),
                points: z.iter().map(|v| (v[0] as f64, v[1] as f64)).collect(),
                colouring: colouring.clone(),
                marked: marked.clone(),
                radii: vec![],
            });
            rows.push(vec![name.to_string(), epoch.to_string(), f(*d)]);
        }
        let stem = format!("fig5_latent_{}", name.to_lowercase().replace('-', ""));
        files.extend(scatter_panels(
            &ctx.path(&stem),
            &panels,
            &ScatterStyle::latent(("z1", "z2")),
        )?);
        finals.push(*r.disparity.last().unwrap_or(&f64::NAN));
        firsts.push(*r.disparity.first().unwrap_or(&f64::NAN));
    }
    files.insert(
        0,
        ctx.csv(
            "fig5_latent_disparity.csv",
            &["model", "epoch", "in_sample_disparity"],
            &rows,
        )?,
    );
    let (vae, dp) = (finals[0], finals[1]);
    let mut headline = Map::new();
    headline.insert("final_disparity_vae".into(), json!(vae));
    headline.insert("final_disparity_dpvae".into(), json!(dp));
    let better = dp < vae;
    let improves = dp < firsts[1];
    Ok(Outcome {
        experiment: Experiment::Fig5,
        title: "The latent space during training".into(),
        claim: format!(
            "As training proceeds the dp-VAE's 2-D latent space takes on the layout of the tissue (marked \
             triplets keep their triangle's shape), while the plain VAE's does not. Checked on {section}: \
             the dp-VAE's in-sample Procrustes disparity at the last snapshot is below the VAE's and below \
             its own first snapshot's."
        ),
        finding: format!(
            "in-sample disparity at the last snapshot: dp-VAE {dp:.3} (first snapshot {:.3}), VAE {vae:.3} \
             (first snapshot {:.3}).",
            firsts[1], firsts[0]
        ),
        verdict: Verdict::from_checks(better && improves, better || improves),
        files: relative(ctx.out, &files),
        table_md: None,
        headline,
    })
}

/// At most this many points per curve in the figure (the CSV keeps every epoch).
const MAX_POINTS: usize = 200;

pub fn fig7(ctx: &Assembly) -> Result<Outcome> {
    let p = ctx.profile;
    let sections = p.sections(ctx.panel);
    let mut series = Vec::new();
    let mut rows = Vec::new();
    let mut late_changes = Vec::new();
    let mut headline = Map::new();
    for &a in &p.alpha2_grid {
        let curves: Vec<Vec<f64>> = sections
            .iter()
            .map(|s| {
                let r = ctx.holdout(s, a)?;
                let first = r.loss.first().copied().unwrap_or(1.0).abs().max(1e-300);
                Ok(r.loss.iter().map(|l| l / first).collect())
            })
            .collect::<Result<_>>()?;
        let epochs = curves.iter().map(|c| c.len()).min().unwrap_or(0);
        let stride = epochs.div_ceil(MAX_POINTS).max(1);
        let mut points = Vec::new();
        let mut centre = Vec::with_capacity(epochs);
        for e in 0..epochs {
            let v: Vec<f64> = curves.iter().map(|c| c[e]).collect();
            let (m, s) = (mean(&v), sd(&v));
            centre.push(m);
            rows.push(vec![a.to_string(), (e + 1).to_string(), f(m), f(s)]);
            if e % stride == 0 || e + 1 == epochs {
                points.push(((e + 1) as f64, m, m - s, m + s));
            }
        }
        // Change of the mean curve over the last tenth of training, relative to the start (1 by construction).
        let tail = (epochs / 10).max(1);
        let change = (centre[epochs - 1] - centre[epochs - 1 - tail.min(epochs - 1)]).abs();
        late_changes.push((a, change, centre[epochs - 1]));
        headline.insert(
            format!("final_normalised_loss.a2_{a}"),
            json!(centre[epochs - 1]),
        );
        series.push(BandSeries {
            name: format!("a2 = {a}"),
            points,
        });
    }
    let mut files = vec![ctx.csv(
        "fig7_training_loss.csv",
        &[
            "alpha2",
            "epoch",
            "mean_normalised_loss",
            "sd_normalised_loss",
        ],
        &rows,
    )?];
    files.extend(band_chart(
        &ctx.path("fig7_training_loss"),
        "Training loss / first-epoch loss (mean +- sd over sections)",
        "epoch",
        "normalised loss",
        &series,
    )?);
    let converged = |c: &(f64, f64, f64)| c.1 < 0.02 && c.2 < 1.0;
    let n_conv = late_changes.iter().filter(|c| converged(c)).count();
    let detail: Vec<String> = late_changes
        .iter()
        .map(|(a, c, end)| format!("a2 = {a}: ends at {end:.3}, last-10% change {c:.4}"))
        .collect();
    Ok(Outcome {
        experiment: Experiment::Fig7,
        title: "Training loss over the a2 grid".into(),
        claim: "Training is robust to a2: for every weight of the distance-preserving loss the normalised \
                training loss decreases and levels off. Checked: the mean normalised curve ends below 1 and \
                moves by less than 0.02 over the last tenth of the epochs, for every a2."
            .into(),
        finding: format!(
            "{n_conv} of {} a2 values converge by that test ({}).",
            late_changes.len(),
            detail.join("; ")
        ),
        verdict: Verdict::from_checks(n_conv == late_changes.len(), n_conv > 0),
        files: relative(ctx.out, &files),
        table_md: None,
        headline,
    })
}
