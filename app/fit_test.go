package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// tippedOf finds the tipped that holds content in the window.
func tippedOf(t *testing.T, w fyne.Window, content fyne.CanvasObject) *tipped {
	t.Helper()
	var found *tipped
	walkLayout(w.Canvas().Content(), fyne.Position{}, rect{}, "", nil, nil, func(o fyne.CanvasObject, _, _ rect, _ string, _ []fyne.CanvasObject) {
		if tp, ok := o.(*tipped); ok && tp.content == content {
			found = tp
		}
	})
	if found == nil {
		t.Fatal("no tipped around the content")
	}
	return found
}

// scrollTo scrolls sc so that o, in its content, shows at its top.
func scrollTo(sc *container.Scroll, o fyne.CanvasObject) {
	at := absPos(o, sc.Content).Subtract(sc.Content.Position())
	sc.Offset = fyne.NewPos(0, min(max(at.Y-8, 0), max(sc.Content.Size().Height-sc.Size().Height, 0)))
	sc.Refresh()
}

// hover moves the pointer to the middle of o.
func hover(w fyne.Window, o fyne.CanvasObject) {
	p := absPos(o, w.Canvas().Content())
	test.MoveMouse(w.Canvas(), p.Add(fyne.NewPos(o.Size().Width/2, o.Size().Height/2)))
}

func TestTooltipShowsTheWholeOfACutText(t *testing.T) {
	var long layoutCase
	for _, c := range layoutCases() {
		if c.name == "long model names" {
			long = c
		}
	}
	v, w, q := newLayoutView(t, long.core(t.TempDir()), fyne.NewSize(1024, 640))
	settle(w, fyne.NewSize(1024, 640))
	tips := v.tips
	tips.delay = 0
	box := func() string {
		if !tips.box.Visible() {
			return ""
		}
		return tips.label.Text
	}

	tests := []struct {
		name    string
		content fyne.CanvasObject
		want    string // "" : no tooltip (the text fits)
	}{
		{"a cut GPU name", v.dash.gpuName, v.dash.gpuName.Text},
		{"a cut API key, scrolled to", v.dash.net.key, v.dash.net.key.Text},
		{"a model row cut in its details, scrolled to", v.dash.models.rows[longModel].title.obj, v.dash.models.rows[longModel].title.text()},
		{"a text that fits", v.dash.ollamaVersion, ""},
	}
	dashboard := v.tabs.Items[0].Content.(*container.Scroll)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scrollTo(dashboard, tc.content)
			tp := tc.content
			if _, ok := tp.(*tipped); !ok {
				tp = tippedOf(t, w, tc.content)
			}
			hover(w, tp)
			if got := box(); got != tc.want {
				t.Fatalf("tooltip %q, want %q", got, tc.want)
			}
			if tc.want != "" {
				at := absPos(tips.box, w.Canvas().Content())
				r := rect{at.X, at.Y, at.X + tips.box.Size().Width, at.Y + tips.box.Size().Height}
				size := w.Canvas().Size()
				if !r.inside(rect{0, 0, size.Width, size.Height}) || r.x1-r.x0 > tipMaxWidth+1 {
					t.Errorf("the tooltip lies at %v in a %v window", r, size)
				}
			}
			test.MoveMouse(w.Canvas(), fyne.NewPos(2, 2)) // off it: the tooltip goes
			if got := box(); got != "" {
				t.Errorf("tooltip still shows %q after the pointer left", got)
			}
		})
	}

	// With a delay the tooltip waits for the pointer to rest; it shows
	// through the Fyne thread (the queue here).
	fired := 0 // timers that ran their part on the Fyne thread
	v.do = func(fn func()) { q.do(func() { fn(); fired++ }) }
	tips.delay = tipDelay
	dashboard.ScrollToTop()
	hover(w, tippedOf(t, w, v.dash.gpuName))
	if box() != "" {
		t.Fatal("the tooltip showed before the delay")
	}
	q.runUntil(t, "the tooltip", func() bool { return box() == v.dash.gpuName.Text })
	// Leaving before the delay ends shows nothing, even when the timer runs.
	test.MoveMouse(w.Canvas(), fyne.NewPos(2, 2))
	n := fired
	hover(w, tippedOf(t, w, v.dash.gpuProcs)) // cut, too
	test.MoveMouse(w.Canvas(), fyne.NewPos(2, 2))
	q.runUntil(t, "the timer of the text left", func() bool { return fired > n })
	if got := box(); got != "" {
		t.Errorf("a tooltip %q showed after the pointer had left", got)
	}
}

