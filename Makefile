# From Seq2Seq to GPT-2: every task is one make target; each one sets up .venv first if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# nbgrader runs helper programs (alembic) by name: the environment's bin/ must come first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install chromium node book book-ko book-solutions test test-fast lint release check lab bench clean

help:
	@echo "make book      set up .venv and build the site into _build/html (English) and _build/html/ko (Korean)"
	@echo "make book-solutions  the solutions edition (exercises run with their answers) into _build/solutions"
	@echo "make test      set up .venv and run every test"
	@echo "make test-fast the unit tests only (no notebook execution, no book build)"
	@echo "make lint      ruff lint and format check over the code (settings in pyproject.toml)"
	@echo "make lab       open the exercises in JupyterLab"
	@echo "make release   regenerate notebooks/ (student version) from solutions/"
	@echo "make check     validate the source notebooks (nbgrader markup, answers = package code)"
	@echo "make bench     run the benchmarks in bench/ (ratios against a peer measured in the same run)"
	@echo "make clean     remove the build output (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -r requirements.txt
	touch $@

install: $(STAMP)

# The browser tests drive Debian's Chromium (Playwright uses it; it downloads no browser of its own), with a
# Korean font (fonts-nanum) so the Korean edition renders as a reader's browser renders it.
chromium:
	@{ command -v chromium >/dev/null && fc-list :lang=ko | grep -q .; } || { [ "$$(id -u)" = 0 ] && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null; } || \
	  { echo "The browser tests need Chromium and a Korean font: sudo apt-get install chromium fonts-nanum"; exit 1; }

# The browser tests' accessibility audit runs axe-core, pinned in package-lock.json: npm ci installs exactly that
# into node_modules/ (Node and npm from apt if missing), again whenever the lock file changes.
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; } || \
	  { echo "The accessibility audit needs npm: sudo apt-get install nodejs npm"; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

node: $(NODE_STAMP)

# Both editions: the English site runs every page's code; the Korean edition (book/ko/) runs nothing, it shows
# the outputs of that run (python -m autograder korean-edition), and goes into the English site's ko/ folder.
book: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/jupyter-book build -W -n --keep-going .
	$(MAKE) --no-print-directory book-ko
	@echo "The site is in _build/html/index.html (English) and _build/html/ko/ (한국어)"

# The Korean edition alone, from the English build's executed pages (run `make book` once first).
book-ko: $(STAMP)
	$(BIN)/python -m autograder korean-edition _build/ko --executed _build/jupyter_execute --site _build/html

# The solutions edition: never the default build. Every exercise page shows its notebook run with the
# reference answers and the hidden tests (publish it after a deadline, or for self-study).
book-solutions: $(STAMP)
	$(BIN)/python -m autograder solutions-edition _build/solutions-src
	GPTCOURSE_ROOT=$(CURDIR) GPTCOURSE_EDITION=solutions OMP_WAIT_POLICY=PASSIVE \
	  $(BIN)/jupyter-book build -W -n --keep-going _build/solutions-src --path-output _build/solutions
	@echo "The solutions edition is in _build/solutions/_build/html/index.html"

# Two test workers on two cores: one BLAS/OpenMP thread each, so they never oversubscribe the CPU.
test: $(STAMP) chromium $(NODE_STAMP)
	OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# ruff: the lint rules (pyflakes, bugbear, import order) and the format, settings in pyproject.toml; the
# notebooks are checked through the package code their answers must equal.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

release: $(STAMP)
	$(BIN)/python -m autograder release

check: $(STAMP)
	$(BIN)/python -m autograder check

lab: $(STAMP)
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

# Speed targets live here, not in unit tests: each script prints ratios against a peer measured in the same run.
# Each script with its defaults; the GPT-2 benchmark also at nanoGPT's own CPU config (a small vocabulary),
# with where each model's step goes.
bench: $(STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
	@echo "== bench/gpt2_speed.py --config nanogpt --profile"; $(BIN)/python bench/gpt2_speed.py --config nanogpt --profile

clean:
	rm -rf _build
