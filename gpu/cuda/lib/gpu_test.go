//go:build cuda

package lib

import (
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// The tests in this file need a real GPU with the CUDA driver, cuBLAS and
// cuDNN. Without them they skip, unless REPRO_REQUIRE_GPU is set (the device
// check sets it), which makes a missing GPU or library a failure. They confirm
// on real libraries what the fakes cannot: the signatures, the enum values
// and the perf struct layout.

// axpbPTX is p[i] = p[i]*a + (float)add for i < n, with one parameter of each
// kind Args packs (u64 pointer, f32, u32, u64). Checked with ptxas 11.8 for
// sm_80 and sm_90.
const axpbPTX = `.version 6.0
.target sm_50
.address_size 64

.visible .entry axpb(
	.param .u64 axpb_p,
	.param .f32 axpb_a,
	.param .u32 axpb_n,
	.param .u64 axpb_add
)
{
	.reg .pred %p<2>;
	.reg .b32 %r<6>;
	.reg .f32 %f<5>;
	.reg .b64 %rd<6>;

	ld.param.u64 %rd1, [axpb_p];
	ld.param.f32 %f1, [axpb_a];
	ld.param.u32 %r1, [axpb_n];
	ld.param.u64 %rd5, [axpb_add];
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mov.u32 %r4, %tid.x;
	mad.lo.s32 %r5, %r2, %r3, %r4;
	setp.ge.s32 %p1, %r5, %r1;
	@%p1 bra DONE;
	cvta.to.global.u64 %rd2, %rd1;
	mul.wide.s32 %rd3, %r5, 4;
	add.s64 %rd4, %rd2, %rd3;
	ld.global.f32 %f2, [%rd4];
	cvt.rn.f32.u64 %f4, %rd5;
	fma.rn.f32 %f3, %f2, %f1, %f4;
	st.global.f32 [%rd4], %f3;
DONE:
	ret;
}
`

type gpu struct {
	t   *testing.T
	l   *Libs
	ctx *Context
	s   Stream
}

func realGPU(t *testing.T) *gpu {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("REPRO_REQUIRE_GPU") != "" {
		skip = t.Fatalf
	}
	var extra []string
	if d := os.Getenv("REPRO_CUDA_LIBS"); d != "" {
		extra = strings.Split(d, ":")
	}
	l, err := Load(extra)
	if err != nil {
		skip("no CUDA libraries: %v", err)
	}
	if err := l.Init(); err != nil {
		skip("no usable GPU: %v", err)
	}
	ctx, err := l.RetainPrimaryContext(0)
	must(t, err)
	s, err := ctx.NewStream()
	must(t, err)
	name, _ := l.DeviceName(0)
	t.Logf("%s on %s", l.Describe(), name)
	t.Cleanup(func() {
		ctx.DestroyStream(s)
		ctx.Release()
	})
	return &gpu{t, l, ctx, s}
}

// upload copies v to a new device buffer.
func (g *gpu) upload(v []float32) DevicePtr {
	g.t.Helper()
	p, err := g.ctx.MemAlloc(uint64(4 * len(v)))
	must(g.t, err)
	g.t.Cleanup(func() { g.ctx.MemFree(p) })
	must(g.t, g.ctx.HtoD(p, unsafe.Pointer(&v[0]), uint64(4*len(v)), g.s))
	return p
}

func (g *gpu) zeros(n int) DevicePtr { return g.upload(make([]float32, n)) }

func (g *gpu) download(p DevicePtr, n int) []float32 {
	g.t.Helper()
	v := make([]float32, n)
	must(g.t, g.ctx.DtoH(unsafe.Pointer(&v[0]), p, uint64(4*n), g.s))
	must(g.t, g.ctx.StreamSync(g.s))
	return v
}

func random(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(float64(got[i])) {
			t.Errorf("%s[%d] = %g, want %g", what, i, got[i], want[i])
			return
		}
	}
}

