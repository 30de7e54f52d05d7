//! Placing a query: encode it with every member, map the latents into the reference's frame (or reconstruct
//! coordinates from a bare model's latent), and attach the calibrated per-spot uncertainty.

use dpvae_data::SpatialData;
use dpvae_data::io::tables::CoordTable;
use dpvae_geometry::{
    AnchorMode, Anchors, Method, ReconstructParams, Reconstruction, SmacofParams,
};
use dpvae_model::BackendKind;
use ndarray::Array2;

use crate::anndata::{OBSM_LATENT, OBSM_LATENT_VAR, OBSM_PLACED, record_in_uns};
use crate::error::{Context, Result, bail};
use crate::model::Model;
use crate::uncertainty::{MemberLatent, Uncertainty};

/// A placed query.
pub struct Placed {
    /// The first member's posterior means (`obsm['X_dpvae']`).
    pub latent: Array2<f64>,
    /// Their posterior variances (`obsm['X_dpvae_var']`).
    pub variance: Array2<f64>,
    /// Coordinates (`obsm['spatial_dpvae']`): in the reference's frame and units when the model has a
    /// placement record, otherwise the reconstruction of the latent.
    pub coords: Array2<f64>,
    /// Each member's placement in the reference frame (one entry without a placement record).
    pub member_coords: Vec<Array2<f64>>,
    /// Whether `coords` is in the reference's frame.
    pub reference_frame: bool,
    /// Calibrated per-spot radii and confidence (models in the reference's frame with a calibration).
    pub uncertainty: Option<Uncertainty>,
    /// Reconstruction method used.
    pub method: dpvae_geometry::Method,
    /// The model's automatic choice of the gene selection, when one was made.
    pub selection: Option<crate::auto::Selection>,
    /// The query depth the reference was thinned to for training, when it was.
    pub depth: Option<crate::depth::DepthMatch>,
}

impl Placed {
    /// Whether `coords` are tissue coordinates: in the reference's frame, or a bare model's 2-d latent.
    pub fn has_coordinates(&self) -> bool {
        self.reference_frame || self.latent.ncols() == 2
    }

    /// Store the placement where scanpy users look: obsm['X_dpvae'], obsm['X_dpvae_var'],
    /// obsm['spatial_dpvae'] (when [`Placed::has_coordinates`]), with a calibration the obs columns
    /// dpvae_radius_50, dpvae_radius_90 and dpvae_confidence, and [`Placed::summary`] in
    /// uns['dpvae']['placement'].
    pub fn write_into(&self, data: &mut SpatialData) -> Result<()> {
        if data.n_obs() != self.latent.nrows() {
            bail!(
                "the placement has {} spots but the dataset {}",
                self.latent.nrows(),
                data.n_obs()
            );
        }
        data.obsm.insert(OBSM_LATENT.into(), self.latent.clone());
        data.obsm
            .insert(OBSM_LATENT_VAR.into(), self.variance.clone());
        if self.has_coordinates() {
            data.obsm.insert(OBSM_PLACED.into(), self.coords.clone());
        }
        if let Some(u) = &self.uncertainty {
            for (name, values) in u.columns() {
                data.obs
                    .with_column(polars::prelude::Column::new(name.into(), values.to_vec()))
                    .with_context(|| format!("adding obs['{name}']"))?;
            }
        }
        record_in_uns(data, "placement", self.summary());
        Ok(())
    }

    /// What the placement was, for `uns['dpvae']['placement']`.
    pub fn summary(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "frame": if self.reference_frame { "reference" } else { "latent" },
            "latent_dim": self.latent.ncols(),
            "members": self.member_coords.len(),
            "method": format!("{:?}", self.method).to_ascii_lowercase(),
            "uncertainty": self.uncertainty.is_some(),
        });
        if let Some(s) = &self.selection {
            v["selection"] = serde_json::to_value(s).unwrap_or_default();
        }
        if let Some(d) = &self.depth {
            v["depth"] = serde_json::to_value(d).unwrap_or_default();
        }
        v
    }

    /// The coordinates as a barcode,x,y table, with the uncertainty columns when there are any.
    pub fn coord_table(&self, barcodes: Vec<String>) -> Result<CoordTable> {
        let mut t = CoordTable::new(barcodes, self.coords.clone())?;
        if let Some(u) = &self.uncertainty {
            for (name, values) in u.columns() {
                t = t.with_column(name, values.to_vec())?;
            }
        }
        Ok(t)
    }
}

/// How [`Model::place_with`] runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaceOptions {
    pub backend: BackendKind,
    /// Reconstruction of the latent (default: [`default_method`]).
    pub method: Option<Method>,
    /// SMACOF's random starts.
    pub seed: u64,
    /// Place even when more than half of the model's genes are missing from the query.
    pub allow_missing_genes: bool,
    /// Leave out the per-spot uncertainty (radii and confidence), e.g. to time what it costs.
    pub skip_uncertainty: bool,
}

