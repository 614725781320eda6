//go:build cuda

package lib

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// Library is one shared library that Load opened.
type Library struct {
	// Name is the file name that was opened, e.g. "libcudnn.so.9".
	Name string
	// Path is the file the loader mapped, as dladdr reports it (for a library
	// found by the loader's default search, the folder it came from).
	Path string
	// Dir is the folder Load opened it from; "" when the loader's default
	// search (LD_LIBRARY_PATH, the ld.so cache, ...) found it.
	Dir string
	// Companions are the libraries preloaded from Dir so that this one and
	// its own dlopen calls find them: libcublasLt for cuBLAS, the
	// libcudnn_*.so.N sub-libraries for cuDNN.
	Companions []string
}

// Libs is the loaded CUDA driver, cuBLAS and cuDNN with their resolved
// symbols. It is created once per process and never unloaded (the libraries
// stay mapped for the life of the process, as with cudarc). Its methods and
// those of the types made from it may be called from any goroutine; see the
// package documentation for what is and is not safe concurrently.
type Libs struct {
	t *C.repro_tbl

	// The three libraries as loaded.
	Driver, BLAS, DNN Library
	// Warnings lists companion libraries that could not be preloaded. They
	// are not fatal: the library may find them itself, or not need them.
	Warnings []string
}

type libSpec struct {
	what  string   // for messages
	names []string // file names, newest first
	id    int      // REPRO_LIB_*
}

var specs = [3]libSpec{
	{"CUDA driver", []string{"libcuda.so.1"}, C.REPRO_LIB_DRIVER},
	{"cuBLAS", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}, C.REPRO_LIB_BLAS},
	{"cuDNN", []string{"libcudnn.so.9", "libcudnn.so.8"}, C.REPRO_LIB_DNN},
}

// errLen is the size of the C buffer that receives dlerror's text.
const errLen = 1024

// pipPattern is a family of folders where pip wheels (nvidia-cublas-cu12,
// nvidia-cudnn-cu12, ...) put their libraries: site-packages/nvidia/<name>/lib.
type pipPattern struct {
	show  string   // for messages, e.g. /usr/lib/python3*/{site,dist}-packages/nvidia/*/lib
	globs []string // what is globbed
}

func pipPatterns() []pipPattern {
	both := func(prefix string) pipPattern {
		return pipPattern{prefix + "/python3*/{site,dist}-packages/nvidia/*/lib", []string{
			prefix + "/python3*/site-packages/nvidia/*/lib", prefix + "/python3*/dist-packages/nvidia/*/lib"}}
	}
	one := func(g string) pipPattern { return pipPattern{g, []string{g}} }
	p := []pipPattern{both("/usr/lib"), both("/usr/local/lib")}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		p = append(p, one(home+"/.local/lib/python3*/site-packages/nvidia/*/lib"))
	}
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		p = append(p, one(v+"/lib/python3*/site-packages/nvidia/*/lib"))
	}
	if c := os.Getenv("CONDA_PREFIX"); c != "" {
		// conda packages put the libraries straight into $CONDA_PREFIX/lib;
		// pip wheels installed into the environment use site-packages.
		p = append(p, one(c+"/lib"), one(c+"/lib/python3*/site-packages/nvidia/*/lib"))
	}
	p = append(p, one("/opt/conda/lib/python3*/site-packages/nvidia/*/lib"))
	return p
}

// systemDirs are the last folders tried: the CUDA toolkit's default install
// and the distribution's library folder.
func systemDirs() []string {
	triple := "x86_64-linux-gnu"
	if runtime.GOARCH == "arm64" {
		triple = "aarch64-linux-gnu"
	}
	return []string{"/usr/local/cuda/lib64", "/usr/lib/" + triple}
}

// plan is where Load looks, in order: the explicit folders, the loader's
// default search, then the pip-wheel and system folders.
type plan struct {
	explicit []string
	pipFound []string
	others   []string // pipFound then systemDirs
	patterns []pipPattern
}

