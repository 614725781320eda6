//go:build cuda

// Package lib binds the CUDA driver, cuBLAS and cuDNN, loaded at run time
// (DESIGN.md decision 4): Load dlopens libcuda.so.1, libcublas.so.{13,12,11}
// and libcudnn.so.{9,8} and resolves every function this package uses through
// dlsym into a table of function pointers; a small C shim (shim.h, shim.c)
// declares, with our own typedefs, each function's signature and calls
// through the table; thin Go wrappers turn each status into an *Error naming
// the function and the library's own description of the status. No NVIDIA
// header is needed to build it (go build -tags cuda works on a machine with
// no CUDA), and one binary runs with CUDA 11.8 to 13 and cuDNN 8.9 or 9. The
// owning, safe types of the backend are in package gpu/cuda, on top of this.
//
// # Contexts and threads
//
// The current CUDA context and dlerror's state are per OS thread, and a
// goroutine may run on another thread at its next cgo call. So every wrapper
// that needs a context takes it (it is a method of Context, BLAS or DNN) and
// the C shim calls cuCtxSetCurrent(ctx) in the same C call, right before the
// library call; cuBLAS and cuDNN then use that context too. Callers may use a
// Context from any goroutine, one call after another. Handles (BLAS, DNN),
// streams and Args are not safe for concurrent use: order such calls
// yourself. dlerror is read in the same C function as the failing
// dlopen/dlsym.
//
// # Allocation
//
// The calls of a training step — Launch, Sgemm, ConvForward,
// ConvBackwardData, ConvBackwardFilter, Execute, BNForwardTraining,
// BNForwardInference, BNBackward, MemsetD32, DtoD, HtoD, DtoH, StreamSync,
// LaunchGraph — allocate nothing on the Go heap when they succeed: kernel
// arguments live in a reused C block (Args), alpha and beta are C locals of
// the shim, device pointers cross as integers, and Execute keeps its tensor
// ids, pointers and message buffer in the EnginePlan.
//
// # The cuDNN backend API
//
// Besides the legacy convolution calls, dnn_backend.go builds one
// convolution as a cuDNN operation graph (cudnnBackend* descriptors, cuDNN
// 8.0+; the symbols are optional, so an older cuDNN still loads), asks the
// engine heuristics for configurations, reads each engine's numerical and
// behavior notes, finalizes execution plans and runs them (Execute, one cgo
// call that makes, uses and destroys the variant pack). The heuristics offer
// the TF32 tensor-core kernels that PyTorch uses and the legacy search did
// not rank first.
//
// # Where each signature comes from
//
// shim.h cites, beside each declaration, the header it was transcribed from:
// CUDA 12.6 cuda.h and cudaTypedefs.h (PFN_* typedefs, with the CUDA version
// that introduced each ABI) and CUDA 11.6 cuda.h for the driver; cuBLAS
// 12.6.4 and 13.0.0 cublas_api.h; cuDNN 9.6.0 cudnn_graph.h, cudnn_ops.h and
// cudnn_cnn.h, and cuDNN 8.2.1 cudnn_ops_infer.h, cudnn_ops_train.h,
// cudnn_cnn_infer.h and cudnn_cnn_train.h. consts.go does the same for each constant. The signatures
// used are identical in all of these versions (the backend API's since cuDNN
// 8.0; cudnnGetLastErrorString and cuEventElapsedTime_v2 are optional).
package lib
