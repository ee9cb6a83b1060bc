# The two commands: `make dev` runs the product locally, `make test` runs every check.
.PHONY: dev test setup build bench

dev:
	@bash scripts/dev.sh

test:
	@bash scripts/test.sh

setup:
	@bash scripts/setup.sh

build: setup
	@bash scripts/build-worker.sh

# The benchmark suite (several minutes); writes BENCHMARKS.md.
bench: setup
	@node scripts/bench.mjs
