//! The trainer: determinism, divergence detection, validation and early stopping, snapshots, masks, NB.

mod common;

use dpvae_model::{
    BackendKind, LambdaMode, Likelihood, MaskSpec, ModelConfig, ModelError, TrainConfig,
    TrainInput, train,
};

fn quick(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 3e-3,
        seed: 11,
        alpha2: 5.0,
        ..TrainConfig::default()
    }
}

fn arch(genes: usize) -> ModelConfig {
    ModelConfig::new(genes).with_hidden(vec![32])
}

#[test]
fn same_seed_gives_bit_identical_models_on_cpu() {
    let t = common::tissue(10, 12, 1);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let cfg = quick(3);
    for backend in [BackendKind::Flex, BackendKind::Ndarray] {
        let a = train(&input, &arch(12), &cfg, backend).unwrap();
        let b = train(&input, &arch(12), &cfg, backend).unwrap();
        let (wa, wb) = (a.model.parameters().unwrap(), b.model.parameters().unwrap());
        // Bit-identical, compared as bits so that even NaN payloads or signed zeros would count.
        let bits = |w: &[f32]| w.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wa), bits(&wb), "{backend}: weights differ");
        let strip = |h: &dpvae_model::History| {
            h.epochs
                .iter()
                .map(|r| (r.recon, r.kl, r.dp, r.total, r.lambda))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(&a.history),
            strip(&b.history),
            "{backend}: histories differ"
        );
        let c = train(
            &input,
            &arch(12),
            &TrainConfig {
                seed: 12,
                ..cfg.clone()
            },
            backend,
        )
        .unwrap();
        assert_ne!(
            bits(&wa),
            bits(&c.model.parameters().unwrap()),
            "{backend}: seed has no effect"
        );
    }
}

#[test]
fn training_lowers_the_loss_and_learns_lambda() {
    let t = common::tissue(10, 12, 2);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let out = train(&input, &arch(12), &quick(15), BackendKind::Flex).unwrap();
    let h = &out.history.epochs;
    assert_eq!(h.len(), 15);
    assert!(
        h.last().unwrap().total < h[0].total,
        "{} !< {}",
        h.last().unwrap().total,
        h[0].total
    );
    assert!(h.last().unwrap().dp < h[0].dp);
    assert_ne!(h[0].lambda, h.last().unwrap().lambda);
    // A fixed lambda stays put.
    let fixed = TrainConfig {
        lambda: LambdaMode::Fixed,
        lambda_init: Some(0.01),
        ..quick(3)
    };
    let out = train(&input, &arch(12), &fixed, BackendKind::Flex).unwrap();
    for r in &out.history.epochs {
        assert!((r.lambda - 0.01).abs() < 1e-9, "{}", r.lambda);
    }
    let csv = out.history.to_csv();
    assert!(csv.starts_with(
        "epoch,recon,kl,dp,total,lambda,beta,alpha2,validation,validation_dp,seconds\n"
    ));
    assert_eq!(csv.lines().count(), 4);
}

#[test]
fn warmups_ramp_beta_and_alpha2() {
    let t = common::tissue(6, 8, 3);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let cfg = TrainConfig {
        beta_warmup_epochs: 4,
        alpha2_warmup_epochs: 2,
        ..quick(5)
    };
    let out = train(&input, &arch(8), &cfg, BackendKind::Flex).unwrap();
    let betas: Vec<f64> = out.history.epochs.iter().map(|r| r.beta).collect();
    let a2: Vec<f64> = out.history.epochs.iter().map(|r| r.alpha2).collect();
    assert_eq!(betas, vec![0.25, 0.5, 0.75, 1.0, 1.0]);
    assert_eq!(a2, vec![2.5, 5.0, 5.0, 5.0, 5.0]);
}

