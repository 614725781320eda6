// Package cuda is the NVIDIA GPU implementation of gpu.Backend: cuDNN for
// convolution (legacy algorithms, or backend-API engines with
// Options.ConvAlgos) and for plain batch norm of whole tensors, cuBLAS for
// the classifier, and the kernels of package kernels for the rest (among
// them batch norm of channel views, with a fused ReLU or shortcut, and its
// statistics alone), all loaded at run time. Every kernel launch is checked
// against its PTX entry's parameter count and types. It is compiled only
// with the build tag cuda; without it New says how to get it.
package cuda
