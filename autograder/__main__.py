"""Command line: ``python -m autograder COMMAND`` (``--help`` for each command).

Exit codes of ``grade``, ``merge`` and ``gradescope``: 0 every submission was graded (whatever the
scores and statuses: missing, timeout, ... are results); 2 the command could not start (bad
arguments, unknown assignment, malformed source notebook, no submissions found); 3 the grader
itself failed on at least one submission (status ``grader-error``: see its reason); 130 interrupted
(run the same command again to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import EXIT_INTERRUPTED, EXIT_USAGE, NotebookError, UsageError


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


def _edition(args) -> int:
    from .edition import write_solutions_book

    print(f"wrote {write_solutions_book(Path(args.out), root=args.course)}")
    return 0


def _korean_edition(args) -> int:
    from .edition import build_korean_site, write_korean_book

    if args.site:
        import time

        start = time.perf_counter()
        try:
            build_korean_site(Path(args.out), Path(args.executed), Path(args.site), root=args.course)
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"built the Korean edition into {Path(args.site) / 'ko'} in {time.perf_counter() - start:.0f} s")
    else:
        print(f"wrote {write_korean_book(Path(args.out), Path(args.executed), root=args.course)}")
    return 0


def _translations(args) -> int:
    from . import translation

    if args.stamp:
        try:
            for key in translation.stamp(args.stamp, root=args.course):
                print(f"stamped {key}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return 0
    found = translation.all_problems(args.course)
    for file, problems in found.items():
        print(file)
        for problem in problems:
            print(f"  - {problem}")
    changed = translation.stale(args.course)
    if changed:
        print(f"{translation.STAMPS}: {len(changed)} English text(s) changed since translated, or never stamped")
        for line in changed if args.verbose else changed[:10]:
            print(f"  - {line}")
        if len(changed) > 10 and not args.verbose:
            print(f"  ... and {len(changed) - 10} more (--verbose lists all)")
    if not found and not changed:
        print("every Korean page and notebook translation is complete, consistent and up to date")
    return 1 if found or changed else 0


def _course_option(parser) -> None:
    from .release import ROOT

    parser.add_argument(
        "--course",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="course folder holding nbgrader_config.py and solutions/ (default: this repository; "
        "use a private copy to keep hidden tests secret)",
    )


def _limits(args):
    from .records import Limits

    return Limits(
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.timeout,
        memory_mb=args.memory,
        processes=args.processes,
        output_kb=args.output_kb,
        network=args.allow_network,
        isolate_user=not args.same_user,
    )


def _grade(args) -> int:
    from .classroom import grade_class, parse_shard

    return grade_class(
        args.assignment,
        Path(args.submissions),
        Path(args.out),
        jobs=args.jobs,
        source_dir=Path(args.source) if args.source else None,
        limits=_limits(args),
        id_pattern=args.id_pattern,
        roster=Path(args.roster) if args.roster else None,
        shard=parse_shard(args.shard),
        force=args.force,
        cache=Path(args.cache) if args.cache else None,
        progress=not args.no_progress,
    )


def _merge(args) -> int:
    from .merge import merge

    return merge([Path(p) for p in args.shards], Path(args.out))


def _gradescope(args) -> int:
    from .gradescope import run

    return run(
        Path(args.submission),
        Path(args.results),
        args.assignment,
        Path(args.source) if args.source else None,
        _limits(args),
        Path(args.cache) if args.cache else None,
    )


def _limit_options(p) -> None:
    g = p.add_argument_group("limits for student code")
    g.add_argument(
        "--cell-timeout",
        type=float,
        default=120,
        metavar="S",
        help="seconds one cell may run before it is interrupted (default 120)",
    )
    g.add_argument(
        "--timeout",
        type=float,
        default=600,
        metavar="S",
        help="seconds the whole notebook may run, kernel start included (default 600)",
    )
    g.add_argument(
        "--memory", type=int, default=4096, metavar="MiB", help="address-space limit of the kernel (default 4096)"
    )
    g.add_argument("--processes", type=int, default=512, help="processes+threads of the kernel's user (default 512)")
    g.add_argument("--output-kb", type=int, default=256, metavar="KiB", help="output kept per cell (default 256)")
    g.add_argument("--allow-network", action="store_true", help="do not cut student code off the network")
    g.add_argument(
        "--same-user",
        action="store_true",
        help="run student code as the grader's user "
        "(default: an unprivileged user of its own, when the grader runs as root)",
    )
    p.add_argument(
        "--source",
        "--course",
        metavar="DIR",
        help="folder of source notebooks "
        "(DIR/<assignment>/<assignment>.ipynb, or a course folder holding solutions/); default: the "
        "repository's solutions/. Use a private copy to keep hidden tests secret",
    )
    p.add_argument(
        "--cache",
        metavar="DIR",
        help="where generated releases and template gradebooks are kept (default ~/.cache/gptcourse-autograder)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ (the student version) from solutions/")
    p.add_argument("assignments", nargs="*", help="chapter folders, e.g. ch00-warmup (default: all)")
    _course_option(p)
    p.set_defaults(run=_release)
    p = sub.add_parser(
        "check", help="validate the source notebooks: nbgrader markup, and answers identical to the package"
    )
    p.add_argument("assignments", nargs="*", help="chapter folders (default: all)")
    _course_option(p)
    p.set_defaults(run=_check)
    p = sub.add_parser("solutions-edition", help="lay out the solutions edition's book (make book-solutions builds it)")
    p.add_argument("out", help="folder for the book's copy, e.g. _build/solutions-src")
    _course_option(p)
    p.set_defaults(run=_edition)
    p = sub.add_parser("korean-edition", help="lay out the Korean edition's book (make book builds it)")
    p.add_argument("out", help="folder for the Korean book's sources (with --site: its work folder), e.g. _build/ko")
    p.add_argument("--site", metavar="HTML", help="also build it, into HTML/ko/ (the English site's folder)")
    p.add_argument(
        "--executed",
        default="_build/jupyter_execute",
        help="the English build's executed pages, whose outputs the Korean pages show (default _build/jupyter_execute)",
    )
    _course_option(p)
    p.set_defaults(run=_korean_edition)
    p = sub.add_parser(
        "translations",
        help="check the Korean translations (book/ko/) against the English sources and the term list",
        description="List every problem of the Korean pages and notebook translations: parity with the English "
        "(code cells, glue keys, labels, equations, cross-references), the term list, and English text changed "
        "since its translation was stamped. Exit status 1 if there is any.",
    )
    p.add_argument(
        "--stamp", nargs="+", metavar="FILE", help="record these English pages / source notebooks as translated"
    )
    p.add_argument("--verbose", action="store_true", help="list every changed English text")
    _course_option(p)
    p.set_defaults(run=_translations)

    p = sub.add_parser(
        "grade",
        help="grade a class's submissions of one assignment",
        description="Grade every submission of ASSIGNMENT found in SUBMISSIONS and write grades.csv, "
        "grades.json, feedback/<student>.html, summary.html and gradebook.db to --out. "
        "Re-running grades only what is new or changed.",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("assignment", help="e.g. ch00-warmup")
    p.add_argument("submissions", help="nbgrader submitted/ folder, an LMS export folder, or a .zip of either")
    p.add_argument("--out", default="autograder/out", help="output folder (default autograder/out)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded at once (default 1)")
    p.add_argument(
        "--id-pattern",
        default="default",
        metavar="REGEX|PRESET",
        help="how an LMS file's path gives the student id: a regex with a group (?P<student>...) "
        "or a preset: default (file name up to the first '_' or '.'), canvas, moodle",
    )
    p.add_argument(
        "--roster",
        metavar="FILE",
        help="student ids (one per line, or CSV with a 'student' column); those with no submission get a 'missing' row",
    )
    p.add_argument(
        "--shard",
        metavar="K/N",
        help="grade only every N-th submission starting at K (0 <= K < N), "
        "for batch schedulers; join the outputs with `merge`",
    )
    p.add_argument("--force", action="store_true", help="re-grade everything, even unchanged submissions")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _limit_options(p)
    p.set_defaults(run=_grade)

    p = sub.add_parser(
        "merge",
        help="join the outputs of several `grade --shard` runs into one",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shards", nargs="*", help="the shards' --out folders (none: rebuild --out from its results/)")
    p.add_argument("--out", required=True, help="folder for the merged grades.csv, grades.json, feedback, summary")
    p.set_defaults(run=_merge)

    p = sub.add_parser(
        "gradescope",
        help="Gradescope entry point: grade /autograder/submission",
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--submission", default="/autograder/submission", help="folder with the student's notebook")
    p.add_argument("--results", default="/autograder/results/results.json", help="where to write results.json")
    p.add_argument("--assignment", help="assignment name (default: from the notebook's name or cells)")
    _limit_options(p)
    p.set_defaults(run=_gradescope)

    args = parser.parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        parser.error("--jobs must be at least 1")
    try:
        return args.run(args)
    except (UsageError, NotebookError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
