package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure size: three panels side by side and the legend in a column on
// their right, where it never covers a line. At pngDPI the PNG is 2100x825.
const (
	figWidth  = 14 * vg.Inch
	figHeight = 5.5 * vg.Inch
	pngDPI    = 150
)

// palette is matplotlib's tab10 (readable on white, familiar). Dash
// patterns are combined with it so that cells stay distinguishable in grey
// scale and beyond ten cells: see style.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

var dashes = [][]vg.Length{
	nil,                              // solid
	{vg.Points(7), vg.Points(3)},     // dashed
	{vg.Points(1.5), vg.Points(2.5)}, // dotted
	{vg.Points(8), vg.Points(2.5), vg.Points(1.5), vg.Points(2.5)}, // dash-dot
	{vg.Points(14), vg.Points(4)},                                  // long dash
}

const lineWidth = 1.6 // points

// style is cell i's line style: colour i%10 and a dash pattern that also
// moves on every ten cells, so that the first 50 cells all differ in colour
// or dashes, and the first five in both.
func style(i int) draw.LineStyle {
	return draw.LineStyle{
		Color:  palette[i%len(palette)],
		Width:  vg.Points(lineWidth),
		Dashes: dashes[(i+i/len(palette))%len(dashes)],
	}
}

func sans(size vg.Length) font.Font {
	return font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, size)
}

func textStyle(size vg.Length, c color.Color, xa draw.XAlignment, ya draw.YAlignment) draw.TextStyle {
	return draw.TextStyle{Color: c, Font: sans(size), XAlign: xa, YAlign: ya, Handler: plot.DefaultTextHandler}
}

// metrics are the three panels: test error, train error, train loss.
var metrics = []struct{ title, label string }{
	{"Test error", "test error (%)"},
	{"Train error", "train error (%)"},
	{"Train loss", "train loss (cross-entropy)"},
}

// curve is one cell's line in each panel: the mean over its runs at each
// epoch, and the min and max where at least two runs reached the epoch.
type curve struct {
	index   int // the cell's position, which fixes its style
	epochs  []float64
	mean    [3][]float64 // test error, train error, train loss
	lo, hi  [3][]float64
	nBand   int  // the first nBand epochs have two or more runs
	running bool // not every run has finished
}

