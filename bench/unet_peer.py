#!/usr/bin/env python3
"""PyTorch peer of fm-image's U-Net training benchmark (cmd/fm-bench, package bench/fmbench).

It builds the U-Net that a unet.Config (the JSON of unet/config.go) describes, layer for layer
as package unet builds it (model.go, resblock.go, attention.go, timeembed.go, layers.go, with the
initialisation of init.go), and trains it with the same work per step as package training's
Trainer with fm-bench's settings: the loss of the objective (training/objective.go), AdamW with
global-norm clipping at 1 and an EMA update of the weights. It prints

    params <n>              the number of trainable values (fm-bench checks it against Go's)
    s/step <median>         the median seconds per training step after one warm-up step
    sample_img/s <v>        sampling throughput with the EMA weights, 20 Euler steps

    python3 bench/unet_peer.py --config small.json --objective shortcut --batch 32 --steps 5
    python3 bench/unet_peer.py --config '{"height": 32, ...}' --params-only
    python3 bench/unet_peer.py --check check.json     # compare with the Go model (see check_against_go)

--config takes a file or the JSON itself. --size changes the image size as unet.Config.WithSize
does (self-attention stays at the same levels). The objectives and their settings are
training.TrainConfig's defaults:

    flow-matching  v(x_t, t) regressed onto x1 - x0.
    shortcut       u(x_t, t, d) with d = 0 on the batch except its first FLOW_MAP_FRACTION,
                   whose d is 2^-k (k uniform in 0..SHORTCUT_LEVELS-1) at t a multiple of d and
                   whose target is the mean of two no-grad half steps of the model being trained
                   (shortcutTarget): two extra forward passes on that part of the batch.
    meanflow       the same split, (t, t+d) two sorted uniform draws, and a finite-difference
                   target from one extra no-grad forward pass (meanFlowTarget).

It does not schedule the learning rate or the EMA decay (fixed lr 2e-4, decay 0.999): a schedule
changes the values, not the number of operations. Images are NCHW here and NHWC in Go.
"""
import argparse
import copy
import json
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

OBJECTIVES = ("flow-matching", "shortcut", "meanflow")

# training.TrainConfig's defaults for the few-step objectives (training/config.go).
FLOW_MAP_FRACTION = 0.25
SHORTCUT_LEVELS = 7
MEANFLOW_EPSILON = 1e-3

# The fields of unet.Config's JSON: those without a default must be present. An unknown field is
# an error, as in unet.ParseConfig, so a field added to the Go model is not silently ignored here.
REQUIRED_FIELDS = (
    "height", "width", "image_channels", "base_channels", "channel_mults", "blocks_per_level",
    "middle_blocks", "attention_heads", "group_norm_groups", "dropout", "time_embed_dim",
    "time_hidden_dim", "max_frequency", "conditioning",
)
OPTIONAL_FIELDS = {"name": "", "attention_resolutions": [], "num_classes": 0, "step_input": False}


def load_config(arg):
    """Reads a unet.Config from a JSON file, or from arg itself when it starts with "{"."""
    if arg.lstrip().startswith("{"):
        text = arg
    else:
        with open(arg, encoding="utf-8") as f:
            text = f.read()
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise SystemExit("unet_peer: --config is not valid JSON: %s" % e)
    return complete_config(cfg)


