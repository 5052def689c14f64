"""The CPU core's inference entry points on the GPU: noise models and weight modifiers.

``InferenceKernels`` is a part of :class:`rpu.gpu.backend.CudaBackend`: methods with the names
and arguments of the functions of ``rpu/_core.pyx``'s inference sections (``modify_weights``,
``noise_program``, ``drift_nu``, ``noise_drift``, ...), on arrays of ``self.xp``, that launch
the kernels of ``rpu/gpu/kernels.cu`` and ``rpu/gpu/inference_kernels.cu``. The per-element math
and the Philox counters are the core's (``rpu/_kernels/pcm_noise.h``, ``noise_models.h``,
``weight_modifier.h``), so both backends draw the same numbers. ``n_threads`` is accepted and
ignored. ``rpu.inference`` and ``rpu.tiles.weight_modifier`` call these through the backend a
tile (or the caller) passes them.
"""
import numpy as np

from rpu.gpu._runtime import ELEMENT_BLOCK, element_grid


class InferenceKernels:
    """The inference methods of CudaBackend (needs ``self.runtime``; see the module docstring)."""

    def _launch(self, name, dtype, n, args):
        if n > 0:
            self.runtime.kernel(name, dtype)(element_grid(n), (ELEMENT_BLOCK,), args)

    # ----- weight modifier ---------------------------------------------------------------------
    def modify_weights(self, W, out, spec, coeffs, seed, op, n_threads=1):
        """``out = M(W)`` for one weight modifier; see ``_core.modify_weights`` (same ``spec``)."""
        t = W.dtype.type
        d, n = W.shape
        self._launch("rpu_modify_weights", W.dtype, d * n, (
            W, out, np.int64(d), np.int64(n), np.int64(spec["n_mod"]), np.int32(spec["type"]),
            np.int32(bool(spec["transform"])), np.int32(spec["n_normal"]),
            np.int32(bool(spec["sto_round"])), np.int32(spec["event_mask"]), t(spec["pdrop"]),
            t(spec["amax"]), t(spec["res"]), t(spec["std_dev"]), t(spec["dorefa_clip"]),
            t(spec["g_max"]), coeffs if coeffs.shape[0] > 0 else None,
            np.int32(coeffs.shape[0]), t(spec["pcm_zero_thres"]),
            np.float64(spec["pcm_t_inference"]), np.float64(spec["pcm_t0"]),
            t(spec["pcm_prob_at_reset"]), t(spec["pcm_prob_at_gmax"]),
            t(spec["pcm_prob_at_random"]), np.uint64(seed), np.uint64(op)))

    # ----- programming noise -------------------------------------------------------------------
    def pcm_prog_std(self, g_target, out, coeff, g_max, g_max_ref, n_threads=1):
        """``out = poly(g/g_max) g_max/g_max_ref``; see ``_core.pcm_prog_std``."""
        t = g_target.dtype.type
        self._launch("rpu_prog_std_elements", g_target.dtype, g_target.size, (
            g_target, out, np.int64(g_target.size), coeff if coeff.shape[0] else None,
            np.int32(coeff.shape[0]), t(g_max), t(g_max_ref)))

    def noise_program(self, g_target, out, coeff, g_norm, g_ref, scale, clip_zero, seed, op,
                      purpose, sub, n_threads=1):
        """``out = g + scale sigma(g) xi`` (clipped at 0 if ``clip_zero``); see
        ``_core.noise_program``."""
        t = g_target.dtype.type
        rows, cols = g_target.shape
        self._launch("rpu_noise_program_elements", g_target.dtype, rows * cols, (
            g_target, out, np.int64(rows), np.int64(cols), coeff if coeff.shape[0] else None,
            np.int32(coeff.shape[0]), t(g_norm), t(g_ref), t(scale), np.int32(bool(clip_zero)),
            np.uint64(seed), np.uint64(op), np.int32(purpose), np.uint32(sub)))

    # ----- drift exponents ---------------------------------------------------------------------
    def nu_moments(self, g_target, mu, sigma, model, g_max, num_devices, n_threads=1):
        """See ``_core.nu_moments`` (``model``: a code of ``_core.NOISE_DRIFT_MODELS``)."""
        self._launch("rpu_nu_moments_elements", g_target.dtype, g_target.size, (
            g_target, mu, sigma, np.int64(g_target.size), np.int32(model),
            g_target.dtype.type(g_max), np.int32(num_devices)))

    def drift_nu(self, g_target, out, model, g_max, num_devices, drift_scale, seed, op, sub,
                 n_threads=1):
        """See ``_core.drift_nu``."""
        t = out.dtype.type
        rows, cols = out.shape
        self._launch("rpu_drift_nu_elements", out.dtype, rows * cols, (
            g_target, out, np.int64(rows), np.int64(cols), np.int32(model), t(g_max),
            np.int32(num_devices), t(drift_scale), np.uint64(seed), np.uint64(op),
            np.uint32(sub)))

    def nu_draw(self, mu, sigma, out, drift_scale, seed, op, sub, n_threads=1):
        """See ``_core.nu_draw``."""
        rows, cols = out.shape
        self._launch("rpu_nu_draw_elements", out.dtype, rows * cols, (
            mu, sigma, out, np.int64(rows), np.int64(cols), out.dtype.type(drift_scale),
            np.uint64(seed), np.uint64(op), np.uint32(sub)))

    # ----- read noise and drift ------------------------------------------------------------------
    def read_std(self, g_prog, out, model, g_max, num_devices, t_inference, t_0, t_read,
                 n_threads=1):
        """See ``_core.read_std``."""
        self._launch("rpu_read_std_elements", g_prog.dtype, g_prog.size, (
            g_prog, out, np.int64(g_prog.size), np.int32(model), g_prog.dtype.type(g_max),
            np.int32(num_devices), np.float64(t_inference), np.float64(t_0),
            np.float64(t_read)))

    def noise_drift(self, g_prog, nu, out, model, num_devices, t_inference, t_0, t_read,
                    read_noise_scale, g_max, mean_shift, relax_std, read_k, g_min, seed, op, sub,
                    n_threads=1):
        """Drift and read noise of every noise model; see ``_core.noise_drift``."""
        rows, cols = g_prog.shape
        if rows * cols == 0:
            return
        par = self.xp.empty(8, dtype=g_prog.dtype)
        self.runtime.kernel("rpu_noise_drift_params", g_prog.dtype)((1,), (1,), (
            par, np.float64(t_inference), np.float64(t_0), np.float64(t_read),
            np.float64(read_noise_scale), np.float64(g_max), np.float64(mean_shift),
            np.float64(relax_std), np.float64(read_k), np.float64(g_min)))
        self._launch("rpu_noise_drift_elements", g_prog.dtype, rows * cols, (
            g_prog, nu, out, np.int64(rows), np.int64(cols), np.int32(model),
            np.int32(num_devices), par, np.int32(read_noise_scale != 0), np.uint64(seed),
            np.uint64(op), np.uint32(sub)))
