"""Generate synthetic FlowStone projects of no-op assets for benchmarks.

The DAG is layered, 10 assets wide; every asset after the first layer depends on up to two
assets of the previous layer. Assets are written 100 to a module, as a large real project would.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

WIDTH = 10
PER_MODULE = 100


def generate_project(root: Path, count: int, *, executor: str = "process", seed: int = 1) -> Path:
    """Write a project with `count` no-op assets under `root` (replacing it) and return it."""
    if root.exists():
        shutil.rmtree(root)
    (root / "assets").mkdir(parents=True)
    (root / "flowstone.toml").write_text(
        f'[project]\nname = "bench_{count}"\n\n[storage]\nroot = "data"\n\n'
        f'[executor]\ntype = "{executor}"\n')
    rng = random.Random(seed)
    lines: list[str] = []
    module = 0

    def flush() -> None:
        nonlocal lines, module
        if lines:
            header = "from flowstone_cli import asset\n\n"
            (root / "assets" / f"layer_{module:04d}.py").write_text(header + "\n".join(lines))
            module += 1
            lines = []

    for i in range(count):
        layer, column = divmod(i, WIDTH)
        if layer == 0:
            params: list[str] = []
        else:
            previous = [f"a{(layer - 1) * WIDTH + c}" for c in range(WIDTH)]
            params = sorted(set(rng.sample(previous, k=min(2, len(previous)))))
        del column
        lines.append(f"@asset(group=\"g{layer % 7}\", tags={{\"layer\": \"{layer}\"}})\n"
                     f"def a{i}({', '.join(params)}):\n    return {i}\n\n")
        if len(lines) >= PER_MODULE:
            flush()
    flush()
    return root
