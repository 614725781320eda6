// Package gpu is the device layer of repro: memory on a device, activation
// tensors, and the forward/backward ops that CIFAR ResNets and DenseNets are
// built from. The models and the trainer see only the Backend interface; the
// CPU implementation (package gpu/cpu, always built) is the reference that the
// CUDA implementation (package gpu/cuda, build tag cuda) must equal op for op.
//
// Contract shared by every implementation:
//
//   - Ops may run asynchronously in issue order on one queue; results are
//     visible to the host after Download or Sync. An error from an op may
//     report a failure of an earlier op.
//   - Ops never allocate device memory: everything is allocated up front by
//     Alloc, AllocInt, NewTensor and the New* planners, so that a training
//     step allocates nothing.
//   - Argument order follows llm.c: outputs first, then inputs, then
//     parameters. Backward ops accumulate (+=) into weight gradients; an op
//     that writes an input gradient overwrites it unless its accumulate
//     argument is true, in which case it adds to it.
//   - Activations are Tensors whose memory layout belongs to the backend
//     (the CPU keeps NHWC, cuDNN keeps NCHW); parameters, gradients, optimizer
//     state and statistics are flat Slices whose layout is canonical (conv
//     weights [out][in][kh][kw], linear weights [out][in]), so checkpoints
//     move between backends unchanged.
//
// The math of each op is stated in its doc comment here and implemented in
// float64 by package gpu/ref, against which package gpu/gputest checks every
// backend.
package gpu

import (
	"errors"
	"fmt"
)

// Buffer is float32 memory owned by a backend.
type Buffer interface {
	// Len is the number of float32 elements.
	Len() int
}

// IntBuffer is int32 memory owned by a backend.
type IntBuffer interface {
	// Len is the number of int32 elements.
	Len() int
}

// Slice is a flat run of float32 elements of a Buffer: a parameter view, a
// gradient view, optimizer state, batch-norm statistics, a metrics counter.
type Slice struct {
	Buf      Buffer
	Off, Len int
}

// Sub returns the elements [off, off+n) of s.
func (s Slice) Sub(off, n int) Slice {
	if off < 0 || n < 0 || off+n > s.Len {
		panic(fmt.Sprintf("gpu: Slice.Sub(%d, %d) out of range of length %d", off, n, s.Len))
	}
	return Slice{Buf: s.Buf, Off: s.Off + off, Len: n}
}

// IntSlice is a flat run of int32 elements of an IntBuffer (labels, sample
// order).
type IntSlice struct {
	Buf      IntBuffer
	Off, Len int
}

// Sub returns the elements [off, off+n) of s.
func (s IntSlice) Sub(off, n int) IntSlice {
	if off < 0 || n < 0 || off+n > s.Len {
		panic(fmt.Sprintf("gpu: IntSlice.Sub(%d, %d) out of range of length %d", off, n, s.Len))
	}
	return IntSlice{Buf: s.Buf, Off: s.Off + off, Len: n}
}

// Tensor is a batch of N images of C channels of H x W activations, possibly a
// channel range of a larger tensor: it views channels [C0, C0+C) of a parent
// that has ParentC channels and the same N, H, W, stored in Buf from element
// Off on. The layout of the parent inside Buf is the backend's choice; a view
// never copies, which is how DenseNet concatenation is free (DESIGN.md
// decision 3).
type Tensor struct {
	Buf         Buffer
	Off         int
	N, C, H, W  int
	ParentC, C0 int
}

// Shape returns the logical NCHW shape.
func (t Tensor) Shape() [4]int { return [4]int{t.N, t.C, t.H, t.W} }

// Elems is N*C*H*W, the number of logical elements.
func (t Tensor) Elems() int { return t.N * t.C * t.H * t.W }

// Contiguous reports whether t is a whole tensor rather than a channel view.
func (t Tensor) Contiguous() bool { return t.C0 == 0 && t.C == t.ParentC }