// curves builds one curve per cell with finished epochs, over the same runs
// as the summary's final numbers (the finished runs, else the started ones).
func curves(r *Result) (out []curve, legend []legendEntry, maxEpoch int) {
	for i, c := range r.Cells {
		s := c.Summarize()
		for _, run := range c.Runs {
			maxEpoch = max(maxEpoch, run.Planned, len(run.Rows))
		}
		var use []RunResult
		for _, run := range c.Runs {
			if run.Status == StatusDone {
				use = append(use, run)
			}
		}
		if len(use) == 0 {
			for _, run := range c.Runs {
				if len(run.Rows) > 0 {
					use = append(use, run)
				}
			}
		}
		entry := legendEntry{index: i, name: c.Cell.Name}
		if len(use) == 0 {
			entry.detail, entry.short = "not started", "not started"
			legend = append(legend, entry)
			continue
		}
		cv := curve{index: i, running: s.Status != StatusDone}
		n := 0
		for _, run := range use {
			n = max(n, len(run.Rows))
		}
		for e := 0; e < n; e++ {
			var vals [3][]float64
			for _, run := range use {
				if e < len(run.Rows) {
					row := run.Rows[e]
					vals[0] = append(vals[0], row.TestError)
					vals[1] = append(vals[1], row.TrainError)
					vals[2] = append(vals[2], row.TrainLoss)
				}
			}
			cv.epochs = append(cv.epochs, float64(e+1))
			for m := range vals {
				mean, _ := meanStd(vals[m])
				lo, hi := math.Inf(1), math.Inf(-1)
				for _, v := range vals[m] {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
				cv.mean[m] = append(cv.mean[m], mean)
				cv.lo[m] = append(cv.lo[m], lo)
				cv.hi[m] = append(cv.hi[m], hi)
			}
			if len(vals[0]) >= 2 && cv.nBand == e {
				cv.nBand = e + 1
			}
		}
		switch {
		case s.Partial:
			entry.short = fmt.Sprintf("epoch %d/%d", n, maxPlanned(c))
			entry.detail = "running, " + entry.short
		default:
			entry.short = pct(s.FinalTestError)
			if !math.IsNaN(s.FinalTestErrorStd) {
				entry.short += " ± " + pct(s.FinalTestErrorStd)
			}
			entry.short += " %"
			entry.detail = "final " + entry.short
			switch {
			case s.Status != StatusDone:
				entry.detail += fmt.Sprintf(" (%d of %d seeds done)", s.RunsFinished, s.RunsTotal)
			case s.N > 1:
				entry.detail += fmt.Sprintf(", %d seeds", s.N)
			}
		}
		entry.drawn = true
		legend = append(legend, entry)
		out = append(out, cv)
	}
	return out, legend, maxEpoch
}

func maxPlanned(c CellResult) int {
	p := 0
	for _, r := range c.Runs {
		p = max(p, r.Planned)
	}
	return p
}

// points lists the finite values as XYs; with logY it lists the base-10
// logarithms of the positive ones.
//
// A log axis is drawn as a linear axis of log10(v) with decade labels
// (logTicks) rather than with plot.LogScale: plot v0.17 places a log axis's
// label glyph box at the data midpoint, which pads the panel's top by
// tens of points and misaligns it with the others.
func points(x, y []float64, logY bool) plotter.XYs {
	var xy plotter.XYs
	for i := range x {
		v := y[i]
		if math.IsNaN(v) || math.IsInf(v, 0) || (logY && v <= 0) {
			continue
		}
		if logY {
			v = math.Log10(v)
		}
		xy = append(xy, plotter.XY{X: x[i], Y: v})
	}
	return xy
}

// logTicks labels the decades of an axis of log10 values with their value
// (0.01, 0.1, 1) and marks 2..9 times each decade.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for k := math.Floor(lo); k <= math.Ceil(hi); k++ {
		if k >= lo-1e-9 && k <= hi+1e-9 {
			ts = append(ts, plot.Tick{Value: k, Label: strconv.FormatFloat(math.Pow(10, k), 'g', -1, 64)})
		}
		for j := 2.0; j <= 9; j++ {
			if v := k + math.Log10(j); v > lo && v < hi {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return ts
}

// panel draws metric m of every curve.
//
// Y ranges: the errors use a linear axis from 0 to a little above the
// largest value, as the write-up's figures do, so that the eye reads
// absolute errors and their differences. The train loss uses a log axis
// (linear only when no value is positive): it falls over two to three decades (about
// 2 to 0.01 with SGD and lr drops), and on a linear axis everything after
// the first lr drop would sit flat on zero, hiding what the ablations are
// about (e.g. weight decay keeping the loss higher, Adam not reaching ~0).
func panel(m int, cs []curve, maxEpoch int) *plot.Plot {
	p := plot.New() // the panel's title is drawn by render, level with the others
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = metrics[m].label
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(12)
		a.Tick.Label.Font = sans(11)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{0xe0}
	grid.Horizontal.Color = color.Gray{0xe0}
	grid.Vertical.Width = vg.Points(0.6)
	grid.Horizontal.Width = vg.Points(0.6)
	p.Add(grid)

	// lo is the smallest positive value, hi the largest
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range cs {
		for _, vs := range [][]float64{c.lo[m], c.hi[m]} {
			for _, v := range vs {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					hi = math.Max(hi, v)
					if v > 0 {
						lo = math.Min(lo, v)
					}
				}
			}
		}
	}
	// a loss of 0 (below metrics.csv's five decimals) is left out of a log
	// axis rather than making the whole axis linear
	logY := m == 2 && lo <= hi
	// bands first, so that no band covers a line
	for _, c := range cs {
		if c.nBand < 2 {
			continue
		}
		lower := points(c.epochs[:c.nBand], c.lo[m][:c.nBand], logY)
		upper := points(c.epochs[:c.nBand], c.hi[m][:c.nBand], logY)
		if len(lower) != c.nBand || len(upper) != c.nBand {
			continue
		}
		ring := append(plotter.XYs{}, lower...)
		for i := len(upper) - 1; i >= 0; i-- {
			ring = append(ring, upper[i])
		}
		poly, err := plotter.NewPolygon(ring)
		if err != nil {
			continue
		}
		col := palette[c.index%len(palette)]
		col.A = 0x38
		poly.Color = premultiply(col)
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
	for _, c := range cs {
		xy := points(c.epochs, c.mean[m], logY)
		if len(xy) == 0 {
			continue
		}
		st := style(c.index)
		if len(xy) > 1 {
			line, err := plotter.NewLine(xy)
			if err == nil {
				line.LineStyle = st
				p.Add(line)
			}
		}
		if c.running || len(xy) == 1 {
			// a dot marks where a run still going has got to
			dot, err := plotter.NewScatter(xy[len(xy)-1:])
			if err == nil {
				dot.GlyphStyle = draw.GlyphStyle{Color: st.Color, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
				p.Add(dot)
			}
		}
	}

	p.X.Min, p.X.Max = 0, float64(max(maxEpoch, 1))
	p.X.Tick.Marker = stepTicks(niceStep(p.X.Max, 8, 1, 1, 2, 3, 5)) // whole epochs
	switch {
	case logY:
		p.Y.Label.Text = strings.TrimSuffix(p.Y.Label.Text, ")") + ", log scale)"
		p.Y.Tick.Marker = logTicks{}
		p.Y.Min = math.Floor(math.Log10(lo))
		p.Y.Max = math.Ceil(math.Log10(hi))
	case m == 2:
		p.Y.Min = 0
		p.Y.Max = niceCeil(hi, 1)
	default:
		p.Y.Min = 0
		p.Y.Max = 100 // no data yet
		if hi > 0 && !math.IsInf(hi, 0) {
			p.Y.Max = math.Min(100, niceCeil(hi*1.02, 5))
		}
		p.Y.Tick.Marker = stepTicks(niceStep(p.Y.Max, 10, 0, 1, 2, 2.5, 5))
	}
	return p
}

// niceStep is the smallest step f*10^k (f one of fs) that cuts 0..span
// into at most n parts. Epochs use 1, 2, 3, 5 (180 epochs are labelled
// every 30, which marks the usual first lr drop at 90; 3 is used from 30
// on only), errors 1, 2, 2.5, 5.
func niceStep(span float64, n int, minStep float64, fs ...float64) float64 {
	for _, mag := range []float64{0.01, 0.1, 1, 10, 100, 1000, 10000} {
		for _, f := range fs {
			if (f == 3 && mag < 10) || f*mag < minStep {
				continue
			}
			if step := f * mag; span/step <= float64(n) {
				return step
			}
		}
	}
	return span
}

// stepTicks labels multiples of its step and marks the halves between them.
type stepTicks float64

func (s stepTicks) Ticks(lo, hi float64) []plot.Tick {
	step := float64(s)
	var ts []plot.Tick
	if !(step > 0) || hi-lo > 1000*step {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	for k := math.Ceil(lo/step*2 - 1e-9); k/2*step <= hi+1e-9*step; k++ {
		v := k / 2 * step
		v += 0 // no "-0"
		t := plot.Tick{Value: v}
		if int(k)%2 == 0 {
			t.Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// niceCeil rounds v up to a multiple of step (and to step when v is not a
// positive number, e.g. with no data).
func niceCeil(v, step float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return step
	}
	if v < step {
		// small values: a finer step reads better
		for step > v*2 && step > 1e-6 {
			step /= 2
		}
	}
	return math.Ceil(v/step) * step
}

// premultiply turns a straight-alpha colour into the premultiplied form that
// image/color.RGBA requires.
func premultiply(c color.RGBA) color.RGBA {
	a := uint32(c.A)
	return color.RGBA{uint8(uint32(c.R) * a / 255), uint8(uint32(c.G) * a / 255), uint8(uint32(c.B) * a / 255), c.A}
}

// legendEntry is one cell in the legend.
type legendEntry struct {
	index         int
	name          string
	detail, short string // below the name; beside it in the compact form
	drawn         bool   // has a line
}

// render draws the whole figure onto dc.
func render(dc draw.Canvas, r *Result) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	cs, entries, maxEpoch := curves(r)

	// title and subtitle
	pad := vg.Points(10)
	top := dc.Max.Y - pad
	title := r.Experiment.Name + ": training curves"
	if len(cs) == 0 {
		title += " (no finished epoch yet)"
	}
	ts := textStyle(18, color.Black, draw.XCenter, draw.YTop)
	dc.FillText(ts, vg.Point{X: dc.Center().X, Y: top}, title)
	top -= ts.Height(title) + vg.Points(4)
	sub := strings.Join(strings.Fields(r.Experiment.Description), " ")
	if sub != "" {
		ss := textStyle(12, color.Gray{0x40}, draw.XCenter, draw.YTop)
		sub = fit(ss, sub, dc.Size().X-2*pad)
		dc.FillText(ss, vg.Point{X: dc.Center().X, Y: top}, sub)
		top -= ss.Height(sub) + vg.Points(4)
	}
	top -= vg.Points(6)

	// legend column on the right
	area := dc
	area.Max.Y = top
	legendW := drawLegend(area, entries, cs)
	area.Max.X -= legendW
	area.Min.X += pad
	area.Min.Y += vg.Points(4)

	titleStyle := textStyle(14, color.Black, draw.XCenter, draw.YBottom)
	area.Max.Y -= titleStyle.Height("Test error") + vg.Points(8)
	plots := []*plot.Plot{panel(0, cs, maxEpoch), panel(1, cs, maxEpoch), panel(2, cs, maxEpoch)}
	for j, c := range layout(plots, area, vg.Points(20)) {
		plots[j].Draw(c)
		d := plots[j].DataCanvas(c)
		dc.FillText(titleStyle, vg.Point{X: (d.Min.X + d.Max.X) / 2, Y: area.Max.Y + vg.Points(4)}, metrics[j].title)
	}
}

// layout places the plots side by side in area, gap apart, so that their
// data areas have the same size and the same top and bottom (the margins
// for axis labels and ticks differ from plot to plot). plot.Align does the
// same but shifts each tile's top by a different amount.
func layout(plots []*plot.Plot, area draw.Canvas, gap vg.Length) []draw.Canvas {
	n := vg.Length(len(plots))
	tileW := (area.Size().X - gap*(n-1)) / n
	type margins struct{ l, r, b, t vg.Length }
	ms := make([]margins, len(plots))
	var bottom, top, dataW vg.Length
	for i, p := range plots {
		tile := area
		tile.Min.X = area.Min.X + vg.Length(i)*(tileW+gap)
		tile.Max.X = tile.Min.X + tileW
		d := p.DataCanvas(tile)
		m := margins{d.Min.X - tile.Min.X, tile.Max.X - d.Max.X, d.Min.Y - tile.Min.Y, tile.Max.Y - d.Max.Y}
		ms[i] = m
		bottom, top = max(bottom, m.b), max(top, m.t)
		if w := tileW - m.l - m.r; i == 0 || w < dataW {
			dataW = w
		}
	}
	out := make([]draw.Canvas, len(plots))
	for i, m := range ms {
		x0 := area.Min.X + vg.Length(i)*(tileW+gap) + m.l
		c := area
		c.Min.X, c.Max.X = x0-m.l, x0+dataW+m.r
		c.Min.Y, c.Max.Y = area.Min.Y+bottom-m.b, area.Max.Y-top+m.t
		out[i] = c
	}
	return out
}

// fit shortens s with an ellipsis until it is at most w wide.
func fit(st draw.TextStyle, s string, w vg.Length) string {
	if st.Width(s) <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && st.Width(string(rs)+"…") > w {
		rs = rs[:len(rs)-1]
	}
	return strings.TrimSpace(string(rs)) + "…"
}

// drawLegend draws the entries at the right of area, top aligned, and
// returns the width it took. Each entry is a line sample, the cell's name
// and, below it, its final test error or progress; when that does not fit
// in one column (about ten cells or more) the entries take one line each,
// the name and a shorter detail side by side, and wrap into more columns
// only past about twenty.
func drawLegend(area draw.Canvas, entries []legendEntry, cs []curve) vg.Length {
	const (
		nameSize   = 12
		detailSize = 10.5
	)
	var (
		thumb = vg.Points(40)
		gap   = vg.Points(7)
		padX  = vg.Points(14)
		lineH = vg.Points(nameSize * 1.25)
	)
	head := textStyle(12, color.Black, draw.XLeft, draw.YTop)
	name := textStyle(nameSize, color.Black, draw.XLeft, draw.YTop)
	grey := textStyle(nameSize, color.Gray{0x90}, draw.XLeft, draw.YTop)
	detail := textStyle(detailSize, color.Gray{0x45}, draw.XLeft, draw.YTop)
	note := textStyle(9.5, color.Gray{0x60}, draw.XLeft, draw.YTop)

	const header = "cells (final-epoch test error)"
	banded := false
	for _, c := range cs {
		banded = banded || c.nBand >= 2
	}
	var notes []string
	if banded {
		notes = append(notes, "line: mean over seeds", "band: min–max over seeds")
	}
	if len(cs) > 0 {
		notes = append(notes, "dot: last epoch of a run still going")
	}
	noteH := vg.Points(12)
	avail := area.Size().Y - vg.Points(24) - 2*lineH - vg.Length(len(notes))*noteH

	// two lines per entry, or one
	entryH := vg.Points(nameSize*1.25 + detailSize*1.25 + 6)
	compact := vg.Length(len(entries))*entryH > avail
	nameW, detailW := vg.Length(0), vg.Length(0)
	for _, e := range entries {
		nameW = max(nameW, name.Width(e.name))
		if compact {
			detailW = max(detailW, detail.Width(e.short))
		} else {
			detailW = max(detailW, detail.Width(e.detail))
		}
	}
	colW := thumb + gap + max(nameW, detailW)
	if compact {
		entryH = vg.Points(nameSize*1.25 + 3)
		colW = thumb + gap + nameW + 2*gap + detailW
	}
	colW = max(colW, head.Width(header))
	for _, n := range notes {
		colW = max(colW, note.Width(n))
	}
	perCol := max(1, int(avail/entryH))
	cols := max(1, (len(entries)+perCol-1)/perCol)
	width := vg.Length(cols)*(colW+padX) + padX

	x0 := area.Max.X - width + padX
	y := area.Max.Y - vg.Points(24) // level with the panels' titles
	area.FillText(head, vg.Point{X: x0, Y: y}, header)
	y -= lineH + vg.Points(6)
	yTop := y
	for i, e := range entries {
		x := x0 + vg.Length(i/perCol)*(colW+padX)
		ey := yTop - vg.Length(i%perCol)*entryH
		tx := x + thumb + gap
		if e.drawn {
			st := style(e.index)
			st.Width = vg.Points(lineWidth + 0.6)
			mid := ey - lineH/2
			area.StrokeLine2(st, x, mid, x+thumb, mid)
			area.FillText(name, vg.Point{X: tx, Y: ey}, e.name)
		} else {
			area.FillText(grey, vg.Point{X: tx, Y: ey}, e.name)
		}
		if compact {
			// level with the name's baseline
			dy := name.FontExtents().Ascent - detail.FontExtents().Ascent
			area.FillText(detail, vg.Point{X: tx + nameW + 2*gap, Y: ey - dy}, e.short)
		} else {
			area.FillText(detail, vg.Point{X: tx, Y: ey - lineH}, e.detail)
		}
	}
	y = yTop - vg.Length(min(perCol, len(entries)))*entryH - vg.Points(6)
	for _, n := range notes {
		area.FillText(note, vg.Point{X: x0, Y: y}, n)
		y -= noteH
	}
	return width
}

// WritePlots writes expDir/curves.png and expDir/curves.svg: test error,
// train error and train loss per epoch, one line per cell with finished
// epochs (the mean over the seeds the summary uses, with a min–max band when
// there are several), side by side on a shared epoch axis.
func WritePlots(r *Result, expDir string) error {
	img := vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(pngDPI))
	render(draw.New(img), r)
	var png bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&png); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(expDir, CurvesPNG), err)
	}
	if err := writeAtomic(filepath.Join(expDir, CurvesPNG), png.Bytes()); err != nil {
		return err
	}

	svg := vgsvg.NewWith(vgsvg.UseWH(figWidth, figHeight))
	render(draw.New(svg), r)
	var buf bytes.Buffer
	if _, err := svg.WriteTo(&buf); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(expDir, CurvesSVG), err)
	}
	// Viewers without the Liberation fonts fall back to their default font,
	// often a serif one; name the metric-compatible standard fonts after it.
	out := strings.ReplaceAll(buf.String(), "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	return writeAtomic(filepath.Join(expDir, CurvesSVG), []byte(out))
}
