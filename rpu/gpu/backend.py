"""The CUDA backend object: the CPU core's entry points, on arrays of a kernel runtime.

A tile binds one backend when it is made (``rpu.backends.resolve_backend``) and calls the same
entry points on it whatever it is: ``rpu._core`` on the CPU, a :class:`CudaBackend` on the GPU.
The methods here take the core's arguments (``n_threads`` and ``workspace`` are accepted and
ignored: a GPU has no thread count to choose), on arrays of ``self.xp``, and run the kernels of
``rpu/gpu/*.cu`` through the runtime (``rpu.gpu._runtime``).
"""
import numpy as np

from rpu.gpu._runtime import ELEMENT_BLOCK, element_grid

from rpu.gpu.inference import InferenceKernels


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
            element_grid(rows * cols), (ELEMENT_BLOCK,),
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
    def write_counts(self, stored, visible, hidden, hidden_idx, cols, counts, row_index, BL, A, B,
                     up, dev, noise_seed, op, n_threads=1, workspace=None):
        """Always False, changing nothing: on the GPU a transfer's write runs as the pulsed
        update it stands for (the caller then builds its x and d; see
        ``_core.write_counts``)."""
        return False

    def pulsed_update(self, stored, visible, hidden, hidden_idx, X, D, BL, A, B, up, dev, seed, op,
                      n_threads=1, workspace=None, noise_seed=None, record_cols=None,
                      record_out=None, record_rows=None):
        """A batch of pulsed updates, samples in order; see ``_core.pulsed_update``.

        ``BL``, ``A``, ``B``, ``record_cols`` and ``record_rows`` may be host arrays (they are per sample and
        small); they are copied to the device here.
        """
        from rpu.gpu import update
        xp = self.xp
        BL = xp.asarray(BL, dtype=np.int32)
        A = xp.asarray(A, dtype=np.float64)
        B = xp.asarray(B, dtype=np.float64)
        if record_cols is not None:
            record_cols = xp.ascontiguousarray(xp.asarray(record_cols, dtype=np.int32))
        if record_rows is not None:
            record_rows = xp.ascontiguousarray(xp.asarray(record_rows, dtype=np.int32))
        update.pulsed_update(self.runtime, stored, visible, hidden, hidden_idx, X, D, BL, A, B, up,
                             dev, seed, op, noise_seed=noise_seed, record_cols=record_cols,
                             record_out=record_out, record_rows=record_rows)

    def exact_update_clipped(self, W, X, D, lr, b_min, b_max, n_threads=1):
        """Exact SGD steps sample by sample, each clipped to [b_min, b_max] (aihwkit's
        ``NONE_WITH_DEVICE`` on the CPU); see ``_core.exact_update_clipped``."""
        xp = self.xp
        neg_lr = W.dtype.type(-lr)
        for b in range(X.shape[0]):  # the clip after every sample makes the steps sequential
            # w + (-lr d_i) x_j, rounded as the core rounds it
            W += xp.outer(neg_lr * D[b], X[b])
            xp.clip(W, b_min, b_max, out=W)

    # ----- compound cells: the transfer buffers and the one-sided refresh ------------------------
    # The twins of the core's entry points of rpu/tiles/_compounds.py. The per-event vectors
    # (cols, chop, lr_scale, switched) are small and made on the host by the compound's
    # schedule: they may be host or device arrays and are copied to the device here. The reads
    # and the buffers are device arrays; the buffers are advanced in place. The pulse counts
    # come back as the core's do: an (n_ev, d) int32 view of a (d, n_ev) device array.
    def _buffer_args(self, what, reads, cols, buffers):
        xp = self.xp
        if reads.ndim != 2:
            raise ValueError(f"{what}: reads must be (n_ev, d), got shape {reads.shape}.")
        n_ev, d = reads.shape
        cols = xp.asarray(cols, dtype=np.int32)
        if cols.shape != (n_ev,):
            raise ValueError(f"{what}: cols must have shape ({n_ev},), got {cols.shape}.")
        for name, h in buffers.items():
            if h.dtype != reads.dtype or h.ndim != 2 or h.shape[0] != d or not h.flags.c_contiguous:
                raise ValueError(f"{what}: {name} must be a C-contiguous ({d}, x) array of "
                                 f"{reads.dtype.name}, got {h.dtype.name} of shape {h.shape}.")
        return xp.ascontiguousarray(reads.T), cols, xp.zeros((d, n_ev), dtype=np.int32)

    def _per_event(self, a, shape, dtype, name, what):
        a = self.xp.asarray(a, dtype=dtype)
        if a.shape != shape:
            raise ValueError(f"{what}: {name} must have shape {shape}, got {a.shape}.")
        return a

    def _chopper_args(self, what, reads, chop, lr_scale):
        """The chopper signs of the events, transposed to (d, n_ev), and their lr scales."""
        n_ev, d = reads.shape
        chop_t = self.xp.ascontiguousarray(
            self._per_event(chop, (n_ev, d), reads.dtype, "chop", what).T)
        return chop_t, self._per_event(lr_scale, (n_ev,), np.float64, "lr_scale", what)

    def chopped_buffer(self, reads, cols, chop, lr_scale, H, max_n, momentum, forget_buffer,
                       no_buffer, n_threads=1):
        """Advance the TTv2 buffer H (d, x) over a batch's transfer events; returns the pulse
        counts (n_ev, d) int32 (rpu_chopped_buffer_step; see ``_core.chopped_buffer``)."""
        what = "chopped_buffer"
        reads_t, cols, counts = self._buffer_args(what, reads, cols, {"H": H})
        n_ev, d = reads.shape
        if n_ev == 0 or d == 0:
            return counts.T
        chop_t, lr = self._chopper_args(what, reads, chop, lr_scale)
        T = reads.dtype.type
        self.runtime.kernel("rpu_chopped_buffer", reads.dtype)(
            element_grid(d), (ELEMENT_BLOCK,),
            (reads_t, cols, chop_t, lr, H, counts, np.int64(d), np.int64(H.shape[1]),
             np.int64(n_ev), np.int32(max_n), T(momentum), np.int32(forget_buffer),
             np.int32(no_buffer)))
        return counts.T

    def dynamic_buffer(self, reads, cols, chop, lr_scale, switched, H, mu, mu_past, max_n,
                       momentum, forget_buffer, cap, beta, n_threads=1):
        """Advance the AGAD buffers (H, the running mean mu, the reference mu_past; each (d, x))
        over a batch's transfer events; returns the pulse counts (n_ev, d) int32
        (rpu_dynamic_buffer_step; see ``_core.dynamic_buffer``)."""
        what = "dynamic_buffer"
        reads_t, cols, counts = self._buffer_args(what, reads, cols,
                                                  {"H": H, "mu": mu, "mu_past": mu_past})
        n_ev, d = reads.shape
        if n_ev == 0 or d == 0:
            return counts.T
        chop_t, lr = self._chopper_args(what, reads, chop, lr_scale)
        sw = self._per_event(switched, (n_ev,), np.int8, "switched", what)
        T = reads.dtype.type
        self.runtime.kernel("rpu_dynamic_buffer", reads.dtype)(
            element_grid(d), (ELEMENT_BLOCK,),
            (reads_t, cols, chop_t, lr, sw, H, mu, mu_past, counts, np.int64(d),
             np.int64(H.shape[1]), np.int64(n_ev), np.int32(max_n), T(momentum),
             np.int32(forget_buffer), T(cap), T(beta)))
        return counts.T

    def buffered_buffer(self, reads, cols, lr, H, thres, max_n, momentum, forget_buffer,
                        n_threads=1):
        """Advance the BufferedTransferCompound buffer H (d, x, weight units) over a batch's
        transfer events; returns the pulse counts (n_ev, d) int32 (rpu_buffered_buffer_step;
        see ``_core.buffered_buffer``)."""
        reads_t, cols, counts = self._buffer_args("buffered_buffer", reads, cols, {"H": H})
        n_ev, d = reads.shape
        if n_ev == 0 or d == 0:
            return counts.T
        T = reads.dtype.type
        self.runtime.kernel("rpu_buffered_buffer", reads.dtype)(
            element_grid(d), (ELEMENT_BLOCK,),
            (reads_t, cols, H, counts, np.int64(d), np.int64(H.shape[1]), np.int64(n_ev), T(lr),
             T(thres), np.int32(max_n), T(momentum), np.int32(forget_buffer)))
        return counts.T

    def refresh_select(self, P, M, wp, wm, upper, lower, out, n_threads=1):
        """out (d, x) int8 = 1 where a one-sided refresh re-writes the element, from the reads
        P (g+) and M (g-) (rpu_refresh_needed; see ``_core.refresh_select``)."""
        if M.shape != P.shape or out.shape != P.shape:
            raise ValueError("refresh_select: P, M and out must have the same shape.")
        if out.dtype != np.int8 or M.dtype != P.dtype:
            raise TypeError(f"refresh_select: P and M must share a dtype and out must be int8, "
                            f"got {P.dtype.name}, {M.dtype.name} and {out.dtype.name}.")
        T = P.dtype.type
        self.runtime.kernel("rpu_refresh_select", P.dtype)(
            element_grid(P.size), (ELEMENT_BLOCK,),
            (self.xp.ascontiguousarray(P), self.xp.ascontiguousarray(M), out, np.int64(P.size),
             T(wp), T(wm), T(upper), T(lower)))
