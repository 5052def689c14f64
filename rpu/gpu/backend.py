"""The CUDA backend object: the CPU core's entry points, on arrays of a kernel runtime.

A tile binds one backend when it is made (``rpu.backends.resolve_backend``) and calls the same
entry points on it whatever it is: ``rpu._core`` on the CPU, a :class:`CudaBackend` on the GPU.
The methods here take the core's arguments (``n_threads`` and ``workspace`` are accepted and
ignored: a GPU has no thread count to choose), on arrays of ``self.xp``, and run the kernels of
``rpu/gpu/*.cu`` through the runtime (``rpu.gpu._runtime``).
"""
import numpy as np

from rpu.gpu.inference import InferenceKernels

_BLOCK = 256


def _grid(n):
    return (max((int(n) + _BLOCK - 1) // _BLOCK, 1),)


class CudaBackend(InferenceKernels):
    """The GPU twin of ``rpu._core`` on one kernel runtime.

    Parameters
    ----------
    runtime : kernel runtime, optional
        Where the kernels run (see ``rpu.gpu._runtime``); default: CuPy on the current CUDA
        device. Raises RuntimeError with installation advice when there is none.
    """

    name = "cuda"

    def __init__(self, runtime=None):
        if runtime is None:
            from rpu.gpu._runtime import cuda_runtime
            runtime = cuda_runtime()
        self.runtime = runtime
        self.xp = runtime.xp

    def __repr__(self):
        return f"CudaBackend({self.runtime.name})"

    # ----- moving arrays ----------------------------------------------------------------------
    def to_device(self, a):
        """A device copy of a host (NumPy) array or scalar array."""
        return self.xp.array(a, copy=True)

    @staticmethod
    def to_host(a):
        """A NumPy copy of a device array (NumPy arrays are copied too)."""
        return a.get() if hasattr(a, "get") else np.array(a, copy=True)

    # ----- random fills -------------------------------------------------------------------------
    def _fill(self, kernel, out, seed, op, purpose, sub):
        rows, cols = out.shape
        self.runtime.kernel(kernel, out.dtype)(
            _grid(rows * cols), (_BLOCK,),
            (out, np.int64(rows), np.int64(cols), np.uint64(seed), np.uint64(op),
             np.int32(purpose), np.uint32(sub)))

    def uniform_fill(self, out, seed, op, purpose, sub, n_threads=1):
        """out[r, c] = the exact uniform of (seed, op, purpose, sub, r, c); see _core.uniform_fill."""
        self._fill("rpu_uniform_fill", out, seed, op, purpose, sub)

    def normal_fill(self, out, seed, op, purpose, sub, n_threads=1):
        """out[r, c] = the standard normal of (seed, op, purpose, sub, r, c); see _core.normal_fill."""
        self._fill("rpu_normal_fill", out, seed, op, purpose, sub)

    # ----- products -----------------------------------------------------------------------------
    def gemm_rows(self, A, M, C, transposed, n_threads=1):
        """``C = A @ M.T`` (``A @ M`` when ``transposed``): one cuBLAS GEMM."""
        self.xp.matmul(A, M if transposed else M.T, out=C)

    def analog_mvm(self, W, transposed, X, Y, io_dict, line_params, nm_state, seed, op,
                   n_threads=1):
        """The analog MVM of a batch with the IO non-idealities; see ``_core.analog_mvm``."""
        from rpu.gpu import mvm
        mvm.analog_mvm(self.runtime, W, transposed, X, Y, io_dict, line_params, nm_state, seed, op)

    # ----- updates ------------------------------------------------------------------------------
    def pulsed_update(self, stored, visible, hidden, hidden_idx, X, D, BL, A, B, up, dev, seed, op,
                      n_threads=1, workspace=None, noise_seed=None, record_cols=None,
                      record_out=None):
        """A batch of pulsed updates, samples in order; see ``_core.pulsed_update``.

        ``BL``, ``A``, ``B`` and ``record_cols`` may be host arrays (they are per sample and
        small); they are copied to the device here.
        """
        from rpu.gpu import update
        xp = self.xp
        BL = xp.asarray(BL, dtype=np.int32)
        A = xp.asarray(A, dtype=np.float64)
        B = xp.asarray(B, dtype=np.float64)
        if record_cols is not None:
            record_cols = xp.asarray(record_cols, dtype=np.int32)
        update.pulsed_update(self.runtime, stored, visible, hidden, hidden_idx, X, D, BL, A, B, up,
                             dev, seed, op, noise_seed=noise_seed, record_cols=record_cols,
                             record_out=record_out)

    def exact_update_clipped(self, W, X, D, lr, b_min, b_max, n_threads=1):
        """Exact SGD steps sample by sample, each clipped to [b_min, b_max] (aihwkit's
        ``NONE_WITH_DEVICE`` on the CPU); see ``_core.exact_update_clipped``."""
        xp = self.xp
        neg_lr = W.dtype.type(-lr)
        for b in range(X.shape[0]):  # the clip after every sample makes the steps sequential
            # w + (-lr d_i) x_j, rounded as the core rounds it
            W += xp.outer(neg_lr * D[b], X[b])
            xp.clip(W, b_min, b_max, out=W)
