//! Single cells placed from pseudo-spots (the cross-resolution cases): per section and method, the cells'
//! disparity beside the spots-from-spots control and the cells-from-cells oracle (the section's own held-out
//! case), the median error in spot pitches, the share placed outside the tissue and dpvae's radius coverage.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::{CaseResult, mean};

fn values<'a>(
    results: &'a [CaseResult],
    kind: &'a str,
    label: &'a str,
    method: &'a str,
) -> impl Iterator<Item = &'a CaseResult> + 'a {
    results.iter().filter(move |r| {
        r.kind == kind && r.label == label && r.method == method && r.metrics.is_some()
    })
}

fn mean_of(it: impl Iterator<Item = f64>) -> f64 {
    mean(&it.collect::<Vec<_>>())
}

pub fn section(
    results: &[CaseResult],
    methods: &[String],
    headline: &mut Map<String, Value>,
) -> String {
    let labels: Vec<String> = {
        let mut l: Vec<String> = results
            .iter()
            .filter(|r| r.kind == "cells")
            .map(|r| r.label.clone())
            .collect();
        l.sort();
        l.dedup();
        l
    };
    if labels.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "## Single cells placed from pseudo-spots\n\nPseudo-spots: hexagonal grid, pitch 9 median nearest-cell \
         distances, discs of 0.275 pitch, at least 3 cells; the query is up to 5000 cells in no disc. `cells`: their \
         disparity; `spots`: the control, 80/20 of the pseudo-spots; `oracle`: the section's own held-out case \
         (trained on cells with their positions); `err`: median error in pitches; `out`: share placed more than \
         two pitches from every spot; `cov`: share of cells within dpvae's 50% / 90% radius; `label`: accuracy of the \
         pseudo-spots' `Region` transferred through the placement (dpvae: weighted by its radius), against the \
         label of the spot nearest the cell's true position; `expr`: the same label transferred by expression \
         alone (10 nearest spots in expression, kNN row).\n\n\
         | section | method | cells | spots | oracle | err | out | cov 50/90 | label | expr |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for label in &labels {
        let mut row: BTreeMap<&str, f64> = BTreeMap::new();
        for m in methods {
            let dis = |kind| {
                mean_of(
                    values(results, kind, label, m).filter_map(|r| r.metrics.map(|x| x.disparity)),
                )
            };
            let (cells, spots, oracle) = (dis("cells"), dis("spots"), dis("holdout"));
            if !cells.is_finite() {
                continue;
            }
            row.insert(m.as_str(), cells);
            let crossm = |f: &dyn Fn(&super::metrics::CrossMetrics) -> f64| {
                mean_of(values(results, "cells", label, m).filter_map(|r| r.cross.as_ref().map(f)))
            };
            let err = crossm(&|c| c.median_error_pitches);
            let out = crossm(&|c| c.outside);
            let label_acc = crossm(&|c| c.label_accuracy.unwrap_or(f64::NAN));
            let expr = crossm(&|c| c.expression_label_accuracy.unwrap_or(f64::NAN));
            let shown = |v: f64| {
                if v.is_finite() {
                    format!("{v:.3}")
                } else {
                    String::new()
                }
            };
            let cov = |f: &dyn Fn(&super::calibration::CaseCalibration) -> f64| {
                mean_of(
                    values(results, "cells", label, m)
                        .filter_map(|r| r.calibration.as_ref().map(f)),
                )
            };
            let (c50, c90) = (
                cov(&|c| c.summary.coverage_50),
                cov(&|c| c.summary.coverage_90),
            );
            let coverage = if c50.is_finite() {
                format!("{c50:.2} / {c90:.2}")
            } else {
                String::new()
            };
            let _ = writeln!(
                md,
                "| {label} | {m} | {cells:.3} | {spots:.3} | {oracle:.3} | {err:.2} | {out:.3} | {coverage} | {} | {} |",
                shown(label_acc),
                shown(expr)
            );
            if label_acc.is_finite() {
                headline.insert(
                    format!("cells_label_accuracy.{label}.{m}"),
                    json!(label_acc),
                );
            }
            headline.insert(format!("cells.{label}.{m}"), json!(cells));
            headline.insert(format!("spots.{label}.{m}"), json!(spots));
            headline.insert(format!("cells_outside.{label}.{m}"), json!(out));
            if c50.is_finite() {
                headline.insert(format!("cells_coverage_50.{label}.{m}"), json!(c50));
                headline.insert(format!("cells_coverage_90.{label}.{m}"), json!(c90));
            }
        }
        if let Some(d) = row.get("dpvae") {
            let best_other = row
                .iter()
                .filter(|(m, _)| super::is_baseline(m))
                .map(|(_, v)| *v)
                .fold(f64::INFINITY, f64::min);
            if best_other.is_finite() {
                headline.insert(
                    format!("cells_ratio_to_best_baseline.{label}"),
                    json!(d / best_other),
                );
            }
        }
    }
    md.push('\n');
    md
}
