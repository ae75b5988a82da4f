"""``python -m autograder merge``: join shard outputs (``OUT/results/*.json``) into one report."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from . import report
from .assignment import default_cache
from .errors import EXIT_GRADER_FAILED, EXIT_OK, EXIT_USAGE
from .store import write_json


def merge(shards: list[Path], out: Path) -> int:
    out = Path(out)
    sources = shards or [out]
    info, fingerprints = None, set()
    for shard in sources:
        meta = Path(shard) / "results" / "_assignment.json"
        if not meta.is_file():
            print(f"error: {shard} has no results/_assignment.json (is it a `grade --out` folder?)", file=sys.stderr)
            return EXIT_USAGE
        this = json.loads(meta.read_text())
        if info is not None and this["assignment"] != info["assignment"]:
            print(f"error: {shard} graded {this['assignment']}, not {info['assignment']}", file=sys.stderr)
            return EXIT_USAGE
        info = info or this
        fingerprints.add(this["fingerprint"])
    if len(fingerprints) > 1:
        print("warning: the shards were graded against different versions of the source notebook", file=sys.stderr)
    merged: dict[str, tuple[Path, dict]] = {}
    for shard in sources:
        for path in sorted((Path(shard) / "results").glob("*.json")):
            if path.name.startswith("_"):
                continue
            result = json.loads(path.read_text())
            previous = merged.get(path.stem)
            if previous and previous[1].get("key") != result.get("key"):
                print(
                    f"warning: {result['student']} was graded in two shards with different inputs; keeping {path}",
                    file=sys.stderr,
                )
            merged[path.stem] = (path, result)
    for stem, (path, result) in merged.items():
        if Path(path).parent.resolve() != (out / "results").resolve():
            write_json(out / "results" / f"{stem}.json", result)
            graded = Path(path).parent.parent / "autograded" / stem
            if graded.is_dir():
                shutil.copytree(graded, out / "autograded" / stem, dirs_exist_ok=True)
    write_json(out / "results" / "_assignment.json", info)
    results = sorted((r for _, r in merged.values()), key=lambda r: r["student"])
    template = default_cache() / f"{info['assignment']}-{info['fingerprint']}" / "gradebook.db"
    report.write_all(out, results, info, template if template.is_file() else None)
    counts = report.status_counts(results)
    print(f"wrote {out}/grades.csv ({len(results)} students: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")")
    return EXIT_GRADER_FAILED if counts.get("grader-error") else EXIT_OK
