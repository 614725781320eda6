//go:build cuda

package lib

// The constants of the NVIDIA APIs that this package and its callers use,
// under NVIDIA's own names so that they can be checked against the headers.
// Each cites where its value was taken from (see shim.h for the full list of
// sources). Where a value differs between library versions, that is said.

// CUDA driver ([cuda.h 12.6] and [cuda.h 11.6]).
const (
	// CUDA_SUCCESS: typedef enum cudaError_enum { CUDA_SUCCESS = 0, ... } CUresult.
	CUDA_SUCCESS = 0

	// CUstream_flags_enum: CU_STREAM_DEFAULT = 0x0, CU_STREAM_NON_BLOCKING =
	// 0x1 ("Stream does not synchronize with stream 0 (the NULL stream)").
	CU_STREAM_DEFAULT      = 0x0
	CU_STREAM_NON_BLOCKING = 0x1

	// CUevent_flags_enum: CU_EVENT_DEFAULT = 0x0, CU_EVENT_BLOCKING_SYNC =
	// 0x1, CU_EVENT_DISABLE_TIMING = 0x2 ("Event will not record timing
	// data"), CU_EVENT_INTERPROCESS = 0x4.
	CU_EVENT_DEFAULT        = 0x0
	CU_EVENT_DISABLE_TIMING = 0x2

	// CUstreamCaptureMode_enum: GLOBAL = 0, THREAD_LOCAL = 1, RELAXED = 2
	// (NVIDIA cuda-python docs, cuda.bindings.driver.StreamCaptureMode:
	// "GLOBAL: 0, THREAD_LOCAL: 1, RELAXED: 2"; same in every CUDA >= 10.1).
	CU_STREAM_CAPTURE_MODE_GLOBAL       = 0
	CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1
	CU_STREAM_CAPTURE_MODE_RELAXED      = 2

	// CUjit_option_enum, in declaration order from CU_JIT_MAX_REGISTERS = 0:
	// CU_JIT_THREADS_PER_BLOCK, CU_JIT_WALL_TIME, CU_JIT_INFO_LOG_BUFFER,
	// CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
	// CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, ... (CUDA 5.0 cuda.h; the order
	// has only been appended to since: bindings generated from the CUDA 12
	// headers list CU_JIT_ERROR_LOG_BUFFER = 5, ..._SIZE_BYTES = 6).
	CU_JIT_INFO_LOG_BUFFER             = 3
	CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES  = 4
	CU_JIT_ERROR_LOG_BUFFER            = 5
	CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6
)

// cuBLAS ([cublas_api.h 12.6]; identical in [cublas_api.h 13.0]).
const (
	// cublasStatus_t.
	CUBLAS_STATUS_SUCCESS          = 0
	CUBLAS_STATUS_NOT_INITIALIZED  = 1
	CUBLAS_STATUS_ALLOC_FAILED     = 3
	CUBLAS_STATUS_INVALID_VALUE    = 7
	CUBLAS_STATUS_ARCH_MISMATCH    = 8
	CUBLAS_STATUS_MAPPING_ERROR    = 11
	CUBLAS_STATUS_EXECUTION_FAILED = 13
	CUBLAS_STATUS_INTERNAL_ERROR   = 14
	CUBLAS_STATUS_NOT_SUPPORTED    = 15
	CUBLAS_STATUS_LICENSE_ERROR    = 16

	// cublasOperation_t: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1.
	CUBLAS_OP_N = 0
	CUBLAS_OP_T = 1

	// cublasMath_t. CUBLAS_DEFAULT_MATH keeps FP32 routines in FP32 (it uses
	// "compute and intermediate storage precisions with at least the same
	// number of mantissa and exponent bits as requested");
	// CUBLAS_TF32_TENSOR_OP_MATH: "allow accelerating single precision
	// routines using TF32 tensor cores" (cuBLAS >= 11.0);
	// CUBLAS_PEDANTIC_MATH forces the prescribed compute type.
	CUBLAS_DEFAULT_MATH        = 0
	CUBLAS_PEDANTIC_MATH       = 2
	CUBLAS_TF32_TENSOR_OP_MATH = 3
)

// libraryPropertyType (library_types.h; the same enum is repeated in
// [cudnn 8.2] cudnn_ops_infer.h: { MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL }).
const (
	propMajor = 0
	propMinor = 1
	propPatch = 2
)

