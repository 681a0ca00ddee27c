# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test postgres chromium tesseract lint typecheck pytest versions docs bench bench-deployment bench-ocr ocr-accuracy soak soak-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,docs,bench,ha]"
	touch $(STAMP)

## The main job: the nightly invoice DAG against the bundled dev server (no account, no network).
demo: $(STAMP) tesseract
	PYTHONPATH=example_dags $(BIN)/python -m vlm_demo

## Lint, type-check, the whole test suite (dev server and Airflow started by the tests), then the
## version suite on every Airflow line.
test: $(STAMP) postgres chromium tesseract lint typecheck pytest versions

## System packages (Debian's) some targets need: installed as root when missing; one `apt-get
## update` an hour serves them all. $(call apt_install,PACKAGES,WHAT NEEDS THEM)
apt_install = if [ "$$(id -u)" = 0 ]; then { find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 | grep -q . || apt-get update -qq; } && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); else echo "$(2): sudo apt-get install $(1)" >&2; exit 1; fi

## PostgreSQL's server programs for the HA tests, which start a throwaway cluster.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		$(call apt_install,postgresql,the HA tests need PostgreSQL's server programs); \
	fi

## Tesseract with its English and German data: the dev server reads scans with it.
tesseract:
	@if ! command -v tesseract >/dev/null 2>&1 || ! tesseract --list-langs 2>/dev/null | grep -qx deu \
		|| ! tesseract --list-langs 2>/dev/null | grep -qx eng; then \
		$(call apt_install,tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu,the dev server reads scans with Tesseract); \
	fi

## Chromium and its WebDriver for the browser test of the connection form.
chromium:
	@if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then \
		$(call apt_install,chromium chromium-driver,the browser test needs Chromium); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_vlm example_dags tests bench soak
	$(BIN)/ruff format --check airflow_provider_vlm example_dags tests bench soak
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

## PYTEST_WORKERS processes share the suite, a test file each at a time (0: all in this process).
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile

## The built wheel beside each Airflow line's latest patch, each in its own environment
## (.venv-af30 ...), resolved as of that patch's release. `make versions AIRFLOW_LINES="3.0 3.2"` runs some;
## VERSIONS_JOBS lines run at once (each with a dev server of its own).
AIRFLOW_LINES ?= 3.0 3.1 3.2 3.3
VERSIONS_JOBS ?= 2
versions: $(STAMP)
	$(BIN)/python tests/versions/run.py --jobs $(VERSIONS_JOBS) $(AIRFLOW_LINES)

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python -m bench

## The dev server's OCR: seconds per page, and status polls during a batch of 100 scans against idle.
bench-ocr: $(STAMP)
	$(BIN)/python -m bench ocr_polls

## Held-out accuracy of the scan path: the real e-invoices beside the project (../shared/data/invoices),
## scanned into a temporary folder, posted over HTTP; fails below 80 % on a field or on any error.
ocr-accuracy: $(STAMP)
	$(BIN)/python -m bench ocr_accuracy --min-share 0.8

## The nightly job on a distributed Airflow under chaos (PostgreSQL, Redis, Celery, two triggerers,
## an S3 bucket on loopback); SOAK_DOCS=N sets the size (default 2000). Writes soak-report.json.
soak: soak-deps
	$(BIN)/python -m soak --docs $${SOAK_DOCS:-2000}

## The same deployment without faults: 1,000 waits on one triggerer and on two, and the nightly
## batch of 10,000 documents against the server-side ideal (see docs/performance.md).
bench-deployment: soak-deps
	$(BIN)/python -m bench deployment

## Debian's PostgreSQL and Redis servers (installed as root when missing) and the soak extra.
soak-deps: $(STAMP)
	@if [ "$$(id -u)" = 0 ] && ! { command -v redis-server && ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server; fi
	$(BIN)/pip install --quiet -e ".[dev,docs,bench,soak]"

clean:
	rm -rf $(VENV) .venv-sdk .venv-af* .uv-cache dist build site .demo .soak soak-report.json
