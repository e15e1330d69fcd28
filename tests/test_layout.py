"""The import graph runs one way: no module imports a module above it (DESIGN.md section 5).

Run it alone with ``python -m pytest tests/test_layout.py``. Levels are listed bottom-up; a
module may import only modules of a lower level (or its own package's ``__init__``).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEVELS = [
    [
        "alignment",
        "alignment.classifier",
        "alignment.classifier.config",
        "alignment.classifier.data",
        "alignment.classifier.stats",
        "alignment.engine",
        "alignment.engine.curvature",
        "alignment.engine.family",
        "alignment.engine.integrate",
        "alignment.engine.sharding",
        "alignment.mean_field",
        "alignment.mean_field.claims",
        "alignment.mean_field.config",
        "alignment.mean_field.family",
        "alignment.runner",
        "alignment.runner.cli",
        "alignment.runner.provenance",
        "alignment.runner.results",
        "alignment.two_layer",
        "alignment.two_layer.certificates",
        "alignment.two_layer.crossing",
        "alignment.two_layer.data",
        "alignment.two_layer.extremal",
        "alignment.two_layer.model",
        "alignment.two_layer.powerlaw",
        "alignment.two_layer.verdicts",
        "figures",
        "sweeps",
        "sweeps.configs",
    ],
    [
        "alignment.classifier.claims",
        "alignment.classifier.family",
        "alignment.engine.train",
        "alignment.runner.checkpoint",
        "alignment.two_layer.judge",
        "alignment.two_layer.stats",
        "alignment.two_layer.threshold",
        "figures.style",
    ],
    [
        "alignment.runner.workdir",
        "alignment.two_layer.config",
        "alignment.two_layer.family",
        "alignment.two_layer.rounds",
        "alignment.two_layer.trajectory",
    ],
    ["alignment.two_layer.programs", "sweeps.configs.base"],
    ["alignment.two_layer.grid"],
    [
        "alignment.two_layer.records",
        "alignment.two_layer.report",
        "alignment.two_layer.verdict_loop",
        "figures.load",
    ],
    [
        "alignment.runner.driver",
        "figures.axis_figs",
        "figures.classifier_figs",
        "figures.dynamics",
        "figures.mean_field_figs",
        "figures.threshold_figs",
        "figures.verdict_figs",
    ],
    ["alignment.classifier.job", "alignment.mean_field.job", "figures.make"],
    ["alignment.classifier.report", "alignment.mean_field.report"],
    ["alignment.registry"],
    ["sweeps.merge"],
    ["sweeps.launch", "sweeps.run"],
]
LEVEL = {name: i for i, names in enumerate(LEVELS) for name in names}
PACKAGES = ("alignment", "figures", "sweeps")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_imports(path: Path) -> set[str]:
    """Every project module ``path`` imports (``from a import b`` counts a.b when b is one)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m.split(".")[0] in PACKAGES and m in LEVEL}


def sources():
    for pkg in PACKAGES:
        yield from sorted((ROOT / pkg).rglob("*.py"))


def test_every_module_has_a_level():
    missing = [module_name(p) for p in sources() if module_name(p) not in LEVEL]
    missing = [m for m in missing if not m.startswith("sweeps.configs.")]  # configs: leaves
    assert not missing, f"add these modules to LEVELS: {missing}"


def test_imports_run_one_way():
    bad = []
    for path in sources():
        name = module_name(path)
        level = LEVEL.get(name, len(LEVELS))  # config files sit above everything
        for dep in project_imports(path):
            if dep != name and LEVEL[dep] >= level and not name.startswith(dep + "."):
                bad.append(f"{name} (level {level}) imports {dep} (level {LEVEL[dep]})")
    assert not bad, "\n".join(bad)
