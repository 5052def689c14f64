"""The README's Python examples run as written, in reading order.

The blocks share one namespace, as a reader who pastes them one after the other would (the
training examples use the quick start's ``x`` and ``d``). A block whose first line is
``# (excerpt: ...)`` shows part of a longer script and is not run; a block that needs an
optional package that is missing here (PyTorch, CuPy) is skipped with the blocks after it
still running.
"""
import os
import re

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
OPTIONAL = ("torch", "jax", "cupy")


def _python_blocks():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the quick start saves tile.npz into the working directory
    blocks = _python_blocks()
    namespace = {"__name__": "readme"}
    ran, skipped = 0, []
    for k, source in enumerate(blocks):
        if source.startswith("# (excerpt"):
            continue
        try:
            exec(compile(source, f"README.md python block {k}", "exec"), namespace)
        except ModuleNotFoundError as exc:
            if exc.name not in OPTIONAL:
                raise
            skipped.append((k, exc.name))
            continue
        ran += 1
    # the quick start, the pulsed update, the algorithms, the inference tile, the noise models
    # and the post-update steps need nothing optional
    assert ran >= 6, f"only {ran} README blocks ran (skipped: {skipped})"
    assert (tmp_path / "tile.npz").is_file()


def test_readme_has_runnable_examples():
    blocks = _python_blocks()
    assert len(blocks) >= 8
    assert sum(not b.startswith("# (excerpt") for b in blocks) >= 7
