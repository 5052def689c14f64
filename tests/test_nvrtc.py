"""The GPU module source compiles under NVRTC, on machines without a GPU.

Uses NVRTC from the PyPI packages cuda-bindings and nvidia-cuda-nvrtc (the ``nvrtc`` extra);
skipped when they are absent. A header that only compiles under gcc fails here, early.
"""
import pytest

from rpu.gpu import _source

nvrtc = pytest.importorskip("cuda.bindings.nvrtc")


def _check(result):
    err = result[0] if isinstance(result, tuple) else result
    assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS, err
    return result[1:] if isinstance(result, tuple) and len(result) > 1 else None


def test_module_source_compiles_with_every_kernel_instantiated():
    src = _source.module_source()
    assert '#include "' not in src  # the headers are inlined, in dependency order
    (prog,) = _check(nvrtc.nvrtcCreateProgram(src.encode(), b"rpu_kernels.cu", 0, [], []))
    names = _source.name_expressions()
    for name in names:
        _check(nvrtc.nvrtcAddNameExpression(prog, name.encode()))
    options = [o.encode() for o in _source.OPTIONS] + [b"--gpu-architecture=compute_80"]
    result = nvrtc.nvrtcCompileProgram(prog, len(options), options)
    (size,) = _check(nvrtc.nvrtcGetProgramLogSize(prog))
    # a writable buffer: NVRTC writes the log into it (into b" " * 1, the empty log's one
    # byte overwrote CPython's shared b" ", which broke later code such as torch.load)
    log = bytearray(size)
    nvrtc.nvrtcGetProgramLog(prog, log)
    assert result[0] == nvrtc.nvrtcResult.NVRTC_SUCCESS, bytes(log).decode(errors="replace")
    for name in names:
        (lowered,) = _check(nvrtc.nvrtcGetLoweredName(prog, name.encode()))
        assert lowered.startswith(b"_Z")
    nvrtc.nvrtcDestroyProgram(prog)


def test_source_changes_with_headers():
    src = _source.module_source()
    for fn in ("rpu_philox4x32_10", "rpu_dac_prepare", "rpu_adc_finalize", "RPU_RNG_OUT_NOISE"):
        assert fn in src
