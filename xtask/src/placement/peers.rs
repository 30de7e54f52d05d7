//! The Python peers (scikit-learn's regressors, Tangram, CeLEry) through `benches/placement_peers.py`: the
//! cases go out as row lists, placed coordinates come back, and the metrics are computed here, as for the
//! Rust methods.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::json;

use super::CaseResult;
use super::cases::Case;
use super::metrics;

#[derive(Debug, Deserialize)]
struct PeerOutput {
    results: Vec<PeerResult>,
}

#[derive(Debug, Deserialize)]
struct PeerResult {
    case: String,
    method: String,
    coords: Option<Vec<Vec<f64>>>,
    seconds: f64,
    error: Option<String>,
}

/// Run the script with `python` on `cases`; results named `py-<method>`. The cross-resolution cases are not
/// sent: their pseudo-spots are built here, not by the script.
pub fn run(
    python: &Path,
    cases: &[Case],
    methods: Option<&[String]>,
    out: &Path,
) -> Result<Vec<CaseResult>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../benches/placement_peers.py");
    let jobs_path = out.join("peers_jobs.json");
    let peers_path = out.join("peers.json");
    let jobs = json!({
        "cases": cases.iter().filter(|c| c.pseudo.is_none()).map(|c| json!({
            "id": c.id,
            "seed": c.seed,
            "reference": c.reference_path,
            "reference_rows": c.reference_rows,
            "query": c.query_path,
            "query_rows": c.query_rows,
        })).collect::<Vec<_>>()
    });
    dpvae_data::atomic::write_bytes_atomic(&jobs_path, serde_json::to_string(&jobs)?.as_bytes())?;
    if !peers_path.exists() {
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .arg("--jobs")
            .arg(&jobs_path)
            .arg("--out")
            .arg(&peers_path);
        if let Some(m) = methods {
            cmd.arg("--methods").arg(m.join(","));
        }
        let status = cmd.status().with_context(|| {
            format!("could not start {} {}", python.display(), script.display())
        })?;
        if !status.success() {
            bail!("{} failed ({status})", script.display());
        }
    }
    let text = std::fs::read_to_string(&peers_path)
        .with_context(|| format!("reading {}", peers_path.display()))?;
    let output: PeerOutput = serde_json::from_str(&text)
        .with_context(|| format!("{} is not the peers' output", peers_path.display()))?;
    let mut results = Vec::new();
    // Each case's truth is read once, not once per peer method.
    let mut truths: std::collections::HashMap<String, ndarray::Array2<f64>> = Default::default();
    for r in output.results {
        let Some(case) = cases.iter().find(|c| c.id == r.case) else {
            continue;
        };
        let (metrics, error) = match (&r.coords, r.error) {
            (Some(rows), None) => {
                if !truths.contains_key(&case.id) {
                    let (_, query) = case.load()?;
                    truths.insert(case.id.clone(), query.require_spatial()?.clone());
                }
                let truth = &truths[&case.id];
                let placed = ndarray::Array2::from_shape_vec(
                    (rows.len(), 2),
                    rows.iter()
                        .flat_map(|p| p.iter().copied().take(2))
                        .collect(),
                )?;
                match metrics::evaluate(truth.view(), placed.view()) {
                    Ok(m) => (Some(m), None),
                    Err(e) => (None, Some(format!("{e:#}"))),
                }
            }
            (_, e) => (None, e.or_else(|| Some("no coordinates returned".into()))),
        };
        results.push(CaseResult {
            case: case.id.clone(),
            label: case.label(),
            holdout: case.is_holdout(),
            method: format!("py-{}", r.method),
            n_reference: case.reference_rows.len(),
            n_query: case.query_rows.len(),
            metrics,
            calibration: None,
            seconds: r.seconds,
            error,
            family: case.family.clone(),
            choice: None,
            kind: case.kind_name().to_string(),
            cross: None,
        });
    }
    Ok(results)
}
