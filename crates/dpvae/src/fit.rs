//! Training on a reference: fit the preprocessing, train the ensemble, and record what placement needs
//! (anchors and the uncertainty's calibration).

use dpvae_data::SpatialData;
use dpvae_data::preprocess::{FittedPreprocess, HvgFlavor};
use dpvae_model::{
    BackendKind, Likelihood, ModelConfig, ModelError, SavedModel, TracingObserver, TrainConfig,
    TrainInput, TrainObserver, TrainOutcome, TrainingMetadata, matrix_checksum,
};
use ndarray::{Array1, Array2, Axis};

use crate::depth::QueryProfile;
use crate::error::{Context, Result, bail};
use crate::model::Model;
use crate::place::{default_method, member_views, to_f64};
use crate::placement::{CoordFrame, PlacementRecord, anchor_rows};
use crate::settings::TrainSettings;
use crate::uncertainty::{Calibration, MIN_CALIBRATION, calibration_rows, rigid_errors};

/// The matrix the model sees for `processed` (log-normalised genes) or, for count models, the raw counts of
/// the same genes and the spots' library sizes.
pub(crate) fn model_input(
    raw: &SpatialData,
    processed: &SpatialData,
    fitted: &FittedPreprocess,
    likelihood: Likelihood,
) -> Result<(Array2<f32>, Option<Array1<f32>>)> {
    if !likelihood.uses_counts() {
        return Ok((processed.x.to_dense(), None));
    }
    let (aligned, _) = fitted
        .params
        .align
        .align_to(raw, &fitted.genes)
        .context("could not select the model's genes from the raw counts")?;
    // Library sizes over every gene of the spot, as scVI uses them.
    let lib: Array1<f32> = raw.x.row_sums().iter().map(|&v| v as f32).collect();
    Ok((aligned.x.to_dense(), Some(lib)))
}

/// A trained model plus what training measured.
pub struct Trained {
    pub model: Model,
    /// Seconds spent on the placement record after training: encoding the anchors, placing the validation
    /// spots and fitting the uncertainty's calibration.
    pub calibration_seconds: f64,
    /// The first member's training run.
    pub outcome: TrainOutcome,
}

/// Fewer reference spots than this cannot train a model that places anything.
pub const MIN_REFERENCE_SPOTS: usize = 10;

/// Refuse settings that cannot work on `reference` before anything is computed.
fn check_reference(reference: &SpatialData, settings: &TrainSettings) -> Result<()> {
    settings.placement.check()?;
    settings.model.check()?;
    if reference.n_obs() < MIN_REFERENCE_SPOTS {
        bail!(
            "the reference has {} spots; training needs at least {MIN_REFERENCE_SPOTS} (and placement is \
             only as good as the reference is large)",
            reference.n_obs()
        );
    }
    if settings.train.alpha2 > 0.0 && !reference.has_spatial() {
        bail!(
            "the reference has no coordinates, which the distance-preserving loss needs; give a reference \
             with obsm['spatial'] (or train a plain VAE with --alpha2 0 and read its latent)"
        );
    }
    if settings.placement.reference_frame && !reference.has_spatial() {
        tracing::info!(
            "the reference has no coordinates: the model's latent is its output (no reference frame)"
        );
    }
    if settings.preprocess.pca.is_some() && settings.model.likelihood.uses_counts() {
        bail!(
            "the nb likelihood models raw counts and cannot be combined with the PCA preprocessing; use \
             --likelihood gaussian or turn PCA off (preprocess.pca) in the config"
        );
    }
    Ok(())
}

