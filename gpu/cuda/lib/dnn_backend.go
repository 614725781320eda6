//go:build cuda

package lib

/*
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// The cuDNN backend ("graph") API, cuDNN >= 8.0. Where the legacy
// cudnnFind*AlgorithmEx offers a fixed list of algorithms, the backend API
// asks cuDNN's heuristics for engine configurations of an operation graph;
// those include the TF32 tensor-core kernels that PyTorch gets for FP32
// convolutions and the legacy list, on an H100 with cuDNN 9, did not rank
// first. Values from [cudnn 9.6] cudnn_graph.h (cuDNN 8: cudnn_backend.h).

// cudnnBackendDescriptorType_t (the enum counts from 0 without gaps).
const (
	beConvolution     = 1  // CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR
	beEngine          = 2  // CUDNN_BACKEND_ENGINE_DESCRIPTOR
	beEngineCfg       = 3  // CUDNN_BACKEND_ENGINECFG_DESCRIPTOR
	beEngineHeur      = 4  // CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR
	beExecutionPlan   = 5  // CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR
	beOpConvForward   = 10 // CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR
	beOpConvBwdFilter = 11 // CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR
	beOpConvBwdData   = 12 // CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR
	beOperationGraph  = 15 // CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR
	beTensor          = 17 // CUDNN_BACKEND_TENSOR_DESCRIPTOR
)

// cudnnBackendAttributeType_t (counts from CUDNN_TYPE_HANDLE = 0).
const (
	typeHandle       = 0  // CUDNN_TYPE_HANDLE: cudnnHandle_t
	typeDataType     = 1  // CUDNN_TYPE_DATA_TYPE: cudnnDataType_t
	typeInt64        = 3  // CUDNN_TYPE_INT64
	typeFloat        = 4  // CUDNN_TYPE_FLOAT
	typeConvMode     = 7  // CUDNN_TYPE_CONVOLUTION_MODE
	typeHeurMode     = 8  // CUDNN_TYPE_HEUR_MODE
	typeNumNote      = 11 // CUDNN_TYPE_NUMERICAL_NOTE
	typeDescriptor   = 15 // CUDNN_TYPE_BACKEND_DESCRIPTOR
	typeBehaviorNote = 19 // CUDNN_TYPE_BEHAVIOR_NOTE
)

// cudnnBackendAttributeName_t (explicit values in the header).
const (
	attrConvCompType      = 100 // CUDNN_ATTR_CONVOLUTION_COMP_TYPE
	attrConvMode          = 101 // CUDNN_ATTR_CONVOLUTION_CONV_MODE
	attrConvDilations     = 102 // CUDNN_ATTR_CONVOLUTION_DILATIONS
	attrConvFilterStrides = 103 // CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES
	attrConvPostPaddings  = 104 // CUDNN_ATTR_CONVOLUTION_POST_PADDINGS
	attrConvPrePaddings   = 105 // CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS
	attrConvSpatialDims   = 106 // CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS

	attrHeurMode      = 200 // CUDNN_ATTR_ENGINEHEUR_MODE
	attrHeurOpGraph   = 201 // CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH
	attrHeurResults   = 202 // CUDNN_ATTR_ENGINEHEUR_RESULTS
	attrEngineCfgEng  = 300 // CUDNN_ATTR_ENGINECFG_ENGINE
	attrPlanHandle    = 400 // CUDNN_ATTR_EXECUTION_PLAN_HANDLE
	attrPlanEngineCfg = 401 // CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG
	attrPlanWorkspace = 402 // CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE

	// CUDNN_ATTR_OPERATION_CONVOLUTION_{FORWARD,BWD_DATA,BWD_FILTER}_*: the
	// three operations number their attributes alike, 6 apart, in the order
	// alpha, beta, conv desc, then (forward) W, X, Y, (backward data) W, DX,
	// DY, (backward filter) DW, X, DY.
	attrOpConvForward   = 700 // ..._FORWARD_ALPHA
	attrOpConvBwdData   = 706 // ..._BWD_DATA_ALPHA
	attrOpConvBwdFilter = 712 // ..._BWD_FILTER_ALPHA

	attrGraphHandle = 800 // CUDNN_ATTR_OPERATIONGRAPH_HANDLE
	attrGraphOps    = 801 // CUDNN_ATTR_OPERATIONGRAPH_OPS

	attrTensorAlignment = 900 // CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT
	attrTensorDataType  = 901 // CUDNN_ATTR_TENSOR_DATA_TYPE
	attrTensorDims      = 902 // CUDNN_ATTR_TENSOR_DIMENSIONS
	attrTensorStrides   = 903 // CUDNN_ATTR_TENSOR_STRIDES
	attrTensorUID       = 906 // CUDNN_ATTR_TENSOR_UNIQUE_ID

	attrEngineGlobalIndex = 1301 // CUDNN_ATTR_ENGINE_GLOBAL_INDEX
	attrEngineNumNote     = 1303 // CUDNN_ATTR_ENGINE_NUMERICAL_NOTE
	attrEngineBehavior    = 1305 // CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE
)

// cudnnBackendNumericalNote_t: what an engine does to the numbers.
const (
	NoteTensorCore         = 0 // CUDNN_NUMERICAL_NOTE_TENSOR_CORE: TF32 for FP32 data
	NoteDownConvertInputs  = 1 // CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS: e.g. FP32 inputs read as FP16
	NoteReducedPrecision   = 2 // CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION
	NoteFFT                = 3 // CUDNN_NUMERICAL_NOTE_FFT
	NoteNondeterministic   = 4 // CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC
	NoteWinograd           = 5 // CUDNN_NUMERICAL_NOTE_WINOGRAD
	numericalNoteTypeCount = 16
)

var noteNames = map[int]string{NoteTensorCore: "tensor-core", NoteDownConvertInputs: "down-convert",
	NoteReducedPrecision: "reduced-precision", NoteFFT: "fft", NoteNondeterministic: "nondeterministic",
	NoteWinograd: "winograd", 6: "winograd-4x4", 7: "winograd-6x6", 8: "winograd-13x13", 9: "strict-nan"}

// BehaviorRuntimeCompilation is CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION: the
// engine compiles its kernel with NVRTC when its plan is finalized.
const BehaviorRuntimeCompilation = 0

// cudnnBackendHeurMode_t.
const (
	heurModeFallback = 2 // CUDNN_HEUR_MODE_FALLBACK: engines that need no heuristics
	heurModeA        = 3 // CUDNN_HEUR_MODE_A
)

// Convolution directions of a ConvGraph.
const (
	ConvForward        = 0 // y = conv(x, w)
	ConvBackwardData   = 1 // dx = (d conv / dx)ᵀ dy
	ConvBackwardFilter = 2 // dw = (d conv / dw)ᵀ dy
)

// Unique ids of a ConvGraph's tensors in its variant packs.
const (
	uidX = 1 // x, or dx for backward data
	uidW = 2 // w, or dw for backward filter
	uidY = 3 // y, or dy for the backward directions
)

// GraphTensor is one FP32 tensor of a ConvGraph: sizes and strides in
// elements, N×C×H×W for data and K×C×R×S for filters, and the byte alignment
// that its addresses are promised to have (a power of two, at most 16).
type GraphTensor struct {
	Dims, Strides [4]int64
	Align         int64
}

// ConvGraph is one 2-d cross-correlation (the convolution of deep learning)
// in one direction, as a one-operation cuDNN graph:
//
//	forward:          Y  = Alpha·conv(X, W) + Beta·Y
//	backward data:    X  = Alpha·(gradient of conv wrt x, given dy = Y) + Beta·X
//	backward filter:  W  = Alpha·(gradient of conv wrt w, given dy = Y) + Beta·W
//
// with symmetric padding Pad, stride Stride and no dilation. Compute is FP32
// (TF32 where a plan's notes say tensor core).
type ConvGraph struct {
	Direction   int
	X, W, Y     GraphTensor
	Pad, Stride int
	Alpha, Beta float32
}

// EnginePlan is an execution plan: one engine configuration from cuDNN's
// heuristics, finalized for a ConvGraph. Plans of one graph share its
// descriptors; Destroy each plan once.
type EnginePlan struct {
	g         *opGraph
	cfg, plan C.cudnnBackendDescriptor_t
	// Engine is cuDNN's global index of the engine; Notes its numerical
	// notes, Behavior its behavior notes.
	Engine    int64
	Notes     []int
	Behavior  []int
	Workspace uint64 // bytes
	Heuristic string // "A" or "fallback": where the configuration came from
	uids      [3]C.int64_t
	ptrs      [3]C.CUdeviceptr
	msg       [beMsgLen]C.char // Execute's error message, kept here so a call allocates nothing
	destroyed bool
}

// Has says whether the plan's engine carries numerical note n.
func (p *EnginePlan) Has(note int) bool {
	for _, n := range p.Notes {
		if n == note {
			return true
		}
	}
	return false
}

// String names the plan for logs: "engine 12 [tensor-core] ws 4096 (A)".
func (p *EnginePlan) String() string {
	var notes []string
	for _, n := range p.Notes {
		if s, ok := noteNames[n]; ok {
			notes = append(notes, s)
		} else {
			notes = append(notes, fmt.Sprint(n))
		}
	}
	return fmt.Sprintf("engine %d [%s] ws %d (%s)", p.Engine, strings.Join(notes, " "), p.Workspace, p.Heuristic)
}

// opGraph owns the descriptors of one ConvGraph's operation graph; the last
// plan to be destroyed destroys it.
type opGraph struct {
	d     *DNN
	descs []C.cudnnBackendDescriptor_t
	refs  int
}

func (g *opGraph) release() error {
	g.refs--
	if g.refs > 0 {
		return nil
	}
	var first error
	for i := len(g.descs) - 1; i >= 0; i-- {
		if err := g.d.beDestroy(g.descs[i]); err != nil && first == nil {
			first = err
		}
	}
	g.descs = nil
	return first
}

// Destroy frees the plan (and its graph with its last plan). Twice is harmless.
func (p *EnginePlan) Destroy() error {
	if p == nil || p.destroyed {
		return nil
	}
	p.destroyed = true
	err := p.g.d.beDestroy(p.plan)
	if e := p.g.d.beDestroy(p.cfg); err == nil {
		err = e
	}
	if e := p.g.release(); err == nil {
		err = e
	}
	return err
}

// HasBackendAPI says whether the loaded cuDNN exports the backend API.
func (d *DNN) HasBackendAPI() bool { return d.ctx.l.hasDNNBackendAPI() }

func (l *Libs) hasDNNBackendAPI() bool { return C.repro_dnn_be_available(l.t) != 0 }

// beMsgLen is the size of the buffer that receives cuDNN's message of a
// failed backend call (cudnnGetLastErrorString, 9.0+; see be_rc in shim.c).
const beMsgLen = 256

// beErr is dnnErr with cuDNN's own message of the failure appended: the
// backend API's status codes alone rarely say which attribute was wrong.
func (d *DNN) beErr(fn string, r C.repro_rc, msg *C.char) error {
	err := d.ctx.l.dnnErr(fn, r)
	if err == nil || r.ctxfail != 0 {
		return err
	}
	if m := oneLine(C.GoString(msg)); m != "" {
		err.(*Error).Status += ": " + m
	}
	return err
}

func (d *DNN) beCreate(typ int, what string) (C.cudnnBackendDescriptor_t, error) {
	var p C.cudnnBackendDescriptor_t
	var msg [beMsgLen]C.char
	err := d.beErr("cudnnBackendCreateDescriptor("+what+")",
		C.repro_dnn_be_create(d.ctx.l.t, d.ctx.c, C.int(typ), &p, &msg[0], beMsgLen), &msg[0])
	return p, err
}

func (d *DNN) beDestroy(p C.cudnnBackendDescriptor_t) error {
	if p == nil {
		return nil
	}
	var msg [beMsgLen]C.char
	return d.beErr("cudnnBackendDestroyDescriptor", C.repro_dnn_be_destroy(d.ctx.l.t, d.ctx.c, p, &msg[0], beMsgLen), &msg[0])
}

// beSet sets attribute name of p to the n elements at elems, of type typ.
func (d *DNN) beSet(p C.cudnnBackendDescriptor_t, what string, name, typ int, n int, elems unsafe.Pointer) error {
	var msg [beMsgLen]C.char
	return d.beErr(fmt.Sprintf("cudnnBackendSetAttribute(%s, %d)", what, name),
		C.repro_dnn_be_set(d.ctx.l.t, d.ctx.c, p, C.int(name), C.int(typ), C.int64_t(n), elems, &msg[0], beMsgLen), &msg[0])
}

// beGet reads up to req elements of attribute name of p into elems and
// returns how many there are.
func (d *DNN) beGet(p C.cudnnBackendDescriptor_t, what string, name, typ int, req int, elems unsafe.Pointer) (int, error) {
	var msg [beMsgLen]C.char
	var n C.int64_t
	err := d.beErr(fmt.Sprintf("cudnnBackendGetAttribute(%s, %d)", what, name),
		C.repro_dnn_be_get(d.ctx.l.t, d.ctx.c, p, C.int(name), C.int(typ), C.int64_t(req), &n, elems, &msg[0], beMsgLen), &msg[0])
	return int(n), err
}

func (d *DNN) beFinalize(p C.cudnnBackendDescriptor_t, what string) error {
	var msg [beMsgLen]C.char
	return d.beErr("cudnnBackendFinalize("+what+")", C.repro_dnn_be_finalize(d.ctx.l.t, d.ctx.c, p, &msg[0], beMsgLen), &msg[0])
}

func (d *DNN) beInt64s(p C.cudnnBackendDescriptor_t, what string, name int, v ...int64) error {
	c := make([]C.int64_t, len(v))
	for i, x := range v {
		c[i] = C.int64_t(x)
	}
	return d.beSet(p, what, name, typeInt64, len(c), unsafe.Pointer(&c[0]))
}

func (d *DNN) beEnum(p C.cudnnBackendDescriptor_t, what string, name, typ, v int) error {
	c := C.int(v)
	return d.beSet(p, what, name, typ, 1, unsafe.Pointer(&c))
}

func (d *DNN) beDescs(p C.cudnnBackendDescriptor_t, what string, name int, v ...C.cudnnBackendDescriptor_t) error {
	return d.beSet(p, what, name, typeDescriptor, len(v), unsafe.Pointer(&v[0]))
}

// beGetInts reads up to max int-sized enum values (notes) of attribute name.
func (d *DNN) beGetInts(p C.cudnnBackendDescriptor_t, what string, name, typ, max int) ([]int, error) {
	buf := make([]C.int, max)
	n, err := d.beGet(p, what, name, typ, max, unsafe.Pointer(&buf[0]))
	if err != nil {
		return nil, err
	}
	if n < 0 || n > max {
		return nil, fmt.Errorf("cudnnBackendGetAttribute(%s, %d): %d elements for a buffer of %d", what, name, n, max)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(buf[i])
	}
	return out, nil
}

func (d *DNN) beGetInt64(p C.cudnnBackendDescriptor_t, what string, name int) (int64, error) {
	var v C.int64_t
	n, err := d.beGet(p, what, name, typeInt64, 1, unsafe.Pointer(&v))
	if err == nil && n != 1 {
		err = fmt.Errorf("cudnnBackendGetAttribute(%s, %d): %d values, want 1", what, name, n)
	}
	return int64(v), err
}

// check reports what is wrong with g, or nil.
func (g ConvGraph) check() error {
	if g.Direction < ConvForward || g.Direction > ConvBackwardFilter {
		return fmt.Errorf("conv graph: direction %d", g.Direction)
	}
	if g.Pad < 0 || g.Stride < 1 {
		return fmt.Errorf("conv graph: pad %d stride %d", g.Pad, g.Stride)
	}
	for _, t := range []GraphTensor{g.X, g.W, g.Y} {
		for i := 0; i < 4; i++ {
			if t.Dims[i] < 1 || t.Strides[i] < 1 {
				return fmt.Errorf("conv graph: tensor sizes %v strides %v", t.Dims, t.Strides)
			}
		}
		if t.Align < 1 || t.Align > 16 || t.Align&(t.Align-1) != 0 {
			return fmt.Errorf("conv graph: alignment %d is not a power of two up to 16", t.Align)
		}
	}
	return nil
}

// graph builds and finalizes g's tensors, convolution, operation and
// operation graph. On error everything made so far is destroyed.
func (d *DNN) graph(g ConvGraph) (_ *opGraph, err error) {
	og := &opGraph{d: d, refs: 1}
	defer func() {
		if err != nil {
			og.release()
		}
	}()
	newDesc := func(typ int, what string) (C.cudnnBackendDescriptor_t, error) {
		p, err := d.beCreate(typ, what)
		if err == nil {
			og.descs = append(og.descs, p)
		}
		return p, err
	}
	var tensors [3]C.cudnnBackendDescriptor_t
	for i, t := range []GraphTensor{g.X, g.W, g.Y} {
		p, err := newDesc(beTensor, "tensor")
		if err != nil {
			return nil, err
		}
		if err := d.beEnum(p, "tensor", attrTensorDataType, typeDataType, CUDNN_DATA_FLOAT); err != nil {
			return nil, err
		}
		if err := d.beInt64s(p, "tensor", attrTensorDims, t.Dims[:]...); err != nil {
			return nil, err
		}
		if err := d.beInt64s(p, "tensor", attrTensorStrides, t.Strides[:]...); err != nil {
			return nil, err
		}
		if err := d.beInt64s(p, "tensor", attrTensorUID, int64(uidX+i)); err != nil {
			return nil, err
		}
		if err := d.beInt64s(p, "tensor", attrTensorAlignment, t.Align); err != nil {
			return nil, err
		}
		if err := d.beFinalize(p, "tensor"); err != nil {
			return nil, fmt.Errorf("tensor %v strides %v: %w", t.Dims, t.Strides, err)
		}
		tensors[i] = p
	}
	conv, err := newDesc(beConvolution, "convolution")
	if err != nil {
		return nil, err
	}
	for _, a := range []struct {
		name int
		v    []int64
	}{
		{attrConvSpatialDims, []int64{2}},
		{attrConvDilations, []int64{1, 1}},
		{attrConvFilterStrides, []int64{int64(g.Stride), int64(g.Stride)}},
		{attrConvPrePaddings, []int64{int64(g.Pad), int64(g.Pad)}},
		{attrConvPostPaddings, []int64{int64(g.Pad), int64(g.Pad)}},
	} {
		if err := d.beInt64s(conv, "convolution", a.name, a.v...); err != nil {
			return nil, err
		}
	}
	if err := d.beEnum(conv, "convolution", attrConvCompType, typeDataType, CUDNN_DATA_FLOAT); err != nil {
		return nil, err
	}
	if err := d.beEnum(conv, "convolution", attrConvMode, typeConvMode, CUDNN_CROSS_CORRELATION); err != nil {
		return nil, err
	}
	if err := d.beFinalize(conv, "convolution"); err != nil {
		return nil, err
	}
	// The three operations list their tensors in one order after alpha, beta
	// and the convolution: W, X, Y (forward), W, DX, DY (backward data), DW,
	// X, DY (backward filter): always the W slot, the X slot, the Y slot.
	opType, base, what := beOpConvForward, attrOpConvForward, "convolution forward"
	switch g.Direction {
	case ConvBackwardData:
		opType, base, what = beOpConvBwdData, attrOpConvBwdData, "convolution backward data"
	case ConvBackwardFilter:
		opType, base, what = beOpConvBwdFilter, attrOpConvBwdFilter, "convolution backward filter"
	}
	wxy := [3]C.cudnnBackendDescriptor_t{tensors[1], tensors[0], tensors[2]}
	op, err := newDesc(opType, what)
	if err != nil {
		return nil, err
	}
	alpha, beta := C.float(g.Alpha), C.float(g.Beta)
	if err := d.beSet(op, what, base, typeFloat, 1, unsafe.Pointer(&alpha)); err != nil {
		return nil, err
	}
	if err := d.beSet(op, what, base+1, typeFloat, 1, unsafe.Pointer(&beta)); err != nil {
		return nil, err
	}
	if err := d.beDescs(op, what, base+2, conv); err != nil {
		return nil, err
	}
	for i, t := range wxy {
		if err := d.beDescs(op, what, base+3+i, t); err != nil {
			return nil, err
		}
	}
	if err := d.beFinalize(op, what); err != nil {
		return nil, err
	}
	graph, err := newDesc(beOperationGraph, "operation graph")
	if err != nil {
		return nil, err
	}
	h := d.h
	if err := d.beSet(graph, "operation graph", attrGraphHandle, typeHandle, 1, unsafe.Pointer(&h)); err != nil {
		return nil, err
	}
	if err := d.beDescs(graph, "operation graph", attrGraphOps, op); err != nil {
		return nil, err
	}
	if err := d.beFinalize(graph, "operation graph"); err != nil {
		return nil, err
	}
	return og, nil
}

// engineConfigs returns every engine configuration the heuristics in mode
// offer for the graph (the last descriptor of og), best ranked first.
func (d *DNN) engineConfigs(og *opGraph, mode int) ([]C.cudnnBackendDescriptor_t, error) {
	heur, err := d.beCreate(beEngineHeur, "engine heuristics")
	if err != nil {
		return nil, err
	}
	defer d.beDestroy(heur)
	graph := og.descs[len(og.descs)-1]
	if err := d.beDescs(heur, "engine heuristics", attrHeurOpGraph, graph); err != nil {
		return nil, err
	}
	if err := d.beEnum(heur, "engine heuristics", attrHeurMode, typeHeurMode, mode); err != nil {
		return nil, err
	}
	if err := d.beFinalize(heur, "engine heuristics"); err != nil {
		return nil, err
	}
	n, err := d.beGet(heur, "engine heuristics", attrHeurResults, typeDescriptor, 0, nil)
	if err != nil || n <= 0 {
		return nil, err
	}
	cfgs := make([]C.cudnnBackendDescriptor_t, n)
	for i := range cfgs {
		if cfgs[i], err = d.beCreate(beEngineCfg, "engine config"); err != nil {
			for _, c := range cfgs[:i] {
				d.beDestroy(c)
			}
			return nil, err
		}
	}
	got, err := d.beGet(heur, "engine heuristics", attrHeurResults, typeDescriptor, n, unsafe.Pointer(&cfgs[0]))
	if err != nil || got < 0 || got > n {
		got = 0
	}
	for _, c := range cfgs[got:] {
		d.beDestroy(c)
	}
	return cfgs[:got], err
}

// engineOf reads the engine index and notes of an engine configuration.
func (d *DNN) engineOf(cfg C.cudnnBackendDescriptor_t) (index int64, notes, behavior []int, err error) {
	eng, err := d.beCreate(beEngine, "engine")
	if err != nil {
		return 0, nil, nil, err
	}
	defer d.beDestroy(eng)
	if _, err := d.beGet(cfg, "engine config", attrEngineCfgEng, typeDescriptor, 1, unsafe.Pointer(&eng)); err != nil {
		return 0, nil, nil, err
	}
	if index, err = d.beGetInt64(eng, "engine", attrEngineGlobalIndex); err != nil {
		return 0, nil, nil, err
	}
	if notes, err = d.beGetInts(eng, "engine", attrEngineNumNote, typeNumNote, numericalNoteTypeCount); err != nil {
		return 0, nil, nil, err
	}
	// Behavior notes came with cuDNN 8.x; an engine without them has none.
	behavior, _ = d.beGetInts(eng, "engine", attrEngineBehavior, typeBehaviorNote, numericalNoteTypeCount)
	return index, notes, behavior, nil
}

// PlanStats counts what happened to the engine configurations of one
// PlanConv, per heuristic mode: index 0 is mode A, 1 the fallback list.
type PlanStats struct {
	Offered, Rejected, Failed, Planned [2]int
}

// heurModeNames are the names of PlanStats' indexes and EnginePlan.Heuristic.
func heurModeNames() [2]string { return [2]string{"A", "fallback"} }

func (s PlanStats) String() string {
	var parts []string
	for i, m := range heurModeNames() {
		parts = append(parts, fmt.Sprintf("%s: %d offered, %d filtered out, %d failed, %d planned", m,
			s.Offered[i], s.Rejected[i], s.Failed[i], s.Planned[i]))
	}
	return strings.Join(parts, "; ")
}

// PlanConv builds g as a cuDNN operation graph and finalizes an execution
// plan for the engine configurations that cuDNN's heuristics offer (mode A,
// then the fallback list for engines A did not name), best ranked first: all
// of them are read, keep decides from each engine's numerical and behavior
// notes whether to plan it (nil keeps all), and at most max are planned per
// mode. Configurations that do not finalize are skipped; the error is
// returned only when none did, or when the graph itself is not supported.
// The caller destroys every plan.
func (d *DNN) PlanConv(g ConvGraph, max int, keep func(notes, behavior []int) bool) ([]*EnginePlan, PlanStats, error) {
	var st PlanStats
	if !d.HasBackendAPI() {
		return nil, st, fmt.Errorf("cuDNN %s has no backend API (needs 8.0 or later)", dnnVersionString(d.Version()))
	}
	if err := g.check(); err != nil {
		return nil, st, err
	}
	og, err := d.graph(g)
	if err != nil {
		return nil, st, err
	}
	defer og.release() // plans hold their own references
	var plans []*EnginePlan
	var skipped []error
	seen := map[int64]bool{}
	for i, mode := range [2]int{heurModeA, heurModeFallback} {
		name := heurModeNames()[i]
		cfgs, err := d.engineConfigs(og, mode)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("heuristics %s: %w", name, err))
		}
		st.Offered[i] = len(cfgs)
		for _, cfg := range cfgs {
			var p *EnginePlan
			if st.Planned[i] < max {
				var rejected bool
				p, rejected, err = d.finalizePlan(og, cfg, name, mode == heurModeFallback, seen, keep)
				switch {
				case err != nil:
					st.Failed[i]++
					skipped = append(skipped, err)
				case rejected:
					st.Rejected[i]++
				case p != nil:
					st.Planned[i]++
				}
			}
			if p == nil {
				d.beDestroy(cfg)
				continue
			}
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		if len(skipped) == 0 {
			skipped = append(skipped, errors.New("the heuristics offered no engine that passes the filter"))
		}
		return nil, st, fmt.Errorf("cuDNN backend: no execution plan for %+v (%v): %w", g, st, summarize(skipped))
	}
	return plans, st, nil
}

// summarize joins errors on one line, the first three in full.
func summarize(errs []error) error {
	var parts []string
	for i, e := range errs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-3))
			break
		}
		parts = append(parts, e.Error())
	}
	return errors.New(strings.Join(parts, "; "))
}

// finalizePlan makes cfg's execution plan. It returns nil and rejected for
// an engine keep rejects, nil for one the fallback list repeats from mode A,
// and nil with the error for one that fails to finalize.
func (d *DNN) finalizePlan(og *opGraph, cfg C.cudnnBackendDescriptor_t, heur string, fallback bool, seen map[int64]bool,
	keep func(notes, behavior []int) bool) (_ *EnginePlan, rejected bool, _ error) {
	index, notes, behavior, err := d.engineOf(cfg)
	if err != nil {
		return nil, false, err
	}
	// Mode A may offer one engine with several knob settings, so only the
	// fallback list is deduplicated against what A offered.
	if fallback && seen[index] {
		return nil, false, nil
	}
	seen[index] = true
	if keep != nil && !keep(notes, behavior) {
		return nil, true, nil
	}
	plan, err := d.beCreate(beExecutionPlan, "execution plan")
	if err != nil {
		return nil, false, err
	}
	h := d.h
	if err == nil {
		err = d.beSet(plan, "execution plan", attrPlanHandle, typeHandle, 1, unsafe.Pointer(&h))
	}
	if err == nil {
		err = d.beDescs(plan, "execution plan", attrPlanEngineCfg, cfg)
	}
	if err == nil {
		err = d.beFinalize(plan, "execution plan")
	}
	var ws int64
	if err == nil {
		ws, err = d.beGetInt64(plan, "execution plan", attrPlanWorkspace)
	}
	if err == nil && ws < 0 {
		err = fmt.Errorf("workspace of %d bytes", ws)
	}
	if err != nil {
		d.beDestroy(plan)
		return nil, false, fmt.Errorf("engine %d: %w", index, err)
	}
	og.refs++
	return &EnginePlan{g: og, cfg: cfg, plan: plan, Engine: index, Notes: notes, Behavior: behavior,
		Workspace: uint64(ws), Heuristic: heur, uids: [3]C.int64_t{uidX, uidW, uidY}}, false, nil
}

// Execute runs the plan on its graph's tensors at x, w and y (for backward
// data x is dx and y is dy; for backward filter w is dw and y is dy), with
// the workspace at ws (at least p.Workspace bytes). It allocates nothing.
func (d *DNN) Execute(p *EnginePlan, x, w, y, ws DevicePtr) error {
	if p.destroyed {
		panic("lib: Execute of a destroyed EnginePlan")
	}
	p.ptrs = [3]C.CUdeviceptr{C.CUdeviceptr(x), C.CUdeviceptr(w), C.CUdeviceptr(y)}
	return d.beErr("cudnnBackendExecute", C.repro_dnn_be_execute(d.ctx.l.t, d.ctx.c, d.h, p.plan, 3,
		&p.uids[0], &p.ptrs[0], C.CUdeviceptr(ws), &p.msg[0], beMsgLen), &p.msg[0])
}

// Alignment is the byte alignment of address p that a GraphTensor may
// promise: the largest power of two dividing it, at most 16.
func Alignment(p DevicePtr) int64 {
	a := int64(1)
	for a < 16 && uint64(p)%uint64(2*a) == 0 {
		a *= 2
	}
	return a
}
