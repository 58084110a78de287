"""Write the API's OpenAPI schema (what /openapi.json serves) to the file named on the command line,
for `npm run api-types`, which turns it into web/openapi.d.ts, the types the review page is checked
against. The app is built on a throwaway home and SQLite file: the schema does not depend on data."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path


def main(target: str) -> None:
    with tempfile.TemporaryDirectory() as home:
        os.environ["MOBILABEL_HOME"] = home
        os.environ["MOBILABEL_DATABASE_URL"] = f"sqlite:///{home}/schema.db"
        os.environ["MOBILABEL_ALLOWED_ROOTS"] = home  # only to keep its start-up warning quiet: the schema is the same
        from mobilabel.api.app import create_app
        from mobilabel.config import load_settings

        schema = create_app(load_settings()).openapi()
    Path(target).write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
