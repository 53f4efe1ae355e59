# fm-image build. `make build` puts the CLI and the plugin in bin/.
GO ?= go
BIN := bin

.PHONY: build proto

build:
	$(GO) build -o $(BIN)/fm-image ./cmd/fm-image
	$(GO) build -o $(BIN)/fm-image-plugin ./cmd/fm-image-plugin

# Regenerate the protocol code (needs protoc, protoc-gen-go and
# protoc-gen-go-grpc at the versions listed in sdk/fmimagepb/doc.go).
proto:
	cd sdk/fmimagepb && PATH="$$PATH:$$($(GO) env GOPATH)/bin" $(GO) generate
