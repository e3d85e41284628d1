# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean

# The venv is rebuilt whenever pyproject.toml changes (a stale venv is a stale stamp).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The embedded default: SQLite, one process, the demo loaded, a local mailbox and SMS sink
# (under var/) so that the demo's sequences really send and what they sent can be read.
run: export CADENZA_DATABASE_URL ?= sqlite:///var/cadenza.db
run: export CADENZA_DEV_MAILBOX ?= var/mailbox
run: export CADENZA_SMS_SINK_PATH ?= var/sms-sink.jsonl
run: export CADENZA_VOICE_SINK_PATH ?= var/voice-sink.jsonl
run: export CADENZA_ENVIRONMENT ?= development
run: $(STAMP)
	mkdir -p var
	$(BIN)/cadenza init
	$(BIN)/cadenza demo
	$(BIN)/cadenza serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	# The browser tests drive the system Chromium (never a downloaded one).
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	# The compose file is validated by a real compose client (the plugin, else Debian's).
	docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq docker-compose)
	$(BIN)/ruff check src tests
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

# The performance budget (DESIGN.md section 7); run it on a quiet machine.
bench: $(STAMP)
	$(BIN)/cadenza bench calendar
	$(BIN)/cadenza bench import
	$(BIN)/cadenza bench engine --db sqlite
	$(BIN)/cadenza bench engine --db postgres
	$(BIN)/cadenza bench email
	$(BIN)/cadenza bench steps --db sqlite
	$(BIN)/cadenza bench steps --db postgres

clean:
	rm -rf $(VENV) var
