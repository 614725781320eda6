//go:build cuda

/*
 * shim.h: package lib's own declarations of the CUDA driver, cuBLAS and cuDNN
 * types, function-pointer types and the symbol table. No NVIDIA header is
 * included anywhere in this package: every declaration below was transcribed
 * from NVIDIA's headers or documentation, and says from which.
 *
 * Sources (quoted as [tag] below):
 *   [cuda.h 12.6]       CUDA Toolkit 12.6 include/cuda.h (CUDA_VERSION 12060)
 *   [cuda.h 11.6]       CUDA Toolkit 11.6 include/cuda.h (CUDA_VERSION 11060)
 *   [PFN 12.6]          CUDA Toolkit 12.6 include/cudaTypedefs.h, the
 *                       "PFN_cu*" typedefs ("Type definitions for functions
 *                       defined in cuda.h"); the number after _v is the CUDA
 *                       version that introduced that ABI.
 *   [driver_types.h]    CUDA Toolkit include/driver_types.h
 *                       (typedef struct CUstream_st *cudaStream_t)
 *   [cublas_api.h 12.6] CUDA Toolkit 12.6 include/cublas_api.h (cuBLAS 12.6.4)
 *   [cublas_api.h 13.0] CUDA Toolkit 13.0 include/cublas_api.h (cuBLAS 13.0.0)
 *   [cudnn 9.6]         cuDNN 9.6.0 include/cudnn_graph.h, cudnn_ops.h,
 *                       cudnn_cnn.h
 *   [cudnn 8.2]         cuDNN 8.2.1 include/cudnn_ops_infer.h,
 *                       cudnn_ops_train.h, cudnn_cnn_infer.h, cudnn_cnn_train.h
 *
 * Every function used here has the same signature in cuDNN 8.x and 9.x, in
 * cuBLAS 11, 12 and 13 and in the CUDA 11.4+ driver.
 *
 * Enumerations are passed as int. A C enum whose values fit in an int is
 * passed and returned exactly like an int by the x86-64 and AArch64 ABIs, so
 * declaring the parameter as int is binary-compatible.
 */

#ifndef REPRO_CUDA_SHIM_H
#define REPRO_CUDA_SHIM_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------- */
/* CUDA driver types                                                       */
/* ---------------------------------------------------------------------- */

typedef int CUresult;                 /* [cuda.h 12.6] typedef enum cudaError_enum {CUDA_SUCCESS = 0, ...} CUresult */
typedef int CUdevice;                 /* [cuda.h 12.6] typedef int CUdevice_v1; typedef CUdevice_v1 CUdevice */
typedef unsigned long long CUdeviceptr; /* [cuda.h 12.6] CUdeviceptr_v2 is unsigned long long when __LP64__ */
typedef struct CUctx_st *CUcontext;   /* [cuda.h 12.6] typedef struct CUctx_st *CUcontext */
typedef struct CUmod_st *CUmodule;    /* [cuda.h 12.6] typedef struct CUmod_st *CUmodule */
typedef struct CUfunc_st *CUfunction; /* [cuda.h 12.6] typedef struct CUfunc_st *CUfunction */
typedef struct CUstream_st *CUstream; /* [cuda.h 12.6] typedef struct CUstream_st *CUstream; the runtime's
                                         cudaStream_t is the same type [driver_types.h] */
typedef struct CUgraph_st *CUgraph;   /* [cuda.h 12.6] typedef struct CUgraph_st *CUgraph */
typedef struct CUgraphExec_st *CUgraphExec; /* [cuda.h 12.6] typedef struct CUgraphExec_st *CUgraphExec */
typedef struct CUevent_st *CUevent;   /* [cuda.h 12.6] typedef struct CUevent_st *CUevent */
typedef int CUjit_option;             /* [cuda.h 12.6] typedef enum CUjit_option_enum {...} CUjit_option */
typedef int CUstreamCaptureMode;      /* [cuda.h 12.6] typedef enum CUstreamCaptureMode_enum {...} CUstreamCaptureMode */

/* Function-pointer types, named after the exported symbol they are resolved
 * from. Signatures from [PFN 12.6]; the exported names (the _v2 suffixes) from
 * the #define block at the top of [cuda.h 12.6] and [cuda.h 11.6], e.g.
 * "#define cuMemAlloc cuMemAlloc_v2", "#define cuStreamBeginCapture
 * __CUDA_API_PTSZ(cuStreamBeginCapture_v2)", "#define cuDevicePrimaryCtxRelease
 * cuDevicePrimaryCtxRelease_v2".
 * (*) The typedef quoted is the per-thread-default-stream (_ptsz) twin: the
 * header makes it from the same declaration (__CUDA_API_PTSZ(api) only
 * renames api to api_ptsz), so the parameter list is that of the symbol we
 * resolve; the default-stream ABI's typedef carries the older version number
 * (e.g. "#define PFN_cuMemcpyHtoDAsync __API_TYPEDEF_PTSZ(PFN_cuMemcpyHtoDAsync,
 * 3020, 7000)"). Cross-checked against the prototypes of CUDA 11.8's cuda.h. */
