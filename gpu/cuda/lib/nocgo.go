//go:build cuda && !cgo

package lib

// Package lib loads the CUDA libraries with dlopen through cgo, so the cuda
// build tag needs cgo: a C compiler and CGO_ENABLED=1. This declaration makes
// a cgo-less cuda build fail with that sentence instead of "build constraints
// exclude all Go files".
var _ int = "the cuda build tag needs cgo: install a C compiler (gcc) and build with CGO_ENABLED=1"
