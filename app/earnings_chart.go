package app

import (
	"image/color"
	"math"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
)

var (
	colorChartGross = color.NRGBA{R: 0x4a, G: 0x9e, B: 0xe0, A: 0xff}
	colorChartNet   = color.NRGBA{R: 0x1e, G: 0x8e, B: 0x4e, A: 0xff}
)

// barChart draws one bar per day with canvas rectangles: the gross amount,
// and inside it the net of electricity when a tariff is set. The y axis has
// three labels, the x axis one a week.
type barChart struct {
	widget.BaseWidget
	left    float32 // the room of the y labels, as wide as the widest
	days    []earnings.DayTotal
	showNet bool
	hover   int
	onHover func(day int) // day index under the pointer, -1 when it leaves
}

func newBarChart() *barChart {
	c := &barChart{hover: -1, left: chartLeft}
	c.ExtendBaseWidget(c)
	return c
}

func (c *barChart) set(days []earnings.DayTotal, showNet bool) {
	c.days, c.showNet = days, showNet
	c.Refresh()
}

func (c *barChart) CreateRenderer() fyne.WidgetRenderer {
	r := &chartRenderer{c: c, axis: canvas.NewLine(color.Black)}
	r.axis.StrokeWidth = 1
	r.Refresh()
	return r
}

// MouseIn, MouseMoved and MouseOut report the day under the pointer.
func (c *barChart) MouseIn(e *desktop.MouseEvent)    { c.MouseMoved(e) }
func (c *barChart) MouseOut()                        { c.setHover(-1) }
func (c *barChart) MouseMoved(e *desktop.MouseEvent) { c.setHover(c.dayAt(e.Position.X)) }

func (c *barChart) setHover(i int) {
	if i == c.hover {
		return
	}
	c.hover = i
	if c.onHover != nil {
		c.onHover(i)
	}
	c.Refresh()
}

const (
	chartLeft   = 64 // the least room for the y labels
	chartBottom = 20 // room for the x labels
	chartTop    = 8
)

func (c *barChart) dayAt(x float32) int {
	n := len(c.days)
	w := c.Size().Width - c.left
	if n == 0 || w <= 0 || x < c.left {
		return -1
	}
	i := int((x - c.left) / (w / float32(n)))
	if i >= n {
		return -1
	}
	return i
}

type chartRenderer struct {
	c       *barChart
	gross   []*canvas.Rectangle
	net     []*canvas.Rectangle
	grid    []*canvas.Line
	yLabels []*canvas.Text
	xLabels []*canvas.Text
	xIndex  []int // the day each x label names
	axis    *canvas.Line
	top     int64 // the y axis' top, nanoTON
	objects []fyne.CanvasObject
}

func (r *chartRenderer) Destroy() {}

func (r *chartRenderer) MinSize() fyne.Size { return fyne.NewSize(320, 150) }

func (r *chartRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *chartRenderer) Refresh() {
	days := r.c.days
	if len(r.gross) != len(days) {
		r.gross, r.net = make([]*canvas.Rectangle, len(days)), make([]*canvas.Rectangle, len(days))
		for i := range days {
			r.gross[i] = canvas.NewRectangle(colorChartGross)
			r.gross[i].CornerRadius = 2
			r.net[i] = canvas.NewRectangle(colorChartNet)
			r.net[i].CornerRadius = 1
		}
		r.xLabels, r.xIndex = nil, nil
		// One label a week, counted back from today (the last bar).
		for i := len(days) - 1; i >= 0; i -= 7 {
			r.xIndex = append(r.xIndex, i)
			r.xLabels = append(r.xLabels, canvas.NewText("", color.Black))
		}
	}
	if len(r.yLabels) == 0 {
		for range 3 {
			t := canvas.NewText("", color.Black)
			t.Alignment = fyne.TextAlignTrailing
			r.yLabels = append(r.yLabels, t)
			r.grid = append(r.grid, canvas.NewLine(color.Black))
		}
	}
	var peak int64
	for _, d := range days {
		peak = max(peak, d.Gross, d.Net)
	}
	r.top = niceCeil(peak)
	dim := theme.Color(theme.ColorNamePlaceHolder)
	sep := theme.Color(theme.ColorNameSeparator)
	size := theme.Size(theme.SizeNameCaptionText)
	for i, t := range r.yLabels {
		v := r.top * int64(i) / int64(len(r.yLabels)-1)
		t.Text = axisTON(v)
		if i == len(r.yLabels)-1 {
			t.Text += " TON"
		}
		t.Color, t.TextSize = dim, size
		r.grid[i].StrokeColor, r.grid[i].StrokeWidth = sep, 1
	}
	// The y labels get the room they need ("0.00015 TON" is wide).
	left := float32(chartLeft)
	for _, t := range r.yLabels {
		left = max(left, fyne.MeasureText(t.Text, t.TextSize, t.TextStyle).Width+8)
	}
	r.c.left = left
	for k, t := range r.xLabels {
		i := r.xIndex[k]
		t.Text = days[i].Start.Format("Jan 2")
		if k == 0 {
			t.Text = "Today"
		}
		t.Color, t.TextSize = dim, size
	}
	r.axis.StrokeColor = theme.Color(theme.ColorNameForeground)
	for i := range days {
		g := colorChartGross
		if i == r.c.hover {
			g = color.NRGBA{R: 0x2a, G: 0x7e, B: 0xc0, A: 0xff}
		}
		r.gross[i].FillColor = g
		if r.c.showNet {
			r.gross[i].FillColor = color.NRGBA{R: g.R, G: g.G, B: g.B, A: 0x80}
		}
		r.net[i].Hidden = !r.c.showNet
	}
	r.objects = r.objects[:0]
	for _, l := range r.grid {
		r.objects = append(r.objects, l)
	}
	for i := range days {
		r.objects = append(r.objects, r.gross[i], r.net[i])
	}
	r.objects = append(r.objects, r.axis)
	for _, t := range r.yLabels {
		r.objects = append(r.objects, t)
	}
	for _, t := range r.xLabels {
		r.objects = append(r.objects, t)
	}
	r.Layout(r.c.Size())
	for _, o := range r.objects {
		o.Refresh()
	}
}

