# fm-image build, demo and tests.
#
#   make demo    build, train a small model on the built-in emoji faces for a
#                few minutes, and write a sample grid to out/demo/grid.png
#   make test    vet, format check, the whole test suite, the race detector on
#                the process plumbing, a short fuzzing run, and the checks
#                below (test-nosimd, build-xla, proto-check, test-kernels-avx2)
#   make build   bin/fm-image and bin/fm-image-plugin
#   make quality DATA=DIR  the sample-quality benchmark (bench/quality.sh):
#                train DIR with the default recipe for DURATION (default 20m),
#                then FD, precision/recall, SWD and grids at 1-32 steps
GO ?= go
BIN := bin

# Go 1.26's SIMD package (simd/archsimd) is an experiment: the project's CPU
# backend uses it for its AVX2/AVX-512 kernels (about 7x faster than the
# portable ones it falls back to without it, or on CPUs without AVX2).
export GOEXPERIMENT ?= simd

# The demo trains with the default recipe (the one `fm-image train DIR`
# uses) for a fixed number of steps, so that its grid is the same on every
# machine: about 5 minutes on 2 cores. Override on the command line, e.g.
# make demo DEMO_STEPS=3000, or DEMO_FLAGS="--objective flow-matching".
DEMO_DATA  ?= demo/emoji-faces
DEMO_STEPS ?= 1000
DEMO_FLAGS ?=
DEMO_GEN_STEPS ?= 4
DEMO_OUT   ?= out/demo

# The protocol code generators the committed code was made with (see
# sdk/fmimagepb/doc.go); protoc itself is Debian's protobuf-compiler 3.21.12.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

.PHONY: build build-gpu deps demo quality test test-race fuzz proto proto-tools proto-check test-nosimd build-xla test-kernels-avx2 clean chromium

deps:
	$(GO) mod download

build: deps
	$(GO) build -o $(BIN)/fm-image ./cmd/fm-image
	$(GO) build -o $(BIN)/fm-image-plugin ./cmd/fm-image-plugin

demo: build
	rm -rf $(DEMO_OUT)
	$(BIN)/fm-image train $(DEMO_DATA) --model $(DEMO_OUT)/model --steps $(DEMO_STEPS) --seed 1 $(DEMO_FLAGS)
	$(BIN)/fm-image generate --model $(DEMO_OUT)/model --steps $(DEMO_GEN_STEPS) --n 64 --seed 1 \
		--out $(DEMO_OUT)/samples --grid $(DEMO_OUT)/grid.png
	$(BIN)/fm-image info --model $(DEMO_OUT)/model
	@echo "demo done: samples in $(DEMO_OUT)/samples, grid in $(DEMO_OUT)/grid.png"

# The sample-quality benchmark (docs/quality.md); DATA is required.
quality:
	DATA="$(DATA)" bash bench/quality.sh

# The web app's browser test drives Debian's Chromium; install it when we can
# (root with apt), otherwise that one test skips and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium is not installed: the browser test will be skipped"

test: deps chromium
	@echo "== vet, gofmt, go test ./... (GOEXPERIMENT=$(GOEXPERIMENT)) =="
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) test-race fuzz test-nosimd build-xla proto-check test-kernels-avx2

# quiet-test runs a `go test -v` command line ($(1)) and prints only the
# package results, failures and the distinct "not tested" skip reasons,
# keeping its exit status (the skips show what a build or CPU leaves out).
define quiet-test
	@log=$$(mktemp); $(1) >$$log 2>&1; st=$$?; \
	grep -E '^(ok|FAIL|panic:)|^ *--- FAIL' $$log; \
	grep -hE '^ +[a-z0-9_]+_test\.go:[0-9]+: .*not (tested|compared)' $$log | sed -E 's/^ +[a-z0-9_]+_test\.go:[0-9]+: /  skipped: /' | sort | uniq -c; \
	[ $$st = 0 ] || tail -n 60 $$log; rm -f $$log; exit $$st
endef

# The race detector on the packages that juggle processes, streams and goroutines.
test-race:
	$(GO) test -count=1 -race -timeout 20m ./sdk/... ./plugin/... ./host/... ./e2e/...

# A short run of each fuzz target (their corpora also run as plain tests).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeImage$$' -fuzztime 15s ./imageset/
	$(GO) test -run '^$$' -fuzz '^FuzzTrainRequestValidate$$' -fuzztime 10s ./sdk/
	$(GO) test -run '^$$' -fuzz '^FuzzGenerateRequestValidate$$' -fuzztime 10s ./sdk/