// Channels returns the view of channels [c0, c0+c) of t.
func (t Tensor) Channels(c0, c int) Tensor {
	if c0 < 0 || c <= 0 || c0+c > t.C {
		panic(fmt.Sprintf("gpu: Tensor.Channels(%d, %d) out of range of %d channels", c0, c, t.C))
	}
	v := t
	v.C0 = t.C0 + c0
	v.C = c
	return v
}

// String prints the shape, for error messages.
func (t Tensor) String() string {
	if t.Contiguous() {
		return fmt.Sprintf("[%d %d %d %d]", t.N, t.C, t.H, t.W)
	}
	return fmt.Sprintf("[%d %d(%d:%d of %d) %d %d]", t.N, t.C, t.C0, t.C0+t.C, t.ParentC, t.H, t.W)
}

// ConvSpec describes a 2-D convolution without bias over a batch: square
// kernel, equal stride and zero padding on both axes.
type ConvSpec struct {
	N, InC, InH, InW int
	OutC             int
	Kernel           int
	Stride, Pad      int
}

// OutH is the output height: (InH + 2 Pad - Kernel) / Stride + 1.
func (s ConvSpec) OutH() int { return (s.InH+2*s.Pad-s.Kernel)/s.Stride + 1 }

// OutW is the output width: (InW + 2 Pad - Kernel) / Stride + 1.
func (s ConvSpec) OutW() int { return (s.InW+2*s.Pad-s.Kernel)/s.Stride + 1 }

// WeightLen is OutC*InC*Kernel*Kernel.
func (s ConvSpec) WeightLen() int { return s.OutC * s.InC * s.Kernel * s.Kernel }

// Validate reports a spec that cannot be planned.
func (s ConvSpec) Validate() error {
	if s.N <= 0 || s.InC <= 0 || s.InH <= 0 || s.InW <= 0 || s.OutC <= 0 || s.Kernel <= 0 || s.Stride <= 0 || s.Pad < 0 {
		return fmt.Errorf("conv spec %+v: every size must be positive and padding non-negative", s)
	}
	if s.OutH() <= 0 || s.OutW() <= 0 {
		return fmt.Errorf("conv spec %+v: kernel larger than padded input", s)
	}
	return nil
}

// Conv is a convolution planned for one shape (descriptors, algorithms and
// scratch chosen once).
//
// Forward computes, for every n, o, i, j:
//
//	y[n,o,i,j] = sum_{c,p,q} w[o,c,p,q] * x[n,c, i*S+p-P, j*S+q-P]
//
// with x taken as 0 outside the image (S stride, P padding; w canonical
// [OutC][InC][K][K]).
//
// Backward computes dw += dL/dw = sum_{n,i,j} dy[n,o,i,j] x[n,c,i*S+p-P,j*S+q-P]
// and, when dx.Buf is not nil, dx (=, or += when accumulate) dL/dx, the
// transpose of Forward applied to dy.
type Conv interface {
	Spec() ConvSpec
	Forward(y, x Tensor, w Slice) error
	Backward(dx Tensor, dw Slice, dy, x Tensor, w Slice, accumulate bool) error
}

// BatchNormSpec describes spatial batch normalization over N x H x W for each
// of C channels.
type BatchNormSpec struct {
	N, C, H, W int
	Eps        float64 // added to the variance; 1e-5 as in PyTorch
	Momentum   float64 // running = (1-Momentum)*running + Momentum*batch; 0.1 as in PyTorch
	// ReLU fuses a ReLU that follows the batch norm (every batch norm of
	// DenseNet, the stem's and the first of each block in ResNet): the
	// forward passes write max(y, 0), and Backward takes the gradient of that
	// output, passing dy only where the value before the ReLU, recomputed
	// from x, is > 0. It saves the ReLU's own passes over the tensor: a read
	// and a write forward, two reads and a write backward; recomputing the
	// mask from x, which the backward reads anyway, saves reading y back.
	ReLU bool
	// ResidualReLU fuses the end of a ResNet block into its second batch
	// norm: the forward passes take the shortcut r and write
	// max(y + r, 0). Backward is that of the batch norm alone: its dy is the
	// gradient of y + r, which the caller gets by masking the block's output
	// gradient by that output (ReLUBackward), as it needs it for the
	// shortcut's gradient too. It saves the add's and the ReLU's passes of
	// the forward. Not with ReLU.
	ResidualReLU bool
}

