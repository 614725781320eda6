//go:build cuda

package lib

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// DNN is a cuDNN handle (cudnnHandle_t) bound to a stream. All data is FP32
// NCHW. A handle is not safe for concurrent use.
type DNN struct {
	ctx *Context
	h   C.cudnnHandle_t
}

// NewDNN is cudnnCreate followed by cudnnSetStream(s).
func (c *Context) NewDNN(s Stream) (*DNN, error) {
	var h C.cudnnHandle_t
	if err := c.l.dnnErr("cudnnCreate", C.repro_dnn_create(c.l.t, c.c, &h)); err != nil {
		return nil, err
	}
	d := &DNN{ctx: c, h: h}
	if err := d.SetStream(s); err != nil {
		d.Destroy()
		return nil, err
	}
	return d, nil
}

// SetStream is cudnnSetStream: later calls are issued to s.
func (d *DNN) SetStream(s Stream) error {
	return d.ctx.l.dnnErr("cudnnSetStream", C.repro_dnn_set_stream(d.ctx.l.t, d.ctx.c, d.h, s.s))
}

// Version is cudnnGetVersion (see Libs.DNNVersion for its encoding).
func (d *DNN) Version() int { return d.ctx.l.DNNVersion() }

// StatusString is cudnnGetErrorString(code), e.g. for AlgoPerf.Status.
func (d *DNN) StatusString(code int) string { return d.ctx.l.dnnStatus(code) }

// Destroy is cudnnDestroy.
func (d *DNN) Destroy() error {
	if d.h == nil {
		return nil
	}
	err := d.ctx.l.dnnErr("cudnnDestroy", C.repro_dnn_destroy(d.ctx.l.t, d.ctx.c, d.h))
	d.h = nil
	return err
}

// TensorDesc is a cudnnTensorDescriptor_t. It is a small value (copy it
// freely); the zero TensorDesc is the NULL descriptor.
type TensorDesc struct {
	l *Libs
	d C.cudnnTensorDescriptor_t
}

// FilterDesc is a cudnnFilterDescriptor_t; the zero FilterDesc is NULL.
type FilterDesc struct {
	l *Libs
	d C.cudnnFilterDescriptor_t
}

// ConvDesc is a cudnnConvolutionDescriptor_t; the zero ConvDesc is NULL.
type ConvDesc struct {
	l *Libs
	d C.cudnnConvolutionDescriptor_t
}

// NewTensorDesc is cudnnCreateTensorDescriptor followed by Set (FP32, the
// given sizes and strides in elements).
func (d *DNN) NewTensorDesc(n, c, h, w, nStride, cStride, hStride, wStride int) (TensorDesc, error) {
	var p C.cudnnTensorDescriptor_t
	if err := d.ctx.l.dnnErr("cudnnCreateTensorDescriptor", C.repro_dnn_tensor_create(d.ctx.l.t, &p)); err != nil {
		return TensorDesc{}, err
	}
	t := TensorDesc{l: d.ctx.l, d: p}
	if err := t.Set(n, c, h, w, nStride, cStride, hStride, wStride); err != nil {
		t.Destroy()
		return TensorDesc{}, err
	}
	return t, nil
}

// Set is cudnnSetTensor4dDescriptorEx with CUDNN_DATA_FLOAT: an n×c×h×w
// tensor whose element (i, j, y, x) is at i*nStride + j*cStride + y*hStride +
// x*wStride floats. A packed NCHW tensor has strides (c*h*w, h*w, w, 1); a
// channel slice of a wider buffer (DenseNet's concatenation) keeps the
// buffer's nStride.
func (t TensorDesc) Set(n, c, h, w, nStride, cStride, hStride, wStride int) error {
	if !fitsInt(n, c, h, w, nStride, cStride, hStride, wStride) {
		return fmt.Errorf("cudnnSetTensor4dDescriptorEx: a size or stride does not fit a C int")
	}
	return t.l.dnnErr("cudnnSetTensor4dDescriptorEx", C.repro_dnn_tensor_set(t.l.t, t.d, CUDNN_DATA_FLOAT,
		C.int(n), C.int(c), C.int(h), C.int(w), C.int(nStride), C.int(cStride), C.int(hStride), C.int(wStride)))
}