func TestGPUMemoryKernelsAndGraphs(t *testing.T) {
	g := realGPU(t)
	ctx, s := g.ctx, g.s
	const n = 1000
	p := g.zeros(n)
	must(t, ctx.MemsetD32(p, math.Float32bits(1.5), n, s))
	for i, v := range g.download(p, n) {
		if v != 1.5 {
			t.Fatalf("after MemsetD32, [%d] = %g", i, v)
		}
	}
	q := g.zeros(n)
	must(t, ctx.DtoD(q, p, 4*n, s))

	m, err := ctx.LoadModule([]byte(axpbPTX))
	must(t, err)
	defer ctx.UnloadModule(m)
	f, err := ctx.Function(m, "axpb")
	must(t, err)
	a := NewArgs()
	defer a.Free()
	a.Ptr(q)
	a.Float(2)
	a.Int(n - 1) // the last element stays
	a.U64(3)
	must(t, ctx.Launch(f, [3]uint32{(n + 127) / 128, 1, 1}, [3]uint32{128, 1, 1}, 0, s, a))
	got := g.download(q, n)
	if got[0] != 6 || got[n-2] != 6 || got[n-1] != 1.5 {
		t.Errorf("axpb gave %g %g %g, want 6 6 1.5", got[0], got[n-2], got[n-1])
	}

	// capture the launch, replay it twice: 6 -> 15 -> 33
	must(t, ctx.BeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL))
	must(t, ctx.Launch(f, [3]uint32{(n + 127) / 128, 1, 1}, [3]uint32{128, 1, 1}, 0, s, a))
	gr, err := ctx.EndCapture(s)
	must(t, err)
	ge, err := ctx.Instantiate(gr)
	must(t, err)
	must(t, ctx.LaunchGraph(ge, s))
	must(t, ctx.LaunchGraph(ge, s))
	if got := g.download(q, n); got[0] != 33 || got[n-1] != 1.5 {
		t.Errorf("after two graph launches: %g %g, want 33 1.5", got[0], got[n-1])
	}
	must(t, ctx.DestroyGraphExec(ge))
	must(t, ctx.DestroyGraph(gr))

	_, err = ctx.LoadModule([]byte(strings.Replace(axpbPTX, "fma.rn.f32", "fma.rn.bogus", 1)))
	if err == nil || !strings.Contains(err.Error(), "JIT log:") || strings.Contains(err.Error(), "\n") {
		t.Errorf("bad PTX: %v (want the JIT log, on one line)", err)
	} else {
		t.Logf("bad PTX: %v", err)
	}
	if _, _, err := ctx.MemGetInfo(); err != nil {
		t.Error(err)
	}
}

func TestGPUSgemm(t *testing.T) {
	g := realGPU(t)
	b, err := g.ctx.NewBLAS(g.s)
	must(t, err)
	defer b.Destroy()
	must(t, b.SetTF32(false))
	rng := rand.New(rand.NewSource(1))
	// column-major: C (m×n) = Aᵀ (A is k×m) · B (k×n)
	m, n, k := 7, 5, 9
	A, B, C := random(rng, k*m), random(rng, k*n), random(rng, m*n)
	dA, dB, dC := g.upload(A), g.upload(B), g.upload(C)
	must(t, b.Sgemm(true, false, m, n, k, 2, dA, k, dB, k, 0.5, dC, m))
	want := make([]float64, m*n)
	for j := 0; j < n; j++ {
		for i := 0; i < m; i++ {
			var s float64
			for l := 0; l < k; l++ {
				s += float64(A[l+i*k]) * float64(B[l+j*k])
			}
			want[i+j*m] = 2*s + 0.5*float64(C[i+j*m])
		}
	}
	near(t, "Sgemm", g.download(dC, m*n), want, 1e-5)
}

