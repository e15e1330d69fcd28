"""The house: imports run one way, a family is a package, the runner names no family.

Floors, bottom-up (DESIGN.md section 5): the engine; a family's science (its modules that do
not reach the runner); the runner; a family's job (its modules that do, directly or through
its own package); the registry (the only place that lists families); figures; sweeps. A module
imports only modules of its own floor within its own package (a family's package with its
subpackages), or of lower floors; the graph
has no circle; no family imports another family's modules, except the borrowings listed.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("alignment", "figures", "sweeps")
FAMILIES = ("two_layer", "mean_field", "classifier")
FLOORS = ("engine", "science", "runner", "job", "registry", "figures", "sweeps")
# one wing borrowing another's science: the classifier's small-init schemes are the core's
BORROWED = {("alignment.classifier.family", "alignment.two_layer.model")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_imports(path: Path, known: set[str]) -> set[str]:
    """Every project module ``path`` imports (``from a import b`` counts a.b when b is one)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            out |= subs or {node.module}  # a package's face counts only for its own names
    name = module_name(path)
    return {m for m in out if m in known and m != name and not name.startswith(m + ".")}


def graph() -> dict[str, set[str]]:
    paths = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    known = {module_name(p) for p in paths}
    return {module_name(p): project_imports(p, known) for p in paths}


def family_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "alignment" and parts[1] in FAMILIES else None


def floors(deps: dict[str, set[str]]) -> dict[str, str]:
    """Each module's floor; a family module is 'job' when it reaches the runner through
    itself or its own package, else 'science'."""

    def reaches_runner(name, seen=()):
        for d in deps[name]:
            if d.startswith("alignment.runner"):
                return True
            own = family_of(d) == family_of(name) and d not in seen
            if own and reaches_runner(d, (*seen, name)):
                return True
        return False

    out = {}
    for name in deps:
        top, *rest = name.split(".")
        sub = rest[0] if rest else ""
        if top in ("figures", "sweeps"):
            out[name] = top
        elif sub in ("engine", "runner", "registry"):
            out[name] = sub
        elif family_of(name):
            out[name] = "job" if reaches_runner(name) else "science"
        else:
            out[name] = "engine"  # the package's face: alignment/__init__.py
    return out


def test_imports_run_one_way():
    deps = graph()
    floor = {k: FLOORS.index(v) for k, v in floors(deps).items()}
    bad = []
    for name, ds in deps.items():
        for d in ds:
            same_package = (
                name.rsplit(".", 1)[0] == d.rsplit(".", 1)[0]
                or (family_of(name) and family_of(name) == family_of(d))  # its subpackages
                or (name, d) in BORROWED
            )
            if floor[d] > floor[name] or (
                floor[d] == floor[name] and not same_package and floor[d] not in (5, 6)
            ):
                bad.append(f"{name} ({FLOORS[floor[name]]}) imports {d} ({FLOORS[floor[d]]})")
    assert not bad, "\n".join(sorted(bad))


def test_no_circles():
    deps, done, bad = graph(), set(), []

    def visit(name, stack):
        if name in stack:
            bad.append(" -> ".join([*stack[stack.index(name) :], name]))
            return
        if name in done:
            return
        for d in sorted(deps[name]):
            visit(d, [*stack, name])
        done.add(name)

    for name in sorted(deps):
        visit(name, [])
    assert not bad, "\n".join(bad)


def test_a_family_imports_no_other_family():
    bad = [
        f"{a} imports {b}"
        for a, ds in graph().items()
        for b in ds
        if family_of(a) and family_of(b) and family_of(a) != family_of(b) and (a, b) not in BORROWED
    ]
    assert not bad, "\n".join(sorted(bad))


def test_engine_and_runner_name_no_family():
    """Nothing generic names a family: not its package, its fields or its outputs."""
    words = (*FAMILIES, "threshold", "n_boot", "mean-field")
    bad = []
    for part in ("engine", "runner"):
        for path in sorted((ROOT / "alignment" / part).glob("*.py")):
            text = path.read_text().lower()
            bad += [f"{path.name}: {w}" for w in words if w in text]
    assert not bad, "\n".join(bad)