typedef CUresult (*PFN_cuGetErrorName)(CUresult error, const char **pStr);          /* PFN_cuGetErrorName_v6000 */
typedef CUresult (*PFN_cuGetErrorString)(CUresult error, const char **pStr);        /* PFN_cuGetErrorString_v6000 */
typedef CUresult (*PFN_cuInit)(unsigned int Flags);                                 /* PFN_cuInit_v2000 */
typedef CUresult (*PFN_cuDriverGetVersion)(int *driverVersion);                     /* PFN_cuDriverGetVersion_v2020 */
typedef CUresult (*PFN_cuDeviceGetCount)(int *count);                               /* PFN_cuDeviceGetCount_v2000 */
typedef CUresult (*PFN_cuDeviceGet)(CUdevice *device, int ordinal);                 /* PFN_cuDeviceGet_v2000 */
typedef CUresult (*PFN_cuDeviceGetName)(char *name, int len, CUdevice dev);         /* PFN_cuDeviceGetName_v2000 */
typedef CUresult (*PFN_cuDeviceTotalMem_v2)(size_t *bytes, CUdevice dev);           /* PFN_cuDeviceTotalMem_v3020 */
typedef CUresult (*PFN_cuDevicePrimaryCtxRetain)(CUcontext *pctx, CUdevice dev);    /* PFN_cuDevicePrimaryCtxRetain_v7000 */
typedef CUresult (*PFN_cuDevicePrimaryCtxRelease_v2)(CUdevice dev);                 /* PFN_cuDevicePrimaryCtxRelease_v11000 */
typedef CUresult (*PFN_cuCtxSetCurrent)(CUcontext ctx);                             /* PFN_cuCtxSetCurrent_v4000 */
typedef CUresult (*PFN_cuMemAlloc_v2)(CUdeviceptr *dptr, size_t bytesize);          /* PFN_cuMemAlloc_v3020 */
typedef CUresult (*PFN_cuMemFree_v2)(CUdeviceptr dptr);                             /* PFN_cuMemFree_v3020 */
typedef CUresult (*PFN_cuMemGetInfo_v2)(size_t *free, size_t *total);               /* PFN_cuMemGetInfo_v3020 */
typedef CUresult (*PFN_cuMemcpyHtoDAsync_v2)(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                             CUstream hStream); /* PFN_cuMemcpyHtoDAsync_v7000_ptsz (*) */
typedef CUresult (*PFN_cuMemcpyDtoHAsync_v2)(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                             CUstream hStream); /* PFN_cuMemcpyDtoHAsync_v7000_ptsz (*) */
typedef CUresult (*PFN_cuMemcpyDtoDAsync_v2)(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                             CUstream hStream); /* PFN_cuMemcpyDtoDAsync_v7000_ptsz (*) */
typedef CUresult (*PFN_cuMemsetD32Async)(CUdeviceptr dstDevice, unsigned int ui, size_t N,
                                         CUstream hStream); /* PFN_cuMemsetD32Async_v7000_ptsz (*) */
typedef CUresult (*PFN_cuStreamCreate)(CUstream *phStream, unsigned int Flags);     /* PFN_cuStreamCreate_v2000 */
typedef CUresult (*PFN_cuStreamDestroy_v2)(CUstream hStream);                       /* PFN_cuStreamDestroy_v4000 */
typedef CUresult (*PFN_cuStreamSynchronize)(CUstream hStream);                      /* PFN_cuStreamSynchronize_v7000_ptsz (*) */
typedef CUresult (*PFN_cuModuleLoadDataEx)(CUmodule *module, const void *image, unsigned int numOptions,
                                           CUjit_option *options, void **optionValues); /* PFN_cuModuleLoadDataEx_v2010 */
typedef CUresult (*PFN_cuModuleGetFunction)(CUfunction *hfunc, CUmodule hmod, const char *name); /* PFN_cuModuleGetFunction_v2000 */
typedef CUresult (*PFN_cuModuleUnload)(CUmodule hmod);                              /* PFN_cuModuleUnload_v2000 */
typedef CUresult (*PFN_cuLaunchKernel)(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                       unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                       unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                       void **kernelParams, void **extra); /* PFN_cuLaunchKernel_v7000_ptsz (*) */
typedef CUresult (*PFN_cuStreamBeginCapture_v2)(CUstream hStream, CUstreamCaptureMode mode); /* PFN_cuStreamBeginCapture_v10010_ptsz (*) */
typedef CUresult (*PFN_cuStreamEndCapture)(CUstream hStream, CUgraph *phGraph);    /* PFN_cuStreamEndCapture_v10000_ptsz (*) */
typedef CUresult (*PFN_cuGraphInstantiateWithFlags)(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                    unsigned long long flags); /* PFN_cuGraphInstantiateWithFlags_v11040;
                                                    CUDA 12 maps cuGraphInstantiate to it ([cuda.h 12.6]:
                                                    "#define cuGraphInstantiate cuGraphInstantiateWithFlags"), CUDA 11
                                                    maps cuGraphInstantiate to the 5-argument cuGraphInstantiate_v2
                                                    ([cuda.h 11.6]); this one exists in both since 11.4. */
typedef CUresult (*PFN_cuGraphLaunch)(CUgraphExec hGraphExec, CUstream hStream);   /* PFN_cuGraphLaunch_v10000_ptsz (*) */
typedef CUresult (*PFN_cuGraphExecDestroy)(CUgraphExec hGraphExec);                 /* PFN_cuGraphExecDestroy_v10000 */
typedef CUresult (*PFN_cuGraphDestroy)(CUgraph hGraph);                             /* PFN_cuGraphDestroy_v10000 */
typedef CUresult (*PFN_cuEventCreate)(CUevent *phEvent, unsigned int Flags);        /* PFN_cuEventCreate_v2000 */
typedef CUresult (*PFN_cuEventRecord)(CUevent hEvent, CUstream hStream);            /* PFN_cuEventRecord_v7000_ptsz (*) */
typedef CUresult (*PFN_cuEventSynchronize)(CUevent hEvent);                         /* PFN_cuEventSynchronize_v2000 */
typedef CUresult (*PFN_cuEventElapsedTime)(float *pMilliseconds, CUevent hStart,
                                           CUevent hEnd); /* PFN_cuEventElapsedTime_v2000 */
typedef CUresult (*PFN_cuEventElapsedTime_v2)(float *pMilliseconds, CUevent hStart,
                                              CUevent hEnd); /* same parameters; CUDA 12.8 added it and CUDA 13's
                                              cuda.h declares only it ("#if CUDA_VERSION < 13000" around the old
                                              one): both are optional, and _v2 is preferred */
