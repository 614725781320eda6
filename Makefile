# repro: the common commands. `make test` is what CI runs.
GO ?= go
MODELS ?= resnet20,resnet56,densenet-bc100,densenet40

.PHONY: test vet build build-cuda bench bench-cpu quickstart

build:
	$(GO) build -o repro ./cmd/repro

build-cuda:
	$(GO) build -tags cuda -o repro-cuda ./cmd/repro

vet:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && false)
	$(GO) vet ./...
	$(GO) vet -tags cuda ./...

# Everything CI checks: formatting, vet with and without the cuda tag, the
# cuda build, and every test (real CIFAR-10 images from ../shared included).
test: vet
	$(GO) build -tags cuda ./...
	$(GO) test -timeout 20m ./...

# Training speed of our CPU backend and of PyTorch's CPU build, side by side,
# alternating, on the same batch and threads (see README, "Speed").
bench-cpu: build
	./repro bench -backend cpu -models $(MODELS)
	/usr/bin/python3 bench/torch_reference.py --device cpu --threads 2 --models $(MODELS)

bench: bench-cpu

quickstart: build
	./repro -exp quickstart -data ../shared/data/cifar10-jpg.tar.gz
