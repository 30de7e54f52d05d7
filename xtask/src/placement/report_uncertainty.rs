//! The benchmark's uncertainty section: coverage of dpvae_radius_50 / dpvae_radius_90 and Spearman of radius
//! and error per section, their headline numbers, and the calibration figure (stated vs observed coverage).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use dpvae_plot::{BandSeries, band_chart};
use serde_json::{Map, Value, json};

use super::calibration::CURVE_LEVELS;
use super::{CaseResult, mean};

/// Per label, the cases' calibration of one method.
type ByLabel<'a> = BTreeMap<&'a str, Vec<&'a super::calibration::CaseCalibration>>;

fn by_label<'a>(results: &'a [CaseResult], method: &str, holdout: bool) -> ByLabel<'a> {
    let mut t: ByLabel = BTreeMap::new();
    for r in results
        .iter()
        .filter(|r| r.method == method && r.holdout == holdout && !r.is_cross())
    {
        if let Some(c) = &r.calibration {
            t.entry(r.label.as_str()).or_default().push(c);
        }
    }
    t
}

fn stat(t: &ByLabel, f: impl Fn(&super::calibration::CaseCalibration) -> f64) -> Vec<f64> {
    t.values()
        .map(|v| mean(&v.iter().map(|c| f(c)).collect::<Vec<_>>()))
        .collect()
}

fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// Markdown for the methods that state an uncertainty, adding their headline numbers to `headline`.
pub fn section(
    out: &Path,
    results: &[CaseResult],
    headline: &mut Map<String, Value>,
) -> Result<String> {
    let mut methods: Vec<&str> = Vec::new();
    for r in results.iter().filter(|r| r.calibration.is_some()) {
        if !methods.contains(&r.method.as_str()) {
            methods.push(&r.method);
        }
    }
    if methods.is_empty() {
        return Ok(String::new());
    }
    let mut md = String::from(
        "## Uncertainty\n\nFraction of query spots whose true error (after the rigid part of the disparity's alignment) is within \
         their stated radius `dpvae_radius_50` / `dpvae_radius_90` (stated: 0.50 / 0.90), and Spearman's rho \
         between the radius and the true error. Held-out: mean over seeds.\n\n",
    );
    let mut bands = Vec::new();
    for m in &methods {
        for holdout in [true, false] {
            let t = by_label(results, m, holdout);
            if t.is_empty() {
                continue;
            }
            let kind = if holdout { "holdout" } else { "transfer" };
            let c50 = stat(&t, |c| c.summary.coverage_50);
            let c90 = stat(&t, |c| c.summary.coverage_90);
            let rho = stat(&t, |c| c.summary.spearman_radius_error);
            let _ = write!(
                md,
                "### {m}, {kind}\n\n| case | coverage r50 | coverage r90 | Spearman(radius, error) |\n|---|---|---|---|\n"
            );
            for (i, label) in t.keys().enumerate() {
                let _ = writeln!(
                    md,
                    "| {label} | {:.3} | {:.3} | {:.3} |",
                    c50[i], c90[i], rho[i]
                );
            }
            let (lo50, hi50) = range(&c50);
            let (lo90, hi90) = range(&c90);
            let _ = writeln!(
                md,
                "| **mean** (range) | {:.3} ({lo50:.3}-{hi50:.3}) | {:.3} ({lo90:.3}-{hi90:.3}) | {:.3} |\n",
                mean(&c50),
                mean(&c90),
                mean(&rho)
            );
            let mut features: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for cases in t.values() {
                for c in cases {
                    for (name, v) in &c.spearman_by_feature {
                        features.entry(name).or_default().push(*v);
                    }
                }
            }
            let _ = writeln!(
                md,
                "Spearman with the true error, mean over cases, of each ingredient: {}\n",
                features
                    .iter()
                    .map(|(n, v)| format!("{n} {:.3}", mean(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let key = |k: &str| format!("uncertainty.{kind}_{k}.{m}");
            headline.insert(key("coverage_50"), json!(mean(&c50)));
            headline.insert(key("coverage_90"), json!(mean(&c90)));
            headline.insert(key("coverage_50_min"), json!(lo50));
            headline.insert(key("coverage_50_max"), json!(hi50));
            headline.insert(key("coverage_90_min"), json!(lo90));
            headline.insert(key("coverage_90_max"), json!(hi90));
            headline.insert(key("spearman"), json!(mean(&rho)));
            let points = CURVE_LEVELS
                .iter()
                .enumerate()
                .map(|(i, &q)| {
                    let per: Vec<f64> = t
                        .values()
                        .map(|v| mean(&v.iter().map(|c| c.curve[i].1).collect::<Vec<_>>()))
                        .collect();
                    let (lo, hi) = range(&per);
                    (q, mean(&per), lo, hi)
                })
                .collect();
            bands.push(BandSeries {
                name: format!("{m}, {kind} (mean, range over cases)"),
                points,
            });
        }
    }
    bands.push(BandSeries {
        name: "stated = observed".into(),
        points: CURVE_LEVELS.iter().map(|&q| (q, q, q, q)).collect(),
    });
    band_chart(
        &out.join("calibration"),
        "Calibration of the stated radius",
        "stated coverage",
        "observed coverage",
        &bands,
    )?;
    md.push_str("![calibration](calibration.png)\n\n");
    Ok(md)
}
