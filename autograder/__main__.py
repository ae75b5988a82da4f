"""Command line: ``python -m autograder COMMAND`` (``--help`` for each command)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .notebooks import NotebookError


def _release(args) -> int:
    from .release import generate

    for path in generate(args.assignments or None, root=args.course):
        print(f"wrote {path}")
    return 0


def _check(args) -> int:
    from .release import assignments, check_sources

    names = args.assignments or assignments(args.course)
    check_sources(names, args.course, drift=True)
    print(f"{len(names)} source notebook folder(s) OK: {', '.join(names)}")
    return 0


def _course_option(parser) -> None:
    from .release import ROOT

    parser.add_argument("--course", type=Path, default=ROOT, metavar="DIR",
                        help="course folder holding nbgrader_config.py and solutions/ (default: this repository; "
                             "use a private copy to keep hidden tests secret)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ (the student version) from solutions/")
    p.add_argument("assignments", nargs="*", help="chapter folders, e.g. ch00-warmup (default: all)")
    _course_option(p)
    p.set_defaults(run=_release)
    p = sub.add_parser("check", help="validate the source notebooks: nbgrader markup, and answers identical to the package")
    p.add_argument("assignments", nargs="*", help="chapter folders (default: all)")
    _course_option(p)
    p.set_defaults(run=_check)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except NotebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
