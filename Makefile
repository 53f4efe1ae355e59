# fm-image build, demo and tests.
#
#   make demo    build, train a small model on the built-in emoji faces for a
#                few minutes, and write a sample grid to out/demo/grid.png
#   make test    vet, format check, the whole test suite, the race detector on
#                the process plumbing, and a short fuzzing run
#   make build   bin/fm-image and bin/fm-image-plugin
GO ?= go
BIN := bin

# Go 1.26's SIMD package (simd/archsimd) is an experiment: the project's CPU
# backend uses it for its AVX2/AVX-512 kernels (about 7x faster than the
# portable ones it falls back to without it, or on CPUs without AVX2).
export GOEXPERIMENT ?= simd

# The demo's model and budget (override on the command line, e.g.
# make demo DEMO_STEPS=8000).
DEMO_DATA  ?= demo/emoji-faces
DEMO_ARCH  ?= small
DEMO_SIZE  ?= 32
DEMO_STEPS ?= 4000
DEMO_BATCH ?= 16
DEMO_LR    ?= 1e-3
DEMO_OUT   ?= out/demo

.PHONY: build deps demo test test-race fuzz proto clean chromium

deps:
	$(GO) mod download

build: deps
	$(GO) build -o $(BIN)/fm-image ./cmd/fm-image
	$(GO) build -o $(BIN)/fm-image-plugin ./cmd/fm-image-plugin

demo: build
	rm -rf $(DEMO_OUT)
	$(BIN)/fm-image train $(DEMO_DATA) --model $(DEMO_OUT)/model --arch $(DEMO_ARCH) --size $(DEMO_SIZE) \
		--steps $(DEMO_STEPS) --batch $(DEMO_BATCH) --lr $(DEMO_LR) --seed 1
	$(BIN)/fm-image generate --model $(DEMO_OUT)/model --steps 20 --sampler heun --n 64 --seed 1 \
		--out $(DEMO_OUT)/samples --grid $(DEMO_OUT)/grid.png
	$(BIN)/fm-image info --model $(DEMO_OUT)/model
	@echo "demo done: samples in $(DEMO_OUT)/samples, grid in $(DEMO_OUT)/grid.png"

# The web app's browser test drives Debian's Chromium; install it when we can
# (root with apt), otherwise that one test skips and says why.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium is not installed: the browser test will be skipped"

test: deps chromium
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) test-race fuzz

# The race detector on the packages that juggle processes, streams and goroutines.
test-race:
	$(GO) test -count=1 -race -timeout 20m ./sdk/... ./plugin/... ./host/... ./e2e/...

# A short run of each fuzz target (their corpora also run as plain tests).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeImage$$' -fuzztime 15s ./imageset/
	$(GO) test -run '^$$' -fuzz '^FuzzTrainRequestValidate$$' -fuzztime 10s ./sdk/
	$(GO) test -run '^$$' -fuzz '^FuzzGenerateRequestValidate$$' -fuzztime 10s ./sdk/

# Regenerate the protocol code (needs protoc, protoc-gen-go and
# protoc-gen-go-grpc at the versions listed in sdk/fmimagepb/doc.go).
proto:
	cd sdk/fmimagepb && PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) generate

clean:
	rm -rf $(BIN) out