typedef CUresult (*PFN_cuEventDestroy_v2)(CUevent hEvent);                          /* PFN_cuEventDestroy_v4000 */
typedef CUresult (*PFN_cuStreamWaitEvent)(CUstream hStream, CUevent hEvent,
                                          unsigned int Flags); /* PFN_cuStreamWaitEvent_v3020_ptsz (*) */

/* ---------------------------------------------------------------------- */
/* cuBLAS types ([cublas_api.h 12.6], unchanged in [cublas_api.h 13.0])    */
/* ---------------------------------------------------------------------- */

typedef int cublasStatus_t;                    /* typedef enum {CUBLAS_STATUS_SUCCESS = 0, ...} cublasStatus_t */
typedef struct cublasContext *cublasHandle_t;  /* struct cublasContext; typedef struct cublasContext* cublasHandle_t */
typedef int cublasOperation_t;                 /* typedef enum {CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, ...} */
typedef int cublasMath_t;                      /* typedef enum {CUBLAS_DEFAULT_MATH = 0, ...} cublasMath_t */
typedef int libraryPropertyType;               /* library_types.h; the enum is repeated in [cudnn 8.2]
                                                  cudnn_ops_infer.h: {MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL} */

typedef cublasStatus_t (*PFN_cublasCreate_v2)(cublasHandle_t *handle);
typedef cublasStatus_t (*PFN_cublasDestroy_v2)(cublasHandle_t handle);
typedef cublasStatus_t (*PFN_cublasSetStream_v2)(cublasHandle_t handle, CUstream streamId); /* cudaStream_t streamId */
typedef cublasStatus_t (*PFN_cublasGetVersion_v2)(cublasHandle_t handle, int *version);
typedef cublasStatus_t (*PFN_cublasSetMathMode)(cublasHandle_t handle, cublasMath_t mode);
typedef cublasStatus_t (*PFN_cublasSgemm_v2)(cublasHandle_t handle, cublasOperation_t transa,
                                             cublasOperation_t transb, int m, int n, int k,
                                             const float *alpha, const float *A, int lda, const float *B,
                                             int ldb, const float *beta, float *C, int ldc);
typedef const char *(*PFN_cublasGetStatusName)(cublasStatus_t status);   /* optional: absent before cuBLAS 11.4.2 */
typedef const char *(*PFN_cublasGetStatusString)(cublasStatus_t status); /* optional: absent before cuBLAS 11.4.2 */
typedef cublasStatus_t (*PFN_cublasGetProperty)(libraryPropertyType type, int *value); /* optional here */

/* ---------------------------------------------------------------------- */
/* cuDNN types ([cudnn 9.6]; identical in [cudnn 8.2])                     */
/* ---------------------------------------------------------------------- */

typedef int cudnnStatus_t;                                   /* cudnn_graph.h / cudnn_ops_infer.h: typedef enum {...} cudnnStatus_t */
typedef struct cudnnContext *cudnnHandle_t;                  /* struct cudnnContext; typedef struct cudnnContext *cudnnHandle_t */
typedef struct cudnnTensorStruct *cudnnTensorDescriptor_t;   /* typedef struct cudnnTensorStruct *cudnnTensorDescriptor_t */
typedef struct cudnnFilterStruct *cudnnFilterDescriptor_t;   /* typedef struct cudnnFilterStruct *cudnnFilterDescriptor_t */
typedef struct cudnnConvolutionStruct *cudnnConvolutionDescriptor_t; /* typedef struct cudnnConvolutionStruct *... */
typedef int cudnnDataType_t, cudnnTensorFormat_t, cudnnConvolutionMode_t, cudnnMathType_t, cudnnBatchNormMode_t;
typedef int cudnnConvolutionFwdAlgo_t, cudnnConvolutionBwdDataAlgo_t, cudnnConvolutionBwdFilterAlgo_t;

/* cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionBwdDataAlgoPerf_t and
 * cudnnConvolutionBwdFilterAlgoPerf_t ([cudnn 9.6] cudnn_cnn.h, [cudnn 8.2]
 * cudnn_cnn_infer.h and cudnn_cnn_train.h) have the same member list:
 *   typedef struct cudnnConvolutionFwdAlgoPerfStruct {
 *       cudnnConvolutionFwdAlgo_t algo;
 *       cudnnStatus_t status;
 *       float time;
 *       size_t memory;
 *       cudnnDeterminism_t determinism;
 *       cudnnMathType_t mathType;
 *       int reserved[3];
 *   } cudnnConvolutionFwdAlgoPerf_t;
 * so one C struct serves all three. On LP64: algo 0, status 4, time 8,
 * (4 bytes padding), memory 16, determinism 24, mathType 28, reserved 32..43,
 * size 48 (rounded to size_t's alignment). */
typedef struct repro_perf {
    int algo;
    int status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
} repro_perf;

typedef size_t (*PFN_cudnnGetVersion)(void);
typedef const char *(*PFN_cudnnGetErrorString)(cudnnStatus_t status);
typedef cudnnStatus_t (*PFN_cudnnCreate)(cudnnHandle_t *handle);
typedef cudnnStatus_t (*PFN_cudnnDestroy)(cudnnHandle_t handle);
typedef cudnnStatus_t (*PFN_cudnnSetStream)(cudnnHandle_t handle, CUstream streamId); /* cudaStream_t streamId */
typedef cudnnStatus_t (*PFN_cudnnCreateTensorDescriptor)(cudnnTensorDescriptor_t *tensorDesc);
typedef cudnnStatus_t (*PFN_cudnnDestroyTensorDescriptor)(cudnnTensorDescriptor_t tensorDesc);
typedef cudnnStatus_t (*PFN_cudnnSetTensor4dDescriptorEx)(cudnnTensorDescriptor_t tensorDesc, cudnnDataType_t dataType,
                                                          int n, int c, int h, int w, int nStride, int cStride,
                                                          int hStride, int wStride);
