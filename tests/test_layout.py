"""The import graph runs one way: no module imports a module above it (DESIGN.md section 5).

Run it alone with ``python -m pytest tests/test_layout.py``. Levels are listed bottom-up; a
module may import only modules of a lower level (or its own package's ``__init__``).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEVELS = [
    ["alignment"],
    ["alignment.data", "alignment.cli", "alignment.provenance", "alignment.class_data",
     "alignment.crossing"],
    ["alignment.model", "alignment.extremal", "alignment.certificates"],
    ["alignment.stats", "alignment.class_stats"],
    ["alignment.families", "alignment.families.base", "alignment.families.two_layer",
     "alignment.families.mean_field", "alignment.families.classifier"],
    ["alignment.integrate", "alignment.sharding", "alignment.curvature"],
    ["alignment.train"],
    ["alignment.verdicts", "alignment.threshold", "alignment.powerlaw", "alignment.trajectory",
     "alignment.programs", "alignment.results"],
    ["alignment.mf_claims", "alignment.cls_claims"],
    ["alignment.config", "alignment.mf_config", "alignment.cls_config", "alignment.plotting",
     "alignment.checkpoint", "alignment.judge"],
    ["alignment.grid", "alignment.workdir", "alignment.rounds"],
    ["alignment.verdict_loop", "alignment.records"],
    ["alignment.report", "alignment.sweep"],
    ["alignment.mean_field_job", "alignment.classifier_job"],
    ["alignment.mf_report", "alignment.cls_report"],
    ["alignment.jobs"],
    ["figures", "figures.load"],
    ["figures.threshold_figs", "figures.dynamics", "figures.verdict_figs",
     "figures.mean_field_figs", "figures.classifier_figs", "figures.axis_figs"],
    ["figures.make"],
    ["sweeps", "sweeps.configs", "sweeps.configs.base"],
    ["sweeps.merge"],
    ["sweeps.run", "sweeps.launch"],
]  # fmt: skip
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
