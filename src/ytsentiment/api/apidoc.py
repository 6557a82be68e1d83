"""The API reference of the docs site: ``docs/api/openapi.json``, the document the app serves at ``/openapi.json``.

``python -m ytsentiment.api.apidoc`` (``make api-reference``) builds an app with ``create_app`` on its default limits,
asks it for ``/openapi.json`` and writes the answer; ``--check`` writes nothing and exits 1 when the committed file
differs (``tests/delivery/test_docs.py`` asserts the same, so the reference cannot drift from the code). The app
gets a stand-in model (the document does not depend on the model), no prediction log and a throw-away SQLite file,
and the environment's MAX_* limits are ignored, so the file is the same on every machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from ytsentiment.api import create_app
from ytsentiment.api.model_store import LoadedModel
from ytsentiment.api.settings import Settings
from ytsentiment.api.storage import STORAGE_KEY

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "api" / "openapi.json"
INFO: dict[str, Any] = {"name": "apidoc", "version": "0", "alias": "none", "uri": "apidoc://none", "run_id": "none",
        "metrics": {}, "trained_at": None}


class _NoModel:
    """Answers what the app asks at load time; the document never needs a prediction."""

    classes_ = [-1, 0, 1]

    def predict_proba(self, frame):
        raise RuntimeError("the API reference generator serves no predictions")


def served_document() -> dict[str, Any]:
    """What ``GET /openapi.json`` answers on an app with the default limits."""
    defaults = Settings()
    with tempfile.TemporaryDirectory(prefix="apidoc-") as tmp:
        app = create_app({
            "model_loader": lambda uri: LoadedModel(_NoModel(), {**INFO, "uri": uri}),
            "load_in_background": False, "prediction_log": False, "database_auto_migrate": False,
            "database_url": f"sqlite:///{Path(tmp) / 'apidoc.db'}",
            "max_comments": defaults.max_comments, "max_comment_chars": defaults.max_comment_chars,
            "max_content_length": defaults.max_content_length,
        })
        try:
            response = app.test_client().get("/openapi.json")
            if response.status_code != 200:
                raise RuntimeError(f"/openapi.json answered {response.status_code}")
            return response.get_json()
        finally:
            app.extensions[STORAGE_KEY].close(timeout=5)


def render(document: dict[str, Any]) -> str:
    """The committed form: the app's key order, two-space indent, non-ASCII kept, one final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ytsentiment.api.apidoc", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REFERENCE, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out differs from what the app serves")
    args = parser.parse_args(argv)
    text = render(served_document())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} differs from the app's /openapi.json: run `make api-reference`", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