typedef cudnnStatus_t (*PFN_cudnnCreateFilterDescriptor)(cudnnFilterDescriptor_t *filterDesc);
typedef cudnnStatus_t (*PFN_cudnnDestroyFilterDescriptor)(cudnnFilterDescriptor_t filterDesc);
typedef cudnnStatus_t (*PFN_cudnnSetFilter4dDescriptor)(cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType,
                                                        cudnnTensorFormat_t format, int k, int c, int h, int w);
typedef cudnnStatus_t (*PFN_cudnnCreateConvolutionDescriptor)(cudnnConvolutionDescriptor_t *convDesc);
typedef cudnnStatus_t (*PFN_cudnnDestroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t convDesc);
typedef cudnnStatus_t (*PFN_cudnnSetConvolution2dDescriptor)(cudnnConvolutionDescriptor_t convDesc, int pad_h,
                                                             int pad_w, int u, int v, int dilation_h, int dilation_w,
                                                             cudnnConvolutionMode_t mode,
                                                             cudnnDataType_t computeType);
typedef cudnnStatus_t (*PFN_cudnnSetConvolutionMathType)(cudnnConvolutionDescriptor_t convDesc,
                                                         cudnnMathType_t mathType);
typedef cudnnStatus_t (*PFN_cudnnFindConvolutionForwardAlgorithmEx)(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnFilterDescriptor_t wDesc,
    const void *w, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, void *y,
    const int requestedAlgoCount, int *returnedAlgoCount, repro_perf *perfResults, void *workSpace,
    size_t workSpaceSizeInBytes);
typedef cudnnStatus_t (*PFN_cudnnFindConvolutionBackwardDataAlgorithmEx)(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc,
    const void *dy, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, void *dx,
    const int requestedAlgoCount, int *returnedAlgoCount, repro_perf *perfResults, void *workSpace,
    size_t workSpaceSizeInBytes);
typedef cudnnStatus_t (*PFN_cudnnFindConvolutionBackwardFilterAlgorithmEx)(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc,
    const void *y, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t dwDesc, void *dw,
    const int requestedAlgoCount, int *returnedAlgoCount, repro_perf *perfResults, void *workSpace,
    size_t workSpaceSizeInBytes);
typedef cudnnStatus_t (*PFN_cudnnGetConvolutionForwardWorkspaceSize)(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo,
    size_t *sizeInBytes);
typedef cudnnStatus_t (*PFN_cudnnGetConvolutionBackwardDataWorkspaceSize)(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc,
    cudnnConvolutionBwdDataAlgo_t algo, size_t *sizeInBytes);
typedef cudnnStatus_t (*PFN_cudnnGetConvolutionBackwardFilterWorkspaceSize)(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes);
typedef cudnnStatus_t (*PFN_cudnnConvolutionForward)(
    cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnTensorDescriptor_t yDesc, void *y);
typedef cudnnStatus_t (*PFN_cudnnConvolutionBackwardData)(
    cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc, const void *w,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdDataAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnTensorDescriptor_t dxDesc, void *dx);
typedef cudnnStatus_t (*PFN_cudnnConvolutionBackwardFilter)(
    cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta,
    const cudnnFilterDescriptor_t dwDesc, void *dw);
typedef cudnnStatus_t (*PFN_cudnnBatchNormalizationForwardTraining)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
    const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
    double exponentialAverageFactor, void *resultRunningMean, void *resultRunningVariance, double epsilon,
    void *resultSaveMean, void *resultSaveInvVariance); /* 17 arguments */
typedef cudnnStatus_t (*PFN_cudnnBatchNormalizationForwardInference)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alpha, const void *beta,
    const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t yDesc, void *y,
    const cudnnTensorDescriptor_t bnScaleBiasMeanVarDesc, const void *bnScale, const void *bnBias,
    const void *estimatedMean, const void *estimatedVariance, double epsilon); /* 14 arguments */
typedef cudnnStatus_t (*PFN_cudnnBatchNormalizationBackward)(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void *alphaDataDiff, const void *betaDataDiff,
    const void *alphaParamDiff, const void *betaParamDiff, const cudnnTensorDescriptor_t xDesc, const void *x,
    const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnTensorDescriptor_t dxDesc, void *dx,
    const cudnnTensorDescriptor_t dBnScaleBiasDesc, const void *bnScale, void *dBnScaleResult, void *dBnBiasResult,
    double epsilon, const void *savedMean, const void *savedInvVariance); /* 19 arguments */
typedef cudnnStatus_t (*PFN_cudnnDeriveBNTensorDescriptor)(cudnnTensorDescriptor_t derivedBnDesc,
                                                           const cudnnTensorDescriptor_t xDesc,
                                                           cudnnBatchNormMode_t mode);

/* The backend ("graph") API, cuDNN >= 8.0 ([cudnn 9.6] cudnn_graph.h; in
 * cuDNN 8 cudnn_backend.h with the same signatures). Every object is an
 * opaque cudnnBackendDescriptor_t ("typedef void *cudnnBackendDescriptor_t")
 * built by setting typed attributes and then finalized. The enumerations
 * (descriptor types, attribute names, attribute types) travel as int. */
typedef void *cudnnBackendDescriptor_t;
typedef cudnnStatus_t (*PFN_cudnnBackendCreateDescriptor)(int descriptorType, cudnnBackendDescriptor_t *descriptor);
typedef cudnnStatus_t (*PFN_cudnnBackendDestroyDescriptor)(cudnnBackendDescriptor_t descriptor);
typedef cudnnStatus_t (*PFN_cudnnBackendFinalize)(cudnnBackendDescriptor_t descriptor);
typedef cudnnStatus_t (*PFN_cudnnBackendSetAttribute)(cudnnBackendDescriptor_t descriptor, int attributeName,
                                                      int attributeType, int64_t elementCount,
                                                      const void *arrayOfElements);
