// Package cuda is the NVIDIA GPU implementation of gpu.Backend: cuDNN for
// convolution (legacy algorithms, or backend-API engines with
// Options.ConvAlgos) and for batch norm of whole tensors, cuBLAS for the
// classifier, and the kernels of package kernels for the rest (batch norm of
// channel views and with the fused ReLU among them), all loaded at run
// time. It is compiled only with the build tag cuda; without it New says how
// to get it.
package cuda
