"""The CUDA source of the GPU backend: the kernel headers' text followed by kernels.cu.

The headers are concatenated here instead of being pulled in with ``-I``: CuPy's compile cache
keys on the source string, so an edited header must change the string, or a stale binary would
be reused. The same string is what the NVRTC compile test checks on machines without a GPU.
"""
from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent
HEADERS = ("rpu_common.h", "rng_ids.h", "normal.h", "philox.h", "mvm_io.h", "pulse_trains.h",
           "pulsed_devices.h", "transfer.h", "pcm_noise.h", "weight_modifier.h", "noise_models.h",
           "unit_cells.h")
KERNELS = ("rpu_uniform_fill", "rpu_normal_fill", "rpu_dac_rows", "rpu_adc_rows",
           "rpu_device_pulse_elements", "rpu_dense_counts", "rpu_modify_weights",
           "rpu_noise_program_elements", "rpu_noise_drift_elements", "rpu_refresh_select",
           "rpu_buffered_buffer", "rpu_one_sided_counts")
OPTIONS = ("--std=c++17", "--fmad=false")


def _strip_local_includes(text):
    # The headers include each other by quoted name; in the concatenation each appears once,
    # in dependency order, so those lines are dropped.
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith('#include "'))


def module_source():
    """The complete CUDA C++ source text of the RawModule."""
    parts = [_strip_local_includes((_PKG / "_kernels" / name).read_text()) for name in HEADERS]
    parts.append((_PKG / "gpu" / "kernels.cu").read_text())
    return "\n".join(parts)


def name_expressions():
    """Every kernel instantiation the module exports: one per kernel and floating dtype."""
    return [f"{kernel}<{t}>" for kernel in KERNELS for t in ("float", "double")]