typedef cudnnStatus_t (*PFN_cudnnBackendGetAttribute)(cudnnBackendDescriptor_t const descriptor, int attributeName,
                                                      int attributeType, int64_t requestedElementCount,
                                                      int64_t *elementCount, void *arrayOfElements);
typedef cudnnStatus_t (*PFN_cudnnBackendExecute)(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                                 cudnnBackendDescriptor_t variantPack);
/* cuDNN >= 9.0 only: "void cudnnGetLastErrorString(char *message, size_t
 * max_size)", the message of this thread's last error. */
typedef void (*PFN_cudnnGetLastErrorString)(char *message, size_t max_size);

/* ---------------------------------------------------------------------- */
/* Symbol table                                                            */
/* ---------------------------------------------------------------------- */

#define REPRO_LIB_DRIVER 0
#define REPRO_LIB_BLAS 1
#define REPRO_LIB_DNN 2

/* X(library, exported symbol, optional) */
#define REPRO_SYMBOLS(X)                                   \
    X(REPRO_LIB_DRIVER, cuGetErrorName, 0)                 \
    X(REPRO_LIB_DRIVER, cuGetErrorString, 0)               \
    X(REPRO_LIB_DRIVER, cuInit, 0)                         \
    X(REPRO_LIB_DRIVER, cuDriverGetVersion, 0)             \
    X(REPRO_LIB_DRIVER, cuDeviceGetCount, 0)               \
    X(REPRO_LIB_DRIVER, cuDeviceGet, 0)                    \
    X(REPRO_LIB_DRIVER, cuDeviceGetName, 0)                \
    X(REPRO_LIB_DRIVER, cuDeviceTotalMem_v2, 0)            \
    X(REPRO_LIB_DRIVER, cuDevicePrimaryCtxRetain, 0)       \
    X(REPRO_LIB_DRIVER, cuDevicePrimaryCtxRelease_v2, 0)   \
    X(REPRO_LIB_DRIVER, cuCtxSetCurrent, 0)                \
    X(REPRO_LIB_DRIVER, cuMemAlloc_v2, 0)                  \
    X(REPRO_LIB_DRIVER, cuMemFree_v2, 0)                   \
    X(REPRO_LIB_DRIVER, cuMemGetInfo_v2, 0)                \
    X(REPRO_LIB_DRIVER, cuMemcpyHtoDAsync_v2, 0)           \
    X(REPRO_LIB_DRIVER, cuMemcpyDtoHAsync_v2, 0)           \
    X(REPRO_LIB_DRIVER, cuMemcpyDtoDAsync_v2, 0)           \
    X(REPRO_LIB_DRIVER, cuMemsetD32Async, 0)               \
    X(REPRO_LIB_DRIVER, cuStreamCreate, 0)                 \
    X(REPRO_LIB_DRIVER, cuStreamDestroy_v2, 0)             \
    X(REPRO_LIB_DRIVER, cuStreamSynchronize, 0)            \
    X(REPRO_LIB_DRIVER, cuModuleLoadDataEx, 0)             \
    X(REPRO_LIB_DRIVER, cuModuleGetFunction, 0)            \
    X(REPRO_LIB_DRIVER, cuModuleUnload, 0)                 \
    X(REPRO_LIB_DRIVER, cuLaunchKernel, 0)                 \
    X(REPRO_LIB_DRIVER, cuStreamBeginCapture_v2, 0)        \
    X(REPRO_LIB_DRIVER, cuStreamEndCapture, 0)             \
    X(REPRO_LIB_DRIVER, cuGraphInstantiateWithFlags, 0)    \
    X(REPRO_LIB_DRIVER, cuGraphLaunch, 0)                  \
    X(REPRO_LIB_DRIVER, cuGraphExecDestroy, 0)             \
    X(REPRO_LIB_DRIVER, cuGraphDestroy, 0)                 \
    X(REPRO_LIB_DRIVER, cuEventCreate, 0)                  \
    X(REPRO_LIB_DRIVER, cuEventRecord, 0)                  \
    X(REPRO_LIB_DRIVER, cuEventSynchronize, 0)             \
    X(REPRO_LIB_DRIVER, cuEventElapsedTime_v2, 1)          \
    X(REPRO_LIB_DRIVER, cuEventElapsedTime, 1)             \
    X(REPRO_LIB_DRIVER, cuEventDestroy_v2, 0)              \
    X(REPRO_LIB_DRIVER, cuStreamWaitEvent, 0)              \
    X(REPRO_LIB_BLAS, cublasCreate_v2, 0)                  \
    X(REPRO_LIB_BLAS, cublasDestroy_v2, 0)                 \
    X(REPRO_LIB_BLAS, cublasSetStream_v2, 0)               \
    X(REPRO_LIB_BLAS, cublasGetVersion_v2, 0)              \
    X(REPRO_LIB_BLAS, cublasSetMathMode, 0)                \
    X(REPRO_LIB_BLAS, cublasSgemm_v2, 0)                   \
    X(REPRO_LIB_BLAS, cublasGetStatusName, 1)              \
    X(REPRO_LIB_BLAS, cublasGetStatusString, 1)            \
    X(REPRO_LIB_BLAS, cublasGetProperty, 1)                \
    X(REPRO_LIB_DNN, cudnnGetVersion, 0)                   \
    X(REPRO_LIB_DNN, cudnnGetErrorString, 0)               \
    X(REPRO_LIB_DNN, cudnnCreate, 0)                       \
    X(REPRO_LIB_DNN, cudnnDestroy, 0)                      \
    X(REPRO_LIB_DNN, cudnnSetStream, 0)                    \
    X(REPRO_LIB_DNN, cudnnCreateTensorDescriptor, 0)       \
    X(REPRO_LIB_DNN, cudnnDestroyTensorDescriptor, 0)      \
    X(REPRO_LIB_DNN, cudnnSetTensor4dDescriptorEx, 0)      \
    X(REPRO_LIB_DNN, cudnnCreateFilterDescriptor, 0)       \
    X(REPRO_LIB_DNN, cudnnDestroyFilterDescriptor, 0)      \
    X(REPRO_LIB_DNN, cudnnSetFilter4dDescriptor, 0)        \
    X(REPRO_LIB_DNN, cudnnCreateConvolutionDescriptor, 0)  \
    X(REPRO_LIB_DNN, cudnnDestroyConvolutionDescriptor, 0) \
    X(REPRO_LIB_DNN, cudnnSetConvolution2dDescriptor, 0)   \
    X(REPRO_LIB_DNN, cudnnSetConvolutionMathType, 0)       \
    X(REPRO_LIB_DNN, cudnnFindConvolutionForwardAlgorithmEx, 0)        \
    X(REPRO_LIB_DNN, cudnnFindConvolutionBackwardDataAlgorithmEx, 0)   \
    X(REPRO_LIB_DNN, cudnnFindConvolutionBackwardFilterAlgorithmEx, 0) \
    X(REPRO_LIB_DNN, cudnnGetConvolutionForwardWorkspaceSize, 0)       \
    X(REPRO_LIB_DNN, cudnnGetConvolutionBackwardDataWorkspaceSize, 0)  \
    X(REPRO_LIB_DNN, cudnnGetConvolutionBackwardFilterWorkspaceSize, 0) \
    X(REPRO_LIB_DNN, cudnnConvolutionForward, 0)           \
    X(REPRO_LIB_DNN, cudnnConvolutionBackwardData, 0)      \
    X(REPRO_LIB_DNN, cudnnConvolutionBackwardFilter, 0)    \
    X(REPRO_LIB_DNN, cudnnBatchNormalizationForwardTraining, 0)  \
    X(REPRO_LIB_DNN, cudnnBatchNormalizationForwardInference, 0) \
    X(REPRO_LIB_DNN, cudnnBatchNormalizationBackward, 0)   \
    X(REPRO_LIB_DNN, cudnnDeriveBNTensorDescriptor, 0)     \
    X(REPRO_LIB_DNN, cudnnBackendCreateDescriptor, 1)      \
    X(REPRO_LIB_DNN, cudnnBackendDestroyDescriptor, 1)     \
    X(REPRO_LIB_DNN, cudnnBackendFinalize, 1)              \
    X(REPRO_LIB_DNN, cudnnBackendSetAttribute, 1)          \
    X(REPRO_LIB_DNN, cudnnBackendGetAttribute, 1)          \
    X(REPRO_LIB_DNN, cudnnBackendExecute, 1)               \
    X(REPRO_LIB_DNN, cudnnGetLastErrorString, 1)