func newPlan(extraDirs []string) *plan {
	p := &plan{patterns: pipPatterns()}
	seen := map[string]bool{}
	add := func(list *[]string, d string) {
		if d == "" {
			return
		}
		d = filepath.Clean(d)
		if seen[d] {
			return
		}
		seen[d] = true
		*list = append(*list, d)
	}
	for _, d := range extraDirs {
		add(&p.explicit, d)
	}
	for _, pat := range p.patterns {
		for _, g := range pat.globs {
			m, _ := filepath.Glob(g)
			sort.Strings(m)
			for _, d := range m {
				if st, err := os.Stat(d); err == nil && st.IsDir() {
					add(&p.pipFound, d)
				}
			}
		}
	}
	p.others = append(p.others, p.pipFound...)
	for _, d := range systemDirs() {
		add(&p.others, d)
	}
	return p
}

// SearchDirs returns the folders Load tries, in order: each of extraDirs
// (the caller passes $REPRO_CUDA_LIBS split on ':'), the nvidia/*/lib folders
// of pip wheels found under the Python site-packages folders
// (/usr/lib/python3*/{site,dist}-packages, /usr/local/lib/python3*/...,
// ~/.local/lib/python3*/site-packages, $VIRTUAL_ENV/lib/python3*/site-packages,
// $CONDA_PREFIX/lib and its site-packages, /opt/conda/lib/python3*/site-packages),
// /usr/local/cuda/lib64 and /usr/lib/<arch>-linux-gnu. Between extraDirs and
// the rest, Load also tries the loader's default search (a bare file name).
func SearchDirs(extraDirs []string) []string {
	p := newPlan(extraDirs)
	return append(append([]string(nil), p.explicit...), p.others...)
}

// Load opens the CUDA driver (libcuda.so.1), cuBLAS (libcublas.so.13, .12,
// .11) and cuDNN (libcudnn.so.9, .8) and resolves every symbol this package
// uses. Each library is looked for first in extraDirs, in order, taking the
// newest version found in the first folder that has one; then, newest version
// first, by the loader's default search and in the other folders of
// SearchDirs. Libraries are opened with RTLD_NOW|RTLD_GLOBAL.
//
// When cuBLAS is opened from a folder, libcublasLt.so.N from the same folder
// is opened first (libcublas.so.N needs it). When cuDNN is opened from a
// folder, its sub-libraries libcudnn_*.so.N there are opened right after it
// (cuDNN dlopens them by file name, and a library already loaded under that
// name is reused, so cuDNN gets the copies beside it rather than another
// version found on the loader's path; this is what PyTorch does for the pip
// wheels). Sub-libraries that cannot be loaded become Warnings.
//
// On failure the error, one line, names for each library that could not be
// loaded every file name and folder tried and the last dlerror text, or the
// library file and the first required symbol it lacks.
func Load(extraDirs []string) (*Libs, error) {
	return load(extraDirs, [3]bool{true, true, true})
}

// load loads the libraries selected by which (driver, cuBLAS, cuDNN).
func load(extraDirs []string, which [3]bool) (*Libs, error) {
	p := newPlan(extraDirs)
	l := &Libs{t: (*C.repro_tbl)(C.calloc(1, C.sizeof_repro_tbl))}
	errbuf := (*C.char)(C.malloc(errLen))
	defer C.free(unsafe.Pointer(errbuf))
	var failed []string
	for i, s := range specs {
		if !which[i] {
			continue
		}
		lib, warn, err := l.loadOne(s, p, errbuf)
		l.Warnings = append(l.Warnings, warn...)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		*l.library(i) = lib
	}
	if len(failed) > 0 {
		msg := "cuda libraries: " + strings.Join(failed, "; ")
		for i, s := range specs {
			if lib := l.library(i); lib.Name != "" {
				msg += fmt.Sprintf("; %s: loaded %s", s.what, lib.Path)
			}
		}
		C.free(unsafe.Pointer(l.t))
		return nil, errors.New(msg)
	}
	return l, nil
}

func (l *Libs) library(i int) *Library {
	switch i {
	case 0:
		return &l.Driver
	case 1:
		return &l.BLAS
	}
	return &l.DNN
}

