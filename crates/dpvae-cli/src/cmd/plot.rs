//! `dpvae plot`: spots at their (true or reconstructed) coordinates, coloured by a gene, an obs label or a
//! per-spot value; PNG and SVG.

use anyhow::{Context, Result, bail};
use dpvae_data::io;

use crate::cli::plot::PlotArgs;
use crate::config::{Invocation, beside};
use crate::sources::parse_obsm_key;
use dpvae::anndata::obs_labels;
use dpvae::uncertainty::{OBS_CONFIDENCE, Uncertainty};
use dpvae_plot::{Colouring, Panel, ScatterStyle, scatter_panels};

/// A numeric obs column as a colour ramp, any other as categories.
fn obs_colouring(data: &dpvae_data::SpatialData, col: &str) -> Result<Colouring> {
    let Ok(c) = data.obs.column(col) else {
        let names: Vec<String> = data
            .obs
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        bail!(
            "no such column; obs has: {}",
            if names.is_empty() {
                "(no columns)".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    if c.dtype().is_primitive_numeric() {
        let values = c
            .cast(&polars::prelude::DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        return Ok(Colouring::Continuous {
            values,
            name: col.to_string(),
        });
    }
    let (labels, names) = obs_labels(data, col).context("the column cannot be read as labels")?;
    Ok(Colouring::Category { labels, names })
}

/// The per-spot radius at `level` (50 or 90) from obs.
fn radii(data: &dpvae_data::SpatialData, level: u8) -> Result<Vec<f64>> {
    if level != 50 && level != 90 {
        bail!("the radius level must be 50 or 90");
    }
    let u = Uncertainty::from_obs(&data.obs)?.context(
        "no obs['dpvae_radius_50'/'dpvae_radius_90']: place the spots with `dpvae embed` or `dpvae run` first",
    )?;
    Ok(if level == 50 {
        u.radius_50
    } else {
        u.radius_90
    })
}

pub fn run(inv: &Invocation, args: PlotArgs) -> Result<()> {
    let png = args.out.with_extension("png");
    let svg = args.out.with_extension("svg");
    let config = beside(&args.out);
    let Some(s) = inv.prepare(&args.settings, &[&png, &svg, &config])? else {
        return Ok(());
    };
    let data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let key = parse_obsm_key(&s.coords)?;
    let coords = if key == "spatial" {
        data.require_spatial()?.clone()
    } else {
        data.obsm
            .get(&key)
            .cloned()
            .with_context(|| format!("{} has no obsm['{key}']", args.input.display()))?
    };
    if coords.ncols() < 2 {
        bail!(
            "obsm['{key}'] has {} column(s); a plot needs 2",
            coords.ncols()
        );
    }
    let color = if s.color == "confidence" {
        format!("obs:{OBS_CONFIDENCE}")
    } else {
        s.color.clone()
    };
    let colouring = if color == "none" {
        Colouring::Plain
    } else if let Some(col) = color.strip_prefix("obs:") {
        obs_colouring(&data, col)
            .with_context(|| format!("{}: cannot colour by obs '{col}'", args.input.display()))?
    } else {
        let j = data
            .var_names
            .iter()
            .position(|g| g.eq_ignore_ascii_case(&s.color))
            .with_context(|| {
                format!(
                    "'{}' is neither a gene of {} nor obs:COLUMN",
                    s.color,
                    args.input.display()
                )
            })?;
        let column = data.x.select_cols(&[j]).to_dense();
        Colouring::Continuous {
            values: column.iter().map(|&v| (v as f64).ln_1p()).collect(),
            name: format!("log1p {}", data.var_names[j]),
        }
    };
    let panel = Panel {
        title: format!("{} ({key})", s.color),
        points: coords.rows().into_iter().map(|r| (r[0], r[1])).collect(),
        colouring,
        marked: vec![],
        radii: match s.radius {
            None => vec![],
            Some(level) => radii(&data, level).with_context(|| {
                format!("{}: cannot draw --radius {level}", args.input.display())
            })?,
        },
    };
    let config = beside(&args.out);
    let style = ScatterStyle {
        y_down: !s.y_up,
        point_size: s.point_size,
        ..ScatterStyle::tissue()
    };
    let mut files = scatter_panels(&args.out, &[panel], &style)?;
    inv.write_config(&config, &s)?;
    files.push(config);
    for f in files {
        inv.note(format!("wrote {}", f.display()));
    }
    Ok(())
}
