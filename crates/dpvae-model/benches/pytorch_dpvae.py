"""PyTorch reference implementation of the dp-VAE training step, for the speed comparison in benches/train.rs.

Same model and loss as dpvae-model's paper configuration: encoder 100 -> 124 (ReLU) -> 2 x d (mean, log-variance),
reparameterised sample, decoder d -> 124 (ReLU) -> 100, Gaussian (unit variance) reconstruction, closed-form KL,
DP loss  1/n^2 sum_ij | ||z_i - z_j|| - lambda ||s_i - s_j|| |  over all pairs of the batch with a learned
log-lambda, objective recon + KL + alpha2 * DP, Adam (lr 1e-3). Synthetic data of the paper's shape
(2400 training spots, 100 genes), 2 threads.

Usage:  $PY crates/dpvae-model/benches/pytorch_dpvae.py [--epochs 5] [--json out.json]
            [--threads 2] [--genes 100] [--hidden 124] [--batches 128,0]
Prints milliseconds per epoch for each batch size (0: full batch), the median over the timed epochs after one
warm-up. `cargo xtask speed` runs it pinned to one core with --threads 1, alternating with dpvae.
"""

import argparse
import json
import math
import statistics
import time

import torch
from torch import nn



def mlp(widths):
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


class DpVae(nn.Module):
    def __init__(self, genes=100, hidden=(124,), latent=2, lambda_init=1.0):
        super().__init__()
        self.enc = mlp([genes, *hidden])
        self.head = nn.Linear(hidden[-1], 2 * latent)
        self.dec = mlp([latent, *reversed(hidden)])
        self.out = nn.Linear(hidden[0], genes)
        self.log_lambda = nn.Parameter(torch.tensor([math.log(lambda_init)]))
        self.latent = latent

    def forward(self, x, eps):
        out = self.head(self.enc(x))
        mean, logvar = out[:, : self.latent], out[:, self.latent :]
        z = mean + torch.exp(0.5 * logvar) * eps
        recon = self.out(self.dec(z))
        return mean, logvar, z, recon


def pairwise(x):
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return d2.clamp_min(1e-12).sqrt()


def loss_fn(model, x, s, eps, alpha2):
    mean, logvar, z, recon = model(x, eps)
    n, g = x.shape
    nll = 0.5 * ((x - recon) ** 2).sum() / n + 0.5 * g * math.log(2 * math.pi)
    kl = 0.5 * (mean**2 + logvar.exp() - 1.0 - logvar).sum() / n
    dp = (pairwise(z) - model.log_lambda.exp() * pairwise(s)).abs().sum() / (n * n)
    return nll + kl + alpha2 * dp


def epoch_times(x, s, batch, epochs, hidden, alpha2=10.0):
    torch.manual_seed(0)
    n = x.shape[0]
    model = DpVae(genes=x.shape[1], hidden=hidden, lambda_init=1.0 / pairwise(s[:200]).mean().item())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            xb, sb = x[idx], s[idx]
            eps = torch.randn(len(idx), model.latent)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, xb, sb, eps, alpha2)
            loss.backward()
            opt.step()
        times.append((time.perf_counter() - t0) * 1e3)
    return times[1:]  # drop the warm-up epoch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--spots", type=int, default=2400)
    ap.add_argument("--genes", type=int, default=100)
    ap.add_argument("--hidden", default="124")
    ap.add_argument("--batches", default="128,0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    g = torch.Generator().manual_seed(1)
    x = torch.log1p(torch.poisson(torch.full((args.spots, args.genes), 3.0), generator=g))
    s = torch.rand(args.spots, 2, generator=g) * 5000.0
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "spots": args.spots}
    for batch in (int(b) for b in args.batches.split(",")):
        name = "full_batch" if batch == 0 else f"batch{batch}"
        t = epoch_times(x, s, batch or args.spots, args.epochs, hidden)
        result[name] = {"median_ms_per_epoch": statistics.median(t), "epochs_ms": t}
        print(f"pytorch {name}: {statistics.median(t):.2f} ms/epoch (median of {len(t)})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
