//! Placement with dpvae's defaults through the library: an ensemble trained on a simulated tissue places
//! held-out spots in the reference's own units and frame, a saved model places them identically, the same seed
//! gives the same result, and genes the query lacks are handled as documented.

use dpvae::{Model, PlaceOptions, QueryProfile, TrainSettings, train_reference};
use dpvae_data::SpatialData;

mod common;

fn tissue() -> (SpatialData, SpatialData) {
    common::split_tissue(700, 3, 0)
}

fn settings() -> TrainSettings {
    let mut s = TrainSettings::recommended();
    s.train.epochs = 60;
    s.placement.members = 2;
    s
}

fn rms(a: &ndarray::Array2<f64>) -> f64 {
    let c = a - &a.mean_axis(ndarray::Axis(0)).unwrap();
    (c.iter().map(|v| v * v).sum::<f64>() / a.nrows() as f64).sqrt()
}

#[test]
fn defaults_place_held_out_spots_in_tissue_units() {
    let (reference, query) = tissue();
    let trained = train_reference(&reference, &settings(), "sim", None).unwrap();
    assert_eq!(
        trained.model.saved().members.len(),
        1,
        "two members: the first plus one more"
    );
    assert!(trained.model.placement().is_some());
    let placed = trained
        .model
        .place_with(&query, &PlaceOptions::default())
        .unwrap();
    assert!(placed.reference_frame);
    assert_eq!(placed.member_coords.len(), 2);
    let truth = query.spatial.clone().unwrap();
    let fit = dpvae_geometry::procrustes(truth.view(), placed.coords.view()).unwrap();
    assert!(fit.disparity < 0.5, "disparity {}", fit.disparity);
    // In the reference's frame already: without any alignment the error is a fraction of the tissue's size,
    // and the placement's spread is on the tissue's scale (the latent's would be ~1).
    let err: f64 = (&placed.coords - &truth)
        .rows()
        .into_iter()
        .map(|r| r.dot(&r).sqrt())
        .sum::<f64>()
        / truth.nrows() as f64;
    assert!(
        err < 0.6 * rms(&truth),
        "mean error {err} vs tissue spread {}",
        rms(&truth)
    );
    let ratio = rms(&placed.coords) / rms(&truth);
    assert!((0.4..1.5).contains(&ratio), "spread ratio {ratio}");

    // The model directory places identically.
    let dir = tempfile::tempdir().unwrap();
    trained.model.save(&dir.path().join("m")).unwrap();
    let loaded = Model::load(&dir.path().join("m")).unwrap();
    let again = loaded.place_with(&query, &PlaceOptions::default()).unwrap();
    assert_eq!(again.coords, placed.coords);
}

#[test]
fn same_seed_same_placement_other_seed_differs() {
    let (reference, query) = tissue();
    let mut s = settings();
    s.train.epochs = 15;
    let a = train_reference(&reference, &s, "sim", None).unwrap();
    let b = train_reference(&reference, &s, "sim", None).unwrap();
    let opts = PlaceOptions::default();
    let pa = a.model.place_with(&query, &opts).unwrap().coords;
    assert_eq!(pa, b.model.place_with(&query, &opts).unwrap().coords);
    s.train.seed = 1;
    let c = train_reference(&reference, &s, "sim", None).unwrap();
    assert_ne!(pa, c.model.place_with(&query, &opts).unwrap().coords);
}

#[test]
fn genes_the_query_lacks() {
    let (reference, query) = tissue();
    // The query keeps only the first 40% of the genes.
    let keep: Vec<usize> = (0..query.n_vars() * 2 / 5).collect();
    let query = query.select_vars(&keep).unwrap();
    let mut s = settings();
    s.train.epochs = 10;
    s.placement.members = 1;
    // Trained without knowing the query: most model genes are missing, which is refused unless allowed.
    let blind = train_reference(&reference, &s, "sim", None).unwrap();
    let err = blind
        .model
        .place_with(&query, &PlaceOptions::default())
        .err()
        .expect("more than half of the genes missing is an error");
    assert!(
        format!("{err:#}").contains("missing from the query"),
        "{err:#}"
    );
    let allow = PlaceOptions {
        allow_missing_genes: true,
        ..Default::default()
    };
    assert!(blind.model.place_with(&query, &allow).is_ok());
    // Trained on the genes the query shares (what `dpvae run` does): nothing is missing.
    let genes = query.var_names.clone();
    let shared = train_reference(
        &reference,
        &s,
        "sim",
        Some(&QueryProfile::genes_only(&genes)),
    )
    .unwrap();
    let fitted = shared.model.preprocess();
    assert!(fitted.genes.iter().all(|g| genes.contains(g)));
    assert!(
        shared
            .model
            .place_with(&query, &PlaceOptions::default())
            .is_ok()
    );
    // No shared gene at all is a clear error naming both sides.
    let none = vec!["NotAGene".to_string()];
    let e = train_reference(
        &reference,
        &s,
        "sim",
        Some(&QueryProfile::genes_only(&none)),
    )
    .err()
    .unwrap();
    assert!(format!("{e:#}").contains("share no genes"), "{e:#}");
}

