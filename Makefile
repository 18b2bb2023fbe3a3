# make test: what README's second command and CI run.
.PHONY: test build vet image

test:
	@scripts/test-deps.sh
	go test -race -count=1 -parallel 8 ./...

# Static, like every release: no libc needed where it runs.
build:
	CGO_ENABLED=0 go build -trimpath -o pgmig .

# The container image of docs/ci.md, built locally and offline as pgmig:dev.
image:
	scripts/image.sh pgmig:dev

vet:
	go vet ./...