/// The reference as the models see it: preprocessed input, coordinates (standardised when asked) and the
/// frame they were standardised in.
struct Prepared {
    fitted: FittedPreprocess,
    x: Array2<f32>,
    library_size: Option<Array1<f32>>,
    /// The processed reference's coordinates in its own units.
    coords: Option<Array2<f64>>,
    frame: Option<CoordFrame>,
    /// What training sees: `coords` in frame units.
    train_coords: Option<Array2<f64>>,
    /// How the reference was thinned to a shallower query's depth, if it was.
    depth: Option<crate::depth::DepthMatch>,
    /// Rows are this many stacked versions of the reference's spots (2: the spots, then their thinned
    /// copies, processed as a query is).
    copies: usize,
}

impl Prepared {
    fn input(&self) -> TrainInput<'_> {
        TrainInput {
            expression: self.x.view(),
            coords: self.train_coords.as_ref().map(|c| c.view()),
            library_size: self.library_size.as_ref().map(|l| l.view()),
            copies: self.copies,
        }
    }
}

fn prepare(
    reference: &SpatialData,
    settings: &TrainSettings,
    query: Option<&QueryProfile>,
) -> Result<Prepared> {
    let thinned = crate::depth::matched(
        reference,
        query,
        &settings.preprocess.align,
        settings.placement.thin_below,
        settings.train.seed,
    )?;
    let keep_original = settings.placement.thin_keep_original;
    let fit_on = match &thinned {
        Some(t) if !keep_original => &t.0,
        _ => reference,
    };
    crate::model::warn_duplicates(&settings.preprocess.align, fit_on, "reference")?;
    let query_genes = query.map(|q| q.genes.as_slice());
    let (processed, fitted, _report) = settings
        .preprocess
        .fit_shared(fit_on, query_genes)
        .context("preprocessing the reference failed")?;
    let likelihood = settings.model.likelihood;
    let spots = model_input(fit_on, &processed, &fitted, likelihood)?;
    let mut rows = Rows {
        x: spots.0,
        library_size: spots.1,
        coords: processed.spatial,
        copies: 1,
    };
    if let Some((thin, _)) = thinned.as_ref().filter(|_| keep_original) {
        rows = with_thinned_copies(rows, thin, &fitted, likelihood)?;
    }
    let Rows {
        x,
        library_size,
        coords,
        copies,
    } = rows;
    let frame = match (&coords, settings.placement.standardize_coords) {
        (Some(c), true) => Some(CoordFrame::fit(c.view())?),
        _ => None,
    };
    let train_coords = match &frame {
        Some(f) => coords.as_ref().map(|c| f.standardize(c.view())),
        None => coords.clone(),
    };
    Ok(Prepared {
        fitted,
        x,
        library_size,
        coords,
        frame,
        train_coords,
        depth: thinned.map(|t| t.1),
        copies,
    })
}

/// What training reads of every row: the model's input, library sizes (NB), coordinates, and how many
/// stacked versions of the spots the rows are.
struct Rows {
    x: Array2<f32>,
    library_size: Option<Array1<f32>>,
    coords: Option<Array2<f64>>,
    copies: usize,
}

/// `rows` followed by the spots thinned to the query's depth (`thin`), at the same coordinates. The copies go
/// through the fitted preprocessing as a query does (centred on their own means), so training sees them as it
/// will see the shallow query.
fn with_thinned_copies(
    rows: Rows,
    thin: &SpatialData,
    fitted: &FittedPreprocess,
    likelihood: Likelihood,
) -> Result<Rows> {
    let (thin_processed, _) = fitted
        .apply(thin)
        .context("processing the reference thinned to the query's depth failed")?;
    if thin_processed.n_obs() != rows.x.nrows() {
        tracing::warn!("the reference's QC dropped thinned spots: training on the reference alone");
        return Ok(rows);
    }
    let (xt, lt) = model_input(thin, &thin_processed, fitted, likelihood)?;
    let twice = |c: Array2<f64>| ndarray::concatenate(Axis(0), &[c.view(), c.view()]);
    Ok(Rows {
        x: ndarray::concatenate(Axis(0), &[rows.x.view(), xt.view()])?,
        library_size: match (rows.library_size, lt) {
            (Some(a), Some(b)) => Some(ndarray::concatenate(Axis(0), &[a.view(), b.view()])?),
            _ => None,
        },
        coords: rows.coords.map(twice).transpose()?,
        copies: 2,
    })
}