// barHeight is v's bar height in a plot h high.
func (r *chartRenderer) barHeight(v int64, h float32) float32 {
	if v <= 0 || r.top <= 0 {
		return 0
	}
	return float32(float64(v) / float64(r.top) * float64(h))
}

func (r *chartRenderer) Layout(size fyne.Size) {
	chartLeft := r.c.left
	plotW := size.Width - chartLeft
	plotH := size.Height - chartBottom - chartTop
	if plotW <= 0 || plotH <= 0 {
		return
	}
	base := chartTop + plotH
	for i, l := range r.grid {
		y := base - plotH*float32(i)/float32(len(r.grid)-1)
		l.Position1, l.Position2 = fyne.NewPos(chartLeft, y), fyne.NewPos(size.Width, y)
		t := r.yLabels[i]
		ts := t.MinSize()
		t.Move(fyne.NewPos(0, y-ts.Height/2))
		t.Resize(fyne.NewSize(chartLeft-6, ts.Height))
	}
	r.axis.Position1, r.axis.Position2 = fyne.NewPos(chartLeft, base), fyne.NewPos(size.Width, base)
	n := len(r.gross)
	if n == 0 {
		return
	}
	slot := plotW / float32(n)
	gw := max(slot*0.72, 1)
	nw := max(slot*0.4, 1)
	for i, d := range r.c.days {
		x := chartLeft + slot*float32(i) + (slot-gw)/2
		gh := r.barHeight(d.Gross, plotH)
		r.gross[i].Move(fyne.NewPos(x, base-gh))
		r.gross[i].Resize(fyne.NewSize(gw, gh))
		nh := r.barHeight(d.Net, plotH)
		r.net[i].Move(fyne.NewPos(chartLeft+slot*float32(i)+(slot-nw)/2, base-nh))
		r.net[i].Resize(fyne.NewSize(nw, nh))
	}
	for k, t := range r.xLabels {
		i := r.xIndex[k]
		ts := t.MinSize()
		cx := chartLeft + slot*(float32(i)+0.5)
		x := min(max(cx-ts.Width/2, chartLeft), size.Width-ts.Width)
		t.Move(fyne.NewPos(x, base+3))
		t.Resize(ts)
	}
}

// niceCeil rounds v up to 1, 2 or 5 × a power of ten (nanoTON), at least 1 TON/1000.
func niceCeil(v int64) int64 {
	if v <= 0 {
		return 1_000_000
	}
	p := math.Pow(10, math.Floor(math.Log10(float64(v))))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if c := m * p; c >= float64(v) {
			return int64(math.Ceil(c))
		}
	}
	return v
}

// axisTON is a short TON amount for an axis: "0", "0.25", "1.5", "120".
func axisTON(nano int64) string {
	if nano == 0 {
		return "0"
	}
	s := strconv.FormatFloat(float64(nano)/1e9, 'f', 6, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}
