"""``python -m docs.gen [--check]``: write the generated pages, or with --check only list the stale ones (exit 1)."""

from __future__ import annotations

import argparse
import sys

from . import REPO, pages, stale


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m docs.gen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated page is stale")
    args = parser.parse_args()
    generated = pages()
    outdated = stale(generated)
    if args.check:
        for path in outdated:
            print(f"stale: {path} (run python -m docs.gen)")
        return 1 if outdated else 0
    for path in outdated:
        target = REPO / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(generated[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