// dlopen opens path (a file name or a path) with RTLD_NOW|RTLD_GLOBAL,
// returning dlerror's text on failure.
func dlopen(path string, errbuf *C.char) (unsafe.Pointer, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	h := C.repro_dlopen(cpath, errbuf, errLen)
	if h == nil {
		return nil, errors.New(C.GoString(errbuf))
	}
	return h, nil
}

func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// loadOne finds and opens one library and resolves its symbols into l.t.
func (l *Libs) loadOne(s libSpec, p *plan, errbuf *C.char) (Library, []string, error) {
	var warnings []string
	var fileErr, bareErr string // last dlerror for an existing file, for a bare name
	var lib Library
	var handle unsafe.Pointer

	try := func(dir, name string) bool {
		target := name
		if dir != "" {
			target = filepath.Join(dir, name)
			if !exists(target) {
				return false
			}
		}
		var companions []string
		if dir != "" && s.id == C.REPRO_LIB_BLAS {
			lt := filepath.Join(dir, "libcublasLt"+strings.TrimPrefix(name, "libcublas"))
			if exists(lt) {
				if _, err := dlopen(lt, errbuf); err != nil {
					warnings = append(warnings, fmt.Sprintf("%s: preloading %s: %v", s.what, lt, err))
				} else {
					companions = append(companions, lt)
				}
			}
		}
		h, err := dlopen(target, errbuf)
		if err != nil {
			if dir != "" {
				fileErr = err.Error()
			} else {
				bareErr = err.Error()
			}
			return false
		}
		if dir != "" && s.id == C.REPRO_LIB_DNN {
			more, warn := preloadAll(filepath.Join(dir, "libcudnn_*"+strings.TrimPrefix(name, "libcudnn")), errbuf)
			companions = append(companions, more...)
			for _, w := range warn {
				warnings = append(warnings, s.what+": "+w)
			}
		}
		handle = h
		lib = Library{Name: name, Path: target, Dir: dir, Companions: companions}
		return true
	}

	found := false
	for _, dir := range p.explicit {
		for _, name := range s.names {
			if found = try(dir, name); found {
				break
			}
		}
		if found {
			break
		}
	}
	for _, name := range s.names {
		if found {
			break
		}
		if found = try("", name); found {
			break
		}
		for _, dir := range p.others {
			if found = try(dir, name); found {
				break
			}
		}
	}
	if !found {
		last := fileErr
		if last == "" {
			last = bareErr
		}
		return Library{}, warnings, fmt.Errorf("%s: cannot open %s; tried %s; last dlerror: %s",
			s.what, strings.Join(s.names, " or "), p.describe(), oneLine(last))
	}

	// Resolve every symbol of this library.
	var first unsafe.Pointer
	for i := 0; i < int(C.repro_sym_count()); i++ {
		if int(C.repro_sym_lib(C.int(i))) != s.id {
			continue
		}
		name := C.repro_sym_name(C.int(i))
		sym := C.repro_dlsym(handle, name, errbuf, errLen)
		if sym == nil {
			if C.repro_sym_optional(C.int(i)) != 0 {
				continue
			}
			return Library{}, warnings, fmt.Errorf("%s: %s lacks the required symbol %s (%s)",
				s.what, lib.Path, C.GoString(name), oneLine(C.GoString(errbuf)))
		}
		if first == nil {
			first = sym
		}
		C.repro_tbl_set(l.t, C.int(i), sym)
	}
	if C.repro_dladdr(first, errbuf, errLen) != 0 {
		lib.Path = C.GoString(errbuf)
	}
	return lib, warnings, nil
}

// symbolNames lists the symbols Load resolves from library id (0 driver,
// 1 cuBLAS, 2 cuDNN) in the order it resolves them, and which are optional.
func symbolNames(id int) (names []string, optional []bool) {
	for i := 0; i < int(C.repro_sym_count()); i++ {
		if int(C.repro_sym_lib(C.int(i))) == id {
			names = append(names, C.GoString(C.repro_sym_name(C.int(i))))
			optional = append(optional, C.repro_sym_optional(C.int(i)) != 0)
		}
	}
	return names, optional
}

