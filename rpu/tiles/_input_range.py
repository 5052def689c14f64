"""The learned input range of a tile's periphery (aihwkit's ``InputRangeParameter``).

Spec: shared/spec/inference.md section 5.1. With an input range ``r`` the tile clips its inputs
to ``[-|r|, |r|]`` and divides them by ``r`` before the crossbar (whose DAC then sees inputs in
``[-1, 1]``), and multiplies the outputs by ``r`` afterwards. ``r`` starts from the data (a
running mean of ``init_std_alpha * std(x)`` over the first ``init_from_data`` training batches)
and is then learnt: its gradient pushes it up where inputs clip and the loss wants them larger,
and a decay term shrinks it while almost nothing clips.

The state is two numbers (``value`` and the count of data-initialisation batches), so it is
kept here on the host for both backends; the per-element work is a clip and a division, done
with array operations of the tile's array module ``xp`` (NumPy, or CuPy on the GPU backend).
"""
import numpy as np

__all__ = ["InputRange"]


class InputRange:
    """State and rules of one tile's input range.

    Parameters
    ----------
    params : rpu.config.InputRangeParameter
        Must have ``enable=True``.
    """

    def __init__(self, params):
        self.params = params
        self.value = float(params.init_value)
        self.update_idx = 0

    def set(self, value):
        """Set ``r`` to ``|value|`` (aihwkit's ``set_input_range``)."""
        self.value = abs(float(value))

    def init_from_data(self, x_rows, xp=np):
        """One step of the data initialisation, on a training batch (before clipping).

        While fewer than ``init_from_data`` batches were seen, ``r <- (r idx + alpha std(x)) /
        (idx + 1)`` with the unbiased std over the whole batch (skipped when it is 0).
        """
        p = self.params
        if self.update_idx >= p.init_from_data or x_rows.size < 2:
            return
        std = float(xp.std(x_rows, ddof=1, dtype=np.float64))
        if std > 0:
            idx = self.update_idx
            self.value = (self.value * idx + p.init_std_alpha * std) / (idx + 1)
            self.update_idx = idx + 1
        self.value = abs(self.value)

    def apply(self, x_rows, xp=np):
        """The crossbar inputs ``clip(x, -|r|, |r|) / r``, shape and dtype of ``x_rows``."""
        r = x_rows.dtype.type(self.value)
        out = xp.clip(x_rows, -abs(r), abs(r))
        out /= r
        return out

    def gradient(self, x_rows, g_rows, out_clip_mask=None, xp=np):
        """The gradient of the loss with respect to ``r`` for one batch (a float).

        Parameters
        ----------
        x_rows : ndarray of shape (batch, in_size)
            The raw inputs of the training forward.
        g_rows : ndarray of shape (batch, in_size)
            The gradient with respect to the clipped inputs (the tile's backward output).
        out_clip_mask : ndarray of bool, shape (batch, out_size), optional
            Outputs that hit the output bound in that forward; used by
            ``manage_output_clipping``.
        xp : module
            The arrays' module (numpy, or cupy on the GPU backend).

        Notes
        -----
        ``G = sum_{x >= r} min(g, 0) - sum_{x <= -r} max(g, 0)``; times ``r gradient_scale`` when
        ``gradient_relative``; minus ``(1 - p_out) r`` when ``manage_output_clipping`` and the
        unclipped fraction of outputs ``p_out`` is below ``output_min_percentage``; plus
        ``decay r`` when the unclipped fraction of inputs is above ``input_min_percentage``.
        aihwkit 1.1.0 divides the count of clipped outputs by the number of *input* gradients
        (spec [bug?]); rpu divides by the number of outputs, the fraction its documentation
        describes.
        """
        p = self.params
        r = self.value
        upper = x_rows >= r
        lower = x_rows <= -r
        grad = float(xp.sum(xp.minimum(g_rows[upper], 0), dtype=np.float64)
                     - xp.sum(xp.maximum(g_rows[lower], 0), dtype=np.float64))
        if p.gradient_relative:
            grad *= r * p.gradient_scale
        if p.manage_output_clipping and out_clip_mask is not None and out_clip_mask.size:
            p_out = 1.0 - float(xp.count_nonzero(out_clip_mask)) / out_clip_mask.size
            if p_out < p.output_min_percentage:
                grad -= (1.0 - p_out) * r
        if p.decay > 0 and x_rows.size:
            # (the count over the size: the mean of the boolean mask, in any array module)
            p_in = int(xp.count_nonzero(xp.abs(x_rows) < r)) / x_rows.size
            if p_in > p.input_min_percentage:
                grad += p.decay * r
        return grad
