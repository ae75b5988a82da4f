"""Command line: ``python -m autograder COMMAND`` (``--help`` for each command)."""

from __future__ import annotations

import argparse
import sys

from .notebooks import NotebookError


def _release(args) -> int:
    from .release import generate

    for path in generate(args.assignments or None):
        print(f"wrote {path}")
    return 0


def _check(args) -> int:
    from .release import assignments, check_sources

    names = args.assignments or assignments()
    check_sources(names)
    print(f"{len(names)} source notebook folder(s) OK: {', '.join(names)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ (the student version) from solutions/")
    p.add_argument("assignments", nargs="*", help="chapter folders, e.g. ch00-warmup (default: all)")
    p.set_defaults(run=_release)
    p = sub.add_parser("check", help="validate the nbgrader markup of the source notebooks")
    p.add_argument("assignments", nargs="*", help="chapter folders (default: all)")
    p.set_defaults(run=_check)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except NotebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
