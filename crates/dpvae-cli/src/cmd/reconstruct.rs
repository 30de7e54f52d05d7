//! `dpvae reconstruct` / `dpvae impute`: coordinates from a latent representation, optionally around anchor
//! spots whose positions are known.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use dpvae_data::SpatialData;
use dpvae_data::io::{self, tables::CoordTable};
use dpvae_geometry::{AnchorMode, Anchors, Method, ReconstructParams, Reconstruction};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::config::Invocation;
use crate::sources::parse_obsm_key;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MethodArg {
    /// Use the 2-d latent itself as coordinates.
    Direct,
    /// Metric SMACOF on latent distances.
    Smacof,
    /// SMACOF refined on the paper's L1 stress.
    L1,
}

impl MethodArg {
    /// The method given, or the default for a latent of `dim` dimensions: direct for 2, SMACOF otherwise.
    pub fn chosen(method: Option<MethodArg>, dim: usize) -> MethodArg {
        method.unwrap_or(if dim == 2 {
            MethodArg::Direct
        } else {
            MethodArg::Smacof
        })
    }
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::Direct => Method::Direct,
            MethodArg::Smacof => Method::Smacof,
            MethodArg::L1 => Method::L1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AnchorModeArg {
    /// Anchors fixed exactly (needs 3 or more).
    Hard,
    /// Anchors pulled towards their positions with weight --gamma.
    Penalty,
}

/// The settings of `dpvae reconstruct` / `dpvae impute` (their flags, their `--config` keys).
#[derive(Debug, Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconstructSettings {
    /// Where the latent is: obsm:KEY.
    #[arg(long, default_value = "obsm:X_dpvae")]
    pub from: String,
    /// How to turn the latent into coordinates (default: direct for a 2-d latent, smacof otherwise).
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    /// How anchors constrain the solution.
    #[arg(long, value_enum, default_value = "hard")]
    pub anchor_mode: AnchorModeArg,
    /// Weight of the anchor penalty (penalty mode).
    #[arg(long, default_value_t = 1.0)]
    pub gamma: f64,
    /// From --seed: SMACOF's random starts.
    #[arg(skip)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ReconstructArgs {
    /// A dataset holding the latent representation (e.g. the output of `dpvae embed`).
    pub input: PathBuf,
    /// Output h5ad: the input plus obsm['spatial_dpvae'].
    #[arg(long)]
    pub out: PathBuf,
    /// CSV/Parquet with columns barcode,x,y of spots whose coordinates are known.
    #[arg(long)]
    pub anchors: Option<PathBuf>,
    /// Also write the coordinates as a table keyed by barcode (.csv or .parquet); default OUT with .coords.csv.
    #[arg(long)]
    pub table: Option<PathBuf>,
    #[command(flatten)]
    pub settings: ReconstructSettings,
}

/// Read anchors (barcode,x,y) and find them in the dataset.
pub fn read_anchors(path: &Path, data: &SpatialData) -> Result<Anchors> {
    let table = io::tables::read_coords(path)
        .with_context(|| format!("could not read the anchor file {}", path.display()))?;
    let index = crate::sources::barcode_index(&data.obs_names);
    let mut idx = Vec::new();
    let mut rows = Vec::new();
    let mut unknown = Vec::new();
    for (r, bc) in table.barcodes.iter().enumerate() {
        match index.get(bc.as_str()) {
            Some(&i) => {
                idx.push(i);
                rows.push(r);
            }
            None => unknown.push(bc.clone()),
        }
    }
    if !unknown.is_empty() {
        bail!(
            "{} anchor barcodes in {} are not spots of the input (first: {}); anchors must be spots of the dataset being reconstructed",
            unknown.len(),
            path.display(),
            unknown[0]
        );
    }
    let coords = table.coords.select(ndarray::Axis(0), &rows);
    Ok(Anchors::new(idx, coords)?)
}

