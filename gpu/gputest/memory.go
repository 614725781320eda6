package gputest

import (
	"slices"

	"repro/gpu/ref"
)

func memoryCases() []Case {
	return []Case{
		newCase("memory/alloc-zeroed", func(e *env) {
			s, err := e.b.Alloc(1000)
			e.do("Alloc", err)
			e.compareExact("Alloc", e.getS(s), make([]float64, 1000))
			is, err := e.b.AllocInt(300)
			e.do("AllocInt", err)
			if v := e.getI(is); slices.ContainsFunc(v, func(x int32) bool { return x != 0 }) {
				e.errorf("AllocInt: memory not zeroed")
			}
			t, err := e.b.NewTensor(2, 3, 5, 7)
			e.do("NewTensor", err)
			if t.N != 2 || t.C != 3 || t.H != 5 || t.W != 7 || t.ParentC != 3 || t.C0 != 0 {
				e.errorf("NewTensor(2, 3, 5, 7) = %+v", t)
			}
			e.compareExact("NewTensor", e.get(t), make([]float64, t.Elems()))
		}),
		newCase("memory/upload-download", func(e *env) {
			all, err := e.b.Alloc(100)
			e.do("Alloc", err)
			v := e.rnd(50)
			e.do("Upload", e.b.Upload(all.Sub(10, 50), v))
			want := make([]float64, 100)
			copy(want[10:], widen(v))
			e.compareExact("Download of the whole buffer", e.getS(all), want)
			e.compareExact("Download of a sub-slice", e.getS(all.Sub(30, 5)), want[30:35])
		}),
		newCase("memory/upload-download-int", func(e *env) {
			all, err := e.b.AllocInt(40)
			e.do("AllocInt", err)
			v := make([]int32, 20)
			for i := range v {
				v[i] = int32(e.rng.IntN(1<<20)) - 1<<19
			}
			e.do("UploadInt", e.b.UploadInt(all.Sub(5, 20), v))
			got := e.getI(all)
			want := make([]int32, 40)
			copy(want[5:], v)
			if !slices.Equal(got, want) {
				e.errorf("DownloadInt: %v, want %v", got, want)
			}
		}),
		newCase("memory/tensor-views", func(e *env) {
			s := ref.Shape{N: 2, C: 3, H: 3, W: 5}
			t := e.view(s, 7, 2)
			p := parentOf(t)
			pv := e.fill(p)
			v := e.fill(t)
			want := widen(pv)
			ps := ref.Shape{N: 2, C: 7, H: 3, W: 5}
			for n := 0; n < s.N; n++ {
				for c := 0; c < s.C; c++ {
					for i := 0; i < s.H*s.W; i++ {
						want[ps.Index(n, c+2, 0, 0)+i] = float64(v[s.Index(n, c, 0, 0)+i])
					}
				}
			}
			e.compareExact("parent after UploadTensor into channels 2..4", e.get(p), want)
			e.compareExact("DownloadTensor of the view", e.get(t), widen(v))
			// A view of a view: channel 1 of channels 2..4 is channel 3.
			vv := t.Channels(1, 1)
			if vv.C0 != 3 || vv.C != 1 || vv.ParentC != 7 {
				e.errorf("Channels(1, 1) of %v = %v", t, vv)
			}
			w := e.rnd(vv.Elems())
			e.put(vv, w)
			e.compareExact("view of a view", e.get(p.Channels(3, 1)), widen(w))
		}),
		newCase("memory/zero", func(e *env) {
			v := e.rnd(64)
			s := e.slice(v)
			e.do("Zero", e.b.Zero(s.Sub(8, 40)))
			want := widen(v)
			clear(want[8:48])
			e.guards("Zero", s)
			e.compareExact("Zero of a sub-slice", e.getS(s), want)
		}),
		newCase("memory/zero-tensor", func(e *env) {
			for _, c := range []struct{ parentC, c0, c int }{{5, 0, 5}, {9, 3, 4}} {
				t := e.view(ref.Shape{N: 3, C: c.c, H: 4, W: 6}, c.parentC, c.c0)
				e.fill(parentOf(t))
				before := e.snap(t)
				e.do("ZeroTensor", e.b.ZeroTensor(t))
				e.expect("ZeroTensor", t, before, make([]float64, t.Elems()))
			}
		}),
		newCase("memory/copy", func(e *env) {
			s := ref.Shape{N: 2, C: 3, H: 4, W: 5}
			src := e.view(s, 5, 2)
			v := e.fill(src)
			dst := e.view(s, 6, 1)
			before := e.snap(dst)
			e.do("Copy", e.b.Copy(dst, src))
			e.expect("Copy into a view", dst, before, widen(v))
			whole := e.tensor(s)
			before = e.snap(whole)
			e.do("Copy", e.b.Copy(whole, src))
			e.expect("Copy", whole, before, widen(v))
		}),
	}
}
