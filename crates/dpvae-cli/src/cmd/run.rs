//! `dpvae run`: the common case in one command: train on a reference, embed and reconstruct a query, and
//! evaluate when the query's true coordinates are known.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use dpvae::{
    ModelSettings, PlaceOptions, PlacementSettings, QueryProfile, TrainSettings,
    train_reference_observed,
};
use dpvae_data::SpatialData;
use dpvae_data::io::{self, tables::CoordTable};
use dpvae_data::preprocess::Preprocess;
use dpvae_geometry::Method;
use dpvae_model::{BackendKind, SaveOptions, TrainConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::cli::run::RunArgs;
use crate::common::{check_output, lock_output, write_table};
use crate::config::{CONFIG_FILE, Invocation};
use crate::evaluation::{evaluate_into, evaluation_outputs, latent_table};
use crate::progress::TrainProgress;
use crate::sources::Coverage;
use crate::training::{TrainingParts, TrainingSettings};

/// The settings of `dpvae run`: those of `dpvae train`, plus a [reconstruct] table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    pub preprocess: Preprocess,
    pub model: ModelSettings,
    pub train: TrainConfig,
    pub placement: PlacementSettings,
    pub backend: BackendKind,
    pub reconstruct: RunReconstruct,
}

/// How `dpvae run` turns the query's latent into coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunReconstruct {
    /// `direct`, `smacof` or `l1`; absent: direct for a 2-d latent, smacof otherwise.
    pub method: Option<Method>,
}

impl RunSettings {
    fn new(t: TrainSettings) -> Self {
        RunSettings {
            preprocess: t.preprocess,
            model: t.model,
            train: t.train,
            placement: t.placement,
            backend: t.backend,
            reconstruct: RunReconstruct { method: None },
        }
    }

    /// The training part, as `dpvae train` takes it.
    fn training(&self) -> TrainSettings {
        TrainSettings {
            preprocess: self.preprocess.clone(),
            model: self.model.clone(),
            train: self.train.clone(),
            placement: self.placement.clone(),
            backend: self.backend,
        }
    }
}

impl TrainingSettings for RunSettings {
    fn training_parts(&mut self) -> TrainingParts<'_> {
        TrainingParts {
            preprocess: &mut self.preprocess,
            placement: &mut self.placement,
        }
    }
}

/// Neighbours of the evaluation's kNN graph (latent Moran's I and Geary's C).
const EVALUATION_K: usize = 5;

/// Whether the query's own coordinates can evaluate the placement, decided before training so nothing fails
/// after it: coordinates of another dimension than the reference's are refused; too few spots for the
/// evaluation's neighbour graph are placed without an evaluation, and the user is told.
fn evaluation_possible(reference: &SpatialData, query: &SpatialData, path: &Path) -> Result<bool> {
    let Some(truth) = &query.spatial else {
        return Ok(false);
    };
    if let Some(r) = &reference.spatial
        && r.ncols() != truth.ncols()
    {
        bail!(
            "{}: obsm['spatial'] has {} columns but the reference's has {}; placements are in the \
             reference's frame, so the query's true coordinates must have the same axes (drop the extra \
             column, or drop obsm['spatial'] to place without evaluating)",
            path.display(),
            truth.ncols(),
            r.ncols()
        );
    }
    if query.n_obs() <= EVALUATION_K {
        tracing::warn!(
            "the query has {} spots; evaluating a placement needs at least {} (its {EVALUATION_K}-neighbour \
             graph): they are placed without an evaluation",
            query.n_obs(),
            EVALUATION_K + 1
        );
        return Ok(false);
    }
    Ok(true)
}

/// A reference obs column to transfer: its name, each spot's label (index into the names) and the names.
type LabelColumn = (String, (Vec<usize>, Vec<String>));

/// The reference's labels of every `--transfer-obs` column, read before training so a missing column fails
/// at once.
fn transfer_columns(
    reference: &SpatialData,
    columns: &[String],
    path: &Path,
) -> Result<Vec<LabelColumn>> {
    columns
        .iter()
        .map(|c| {
            let labels = dpvae::anndata::obs_labels(reference, c).with_context(|| {
                format!(
                    "--transfer-obs {c}: {} has no obs column '{c}'",
                    path.display()
                )
            })?;
            if !reference.has_spatial() {
                bail!("--transfer-obs needs the reference's coordinates (obsm['spatial'])");
            }
            Ok((c.clone(), labels))
        })
        .collect()
}