// cuDNN ([cudnn 9.6] cudnn_graph.h, cudnn_ops.h, cudnn_cnn.h; the same values
// in [cudnn 8.2] cudnn_ops_infer.h and cudnn_cnn_infer.h unless said).
const (
	// cudnnStatus_t: CUDNN_STATUS_SUCCESS = 0 in 8.x and 9.x. The error codes
	// differ: 8.x numbers them 1..14 (e.g. CUDNN_STATUS_BAD_PARAM = 3,
	// CUDNN_STATUS_NOT_SUPPORTED = 9), 9.x by category (BAD_PARAM = 2000,
	// NOT_SUPPORTED = 3000, ...). Compare only with CUDNN_STATUS_SUCCESS and
	// print others with DNN.StatusString.
	CUDNN_STATUS_SUCCESS = 0

	// cudnnDataType_t: CUDNN_DATA_FLOAT = 0.
	CUDNN_DATA_FLOAT = 0

	// cudnnTensorFormat_t: CUDNN_TENSOR_NCHW = 0 ("row major (wStride = 1,
	// hStride = w)").
	CUDNN_TENSOR_NCHW = 0

	// cudnnConvolutionMode_t: { CUDNN_CONVOLUTION = 0,
	// CUDNN_CROSS_CORRELATION = 1 }. CUDNN_CONVOLUTION flips the filter (true
	// convolution); deep-learning "convolution" is cross-correlation, which is
	// what PyTorch passes (aten/src/ATen/cudnn/Descriptors.h) and what
	// ConvDesc.Set uses.
	CUDNN_CONVOLUTION       = 0
	CUDNN_CROSS_CORRELATION = 1

	// cudnnMathType_t. For FP32 data, PyTorch sets CUDNN_DEFAULT_MATH when
	// TF32 is allowed and CUDNN_FMA_MATH when it is not (allow_tf32 = false;
	// aten/src/ATen/cudnn/Descriptors.h, cuDNN >= 8.0); CUDNN_FMA_MATH
	// restricts cuDNN to kernels that use FMA instructions, i.e. no tensor
	// cores and no TF32.
	CUDNN_DEFAULT_MATH                    = 0
	CUDNN_TENSOR_OP_MATH                  = 1
	CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2
	CUDNN_FMA_MATH                        = 3

	// cudnnDeterminism_t.
	CUDNN_NON_DETERMINISTIC = 0
	CUDNN_DETERMINISTIC     = 1

	// cudnnBatchNormMode_t. SPATIAL: "bnScale, bnBias tensor dims are 1xCx1x1
	// (one value per C-dim normalized over Nx1xHxW subtensors)".
	CUDNN_BATCHNORM_PER_ACTIVATION     = 0
	CUDNN_BATCHNORM_SPATIAL            = 1
	CUDNN_BATCHNORM_SPATIAL_PERSISTENT = 2

	// cudnnConvolutionFwdAlgo_t.
	CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM         = 0
	CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1
	CUDNN_CONVOLUTION_FWD_ALGO_GEMM                  = 2
	CUDNN_CONVOLUTION_FWD_ALGO_DIRECT                = 3
	CUDNN_CONVOLUTION_FWD_ALGO_FFT                   = 4
	CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING            = 5
	CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD              = 6
	CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED     = 7
	CUDNN_CONVOLUTION_FWD_ALGO_COUNT                 = 8

	// cudnnConvolutionBwdDataAlgo_t (ALGO_0 is marked "non-deterministic").
	CUDNN_CONVOLUTION_BWD_DATA_ALGO_0                 = 0
	CUDNN_CONVOLUTION_BWD_DATA_ALGO_1                 = 1
	CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT               = 2
	CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING        = 3
	CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD          = 4
	CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED = 5
	CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT             = 6

	// cudnnConvolutionBwdFilterAlgo_t (ALGO_0 and ALGO_3 are marked
	// "non-deterministic"; WINOGRAD is "not implemented").
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0                 = 0
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1                 = 1
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT               = 2
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3                 = 3
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD          = 4
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED = 5
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING        = 6
	CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT             = 7
)

// CUDNN_BN_MIN_EPSILON: "#define CUDNN_BN_MIN_EPSILON 0.0 /* Minimum epsilon
// allowed to be used in the Batch Normalization formula */" ([cudnn 8.2]
// cudnn_ops_infer.h and [cudnn 9.6] cudnn_ops.h).
const CUDNN_BN_MIN_EPSILON = 0.0