/// The reconstruction of a latent of `dim` dimensions when none is asked for: the latent itself when it is
/// 2-d, SMACOF otherwise.
pub fn default_method(dim: usize) -> Method {
    if dim == 2 {
        Method::Direct
    } else {
        Method::Smacof
    }
}

impl Model {
    /// Place `query` with the default options: the whole of `dpvae embed` for a model directory.
    pub fn place(&self, query: &SpatialData) -> Result<Placed> {
        self.place_with(query, &PlaceOptions::default())
    }

    /// Embed `query` with every member and place it (in the reference's frame when the model has a
    /// placement record, otherwise by reconstructing the first member's latent).
    pub fn place_with(&self, query: &SpatialData, opts: &PlaceOptions) -> Result<Placed> {
        let (_, embs, report) = self.embed_with(
            &self.members(),
            query,
            opts.backend,
            opts.allow_missing_genes,
        )?;
        let latent = to_f64(&embs[0].mean);
        let variance = to_f64(&embs[0].variance);
        let method = opts.method.unwrap_or(default_method(latent.ncols()));
        let (coords, member_coords, reference_frame, uncertainty) = match self.placement() {
            Some(r) if r.settings.reference_frame => {
                let embedded: Vec<(Array2<f64>, Array2<f64>)> = embs
                    .iter()
                    .map(|e| (to_f64(&e.mean), to_f64(&e.variance)))
                    .collect();
                let latents: Vec<Array2<f64>> = embedded.iter().map(|e| e.0.clone()).collect();
                let (coords, members) = r.place_members(&latents, method, opts.seed)?;
                let mut uncertainty = match opts.skip_uncertainty {
                    true => None,
                    false => r.uncertainty(&member_views(&embedded), &members, &coords)?,
                };
                mark_empty(&report.empty_rows, r, uncertainty.as_mut());
                (coords, members, true, uncertainty)
            }
            _ => {
                let rec = reconstruct_latent(&latent, Some(method), None, opts.seed)?;
                (rec.coords.clone(), vec![rec.coords], false, None)
            }
        };
        Ok(Placed {
            latent,
            variance,
            coords,
            member_coords,
            reference_frame,
            uncertainty,
            method,
            selection: self.placement().and_then(|r| r.selection.clone()),
            depth: self.placement().and_then(|r| r.depth.clone()),
        })
    }
}

/// Spots without a count over the model's genes all land on one point that says nothing of where they were:
/// they get confidence 0 and radii spanning the reference, and the user hears how many there are.
fn mark_empty(
    empty: &[usize],
    record: &crate::placement::PlacementRecord,
    uncertainty: Option<&mut Uncertainty>,
) {
    if empty.is_empty() {
        return;
    }
    tracing::warn!(
        spots = empty.len(),
        "query spots without counts over the model's genes are placed at one uninformative point; they get \
         confidence 0 and radii spanning the reference (filter them out, e.g. sc.pp.filter_cells(min_counts=1))"
    );
    let Some(u) = uncertainty else { return };
    let span = record.anchor_span();
    for &i in empty {
        u.confidence[i] = 0.0;
        u.radius_50[i] = span;
        u.radius_90[i] = span;
    }
}

/// Reconstruct 2-d coordinates for `latent` (default method: [`default_method`]), around `anchors` (their
/// constraint) when given. Hard constraints need at least 3 anchors to fix the frame.
pub fn reconstruct_latent(
    latent: &Array2<f64>,
    method: Option<Method>,
    anchors: Option<(Anchors, AnchorMode)>,
    seed: u64,
) -> Result<Reconstruction> {
    let method = method.unwrap_or(default_method(latent.ncols()));
    let mut params =
        ReconstructParams::new(method).smacof(SmacofParams::new().n_components(2).seed(seed));
    if let Some((anchors, mode)) = anchors {
        if mode == AnchorMode::Hard && anchors.len() < 3 {
            bail!(
                "hard anchor constraints need at least 3 anchors to fix the frame, but {} were given; add \
                 anchors or use --anchor-mode penalty",
                anchors.len()
            );
        }
        params = params.anchors(anchors, mode);
    }
    Ok(params.check()?.run(latent.view())?)
}

/// Borrowed (means, variances) of every member.
pub(crate) fn member_views(embedded: &[(Array2<f64>, Array2<f64>)]) -> Vec<MemberLatent<'_>> {
    embedded
        .iter()
        .map(|(m, v)| MemberLatent {
            mean: m.view(),
            variance: Some(v.view()),
        })
        .collect()
}

/// f32 embedding to the f64 matrices the geometry and eval crates take.
pub fn to_f64(a: &Array2<f32>) -> Array2<f64> {
    a.mapv(f64::from)
}
