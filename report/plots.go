package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/dqtest/dqtest/history"
)

// The plots are drawn with gonum.org/v1/plot and embedded as PNG data URIs.
// PNG rather than SVG: an SVG grows with every point (a 5,000-operation
// scatter is over half a megabyte, a million-operation history would be
// hundreds), a PNG with the picture's size only. Fault bands, operation
// bars and anomaly marks are small plot.Plotter implementations, the
// library's own extension point.

// Colours of outcomes, shared with the HTML legend (report.css).
var (
	colourOK      = color.NRGBA{R: 0x2e, G: 0x9e, B: 0x44, A: 0xff}
	colourFail    = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colourInfo    = color.NRGBA{R: 0xf0, G: 0x9a, B: 0x18, A: 0xff}
	colourAnomaly = color.NRGBA{A: 0xff}
	// faultColours shade fault windows, one per fault kind in order of
	// appearance; translucent so operations stay visible under them.
	faultColours = []color.NRGBA{
		{R: 0x1f, G: 0x77, B: 0xb4, A: 0x38},
		{R: 0x94, G: 0x67, B: 0xbd, A: 0x38},
		{R: 0x8c, G: 0x56, B: 0x4b, A: 0x38},
		{R: 0xe3, G: 0x77, B: 0xc2, A: 0x38},
		{R: 0x17, G: 0xbe, B: 0xcf, A: 0x38},
		{R: 0x7f, G: 0x7f, B: 0x7f, A: 0x38},
	}
	// quantileColours draw p50, p95, p99 and max (report.css matches).
	quantileColours = []color.NRGBA{{R: 0x1f, G: 0x3b, B: 0x73, A: 0xff}, {R: 0x3e, G: 0x7c, B: 0xc4, A: 0xff},
		{R: 0x8a, G: 0xb6, B: 0xe8, A: 0xff}, {R: 0xa0, G: 0xa0, B: 0xa0, A: 0xff}}
	// sans is the plots' typeface (gonum's default is a serif).
	sans = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

func outcomeColour(t history.Type) color.Color {
	switch t {
	case history.OK:
		return colourOK
	case history.Fail:
		return colourFail
	default:
		return colourInfo
	}
}

// maxPoints bounds the operations one plot draws; a longer history is
// thinned evenly (anomalous operations are always drawn) and the report
// says so.
const maxPoints = 60000

// thin keeps every k-th span (and every anomalous one) when there are more
// than maxPoints; k is 1 when nothing was left out.
func thin(ss []span) ([]span, int) {
	if len(ss) <= maxPoints {
		return ss, 1
	}
	k := (len(ss) + maxPoints - 1) / maxPoints
	out := make([]span, 0, maxPoints+16)
	for i, s := range ss {
		if i%k == 0 || s.Anomalous {
			out = append(out, s)
		}
	}
	return out, k
}

// plotSet is what the report draws from one history.
type plotSet struct {
	end       float64 // the history's last time, seconds
	windows   []faultWindow
	faultKind map[string]color.Color
	timeLabel string
}

func newPlotSet(events []history.Event, simulated bool) plotSet {
	end := 0.0
	if len(events) > 0 {
		end = seconds(events[len(events)-1].Time)
	}
	return newPlotSetUntil(events, end, simulated)
}

// newPlotSetUntil is newPlotSet of a history's nemesis events and the time
// of its last event (seconds).
func newPlotSetUntil(nemesis []history.Event, end float64, simulated bool) plotSet {
	ps := plotSet{windows: faultWindowsUntil(nemesis, end), faultKind: map[string]color.Color{},
		timeLabel: "seconds since the run started", end: end}
	if simulated {
		ps.timeLabel = "virtual seconds since the run started (simulator)"
	}
	for i, k := range faultKinds(ps.windows) {
		ps.faultKind[k] = faultColours[i%len(faultColours)]
	}
	return ps
}

// newPlot is a plot with the time axis over the whole history and the
// fault windows shaded.
func (ps plotSet) newPlot(title, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = ps.timeLabel
	p.Y.Label.Text = yLabel
	p.X.Min, p.X.Max = 0, math.Max(ps.end, 1)
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		st.Font = font.From(sans, st.Font.Size)
	}
	p.Add(plotter.NewGrid())
	p.Add(faultBands{windows: ps.windows, colours: ps.faultKind})
	return p
}

