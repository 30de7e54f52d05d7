//! The direct DP kernel: finite-difference gradients, agreement with the autodiff formulation, the surrogate
//! trick end to end, and no NaN at coincident points.

use burn::backend::Autodiff;
use burn::prelude::*;
use dpvae_model::backend::FlexBackend;
use dpvae_model::loss::mask::dense_batch_mask;
use dpvae_model::loss::{BatchMask, dp_loss_autodiff, dp_loss_grad};
use dpvae_model::model::ModelConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type B = FlexBackend;
type AD = Autodiff<FlexBackend>;

fn random(n: usize, d: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n * d).map(|_| rng.gen_range(-scale..scale)).collect()
}

fn masks() -> (Vec<u32>, Vec<(u32, u32)>) {
    let labels = vec![0, 1, 0, 2, 1, 0, 2, 1, 0, 1, 2, 0];
    let pairs = vec![
        (0, 1),
        (0, 5),
        (2, 3),
        (3, 9),
        (4, 11),
        (6, 7),
        (8, 10),
        (1, 11),
    ];
    (labels, pairs)
}

#[test]
fn gradient_matches_finite_differences() {
    let (n, d) = (12, 2);
    let z = random(n, d, 2.0, 1);
    let s = random(n, 2, 300.0, 2);
    let lambda = 0.006_f32;
    let (labels, pairs) = masks();
    for mask in [
        BatchMask::All,
        BatchMask::Labels(&labels),
        BatchMask::Pairs(&pairs),
    ] {
        let base = dp_loss_grad(&z, d, &s, 2, lambda, mask);
        let h = 1e-3_f32;
        for k in 0..n * d {
            let (mut up, mut down) = (z.clone(), z.clone());
            up[k] += h;
            down[k] -= h;
            let fd = (dp_loss_grad(&up, d, &s, 2, lambda, mask).loss
                - dp_loss_grad(&down, d, &s, 2, lambda, mask).loss)
                / f64::from(2.0 * h);
            let g = f64::from(base.grad_z[k]);
            assert!(
                (g - fd).abs() < 2e-4,
                "{mask:?} coordinate {k}: analytic {g}, finite difference {fd}"
            );
        }
        let hl = 1e-6_f32; // small: a pair with |r| within 300 * 1e-5 of its kink exists here
        let fd = (dp_loss_grad(&z, d, &s, 2, lambda + hl, mask).loss
            - dp_loss_grad(&z, d, &s, 2, lambda - hl, mask).loss)
            / f64::from(2.0 * hl);
        assert!(
            (base.grad_lambda - fd).abs() < 1e-2 * fd.abs().max(1.0),
            "{mask:?} lambda: {} vs {fd}",
            base.grad_lambda
        );
        assert!(base.loss > 0.0);
    }
}

#[test]
fn direct_kernel_matches_autodiff_formulation() {
    let dev = Default::default();
    // n large enough to exercise the parallel row blocks.
    for (n, d) in [(12, 2), (40, 3), (700, 2)] {
        let z = random(n, d, 2.0, n as u64);
        let s = random(n, 2, 500.0, 99);
        let lambda = 0.004_f32;
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let pairs: Vec<(u32, u32)> = (0..n as u32 - 1).map(|i| (i, i + 1)).collect();
        for mask in [
            BatchMask::All,
            BatchMask::Labels(&labels),
            BatchMask::Pairs(&pairs),
        ] {
            let direct = dp_loss_grad(&z, d, &s, 2, lambda, mask);
            let zt =
                Tensor::<AD, 2>::from_data(TensorData::new(z.clone(), [n, d]), &dev).require_grad();
            let st = Tensor::<AD, 2>::from_data(TensorData::new(s.clone(), [n, 2]), &dev);
            let ll = Tensor::<AD, 1>::from_floats([lambda.ln()], &dev).require_grad();
            let m = dense_batch_mask(mask, n);
            // The diagonal would add sqrt(1e-12) per spot; the kernel leaves i = j out.
            let mut m = m;
            for i in 0..n {
                m[[i, i]] = 0.0;
            }
            let mt = Tensor::<AD, 2>::from_data(
                TensorData::new(m.into_raw_vec_and_offset().0, [n, n]),
                &dev,
            );
            let loss = dp_loss_autodiff(zt.clone(), st, ll.clone(), Some(mt));
            let value = f64::from(loss.clone().into_scalar());
            let grads = loss.backward();
            let gz: Vec<f32> = zt.grad(&grads).unwrap().into_data().to_vec().unwrap();
            let gl = f64::from(ll.grad(&grads).unwrap().into_scalar());
            assert!(
                (value - direct.loss).abs() < 1e-4 * value.max(1e-3),
                "n {n} {mask:?}: {value} vs {}",
                direct.loss
            );
            let scale = gz.iter().fold(0.0_f32, |a, v| a.max(v.abs()));
            for (a, b) in gz.iter().zip(&direct.grad_z) {
                assert!(
                    (a - b).abs() < 1e-3 * scale + 1e-7,
                    "n {n} {mask:?}: grad {a} vs {b}"
                );
            }
            // autodiff differentiates in log(lambda): d/dlog = lambda d/dlambda.
            let gl_direct = direct.grad_lambda * f64::from(lambda);
            assert!(
                (gl - gl_direct).abs() < 1e-3 * gl.abs().max(1e-4),
                "n {n} {mask:?}: {gl} vs {gl_direct}"
            );
        }
    }
}