// BatchNorm is batch normalization planned for one shape. With m = N*H*W:
//
// ForwardTrain: mean[c] = (1/m) sum x[n,c,i,j]; var[c] = (1/m) sum (x-mean)^2;
// invstd[c] = 1/sqrt(var[c]+Eps); y = gamma[c]*(x-mean[c])*invstd[c] + beta[c].
// It stores mean and invstd in saveMean/saveInvStd for Backward and updates
// runMean = (1-Momentum) runMean + Momentum mean and runVar = (1-Momentum) runVar +
// Momentum var*m/(m-1) (unbiased, as cuDNN and PyTorch do).
//
// Stats computes the batch statistics only: saveMean and saveInvStd as
// ForwardTrain computes them, and batchVar[c] = var[c]*m/(m-1), the unbiased
// variance that updates runVar. ForwardTrainFromStats is then ForwardTrain
// without the statistics pass: it reads them (Stats' output for x's values,
// which must not have changed since), writes y as ForwardTrain does and
// updates runMean = (1-Momentum) runMean + Momentum saveMean and runVar =
// (1-Momentum) runVar + Momentum batchVar. A channel's statistics depend on
// its values alone, so they may come from a Stats call over other channels
// around it: a DenseNet layer's input is the prefix of its block written so
// far, whose channels' statistics are computed once, when each is written,
// instead of again by every later layer.
//
// ForwardInfer: y = gamma[c]*(x-runMean[c])/sqrt(runVar[c]+Eps) + beta[c].
//
// Backward, with xhat = (x-mean)*invstd from the saved statistics:
// dbeta[c] += sum dy; dgamma[c] += sum dy*xhat;
// dx (=, or += when accumulate) gamma*invstd*(dy - mean_c(dy) - xhat*mean_c(dy*xhat)).
//
// With Spec().ReLU the forward passes write y = max(that y, 0), and Backward
// first replaces dy by dy where gamma*xhat + beta > 0, else 0: the gradient
// of the ReLU's output. A float32 backend's ForwardTrain computes that value
// as x*k1[c] + k0[c] with k1, k0 = BatchNormTrainCoeffs of the saved
// statistics, and Backward recomputes it from x the same way, so the mask is
// exactly where ForwardTrain's output is > 0 (the conformance suite checks
// this at the kink); x must be unchanged in between. beta is read only then.
//
// With Spec().ResidualReLU the forward passes write y = max(that y + r, 0),
// r being the shortcut, of y's shape (r may be y); r is read only then (pass
// the zero Tensor otherwise).
type BatchNorm interface {
	Spec() BatchNormSpec
	ForwardTrain(y Tensor, saveMean, saveInvStd, runMean, runVar Slice, x, r Tensor, gamma, beta Slice) error
	Stats(saveMean, saveInvStd, batchVar Slice, x Tensor) error
	ForwardTrainFromStats(y Tensor, runMean, runVar Slice, x, r Tensor, gamma, beta, saveMean, saveInvStd, batchVar Slice) error
	ForwardInfer(y Tensor, x, r Tensor, gamma, beta, runMean, runVar Slice) error
	Backward(dx Tensor, dgamma, dbeta Slice, dy, x Tensor, gamma, beta, saveMean, saveInvStd Slice, accumulate bool) error
}