func TestGPUConvAndBatchNorm(t *testing.T) {
	g := realGPU(t)
	d, err := g.ctx.NewDNN(g.s)
	must(t, err)
	defer d.Destroy()
	t.Logf("cudnnGetVersion %d", d.Version())
	const N, C, H, W, K = 2, 3, 5, 6, 4
	rng := rand.New(rand.NewSource(2))
	x, w, dy := random(rng, N*C*H*W), random(rng, K*C*9), random(rng, N*K*H*W)
	dx, dw := g.upload(x), g.upload(w)
	ddy := g.upload(dy)
	xd, err := d.NewTensorDesc(N, C, H, W, C*H*W, H*W, W, 1)
	must(t, err)
	yd, err := d.NewTensorDesc(N, K, H, W, K*H*W, H*W, W, 1)
	must(t, err)
	wd, err := d.NewFilterDesc(K, C, 3, 3)
	must(t, err)
	cd, err := d.NewConvDesc(1, 1)
	must(t, err)
	must(t, cd.SetMath(false))
	ws := g.zeros(16 << 20)
	const wsBytes = 64 << 20

	at := func(v []float32, c, h, wi, n, i, j, u int) float64 { // v[n][i][j][u] of a [?][c][h][wi] array
		if j < 0 || j >= h || u < 0 || u >= wi {
			return 0
		}
		return float64(v[((n*c+i)*h+j)*wi+u])
	}
	// y = conv(x, w): cross-correlation, pad 1
	wantY := make([]float64, N*K*H*W)
	wantDX := make([]float64, N*C*H*W)
	wantDW := make([]float64, K*C*9)
	for n := 0; n < N; n++ {
		for k := 0; k < K; k++ {
			for i := 0; i < H; i++ {
				for j := 0; j < W; j++ {
					gv := float64(dy[((n*K+k)*H+i)*W+j])
					var s float64
					for c := 0; c < C; c++ {
						for u := 0; u < 3; u++ {
							for v := 0; v < 3; v++ {
								wv := float64(w[((k*C+c)*3+u)*3+v])
								xv := at(x, C, H, W, n, c, i+u-1, j+v-1)
								s += xv * wv
								wantDW[((k*C+c)*3+u)*3+v] += gv * xv
								if ii, jj := i+u-1, j+v-1; ii >= 0 && ii < H && jj >= 0 && jj < W {
									wantDX[((n*C+c)*H+ii)*W+jj] += gv * wv
								}
							}
						}
					}
					wantY[((n*K+k)*H+i)*W+j] = s
				}
			}
		}
	}

	pick := func(what string, perf []AlgoPerf, err error) int {
		t.Helper()
		must(t, err)
		for _, p := range perf {
			if p.Status == CUDNN_STATUS_SUCCESS && p.Memory <= wsBytes {
				t.Logf("%s: algo %d, %.3f ms, %d bytes, deterministic %v, math %d (of %d results)",
					what, p.Algo, p.Time, p.Memory, p.Deterministic, p.MathType, len(perf))
				must(t, cd.SetMathType(p.MathType))
				return p.Algo
			}
		}
		t.Fatalf("%s: no usable algorithm in %+v", what, perf)
		return 0
	}
	dyOut := g.zeros(N * K * H * W)
	perf, err := d.FindForward(xd, dx, wd, dw, cd, yd, dyOut, ws, wsBytes)
	algo := pick("forward", perf, err)
	need, err := d.ForwardWorkspace(xd, wd, cd, yd, algo)
	must(t, err)
	must(t, d.ConvForward(1, xd, dx, wd, dw, cd, algo, ws, need, 0, yd, dyOut))
	near(t, "ConvForward", g.download(dyOut, N*K*H*W), wantY, 1e-4)

	dxOut := g.zeros(N * C * H * W)
	perf, err = d.FindBackwardData(wd, dw, yd, ddy, cd, xd, dxOut, ws, wsBytes)
	algo = pick("backward data", perf, err)
	need, err = d.BackwardDataWorkspace(wd, yd, cd, xd, algo)
	must(t, err)
	must(t, d.ConvBackwardData(1, wd, dw, yd, ddy, cd, algo, ws, need, 0, xd, dxOut))
	near(t, "ConvBackwardData", g.download(dxOut, N*C*H*W), wantDX, 1e-4)

	dwOut := g.zeros(K * C * 9)
	perf, err = d.FindBackwardFilter(xd, dx, yd, ddy, cd, wd, dwOut, ws, wsBytes)
	algo = pick("backward filter", perf, err)
	need, err = d.BackwardFilterWorkspace(xd, yd, cd, wd, algo)
	must(t, err)
	must(t, d.ConvBackwardFilter(1, xd, dx, yd, ddy, cd, algo, ws, need, 0, wd, dwOut))
	near(t, "ConvBackwardFilter", g.download(dwOut, K*C*9), wantDW, 1e-4)

	// Batch norm over (N, H, W) per channel of x.
	bnd, err := d.NewTensorDesc(1, C, 1, 1, C, 1, 1, 1)
	must(t, err)
	must(t, d.DeriveBN(bnd, xd))
	scale, bias := []float32{1, 2, 0.5}, []float32{0, -1, 3}
	dScale, dBias := g.upload(scale), g.upload(bias)
	runMean, runVar := g.zeros(C), g.upload([]float32{1, 1, 1})
	saveMean, saveInv := g.zeros(C), g.zeros(C)
	y := g.zeros(N * C * H * W)
	const eps = 1e-5
	must(t, d.BNForwardTraining(1, 0, xd, dx, xd, y, bnd, dScale, dBias, 1, runMean, runVar, eps, saveMean, saveInv))
	m := float64(N * H * W)
	mean, inv := make([]float64, C), make([]float64, C)
	wantBN := make([]float64, N*C*H*W)
	wantRunVar := make([]float64, C)
	for c := 0; c < C; c++ {
		var s, ss float64
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				v := float64(x[(n*C+c)*H*W+i])
				s += v
				ss += v * v
			}
		}
		mean[c] = s / m
		variance := ss/m - mean[c]*mean[c]
		inv[c] = 1 / math.Sqrt(variance+eps)
		wantRunVar[c] = variance * m / (m - 1) // factor 1: the unbiased batch variance
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				k := (n*C+c)*H*W + i
				wantBN[k] = (float64(x[k])-mean[c])*inv[c]*float64(scale[c]) + float64(bias[c])
			}
		}
	}
	near(t, "BN y", g.download(y, N*C*H*W), wantBN, 1e-4)
	near(t, "BN saved mean", g.download(saveMean, C), mean, 1e-4)
	near(t, "BN saved inverse std", g.download(saveInv, C), inv, 1e-3)
	near(t, "BN running mean", g.download(runMean, C), mean, 1e-4)
	near(t, "BN running var", g.download(runVar, C), wantRunVar, 1e-3)

	must(t, d.BNForwardInference(1, 0, xd, dx, xd, y, bnd, dScale, dBias, saveMean, g.upload([]float32{1, 1, 1}), eps))

	// backward, with the gradient of the output being the first N*C*H*W of dy
	gy := dy[:N*C*H*W]
	dgy := g.upload(gy)
	gx, gScale, gBias := g.zeros(N*C*H*W), g.zeros(C), g.zeros(C)
	must(t, d.BNBackward(1, 0, 1, 0, xd, dx, xd, dgy, xd, gx, bnd, dScale, gScale, gBias, eps, saveMean, saveInv))
	wantGX := make([]float64, N*C*H*W)
	wantGS, wantGB := make([]float64, C), make([]float64, C)
	for c := 0; c < C; c++ {
		var sg, sgx float64
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				k := (n*C+c)*H*W + i
				xh := (float64(x[k]) - mean[c]) * inv[c]
				sg += float64(gy[k])
				sgx += float64(gy[k]) * xh
			}
		}
		wantGB[c], wantGS[c] = sg, sgx
		for n := 0; n < N; n++ {
			for i := 0; i < H*W; i++ {
				k := (n*C+c)*H*W + i
				xh := (float64(x[k]) - mean[c]) * inv[c]
				wantGX[k] = float64(scale[c]) * inv[c] * (float64(gy[k]) - sg/m - xh*sgx/m)
			}
		}
	}
	near(t, "BN dx", g.download(gx, N*C*H*W), wantGX, 1e-3)
	near(t, "BN dscale", g.download(gScale, C), wantGS, 1e-3)
	near(t, "BN dbias", g.download(gBias, C), wantGB, 1e-3)
	for _, desc := range []TensorDesc{xd, yd, bnd} {
		must(t, desc.Destroy())
	}
	must(t, wd.Destroy())
	must(t, cd.Destroy())
}