/// Members train side by side when called from outside a pool with several threads, one after another inside a
/// pool's worker; the models, and what an observer hears, are the same either way.
#[test]
fn members_side_by_side_give_the_sequential_models_and_reports() {
    use dpvae_model::{EpochReport, TrainObserver, TrainStart, TrainSummary};

    #[derive(Default)]
    struct Log(Vec<String>);
    impl TrainObserver for Log {
        fn on_start(&mut self, s: &TrainStart) {
            self.0.push(format!("start {}", s.n_train));
        }
        fn on_epoch(&mut self, r: &EpochReport<'_>) {
            self.0
                .push(format!("epoch {} {}", r.record.epoch, r.record.total));
        }
        fn on_finish(&mut self, s: &TrainSummary) {
            self.0.push(format!("finish {}", s.best_epoch));
        }
    }

    let (reference, _) = tissue();
    let mut s = settings();
    s.train.epochs = 8;
    s.placement.members = 3;
    let run = || {
        let mut log = Log::default();
        let t = dpvae::train_reference_observed(&reference, &s, "sim", None, &mut log).unwrap();
        (t.model.placement().cloned(), log.0)
    };
    // Inside a pool's worker, members train one after another; from this (non-pool) thread they train side by
    // side on the global pool when it has more than one thread.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (sequential, told_sequential) = one_thread.install(run);
    let (side_by_side, told_side_by_side) = run();
    assert_eq!(told_sequential.len(), 3 * (8 + 2), "{told_sequential:?}");
    assert_eq!(
        told_side_by_side, told_sequential,
        "same events, same order"
    );
    assert_eq!(
        side_by_side, sequential,
        "same anchors' latents and calibration"
    );
}

#[test]
fn spots_without_counts_get_no_confidence_and_leave_the_others_alone() {
    let (reference, query) = tissue();
    let mut s = settings();
    s.train.epochs = 20;
    s.placement.auto.enabled = false;
    let trained = train_reference(&reference, &s, "sim", None).unwrap();
    let mut x = query.x.to_dense();
    let empty = [0usize, 5, 9];
    for &i in &empty {
        x.row_mut(i).fill(0.0);
    }
    let mut with_empty = query.clone();
    with_empty.x = dpvae_data::Matrix::Dense(x);
    let placed = trained.model.place(&with_empty).unwrap();
    let u = placed.uncertainty.as_ref().expect("calibrated");
    let span = trained.model.placement().unwrap().anchor_span();
    for &i in &empty {
        assert_eq!(u.confidence[i], 0.0);
        assert_eq!(u.radius_90[i], span);
    }
    // The other spots are placed as without the empty ones: they do not move the query's own centre.
    let kept: Vec<usize> = (0..query.n_obs()).filter(|i| !empty.contains(i)).collect();
    let alone = trained
        .model
        .place(&with_empty.select_obs(&kept).unwrap())
        .unwrap();
    for (k, &i) in kept.iter().enumerate() {
        for d in 0..2 {
            let (a, b) = (placed.coords[[i, d]], alone.coords[[k, d]]);
            assert!(
                (a - b).abs() < 1e-3 * (1.0 + b.abs()),
                "spot {i}: {a} vs {b}"
            );
        }
        assert!(u.confidence[i] > 0.0 || alone.uncertainty.as_ref().unwrap().confidence[k] == 0.0);
    }
}

/// A query much shallower than the reference (here the query's spots thinned to a tenth of their counts, as
/// single cells are to spots) makes training match its depth, which the model records; a query as deep as
/// the reference does not.
#[test]
fn a_shallow_query_is_trained_for_at_its_depth() {
    let (reference, query) = tissue();
    let mut s = settings();
    s.train.epochs = 10;
    s.placement.auto.enabled = false;
    let keep = vec![0.1; query.n_obs()];
    let shallow = dpvae_data::depth::thin(&query, &keep, 3).unwrap();
    let profile = QueryProfile::of(&shallow, &s.preprocess.align).unwrap();
    let trained = train_reference(&reference, &s, "sim", Some(&profile)).unwrap();
    let depth = trained
        .model
        .placement()
        .unwrap()
        .depth
        .clone()
        .expect("depth matched");
    let ratio = depth.query_median / depth.reference_median;
    assert!((0.07..0.13).contains(&ratio), "depth ratio {ratio}");
    let note = dpvae::depth::depth_note(trained.model.placement()).unwrap();
    assert!(note.contains("fewer counts"), "{note}");
    let placed = trained.model.place(&shallow).unwrap();
    assert!(placed.summary()["depth"].is_object());
    assert!(
        placed.uncertainty.is_some(),
        "radii calibrated on the thinned validation spots"
    );
    let deep = QueryProfile::of(&query, &s.preprocess.align).unwrap();
    let plain = train_reference(&reference, &s, "sim", Some(&deep)).unwrap();
    assert!(plain.model.placement().unwrap().depth.is_none());
    assert!(dpvae::depth::depth_note(plain.model.placement()).is_none());
}
