#!/usr/bin/env python3
"""PyTorch peer of fm-image's ref-unet-32 benchmark (see docs/ref-unet-32.md).

bench/unet_peer.py with the ref-unet-32 preset built in: same architecture, loss and optimiser
work per step as the Go trainer (package training): flow matching, Adam(W) with global-norm
clipping and an EMA of the weights. Prints the parameter count ("params <n>"), the median seconds
per training step ("s/step <v>") and the sampling throughput at 20 Euler steps
("sample_img/s <v>"). It takes unet_peer.py's options; --config replaces the built-in model.

    python3 bench/ref_unet_32.py --batch 16 --size 32 --steps 5 --threads 2
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no bench/__pycache__ left in the work tree

import unet_peer  # noqa: E402  (found next to this file)

# The "ref-unet-32" preset of unet/config.go, as unet.Config's JSON.
REF_UNET_32 = {
    "name": "ref-unet-32",
    "height": 32, "width": 32, "image_channels": 3,
    "base_channels": 32, "channel_mults": [1, 2, 4],
    "blocks_per_level": 1, "middle_blocks": 2,
    "attention_resolutions": [], "attention_heads": 4, "group_norm_groups": 8, "dropout": 0.0,
    "time_embed_dim": 64, "time_hidden_dim": 128, "max_frequency": 1000.0,
    "conditioning": "add", "num_classes": 0, "step_input": False,
}


def RefUNet32():  # noqa: N802  (the name docs/ref-unet-32.md uses)
    """The ref-unet-32 network."""
    return unet_peer.UNet(dict(REF_UNET_32))


if __name__ == "__main__":
    unet_peer.main(default_config=REF_UNET_32)
