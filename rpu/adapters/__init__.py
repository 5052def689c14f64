"""Optional framework adapters over the NumPy tiles: ``rpu.adapters.torch`` and ``rpu.adapters.jax``.

Import the submodule you need (``from rpu.adapters import torch as rpu_torch``); this package
itself imports neither PyTorch nor JAX, so ``import rpu`` stays framework-free. The adapters are
thin: every product and update is the tile's own, the framework only sees arrays shared with it
(zero-copy through DLPack where the memory allows).
"""

__all__ = ["torch", "jax"]
