package kernels

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
)

// params is the number of parameters of each kernel, from the signatures in
// ops.cu that gpu/cuda packs its launches for: a kernel whose parameter list
// changes without this table (and gpu/cuda) fails TestEntries.
var params = map[string]int{
	"fill_view":         5,
	"copy_view":         6,
	"relu_forward":      6,
	"relu_backward":     8,
	"add_forward":       8,
	"residual_forward":  15,
	"shortcut_backward": 14,
	"avgpool_forward":   9,
	"avgpool_backward":  10,
	"gap_forward":       7,
	"gap_backward":      8,
	"dropout":           10,
	"softmax_xent":      9,
	"bias_rows":         5,
	"bias_grad":         5,
	"sgd_step":          10,
	"adam_step":         14,
	"build_batch":       25,
	"bn_stats":          18,
	"bn_coeffs_train":   11,
	"bn_coeffs_infer":   8,
	"bn_apply":          12,
	"bn_grad_stats":     18,
	"bn_grad_apply":     12,
}

// TestSourceHash fails when ops.ptx was not made from the ops.cu beside it.
func TestSourceHash(t *testing.T) {
	src, err := os.ReadFile("ops.cu")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	want := hex.EncodeToString(sum[:])
	if got := SourceHash(); got != want {
		t.Fatalf("kernels/ops.ptx is stale: run make kernels (ops.ptx records source %q, ops.cu is %s)", got, want)
	}
}

// TestEntries checks that the PTX defines exactly the kernels of Names, with
// the parameter counts gpu/cuda packs.
func TestEntries(t *testing.T) {
	names := Names()
	if len(names) != len(params) {
		t.Errorf("Names has %d kernels, the parameter table %d", len(names), len(params))
	}
	got, err := ParamTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		want, ok := params[name]
		if !ok {
			t.Errorf("kernel %s of Names is not in the test's parameter table", name)
			continue
		}
		types, ok := got[name]
		switch {
		case !ok:
			t.Errorf("ops.ptx has no .visible .entry %s( (stale PTX? run make kernels)", name)
		case len(types) != want:
			t.Errorf("kernel %s has %d parameters in ops.ptx, want %d", name, len(types), want)
		}
	}
	// bn_apply(float* y, int ys, const float* x, int xs, const float* r, int rs, const float* k1,
	// const float* k0, int n, int C, int HW, int relu); sgd_step has float hyper-parameters
	if types := got["bn_apply"]; types != "uiuiuiuuiiii" {
		t.Errorf("ParamTypes()[bn_apply] = %q", types)
	}
	if types := got["sgd_step"]; !strings.Contains(types, "f") {
		t.Errorf("ParamTypes()[sgd_step] = %q: no float", types)
	}
	for name := range got {
		if !slices.Contains(names, name) {
			t.Errorf("ops.ptx defines kernel %s, which Names does not list", name)
		}
	}
	// Names returns a copy.
	names[0] = "changed"
	if Names()[0] == "changed" {
		t.Error("Names returns its own slice")
	}
}

// TestTarget checks the PTX's virtual architecture and address size.
func TestTarget(t *testing.T) {
	text := string(PTX())
	for _, line := range []string{".target sm_70", ".address_size 64"} {
		if !slices.Contains(strings.Split(text, "\n"), line) {
			t.Errorf("ops.ptx does not declare %q", line)
		}
	}
	if p := PTX(); len(p) > 0 {
		p[0] ^= 1
		if PTX()[0] == p[0] {
			t.Error("PTX returns shared memory")
		}
	}
}