/// The training options every member shares: the batch size for the reference's size, and one validation
/// split for all members so they can calibrate the ensemble's placement.
fn shared_train_config(settings: &TrainSettings, n_spots: usize) -> TrainConfig {
    let mut cfg = settings.train.clone();
    let n_train = ((1.0 - cfg.validation_fraction) * n_spots as f64) as usize;
    cfg.batch_size = settings.placement.batch_size(cfg.batch_size, n_train);
    if cfg.batch_size != 0 {
        cfg.steps_per_epoch = cfg.steps_per_epoch.or(settings.placement.batches_per_epoch);
    }
    cfg.split_seed = Some(cfg.split_seed.unwrap_or(settings.train.seed));
    cfg
}

/// Train every ensemble member (seeds seed, seed + 1, ...), each run reported to `observer`. On the CPU with
/// more than one thread, called from outside a rayon pool, members train side by side on rayon's global pool
/// ([`crate::members`]); the models are the same.
fn train_members(
    input: &TrainInput<'_>,
    settings: &TrainSettings,
    cfg: &TrainConfig,
    range: std::ops::Range<usize>,
    observer: &mut dyn TrainObserver,
) -> Result<Vec<TrainOutcome>> {
    let network = ModelConfig::new(input.expression.ncols())
        .with_hidden(settings.model.hidden.clone())
        .with_latent_dim(settings.model.latent_dim)
        .with_likelihood(settings.model.likelihood)
        .with_dropout(settings.model.dropout);
    let members = settings.placement.members;
    let configs: Vec<TrainConfig> = range
        .clone()
        .map(|k| TrainConfig {
            seed: settings.train.seed + k as u64,
            ..cfg.clone()
        })
        .collect();
    let backend = settings.backend;
    // Not from inside a rayon pool: a worker waiting on its members could hold up the pool they run on (the
    // placement benchmark, for one, already runs its cases in a pool).
    let side_by_side = configs.len() > 1
        && backend != BackendKind::Cuda
        && rayon::current_thread_index().is_none()
        && rayon::current_num_threads() > 1;
    if !side_by_side {
        return configs
            .iter()
            .zip(range)
            .map(|(member, k)| {
                if members > 1 {
                    tracing::info!(member = k + 1, of = members, "training ensemble member");
                }
                Ok(dpvae_model::train_observed(
                    input, &network, member, backend, observer,
                )?)
            })
            .collect();
    }
    tracing::info!(members, "training the ensemble's members side by side");
    let results = crate::members::train_in_parallel(input, &network, &configs, backend, observer);
    let mut outcomes = Vec::with_capacity(configs.len());
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(o) => outcomes.push(o),
            Err(e) => errors.push(e),
        }
    }
    // The error to report is the one that stopped the others, not their being stopped.
    let first = errors
        .iter()
        .position(|e| !matches!(e, ModelError::Interrupted { .. }))
        .unwrap_or(0);
    if let Some(e) = errors.into_iter().nth(first) {
        observer.on_error(&e);
        return Err(e.into());
    }
    Ok(outcomes)
}

/// Fit preprocessing on `reference` (raw counts and coordinates) and train the model (an ensemble when
/// `settings.placement.members > 1`). With `query`, genes are chosen among those
/// the query shares, and a much shallower query (single cells) is trained for on a thinned reference.
/// Training is logged through `tracing`; [`train_reference_observed`] reports it elsewhere too.
pub fn train_reference(
    reference: &SpatialData,
    settings: &TrainSettings,
    dataset_name: &str,
    query: Option<&QueryProfile>,
) -> Result<Trained> {
    let mut log = TracingObserver;
    train_reference_observed(reference, settings, dataset_name, query, &mut log)
}

