package app

import (
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// ring is a fixed-size ring buffer: pushing onto a full one drops the oldest.
type ring[T any] struct {
	buf      []T
	start, n int
}

func newRing[T any](size int) *ring[T] { return &ring[T]{buf: make([]T, max(size, 1))} }

func (r *ring[T]) len() int { return r.n }

func (r *ring[T]) push(x T) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = x
		r.n++
		return
	}
	r.buf[r.start] = x
	r.start = (r.start + 1) % len(r.buf)
}

// last is the newest item.
func (r *ring[T]) last() (T, bool) {
	var zero T
	if r.n == 0 {
		return zero, false
	}
	return r.buf[(r.start+r.n-1)%len(r.buf)], true
}

// setLast replaces the newest item (pushes onto an empty ring).
func (r *ring[T]) setLast(x T) {
	if r.n == 0 {
		r.push(x)
		return
	}
	r.buf[(r.start+r.n-1)%len(r.buf)] = x
}

// items returns a copy, oldest first.
func (r *ring[T]) items() []T {
	out := make([]T, r.n)
	for i := range r.n {
		out[i] = r.buf[(r.start+i)%len(r.buf)]
	}
	return out
}

// sample is one telemetry reading.
type sample struct {
	at time.Time
	v  float64
}

// series is a telemetry history: at most one sample per gap (a newer
// reading within the gap replaces the newest sample), size samples kept.
type series struct {
	r   *ring[sample]
	gap time.Duration
}

func newSeries(size int, gap time.Duration) *series {
	return &series{r: newRing[sample](size), gap: gap}
}

func (s *series) add(at time.Time, v float64) {
	l, ok := s.r.last()
	if ok && at.Before(l.at) { // the clock went back: start again
		s.r = newRing[sample](len(s.r.buf))
		ok = false
	}
	if ok && at.Sub(l.at) < s.gap {
		s.r.setLast(sample{at: l.at, v: v})
		return
	}
	s.r.push(sample{at: at, v: v})
}

// sparkPoints maps samples to points in the unit square for a graph of the
// window before now: x 0 at now−window, 1 at now; y 0 at lo, 1 at hi
// (values outside are clamped). Each reading holds until the next, so the
// line steps; the newest holds until now. Repeated values add no points. A reading older than the window
// starts the line at x 0. Fewer than one sample gives no points.
func sparkPoints(samples []sample, now time.Time, window time.Duration, lo, hi float64) []fyne.Position {
	if len(samples) == 0 || window <= 0 {
		return nil
	}
	from := now.Add(-window)
	// Start with the newest sample at or before the window's start.
	first := 0
	for i, s := range samples {
		if !s.at.After(from) {
			first = i
		}
	}
	x := func(t time.Time) float32 {
		f := float64(t.Sub(from)) / float64(window)
		return float32(min(max(f, 0), 1))
	}
	y := func(v float64) float32 {
		if hi <= lo || math.IsNaN(v) {
			return 0
		}
		return float32(min(max((v-lo)/(hi-lo), 0), 1))
	}
	var pts []fyne.Position
	for i := first; i < len(samples); i++ {
		s := samples[i]
		if s.at.After(now) {
			break
		}
		p := fyne.NewPos(x(s.at), y(s.v))
		if n := len(pts); n > 0 {
			if pts[n-1].Y == p.Y { // unchanged: the line goes on
				continue
			}
			pts = append(pts, fyne.NewPos(p.X, pts[n-1].Y)) // the step
		}
		pts = append(pts, p)
	}
	if n := len(pts); n > 0 && pts[n-1].X < 1 {
		pts = append(pts, fyne.NewPos(1, pts[n-1].Y))
	}
	return pts
}

// scaleTop is the top of a graph's y axis: at least floor, else the
// largest value rounded up to a multiple of step.
func scaleTop(samples []sample, floor, step float64) float64 {
	top := floor
	for _, s := range samples {
		top = max(top, s.v)
	}
	if step > 0 && top > floor {
		top = math.Ceil(top/step) * step
	}
	return top
}

// sparkline draws a small line graph of points in the unit square (see
// sparkPoints) over a faint background.
type sparkline struct {
	widget.BaseWidget
	pts   []fyne.Position
	color color.Color
	minH  float32
}

func newSparkline(c color.Color) *sparkline {
	s := &sparkline{color: c, minH: 34}
	s.ExtendBaseWidget(s)
	return s
}

func (s *sparkline) set(pts []fyne.Position) {
	s.pts = pts
	s.Refresh()
}

func (s *sparkline) CreateRenderer() fyne.WidgetRenderer {
	r := &sparkRenderer{s: s, bg: canvas.NewRectangle(nil), base: canvas.NewLine(nil)}
	r.Refresh()
	return r
}

type sparkRenderer struct {
	s     *sparkline
	bg    *canvas.Rectangle
	base  *canvas.Line
	lines []*canvas.Line
	objs  []fyne.CanvasObject
}

func (r *sparkRenderer) Destroy()                     {}
func (r *sparkRenderer) MinSize() fyne.Size           { return fyne.NewSize(80, r.s.minH) }
func (r *sparkRenderer) Objects() []fyne.CanvasObject { return r.objs }

func (r *sparkRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.bg.Move(fyne.NewPos(0, 0))
	const pad = 2
	w, h := size.Width, size.Height-2*pad
	at := func(p fyne.Position) fyne.Position {
		return fyne.NewPos(p.X*w, pad+(1-p.Y)*h)
	}
	r.base.Position1 = fyne.NewPos(0, size.Height-pad)
	r.base.Position2 = fyne.NewPos(w, size.Height-pad)
	for i, l := range r.lines {
		l.Position1 = at(r.s.pts[i])
		l.Position2 = at(r.s.pts[i+1])
	}
}

func (r *sparkRenderer) Refresh() {
	r.bg.FillColor = theme.Color(theme.ColorNameBackground)
	r.bg.CornerRadius = 3
	r.base.StrokeColor = theme.Color(theme.ColorNameSeparator)
	r.base.StrokeWidth = 1
	n := max(len(r.s.pts)-1, 0)
	for len(r.lines) < n {
		l := canvas.NewLine(r.s.color)
		l.StrokeWidth = 1.5
		r.lines = append(r.lines, l)
	}
	r.lines = r.lines[:n]
	r.objs = append(r.objs[:0], r.bg, r.base)
	for _, l := range r.lines {
		l.StrokeColor = r.s.color
		r.objs = append(r.objs, l)
	}
	r.Layout(r.s.Size())
	canvas.Refresh(r.s)
}
