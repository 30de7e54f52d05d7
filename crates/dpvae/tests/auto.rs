//! The automatic choice of the gene selection: every candidate is scored on the reference's own validation
//! spots, the best is completed to the ensemble (reusing its search members), and the choice is recorded in the
//! model directory and in uns['dpvae'].

use dpvae::{Model, PlaceOptions, TrainSettings, train_reference};
use dpvae_data::preprocess::HvgFlavor;

mod common;

fn settings() -> TrainSettings {
    let mut s = TrainSettings::recommended();
    s.train.epochs = 30;
    s.placement.members = 3;
    // 60 of the 200 simulated genes, so the three flavors select different genes.
    s.preprocess.hvg.as_mut().unwrap().n_top_genes = 60;
    s
}

#[test]
fn the_best_candidate_on_validation_spots_is_kept_and_recorded() {
    let (reference, mut query) = common::split_tissue(600, 5, 0);
    let trained = train_reference(&reference, &settings(), "sim", None).unwrap();
    let record = trained.model.placement().unwrap();
    let sel = record.selection.as_ref().expect("a search ran");
    assert_eq!(sel.members, 2);
    assert_eq!(sel.subsample, None);
    assert_eq!(sel.candidates.len(), 3);
    assert!(sel.validation_spots >= 20, "{}", sel.validation_spots);
    let scores: Vec<f64> = sel
        .candidates
        .iter()
        .map(|c| {
            assert_eq!(
                c.same_genes_as, None,
                "60 of 200 genes: each flavor its own"
            );
            c.validation_disparity.unwrap()
        })
        .collect();
    assert!(scores.iter().all(|d| (0.0..1.0).contains(d)), "{scores:?}");
    let best = sel
        .candidates
        .iter()
        .min_by(|a, b| {
            a.validation_disparity
                .unwrap()
                .total_cmp(&b.validation_disparity.unwrap())
        })
        .unwrap();
    assert_eq!(sel.chosen, best.hvg_flavor);
    assert_eq!(trained.model.saved().members.len(), 2, "the ensemble of 3");

    // The kept search members are what a fixed run of the chosen flavor trains: the same ensemble.
    let mut fixed = settings();
    fixed.preprocess.hvg.as_mut().unwrap().flavor = sel.chosen;
    fixed.placement.auto.enabled = false;
    let direct = train_reference(&reference, &fixed, "sim", None).unwrap();
    let placed = trained
        .model
        .place_with(&query, &PlaceOptions::default())
        .unwrap();
    let again = direct
        .model
        .place_with(&query, &PlaceOptions::default())
        .unwrap();
    assert_eq!(placed.coords, again.coords);

    // The choice travels with the model directory and into uns['dpvae'].
    let dir = tempfile::tempdir().unwrap();
    trained.model.save(&dir.path().join("m")).unwrap();
    let loaded = Model::load(&dir.path().join("m")).unwrap();
    assert_eq!(loaded.placement().unwrap().selection.as_ref(), Some(sel));
    placed.write_into(&mut query).unwrap();
    let uns = &query.uns["dpvae"]["placement"]["selection"];
    assert_eq!(uns["chosen"], sel.chosen.as_str());
    assert_eq!(uns["candidates"].as_array().unwrap().len(), 3);
}

#[test]
fn no_search_when_off_or_when_every_candidate_selects_the_same_genes() {
    let (reference, _) = common::split_tissue(400, 6, 0);
    let mut s = settings();
    s.placement.auto.enabled = false;
    let t = train_reference(&reference, &s, "sim", None).unwrap();
    assert!(t.model.placement().unwrap().selection.is_none());
    assert_eq!(
        t.model.preprocess().params.hvg.as_ref().unwrap().flavor,
        HvgFlavor::Variance
    );

    // 200 genes, 2000 asked for: every flavor keeps every gene, so one candidate trains and the others are
    // recorded as the same.
    let mut s = settings();
    s.preprocess.hvg.as_mut().unwrap().n_top_genes = 2000;
    let t = train_reference(&reference, &s, "sim", None).unwrap();
    let sel = t.model.placement().unwrap().selection.clone().unwrap();
    let same: Vec<Option<HvgFlavor>> = sel.candidates.iter().map(|c| c.same_genes_as).collect();
    assert_eq!(
        same,
        vec![None, Some(HvgFlavor::Variance), Some(HvgFlavor::Variance)]
    );
    let first = sel.candidates[0].validation_disparity.unwrap();
    assert!(
        sel.candidates
            .iter()
            .all(|c| c.validation_disparity == Some(first))
    );
    assert_eq!(sel.chosen, HvgFlavor::Variance);
    assert_eq!(t.model.saved().members.len(), 2, "the ensemble of 3");
}