// BatchNormTrainCoeffs folds a channel's saved statistics into the
// coefficients of its training forward, y = x*k1 + k0: k1 = gamma*invstd and
// k0 = beta - mean*k1, in float64, each rounded once to float32. A fused
// ReLU's backward needs the same values bit for bit (see BatchNorm), so the
// float32 backends take them from here or, on the GPU, from the same math.
func BatchNormTrainCoeffs(gamma, beta, mean, invstd float32) (k1, k0 float32) {
	a := float64(gamma) * float64(invstd)
	// the explicit rounding of the product keeps Go from fusing it with the
	// subtraction (it does on arm64), as the kernels' twin rounds twice
	return float32(a), float32(float64(beta) - float64(float64(mean)*a))
}

// Augment says how BuildBatch turns stored images into a batch.
//
// Sample s of the batch is pool item p = order[start+s] (see BuildBatch);
// its image is i = p mod images and its copy j = p div images. Its random
// key is k = Mix(Mix(Seed, u), i) with u = j when Static, else u = Epoch.
// Unless Random is false, or Static and KeepOriginal and j == 0, the crop
// offsets and flip come from k:
//
//	oy = MinOffset + int(k mod R), ox = MinOffset + int((k>>20) mod R),
//	flip = Flip and (k>>40)&1 == 1, with R = MaxOffset-MinOffset+1;
//
// otherwise oy = ox = Center and there is no flip. Output pixel (y, x) of an
// OutSize x OutSize crop comes from stored pixel (y+oy, x') with
// x' = (OutSize-1-x)+ox when flipped, else x+ox; pixels outside the stored
// image are 0 after normalization (zero padding of the normalized image, as
// in the ResNet paper).
type Augment struct {
	OutSize              int
	Random               bool
	MinOffset, MaxOffset int // pad-4 crop of a 32 image: -4, 4; resize-36 crop: 0, 4
	Center               int // offset used when not random: 0 for 32->32, 2 for 36->32
	Flip                 bool
	Static               bool // fixed augmentation per pool copy (the write-up's 2x/3x)
	KeepOriginal         bool // with Static, copy 0 is the unaugmented image
	Seed                 uint64
	Epoch                int
}

// DatasetSpec is a labelled image set to be kept on the device, and the
// normalization that BuildBatch applies: stored uint8 value u of image i at
// channel c, row y, column x becomes
//
//	(u*ImageScale[i] + ImageShift[i] - Mean[c,y,x]) * Scale[c,y,x]
//
// which expresses no normalization (u/255), per-pixel mean subtraction,
// per-channel mean/std and per-image global contrast normalization alike.
type DatasetSpec struct {
	N, C, Size int     // images of C x Size x Size
	Pixels     []uint8 // N*C*Size*Size, each image in C planes of rows
	Labels     []uint8 // N, each < Classes
	Classes    int
	ImageScale []float32 // N
	ImageShift []float32 // N
	Mean       []float32 // C*Size*Size
	Scale      []float32 // C*Size*Size
}

// Dataset is a DatasetSpec uploaded to a device once.
type Dataset interface {
	Len() int
	Size() int
}

// SGDParams are the hyper-parameters of one SGD step.
type SGDParams struct {
	LR, Momentum, Dampening, WeightDecay float32
	Nesterov                             bool
}

// AdamParams are the hyper-parameters of one Adam or AdamW step; Step counts
// from 1.
type AdamParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Decoupled                          bool // AdamW: decay the weights directly, not through the gradient
	Step                               int
}

