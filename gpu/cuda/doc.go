// Package cuda is the NVIDIA GPU implementation of gpu.Backend: cuDNN for
// convolution and batch norm, cuBLAS for the classifier, and the kernels of
// package kernels for the rest, all loaded at run time. It is compiled only
// with the build tag cuda; without it New says how to get it.
package cuda