func TestColumnsLayout(t *testing.T) {
	fixed := func(w float32) fyne.CanvasObject {
		r := canvas.NewRectangle(nil)
		r.SetMinSize(fyne.NewSize(w, 10))
		return r
	}
	tests := []struct {
		name    string
		weights []float32
		mins    []float32
		width   float32
		want    []float32
		wantMin float32
	}{
		{"equal shares when each fits", nil, []float32{100, 200}, 804, []float32{400, 400}, 304},
		{"a wide column keeps its minimum, the rest is shared", nil, []float32{100, 600}, 804, []float32{150, 650}, 704},
		{"weights", []float32{2, 3}, []float32{100, 200}, 504, []float32{200, 300}, 304},
		{"weights, a column too wide for its share", []float32{2, 3}, []float32{100, 400}, 504, []float32{100, 400}, 504},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			test.NewTempApp(t)
			objs := make([]fyne.CanvasObject, len(tc.mins))
			for i, m := range tc.mins {
				objs[i] = fixed(m)
			}
			c := container.New(columns{weights: tc.weights}, objs...)
			if got := c.MinSize().Width; got != tc.wantMin {
				t.Errorf("min width %v, want %v", got, tc.wantMin)
			}
			c.Resize(fyne.NewSize(tc.width, 10))
			for i, o := range objs {
				if got := o.Size().Width; got != tc.want[i] {
					t.Errorf("column %d is %v wide, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestReserveKeepsTheRoomOfHiddenObjects(t *testing.T) {
	test.NewTempApp(t)
	short, tall := widget.NewLabel("one line"), widget.NewLabel("two\nlines")
	c := container.New(reserve{}, short, tall)
	before := c.MinSize()
	tall.Hide()
	if after := c.MinSize(); after != before {
		t.Errorf("the room changed from %v to %v when the taller object hid", before, after)
	}
}

func TestShrinkTextFitsItsWidth(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		width   float32
		shrunk  bool // smaller than its size
		wantCut bool
	}{
		{"fits", "1.5 TON", 300, false, false},
		{"shrinks", "987654321.123456789 TON", 200, true, false},
		{"cut below the smallest size", "987654321.123456789 TON", 60, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			test.NewTempApp(t)
			f := newShrinkText(22, fyne.TextStyle{Bold: true})
			f.SetText(tc.text)
			test.WidgetRenderer(f) // makes the canvas text
			f.Resize(fyne.NewSize(tc.width, f.MinSize().Height))
			if got := f.txt.TextSize < 22; got != tc.shrunk {
				t.Errorf("shrunk to %v, want shrunk %v", f.txt.TextSize, tc.shrunk)
			}
			if w := fyne.MeasureText(f.txt.Text, f.txt.TextSize, f.txt.TextStyle).Width; w > tc.width+0.5 {
				t.Errorf("%q at %v is %v wide, more than %v", f.txt.Text, f.txt.TextSize, w, tc.width)
			}
			if f.cut() != tc.wantCut || strings.HasSuffix(f.txt.Text, "…") != tc.wantCut {
				t.Errorf("cut %v, shows %q; want cut %v", f.cut(), f.txt.Text, tc.wantCut)
			}
			if f.Text != tc.text {
				t.Errorf("Text = %q", f.Text)
			}
		})
	}
}

// The status line stacks its messages in one kept room; the tooltip is the
// one of the message shown, not of one hidden above it.
func TestStatusLineTooltipListsEveryReason(t *testing.T) {
	var paused layoutCase
	for _, c := range layoutCases() {
		if c.name == "paused, several reasons" {
			paused = c
		}
	}
	core := paused.core(t.TempDir())
	v, w, _ := newLayoutView(t, core, fyne.NewSize(1024, 640))
	settle(w, fyne.NewSize(1024, 640))
	v.tips.delay = 0
	if !v.reasons.Visible() || v.stateLine.Visible() || v.stateError.Visible() {
		t.Fatalf("the status line shows reasons %v, state %v, error %v", v.reasons.Visible(), v.stateLine.Visible(), v.stateError.Visible())
	}
	hover(w, v.reasons)
	got := ""
	if v.tips.box.Visible() {
		got = v.tips.label.Text
	}
	st := core.Status()
	if got != reasonLines(st) || strings.Count(got, "\n") != len(st.Reasons) {
		t.Errorf("tooltip %q, want every reason on a line of its own:\n%s", got, reasonLines(st))
	}
}