/// `obs['dpvae_COLUMN']` (the transferred label) and `obs['dpvae_COLUMN_prob']` of the placed query.
fn write_transfer(
    query: &mut SpatialData,
    reference: &SpatialData,
    column: &str,
    labels: &[usize],
    names: &[String],
    placed: &dpvae::Placed,
) -> Result<()> {
    if !placed.reference_frame {
        bail!(
            "--transfer-obs needs a placement in the reference's frame; this model places in its latent"
        );
    }
    let radius = placed.uncertainty.as_ref().map(|u| u.radius_50.as_slice());
    let t = dpvae::transfer::transfer_labels(
        reference.require_spatial()?.view(),
        labels,
        names,
        placed.coords.view(),
        radius,
    )?;
    let name = format!("dpvae_{column}");
    query.obs.with_column(polars::prelude::Column::new(
        name.as_str().into(),
        t.label_names(),
    ))?;
    query.obs.with_column(polars::prelude::Column::new(
        format!("{name}_prob").as_str().into(),
        t.probability,
    ))?;
    Ok(())
}

pub fn run(inv: &Invocation, args: RunArgs) -> Result<()> {
    let extra = json!({ "reconstruct": { "method": args.method } });
    let defaults = RunSettings::new(TrainSettings::default());
    let Some(settings) = args.flags.resolve(inv, defaults, extra)? else {
        return Ok(());
    };
    let global = inv.global;
    let out_h5ad = args.out.join("query_dpvae.h5ad");
    let model_dir = args.out.join("model");
    // Every output is checked before anything is written (the evaluation files too, which are written when
    // the query has true coordinates), and a model directory holding files dpvae did not write is refused.
    let mut outputs = vec![
        out_h5ad.clone(),
        model_dir.clone(),
        args.out.join("query_coords.csv"),
        args.out.join(CONFIG_FILE),
    ];
    outputs.extend(evaluation_outputs(&args.out));
    for path in &outputs {
        check_output(path, global.force)?;
    }
    dpvae_model::SavedModel::check_target(&model_dir)?;
    // Held until every output is written: a second dpvae writing the same folder fails now.
    let _lock = lock_output(&args.out)?;
    let whole = replaceable_whole(&args.out, &outputs)?;
    // Without --force, an existing OUT is empty or holds only leftover temporaries (checked above).
    let replace = global.force || args.out.exists();
    let reference = io::read(&args.reference)
        .with_context(|| format!("could not read the reference {}", args.reference.display()))?;
    let mut query = io::read(&args.query)
        .with_context(|| format!("could not read the query {}", args.query.display()))?;

    let evaluate = evaluation_possible(&reference, &query, &args.query)?;
    let transfers = transfer_columns(&reference, &args.transfer_obs, &args.reference)?;
    let name = args.reference.display().to_string();
    // Genes are chosen among those the query has, so none of the model's genes is missing from it; a much
    // shallower query (single cells) is trained for on a thinned reference.
    let profile = QueryProfile::of(&query, &settings.preprocess.align)?;
    let mut progress = TrainProgress::new(global.quiet);
    let trained = train_reference_observed(
        &reference,
        &settings.training(),
        &name,
        Some(&profile),
        &mut progress,
    )?;
    let method = settings.reconstruct.method;
    let opts = PlaceOptions {
        backend: settings.backend,
        method,
        seed: settings.train.seed,
        allow_missing_genes: false,
        skip_uncertainty: false,
    };
    let placed = trained.model.place_with(&query, &opts)?;
    placed.write_into(&mut query)?;
    for (column, (labels, names)) in &transfers {
        write_transfer(&mut query, &reference, column, labels, names, &placed)?;
    }
    let details = json!({
        "reference": name,
        "method": placed.method,
        "members": placed.member_coords.len(),
        "frame": if placed.reference_frame { "reference" } else { "latent" },
        "uncertainty": placed.uncertainty.is_some(),
    });
    inv.record(&mut query, &settings, details)?;
    // Every output is assembled in one folder, put in OUT's place in one atomic step (an exchange when OUT
    // exists), so a kill leaves the previous run's outputs or all of this one's, never a mix. Only a folder
    // holding something else as well (OUT=., say) gets its outputs one by one, each atomically.
    let staged = match whole {
        true => Some(
            dpvae_core::atomic::StagedDir::new(&args.out).with_context(|| {
                format!("could not create the output folder {}", args.out.display())
            })?,
        ),
        false => None,
    };
    let dir = staged.as_ref().map_or(args.out.as_path(), |s| s.path());
    // Evaluation is computed (and its files written) before the other outputs: it is the last step that can
    // fail on the input (a query of too few spots for its kNN graph, say).
    let coords = placed.coord_table(query.obs_names.clone())?;
    let evaluation = match query.spatial.as_ref().filter(|_| evaluate) {
        Some(truth) => {
            let truth = CoordTable::new(query.obs_names.clone(), truth.clone())?;
            let latent = latent_table(&query)?;
            Some(evaluate_into(
                &truth,
                &coords,
                latent.as_ref(),
                EVALUATION_K,
                Coverage::Full,
                dir,
            )?)
        }
        None => None,
    };
    // Nothing else is written until training, placement and evaluation have all succeeded. The model is
    // written with its history in one atomic step (replaced by an exchange, never deleted first), and only if
    // it holds nothing dpvae did not write.
    let history = trained.outcome.history.to_csv();
    trained.model.save_with(
        &dir.join("model"),
        &SaveOptions {
            replace: global.force,
            extra: vec![("history.csv", history.as_bytes())],
        },
    )?;
    io::h5ad::write_h5ad(&dir.join("query_dpvae.h5ad"), &query)?;
    inv.write_config(&dir.join(CONFIG_FILE), &settings)?;
    write_table(&dir.join("query_coords.csv"), &coords)?;
    if let Some(staged) = staged {
        staged.commit(replace).with_context(|| {
            format!(
                "could not put the outputs in place of {} (another process wrote it meanwhile?)",
                args.out.display()
            )
        })?;
    }
    if let Some(note) = dpvae::depth::depth_note(trained.model.placement()) {
        inv.note(note);
    }
    inv.note(format!(
        "wrote {} and {}",
        out_h5ad.display(),
        args.out.join("query_coords.csv").display()
    ));

    if let Some(summary) = evaluation {
        println!(
            "query has true coordinates: Procrustes disparity {:.4}, median per-spot error {:.3} (evaluation.json, error_map.png)",
            summary["procrustes_disparity"].as_f64().unwrap_or(f64::NAN),
            summary["error_median"].as_f64().unwrap_or(f64::NAN)
        );
        if let Some(c) = summary.get("calibration") {
            println!(
                "uncertainty: {:.0}% of spots within dpvae_radius_50 (stated 50%), {:.0}% within dpvae_radius_90 (stated 90%); Spearman(radius, error) {:.2}",
                100.0 * c["coverage_50"].as_f64().unwrap_or(f64::NAN),
                100.0 * c["coverage_90"].as_f64().unwrap_or(f64::NAN),
                c["spearman_radius_error"].as_f64().unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}

/// Whether the folder `out` can be replaced as a whole by one with `outputs` in it: it does not exist, or it
/// is a directory (not a link to one) holding nothing but those outputs and the temporaries dpvae's writers
/// leave beside them when killed. Anything else in it would be lost, so then each output is written on its own.
fn replaceable_whole(out: &Path, outputs: &[PathBuf]) -> Result<bool> {
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out.file_name().is_some()),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", out.display())),
        Ok(meta) => meta,
    };
    if !meta.is_dir() || out.file_name().is_none() {
        return Ok(false);
    }
    let ours: Vec<&std::ffi::OsStr> = outputs.iter().filter_map(|p| p.file_name()).collect();
    let is_ours = |name: &std::ffi::OsStr| {
        ours.contains(&name)
            || name.to_str().is_some_and(|n| {
                dpvae_core::atomic::temporary_of(n)
                    .is_some_and(|base| ours.contains(&base.as_ref()))
            })
    };
    for entry in
        std::fs::read_dir(out).with_context(|| format!("could not read {}", out.display()))?
    {
        let entry = entry.with_context(|| format!("could not read {}", out.display()))?;
        if !is_ours(&entry.file_name()) {
            return Ok(false);
        }
    }
    Ok(true)
}