/// [`train_reference`], with every member's training run reported to `observer` (e.g. a progress bar).
/// Unless `placement.auto` is off, the gene selection is first chosen on the reference's own validation
/// spots ([`crate::auto`]).
pub fn train_reference_observed(
    reference: &SpatialData,
    settings: &TrainSettings,
    dataset_name: &str,
    query: Option<&QueryProfile>,
    observer: &mut dyn TrainObserver,
) -> Result<Trained> {
    check_reference(reference, settings)?;
    if let Some(candidates) = crate::auto::candidates(settings, reference.n_obs()) {
        return train_searched(
            reference,
            settings,
            &candidates,
            dataset_name,
            query,
            observer,
        );
    }
    let p = prepare(reference, settings, query)?;
    let cfg = shared_train_config(settings, p.x.nrows());
    let outcomes = train_members(
        &p.input(),
        settings,
        &cfg,
        0..settings.placement.members,
        observer,
    )?;
    finish(settings, dataset_name, p, cfg, outcomes, None)
}

/// A candidate of the search, trained and scored.
struct Searched {
    candidate: usize,
    flavor: HvgFlavor,
    prepared: Prepared,
    cfg: TrainConfig,
    outcomes: Vec<TrainOutcome>,
    genes: Vec<String>,
    score: Option<(f64, usize)>,
}

/// Train every candidate's search members, keep the one that places the validation spots best, and
/// complete it to the full ensemble.
fn train_searched(
    reference: &SpatialData,
    settings: &TrainSettings,
    candidates: &[TrainSettings],
    dataset_name: &str,
    query: Option<&QueryProfile>,
    observer: &mut dyn TrainObserver,
) -> Result<Trained> {
    let auto = &settings.placement.auto;
    let rows = crate::auto::subsample_rows(reference.n_obs(), auto.max_spots, settings.train.seed);
    let subsample = rows.as_ref().map(|r| reference.select_obs(r)).transpose()?;
    let searched_on = subsample.as_ref().unwrap_or(reference);
    let (mut scored, report) =
        train_candidates(searched_on, candidates, auto.members, query, observer)?;
    let best = (0..scored.len())
        .min_by(|&a, &b| {
            let key = |i: usize| scored[i].score.map_or(f64::INFINITY, |s| s.0);
            key(a).total_cmp(&key(b))
        })
        .context("the search trained no candidate")?;
    let chosen = &candidates[scored[best].candidate];
    let chosen_flavor = scored[best].flavor;
    let selection = crate::auto::Selection {
        chosen: chosen_flavor,
        candidates: report,
        validation_spots: scored[best].score.map_or(0, |s| s.1),
        members: auto.members,
        subsample: rows.as_ref().map(Vec::len),
    };
    tracing::info!(
        chosen = chosen_flavor.as_str(),
        "gene selection chosen on the validation spots"
    );
    let full = TrainSettings {
        placement: crate::placement::PlacementSettings {
            auto: settings.placement.auto.clone(),
            ..chosen.placement.clone()
        },
        ..chosen.clone()
    };
    if rows.is_some() || auto.members > full.placement.members {
        // Searched on a subsample (or with more members than the ensemble has): train the chosen
        // candidate afresh on every spot.
        let p = prepare(reference, &full, query)?;
        let cfg = shared_train_config(&full, p.x.nrows());
        let outcomes = train_members(&p.input(), &full, &cfg, 0..full.placement.members, observer)?;
        return finish(&full, dataset_name, p, cfg, outcomes, Some(selection));
    }
    // The full ensemble's first members are the search members: the same data, split, seeds and settings.
    let Searched {
        prepared,
        cfg,
        mut outcomes,
        ..
    } = scored.swap_remove(best);
    let rest = train_members(
        &prepared.input(),
        &full,
        &cfg,
        auto.members..full.placement.members,
        observer,
    )?;
    outcomes.extend(rest);
    finish(
        &full,
        dataset_name,
        prepared,
        cfg,
        outcomes,
        Some(selection),
    )
}

