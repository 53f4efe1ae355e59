#!/usr/bin/env python3
"""PyTorch peer of fm-image's ref-unet-32 benchmark (see docs/ref-unet-32.md).

Same architecture, loss and optimiser work per step as the Go trainer (package training): flow
matching, Adam(W) with global-norm clipping and an EMA of the weights. Prints the median seconds
per training step ("s/step <v>") and the sampling throughput at 20 Euler steps
("sample_img/s <v>"), which cmd/fm-bench reads.

    python3 bench/ref_unet_32.py --batch 16 --size 32 --steps 5 --threads 2
"""
import argparse
import copy
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sinusoidal(t, dim=64, max_freq=1000.0):
    half = dim // 2
    freqs = torch.exp(torch.linspace(0, math.log(max_freq), half))
    args = t[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb=128, groups=8):
        super().__init__()
        self.norm0 = nn.GroupNorm(groups, cin)
        self.conv0 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(temb, cout)
        self.norm1 = nn.GroupNorm(groups, cout)
        self.conv1 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv0(F.silu(self.norm0(x)))
        h = h + self.time(temb)[:, :, None, None]
        h = self.conv1(F.silu(self.norm1(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class RefUNet32(nn.Module):
    def __init__(self, channels=(32, 64, 128)):
        super().__init__()
        self.t0 = nn.Linear(64, 128)
        self.t1 = nn.Linear(128, 128)
        self.stem = nn.Conv2d(3, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        prev = channels[0]
        for c in channels:
            self.down.append(ResBlock(prev, c))
            prev = c
        self.mid = nn.ModuleList([ResBlock(prev, prev), ResBlock(prev, prev)])
        self.up = nn.ModuleList()
        for c in reversed(channels):
            self.up.append(ResBlock(prev + c, c))
            prev = c
        self.head_norm = nn.GroupNorm(8, channels[0])
        self.head = nn.Conv2d(channels[0], 3, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x, t):
        temb = self.t1(F.silu(self.t0(sinusoidal(t))))
        h = self.stem(x)
        skips = []
        for i, blk in enumerate(self.down):
            h = blk(h, temb)
            skips.append(h)
            if i < len(self.down) - 1:
                h = F.avg_pool2d(h, 2)
        for blk in self.mid:
            h = blk(h, temb)
        for i, blk in enumerate(self.up):
            h = blk(torch.cat([h, skips[len(skips) - 1 - i]], dim=1), temb)
            if i < len(self.up) - 1:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.head(F.silu(self.head_norm(h)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sample-batch", type=int, default=16)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for an NVIDIA GPU (eager mode)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    model = RefUNet32().to(dev)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.0)
    x1 = torch.rand(a.batch, 3, a.size, a.size, device=dev) * 2 - 1

    def step():
        x0 = torch.randn_like(x1)
        t = torch.rand(a.batch, device=dev)
        tb = t[:, None, None, None]
        xt = (1 - tb) * x0 + tb * x1
        loss = F.mse_loss(model(xt, t), x1 - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), model.parameters()):
                pe.mul_(0.999).add_(p, alpha=0.001)
        return loss.item()

    step()  # warm-up
    times = []
    for _ in range(max(a.steps, 1)):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    print("s/step %.6f" % statistics.median(times))

    if a.sample_batch > 0:
        x = torch.randn(a.sample_batch, 3, a.size, a.size, device=dev)
        with torch.no_grad():
            ema(x, torch.zeros(a.sample_batch, device=dev))  # warm-up
            sync()
            t0 = time.perf_counter()
            n = 20
            for k in range(n):
                t = torch.full((a.sample_batch,), k / n, device=dev)
                x = x + ema(x, t) / n
            sync()
            dt = time.perf_counter() - t0
        print("sample_img/s %.3f" % (a.sample_batch / dt))


if __name__ == "__main__":
    main()
