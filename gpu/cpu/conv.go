package cpu

import (
	"fmt"

	"repro/gpu"
	"repro/gpu/cpu/vec"
)

// gemmRows is the number of output pixels one GEMM call covers: enough rows
// for the GEMM to run near its peak, few enough that the im2col panel stays
// in the core's L2 cache.
const gemmRows = 1024

// winogradBytes is the most that a Winograd convolution's transformed
// matrices (P of tiles x InC and P of tiles x OutC) take per group of
// images: half the 1 MiB L2 of the development machine's cores. With 1024
// output pixels per group, ResNet's 64-channel stage needed 2 MiB and its
// transforms ran from L3.
const winogradBytes = 512 << 10

// conv is a convolution planned for one shape. It is computed as a GEMM per
// group of images: Y[pixels][OutC] = Cols[pixels][K*K*InC] x Wt[K*K*InC][OutC],
// where Cols is im2col of the NHWC input (skipped for 1x1 stride-1 convs,
// whose input rows are Cols already) and Wt is the weight repacked from the
// canonical [OutC][InC][K][K].
//
// The weight gradient is summed as dWt[K*K*InC][OutC] = Cols^T dY, except
// when OutC is not a multiple of 16 (DenseNet's 12 new channels): OpenBLAS
// runs such a narrow output 35% slower (51 against 70 GFLOP/s per thread
// at 12 x 1440 x 1024), so it is summed as dWt^T[OutC][K*K*InC] = dY^T Cols.
//
// On the transposed path, which already has DCols = im2col of dY with the
// flipped window for dx, the weight gradient comes from DCols instead, with
// no im2col of x at all: as w[o][c][p][q] meets x[i+p-Pad][j+q-Pad] and
// dY[i][j], summing over input pixels instead of output pixels gives
// dw[o][c][K-1-p][K-1-q] = sum over pixels of DCols[(p*K+q)*OutC+o] x[c],
// a GEMM dR[K*K*OutC][InC] = DCols^T X straight from x's rows. That is one
// im2col of three per convolution saved (the widest one in DenseNet).
//
// A 3x3 stride-1 convolution with 8 or more input channels runs the
// backend's Winograd algorithm (vec.Winograd; F(4x4, 3x3) unless
// REPRO_CPU_WINOGRAD says otherwise): its forward as P GEMMs of tiles x InC
// x OutC on transformed input patches (F(4x4, 3x3): 36 GEMMs on 6x6
// patches, 36 multiplies per 4x4 outputs instead of 144), and no im2col.
// With 8 or more output channels its backward does too: dx as the
// transposed convolution, the weight gradient as dU_k = V_k^T dM_k (see
// winogradBackward); such a convolution keeps no im2col scratch and no
// repacked weight.
type conv struct {
	b            *Backend
	s            gpu.ConvSpec
	oh, ow       int
	kk           int  // K*K*InC: the length of an im2col row
	direct       bool // 1x1, stride 1, no padding
	transposed   bool // stride 1: dx is dy convolved with the flipped kernel
	group        int  // images per GEMM
	wt           []float32
	dwByOut      bool         // the partial weight gradients are dWt^T
	dwFromDY     bool         // this call's partial weight gradients are dR (transposed path)
	wino         vec.Winograd // the Winograd algorithm of the backend
	winograd     bool         // forward by Winograd
	winogradBack bool         // and dx too (transposed path, OutC >= 8)
	wU           []float32    // Winograd: the P transformed weights, [P][InC][OutC] (P = wino.Points())
	wUT          []float32    // and those of the transposed convolution, [P][OutC][InC]
	wLen         int          // scratch: V [P][tiles][InC], M [P][tiles][OutC], a zero row, a sink row
	wtFlip       []float32    // transposed path: [(p*K+q)*OutC+o][c] = w[o][c][K-1-p][K-1-q]
	colsLen      int          // scratch: im2col of x
	dcolsLen     int          // scratch: the panel of dx's GEMM
	dwLen        int          // scratch: this worker's partial weight gradient
	window       vec.Window   // im2col of x
	windowT      vec.Window   // transposed path: im2col of dy

	// state of the current call, read by run
	phase      int
	x, y       view
	dx, dy     view
	wantDX     bool
	accumulate bool
}

