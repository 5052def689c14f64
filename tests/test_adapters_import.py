"""``import rpu`` and ``import rpu.adapters`` load neither PyTorch nor JAX (checked in a fresh
interpreter, since the test process may already have imported them)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_import_rpu_imports_no_framework():
    code = ("import sys, rpu, rpu.adapters, rpu.tiles, rpu.serialization\n"
            "loaded = sorted(m for m in ('torch', 'jax', 'jaxlib') if m in sys.modules)\n"
            "print(','.join(loaded))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
    # The check itself can fail: importing the adapter does load torch.
    code_torch = code.replace("import sys, rpu,", "import sys, rpu, rpu.adapters.torch,")
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    out = subprocess.run([sys.executable, "-c", code_torch], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert "torch" in out.stdout