/// Train `members` members of every candidate on `searched_on` and score them on the validation spots; a
/// candidate that selects the same genes as an earlier one is not trained again and shares its score.
fn train_candidates(
    searched_on: &SpatialData,
    candidates: &[TrainSettings],
    members: usize,
    query: Option<&QueryProfile>,
    observer: &mut dyn TrainObserver,
) -> Result<(Vec<Searched>, Vec<crate::auto::Candidate>)> {
    let mut scored: Vec<Searched> = Vec::new();
    let mut report = Vec::new();
    for (candidate, cand) in candidates.iter().enumerate() {
        let flavor = cand
            .preprocess
            .hvg
            .as_ref()
            .map(|h| h.flavor)
            .unwrap_or_default();
        // A selection that fails on this reference (seurat_v3's loess on very sparse data, say) is left out;
        // the search fails only when every candidate does.
        let p = match prepare(searched_on, cand, query) {
            Ok(p) => p,
            Err(e) if candidate + 1 < candidates.len() || !scored.is_empty() => {
                tracing::warn!(
                    flavor = flavor.as_str(),
                    "a gene selection of the search failed on this reference and is left out: {e}"
                );
                report.push(crate::auto::Candidate {
                    hvg_flavor: flavor,
                    n_genes: 0,
                    validation_disparity: None,
                    same_genes_as: None,
                    failed: Some(e.to_string()),
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let genes = p.fitted.genes.clone();
        let same = scored.iter().find(|c| c.genes == genes);
        report.push(crate::auto::Candidate {
            hvg_flavor: flavor,
            n_genes: genes.len(),
            validation_disparity: None,
            same_genes_as: same.map(|c| c.flavor),
            failed: None,
        });
        if let Some(same) = same {
            report.last_mut().expect("just pushed").validation_disparity = same.score.map(|s| s.0);
            continue;
        }
        let cfg = shared_train_config(cand, p.x.nrows());
        let outcomes = train_members(&p.input(), cand, &cfg, 0..members, observer)?;
        let score = validation_score(cand, &p, &outcomes)?;
        tracing::info!(
            flavor = flavor.as_str(),
            disparity = score.map(|s| s.0),
            "scored a gene selection on the validation spots"
        );
        report.last_mut().expect("just pushed").validation_disparity = score.map(|s| s.0);
        scored.push(Searched {
            candidate,
            flavor,
            prepared: p,
            cfg,
            outcomes,
            genes,
            score,
        });
    }
    Ok((scored, report))
}

/// The Procrustes disparity of the ensemble's placement of the validation spots, and how many were scored.
fn validation_score(
    settings: &TrainSettings,
    p: &Prepared,
    outcomes: &[TrainOutcome],
) -> Result<Option<(f64, usize)>> {
    let Some(coords) = &p.coords else {
        return Ok(None);
    };
    let record = placement_record(settings, p, coords, outcomes)?;
    Ok(record.1)
}

/// The trained model, its placement record and what training measured.
fn finish(
    settings: &TrainSettings,
    dataset_name: &str,
    p: Prepared,
    cfg: TrainConfig,
    mut outcomes: Vec<TrainOutcome>,
    selection: Option<crate::auto::Selection>,
) -> Result<Trained> {
    let started = std::time::Instant::now();
    let placement = match (&p.coords, settings.placement.reference_frame) {
        (Some(c), true) => {
            let (mut record, _) = placement_record(settings, &p, c, &outcomes)?;
            record.selection = selection;
            record.depth = p.depth.clone();
            Some(record)
        }
        _ => None,
    };
    let calibration_seconds = started.elapsed().as_secs_f64();
    let first = outcomes.remove(0);
    let mut metadata = TrainingMetadata::new(
        settings.train.seed,
        dataset_name,
        matrix_checksum(p.x.view()),
    );
    metadata.backend = first.backend.name().to_string();
    metadata.epochs = first.best_epoch;
    let saved = SavedModel {
        model: first.model.clone(),
        members: outcomes.into_iter().map(|o| o.model).collect(),
        placement: placement.as_ref().map(serde_json::to_value).transpose()?,
        train_config: Some(cfg),
        preprocess: serde_json::to_value(&p.fitted)?,
        genes: p.fitted.feature_names(),
        metadata,
    };
    Ok(Trained {
        model: Model::new(saved, p.fitted, placement),
        calibration_seconds,
        outcome: first,
    })
}

/// The placement record of a trained ensemble: anchors drawn from the training spots, and the calibration
/// of the placement error on the validation spots no member trained on; with the Procrustes disparity of the
/// ensemble's placement of those spots and their number (when there are enough to calibrate on).
fn placement_record(
    settings: &TrainSettings,
    p: &Prepared,
    coords: &Array2<f64>,
    outcomes: &[TrainOutcome],
) -> Result<(PlacementRecord, Option<(f64, usize)>)> {
    let (x, frame) = (&p.x, p.frame.clone());
    let backend = settings.backend;
    let seed = settings.train.seed;
    // With thinned copies, the anchors are the reference's own spots and the calibration its thinned
    // validation spots: the radii are then calibrated on profiles as shallow as the query's.
    let spots = x.nrows() / p.copies;
    let all_validation = &outcomes[0].validation_indices;
    let validation: Vec<usize> = match p.copies {
        1 => all_validation.clone(),
        _ => all_validation
            .iter()
            .copied()
            .filter(|&i| i >= spots)
            .collect(),
    };
    let training: Vec<usize> = (0..spots)
        .filter(|i| all_validation.binary_search(i).is_err())
        .collect();
    let embed_rows = |rows: &[usize]| {
        let xr = x.select(Axis(0), rows);
        outcomes
            .iter()
            .map(|o| {
                let e = o.model.encode(xr.view(), backend)?;
                Ok((to_f64(&e.mean), to_f64(&e.variance)))
            })
            .collect::<Result<Vec<_>>>()
    };
    let rows = anchor_rows(&training, seed);
    let anchor_latents: Vec<Array2<f64>> = embed_rows(&rows)?.into_iter().map(|e| e.0).collect();
    let mut record = PlacementRecord::new(
        settings.placement.clone(),
        frame,
        &coords.select(Axis(0), &rows),
        &anchor_latents,
    );
    let cal_rows = calibration_rows(&validation, seed);
    if cal_rows.len() < MIN_CALIBRATION {
        tracing::warn!(
            "only {} validation spots: no calibrated uncertainty (dpvae_radius_50/90, dpvae_confidence) \
             for this model; it needs at least {MIN_CALIBRATION} (raise --validation-fraction)",
            cal_rows.len()
        );
        return Ok((record, None));
    }
    let embedded = embed_rows(&cal_rows)?;
    let latents: Vec<Array2<f64>> = embedded.iter().map(|e| e.0.clone()).collect();
    let method = default_method(latents[0].ncols());
    let (placed, members) = record.place_members(&latents, method, seed)?;
    let truth = coords.select(Axis(0), &cal_rows);
    // Errors as `dpvae evaluate` measures them: after the rigid part of the Procrustes alignment (an identity
    // for a good placement in the reference's own frame).
    let errors = rigid_errors(truth.view(), placed.view())?;
    let disparity = dpvae_geometry::procrustes(truth.view(), placed.view())?.disparity;
    let views = member_views(&embedded);
    let d = record.difficulty(&views, (&latents, &errors), true, &members, &placed)?;
    record.calibration = Some(Calibration::fit(&latents, &d, &errors)?);
    Ok((record, Some((disparity, cal_rows.len()))))
}
