# make test: what README's second command and CI run.
.PHONY: test build vet

test:
	@scripts/test-deps.sh
	go test -race -count=1 -parallel 8 ./...

build:
	go build -trimpath -o pgmig .

vet:
	go vet ./...
