"""A self-supervised image encoder trained on the training set, for copy detection (after Dar et al. 2025).

Dar et al. ("Unconditional latent diffusion models memorize patient imaging data", Nature Biomedical
Engineering 2025) detect copies with an encoder trained by contrastive learning on the training images
themselves: two views of the same image (flipped and rotated) must map close together, views of different
images apart. The encoder learns what makes one training image that image, whatever its orientation, which is
what a near-copy keeps; ImageNet features (Inception) were never taught medical images.

Here: a small convolutional encoder (four stride-2 stages, GroupNorm, SiLU, global average pooling) with a
two-layer projection head, trained with the NT-Xent loss of SimCLR (Chen et al. 2020) at temperature 0.1. A
view is one of the eight flips/rotations by multiples of 90 degrees, drawn per image. Embeddings are the
encoder's pooled output (before the head), scaled to unit length by the audit. Everything is seeded: the same
training images and settings give the same weights.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

__all__ = ["ContrastiveEncoder", "dihedral", "random_views", "nt_xent", "train_contrastive_encoder", "embed"]

logger = logging.getLogger(__name__)


class ContrastiveEncoder(nn.Module):
    """Convolutional encoder ``(N, C, S, S) -> (N, width)`` with a projection head for training.

    Args:
        in_channels: image channels.
        width: channels of the last stage (the embedding size).
        projection: output size of the projection head.
    """

    def __init__(self, in_channels: int = 1, width: int = 128, projection: int = 64) -> None:
        super().__init__()
        chans = [32, 64, width, width]
        layers: list[nn.Module] = []
        previous = in_channels
        for c in chans:
            layers += [nn.Conv2d(previous, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.SiLU()]
            previous = c
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, projection))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding (no head)."""
        return self.features(x)


def dihedral(x: torch.Tensor, code: int) -> torch.Tensor:
    """One of the eight symmetries of the square: ``code % 4`` quarter turns, then a flip when ``code >= 4``."""
    y = torch.rot90(x, int(code) % 4, dims=(-2, -1))
    return y.flip(-1) if int(code) >= 4 else y


def random_views(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random flip/rotation of every image of a batch (drawn per image)."""
    codes = torch.randint(0, 8, (x.shape[0],), generator=generator)
    out = torch.empty_like(x)
    for code in codes.unique().tolist():
        chosen = codes == code
        out[chosen] = dihedral(x[chosen], code)
    return out


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross entropy: row ``i`` of ``z1`` and of ``z2`` are a pair."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    logits = z @ z.t() / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, target)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    shrink = size < min(x.shape[-2:])
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=shrink, align_corners=False)


def train_contrastive_encoder(
    images: torch.Tensor,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    temperature: float = 0.1,
    size: int = 64,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> ContrastiveEncoder:
    """Train the encoder on ``images`` ``(N, C, H, W)`` in ``[-1, 1]`` (resized to ``size``); returns it in eval mode.

    Raises:
        ValueError: fewer than two images (a contrastive batch needs negatives).
    """
    if images.shape[0] < 2:
        raise ValueError("the self-supervised encoder needs at least 2 training images")
    device = torch.device(device)
    torch.manual_seed(seed)
    encoder = ContrastiveEncoder(images.shape[1]).to(device)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=learning_rate, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed + 1)
    data = _resize(images.float(), size)
    batch = min(int(batch_size), data.shape[0])
    steps = max(1, data.shape[0] // batch)
    encoder.train()
    for _ in tqdm(range(int(epochs)), desc="self-supervised encoder", unit="epoch", disable=not progress, leave=False):
        order = torch.randperm(data.shape[0], generator=generator)
        for k in range(steps):
            x = data[order[k * batch : (k + 1) * batch]]
            v1, v2 = random_views(x, generator).to(device), random_views(x, generator).to(device)
            loss = nt_xent(encoder.head(encoder(v1)), encoder.head(encoder(v2)), temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    logger.info("self-supervised encoder: %d epochs on %d images, last loss %.4f", epochs, data.shape[0], loss.item())
    return encoder.eval().requires_grad_(False)


@torch.no_grad()
def embed(encoder: ContrastiveEncoder, images: torch.Tensor, size: int = 64, batch_size: int = 256) -> np.ndarray:
    """Embeddings ``(N, width)`` float32 of images ``(N, C, H, W)`` in ``[-1, 1]``."""
    device = next(encoder.parameters()).device
    out = [encoder(_resize(images[s : s + batch_size].float(), size).to(device)).cpu()
           for s in range(0, images.shape[0], batch_size)]
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros((0, encoder.head[0].in_features), np.float32)
