"""No route module imports another route module: shared helpers (not_found, the period
queries, auth dependencies) live in api/problems.py, api/deps.py and api/auth.py, so
routes stay independent and thin."""

from __future__ import annotations

import ast
from pathlib import Path

import carbonstream.api.routes as routes_pkg

ROUTES = "carbonstream.api.routes"


def _route_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):  # walk, so an import inside a function is seen too
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: ".sites" or "from . import sites"
                found.append(f"{'.' * node.level}{node.module or ''}")
            elif node.module and node.module.startswith(ROUTES + "."):
                found.append(node.module)
            elif node.module == ROUTES:
                found.extend(f"{ROUTES}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith(ROUTES + "."))
    return found


def test_no_route_module_imports_another_route_module() -> None:
    files = sorted(Path(routes_pkg.__file__).parent.glob("*.py"))
    modules = [p for p in files if p.name != "__init__.py"]
    assert len(modules) >= 10  # the walk sees the route modules, or it proves nothing
    offenders = {p.name: hits for p in modules if (hits := _route_imports(p))}
    assert offenders == {}, f"move shared helpers to api/problems.py or api/deps.py: {offenders}"


def test_the_check_sees_an_import_between_routes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from carbonstream.api.routes.sites import meter_public\n"
        "def f():\n    import carbonstream.api.routes.live\n",
        encoding="utf-8",
    )
    assert _route_imports(bad) == [
        "carbonstream.api.routes.sites",
        "carbonstream.api.routes.live",
    ]
