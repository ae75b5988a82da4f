"""What the Korean edition adds to building the site: the English build against the English build plus the Korean.

The Korean edition runs no code (it shows the English run's outputs), so ``make book`` for both languages should
take at most 1.3x the English-only build. This builds the book as ``make book`` does, into a temporary folder,
timing each part, and prints the ratio::

    python bench/book_editions.py            # about as long as `make book`
    python bench/book_editions.py --json out.json

The English build's time depends on the training cache (``$GPTCOURSE_CACHE``): with the cache warm the pages only
evaluate their models, which is the smallest English build and so the hardest test of the ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.edition import build_korean_site  # noqa: E402

TARGET = 1.3


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="also write the timings to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="book-editions-") as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        jupyter_book = Path(sys.executable).with_name("jupyter-book")
        proc = subprocess.run(
            [str(jupyter_book), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
            capture_output=True,
            text=True,
        )
        english = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"the English book does not build:\n{(proc.stdout + proc.stderr)[-3000:]}")
        start = time.perf_counter()
        build_korean_site(out / "ko", out / "_build" / "jupyter_execute", out / "_build" / "html", ROOT)
        korean = time.perf_counter() - start
    ratio = (english + korean) / english
    results = {"english_s": round(english, 1), "korean_s": round(korean, 1), "both_over_english": round(ratio, 3)}
    print(f"English build: {english:.0f} s; Korean edition: {korean:.0f} s (it runs no code)")
    print(
        f"both editions / English only: {ratio:.2f}x (target <= {TARGET}x: {'met' if ratio <= TARGET else 'NOT met'})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return results


if __name__ == "__main__":
    main()