// Backend is a device and the ops on it.
type Backend interface {
	// Name is the registered name ("cpu", "cuda").
	Name() string
	// Describe is one line about the device and libraries, for logs.
	Describe() string
	// MemoryInUse is the bytes this backend has allocated.
	MemoryInUse() int64
	// Close releases everything the backend allocated.
	Close() error
	// Sync waits for every issued op and returns the first error.
	Sync() error

	// Alloc returns n zeroed float32 elements.
	Alloc(n int) (Slice, error)
	// AllocInt returns n zeroed int32 elements.
	AllocInt(n int) (IntSlice, error)
	// NewTensor allocates a zeroed N x C x H x W tensor.
	NewTensor(n, c, h, w int) (Tensor, error)

	Upload(dst Slice, src []float32) error
	Download(dst []float32, src Slice) error
	UploadInt(dst IntSlice, src []int32) error
	DownloadInt(dst []int32, src IntSlice) error
	// UploadTensor copies src, in NCHW order, into t.
	UploadTensor(t Tensor, src []float32) error
	// DownloadTensor copies t into dst in NCHW order.
	DownloadTensor(dst []float32, t Tensor) error
	// Zero sets s to 0.
	Zero(s Slice) error
	// ZeroTensor sets t to 0.
	ZeroTensor(t Tensor) error
	// SetSeed stores seed in dst (2 elements: the low 32 bits, then the
	// high), in order with the ops issued around it, for the dropout ops
	// that read it (DropoutSeed). Issue it outside a Recorder's Record: a
	// recording would keep the value and every replay store it again.
	SetSeed(dst IntSlice, seed uint64) error
	// Copy copies src into dst (dst = src); the shapes must match.
	Copy(dst, src Tensor) error

	NewConv(s ConvSpec) (Conv, error)
	NewBatchNorm(s BatchNormSpec) (BatchNorm, error)

	// ReLUForward: y = max(x, 0). y may be x.
	ReLUForward(y, x Tensor) error
	// ReLUBackward: dx = dy where y > 0, else 0. dx may be dy.
	ReLUBackward(dx, dy, y Tensor) error

	// ResidualForward: y = a + shortcut(s); y may be a. With s of the shape of a, shortcut
	// is the identity; otherwise (ResNet option A) s has fewer channels and
	// H, W a multiple of a's: shortcut(s)[n,c,i,j] = s[n, c-(a.C-s.C)/2, i*f, j*f]
	// with f = s.H/a.H, and 0 for channels outside s.
	ResidualForward(y, a, s Tensor) error
	// ShortcutBackward: ds (=, or += when accumulate) the transpose of
	// shortcut applied to dy: ds[n,c,i*f,j*f] = dy[n, c+(dy.C-ds.C)/2, i, j],
	// 0 at the other positions.
	ShortcutBackward(ds, dy Tensor, accumulate bool) error
	// AddForward: y = a + b, all of one shape; y may be a or b.
	AddForward(y, a, b Tensor) error

	// AvgPoolForward: y[n,c,i,j] = mean over the K x K window at (i*K, j*K)
	// (stride K, no padding).
	AvgPoolForward(y, x Tensor, k int) error
	// AvgPoolBackward: dx[n,c,i*K+p,j*K+q] (=, or +=) dy[n,c,i,j]/K^2.
	AvgPoolBackward(dx, dy Tensor, k int, accumulate bool) error
	// GlobalAvgPoolForward: y[n,c,0,0] = mean over H x W of x[n,c].
	GlobalAvgPoolForward(y, x Tensor) error
	// GlobalAvgPoolBackward: dx[n,c,i,j] (=, or +=) dy[n,c,0,0]/(H*W).
	GlobalAvgPoolBackward(dx, dy Tensor, accumulate bool) error

	// LinearForward: y[n,o] = sum_i w[o,i] x[n,i] + b[o], with x an N x In
	// (x In x 1 x 1) tensor, y N x Out x 1 x 1, w canonical [Out][In].
	LinearForward(y, x Tensor, w, b Slice) error
	// LinearBackward: dw[o,i] += sum_n dy[n,o] x[n,i]; db[o] += sum_n dy[n,o];
	// when dx.Buf is not nil, dx[n,i] (=, or +=) sum_o dy[n,o] w[o,i].
	LinearBackward(dx Tensor, dw, db Slice, dy, x Tensor, w Slice, accumulate bool) error

	// DropoutForward: y = x * keep / (1-p), keep = Uniform(Mix(k, e)) >= p,
	// where k = Mix(step, seed.Salt) with step the value in seed.Step when
	// the op runs (see SetSeed), and e is the NCHW index of the element
	// within the tensor.
	DropoutForward(y, x Tensor, p float32, seed DropoutSeed) error
	// DropoutBackward: dx (=, or +=) dy * keep / (1-p) with the same keep.
	DropoutBackward(dx, dy Tensor, p float32, seed DropoutSeed, accumulate bool) error

	// SoftmaxCrossEntropy takes logits (N x K x 1 x 1) and labels; a label
	// < 0 marks padding, ignored everywhere. For each valid n with
	// p = softmax(logits[n]): loss_n = -log p[label_n]; dlogits[n] =
	// (p - onehot(label_n)) * gradScale (0 for padding); when dlogits.Buf is
	// nil no gradient is written. It adds to metrics (length 3): [0] += sum of
	// loss_n, [1] += count of n whose arg max (first maximum) != label_n,
	// [2] += count of valid n.
	SoftmaxCrossEntropy(dlogits Tensor, metrics Slice, logits Tensor, labels IntSlice, gradScale float32) error

	// SGDStep updates params in place, element by element, as PyTorch's SGD:
	// g = grad + WeightDecay*decay*param; buf = Momentum*buf + (1-Dampening)*g
	// (buf = g on the first step is left to the caller: it zeroes buf and
	// passes Dampening 0 then); g = g + Momentum*buf if Nesterov else buf;
	// param -= LR*g. With Momentum 0, buf is untouched and g is used directly.
	// decay holds 1 where weight decay applies and 0 where it does not.
	SGDStep(params, grads, momentum, decay Slice, hp SGDParams) error
	// AdamStep updates params in place as PyTorch's Adam (Decoupled false:
	// g = grad + WeightDecay*decay*param) or AdamW (Decoupled: param -=
	// LR*WeightDecay*decay*param first, g = grad): m = Beta1 m + (1-Beta1) g;
	// v = Beta2 v + (1-Beta2) g^2; mhat = m/(1-Beta1^Step); vhat =
	// v/(1-Beta2^Step); param -= LR*mhat/(sqrt(vhat)+Eps).
	AdamStep(params, grads, m, v, decay Slice, hp AdamParams) error

	// NewDataset uploads a labelled image set once.
	NewDataset(spec DatasetSpec) (Dataset, error)
	// BuildBatch writes x.N samples into x (N x C x OutSize x OutSize) and
	// their labels into labels: sample s is pool item order[start+s]
	// augmented and normalized as Augment and DatasetSpec say. Pool items
	// beyond the end of order are padding: x is 0 there and the label -1.
	BuildBatch(x Tensor, labels IntSlice, d Dataset, order IntSlice, start int, aug Augment) error
}

