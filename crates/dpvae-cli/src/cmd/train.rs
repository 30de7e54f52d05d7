//! `dpvae train`: fit preprocessing and a (dp-)VAE on a reference with coordinates; write a model directory.

use anyhow::{Context, Result};
use dpvae::{QueryProfile, TrainSettings, train_reference_observed};
use dpvae_data::io;
use dpvae_model::SaveOptions;
use serde_json::Value;

use crate::cli::train::TrainArgs;
use crate::common::{check_output, lock_output};
use crate::config::{CONFIG_FILE, Invocation};
use crate::progress::TrainProgress;

pub fn run(inv: &Invocation, args: TrainArgs) -> Result<()> {
    let Some(settings) = args
        .flags
        .resolve(inv, TrainSettings::default(), Value::Null)?
    else {
        return Ok(());
    };
    let global = inv.global;
    check_output(&args.out, global.force)?;
    // Held until the model is written: a second dpvae writing the same output fails now, not after training.
    let _lock = lock_output(&args.out)?;
    // Before training, so a model directory holding files dpvae did not write is refused at once.
    dpvae_model::SavedModel::check_target(&args.out)?;
    let data = io::read(&args.reference)
        .with_context(|| format!("could not read {}", args.reference.display()))?;
    let name = args
        .reference
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let query = match &args.shared_with {
        Some(q) => {
            let query =
                io::read(q).with_context(|| format!("could not read the query {}", q.display()))?;
            Some(QueryProfile::of(&query, &settings.preprocess.align)?)
        }
        None => None,
    };
    let mut progress = TrainProgress::new(global.quiet);
    let trained = train_reference_observed(&data, &settings, &name, query.as_ref(), &mut progress)?;
    // The model, its settings and its history are written into one temporary directory that takes the
    // output's place in one atomic step (an exchange with --force: never deleted first), and only if it holds
    // nothing dpvae did not write.
    let config = inv.config_text(&settings)?;
    let history = trained.outcome.history.to_csv();
    trained.model.save_with(
        &args.out,
        &SaveOptions {
            replace: global.force,
            extra: vec![
                (CONFIG_FILE, config.as_bytes()),
                ("history.csv", history.as_bytes()),
            ],
        },
    )?;
    if let Some(note) = dpvae::depth::depth_note(trained.model.placement()) {
        inv.note(note);
    }
    let last = trained.outcome.history.last();
    inv.note(format!(
        "trained on {} {} x {} features (genes, or principal components of them) for {} epochs on {}; final loss {:.4} (lambda {:.4e}); model in {}",
        data.n_obs(),
        data.obs_noun(),
        trained.model.genes().len(),
        trained.outcome.history.epochs.len(),
        trained.outcome.backend,
        last.map(|r| r.total).unwrap_or(f64::NAN),
        last.map(|r| r.lambda).unwrap_or(f64::NAN),
        args.out.display()
    ));
    Ok(())
}
