//! Calibrated placement uncertainty on a simulated tissue whose truth is known: the stated radii cover the
//! held-out spots at about their stated levels, survive a save and load, and a model with
//! too few validation spots states no uncertainty rather than a wrong one.

use dpvae::{Model, PlaceOptions, TrainSettings, train_reference};
use dpvae_data::SpatialData;

mod common;
use dpvae_eval::correlation::spearman;

fn tissue(n_spots: usize) -> (SpatialData, SpatialData) {
    common::split_tissue(n_spots, 11, 1)
}

fn settings() -> TrainSettings {
    let mut s = TrainSettings::recommended();
    s.train.epochs = 60;
    s.placement.members = 3;
    s
}

fn fraction(v: impl Iterator<Item = bool>) -> f64 {
    let (mut yes, mut n) = (0, 0);
    for b in v {
        yes += usize::from(b);
        n += 1;
    }
    yes as f64 / n as f64
}

#[test]
fn radii_cover_held_out_spots_at_their_stated_levels() {
    let (reference, query) = tissue(1500);
    let trained = train_reference(&reference, &settings(), "sim", None).unwrap();
    let placed = trained
        .model
        .place_with(&query, &PlaceOptions::default())
        .unwrap();
    let u = placed.uncertainty.as_ref().expect("a calibrated model");
    let truth = query.spatial.clone().unwrap();
    // Held-out spots of the reference's own tissue are in its frame: the error needs no alignment.
    let errors: Vec<f64> = (&placed.coords - &truth)
        .rows()
        .into_iter()
        .map(|r| r.dot(&r).sqrt())
        .collect();
    let c50 = fraction(errors.iter().zip(&u.radius_50).map(|(e, r)| e <= r));
    let c90 = fraction(errors.iter().zip(&u.radius_90).map(|(e, r)| e <= r));
    // 300 query and 120 calibration spots: sampling alone moves coverage by a few points.
    assert!((0.35..=0.65).contains(&c50), "coverage of r50: {c50}");
    assert!((0.80..=0.98).contains(&c90), "coverage of r90: {c90}");
    for i in 0..errors.len() {
        assert!(u.radius_50[i] > 0.0 && u.radius_90[i] >= u.radius_50[i]);
        assert!((0.0..=1.0).contains(&u.confidence[i]));
    }
    // How well the radius ranks the errors is measured on real sections by `cargo xtask placement` (this
    // simulated tissue's errors are nearly homoscedastic); here: confidence falls as the radius grows.
    assert!(spearman(&u.confidence, &u.radius_90) < -0.99);

    // The calibration is part of the model directory.
    let dir = tempfile::tempdir().unwrap();
    trained.model.save(&dir.path().join("m")).unwrap();
    let loaded = Model::load(&dir.path().join("m")).unwrap();
    let again = loaded.place_with(&query, &PlaceOptions::default()).unwrap();
    assert_eq!(again.uncertainty.unwrap().radius_90, u.radius_90);
}

#[test]
fn too_few_validation_spots_state_no_uncertainty() {
    let (reference, query) = tissue(400);
    let mut s = settings();
    s.train.epochs = 5;
    s.placement.members = 1;
    s.train.validation_fraction = 0.02;
    s.train.early_stopping_patience = None;
    let trained = train_reference(&reference, &s, "sim", None).unwrap();
    let placed = trained
        .model
        .place_with(&query, &PlaceOptions::default())
        .unwrap();
    assert!(placed.uncertainty.is_none());
    let mut out = query.clone();
    placed.write_into(&mut out).unwrap();
    assert!(out.obs.column("dpvae_radius_90").is_err());
    assert!(out.obsm.contains_key("spatial_dpvae"));
}