// Destroy is cudnnDestroyTensorDescriptor. Do not use t or its copies after.
func (t TensorDesc) Destroy() error {
	if t.d == nil {
		return nil
	}
	return t.l.dnnErr("cudnnDestroyTensorDescriptor", C.repro_dnn_tensor_destroy(t.l.t, t.d))
}

// NewFilterDesc is cudnnCreateFilterDescriptor followed by Set.
func (d *DNN) NewFilterDesc(k, c, h, w int) (FilterDesc, error) {
	var p C.cudnnFilterDescriptor_t
	if err := d.ctx.l.dnnErr("cudnnCreateFilterDescriptor", C.repro_dnn_filter_create(d.ctx.l.t, &p)); err != nil {
		return FilterDesc{}, err
	}
	f := FilterDesc{l: d.ctx.l, d: p}
	if err := f.Set(k, c, h, w); err != nil {
		f.Destroy()
		return FilterDesc{}, err
	}
	return f, nil
}

// Set is cudnnSetFilter4dDescriptor with CUDNN_DATA_FLOAT and
// CUDNN_TENSOR_NCHW: k output channels, c input channels, an h×w kernel,
// packed (k, c, h, w).
func (f FilterDesc) Set(k, c, h, w int) error {
	if !fitsInt(k, c, h, w) {
		return fmt.Errorf("cudnnSetFilter4dDescriptor: a size does not fit a C int")
	}
	return f.l.dnnErr("cudnnSetFilter4dDescriptor", C.repro_dnn_filter_set(f.l.t, f.d, CUDNN_DATA_FLOAT,
		CUDNN_TENSOR_NCHW, C.int(k), C.int(c), C.int(h), C.int(w)))
}

// Destroy is cudnnDestroyFilterDescriptor.
func (f FilterDesc) Destroy() error {
	if f.d == nil {
		return nil
	}
	return f.l.dnnErr("cudnnDestroyFilterDescriptor", C.repro_dnn_filter_destroy(f.l.t, f.d))
}

// NewConvDesc is cudnnCreateConvolutionDescriptor followed by
// Set(pad, pad, stride, stride, 1, 1): a square padding and stride, no
// dilation, cross-correlation, FP32 compute, math type left at cuDNN's
// default (CUDNN_DEFAULT_MATH) until SetMath or SetMathType.
func (d *DNN) NewConvDesc(pad, stride int) (ConvDesc, error) {
	var p C.cudnnConvolutionDescriptor_t
	if err := d.ctx.l.dnnErr("cudnnCreateConvolutionDescriptor", C.repro_dnn_conv_create(d.ctx.l.t, &p)); err != nil {
		return ConvDesc{}, err
	}
	c := ConvDesc{l: d.ctx.l, d: p}
	if err := c.Set(pad, pad, stride, stride, 1, 1); err != nil {
		c.Destroy()
		return ConvDesc{}, err
	}
	return c, nil
}

// Set is cudnnSetConvolution2dDescriptor with CUDNN_CROSS_CORRELATION (the
// deep-learning convolution, no filter flip) and an FP32 compute type.
func (c ConvDesc) Set(padH, padW, strideH, strideW, dilationH, dilationW int) error {
	if !fitsInt(padH, padW, strideH, strideW, dilationH, dilationW) {
		return fmt.Errorf("cudnnSetConvolution2dDescriptor: a parameter does not fit a C int")
	}
	return c.l.dnnErr("cudnnSetConvolution2dDescriptor", C.repro_dnn_conv_set(c.l.t, c.d, C.int(padH), C.int(padW),
		C.int(strideH), C.int(strideW), C.int(dilationH), C.int(dilationW), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT))
}

// SetMath is cudnnSetConvolutionMathType: CUDNN_DEFAULT_MATH when tf32 (cuDNN
// may use TF32 tensor cores for FP32 data on Ampere and later, as PyTorch
// allows by default), CUDNN_FMA_MATH when not (FMA kernels only: strict FP32).
func (c ConvDesc) SetMath(tf32 bool) error {
	m := CUDNN_FMA_MATH
	if tf32 {
		m = CUDNN_DEFAULT_MATH
	}
	return c.SetMathType(m)
}