def complete_config(cfg):
    """Checks a decoded unet.Config's fields and fills in the omitted optional ones."""
    if not isinstance(cfg, dict):
        raise SystemExit("unet_peer: the config must be a JSON object (a unet.Config)")
    unknown = sorted(set(cfg) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    missing = [k for k in REQUIRED_FIELDS if k not in cfg]
    if unknown or missing:
        raise SystemExit("unet_peer: config fields unknown: %s, missing: %s (see unet/config.go)"
                         % (", ".join(unknown) or "none", ", ".join(missing) or "none"))
    for k, v in OPTIONAL_FIELDS.items():
        if cfg.get(k) is None:
            cfg[k] = copy.copy(v)
    return cfg


def level_heights(cfg):
    return [cfg["height"] >> i for i in range(len(cfg["channel_mults"]))]


def with_size(cfg, height, width):
    """unet.Config.WithSize: cfg at another image size, attention kept at the same levels."""
    old = level_heights(cfg)
    cfg = dict(cfg, height=height, width=width)
    cfg["attention_resolutions"] = [height >> old.index(r) for r in cfg["attention_resolutions"] if r in old]
    return cfg


def check_config(cfg):
    """The checks of unet.Config.Validate that the network's shapes depend on."""
    errs = []
    levels = len(cfg["channel_mults"])
    down = 1 << max(levels - 1, 0)
    channels = [cfg["base_channels"] * m for m in cfg["channel_mults"]]
    if levels < 1:
        errs.append("channel_mults is empty")
    for key in ("height", "width"):
        if cfg[key] < down or cfg[key] % down:
            errs.append("%s=%d: must be a multiple of %d (2^(levels-1))" % (key, cfg[key], down))
    for i, c in enumerate(channels):
        if c % cfg["group_norm_groups"]:
            errs.append("group_norm_groups=%d: must divide the %d channels of level %d"
                        % (cfg["group_norm_groups"], c, i))
    if cfg["time_embed_dim"] < 2 or cfg["time_embed_dim"] % 2:
        errs.append("time_embed_dim=%d: must be even and >= 2" % cfg["time_embed_dim"])
    if cfg["conditioning"] not in ("add", "scale-shift"):
        errs.append('conditioning=%r: must be "add" or "scale-shift"' % cfg["conditioning"])
    heights = level_heights(cfg)
    for r in cfg["attention_resolutions"]:
        if r not in heights:
            errs.append("attention_resolutions contains %d: must be one of the level heights %s" % (r, heights))
        elif channels[heights.index(r)] % cfg["attention_heads"]:
            errs.append("attention_heads=%d: must divide the %d channels at resolution %d"
                        % (cfg["attention_heads"], channels[heights.index(r)], r))
    if errs:
        raise SystemExit("unet_peer: invalid U-Net config: " + "; ".join(errs))


# Layers, initialised as unet's param does: kernels and weights normal with std sqrt(gain/fan_in)
# (gain 2 for convolutions), biases and GroupNorm offsets 0, GroupNorm gains 1; "zero" layers
# (the head, attention's output, the step MLP's last layer) start with zero weights.

def conv(cin, cout, k, zero=False):
    """unet's conv2D: a same-padded, stride-1 k×k convolution with a bias."""
    layer = nn.Conv2d(cin, cout, k, padding=k // 2)
    if zero:
        nn.init.zeros_(layer.weight)
    else:
        nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / (k * k * cin)))
    nn.init.zeros_(layer.bias)
    return layer


def dense(cin, cout, gain=1.0, zero=False):
    """unet's dense (or denseZero): an affine map of the last axis."""
    layer = nn.Linear(cin, cout)
    if zero:
        nn.init.zeros_(layer.weight)
    else:
        nn.init.normal_(layer.weight, 0.0, math.sqrt(gain / cin))
    nn.init.zeros_(layer.bias)
    return layer


def sinusoidal(t, dim, max_freq):
    """unet's sinusoidalEmbedding: dim/2 sines then dim/2 cosines of t·f, f geometric from 1 to max_freq."""
    half = dim // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), half, device=t.device))
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class EmbeddingMLP(nn.Module):
    """unet's timeEmbedding (or, zero_last, stepEmbedding): sinusoidal -> Dense -> SiLU -> Dense."""

    def __init__(self, cfg, zero_last=False):
        super().__init__()
        self.dim, self.max_freq = cfg["time_embed_dim"], cfg["max_frequency"]
        self.dense0 = dense(self.dim, cfg["time_hidden_dim"], gain=2.0)
        self.dense1 = dense(cfg["time_hidden_dim"], cfg["time_hidden_dim"], zero=zero_last)

    def forward(self, t):
        return self.dense1(F.silu(self.dense0(sinusoidal(t, self.dim, self.max_freq))))


