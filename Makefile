# Shortcuts; each target is one go command you can also type yourself.
# The duckdb_arrow tag enables the fast Arrow insert path of the DuckDB
# driver; without it trailwatch works the same, several times slower.
TAGS := duckdb_arrow

.PHONY: demo test build bench fuzz ci

demo:
	go run -tags $(TAGS) ./cmd/trailwatch demo

test:
	go test -race -tags $(TAGS) ./...

build:
	go build -tags $(TAGS) -o trailwatch ./cmd/trailwatch

bench: build
	./trailwatch bench

ci:
	./.ci/run