// SetMathType is cudnnSetConvolutionMathType with an explicit
// cudnnMathType_t, e.g. the MathType of the AlgoPerf chosen from a Find: the
// algorithm was timed with that math type, so set it on the descriptor before
// running the algorithm (PyTorch does the same).
func (c ConvDesc) SetMathType(mathType int) error {
	return c.l.dnnErr("cudnnSetConvolutionMathType", C.repro_dnn_conv_math(c.l.t, c.d, C.cudnnMathType_t(mathType)))
}

// Destroy is cudnnDestroyConvolutionDescriptor.
func (c ConvDesc) Destroy() error {
	if c.d == nil {
		return nil
	}
	return c.l.dnnErr("cudnnDestroyConvolutionDescriptor", C.repro_dnn_conv_destroy(c.l.t, c.d))
}

// DeriveBN is cudnnDeriveBNTensorDescriptor with CUDNN_BATCHNORM_SPATIAL:
// sets dst to the 1×C×1×1 descriptor of the batch-norm parameters of x.
func (d *DNN) DeriveBN(dst, x TensorDesc) error {
	return d.ctx.l.dnnErr("cudnnDeriveBNTensorDescriptor",
		C.repro_dnn_derive_bn(d.ctx.l.t, dst.d, x.d, CUDNN_BATCHNORM_SPATIAL))
}

// AlgoPerf is one entry of a cudnnFind*AlgorithmEx result
// (cudnnConvolutionFwdAlgoPerf_t and its BwdData/BwdFilter twins).
type AlgoPerf struct {
	Algo          int     // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
	Status        int     // cudnnStatus_t of the trial; CUDNN_STATUS_SUCCESS if usable
	Time          float32 // milliseconds
	Memory        uint64  // workspace bytes
	Deterministic bool    // determinism == CUDNN_DETERMINISTIC
	MathType      int     // cudnnMathType_t the trial used
}

// maxPerf is the number of results a Find asks for: more than any
// *_ALGO_COUNT (8, 6 and 7); cuDNN returns at most as many as it has.
const maxPerf = 16

func perfs(p *[maxPerf]C.repro_perf, n C.int) []AlgoPerf {
	if n < 0 {
		n = 0
	}
	if n > maxPerf {
		n = maxPerf
	}
	out := make([]AlgoPerf, n)
	for i := range out {
		q := &p[i]
		out[i] = AlgoPerf{Algo: int(q.algo), Status: int(q.status), Time: float32(q.time), Memory: uint64(q.memory),
			Deterministic: q.determinism == CUDNN_DETERMINISTIC, MathType: int(q.mathType)}
	}
	return out
}

// perfLayout is the size and member offsets of the C perf struct as cgo sees
// it: size, algo, status, time, memory, determinism, mathType, reserved.
func perfLayout() [8]uintptr {
	var p C.repro_perf
	return [8]uintptr{unsafe.Sizeof(p), unsafe.Offsetof(p.algo), unsafe.Offsetof(p.status), unsafe.Offsetof(p.time),
		unsafe.Offsetof(p.memory), unsafe.Offsetof(p.determinism), unsafe.Offsetof(p.mathType),
		unsafe.Offsetof(p.reserved)}
}

// perfLayoutC is the same as the C compiler computes it.
func perfLayoutC() [8]uintptr {
	var v [8]C.size_t
	C.repro_perf_layout(&v[0])
	var out [8]uintptr
	for i := range v {
		out[i] = uintptr(v[i])
	}
	return out
}