#define REPRO_SYM_ENUM(lib, name, optional) SYM_##name,
enum repro_sym { REPRO_SYMBOLS(REPRO_SYM_ENUM) REPRO_SYM_COUNT };

/* The resolved symbols of one Load. A NULL entry is an optional symbol the
 * library does not export. */
typedef struct repro_tbl {
    void *fn[REPRO_SYM_COUNT];
} repro_tbl;

/* A call's outcome: code is the status of the named library call (a CUresult,
 * cublasStatus_t or cudnnStatus_t), or, when ctxfail is 1, the CUresult of
 * the cuCtxSetCurrent made before it. */
typedef struct repro_rc {
    int code;
    int ctxfail;
} repro_rc;

/* Kernel argument block: slot[i] holds argument i's value, ptr[i] = &slot[i]
 * is the kernelParams array cuLaunchKernel reads. */
#define REPRO_MAX_ARGS 32
typedef struct repro_args {
    uint64_t slot[REPRO_MAX_ARGS];
    void *ptr[REPRO_MAX_ARGS];
} repro_args;

/* loading */
int repro_sym_count(void);
const char *repro_sym_name(int i);
int repro_sym_lib(int i);
int repro_sym_optional(int i);
void repro_tbl_set(repro_tbl *t, int i, void *p);
void *repro_tbl_get(repro_tbl *t, int i);
void *repro_dlopen(const char *path, char *err, size_t errlen);
void *repro_dlsym(void *handle, const char *name, char *err, size_t errlen);
int repro_dladdr(void *sym, char *buf, size_t len);
void repro_perf_layout(size_t out[8]);
void repro_args_init(repro_args *a);

/* driver */
void repro_cu_error(repro_tbl *t, CUresult r, const char **name, const char **desc);
repro_rc repro_cu_init(repro_tbl *t);
repro_rc repro_cu_driver_version(repro_tbl *t, int *v);
repro_rc repro_cu_device_count(repro_tbl *t, int *n);
repro_rc repro_cu_device_get(repro_tbl *t, int ordinal, CUdevice *dev);
repro_rc repro_cu_device_name(repro_tbl *t, CUdevice dev, char *name, int len);
repro_rc repro_cu_device_total_mem(repro_tbl *t, CUdevice dev, size_t *bytes);
repro_rc repro_cu_primary_retain(repro_tbl *t, CUdevice dev, CUcontext *ctx);
repro_rc repro_cu_primary_release(repro_tbl *t, CUdevice dev);
repro_rc repro_cu_mem_alloc(repro_tbl *t, CUcontext ctx, size_t bytes, CUdeviceptr *p);
repro_rc repro_cu_mem_free(repro_tbl *t, CUcontext ctx, CUdeviceptr p);
repro_rc repro_cu_mem_info(repro_tbl *t, CUcontext ctx, size_t *free_bytes, size_t *total_bytes);
repro_rc repro_cu_htod(repro_tbl *t, CUcontext ctx, CUdeviceptr dst, const void *src, size_t n, CUstream s);
repro_rc repro_cu_dtoh(repro_tbl *t, CUcontext ctx, void *dst, CUdeviceptr src, size_t n, CUstream s);
repro_rc repro_cu_dtod(repro_tbl *t, CUcontext ctx, CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s);
repro_rc repro_cu_memset32(repro_tbl *t, CUcontext ctx, CUdeviceptr dst, unsigned int v, size_t n, CUstream s);
repro_rc repro_cu_stream_create(repro_tbl *t, CUcontext ctx, unsigned int flags, CUstream *s);
repro_rc repro_cu_stream_destroy(repro_tbl *t, CUcontext ctx, CUstream s);
repro_rc repro_cu_stream_sync(repro_tbl *t, CUcontext ctx, CUstream s);
repro_rc repro_cu_module_load(repro_tbl *t, CUcontext ctx, const void *image, CUmodule *m, CUjit_option opt_log,
                              CUjit_option opt_log_size, char *log, size_t log_size);
