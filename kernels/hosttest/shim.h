// shim.h: just enough of CUDA's built-ins for g++ to compile ops.cu as host
// code, kernels included, for the host tests of kernels/hosttest_test.go.
//
// A kernel becomes a plain function. The launcher in main.cpp runs the
// blocks of a grid one after another and the threads of a block as real
// threads: threadIdx, blockIdx, blockDim and gridDim are thread-local,
// __syncthreads() is a barrier of the block's threads, and __shared__
// variables are function statics (one block runs at a time, so one copy is
// the block's shared memory).
#ifndef REPRO_HOSTTEST_SHIM_H
#define REPRO_HOSTTEST_SHIM_H

#define REPRO_HOST_SHIM 1

#include <math.h>
#include <stdint.h>

#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct repro_dim3 {
    unsigned int x, y, z;
};

extern thread_local repro_dim3 threadIdx, blockIdx, blockDim, gridDim;

void __syncthreads();

// The blocks run one after another, so these need only be what they say.
static inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif
