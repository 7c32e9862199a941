"""Benchmark: what an API app's first request pays to know its upload routes (the body
limit guard's ``upload_operations``): read from the routes now, against building the
OpenAPI document, as the guard did before, in the same run. Fresh apps each time (the
document is cached per app). Both must find the same operations. One JSON object per line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from starlette.routing import compile_path

from carbonstream.api import ApiSettings, create_app
from carbonstream.api.guards import UPLOAD_MARK, upload_operations

PLANT = Path(__file__).resolve().parents[1] / "config" / "plant.example.yaml"
URL = "postgresql://postgres@127.0.0.1:5432/unused"  # never connected to


def from_document(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), compile_path(path)[0].pattern)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if isinstance(op, dict) and op.get(UPLOAD_MARK) == "upload"
    }


def main() -> None:
    reps = 5
    routes_s = document_s = 0.0
    for _ in range(reps):
        app = create_app(ApiSettings(plant=str(PLANT)), URL)
        t = time.perf_counter()
        got = {(m, r.pattern) for m, r in upload_operations(app.routes)}
        routes_s += time.perf_counter() - t
        t = time.perf_counter()
        want = from_document(app.openapi())
        document_s += time.perf_counter() - t
        assert got == want and got, (got, want)
    common = {"bench": "api_upload_routes", "upload_operations": len(got)}
    print(json.dumps({**common, "metric": "openapi_s", "value": document_s / reps, "unit": "s"}))
    print(
        json.dumps(
            {
                **common,
                "metric": "from_routes_s",
                "value": routes_s / reps,
                "unit": "s",
                "vs": "openapi_s",
                "ratio": document_s / routes_s,
            }
        )
    )


if __name__ == "__main__":
    main()