class ResBlock(nn.Module):
    """unet's resBlock, with "add" or "scale-shift" time conditioning."""

    def __init__(self, cfg, cin, cout):
        super().__init__()
        groups, hidden = cfg["group_norm_groups"], cfg["time_hidden_dim"]
        self.scale_shift = cfg["conditioning"] == "scale-shift"
        self.norm0 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv0 = conv(cin, cout, 3)
        if self.scale_shift:
            self.time_scale = dense(hidden, cout)
            self.time_shift = dense(hidden, cout)
        else:
            self.time = dense(hidden, cout)
        self.norm1 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.dropout = nn.Dropout(cfg["dropout"]) if cfg["dropout"] > 0 else nn.Identity()
        self.conv1 = conv(cout, cout, 3)
        self.skip = conv(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv0(F.silu(self.norm0(x)))
        if self.scale_shift:
            act = F.silu(temb)
            scale = self.time_scale(act)[:, :, None, None]
            shift = self.time_shift(act)[:, :, None, None]
            h = self.norm1(h) * (1 + scale) + shift
        else:
            h = self.norm1(h + self.time(temb)[:, :, None, None])
        h = self.conv1(self.dropout(F.silu(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class SelfAttention(nn.Module):
    """unet's selfAttention: residual multi-head attention over the H·W positions, with 1×1
    convolutions for the query, key, value and (zero-initialised) output projections."""

    def __init__(self, cfg, channels):
        super().__init__()
        self.heads = cfg["attention_heads"]
        self.norm = nn.GroupNorm(cfg["group_norm_groups"], channels, eps=1e-5)
        self.query = conv(channels, channels, 1)
        self.key = conv(channels, channels, 1)
        self.value = conv(channels, channels, 1)
        self.out = conv(channels, channels, 1, zero=True)

    def forward(self, x):
        b, c, h, w = x.shape
        dh = c // self.heads
        n = self.norm(x)

        def split(p):  # [B, C, H, W] -> [B, heads, H·W, dh], channel = head·dh + j as in Go
            return p.reshape(b, self.heads, dh, h * w).transpose(2, 3)

        q, k, v = split(self.query(n)), split(self.key(n)), split(self.value(n))
        if hasattr(F, "scaled_dot_product_attention"):  # PyTorch >= 2.0: the fused kernel
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            a = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dh), dim=-1) @ v
        return x + self.out(a.transpose(2, 3).reshape(b, c, h, w))


class Stage(nn.Module):
    """The blocks_per_level residual blocks of one level on the way down or up, each followed by
    self-attention when the level's height is in attention_resolutions."""

    def __init__(self, cfg, cin, cout, attend):
        super().__init__()
        n = cfg["blocks_per_level"]
        self.blocks = nn.ModuleList([ResBlock(cfg, cin if i == 0 else cout, cout) for i in range(n)])
        self.attns = nn.ModuleList([SelfAttention(cfg, cout) for _ in range(n)]) if attend else None

    def forward(self, h, temb):
        for i, block in enumerate(self.blocks):
            h = block(h, temb)
            if self.attns is not None:
                h = self.attns[i](h)
        return h


class UNet(nn.Module):
    """unet's build: the velocity (or, with step_input, flow-map) U-Net of a unet.Config."""

    def __init__(self, cfg):
        super().__init__()
        check_config(cfg)
        channels = [cfg["base_channels"] * m for m in cfg["channel_mults"]]
        heights = level_heights(cfg)
        attend = [hgt in cfg["attention_resolutions"] for hgt in heights]
        self.time = EmbeddingMLP(cfg)
        self.step = EmbeddingMLP(cfg, zero_last=True) if cfg["step_input"] else None
        self.num_classes = cfg["num_classes"]
        if self.num_classes > 0:  # the label table; the last row is "no label"
            self.label = nn.Parameter(torch.randn(self.num_classes + 1, cfg["time_hidden_dim"]))
        self.stem = conv(cfg["image_channels"], channels[0], 3)
        self.down = nn.ModuleList()
        prev = channels[0]
        for level, ch in enumerate(channels):
            self.down.append(Stage(cfg, prev, ch, attend[level]))
            prev = ch
        self.middle = nn.ModuleList([ResBlock(cfg, prev, prev) for _ in range(cfg["middle_blocks"])])
        self.up = nn.ModuleList()
        for level in reversed(range(len(channels))):
            self.up.append(Stage(cfg, prev + channels[level], channels[level], attend[level]))
            prev = channels[level]
        self.head_norm = nn.GroupNorm(cfg["group_norm_groups"], channels[0], eps=1e-5)
        self.head = conv(channels[0], cfg["image_channels"], 3, zero=True)

    def forward(self, x, t, d=None):
        """x [B,C,H,W], t [B] and, for a step-input model, d [B] (None: 0) -> [B,C,H,W]. Every
        image is unlabelled, as in fm-bench's training steps."""
        temb = self.time(t)
        if self.step is not None:
            temb = temb + self.step(torch.zeros_like(t) if d is None else d)
        if self.num_classes > 0:
            temb = temb + self.label[self.num_classes].expand_as(temb)
        h = self.stem(x)
        skips = []
        for level, stage in enumerate(self.down):
            h = stage(h, temb)
            skips.append(h)
            if level < len(self.down) - 1:
                h = F.avg_pool2d(h, 2)
        for block in self.middle:
            h = block(h, temb)
        for i, stage in enumerate(self.up):
            h = stage(torch.cat([h, skips[len(skips) - 1 - i]], dim=1), temb)
            if i < len(self.up) - 1:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.head(F.silu(self.head_norm(h)))


def go_scope(module_path, levels):
    """The unet variable scope of the submodule at module_path: "down.1.blocks.0.conv0" is
    "/down1/block0/conv0", "up.0..." the lowest level's "/up{levels-1}/...", "middle.1.norm0"
    "/middle1/norm0"."""
    parts, out, i = module_path.split("."), [], 0
    while i < len(parts):
        p = parts[i]
        if p in ("down", "up", "middle", "blocks", "attns"):
            idx = int(parts[i + 1])
            name = {"blocks": "block", "attns": "attn"}.get(p, p)
            out.append("%s%d" % (name, levels - 1 - idx if p == "up" else idx))
            i += 2
        else:
            out.append(p)
            i += 1
    return "/" + "/".join(out)


def load_go_weights(model, cfg, tensors):
    """Copies unet's variables (a dict from "/scope/name" to float32 tensors in Go's layout) into
    model: convolution kernels [k,k,Cin,Cout] become [Cout,Cin,k,k], dense weights [Cin,Cout]
    become [Cout,Cin], GroupNorm gain/offset become weight/bias. Every variable must fill exactly
    one parameter, and every parameter must be filled."""
    levels = len(cfg["channel_mults"])
    used = set()

    def take(name, shape, layout=lambda w: w):
        if name not in tensors:
            raise SystemExit("unet_peer: the Go model has no variable %s" % name)
        used.add(name)
        value = layout(tensors[name])
        if tuple(value.shape) != tuple(shape):
            raise SystemExit("unet_peer: %s has shape %s in Go, %s here" % (name, list(value.shape), list(shape)))
        return value

    with torch.no_grad():
        for path, m in model.named_modules():
            if not isinstance(m, (nn.Conv2d, nn.Linear, nn.GroupNorm)):
                continue  # containers, and parameter-free layers
            scope = go_scope(path, levels)
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(take(scope + "/kernel", m.weight.shape, lambda w: w.permute(3, 2, 0, 1)))
                m.bias.copy_(take(scope + "/bias", m.bias.shape))
            elif isinstance(m, nn.Linear):
                m.weight.copy_(take(scope + "/weights", m.weight.shape, lambda w: w.t()))
                m.bias.copy_(take(scope + "/bias", m.bias.shape))
            elif isinstance(m, nn.GroupNorm):
                m.weight.copy_(take(scope + "/gain", m.weight.shape))
                m.bias.copy_(take(scope + "/offset", m.bias.shape))
        if model.num_classes > 0:
            model.label.copy_(take("/label/embeddings", model.label.shape))
    unused = sorted(set(tensors) - used)
    if unused:
        raise SystemExit("unet_peer: Go variables with no counterpart here: %s" % ", ".join(unused))
    if len(used) != len(list(model.parameters())):
        raise SystemExit("unet_peer: %d Go variables for %d parameters" % (len(used), len(list(model.parameters()))))


def check_against_go(path):
    """Evaluates the model of a Go forward pass here and prints how far apart the two are.

    path is a JSON file (written by bench/fmbench's tests) with "config" (a unet.Config), "data"
    (a file of little-endian float32 values, relative to path's folder), and "tensors", "x", "t",
    "d" (omitted for a model without a step input) and "v", each {"dims", "offset"} into that
    file: the Go model's variables by scope and name, its inputs and its output v = u(x, t, d),
    with images in Go's NHWC layout. Prints "max_abs_diff <v>" and "max_abs_v <v>"."""
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    with open(os.path.join(os.path.dirname(path), spec["data"]), "rb") as f:
        blob = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)

    def tensor(e):
        n = math.prod(e["dims"])
        return blob[e["offset"]:e["offset"] + n].reshape(e["dims"])

    cfg = complete_config(spec["config"])
    model = UNet(cfg).eval()
    load_go_weights(model, cfg, {e["name"]: tensor(e) for e in spec["tensors"]})
    x = tensor(spec["x"]).permute(0, 3, 1, 2)
    d = tensor(spec["d"]) if spec.get("d") else None
    with torch.no_grad():
        v = model(x, tensor(spec["t"]), d).permute(0, 2, 3, 1)
    want = tensor(spec["v"])
    print("max_abs_diff %g" % (v - want).abs().max().item())
    print("max_abs_v %g" % want.abs().max().item())


def param_count(model):
    return sum(p.numel() for p in model.parameters())


def flow_map_count(batch):
    """training's flowMapCount: how many examples (the first ones) train at d > 0."""
    return min(max(int(math.floor(FLOW_MAP_FRACTION * batch + 0.5)), 1), batch)


def draw_times_steps(objective, batch, device):
    """training's sampleTimesSteps: t [B], and for a few-step objective d [B] (None otherwise)
    whose first flow_map_count(batch) entries are > 0. Drawn on the device, as the data is."""
    t = torch.rand(batch, device=device)
    if objective == "flow-matching":
        return t, None
    k = flow_map_count(batch)
    d = torch.zeros(batch, device=device)
    if objective == "shortcut":
        n = torch.pow(2.0, torch.randint(0, SHORTCUT_LEVELS, (k,), device=device).float())
        d[:k] = 1 / n
        t[:k] = torch.floor(torch.rand(k, device=device) * n) / n
    else:  # meanflow
        a, b = torch.rand(k, device=device), torch.rand(k, device=device)
        t[:k], d[:k] = torch.minimum(a, b), (a - b).abs()
    return t, d


def bcast(v):
    return v[:, None, None, None]


@torch.no_grad()
def shortcut_target(model, xt, t, d):
    """training's shortcutTarget: the mean of two half steps of the model, the half step given as
    0 below the finest trained level."""
    half = d / 2
    min_step = 2.0 ** -(SHORTCUT_LEVELS - 1)
    hin = half * (half >= min_step * (1 - 1e-6)).float()
    u1 = model(xt, t, hin)
    u2 = model(xt + bcast(half) * u1, t + half, hin)
    return (u1 + u2) / 2


@torch.no_grad()
def meanflow_target(model, xt, t, d, v, pred):
    """training's meanFlowTarget: v + d·(u(xt+εv, t+ε, d-ε) - u)/ε, ε = min(MEANFLOW_EPSILON, d)."""
    e = d.clamp(max=MEANFLOW_EPSILON).clamp(min=1e-6)
    up = model(xt + bcast(e) * v, t + e, d - e)
    return v + bcast(d) * (up - pred) / bcast(e)


def objective_loss(model, objective, x1):
    """training's objectiveLoss (plain mean squared error) for data x1 and fresh noise and times."""
    x0 = torch.randn_like(x1)
    t, d = draw_times_steps(objective, x1.shape[0], x1.device)
    xt = (1 - bcast(t)) * x0 + bcast(t) * x1
    target = x1 - x0
    if d is None:
        return F.mse_loss(model(xt, t), target)
    k = flow_map_count(x1.shape[0])
    if objective == "shortcut":
        tk = shortcut_target(model, xt[:k], t[:k], d[:k])
        pred = model(xt, t, d)
    else:
        pred = model(xt, t, d)
        tk = meanflow_target(model, xt[:k], t[:k], d[:k], target[:k], pred[:k].detach())
    return F.mse_loss(pred, torch.cat([tk, target[k:]]))


def parse_args(argv=None, default_config=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=None, help="the unet.Config: a JSON file, or the JSON itself")
    ap.add_argument("--objective", default="flow-matching", choices=OBJECTIVES)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=None, help="image height and width (default: the config's)")
    ap.add_argument("--steps", type=int, default=5, help="timed training steps (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sample-batch", type=int, default=16, help="sampling batch; 0 skips sampling")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for an NVIDIA GPU (eager mode)")
    ap.add_argument("--params-only", action="store_true", help="print the parameter count and exit")
    ap.add_argument("--check", metavar="FILE", help="compare with a Go forward pass and exit (see check_against_go)")
    a = ap.parse_args(argv)
    if a.check:
        return a
    if a.config is None and default_config is None:
        ap.error("--config is required")
    a.config = load_config(a.config) if a.config is not None else copy.deepcopy(default_config)
    if a.size is not None and (a.size, a.size) != (a.config["height"], a.config["width"]):
        a.config = with_size(a.config, a.size, a.size)
    if a.objective != "flow-matching" and not a.config["step_input"]:
        # As training.NewTrainer: fm-bench sets Config.StepInput for the few-step objectives.
        raise SystemExit('unet_peer: objective %s needs a model with a step input ("step_input": true)'
                         % a.objective)
    return a


def main(argv=None, default_config=None):
    """Runs the benchmark; default_config stands in for a missing --config."""
    a = parse_args(argv, default_config)
    torch.set_num_threads(a.threads)
    if a.check:
        check_against_go(a.check)
        return
    torch.manual_seed(1)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    model = UNet(a.config).to(dev)
    print("params %d" % param_count(model), flush=True)
    if a.params_only:
        return
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.0)
    h, w, c = a.config["height"], a.config["width"], a.config["image_channels"]
    x1 = torch.rand(a.batch, c, h, w, device=dev) * 2 - 1

    def step():
        loss = objective_loss(model, a.objective, x1)
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
        x = torch.randn(a.sample_batch, c, h, w, device=dev)
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