// Reporter is implemented by backends with something to say after a run
// that Describe, said at the start, cannot (CUDA: how each convolution's
// algorithm was chosen). Report is one line.
type Reporter interface {
	Report() string
}

// Recorder is implemented by backends that can record a fixed sequence of
// ops once and replay it with almost no host work per op (CUDA graphs). A
// training step of a small CIFAR net is hundreds of short ops, so issuing
// them one by one can cost the host more time than the device spends.
type Recorder interface {
	// Record calls ops once with the backend in recording mode: the ops
	// are recorded, not run, with the arguments they are given (pointers,
	// sizes, scalars), and must not wait for the device (no Download, no
	// Sync). Every op must already have run once outside recording, so that
	// planning work done on first use (algorithm searches) is over. An
	// error, from ops or from recording itself, leaves the backend as
	// before and nothing recorded; ErrRecordingOff says recording is turned
	// off (Options.NoGraphs).
	Record(ops func() error) (Recording, error)
}

// Recording is a recorded sequence of ops.
type Recording interface {
	// Replay issues the recorded ops again, in order, as one unit.
	Replay() error
	// Close releases the recording; the backend's Close also does.
	Close() error
}

// ErrRecordingOff is Record's error when recording is turned off.
var ErrRecordingOff = errors.New("recording ops is turned off")