#[test]
fn non_finite_loss_stops_with_a_named_term() {
    let mut t = common::tissue(6, 8, 4);
    // Finite inputs whose squares overflow f32: the reconstruction term becomes infinite.
    t.lognorm.row_mut(3).fill(1e30);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let err = train(&input, &arch(8), &quick(2), BackendKind::Flex).unwrap_err();
    match &err {
        ModelError::NonFiniteLoss { epoch, term, .. } => {
            assert_eq!(*epoch, 1);
            assert_eq!(*term, "recon");
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("epoch 1") && msg.contains("recon") && msg.contains("last finite"),
        "{msg}"
    );
}

#[test]
fn invalid_inputs_are_typed_errors() {
    let t = common::tissue(5, 6, 5);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    assert!(matches!(
        train(&input, &arch(7), &quick(1), BackendKind::Flex),
        Err(ModelError::InvalidInput(_))
    ));
    let no_coords = TrainInput {
        coords: None,
        ..input
    };
    assert!(matches!(
        train(&no_coords, &arch(6), &quick(1), BackendKind::Flex),
        Err(ModelError::InvalidInput(_))
    ));
    // The VAE baseline (alpha2 = 0) needs no coordinates.
    let vae = TrainConfig {
        alpha2: 0.0,
        ..quick(1)
    };
    train(&no_coords, &arch(6), &vae, BackendKind::Flex).unwrap();
    let mut nan = t.lognorm.clone();
    nan[[0, 0]] = f32::NAN;
    let bad = TrainInput::new(nan.view(), t.coords.view());
    assert!(matches!(
        train(&bad, &arch(6), &quick(1), BackendKind::Flex),
        Err(ModelError::InvalidInput(_))
    ));
    // NB refuses log-normalised values.
    let nb = arch(6).with_likelihood(Likelihood::NegativeBinomial);
    let err = train(&input, &nb, &quick(1), BackendKind::Flex).unwrap_err();
    assert!(err.to_string().contains("raw counts"), "{err}");
    assert!(matches!(
        train(
            &input,
            &arch(6),
            &TrainConfig {
                epochs: 0,
                ..quick(1)
            },
            BackendKind::Flex
        ),
        Err(ModelError::InvalidConfig(_))
    ));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_request_without_support_is_an_error_not_a_panic() {
    let t = common::tissue(4, 5, 6);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let err = train(&input, &arch(5), &quick(1), BackendKind::Cuda).unwrap_err();
    assert!(
        matches!(err, ModelError::BackendUnavailable { .. }),
        "{err}"
    );
}

#[test]
fn validation_split_early_stopping_and_snapshots() {
    let t = common::tissue(10, 10, 7);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let cfg = TrainConfig {
        validation_fraction: 0.2,
        early_stopping_patience: Some(2),
        // An improvement threshold no epoch can meet: stops after 1 + patience epochs.
        min_delta: 1e9,
        snapshot_every: Some(1),
        ..quick(20)
    };
    let out = train(&input, &arch(10), &cfg, BackendKind::Flex).unwrap();
    assert_eq!(out.validation_indices.len(), 20);
    assert_eq!(out.train_indices.len(), 80);
    assert!(out.stopped_early);
    assert_eq!(out.history.epochs.len(), 3);
    assert_eq!(out.best_epoch, 1);
    assert!(
        out.history
            .epochs
            .iter()
            .all(|r| r.validation.is_some_and(f64::is_finite))
    );
    assert_eq!(out.snapshots.len(), 3);
    assert_eq!(out.snapshots[0].mean.dim(), (80, 2));
    assert_ne!(out.snapshots[0].mean, out.snapshots[2].mean);
    // The kept model is the epoch-1 one: its embedding equals the first snapshot.
    let train_rows = t.lognorm.select(ndarray::Axis(0), &out.train_indices);
    let emb = out
        .model
        .encode(train_rows.view(), BackendKind::Flex)
        .unwrap();
    assert_eq!(emb.mean, out.snapshots[0].mean);
    let csv = dpvae_model::train::snapshots_to_csv(&out.snapshots, &out.train_indices);
    assert_eq!(csv.lines().count(), 1 + 3 * 80);
}

#[test]
fn every_mask_kind_trains() {
    let t = common::tissue(8, 8, 8);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let masks = [
        MaskSpec::Knn { k: 6 },
        MaskSpec::Radius { radius: 150.0 },
        MaskSpec::Clusters { k: 3 },
        MaskSpec::Pairs {
            pairs: (0..63).map(|i| (i, i + 1)).collect(),
        },
    ];
    for mask in masks {
        let cfg = TrainConfig {
            mask: mask.clone(),
            batch_size: 0,
            ..quick(3)
        };
        let out = train(&input, &arch(8), &cfg, BackendKind::Flex).unwrap();
        assert!(
            out.history
                .epochs
                .iter()
                .all(|r| r.dp.is_finite() && r.dp > 0.0),
            "{mask:?}"
        );
    }
    assert_eq!("knn:6".parse::<MaskSpec>().unwrap(), MaskSpec::Knn { k: 6 });
    assert_eq!(
        "radius:2.5".parse::<MaskSpec>().unwrap(),
        MaskSpec::Radius { radius: 2.5 }
    );
    assert!("knn:0".parse::<MaskSpec>().is_err());
    assert!("blob".parse::<MaskSpec>().is_err());
    let bad = MaskSpec::Pairs {
        pairs: vec![(0, 64)],
    };
    let cfg = TrainConfig {
        mask: bad,
        ..quick(1)
    };
    assert!(matches!(
        train(&input, &arch(8), &cfg, BackendKind::Flex),
        Err(ModelError::InvalidInput(_))
    ));
}

#[test]
fn negative_binomial_trains_on_counts() {
    let t = common::tissue(8, 10, 9);
    let input = TrainInput::new(t.counts.view(), t.coords.view());
    let model = arch(10).with_likelihood(Likelihood::NegativeBinomial);
    let out = train(&input, &model, &quick(12), BackendKind::Flex).unwrap();
    let h = &out.history.epochs;
    assert!(
        h.last().unwrap().recon < h[0].recon,
        "{} !< {}",
        h.last().unwrap().recon,
        h[0].recon
    );
    let learned = arch(10).with_likelihood(Likelihood::GaussianLearnedVariance);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let out = train(&input, &learned, &quick(8), BackendKind::Flex).unwrap();
    let h = &out.history.epochs;
    assert!(h.last().unwrap().recon < h[0].recon);
}