/// Reconstruct coordinates for `latent` with the chosen method and optional anchors.
pub fn reconstruct_latent(
    latent: &Array2<f64>,
    method: Option<MethodArg>,
    anchors: Option<(Anchors, AnchorModeArg, f64)>,
    seed: u64,
) -> Result<Reconstruction> {
    let method: Method = MethodArg::chosen(method, latent.ncols()).into();
    let mut params = ReconstructParams::new(method).smacof(
        dpvae_geometry::SmacofParams::new()
            .n_components(2)
            .seed(seed),
    );
    if let Some((anchors, mode, gamma)) = anchors {
        if mode == AnchorModeArg::Hard && anchors.len() < 3 {
            bail!(
                "hard anchor constraints need at least 3 anchors to fix the frame, but {} were given; add anchors or use --anchor-mode penalty",
                anchors.len()
            );
        }
        let mode = match mode {
            AnchorModeArg::Hard => AnchorMode::Hard,
            AnchorModeArg::Penalty => AnchorMode::Penalty { gamma },
        };
        params = params.anchors(anchors, mode);
    }
    Ok(params.check()?.run(latent.view())?)
}

/// The uncertainty columns `dpvae embed` wrote describe its placement, not the reconstruction replacing it:
/// they are left out of the output (the input file keeps them).
fn drop_stale_uncertainty(data: &mut SpatialData) {
    let stale: Vec<&str> = crate::uncertainty::OBS_COLUMNS
        .into_iter()
        .filter(|c| data.obs.column(c).is_ok())
        .collect();
    if stale.is_empty() {
        return;
    }
    for c in &stale {
        let _ = data.obs.drop_in_place(c);
    }
    tracing::warn!(
        "the input's obs {} describe the placement of `dpvae embed`, not this reconstruction, and are not \
         copied to the output; `dpvae embed` (or `run`) gives calibrated radii for its own placement",
        stale.join(", ")
    );
}

pub fn run(inv: &Invocation, args: ReconstructArgs, require_anchors: bool) -> Result<()> {
    let table_path = args
        .table
        .clone()
        .unwrap_or_else(|| args.out.with_extension("coords.csv"));
    let Some(s) = inv.prepare(&args.settings, &[&args.out, &table_path])? else {
        return Ok(());
    };
    if require_anchors && args.anchors.is_none() {
        bail!(
            "`dpvae impute` needs --anchors FILE.csv (columns barcode,x,y); without anchors use `dpvae reconstruct`"
        );
    }
    let key = parse_obsm_key(&s.from)?;
    let mut data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let latent = data.obsm.get(&key).cloned().with_context(|| {
        format!(
            "{} has no obsm['{key}']; run `dpvae embed MODEL_DIR {}` first, or point --from at the latent",
            args.input.display(),
            args.input.display()
        )
    })?;
    let anchors = match &args.anchors {
        Some(p) => Some((read_anchors(p, &data)?, s.anchor_mode, s.gamma)),
        None => None,
    };
    let n_anchors = anchors.as_ref().map(|a| a.0.len()).unwrap_or(0);
    let rec = reconstruct_latent(&latent, s.method, anchors, s.seed)?;
    if rec.frame == dpvae_geometry::Frame::UpToSimilarity && n_anchors > 0 {
        tracing::warn!(
            "with {n_anchors} anchors the result is only defined up to rotation/reflection/translation"
        );
    }
    data.obsm.insert("spatial_dpvae".into(), rec.coords.clone());
    drop_stale_uncertainty(&mut data);
    let details = serde_json::json!({
        "method": MethodArg::chosen(s.method, latent.ncols()),
        "solver": format!("{:?}", rec.path),
        "stress1": rec.stress1,
        "frame": format!("{:?}", rec.frame),
        "latent_scale": rec.latent_scale,
        "n_iter": rec.n_iter,
        "anchors": args.anchors.as_ref().map(|p| p.display().to_string()),
        "n_anchors": n_anchors,
    });
    inv.record(&mut data, &s, details)?;
    io::h5ad::write_h5ad(&args.out, &data)?;
    let table = CoordTable::new(data.obs_names.clone(), rec.coords)?;
    crate::common::write_table(&table_path, &table)?;
    inv.note(format!(
        "wrote {} (obsm['spatial_dpvae'], {} spots) and {}",
        args.out.display(),
        data.n_obs(),
        table_path.display()
    ));
    Ok(())
}
