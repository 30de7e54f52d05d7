//! Transfer between related sections: the train x test disparity matrix (Figure 11) and per-spot error maps of
//! one training section on its whole group (Figure 8).

use anyhow::Result;
use dpvae_eval::correlation::spearman;
use dpvae_plot::{Colouring, Heatmap, Panel, ScatterStyle, heatmaps, scatter_panels};
use serde_json::{Map, json};

use super::{Assembly, Experiment, Outcome, Verdict, f, mean, relative, short_name};
use crate::reproduce::jobs::{Job, TransferResult};
use crate::reproduce::manifest::Group;

/// Mean off-diagonal disparity at or below this counts as a working transfer: half of the "no relation" value 1.
const TRANSFER_OK: f64 = 0.5;

fn job(ctx: &Assembly, g: &Group, train: &str) -> Job {
    Job::Transfer {
        group: g.name.clone(),
        train: train.to_string(),
        targets: g.sections.clone(),
        seed: ctx.profile.seed,
    }
}

pub fn fig11(ctx: &Assembly) -> Result<Outcome> {
    let groups = ctx.profile.groups(ctx.panel);
    let mut maps = Vec::new();
    let mut rows = Vec::new();
    let mut headline = Map::new();
    let mut summaries = Vec::new();
    let mut ok = 0;
    for g in &groups {
        let mut values = Vec::new();
        let (mut diag, mut off) = (Vec::new(), Vec::new());
        for train in &g.sections {
            let r: TransferResult = ctx.result(&job(ctx, g, train))?;
            for t in &r.targets {
                values.push(t.disparity);
                if t.section == *train {
                    diag.push(t.disparity);
                } else {
                    off.push(t.disparity);
                }
                rows.push(vec![
                    g.name.clone(),
                    train.clone(),
                    t.section.clone(),
                    f(t.disparity),
                    f(t.mean_error_spacings),
                    t.genes_found.to_string(),
                ]);
            }
        }
        let (d, o) = (mean(&diag), mean(&off));
        headline.insert(format!("{}.mean_diagonal", g.name), json!(d));
        headline.insert(format!("{}.mean_off_diagonal", g.name), json!(o));
        if o <= TRANSFER_OK {
            ok += 1;
        }
        summaries.push(format!(
            "{}: in-sample (diagonal) {d:.3}, transfer (off-diagonal) {o:.3}",
            g.name
        ));
        let short: Vec<String> = g.sections.iter().map(|s| short_name(s)).collect();
        maps.push(Heatmap {
            title: format!("{}: Procrustes disparity", g.name),
            row_labels: short.clone(),
            col_labels: short,
            values,
            row_desc: "trained on".into(),
            col_desc: "reconstructed".into(),
        });
    }
    let mut files = vec![ctx.csv(
        "fig11_transfer.csv",
        &[
            "group",
            "train",
            "target",
            "disparity",
            "mean_error_spacings",
            "genes_found",
        ],
        &rows,
    )?];
    if !maps.is_empty() {
        files.extend(heatmaps(&ctx.path("fig11_transfer"), &maps)?);
    }
    Ok(Outcome {
        experiment: Experiment::Fig11,
        title: "Transfer between related sections".into(),
        claim: format!(
            "A dp-VAE trained on one section reconstructs the other sections of the same tissue (genes \
             aligned reference -> query): transfer works. Checked: in each group the mean off-diagonal \
             disparity is at most {TRANSFER_OK} (1 means no relation)."
        ),
        finding: if groups.is_empty() {
            "no group of related sections in this panel".into()
        } else {
            format!("{}.", summaries.join("; "))
        },
        verdict: if groups.is_empty() {
            Verdict::NotRun
        } else {
            Verdict::from_checks(ok == groups.len(), ok > 0)
        },
        files: relative(ctx.out, &files),
        table_md: None,
        headline,
    })
}

pub fn fig8(ctx: &Assembly) -> Result<Outcome> {
    let groups = ctx.profile.groups(ctx.panel);
    let mut files = Vec::new();
    let mut rows = Vec::new();
    let mut headline = Map::new();
    let (mut positive, mut total) = (0, 0);
    let mut notes = Vec::new();
    for g in &groups {
        let train = &g.sections[0];
        let r: TransferResult = ctx.result(&job(ctx, g, train))?;
        let mut panels = Vec::new();
        for t in &r.targets {
            let errors: Vec<f64> = t.error_spacings.iter().map(|&e| e as f64).collect();
            let (cx, cy) = (
                mean(&t.truth.iter().map(|p| p[0] as f64).collect::<Vec<_>>()),
                mean(&t.truth.iter().map(|p| p[1] as f64).collect::<Vec<_>>()),
            );
            let radius: Vec<f64> = t
                .truth
                .iter()
                .map(|p| ((p[0] as f64 - cx).powi(2) + (p[1] as f64 - cy).powi(2)).sqrt())
                .collect();
            let rho = spearman(&errors, &radius);
            total += 1;
            if rho > 0.0 {
                positive += 1;
            }
            headline.insert(
                format!("{}.{}.mean_error_spacings", g.name, t.section),
                json!(t.mean_error_spacings),
            );
            rows.push(vec![
                g.name.clone(),
                train.clone(),
                t.section.clone(),
                f(t.mean_error_spacings),
                f(rho),
            ]);
            notes.push(format!("{} {:.2}", short_name(&t.section), rho));
            panels.push(Panel {
                title: format!(
                    "{} (mean {:.2} spots)",
                    short_name(&t.section),
                    t.mean_error_spacings
                ),
                points: t.truth.iter().map(|p| (p[0] as f64, p[1] as f64)).collect(),
                colouring: Colouring::Continuous {
                    values: errors,
                    name: "error (spot spacings)".into(),
                },
                marked: vec![],
                radii: vec![],
            });
        }
        files.extend(scatter_panels(
            &ctx.path(&format!("fig8_error_maps_{}", g.name)),
            &panels,
            &ScatterStyle::tissue(),
        )?);
    }
    files.insert(
        0,
        ctx.csv(
            "fig8_error_maps.csv",
            &[
                "group",
                "train",
                "target",
                "mean_error_spacings",
                "spearman_error_vs_distance_from_centre",
            ],
            &rows,
        )?,
    );
    Ok(Outcome {
        experiment: Experiment::Fig8,
        title: "Per-spot reconstruction error maps".into(),
        claim: "Reconstruction error is not uniform over the tissue: it is spatially structured, larger towards \
                the tissue's edges than in its centre. Checked: the Spearman correlation of per-spot error \
                (after Procrustes alignment, in spot spacings) with the distance from the tissue's centre is \
                positive on every map."
            .into(),
        finding: format!(
            "positive on {positive} of {total} maps (Spearman rho: {}).",
            notes.join(", ")
        ),
        verdict: if total == 0 {
            Verdict::NotRun
        } else {
            Verdict::from_checks(positive == total, positive > 0)
        },
        files: relative(ctx.out, &files),
        table_md: None,
        headline,
    })
}