// timeline draws each operation as a bar from invoke to completion in its
// process's lane, coloured by outcome; anomalous operations get a black
// ring at their completion.
func (ps plotSet) timeline(ss []span) (string, error) {
	procs := map[int]bool{}
	for _, s := range ss {
		procs[s.Process] = true
	}
	lanes := make([]int, 0, len(procs))
	for p := range procs {
		lanes = append(lanes, p)
	}
	sort.Ints(lanes)
	lane := make(map[int]float64, len(lanes))
	for i, p := range lanes {
		lane[p] = float64(i)
	}
	p := ps.newPlot("Operations per process", "process")
	p.Y.Min, p.Y.Max = -1, float64(len(lanes))
	p.Y.Scale = plot.InvertedScale{Normalizer: plot.LinearScale{}}
	p.Y.Tick.Marker = laneTicks(lanes)
	p.Add(opBars{spans: ss, lane: lane})
	height := vg.Length(math.Min(900, math.Max(260, 9*float64(len(lanes))+90)))
	return pngDataURI(p, 11*vg.Inch, height*vg.Inch/96)
}

// laneTicks labels the process lanes, at most about 30 of them.
func laneTicks(lanes []int) plot.ConstantTicks {
	step := max(1, len(lanes)/30)
	var ticks plot.ConstantTicks
	for i, p := range lanes {
		t := plot.Tick{Value: float64(i)}
		if i%step == 0 {
			t.Label = fmt.Sprint(p)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// latency draws each completed operation's latency at its invoke time.
func (ps plotSet) latency(ss []span) (string, error) {
	// A short axis label: gonum pads the plot by a label longer than the
	// axis, which left a band of white above the data.
	p := ps.newPlot("Latency of each operation (log scale)", "ms")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	byOutcome := map[history.Type]plotter.XYs{}
	var anomalous plotter.XYs
	for _, s := range ss {
		if s.Open {
			continue
		}
		pt := plotter.XY{X: s.Start, Y: math.Max(s.Latency()*1000, 0.01)}
		byOutcome[s.Outcome] = append(byOutcome[s.Outcome], pt)
		if s.Anomalous {
			anomalous = append(anomalous, pt)
		}
	}
	for _, o := range []history.Type{history.OK, history.Info, history.Fail} {
		if len(byOutcome[o]) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(byOutcome[o])
		if err != nil {
			return "", err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: outcomeColour(o), Radius: vg.Points(1.4), Shape: draw.CircleGlyph{}}
		p.Add(sc)
	}
	if len(anomalous) > 0 {
		sc, err := plotter.NewScatter(anomalous)
		if err != nil {
			return "", err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colourAnomaly, Radius: vg.Points(3.5), Shape: draw.RingGlyph{}}
		p.Add(sc)
	}
	return pngDataURI(p, 11*vg.Inch, 3.4*vg.Inch)
}

// quantiles draws the median, 95th and 99th percentile and the maximum of
// ok latencies per time bucket.
func (ps plotSet) quantiles(ss []span) (string, error) {
	width := bucketWidth(ps.end, 60)
	p := ps.newPlot(fmt.Sprintf("Latency quantiles of ok operations, per %gs (log scale)", width), "ms")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	qs := []float64{0.5, 0.95, 0.99, 1}
	mid, series := quantileSeries(ss, width, ps.end, qs)
	for j := range qs {
		if err := addLine(p, mid, series[j], quantileColours[j]); err != nil {
			return "", err
		}
	}
	return pngDataURI(p, 11*vg.Inch, 3*vg.Inch)
}

// throughput draws completions per second by outcome.
func (ps plotSet) throughput(ss []span) (string, error) {
	width := bucketWidth(ps.end, 120)
	p := ps.newPlot(fmt.Sprintf("Completions per second, per %gs", width), "operations / s")
	mid, rates := rateSeries(ss, width, ps.end)
	for _, o := range []history.Type{history.OK, history.Fail, history.Info} {
		if err := addLine(p, mid, rates[o], outcomeColour(o)); err != nil {
			return "", err
		}
	}
	p.Y.Min = 0
	return pngDataURI(p, 11*vg.Inch, 3*vg.Inch)
}

// addLine adds a line of (x, y) leaving out NaN points (empty buckets).
// The report's HTML holds the legends: gonum's legend sits inside the
// plot area, over the lines.
func addLine(p *plot.Plot, xs, ys []float64, c color.Color) error {
	var pts plotter.XYs
	for i := range xs {
		if !math.IsNaN(ys[i]) && !math.IsInf(ys[i], 0) {
			pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.LineStyle.Color = c
	l.LineStyle.Width = vg.Points(1.3)
	p.Add(l)
	return nil
}

// pngDataURI renders a plot as a PNG data URI at twice screen resolution.
func pngDataURI(p *plot.Plot, w, h vg.Length) (string, error) {
	widenLogRange(p)
	c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(144))}
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

// widenLogRange gives a log-scale axis whose data are one value (every
// latency the same, e.g. all below the 0.01 ms floor) a decade either
// side: gonum widens an empty range by ±1, which goes below zero, and its
// log scale panics there.
func widenLogRange(p *plot.Plot) {
	if _, ok := p.Y.Scale.(plot.LogScale); !ok || p.Y.Min != p.Y.Max || p.Y.Min <= 0 {
		return
	}
	p.Y.Min, p.Y.Max = p.Y.Min/10, p.Y.Max*10
}

// faultBands shades each fault window over the plot's whole height; an
// instantaneous fault is a thin line.
type faultBands struct {
	windows []faultWindow
	colours map[string]color.Color
}

func (b faultBands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, w := range b.windows {
		x0, x1 := trX(w.From), trX(w.To)
		if x1-x0 < vg.Points(1.5) {
			x1 = x0 + vg.Points(1.5)
		}
		clr := b.colours[w.Fault]
		if w.Instant() {
			if c, ok := clr.(color.NRGBA); ok {
				c.A = 0xa0
				clr = c
			}
		}
		c.FillPolygon(clr, c.ClipPolygonX([]vg.Point{
			{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y},
		}))
	}
}

// opBars draws each operation as a bar in its process's lane.
type opBars struct {
	spans []span
	lane  map[int]float64
}

func (o opBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	laneHeight := vg.Length(math.Abs(float64(trY(1) - trY(0))))
	width := vg.Length(math.Min(math.Max(float64(laneHeight)*0.6, 1), float64(vg.Points(5))))
	for _, s := range o.spans {
		y := trY(o.lane[s.Process])
		x0, x1 := trX(s.Start), trX(s.End)
		if x1-x0 < vg.Points(0.8) {
			x1 = x0 + vg.Points(0.8)
		}
		c.StrokeLine2(draw.LineStyle{Color: outcomeColour(s.Outcome), Width: width}, x0, y, x1, y)
	}
	for _, s := range o.spans {
		if s.Anomalous {
			c.DrawGlyph(draw.GlyphStyle{Color: colourAnomaly, Radius: vg.Points(3.5), Shape: draw.RingGlyph{}},
				vg.Point{X: trX(s.End), Y: trY(o.lane[s.Process])})
		}
	}
}

// logTicks marks a log axis at 1..9 times each power of ten and labels 1,
// 2 and 5 times it, or only the powers of ten over more than three decades.
// (plot.LogTicks labels powers of ten only, so a range within one decade got
// no label at all.)
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	first, last := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	var ticks []plot.Tick
	for e := first; e <= last; e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (last-first <= 3 && (m == 2 || m == 5)) {
				t.Label = strconv.FormatFloat(v, 'g', 4, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
