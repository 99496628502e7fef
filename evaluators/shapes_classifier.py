"""The shapes-world evaluation network: a small CNN classifier of (shape, colour) classes.

Its penultimate features (128-d) play Inception's pool features for FID / precision / recall and
its logits play Inception's logits for IS. It is trained once on renders (`harness train classifier
--task shapes`) and is never used by any method for training (FPD's drift backbone is a separate
network with a different architecture and objective: harness/networks/shapes_backbone.py).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

NUM_CLASSES = 24
FEATURE_DIM = 128


class ShapesClassifier(nn.Module):
    def __init__(self, num_classes: int = NUM_CLASSES, width: int = 32):
        super().__init__()
        c = width

        def block(i, o):
            return nn.Sequential(
                nn.Conv2d(i, o, 3, padding=1),
                nn.BatchNorm2d(o),
                nn.ReLU(),
                nn.Conv2d(o, o, 3, padding=1),
                nn.BatchNorm2d(o),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.body = nn.Sequential(block(3, c), block(c, 2 * c), block(2 * c, 4 * c))  # 32 -> 4
        self.pool = nn.Sequential(nn.Flatten(), nn.Linear(4 * c * 16, FEATURE_DIM), nn.ReLU())
        self.fc = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, images_u8: Tensor) -> dict[str, Tensor]:
        """uint8 [B, 3, H, W] -> {'pool': [B, 128], 'logits': [B, 24]} (the FeatureExtractor contract)."""
        x = images_u8.float() / 127.5 - 1
        f = self.pool(self.body(x))
        return {"pool": f, "logits": self.fc(f)}


class ShapesClassifierExtractor:
    """FeatureExtractor over the shipped classifier: uint8 images -> pool features and logits."""

    name = "shapes-classifier"

    def __init__(self, model: ShapesClassifier, version: str, device: str | torch.device = "cpu", batch: int = 500):
        self.model, self.version, self.device, self.batch = (
            model.eval().to(device),
            version,
            torch.device(device),
            batch,
        )

    @torch.inference_mode()
    def __call__(self, images_u8: Tensor) -> dict[str, Tensor]:
        outs = [self.model(images_u8[i : i + self.batch].to(self.device)) for i in range(0, len(images_u8), self.batch)]
        return {k: torch.cat([o[k] for o in outs]).float().cpu() for k in ("pool", "logits")}