// preloadAll opens every file matching pattern, in as many passes as it takes
// for files that need one another (RTLD_NOW fails on a library whose
// dependency is not loaded yet and not on the loader's path).
func preloadAll(pattern string, errbuf *C.char) (loaded, warnings []string) {
	pending, _ := filepath.Glob(pattern)
	sort.Strings(pending)
	for len(pending) > 0 {
		var next, errs []string
		for _, f := range pending {
			if _, err := dlopen(f, errbuf); err != nil {
				next = append(next, f)
				errs = append(errs, fmt.Sprintf("preloading %s: %s", f, oneLine(err.Error())))
				continue
			}
			loaded = append(loaded, f)
		}
		if len(next) == len(pending) {
			return loaded, errs
		}
		pending = next
	}
	return loaded, nil
}

// describe lists, for messages, where the plan looks.
func (p *plan) describe() string {
	var b strings.Builder
	for _, d := range p.explicit {
		b.WriteString(d)
		b.WriteString(", ")
	}
	b.WriteString("the loader's default search path")
	for _, d := range p.others {
		b.WriteString(", ")
		b.WriteString(d)
	}
	b.WriteString(" (pip wheel folders are looked for as ")
	for i, pat := range p.patterns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pat.show)
	}
	if len(p.pipFound) == 0 {
		b.WriteString("; none found")
	}
	b.WriteString(")")
	return b.String()
}

// oneLine folds a possibly multi-line message into one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " | ")
}

// DriverVersion is cuDriverGetVersion: the CUDA version the driver supports,
// as 1000*major + 10*minor (12040 is CUDA 12.4). It needs no Init.
func (l *Libs) DriverVersion() (int, error) {
	var v C.int
	if err := l.cuErr("cuDriverGetVersion", C.repro_cu_driver_version(l.t, &v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

// DNNVersion is cudnnGetVersion: 1000*major + 100*minor + patch for cuDNN 8
// (CUDNN_VERSION in [cudnn 8.2] cudnn_version.h), 10000*major + 100*minor +
// patch for cuDNN 9 ([cudnn 9.6] cudnn_version.h).
func (l *Libs) DNNVersion() int {
	if l.DNN.Name == "" {
		return 0
	}
	return int(C.repro_dnn_version(l.t))
}

// dnnVersionString decodes a cudnnGetVersion value.
func dnnVersionString(v int) string {
	if v >= 90000 {
		return fmt.Sprintf("%d.%d.%d", v/10000, v%10000/100, v%100)
	}
	return fmt.Sprintf("%d.%d.%d", v/1000, v%1000/100, v%100)
}

// blasVersionString is cuBLAS's version from cublasGetProperty, or the
// soname's major version when that symbol is absent.
func (l *Libs) blasVersionString() string {
	var v [3]C.int
	for i, prop := range [3]C.int{propMajor, propMinor, propPatch} {
		if C.repro_blas_property(l.t, prop, &v[i]) != 0 {
			return strings.TrimPrefix(l.BLAS.Name, "libcublas.so.") + ".x"
		}
	}
	return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2])
}

// Describe says which versions were loaded from where, e.g.
// "CUDA driver 12.4 (/usr/lib/x86_64-linux-gnu/libcuda.so.1), cuBLAS 12.4.5
// (/.../libcublas.so.12), cuDNN 9.1.0 (/.../libcudnn.so.9)".
func (l *Libs) Describe() string {
	var parts []string
	if l.Driver.Name != "" {
		drv := "?"
		if v, err := l.DriverVersion(); err == nil {
			drv = strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
		}
		parts = append(parts, fmt.Sprintf("CUDA driver %s (%s)", drv, l.Driver.Path))
	}
	if l.BLAS.Name != "" {
		parts = append(parts, fmt.Sprintf("cuBLAS %s (%s)", l.blasVersionString(), l.BLAS.Path))
	}
	if l.DNN.Name != "" {
		parts = append(parts, fmt.Sprintf("cuDNN %s (%s)", dnnVersionString(l.DNNVersion()), l.DNN.Path))
	}
	return strings.Join(parts, ", ")
}
