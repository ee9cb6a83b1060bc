# The two commands: `make dev` runs the product locally, `make test` runs every check.
.PHONY: dev test setup build deploy bench soak fuzz

dev:
	@bash scripts/dev.sh

test:
	@bash scripts/test.sh

setup:
	@bash scripts/setup.sh

build: setup
	@bash scripts/build-worker.sh

# Both Workers, the control plane first (README, "Deploying"). ARGS=--dry-run to check.
deploy:
	@bash scripts/deploy.sh $(ARGS)

# The benchmark suite (several minutes); writes BENCHMARKS.md.
bench: setup
	@node scripts/bench.mjs

# The soak test for longer (default 300 s): SOAK_SECONDS=600 make soak
soak: build
	@AERO2_SKIP_BUILD=1 AERO2_SOAK_SECONDS=$${SOAK_SECONDS:-300} cargo test -p aero2-e2e --test chaos soak -- --nocapture

# Fuzz each target for FUZZ_SECONDS (default 60) with cargo-fuzz on nightly.
fuzz:
	@bash scripts/fuzz.sh
