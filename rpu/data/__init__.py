"""Small data sets shipped with rpu, so that its demo and examples need no download.

``digits.npz`` holds the 1797 8x8 handwritten digits of the test part of the UCI "Optical
Recognition of Handwritten Digits" data set (E. Alpaydin and C. Kaynak, 1998; the same copy that
scikit-learn ships as ``load_digits``): ``images`` (1797, 64) uint8 pixel counts in 0..16 and
``labels`` (1797,) uint8 digits 0..9.
"""
from pathlib import Path

import numpy as np

__all__ = ["load_digits"]

_DIR = Path(__file__).resolve().parent


def load_digits():
    """The handwritten digits.

    Returns
    -------
    images : ndarray of shape (1797, 64), float32
        Pixel intensities scaled to [0, 1] (the counts 0..16 divided by 16).
    labels : ndarray of shape (1797,), int64
        The digit of each image.
    """
    with np.load(_DIR / "digits.npz", allow_pickle=False) as data:
        images = data["images"].astype(np.float32) / 16.0
        labels = data["labels"].astype(np.int64)
    return images, labels
