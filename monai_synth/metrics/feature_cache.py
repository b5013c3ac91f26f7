"""On-disk cache of Inception features, keyed by image content and network weights.

The key is the SHA-256 of: a format tag (preprocessing version), the SHA-256 of the weights file, and
for every image in order its shape and its 8-bit bytes (after the same quantisation the feature
extractor applies). Same images + same weights + same preprocessing -> same key, wherever the images
came from; one changed pixel, a reordering or other weights -> another key. Entries are ``<key>.npy``
files (float32, ``N x 2048``) written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from monai_synth.io.atomic import atomic_open
from monai_synth.metrics.features import ImageInput, InceptionFeatureExtractor, iter_images
from monai_synth.metrics.preprocess import INCEPTION_SIZE, RESIZE_MODE, to_uint8

__all__ = ["CACHE_ENV", "FEATURE_FORMAT", "default_cache_dir", "content_key", "FeatureCache", "cached_features"]

logger = logging.getLogger(__name__)

#: Environment variable overriding the default cache folder.
CACHE_ENV = "MONAI_SYNTH_CACHE_DIR"
#: Preprocessing tag that enters every key; change it when the preprocessing changes.
FEATURE_FORMAT = f"monai_synth-inception-pool3-v1:uint8:{RESIZE_MODE}-antialias-{INCEPTION_SIZE}:clip:tf-range"


def default_cache_dir() -> Path:
    """``$MONAI_SYNTH_CACHE_DIR/inception_features``, else ``~/.cache/monai_synth/inception_features``."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "monai_synth")
    return Path(root) / "inception_features"


def content_key(images: ImageInput, weights_sha256: str) -> tuple[str, int]:
    """Cache key of an image set: SHA-256 over the format tag, the weights hash and each image's 8-bit bytes.

    Args:
        images: as for :meth:`InceptionFeatureExtractor.features` (float in ``[-1, 1]`` or uint8).
        weights_sha256: hex SHA-256 of the weights file.

    Returns:
        ``(hex key, number of images)``.
    """
    digest = hashlib.sha256(f"{FEATURE_FORMAT}\n{weights_sha256}\n".encode())
    count = 0
    for image in iter_images(images):
        pixels = to_uint8(image).contiguous().cpu()
        digest.update(np.asarray(pixels.shape, dtype=np.int64).tobytes())
        digest.update(pixels.numpy().tobytes())
        count += 1
    return digest.hexdigest(), count


class FeatureCache:
    """A folder of cached feature arrays.

    Args:
        cache_dir: the folder (created on first write); ``None`` uses :func:`default_cache_dir`.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def path(self, key: str) -> Path:
        """File of one key."""
        return self.cache_dir / f"{key}.npy"

    def load(self, key: str, count: int | None = None) -> np.ndarray | None:
        """Cached features of ``key``, or ``None`` when absent or unreadable or of the wrong length."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            features = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            logger.warning("ignoring unreadable feature cache %s (%s)", path, err)
            return None
        if features.ndim != 2 or (count is not None and features.shape[0] != count):
            logger.warning("ignoring feature cache %s of shape %s", path, features.shape)
            return None
        return features

    def save(self, key: str, features: np.ndarray) -> Path:
        """Store features atomically; returns the file."""
        path = self.path(key)
        with atomic_open(path) as handle:
            np.save(handle, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
        return path


def cached_features(
    make_images: Callable[[], Iterable[torch.Tensor | np.ndarray]] | torch.Tensor | np.ndarray,
    extractor: InceptionFeatureExtractor,
    cache_dir: str | os.PathLike | None = None,
    desc: str = "Inception features",
) -> np.ndarray:
    """Features of an image set, computed once and then read back from the cache.

    Args:
        make_images: a tensor/array ``(N, C, H, W)``, or a function returning a fresh iterable of images
            (it is called twice on a cache miss: once to hash, once to featurise, so that large sets
            need not sit in memory).
        extractor: the feature extractor (its weights hash enters the key).
        cache_dir: cache folder (``None``: :func:`default_cache_dir`).
        desc: progress-bar label.

    Returns:
        float32 array ``(N, 2048)``.
    """
    def fresh() -> ImageInput:
        return make_images if isinstance(make_images, (torch.Tensor, np.ndarray)) else make_images()

    cache = FeatureCache(cache_dir)
    key, count = content_key(fresh(), extractor.weights_sha256)
    features = cache.load(key, count)
    if features is not None:
        logger.info("%s: %d cached features from %s", desc, count, cache.path(key))
        return features
    features = extractor.features(fresh(), total=count, desc=desc)
    cache.save(key, features)
    logger.info("%s: %d features cached in %s", desc, count, cache.path(key))
    return features
