# The two commands a newcomer needs are `make run` and `make test`.
# Integration tests also run against PostgreSQL, NATS and Redis when
# EMPORIUM_TEST_POSTGRES_URL, EMPORIUM_TEST_NATS_URL and EMPORIUM_TEST_REDIS_URL
# are set (.ci/run sets them). docs/operations.md has the rest.

GO ?= go
# The deploy checks (Compose, Kubernetes, workflows, Dockerfile, images) are a
# module of their own, so that their dependencies stay out of the services'.
CHECK := deploy/check

.PHONY: run test check bench load build generate topology topology-down e2e chaos

run:
	$(GO) run ./cmd/emporium

test:
	$(GO) test -race -count=1 -timeout 20m ./...
	cd $(CHECK) && $(GO) test -count=1 -timeout 20m ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./deploy/local/
	$(GO) vet -tags chaos ./cmd/emporium-chaos/internal/chaos/
	cd $(CHECK) && $(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# load measures a fresh all-in-one (demo data, a temporary data directory,
# free ports) against a bare net/http server, in alternating rounds: about
# three minutes with the defaults. LOAD_FLAGS adds flags, e.g.
# LOAD_FLAGS='-json -scenarios product,list -d 10s'.
load:
	@CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/emporium ./cmd/emporium-bench
	@bin/emporium-bench -bin bin/emporium $(LOAD_FLAGS)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/...

# generate rewrites what is made from deploy/services.json: the Nginx
# configurations of Compose and Kubernetes.
generate:
	$(GO) test -count=1 -run TestCommittedVariantsAreCurrent ./deploy/nginx/ -update

# topology runs every service as its own process behind Nginx, on
# PostgreSQL, NATS and Redis, until Ctrl-C or make topology-down.
topology:
	$(GO) run ./deploy/local/topology up

topology-down:
	$(GO) run ./deploy/local/topology down

# e2e runs the customer's journey through Nginx in front of every service as
# its own process (deploy/local/e2e_test.go).
e2e:
	$(GO) test -tags e2e -count=1 -timeout 15m -v -run TestEndToEnd ./deploy/local/

# chaos runs the fault-injection suite (cmd/emporium-chaos/internal/chaos): the checker's own
# test against a real cluster, then a few seeded runs of faults during a
# checkout storm, each checked; the verdict is printed last. CHAOS_SEEDS and
# CHAOS_DURATION choose the runs.
CHAOS_SEEDS ?= 1 2 3
CHAOS_DURATION ?= 40s
CHAOS_DIR := tmp/chaos
chaos:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(CHAOS_DIR)/bin/ $$(ls -d ./cmd/* | grep -v emporium)
	$(GO) build -o $(CHAOS_DIR)/emporium-chaos ./cmd/emporium-chaos
	EMPORIUM_CHAOS_BIN=$(abspath $(CHAOS_DIR)/bin) $(GO) test -tags chaos -count=1 -timeout 5m \
		-run TestCheckerCatchesTampering ./cmd/emporium-chaos/internal/chaos/
	@failed=""; for seed in $(CHAOS_SEEDS); do \
		rm -rf $(CHAOS_DIR)/run-$$seed; \
		$(CHAOS_DIR)/emporium-chaos -bin $(CHAOS_DIR)/bin -dir $(CHAOS_DIR)/run-$$seed \
			-seed $$seed -duration $(CHAOS_DURATION) || failed="$$failed $$seed"; \
	done; \
	if [ -n "$$failed" ]; then echo "chaos: FAIL (seeds$$failed; logs in $(CHAOS_DIR)/run-<seed>/logs)"; exit 1; fi; \
	echo "chaos: PASS (seeds $(CHAOS_SEEDS), $(CHAOS_DURATION) of faults each)"