const (
	convForward = iota
	convBackward
)

// NewConv plans a convolution.
func (b *Backend) NewConv(s gpu.ConvSpec) (gpu.Conv, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("cpu conv: %w", err)
	}
	c := &conv{b: b, s: s, oh: s.OutH(), ow: s.OutW(), kk: s.Kernel * s.Kernel * s.InC}
	c.direct = s.Kernel == 1 && s.Stride == 1 && s.Pad == 0
	// With stride 1, dx is dy convolved with the flipped kernel and padding
	// K-1-Pad: im2col of dy and a GEMM, which beats a GEMM and a scatter-add
	// (col2im) of its columns.
	c.transposed = !c.direct && s.Stride == 1 && s.Pad <= s.Kernel-1
	c.window = vec.Window{H: s.InH, W: s.InW, OH: c.oh, OW: c.ow, K: s.Kernel, Stride: s.Stride, Pad: s.Pad}
	c.windowT = vec.Window{H: c.oh, W: c.ow, OH: s.InH, OW: s.InW, K: s.Kernel, Stride: 1, Pad: s.Kernel - 1 - s.Pad}
	// A GEMM with fewer than 8 input channels (the input layer's 3) is too
	// thin for Winograd to pay.
	c.wino = b.winograd
	c.winograd = s.Kernel == 3 && s.Stride == 1 && s.InC >= 8 && c.wino != 0
	c.winogradBack = c.winograd && c.transposed && s.OutC >= 8
	c.group = max(1, gemmRows/(c.oh*c.ow))
	if c.winograd {
		// few enough images that the transformed inputs and outputs stay in
		// L2 (see winogradBytes)
		for c.group > 1 && c.winogradMatrixBytes(c.group) > winogradBytes {
			c.group--
		}
	}
	c.dwByOut = s.OutC%16 != 0
	if !c.winogradBack { // with it, no im2col and no repacked weight at all
		c.wt = make([]float32, s.WeightLen())
		b.bytes += int64(4 * len(c.wt))
		if !c.direct {
			c.colsLen = c.group * c.oh * c.ow * c.kk
			c.dcolsLen = c.colsLen
		}
		if c.transposed {
			c.wtFlip = make([]float32, s.WeightLen())
			b.bytes += int64(4 * len(c.wtFlip))
			c.dcolsLen = c.group * s.InH * s.InW * s.Kernel * s.Kernel * s.OutC
		}
	}
	c.dwLen = c.kk * s.OutC
	if c.winograd {
		c.wU = make([]float32, c.wino.Points()*s.InC*s.OutC)
		b.bytes += int64(4 * len(c.wU))
		tiles := c.wino.Tiles(c.group, c.window)
		c.wLen = c.wino.Len(tiles, s.InC) + c.wino.Len(tiles, s.OutC) + s.InC + s.OutC
	}
	if c.winogradBack {
		c.dwLen = max(c.dwLen, c.wino.Points()*s.InC*s.OutC)
		c.wUT = make([]float32, c.wino.Points()*s.InC*s.OutC)
		b.bytes += int64(4 * len(c.wUT))
		tiles := c.wino.Tiles(c.group, c.windowT)
		c.wLen = max(c.wLen, c.wino.Len(tiles, s.OutC)+c.wino.Len(tiles, s.InC)+s.InC+s.OutC)
	}
	b.growScratch(c.colsLen+c.dcolsLen+c.dwLen+c.wLen, 0)
	return c, nil
}

func (c *conv) Spec() gpu.ConvSpec { return c.s }

// winogradMatrixBytes is the size of the transformed inputs and outputs of
// a group of g images.
func (c *conv) winogradMatrixBytes(g int) int {
	tiles := c.wino.Tiles(g, c.window)
	return 4 * (c.wino.Len(tiles, c.s.InC) + c.wino.Len(tiles, c.s.OutC))
}