repro_rc repro_cu_module_function(repro_tbl *t, CUcontext ctx, CUmodule m, const char *name, CUfunction *f);
repro_rc repro_cu_module_unload(repro_tbl *t, CUcontext ctx, CUmodule m);
repro_rc repro_cu_launch(repro_tbl *t, CUcontext ctx, CUfunction f, unsigned int gx, unsigned int gy,
                         unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                         CUstream s, void **params);
repro_rc repro_cu_begin_capture(repro_tbl *t, CUcontext ctx, CUstream s, CUstreamCaptureMode mode);
repro_rc repro_cu_end_capture(repro_tbl *t, CUcontext ctx, CUstream s, CUgraph *g);
repro_rc repro_cu_graph_instantiate(repro_tbl *t, CUcontext ctx, CUgraph g, CUgraphExec *e);
repro_rc repro_cu_graph_launch(repro_tbl *t, CUcontext ctx, CUgraphExec e, CUstream s);
repro_rc repro_cu_graph_exec_destroy(repro_tbl *t, CUcontext ctx, CUgraphExec e);
repro_rc repro_cu_graph_destroy(repro_tbl *t, CUcontext ctx, CUgraph g);
repro_rc repro_cu_event_create(repro_tbl *t, CUcontext ctx, unsigned int flags, CUevent *e);
repro_rc repro_cu_event_record(repro_tbl *t, CUcontext ctx, CUevent e, CUstream s);
repro_rc repro_cu_event_elapsed(repro_tbl *t, CUcontext ctx, CUevent start, CUevent end, float *ms);
repro_rc repro_cu_event_destroy(repro_tbl *t, CUcontext ctx, CUevent e);
repro_rc repro_cu_stream_wait_event(repro_tbl *t, CUcontext ctx, CUstream s, CUevent e);

/* cuBLAS */
const char *repro_blas_status_name(repro_tbl *t, cublasStatus_t s);
const char *repro_blas_status_string(repro_tbl *t, cublasStatus_t s);
int repro_blas_property(repro_tbl *t, libraryPropertyType type, int *value);
repro_rc repro_blas_create(repro_tbl *t, CUcontext ctx, cublasHandle_t *h);
repro_rc repro_blas_destroy(repro_tbl *t, CUcontext ctx, cublasHandle_t h);
repro_rc repro_blas_set_stream(repro_tbl *t, CUcontext ctx, cublasHandle_t h, CUstream s);
repro_rc repro_blas_version(repro_tbl *t, CUcontext ctx, cublasHandle_t h, int *v);
repro_rc repro_blas_set_math(repro_tbl *t, CUcontext ctx, cublasHandle_t h, cublasMath_t mode);
repro_rc repro_blas_sgemm(repro_tbl *t, CUcontext ctx, cublasHandle_t h, cublasOperation_t ta,
                          cublasOperation_t tb, int m, int n, int k, float alpha, CUdeviceptr A, int lda,
                          CUdeviceptr B, int ldb, float beta, CUdeviceptr C, int ldc);

/* cuDNN */
size_t repro_dnn_version(repro_tbl *t);
const char *repro_dnn_error_string(repro_tbl *t, cudnnStatus_t s);
repro_rc repro_dnn_create(repro_tbl *t, CUcontext ctx, cudnnHandle_t *h);
repro_rc repro_dnn_destroy(repro_tbl *t, CUcontext ctx, cudnnHandle_t h);
repro_rc repro_dnn_set_stream(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, CUstream s);
repro_rc repro_dnn_tensor_create(repro_tbl *t, cudnnTensorDescriptor_t *d);
repro_rc repro_dnn_tensor_destroy(repro_tbl *t, cudnnTensorDescriptor_t d);
repro_rc repro_dnn_tensor_set(repro_tbl *t, cudnnTensorDescriptor_t d, cudnnDataType_t dt, int n, int c, int h,
                              int w, int ns, int cs, int hs, int ws);
repro_rc repro_dnn_filter_create(repro_tbl *t, cudnnFilterDescriptor_t *d);
repro_rc repro_dnn_filter_destroy(repro_tbl *t, cudnnFilterDescriptor_t d);
repro_rc repro_dnn_filter_set(repro_tbl *t, cudnnFilterDescriptor_t d, cudnnDataType_t dt, cudnnTensorFormat_t f,
                              int k, int c, int h, int w);
repro_rc repro_dnn_conv_create(repro_tbl *t, cudnnConvolutionDescriptor_t *d);
repro_rc repro_dnn_conv_destroy(repro_tbl *t, cudnnConvolutionDescriptor_t d);
repro_rc repro_dnn_conv_set(repro_tbl *t, cudnnConvolutionDescriptor_t d, int ph, int pw, int sh, int sw, int dh,
                            int dw, cudnnConvolutionMode_t mode, cudnnDataType_t compute);
