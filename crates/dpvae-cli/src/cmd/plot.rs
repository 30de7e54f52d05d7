//! `dpvae plot`: spots at their (true or reconstructed) coordinates, coloured by a gene, an obs label or a
//! per-spot value; PNG and SVG.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use dpvae_data::io;
use serde::{Deserialize, Serialize};

use crate::config::{Invocation, beside};
use crate::pipeline::obs_labels;
use crate::plot::{Colouring, Panel, scatter_panels};
use crate::sources::parse_obsm_key;

/// The settings of `dpvae plot`; stored beside the figure as OUT.config.toml.
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlotSettings {
    /// Coordinates to draw: obsm:spatial (truth) or obsm:spatial_dpvae (reconstruction).
    #[arg(long, default_value = "obsm:spatial")]
    pub coords: String,
    /// Colour by: a gene name (log1p of the stored value), obs:COLUMN (a label), or none.
    #[arg(long, default_value = "none")]
    pub color: String,
    /// Draw y downwards, as tissue images are (default for pixel coordinates).
    #[arg(long)]
    pub flip_y: bool,
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A dataset (e.g. the output of `dpvae reconstruct`).
    pub input: PathBuf,
    /// Output path without extension; writes OUT.png, OUT.svg and OUT.config.toml.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: PlotSettings,
}

pub fn run(inv: &Invocation, args: PlotArgs) -> Result<()> {
    let png = args.out.with_extension("png");
    let Some(s) = inv.prepare(&args.settings, &[&png])? else {
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
    let colouring = if s.color == "none" {
        Colouring::Plain
    } else if let Some(col) = s.color.strip_prefix("obs:") {
        let (labels, names) = obs_labels(&data, col)
            .with_context(|| format!("{} has no obs column '{col}'", args.input.display()))?;
        Colouring::Category { labels, names }
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
    };
    let config = beside(&args.out);
    let mut files = scatter_panels(&args.out, &[panel], s.flip_y)?;
    inv.write_config(&config, &s)?;
    files.push(config);
    for f in files {
        inv.note(format!("wrote {}", f.display()));
    }
    Ok(())
}
