package train

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Experiment is a named set of cells, runs that differ in one thing.
type Experiment struct {
	Name        string
	Description string
	Cells       []Cell
}

// Cell is one recipe of an experiment, run once per seed.
type Cell struct {
	Name        string
	Description string
	Config      Config
	// Seeds is the number of runs, with seeds Config.Seed, Config.Seed+1, ...
	Seeds int
	// PaperError and WriteupError are the test errors (percent) that the
	// paper and the write-up report for this recipe; 0 when they report none.
	PaperError, WriteupError float64
}

// RunSpec is one run of a cell: the recipe with its seed, and its folder
// relative to the experiment's: CELL, or CELL/seed-K with several seeds.
type RunSpec struct {
	Cell   string
	Index  int // 1-based seed index
	Config Config
	Dir    string
}

// Runs lists the runs of every cell in order.
func (e Experiment) Runs() []RunSpec {
	var out []RunSpec
	for _, c := range e.Cells {
		out = append(out, c.Runs()...)
	}
	return out
}

// Runs lists the cell's runs, one per seed.
func (c Cell) Runs() []RunSpec {
	n := max(1, c.Seeds)
	out := make([]RunSpec, n)
	for k := range out {
		cfg := c.Config.clone()
		cfg.Seed += uint64(k)
		dir := c.Name
		if n > 1 {
			dir = filepath.Join(c.Name, fmt.Sprintf("seed-%d", k+1))
		}
		out[k] = RunSpec{Cell: c.Name, Index: k + 1, Config: cfg, Dir: dir}
	}
	return out
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// ParseExperiments reads an experiments file (file names it in errors).
//
// Each [experiment.NAME] table holds a description, any Config keys (the
// experiment's base recipe, laid over Defaults) and an array [[experiment.NAME.cell]]
// of cells, each a name, an optional description and the Config keys it
// changes. A key that is neither is an error naming it and its line.
func ParseExperiments(file string, text []byte) ([]Experiment, error) {
	var doc struct {
		Experiment map[string]toml.Primitive `toml:"experiment"`
	}
	md, err := toml.Decode(string(text), &doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, oneLine(err))
	}
	// experiments in file order
	var names []string
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		if len(k) >= 2 && k[0] == "experiment" && !seen[k[1]] {
			seen[k[1]] = true
			names = append(names, k[1])
		}
	}
	var exps []Experiment
	for _, name := range names {
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf("%s:%d: experiment name %q: want lower-case letters, digits, '_', '-' or '.'", file, keyLine(text, "experiment."+name), name)
		}
		prim := doc.Experiment[name]
		var meta struct {
			Description string           `toml:"description"`
			Seeds       int              `toml:"seeds"`
			Cells       []toml.Primitive `toml:"cell"`
		}
		if err := md.PrimitiveDecode(prim, &meta); err != nil {
			return nil, fmt.Errorf("%s: experiment %s: %w", file, name, oneLine(err))
		}
		base := Defaults()
		if err := md.PrimitiveDecode(prim, &base); err != nil {
			return nil, fmt.Errorf("%s: experiment %s: %w", file, name, oneLine(err))
		}
		if meta.Seeds == 0 {
			meta.Seeds = 1
		}
		if meta.Seeds < 1 || meta.Seeds > 100 {
			return nil, fmt.Errorf("%s:%d: experiment %s: seeds = %d: want 1..100", file, keyLine(text, "experiment."+name+".seeds"), name, meta.Seeds)
		}
		exp := Experiment{Name: name, Description: meta.Description}
		if len(meta.Cells) == 0 {
			exp.Cells = []Cell{{Name: "run", Config: base, Seeds: meta.Seeds}}
		}
		for i, cp := range meta.Cells {
			cm := struct {
				Name         string  `toml:"name"`
				Description  string  `toml:"description"`
				Seeds        int     `toml:"seeds"`
				PaperError   float64 `toml:"paper_error"`
				WriteupError float64 `toml:"writeup_error"`
			}{Seeds: meta.Seeds}
			if err := md.PrimitiveDecode(cp, &cm); err != nil {
				return nil, fmt.Errorf("%s: experiment %s, cell %d: %w", file, name, i+1, oneLine(err))
			}
			if !nameRE.MatchString(cm.Name) {
				return nil, fmt.Errorf("%s: experiment %s, cell %d: name %q: want lower-case letters, digits, '_', '-' or '.'", file, name, i+1, cm.Name)
			}
			for _, other := range exp.Cells {
				if other.Name == cm.Name {
					return nil, fmt.Errorf("%s: experiment %s: two cells named %q", file, name, cm.Name)
				}
			}
			cfg := base.clone()
			if err := md.PrimitiveDecode(cp, &cfg); err != nil {
				return nil, fmt.Errorf("%s: experiment %s, cell %s: %w", file, name, cm.Name, oneLine(err))
			}
			if cm.Seeds < 1 || cm.Seeds > 100 || cm.PaperError < 0 || cm.PaperError > 100 || cm.WriteupError < 0 || cm.WriteupError > 100 {
				return nil, fmt.Errorf("%s: experiment %s, cell %s: seeds %d, paper_error %v, writeup_error %v: want 1..100 seeds and errors in percent", file, name, cm.Name, cm.Seeds, cm.PaperError, cm.WriteupError)
			}
			exp.Cells = append(exp.Cells, Cell{Name: cm.Name, Description: cm.Description, Config: cfg, Seeds: cm.Seeds, PaperError: cm.PaperError, WriteupError: cm.WriteupError})
		}
		exps = append(exps, exp)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0].String()
		return nil, fmt.Errorf("%s:%d: unknown key %q", file, keyLine(text, k), k)
	}
	for _, e := range exps {
		for _, c := range e.Cells {
			if err := c.Config.Validate(); err != nil {
				return nil, fmt.Errorf("%s: experiment %s, cell %s: %w", file, e.Name, c.Name, err)
			}
		}
	}
	return exps, nil
}

