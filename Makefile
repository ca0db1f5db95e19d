.PHONY: run test bench bench-quick lint format

# Sets everything up and starts web, worker and beat on the embedded default.
run:
	bash scripts/venv.sh requirements.txt
	.venv/bin/python -m collab.embedded

# Sets everything up (PostgreSQL, Redis, venv) and runs the whole suite.
test:
	bash scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

# The benchmark suite (docs/performance.md): starts PostgreSQL db collab_bench, its own
# redis-server, Celery and two ASGI servers itself. `make bench ARGS=--quick` < 2 minutes.
bench:
	bash scripts/services.sh
	bash scripts/venv.sh requirements-dev.txt
	.venv/bin/python -m bench.run $(ARGS)

bench-quick:
	bash scripts/services.sh
	bash scripts/venv.sh requirements-dev.txt
	.venv/bin/python -m bench.run --quick $(ARGS)