// FindForward is cudnnFindConvolutionForwardAlgorithmEx: it runs every
// forward algorithm on the real buffers x, w and y (y is overwritten) with the
// workspace ws of wsBytes bytes, and returns the results fastest first.
// Algorithms needing more workspace than wsBytes come back with a failing
// Status. The *Ex variants need real device buffers of the right sizes and a
// workspace, and they synchronize; call them once per layer shape.
func (d *DNN) FindForward(x TensorDesc, xp DevicePtr, w FilterDesc, wp DevicePtr, conv ConvDesc,
	y TensorDesc, yp DevicePtr, ws DevicePtr, wsBytes uint64) ([]AlgoPerf, error) {
	var res [maxPerf]C.repro_perf
	var n C.int
	r := C.repro_dnn_find_fwd(d.ctx.l.t, d.ctx.c, d.h, x.d, C.CUdeviceptr(xp), w.d, C.CUdeviceptr(wp), conv.d,
		y.d, C.CUdeviceptr(yp), maxPerf, &n, &res[0], C.CUdeviceptr(ws), C.size_t(wsBytes))
	if err := d.ctx.l.dnnErr("cudnnFindConvolutionForwardAlgorithmEx", r); err != nil {
		return nil, err
	}
	return perfs(&res, n), nil
}

// FindBackwardData is cudnnFindConvolutionBackwardDataAlgorithmEx on the real
// buffers w, dy and dx (dx is overwritten); see FindForward.
func (d *DNN) FindBackwardData(w FilterDesc, wp DevicePtr, dy TensorDesc, dyp DevicePtr, conv ConvDesc,
	dx TensorDesc, dxp DevicePtr, ws DevicePtr, wsBytes uint64) ([]AlgoPerf, error) {
	var res [maxPerf]C.repro_perf
	var n C.int
	r := C.repro_dnn_find_bwd_data(d.ctx.l.t, d.ctx.c, d.h, w.d, C.CUdeviceptr(wp), dy.d, C.CUdeviceptr(dyp),
		conv.d, dx.d, C.CUdeviceptr(dxp), maxPerf, &n, &res[0], C.CUdeviceptr(ws), C.size_t(wsBytes))
	if err := d.ctx.l.dnnErr("cudnnFindConvolutionBackwardDataAlgorithmEx", r); err != nil {
		return nil, err
	}
	return perfs(&res, n), nil
}

// FindBackwardFilter is cudnnFindConvolutionBackwardFilterAlgorithmEx on the
// real buffers x, dy and dw (dw is overwritten); see FindForward.
func (d *DNN) FindBackwardFilter(x TensorDesc, xp DevicePtr, dy TensorDesc, dyp DevicePtr, conv ConvDesc,
	dw FilterDesc, dwp DevicePtr, ws DevicePtr, wsBytes uint64) ([]AlgoPerf, error) {
	var res [maxPerf]C.repro_perf
	var n C.int
	r := C.repro_dnn_find_bwd_filter(d.ctx.l.t, d.ctx.c, d.h, x.d, C.CUdeviceptr(xp), dy.d, C.CUdeviceptr(dyp),
		conv.d, dw.d, C.CUdeviceptr(dwp), maxPerf, &n, &res[0], C.CUdeviceptr(ws), C.size_t(wsBytes))
	if err := d.ctx.l.dnnErr("cudnnFindConvolutionBackwardFilterAlgorithmEx", r); err != nil {
		return nil, err
	}
	return perfs(&res, n), nil
}

// ForwardWorkspace is cudnnGetConvolutionForwardWorkspaceSize for algo.
func (d *DNN) ForwardWorkspace(x TensorDesc, w FilterDesc, conv ConvDesc, y TensorDesc, algo int) (uint64, error) {
	var b C.size_t
	r := C.repro_dnn_ws_fwd(d.ctx.l.t, d.ctx.c, d.h, x.d, w.d, conv.d, y.d, C.int(algo), &b)
	if err := d.ctx.l.dnnErr("cudnnGetConvolutionForwardWorkspaceSize", r); err != nil {
		return 0, err
	}
	return uint64(b), nil
}

// BackwardDataWorkspace is cudnnGetConvolutionBackwardDataWorkspaceSize.
func (d *DNN) BackwardDataWorkspace(w FilterDesc, dy TensorDesc, conv ConvDesc, dx TensorDesc, algo int) (uint64, error) {
	var b C.size_t
	r := C.repro_dnn_ws_bwd_data(d.ctx.l.t, d.ctx.c, d.h, w.d, dy.d, conv.d, dx.d, C.int(algo), &b)
	if err := d.ctx.l.dnnErr("cudnnGetConvolutionBackwardDataWorkspaceSize", r); err != nil {
		return 0, err
	}
	return uint64(b), nil
}

