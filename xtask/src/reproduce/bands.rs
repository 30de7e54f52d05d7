//! Regression check of headline numbers against committed tolerance bands (`fixtures/reproduce/*.toml`).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bands {
    /// Which profile the bands belong to; checking another profile's results is an error.
    profile: String,
    band: Vec<Band>,
}

/// One headline number and the range it must stay in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Band {
    /// `experiment.key` in results.json's `headline` maps, e.g. `fig9.mean_disparity_dpvae`.
    metric: String,
    min: Option<f64>,
    max: Option<f64>,
    /// Why the band is where it is.
    why: String,
}

/// Look a dotted metric up in results.json: the experiment id, then the headline key (which may contain dots).
fn lookup<'a>(results: &'a Value, metric: &str) -> Option<&'a Value> {
    let (exp, key) = metric.split_once('.')?;
    results["experiments"][exp]["headline"].get(key)
}

/// Compare `results` with the bands in `path`; returns the lines of the check, or an error listing every
/// number outside its band.
pub fn check(path: &Path, results: &Value) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the tolerance bands {}", path.display()))?;
    let bands: Bands = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid bands file", path.display()))?;
    let profile = results["profile"]["name"].as_str().unwrap_or("");
    if bands.profile != profile {
        bail!(
            "{} holds bands for the `{}` profile but the results are from `{profile}`",
            path.display(),
            bands.profile
        );
    }
    let mut lines = Vec::new();
    let mut failed = Vec::new();
    for b in &bands.band {
        let Some(v) = lookup(results, &b.metric).and_then(Value::as_f64) else {
            failed.push(format!("{}: missing from results.json", b.metric));
            continue;
        };
        let lo = b.min.unwrap_or(f64::NEG_INFINITY);
        let hi = b.max.unwrap_or(f64::INFINITY);
        let line = format!("{} = {v:.4} (band {lo} .. {hi}; {})", b.metric, b.why);
        if v >= lo && v <= hi {
            lines.push(format!("ok   {line}"));
        } else {
            failed.push(line);
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} headline number(s) left their tolerance band ({}):\n  {}",
            failed.len(),
            path.display(),
            failed.join("\n  ")
        );
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_inside_pass_outside_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.toml");
        std::fs::write(
            &path,
            "profile = \"quick\"\n[[band]]\nmetric = \"fig9.mean_disparity_dpvae\"\nmax = 0.5\nwhy = \"w\"\n\
             [[band]]\nmetric = \"fig2.r.a.b\"\nmin = 0.1\nwhy = \"w\"\n",
        )
        .unwrap();
        let mut results = json!({
            "profile": {"name": "quick"},
            "experiments": {
                "fig9": {"headline": {"mean_disparity_dpvae": 0.3}},
                "fig2": {"headline": {"r.a.b": 0.2}}
            }
        });
        assert_eq!(check(&path, &results).unwrap().len(), 2);
        results["experiments"]["fig9"]["headline"]["mean_disparity_dpvae"] = json!(0.7);
        let err = check(&path, &results).unwrap_err().to_string();
        assert!(err.contains("fig9.mean_disparity_dpvae = 0.7000"), "{err}");
        results["experiments"]["fig2"]["headline"] = json!({});
        let err = check(&path, &results).unwrap_err().to_string();
        assert!(
            err.contains("2 headline") && err.contains("missing"),
            "{err}"
        );
        results["profile"]["name"] = json!("full");
        assert!(
            check(&path, &results)
                .unwrap_err()
                .to_string()
                .contains("profile")
        );
    }
}
