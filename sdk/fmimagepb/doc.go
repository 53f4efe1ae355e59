// Package fmimagepb holds the protobuf messages and gRPC stubs of the
// fm-image host<->plugin protocol, generated from fmimage.proto.
//
// Do not edit the *.pb.go files; edit fmimage.proto and run `go generate`
// in this directory. The committed code was generated with
// protoc 3.21.12 (libprotoc 3.21.12, Debian protobuf-compiler),
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.2:
//
//	apt-get install -y protobuf-compiler libprotobuf-dev
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//
// Hosts and plugins should not use this package directly: package sdk maps
// it to the Go interface sdk.Generator.
package fmimagepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative fmimage.proto