func (c *conv) check(op string, x gpu.Tensor, y gpu.Tensor, w gpu.Slice) error {
	s := c.s
	if x.N != s.N || x.C != s.InC || x.H != s.InH || x.W != s.InW {
		return fmt.Errorf("cpu conv %s: input %v, spec wants [%d %d %d %d]", op, x, s.N, s.InC, s.InH, s.InW)
	}
	if y.N != s.N || y.C != s.OutC || y.H != c.oh || y.W != c.ow {
		return fmt.Errorf("cpu conv %s: output %v, spec wants [%d %d %d %d]", op, y, s.N, s.OutC, c.oh, c.ow)
	}
	if w.Len != s.WeightLen() {
		return fmt.Errorf("cpu conv %s: weight of %d, spec wants %d", op, w.Len, s.WeightLen())
	}
	return nil
}

// repack writes the canonical weight w[o][c][p][q] as wt[(p*K+q)*InC+c][o],
// and with flip also wtFlip[(p*K+q)*OutC+o][c] = w[o][c][K-1-p][K-1-q].
func (c *conv) repack(w []float32, flip bool) {
	s := c.s
	K := s.Kernel
	k2 := K * K
	for o := 0; o < s.OutC; o++ {
		for ci := 0; ci < s.InC; ci++ {
			src := w[(o*s.InC+ci)*k2 : (o*s.InC+ci+1)*k2]
			for pq, v := range src {
				c.wt[(pq*s.InC+ci)*s.OutC+o] = v
				if flip {
					fpq := k2 - 1 - pq // (K-1-p)*K + (K-1-q)
					c.wtFlip[(fpq*s.OutC+o)*s.InC+ci] = v
				}
			}
		}
	}
}

// Forward computes y = conv(x, w); see gpu.Conv.
func (c *conv) Forward(y, x gpu.Tensor, w gpu.Slice) error {
	if err := c.check("forward", x, y, w); err != nil {
		return err
	}
	vx, vy, err := resolve2(x, y)
	if err != nil {
		return fmt.Errorf("cpu conv forward: %w", err)
	}
	wd, err := floats(w)
	if err != nil {
		return fmt.Errorf("cpu conv forward weight: %w", err)
	}
	if c.winograd {
		c.wino.Weight(c.wU, wd, c.s.OutC, c.s.InC)
	} else {
		c.repack(wd, false)
	}
	c.phase, c.x, c.y = convForward, vx, vy
	c.b.pool.run(c, c.s.N)
	return nil
}

// Backward computes dw += dL/dw and, when dx.Buf is set, dx (=, +=) dL/dx.
func (c *conv) Backward(dx gpu.Tensor, dw gpu.Slice, dy, x gpu.Tensor, w gpu.Slice, accumulate bool) error {
	if err := c.check("backward", x, dy, w); err != nil {
		return err
	}
	vx, vdy, err := resolve2(x, dy)
	if err != nil {
		return fmt.Errorf("cpu conv backward: %w", err)
	}
	wd, err := floats(w)
	if err != nil {
		return fmt.Errorf("cpu conv backward weight: %w", err)
	}
	dwd, err := floats(dw)
	if err != nil || len(dwd) != len(wd) {
		return fmt.Errorf("cpu conv backward: weight gradient of %d for weight of %d (%v)", dw.Len, w.Len, err)
	}
	c.wantDX = dx.Buf != nil
	if c.wantDX {
		if !gpu.SameShape(dx, x) {
			return fmt.Errorf("cpu conv backward: dx %v, x %v: shapes differ", dx, x)
		}
		if c.dx, err = resolve(dx); err != nil {
			return fmt.Errorf("cpu conv backward dx: %w", err)
		}
	}
	c.dwFromDY = c.wantDX && c.transposed && !c.winogradBack
	if c.winogradBack {
		if c.wantDX {
			c.wino.WeightTransposed(c.wUT, wd, c.s.OutC, c.s.InC)
		}
	} else {
		c.repack(wd, c.dwFromDY)
	}
	c.phase, c.x, c.dy, c.accumulate = convBackward, vx, vdy, accumulate
	workers := min(c.b.pool.n, c.s.N)
	c.b.pool.run(c, c.s.N)

	s := c.s
	k2 := s.Kernel * s.Kernel
	off := c.colsLen + c.dcolsLen
	// the workers' partial weight gradients (dU under Winograd, else dWt),
	// summed into worker 0's
	n := c.kk * s.OutC
	if c.winogradBack {
		n = c.wino.Points() * s.InC * s.OutC
	}
	part := c.b.scratch[0][off : off+n]
	for w := 1; w < workers; w++ {
		vec.Add(part, n, part, n, c.b.scratch[w][off:off+n], n, 1, n)
	}
	if c.winogradBack {
		// dw += G^T dU G of the summed dU
		if c.dwByOut {
			c.wino.WeightGradByOut(dwd, part, s.OutC, s.InC)
		} else {
			c.wino.WeightGrad(dwd, part, s.OutC, s.InC)
		}
		return nil
	}
	// dw[o][c][p][q] += the summed dWt, read through the strides of its layout
	base, so, sc, sp := 0, 1, s.OutC, s.InC*s.OutC // dWt[(p*K+q)*InC+c][o]
	switch {
	case c.dwFromDY: // dR[((K-1-p)*K+(K-1-q))*OutC+o][c]
		base, so, sc, sp = (k2-1)*s.OutC*s.InC, s.InC, 1, -s.OutC*s.InC
	case c.dwByOut: // dWt^T[o][(p*K+q)*InC+c]
		so, sc, sp = c.kk, 1, s.InC
	}
	for o := 0; o < s.OutC; o++ {
		for ci := 0; ci < s.InC; ci++ {
			dst := dwd[(o*s.InC+ci)*k2 : (o*s.InC+ci+1)*k2]
			at := base + o*so + ci*sc
			for pq := range dst {
				dst[pq] += part[at+pq*sp]
			}
		}
	}
	return nil
}

