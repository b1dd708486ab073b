"""`make bench`: run every bench/*.py (each prints its figures and returns a flat dict) and write
bench/results.json. Every figure is a ratio against a floor measured in the same run, or a count
of AWS calls, so it holds on a noisy machine."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    results: dict[str, object] = {}
    for path in sorted(HERE.glob("*.py")):
        if path.name in {"run.py", "common.py"} or path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        sys.stdout.write(f"== {path.name}\n")
        figures = module.run()
        for key, value in figures.items():
            sys.stdout.write(f"  {key}: {value}\n")
        results.update(figures)
    (HERE / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {HERE / 'results.json'}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