#[test]
fn coincident_latent_points_give_no_nan() {
    let dev = Default::default();
    let z = vec![0.3_f32, 0.3, 0.3, 0.3, -1.0, 2.0];
    let s = vec![0.0_f32, 0.0, 10.0, 0.0, 5.0, 5.0];
    let direct = dp_loss_grad(&z, 2, &s, 2, 0.1, BatchMask::All);
    assert!(direct.loss.is_finite() && direct.grad_lambda.is_finite());
    assert!(direct.grad_z.iter().all(|g| g.is_finite()));
    let zt = Tensor::<AD, 2>::from_data(TensorData::new(z, [3, 2]), &dev).require_grad();
    let st = Tensor::<AD, 2>::from_data(TensorData::new(s, [3, 2]), &dev);
    let ll = Tensor::<AD, 1>::from_floats([0.1_f32.ln()], &dev).require_grad();
    let loss = dp_loss_autodiff(zt.clone(), st, ll, None);
    let grads = loss.backward();
    let gz: Vec<f32> = zt.grad(&grads).unwrap().into_data().to_vec().unwrap();
    assert!(gz.iter().all(|g| g.is_finite()), "{gz:?}");
}

/// Feeding the direct gradient back as `sum(z * g) + log_lambda * g_log_lambda` gives the network the same
/// parameter gradients as differentiating the DP loss through autodiff.
#[test]
fn surrogate_gives_the_autodiff_parameter_gradients() {
    let dev = Default::default();
    let (n, genes) = (64, 10);
    let cfg = ModelConfig::new(genes).with_hidden(vec![16]);
    let model = cfg.init_with::<AD>(3, 0.01, &dev);
    let x = Tensor::<AD, 2>::from_data(TensorData::new(random(n, genes, 1.0, 5), [n, genes]), &dev);
    let eps = Tensor::<AD, 2>::from_data(TensorData::new(random(n, 2, 1.0, 6), [n, 2]), &dev);
    let s_host = random(n, 2, 200.0, 7);
    let s = Tensor::<AD, 2>::from_data(TensorData::new(s_host.clone(), [n, 2]), &dev);

    let fwd = model.forward(x.clone(), eps.clone());
    let reference = dp_loss_autodiff(fwd.z, s, model.log_lambda.val(), None);
    let g_ref = reference.backward();

    let fwd = model.forward(x, eps);
    let z_host: Vec<f32> = fwd.z.clone().into_data().to_vec().unwrap();
    let lambda = model.lambda();
    let direct = dp_loss_grad(&z_host, 2, &s_host, 2, lambda as f32, BatchMask::All);
    let gz = Tensor::<AD, 2>::from_data(TensorData::new(direct.grad_z, [n, 2]), &dev);
    let surrogate = (fwd.z * gz).sum()
        + model
            .log_lambda
            .val()
            .mul_scalar(direct.grad_lambda * lambda);
    let g_sur = surrogate.backward();

    let compare = |a: Tensor<B, 2>, b: Tensor<B, 2>, what: &str| {
        let (a, b): (Vec<f32>, Vec<f32>) = (
            a.into_data().to_vec().unwrap(),
            b.into_data().to_vec().unwrap(),
        );
        let scale = a.iter().fold(0.0_f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{what}: zero gradient");
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 2e-3 * scale, "{what}: {x} vs {y}");
        }
    };
    let w = |g: &<AD as burn::tensor::backend::AutodiffBackend>::Gradients,
             l: &burn::nn::Linear<AD>| { l.weight.val().grad(g).unwrap() };
    compare(
        w(&g_ref, &model.encoder.layers[0]),
        w(&g_sur, &model.encoder.layers[0]),
        "encoder layer",
    );
    compare(
        w(&g_ref, &model.encoder.head),
        w(&g_sur, &model.encoder.head),
        "encoder head",
    );
    let lr = f64::from(model.log_lambda.val().grad(&g_ref).unwrap().into_scalar());
    let ls = f64::from(model.log_lambda.val().grad(&g_sur).unwrap().into_scalar());
    assert!(
        (lr - ls).abs() < 1e-3 * lr.abs().max(1e-4),
        "log lambda: {lr} vs {ls}"
    );
}

/// The f32 SIMD kernel (kept in the model, it is the training hot loop) equals the geometry crate's L1 stress:
/// `L_DP = 2 / n^2 * sum_{i<j} | ||z_i - z_j|| - lambda ||s_i - s_j|| |` with every pair kept.
#[test]
fn kernel_equals_the_geometry_l1_stress() {
    let (n, d, c) = (57, 3, 2);
    let z = random(n, d, 2.0, 11);
    let s = random(n, c, 5.0, 12);
    let lambda = 0.7_f32;
    let got = dp_loss_grad(&z, d, &s, c, lambda, BatchMask::All).loss;
    let z64 = ndarray::Array2::from_shape_fn((n, d), |(i, k)| f64::from(z[i * d + k]));
    let s64 = ndarray::Array2::from_shape_fn((n, c), |(i, k)| f64::from(s[i * c + k]));
    let delta = dpvae_geometry::pairwise_distances(s64.view()).unwrap() * f64::from(lambda);
    let stress = dpvae_geometry::l1_stress(z64.view(), delta.view(), None).unwrap();
    let want = 2.0 * stress / (n * n) as f64;
    assert!(
        (got - want).abs() <= 1e-5 * want,
        "kernel {got} vs geometry {want}"
    );
}