// run handles images [lo, hi) on worker w.
func (c *conv) run(w, lo, hi int) {
	s := c.s
	scratch := c.b.scratch[w]
	cols := scratch[:c.colsLen]
	dcols := scratch[c.colsLen : c.colsLen+c.dcolsLen]
	dwt := scratch[c.colsLen+c.dcolsLen : c.colsLen+c.dcolsLen+c.dwLen]
	ohw := c.oh * c.ow
	ihw := s.InH * s.InW
	gemm := c.b.gemm[w]
	if c.phase == convBackward {
		clear(dwt)
	}
	for n0 := lo; n0 < hi; n0 += c.group {
		g := min(c.group, hi-n0)
		rows := g * ohw
		if c.winograd && c.phase == convForward {
			c.winogradConv(w, c.y, c.x, s.InC, s.OutC, n0, g, c.window, c.wU, false)
			continue
		}
		if c.winogradBack && c.phase == convBackward {
			c.winogradBackward(w, n0, g, dwt)
			continue
		}
		if c.dwFromDY && c.phase == convBackward {
			// dR and dx from DCols; see the type's comment
			kkT := s.Kernel * s.Kernel * s.OutC
			vec.Im2col(dcols, c.dy.from(n0*ohw), c.dy.ld, s.OutC, g, c.windowT)
			gemm.Sgemm(true, false, kkT, s.InC, g*ihw, 1, dcols, kkT, c.x.from(n0*ihw), c.x.ld, 1, dwt, s.InC)
			beta := float32(0)
			if c.accumulate {
				beta = 1
			}
			gemm.Sgemm(false, false, g*ihw, s.InC, kkT, 1, dcols, kkT, c.wtFlip, s.InC, beta, c.dx.from(n0*ihw), c.dx.ld)
			continue
		}
		a, lda := cols, c.kk
		if c.direct {
			a, lda = c.x.data[n0*ihw*c.x.ld:], c.x.ld
		} else {
			vec.Im2col(cols, c.x.from(n0*ihw), c.x.ld, s.InC, g, c.window)
		}
		if c.phase == convForward {
			gemm.Sgemm(false, false, rows, s.OutC, c.kk, 1, a, lda, c.wt, s.OutC, 0, c.y.data[n0*ohw*c.y.ld:], c.y.ld)
			continue
		}
		dy := c.dy.data[n0*ohw*c.dy.ld:]
		if c.dwByOut {
			gemm.Sgemm(true, false, s.OutC, c.kk, rows, 1, dy, c.dy.ld, a, lda, 1, dwt, c.kk)
		} else {
			gemm.Sgemm(true, false, c.kk, s.OutC, rows, 1, a, lda, dy, c.dy.ld, 1, dwt, s.OutC)
		}
		if !c.wantDX {
			continue
		}
		beta := float32(0)
		if c.accumulate {
			beta = 1
		}
		dx := c.dx.data[n0*ihw*c.dx.ld:]
		switch {
		case c.direct:
			gemm.Sgemm(false, true, rows, s.InC, s.OutC, 1, dy, c.dy.ld, c.wt, s.OutC, beta, dx, c.dx.ld)
		default:
			gemm.Sgemm(false, true, rows, c.kk, s.OutC, 1, dy, c.dy.ld, c.wt, s.OutC, 0, dcols, c.kk)
			if !c.accumulate {
				for p := n0 * ihw; p < (n0+g)*ihw; p++ {
					clear(c.dx.row(p))
				}
			}
			vec.Col2im(c.dx.from(n0*ihw), c.dx.ld, dcols, s.InC, g, c.window)
		}
	}
}