// BackwardFilterWorkspace is cudnnGetConvolutionBackwardFilterWorkspaceSize.
func (d *DNN) BackwardFilterWorkspace(x TensorDesc, dy TensorDesc, conv ConvDesc, dw FilterDesc, algo int) (uint64, error) {
	var b C.size_t
	r := C.repro_dnn_ws_bwd_filter(d.ctx.l.t, d.ctx.c, d.h, x.d, dy.d, conv.d, dw.d, C.int(algo), &b)
	if err := d.ctx.l.dnnErr("cudnnGetConvolutionBackwardFilterWorkspaceSize", r); err != nil {
		return 0, err
	}
	return uint64(b), nil
}

// ConvForward is cudnnConvolutionForward, arguments in cuDNN's order: y =
// alpha·conv(x, w) + beta·y with algorithm algo and workspace ws of wsBytes
// bytes. It allocates nothing.
func (d *DNN) ConvForward(alpha float32, x TensorDesc, xp DevicePtr, w FilterDesc, wp DevicePtr, conv ConvDesc,
	algo int, ws DevicePtr, wsBytes uint64, beta float32, y TensorDesc, yp DevicePtr) error {
	return d.ctx.l.dnnErr("cudnnConvolutionForward", C.repro_dnn_conv_fwd(d.ctx.l.t, d.ctx.c, d.h, C.float(alpha),
		x.d, C.CUdeviceptr(xp), w.d, C.CUdeviceptr(wp), conv.d, C.int(algo), C.CUdeviceptr(ws),
		C.size_t(wsBytes), C.float(beta), y.d, C.CUdeviceptr(yp)))
}

// ConvBackwardData is cudnnConvolutionBackwardData, arguments in cuDNN's
// order: dx = alpha·(gradient of conv(x, w) with respect to x, given dy) +
// beta·dx. It allocates nothing.
func (d *DNN) ConvBackwardData(alpha float32, w FilterDesc, wp DevicePtr, dy TensorDesc, dyp DevicePtr,
	conv ConvDesc, algo int, ws DevicePtr, wsBytes uint64, beta float32, dx TensorDesc, dxp DevicePtr) error {
	return d.ctx.l.dnnErr("cudnnConvolutionBackwardData", C.repro_dnn_conv_bwd_data(d.ctx.l.t, d.ctx.c, d.h,
		C.float(alpha), w.d, C.CUdeviceptr(wp), dy.d, C.CUdeviceptr(dyp), conv.d, C.int(algo),
		C.CUdeviceptr(ws), C.size_t(wsBytes), C.float(beta), dx.d, C.CUdeviceptr(dxp)))
}

// ConvBackwardFilter is cudnnConvolutionBackwardFilter, arguments in cuDNN's
// order: dw = alpha·(gradient with respect to w, given x and dy) + beta·dw
// (beta 1 accumulates). It allocates nothing.
func (d *DNN) ConvBackwardFilter(alpha float32, x TensorDesc, xp DevicePtr, dy TensorDesc, dyp DevicePtr,
	conv ConvDesc, algo int, ws DevicePtr, wsBytes uint64, beta float32, dw FilterDesc, dwp DevicePtr) error {
	return d.ctx.l.dnnErr("cudnnConvolutionBackwardFilter", C.repro_dnn_conv_bwd_filter(d.ctx.l.t, d.ctx.c, d.h,
		C.float(alpha), x.d, C.CUdeviceptr(xp), dy.d, C.CUdeviceptr(dyp), conv.d, C.int(algo),
		C.CUdeviceptr(ws), C.size_t(wsBytes), C.float(beta), dw.d, C.CUdeviceptr(dwp)))
}

