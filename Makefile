# repro: the common commands. `make test` is what CI runs.
GO ?= go
MODELS ?= resnet20,resnet56,densenet-bc100,densenet40

.PHONY: test vet build build-cuda bench bench-cpu bench-gpu quickstart device-bundle device-dry-run

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
# The cuda binary is built as Dockerfile.cuda builds it (same command).
CUDA_CHECK_BIN ?= repro-cuda-check
test: vet
	$(GO) build -tags cuda ./...
	$(GO) build -tags cuda -trimpath -o $(CUDA_CHECK_BIN) ./cmd/repro
	$(GO) test -timeout 20m ./...
	$(GO) test -timeout 10m -tags cuda ./gpu/cuda/... ./gpu/backends/... ./kernels/
	# A build without cgo (no C compiler): the CPU backend's Go loops and
	# pure-Go GEMM.
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 REPRO_NO_OPENBLAS=1 $(GO) test -timeout 10m ./gpu/cpu/... ./gpu/gputest/

# Training speed of our CPU backend and of PyTorch's CPU build (as shipped and
# with jemalloc tuned), side by side, alternating, on the same batch and
# threads, with and without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE; one table of
# medians and ratios (see README, "Speed").
ROUNDS ?= 3
bench-cpu: build
	/usr/bin/python3 bench/cpu_side_by_side.py --repro ./repro --models $(MODELS) --rounds $(ROUNDS)

bench: bench-cpu

quickstart: build
	./repro -exp quickstart -data ../shared/data/cifar10-jpg.tar.gz

# The bundle a GPU machine needs (no Go there): the cuda binaries, the test
# binary of the parity suite, the data and the check script, in device/
# (ignored by git). Run it there as: device/scripts/device-check.sh OUTDIR
# The CPU reference is kept while the script's recipe is unchanged.
# The binaries are built without DWARF and the symbol table (-s -w), a third
# of their size: no debugger runs there, and a panic's stack trace keeps its
# function names and lines. DEVICE_MAX_MIB bounds the whole bundle, for
# machines that take it with a cap on the files sent (64 MiB, the source
# tree included, where this project's checks run).
DEVICE_LDFLAGS = -s -w
DEVICE_MAX_MIB = 60
device-bundle:
	rm -rf device/bin device/scripts device/bench device/data
	mkdir -p device/bin device/data device/scripts device/bench
	$(GO) build -tags cuda -ldflags='$(DEVICE_LDFLAGS)' -o device/bin/repro ./cmd/repro
	$(GO) test -c -tags cuda -ldflags='$(DEVICE_LDFLAGS)' -o device/bin/cuda.test ./gpu/cuda
	$(GO) test -c -tags cuda -ldflags='$(DEVICE_LDFLAGS)' -o device/bin/cudalib.test ./gpu/cuda/lib
	cp scripts/device-check.sh scripts/kernel-times.py device/scripts/
	cp experiments.toml device/
	cp bench/torch_reference.py device/bench/
	cp ../shared/data/cifar10-jpg.tar.gz device/data/
	@# the CPU side of the GPU-vs-CPU accuracy check, made here so the GPU
	@# machine's time goes to the GPU (about 12 minutes on 2 cores)
	@recipe=$$(STEPS=recipe device/scripts/device-check.sh /tmp/repro-recipe.$$$$ >/dev/null; cat /tmp/repro-recipe.$$$$/recipe.txt; rm -rf /tmp/repro-recipe.$$$$); \
	if [ "$$(cat device/cpu-reference/recipe.txt 2>/dev/null)" != "$$recipe" ]; then \
		rm -rf device/cpu-reference; \
		OPENBLAS_NUM_THREADS=1 STEPS=train-cpu device/scripts/device-check.sh device/cpu-reference; \
	else echo "device/cpu-reference: kept (same recipe)"; fi
	@mib=$$(( ($$(du -sb device | cut -f1) + 1048575) / 1048576 )); \
	if [ $$mib -gt $(DEVICE_MAX_MIB) ]; then \
		echo "device/ is $$mib MiB, over DEVICE_MAX_MIB=$(DEVICE_MAX_MIB): too large to send to a GPU machine whole" >&2; exit 1; \
	else echo "device/: $$mib MiB (DEVICE_MAX_MIB=$(DEVICE_MAX_MIB))"; fi

# The bundle's bench and ablation steps on the fake CUDA libraries of the
# binding tests (gpu/cuda/lib/testdata/fake.c, built with gcc), here, without
# a GPU: every command line and code path of those steps runs; the fakes
# compute nothing, so the figures mean nothing. Run it before a device run.
# Its logs are kept in dry-run-out/ (each step's output, summary.txt).
device-dry-run: device-bundle
	@fakes=$$(mktemp -d); \
	src=gpu/cuda/lib/testdata/fake.c; \
	gcc -shared -fPIC -O1 -o $$fakes/libcuda.so.1 $$src -DFAKE_DRIVER && \
	gcc -shared -fPIC -O1 -o $$fakes/libcublasLt.so.12 $$src -DFAKE_BLASLT -Wl,-soname,libcublasLt.so.12 && \
	gcc -shared -fPIC -O1 -o $$fakes/libcublas.so.12 $$src -DFAKE_BLAS -L$$fakes -l:libcublasLt.so.12 && \
	gcc -shared -fPIC -O1 -o $$fakes/libcudnn.so.9 $$src -DFAKE_DNN && \
	rm -rf dry-run-out; \
	DRY_RUN=1 REPRO_CUDA_LIBS=$$fakes STEPS="bench ablations" device/scripts/device-check.sh dry-run-out; \
	rc=$$?; rm -rf $$fakes; exit $$rc

# Training speed on the GPU: repro bench (cuda), then, where python3 has torch
# with CUDA, the same models in PyTorch eager and torch.compile on the same
# card, batch 128, TF32 as ours, and one table with the ratios.
GPU_MODELS ?= resnet20,resnet56,densenet-bc100
# where convolution algorithms come from: legacy, graph or all (repro -h)
CONV_ALGOS ?= legacy
TORCH_MODES ?= eager,compile
bench-gpu: build-cuda
	./repro-cuda bench -backend cuda -conv-algos $(CONV_ALGOS) -models $(GPU_MODELS) -steps 20 -warmup 5 > bench-gpu.txt
	@cat bench-gpu.txt
	@if python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then \
		python3 bench/torch_reference.py --device cuda --models $(GPU_MODELS) --steps 20 --warmup 5 --modes $(TORCH_MODES) --ours bench-gpu.txt; \
	else echo "bench-gpu: no python3 with torch and CUDA here, so no PyTorch column"; fi

# The PTX of the CUDA kernels, committed and embedded by package kernels (DESIGN.md
# decision 7; needs nvcc, CUDA 11.8 or later: see DESIGN.md section 7). compute_70 is old
# enough for every GPU that CUDA 12 and 13 drivers support; they JIT-compile it
# for the real chip. The first line records the sha256 of the source, which
# kernels/kernels_test.go checks, so a stale PTX fails CI where nvcc is absent.
NVCC ?= nvcc
.PHONY: kernels
kernels:
	$(NVCC) -ptx -arch=compute_70 -O3 -o kernels/ops.ptx.tmp kernels/ops.cu
	{ echo "// repro-source-sha256: $$(sha256sum kernels/ops.cu | cut -d' ' -f1)"; cat kernels/ops.ptx.tmp; } > kernels/ops.ptx.new
	rm -f kernels/ops.ptx.tmp
	mv kernels/ops.ptx.new kernels/ops.ptx