// winogradConv computes dst (=, += with accumulate) as the 3x3 stride-1
// convolution of images [n0, n0+g) of src (inC channels) with the
// transformed weight u (inC to outC) over window win, by Winograd on
// worker w: the forward (x to y) and the transposed backward (dy to dx).
func (c *conv) winogradConv(w int, dst view, src view, inC, outC, n0, g int, win vec.Window, u []float32, accumulate bool) {
	off := c.colsLen + c.dcolsLen + c.dwLen
	scratch := c.b.scratch[w][off : off+c.wLen]
	tiles := c.wino.Tiles(g, win)
	vLen := c.wino.Len(tiles, inC)
	v := scratch[:vLen]
	m := scratch[vLen : vLen+c.wino.Len(tiles, outC)]
	zero := scratch[c.wLen-inC-outC:][:inC]
	sink := scratch[c.wLen-outC:]
	vs, ms := c.wino.Stride(tiles, inC), c.wino.Stride(tiles, outC)
	clear(zero)
	c.wino.Input(v, src.from(n0*win.H*win.W), src.ld, inC, g, win, zero)
	gemm := c.b.gemm[w]
	for k := 0; k < c.wino.Points(); k++ {
		gemm.Sgemm(false, false, tiles, outC, inC, 1, v[k*vs:], inC, u[k*inC*outC:], outC, 0, m[k*ms:], outC)
	}
	c.wino.Output(dst.from(n0*win.OH*win.OW), dst.ld, m, outC, g, win, accumulate, sink)
}

// winogradBackward adds the weight gradient dU of images [n0, n0+g) to du
// (see vec.Winograd.OutputGrad) and computes their dx when it is wanted, on
// worker w; no im2col at all.
func (c *conv) winogradBackward(w, n0, g int, du []float32) {
	s := c.s
	off := c.colsLen + c.dcolsLen + c.dwLen
	scratch := c.b.scratch[w][off : off+c.wLen]
	tiles := c.wino.Tiles(g, c.window)
	vLen := c.wino.Len(tiles, s.InC)
	v := scratch[:vLen]
	dm := scratch[vLen : vLen+c.wino.Len(tiles, s.OutC)]
	zero := scratch[c.wLen-s.InC-s.OutC:][:max(s.InC, s.OutC)]
	clear(zero)
	c.wino.Input(v, c.x.from(n0*s.InH*s.InW), c.x.ld, s.InC, g, c.window, zero)
	c.wino.OutputGrad(dm, c.dy.from(n0*c.oh*c.ow), c.dy.ld, s.OutC, g, c.window, zero)
	vs, ms := c.wino.Stride(tiles, s.InC), c.wino.Stride(tiles, s.OutC)
	gemm := c.b.gemm[w]
	for k := 0; k < c.wino.Points(); k++ {
		if c.dwByOut { // dU_k^T, for a narrow OutC (see the type's comment)
			gemm.Sgemm(true, false, s.OutC, s.InC, tiles, 1, dm[k*ms:], s.OutC, v[k*vs:], s.InC, 1, du[k*s.InC*s.OutC:], s.InC)
		} else {
			gemm.Sgemm(true, false, s.InC, s.OutC, tiles, 1, v[k*vs:], s.InC, dm[k*ms:], s.OutC, 1, du[k*s.InC*s.OutC:], s.OutC)
		}
	}
	if c.wantDX {
		c.winogradConv(w, c.dx, c.dy, s.OutC, s.InC, n0, g, c.windowT, c.wUT, c.accumulate)
	}
}
