"""The CUDA source of the GPU backend: the kernel headers' text followed by the kernel files.

The headers are concatenated here instead of being pulled in with ``-I``: CuPy's compile cache
keys on the source string, so an edited header must change the string, or a stale binary would
be reused. The same string is what the NVRTC compile test checks on machines without a GPU.
"""
from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent
HEADERS = ("rpu_common.h", "rng_ids.h", "normal.h", "philox.h", "mvm_io.h", "pulse_trains.h",
           "pulsed_devices.h", "transfer.h", "pcm_noise.h", "weight_modifier.h", "noise_models.h",
           "unit_cells.h")
# The kernel files, appended in this order; each has its own list of kernels (every kernel is a
# template on the float type, instantiated for float and double).
KERNEL_FILES = ("kernels.cu", "mvm_kernels.cu", "update_kernels.cu", "inference_kernels.cu")
BASE_KERNELS = ("rpu_uniform_fill", "rpu_normal_fill", "rpu_device_pulse_elements",
                "rpu_dense_counts", "rpu_modify_weights", "rpu_noise_program_elements",
                "rpu_noise_drift_elements", "rpu_refresh_select", "rpu_buffered_buffer",
                "rpu_one_sided_counts")
# the analog MVM's passes (mvm_kernels.cu, used by rpu/gpu/mvm.py)
MVM_KERNELS = ("rpu_mvm_nm_dac", "rpu_mvm_nm_running", "rpu_mvm_line_effects",
               "rpu_mvm_adc")
# the pulsed update's passes (update_kernels.cu, used by rpu/gpu/update.py)
UPDATE_KERNELS = ("rpu_update_trains", "rpu_update_compact", "rpu_update_rows")
# the inference noise models' passes (inference_kernels.cu, used by rpu/gpu/inference.py)
INFERENCE_KERNELS = ("rpu_prog_std_elements", "rpu_nu_moments_elements", "rpu_drift_nu_elements",
                     "rpu_nu_draw_elements", "rpu_read_std_elements", "rpu_noise_drift_params")
KERNELS = BASE_KERNELS + MVM_KERNELS + UPDATE_KERNELS + INFERENCE_KERNELS
OPTIONS = ("--std=c++17", "--fmad=false")
# the transfer compounds' buffers (compound_kernels.cu, used by rpu/gpu/backend.py)
COMPOUND_KERNELS = ("rpu_chopped_buffer", "rpu_dynamic_buffer")
KERNEL_FILES += ("compound_kernels.cu",)
KERNELS += COMPOUND_KERNELS


def _strip_local_includes(text):
    # The headers include each other by quoted name; in the concatenation each appears once,
    # in dependency order, so those lines are dropped.
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith('#include "'))


def module_source():
    """The complete CUDA C++ source text of the RawModule."""
    parts = [_strip_local_includes((_PKG / "_kernels" / name).read_text()) for name in HEADERS]
    parts += [(_PKG / "gpu" / name).read_text() for name in KERNEL_FILES]
    return "\n".join(parts)


def name_expressions():
    """Every kernel instantiation the module exports: one per kernel and floating dtype."""
    return [f"{kernel}<{t}>" for kernel in KERNELS for t in ("float", "double")]