// clone deep-copies c so that decoding a cell onto it leaves the base alone.
func (c Config) clone() Config {
	d := c
	d.Schedule.Milestones = append([]int(nil), c.Schedule.Milestones...)
	d.Schedule.MilestoneFractions = append([]float64(nil), c.Schedule.MilestoneFractions...)
	a := c.Arch
	d.Arch = ArchOverrides{}
	if a.Shortcut != nil {
		v := *a.Shortcut
		d.Arch.Shortcut = &v
	}
	if a.Growth != nil {
		v := *a.Growth
		d.Arch.Growth = &v
	}
	if a.Bottleneck != nil {
		v := *a.Bottleneck
		d.Arch.Bottleneck = &v
	}
	if a.Compression != nil {
		v := *a.Compression
		d.Arch.Compression = &v
	}
	if a.Dropout != nil {
		v := *a.Dropout
		d.Arch.Dropout = &v
	}
	if a.Init != nil {
		v := *a.Init
		d.Arch.Init = &v
	}
	return d
}

// oneLine keeps the first line of a TOML error, which carries the position.
func oneLine(err error) error {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("%s", msg)
}

// keyLine finds the line (1-based) that defines the dotted key, following
// table headers; it falls back to the key's parents and returns 0 when none
// is found. Array indices are not part of the key, as in toml's Undecoded.
func keyLine(text []byte, key string) int {
	for k := key; k != ""; {
		if line := findKey(text, k); line > 0 {
			return line
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func findKey(text []byte, key string) int {
	table := ""
	for i, raw := range strings.Split(string(text), "\n") {
		line := strings.TrimSpace(raw)
		if j := strings.IndexByte(line, '#'); j >= 0 && !strings.ContainsAny(line[:j], `"'`) {
			line = strings.TrimSpace(line[:j])
		}
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "[[") && strings.HasSuffix(line, "]]"):
			table = normKey(line[2 : len(line)-2])
			if table == key {
				return i + 1
			}
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			table = normKey(line[1 : len(line)-1])
			if table == key {
				return i + 1
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		full := normKey(k)
		if table != "" {
			full = table + "." + full
		}
		if full == key {
			return i + 1
		}
	}
	return 0
}

func normKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}