repro_rc repro_dnn_conv_math(repro_tbl *t, cudnnConvolutionDescriptor_t d, cudnnMathType_t m);
repro_rc repro_dnn_derive_bn(repro_tbl *t, cudnnTensorDescriptor_t dst, cudnnTensorDescriptor_t x,
                             cudnnBatchNormMode_t mode);
repro_rc repro_dnn_find_fwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                            CUdeviceptr x, cudnnFilterDescriptor_t wd, CUdeviceptr w,
                            cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd, CUdeviceptr y, int req,
                            int *ret, repro_perf *perf, CUdeviceptr ws, size_t ws_bytes);
repro_rc repro_dnn_find_bwd_data(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnFilterDescriptor_t wd,
                                 CUdeviceptr w, cudnnTensorDescriptor_t dyd, CUdeviceptr dy,
                                 cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t dxd, CUdeviceptr dx,
                                 int req, int *ret, repro_perf *perf, CUdeviceptr ws, size_t ws_bytes);
repro_rc repro_dnn_find_bwd_filter(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                                   CUdeviceptr x, cudnnTensorDescriptor_t dyd, CUdeviceptr dy,
                                   cudnnConvolutionDescriptor_t cd, cudnnFilterDescriptor_t dwd, CUdeviceptr dw,
                                   int req, int *ret, repro_perf *perf, CUdeviceptr ws, size_t ws_bytes);
repro_rc repro_dnn_ws_fwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                          cudnnFilterDescriptor_t wd, cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd,
                          int algo, size_t *bytes);
repro_rc repro_dnn_ws_bwd_data(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnFilterDescriptor_t wd,
                               cudnnTensorDescriptor_t dyd, cudnnConvolutionDescriptor_t cd,
                               cudnnTensorDescriptor_t dxd, int algo, size_t *bytes);
repro_rc repro_dnn_ws_bwd_filter(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                                 cudnnTensorDescriptor_t dyd, cudnnConvolutionDescriptor_t cd,
                                 cudnnFilterDescriptor_t dwd, int algo, size_t *bytes);
repro_rc repro_dnn_conv_fwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, float alpha, cudnnTensorDescriptor_t xd,
                            CUdeviceptr x, cudnnFilterDescriptor_t wd, CUdeviceptr w,
                            cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws, size_t ws_bytes, float beta,
                            cudnnTensorDescriptor_t yd, CUdeviceptr y);
repro_rc repro_dnn_conv_bwd_data(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, float alpha,
                                 cudnnFilterDescriptor_t wd, CUdeviceptr w, cudnnTensorDescriptor_t dyd,
                                 CUdeviceptr dy, cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws,
                                 size_t ws_bytes, float beta, cudnnTensorDescriptor_t dxd, CUdeviceptr dx);
repro_rc repro_dnn_conv_bwd_filter(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, float alpha,
                                   cudnnTensorDescriptor_t xd, CUdeviceptr x, cudnnTensorDescriptor_t dyd,
                                   CUdeviceptr dy, cudnnConvolutionDescriptor_t cd, int algo, CUdeviceptr ws,
                                   size_t ws_bytes, float beta, cudnnFilterDescriptor_t dwd, CUdeviceptr dw);
repro_rc repro_dnn_bn_fwd_train(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBatchNormMode_t mode,
                                float alpha, float beta, cudnnTensorDescriptor_t xd, CUdeviceptr x,
                                cudnnTensorDescriptor_t yd, CUdeviceptr y, cudnnTensorDescriptor_t bnd,
                                CUdeviceptr scale, CUdeviceptr bias, double factor, CUdeviceptr run_mean,
                                CUdeviceptr run_var, double eps, CUdeviceptr save_mean, CUdeviceptr save_inv_var);
repro_rc repro_dnn_bn_fwd_infer(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBatchNormMode_t mode,
                                float alpha, float beta, cudnnTensorDescriptor_t xd, CUdeviceptr x,
                                cudnnTensorDescriptor_t yd, CUdeviceptr y, cudnnTensorDescriptor_t bnd,
                                CUdeviceptr scale, CUdeviceptr bias, CUdeviceptr mean, CUdeviceptr var,
                                double eps);
repro_rc repro_dnn_bn_bwd(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBatchNormMode_t mode,
                          float alpha_data, float beta_data, float alpha_param, float beta_param,
                          cudnnTensorDescriptor_t xd, CUdeviceptr x, cudnnTensorDescriptor_t dyd, CUdeviceptr dy,
                          cudnnTensorDescriptor_t dxd, CUdeviceptr dx, cudnnTensorDescriptor_t bnd,
                          CUdeviceptr scale, CUdeviceptr dscale, CUdeviceptr dbias, double eps,
                          CUdeviceptr saved_mean, CUdeviceptr saved_inv_var);

/* cuDNN backend API (optional: repro_dnn_be_available says whether all of it
 * was found). */
int repro_dnn_be_available(repro_tbl *t);
repro_rc repro_dnn_be_create(repro_tbl *t, CUcontext ctx, int type, cudnnBackendDescriptor_t *d, char *msg,
                             size_t len);
repro_rc repro_dnn_be_destroy(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, char *msg, size_t len);
repro_rc repro_dnn_be_finalize(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, char *msg, size_t len);
repro_rc repro_dnn_be_set(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, int name, int type, int64_t n,
                          const void *elems, char *msg, size_t len);
repro_rc repro_dnn_be_get(repro_tbl *t, CUcontext ctx, cudnnBackendDescriptor_t d, int name, int type, int64_t req,
                          int64_t *n, void *elems, char *msg, size_t len);
repro_rc repro_dnn_be_execute(repro_tbl *t, CUcontext ctx, cudnnHandle_t h, cudnnBackendDescriptor_t plan,
                              int64_t n, const int64_t *uids, const CUdeviceptr *ptrs, CUdeviceptr ws, char *msg,
                              size_t len);

#endif /* REPRO_CUDA_SHIM_H */