# The build without GOEXPERIMENT=simd (the portable GEMM kernels; the
# direct-convolution assembly needs no flag): vet, and the short tests of the
# packages the experiment changes.
test-nosimd:
	@echo "== test-nosimd: go vet ./... and go test -short ./internal/... ./training/... built without GOEXPERIMENT=simd =="
	GOEXPERIMENT= $(GO) vet ./...
	$(call quiet-test,GOEXPERIMENT= $(GO) test -count=1 -short -v ./internal/... ./training/...)

# The plugin built with the XLA backend (needs only Go modules to build;
# running it needs a PJRT plugin), and backend selection checked with it on
# this CPU-only machine: a missing PJRT plugin is a clear error (exit 2)
# naming what to install and where it was looked for.
build-xla:
	@echo "== build-xla: go vet and go build -tags xla ./cmd/fm-image-plugin; backend selection with the XLA build =="
	$(GO) vet -tags xla ./internal/backend/ ./cmd/fm-image-plugin/
	$(GO) build -tags xla -o $(BIN)/xla/fm-image-plugin ./cmd/fm-image-plugin
	$(GO) test -count=1 -tags xla -run 'TestSelect' ./internal/backend/
	$(call quiet-test,FMIMAGE_XLA_PLUGIN=$(CURDIR)/$(BIN)/xla/fm-image-plugin $(GO) test -count=1 -v -run '^TestRealBackendSelection$$' ./e2e/)

# What bench/gpu.sh runs on a GPU machine (which has no Go toolchain): the CLI
# and, built with the XLA backend, the plugin and fm-bench, in bin/gpu/.
build-gpu: deps
	$(GO) build -o $(BIN)/gpu/fm-image ./cmd/fm-image
	$(GO) build -tags xla -o $(BIN)/gpu/fm-image-plugin ./cmd/fm-image-plugin
	$(GO) build -tags xla -o $(BIN)/gpu/fm-bench ./cmd/fm-bench

# protoc and the two Go generators at the pinned versions: protoc from apt
# when we are root, the generators with go install (into $$(go env GOPATH)/bin,
# where the generated-code test and `make proto` look for them).
proto-tools:
	@command -v protoc >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null; } || \
		echo "protoc is not installed and cannot be (not root with apt)"
	@gobin="$$($(GO) env GOPATH)/bin"; \
	[ "$$($$gobin/protoc-gen-go --version 2>/dev/null)" = "protoc-gen-go $(PROTOC_GEN_GO_VERSION)" ] || \
		GOBIN="$$gobin" $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION); \
	[ "$$($$gobin/protoc-gen-go-grpc --version 2>/dev/null)" = "protoc-gen-go-grpc $(PROTOC_GEN_GO_GRPC_VERSION:v%=%)" ] || \
		GOBIN="$$gobin" $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# The committed protocol code is what the pinned tools generate: the test
# fails (instead of skipping) when a tool is missing or another version.
proto-check: proto-tools
	@echo "== proto-check: TestGeneratedCodeUpToDate with $$(protoc --version), protoc-gen-go $(PROTOC_GEN_GO_VERSION), protoc-gen-go-grpc $(PROTOC_GEN_GO_GRPC_VERSION) =="
	FMIMAGE_REQUIRE_PROTOC=1 $(GO) test -count=1 -v -run '^TestGeneratedCodeUpToDate$$' ./sdk/fmimagepb/

# The kernel and backend tests as on a CPU without AVX-512: GODEBUG hides it
# from the CPU-feature checks (x/sys/cpu and simd/archsimd), so the AVX2
# kernels are the default and the AVX-512 forms skip; FMIMAGE_REQUIRE_KERNELS
# makes the AVX2 cases fail rather than skip. (The normal run already tests
# the AVX2 kernels forced on an AVX-512 machine.)
test-kernels-avx2:
	@echo "== test-kernels-avx2: go test ./internal/fastcpu/... with AVX-512 hidden (GODEBUG=cpu.avx512f=off), the AVX2 kernels required =="
	@grep -qw avx2 /proc/cpuinfo || { echo "this CPU has no AVX2: the AVX2 kernels cannot be tested"; exit 1; }
	@GODEBUG=cpu.avx512f=off $(GO) test -count=1 -v -run '^TestKernelNames$$' ./internal/fastcpu/kernels/ | grep 'Kernel() ='
	$(call quiet-test,GODEBUG=cpu.avx512f=off FMIMAGE_REQUIRE_KERNELS=avx2-fma $(GO) test -count=1 -v ./internal/fastcpu/...)

# Regenerate the protocol code with the pinned tools (see proto-tools).
proto: proto-tools
	cd sdk/fmimagepb && PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) generate

clean:
	rm -rf $(BIN) out
