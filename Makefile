# The two commands a newcomer needs are `make run` and `make test`.
# Integration tests also run against PostgreSQL, NATS and Redis when
# EMPORIUM_TEST_POSTGRES_URL, EMPORIUM_TEST_NATS_URL and EMPORIUM_TEST_REDIS_URL
# are set (.ci/run sets them).

GO ?= go

.PHONY: run test check bench build

run:
	$(GO) run ./cmd/emporium

test:
	$(GO) test -race -count=1 -timeout 20m ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./cmd/...
