"""README.md, docs/ and the deploy files name API paths: each one checked against the app's
routes, not against a list kept by hand."""

from __future__ import annotations

import re
from pathlib import Path

from carbonstream.api import ApiSettings, create_app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
DEPLOY = sorted(
    p for p in (ROOT / "deploy").rglob("*") if p.suffix in {".yml", ".yaml", ".json", ".md"}
)
# /v1/... as an HTTP path: not the MQTT topics carbonstream/v1/{site}/{gateway}/...
API_PATH = re.compile(r"(?<![\w/])/v1/[\w{}<>.:/-]*[\w}>]")
PLACEHOLDER = re.compile(r"\{[^}/]*\}|<[^>/]*>")


def _routes() -> list[re.Pattern[str]]:
    plant = ROOT / "config" / "plant.example.yaml"
    app = create_app(ApiSettings(plant=str(plant)), "postgresql://unused@127.0.0.1:1/unused")
    return [
        re.compile("^" + "[^/]+".join(map(re.escape, PLACEHOLDER.split(path))) + "$")
        for path in app.openapi()["paths"]
    ]


def test_api_paths_named_in_docs_and_deploy_exist() -> None:
    routes = _routes()
    unknown = []
    for f in DOCS + DEPLOY:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            for m in API_PATH.finditer(line):
                path = PLACEHOLDER.sub("x", m.group(0))
                if not any(r.match(path) for r in routes):
                    unknown.append(f"{f.relative_to(ROOT)}:{n}: {m.group(0)}")
    assert not unknown, "paths the API does not serve:\n" + "\n".join(unknown)
