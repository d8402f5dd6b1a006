# The portal's commands. `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app portal
HOST ?= 127.0.0.1
PORT ?= 5000
BENCH_PATIENTS ?= 200
# Debian packages the project needs on the machine: Python's venv; Chromium with its driver for the
# end-to-end browser tests (Playwright drives Debian's Chromium; it never downloads a browser); Pango and
# HarfBuzz for WeasyPrint, which prints statements; and the Noto fonts that cover every script a statement
# may hold (fonts-noto-core: Latin, Cyrillic, Vietnamese, Arabic; fonts-noto-cjk: Chinese).
DEBIAN_PACKAGES := python3-venv chromium chromium-driver libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
	fonts-noto-core fonts-noto-cjk
SERVER_DEBIAN_PACKAGES := python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core \
	fonts-noto-cjk
# Debian packages only the benchmarks need: wrk drives the load benchmark (bench/load.py).
BENCH_DEBIAN_PACKAGES := wrk

.PHONY: install run test bench migrate glossary demo translations messages clean serve worker

install: $(VENV)/.installed translations

$(VENV)/.installed: setup.cfg pyproject.toml
	@missing=$$(for package in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${db:Status-Status}' $$package 2>/dev/null | grep -qx installed || echo $$package; done); \
	if [ -n "$$missing" ] || ! $(PYTHON) -c 'import venv, ensurepip' 2>/dev/null; then \
	  echo "Installing Debian packages: $$missing"; $(MAKE) debian-packages; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: debian-packages
debian-packages:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(DEBIAN_PACKAGES)

# Compile every catalog in translations/ (the .mo files are built here, never committed).
translations: $(VENV)/.installed
	@if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
	  $(BIN)/pybabel compile -d translations; fi

migrate: install
	$(FLASK) db upgrade

# The glossary and the service dictionary, from portal/glossary/content/ (safe to run again).
glossary: migrate
	$(FLASK) glossary load

# Demo data; `demo load` loads the glossary first as well, so it also works on its own.
demo: glossary
	$(FLASK) demo load

# The portal with the local Stripe stand-in (started from scratch, stopped with the portal).
run: demo
	$(FLASK) demo serve --host $(HOST) --port $(PORT)

# Production: gunicorn in front of the app, with settings from PORTAL_* (see README, "Production"). Migrations
# run first (safe to repeat; with several app machines, run them once, from one). WORKERS sync workers each
# serve one request at a time: two per core is a good start (a PDF printed on demand holds its worker ~1 s).
WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
GUNICORN_ARGS ?=
serve: $(VENV)/.production
	$(BIN)/pybabel compile -d translations >/dev/null
	$(FLASK) db upgrade
	exec $(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) --timeout 60 --graceful-timeout 30 \
	  --max-requests 2000 --max-requests-jitter 200 --access-logfile - $(GUNICORN_ARGS) "portal:create_app()"

# The background worker (emails, scheduled jobs); run at least one beside the app servers.
worker: $(VENV)/.production
	$(BIN)/pybabel compile -d translations >/dev/null
	exec $(FLASK) worker

# An app server needs no browser and no test tools: Python's venv, WeasyPrint's libraries, the fonts, and
# the production extra (gunicorn).
$(VENV)/.production: setup.cfg pyproject.toml
	@missing=$$(for package in $(SERVER_DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${db:Status-Status}' $$package 2>/dev/null | grep -qx installed || echo $$package; done); \
	if [ -n "$$missing" ]; then echo "Installing Debian packages: $$missing"; \
	  $(MAKE) debian-packages DEBIAN_PACKAGES="$$missing"; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[production]'
	touch $@

# The whole suite on SQLite, then again on PostgreSQL when PORTAL_TEST_DATABASE_URL is set.
test: install
	env -u PORTAL_TEST_DATABASE_URL $(BIN)/pytest $(PYTEST_ARGS)
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
	  echo "== again on $$PORTAL_TEST_DATABASE_URL"; \
	  $(BIN)/pytest $(PYTEST_ARGS); fi

# Benchmarks print figures; they are never part of `make test`. PORTAL_BENCH_DATABASE_URL picks PostgreSQL.
bench: install bench-packages
	$(BIN)/python bench/payments.py $(BENCH_PATIENTS)
	$(BIN)/python bench/statements_pdf.py
	$(BIN)/python bench/mail_queue.py
	$(BIN)/python bench/import_fhir.py
	$(BIN)/python bench/load.py

# The portal under gunicorn and wrk, as many signed-in patients at once, against a minimal Flask app. Always
# PostgreSQL: PORTAL_BENCH_DATABASE_URL, by default the database portal_bench on 127.0.0.1 (created if missing).
.PHONY: bench-load bench-packages
bench-load: install bench-packages
	$(BIN)/python bench/load.py

# A real PostgreSQL restart under the running portal (restarts the local server: needs root and a database kept
# for benchmarks in PORTAL_BENCH_DATABASE_URL); not part of `make bench`.
.PHONY: bench-restart
bench-restart: $(VENV)/.production install
	cd bench && ../$(BIN)/python database_restart.py

bench-packages:
	@missing=$$(for package in $(BENCH_DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${db:Status-Status}' $$package 2>/dev/null | grep -qx installed || echo $$package; done); \
	if [ -n "$$missing" ]; then echo "Installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; fi

# Refresh translations/messages.pot from the Python code and templates, and add its new strings (untranslated)
# to every catalog; tests/test_catalogs.py then names what is left to translate.
messages: install
	$(BIN)/pybabel extract -F translations/babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  -o translations/messages.pot portal templates
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) build *.egg-info