// BNForwardTraining is cudnnBatchNormalizationForwardTraining in
// CUDNN_BATCHNORM_SPATIAL mode: y = alpha·BN(x) + beta·y using the batch's
// statistics; runMean/runVar become factor·batch + (1-factor)·running
// (factor 1 on the first call of a training run); saveMean/saveInvVar (may be
// 0) receive the batch mean and 1/sqrt(var+eps) for BNBackward. bn describes
// scale, bias and the four statistics buffers (see DeriveBN). eps must be >=
// CUDNN_BN_MIN_EPSILON. It allocates nothing.
func (d *DNN) BNForwardTraining(alpha, beta float32, x TensorDesc, xp DevicePtr, y TensorDesc, yp DevicePtr,
	bn TensorDesc, scale, bias DevicePtr, factor float64, runMean, runVar DevicePtr, eps float64,
	saveMean, saveInvVar DevicePtr) error {
	return d.ctx.l.dnnErr("cudnnBatchNormalizationForwardTraining", C.repro_dnn_bn_fwd_train(d.ctx.l.t, d.ctx.c, d.h,
		CUDNN_BATCHNORM_SPATIAL, C.float(alpha), C.float(beta), x.d, C.CUdeviceptr(xp), y.d, C.CUdeviceptr(yp),
		bn.d, C.CUdeviceptr(scale), C.CUdeviceptr(bias), C.double(factor), C.CUdeviceptr(runMean),
		C.CUdeviceptr(runVar), C.double(eps), C.CUdeviceptr(saveMean), C.CUdeviceptr(saveInvVar)))
}

// BNForwardInference is cudnnBatchNormalizationForwardInference in
// CUDNN_BATCHNORM_SPATIAL mode: y = alpha·(scale·(x-mean)/sqrt(eps+var) +
// bias) + beta·y with the given (running) statistics. It allocates nothing.
func (d *DNN) BNForwardInference(alpha, beta float32, x TensorDesc, xp DevicePtr, y TensorDesc, yp DevicePtr,
	bn TensorDesc, scale, bias, mean, variance DevicePtr, eps float64) error {
	return d.ctx.l.dnnErr("cudnnBatchNormalizationForwardInference", C.repro_dnn_bn_fwd_infer(d.ctx.l.t, d.ctx.c,
		d.h, CUDNN_BATCHNORM_SPATIAL, C.float(alpha), C.float(beta), x.d, C.CUdeviceptr(xp), y.d,
		C.CUdeviceptr(yp), bn.d, C.CUdeviceptr(scale), C.CUdeviceptr(bias), C.CUdeviceptr(mean),
		C.CUdeviceptr(variance), C.double(eps)))
}

// BNBackward is cudnnBatchNormalizationBackward in CUDNN_BATCHNORM_SPATIAL
// mode (19 arguments): dx = alphaData·∂x + betaData·dx, dScale =
// alphaParam·∂scale + betaParam·dScale, dBias likewise (betaParam 1
// accumulates). x, dy and dx share one shape; savedMean/savedInvVar are
// BNForwardTraining's (or 0 to recompute). eps must be the forward's. It
// allocates nothing.
func (d *DNN) BNBackward(alphaData, betaData, alphaParam, betaParam float32, x TensorDesc, xp DevicePtr,
	dy TensorDesc, dyp DevicePtr, dx TensorDesc, dxp DevicePtr, bn TensorDesc, scale, dScale, dBias DevicePtr,
	eps float64, savedMean, savedInvVar DevicePtr) error {
	return d.ctx.l.dnnErr("cudnnBatchNormalizationBackward", C.repro_dnn_bn_bwd(d.ctx.l.t, d.ctx.c, d.h,
		CUDNN_BATCHNORM_SPATIAL, C.float(alphaData), C.float(betaData), C.float(alphaParam), C.float(betaParam),
		x.d, C.CUdeviceptr(xp), dy.d, C.CUdeviceptr(dyp), dx.d, C.CUdeviceptr(dxp), bn.d,
		C.CUdeviceptr(scale), C.CUdeviceptr(dScale), C.CUdeviceptr(dBias), C.double(eps), C.CUdeviceptr(savedMean),
		C.CUdeviceptr(savedInvVar)))
}
