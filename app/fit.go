package app

import (
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// What keeps the window a fixed, small size (issue 13): no text the core
// or the owner supplies may widen or heighten it. Such text either wraps,
// or stays on one line cut with "…" and shows in full in a tooltip while
// the pointer rests on it (tipLayer, tipped). Banners reserve their room
// (reserve), so the tabs below never jump. Amounts shrink to fit their
// card (shrinkText).

// windowMin is the window's minimum size, the same in every state: below
// the size the tabs are laid out for, the whole window scrolls.
var windowMin = fyne.NewSize(720, 480)

// tipDelay is how long the pointer rests on a cut text before its tooltip shows.
const tipDelay = 400 * time.Millisecond

// tipMaxWidth is the widest a tooltip gets; longer text wraps in it.
const tipMaxWidth = 480

// tipLayer shows one tooltip at a time. It lies over the window's content
// and asks for no room (free), so a tooltip never moves or sizes anything;
// it takes no clicks (they reach what lies under it).
type tipLayer struct {
	obj   *fyne.Container // the layer, stacked over the content
	box   *fyne.Container // the tooltip: a background and the text
	bg    *canvas.Rectangle
	label *widget.Label
	owner *tipped // the text the pointer rests on (nil: none)
	shown *tipped // the text whose tooltip shows (nil: none)
	delay time.Duration
	do    func(func()) // runs on the Fyne thread
	seq   int          // counts entries, so a late timer of an old one does nothing
}

func newTipLayer(do func(func())) *tipLayer {
	l := &tipLayer{bg: canvas.NewRectangle(nil), label: widget.NewLabel(""), delay: tipDelay, do: do}
	l.label.Wrapping = fyne.TextWrapWord
	l.bg.StrokeWidth = 1
	l.bg.CornerRadius = theme.InputRadiusSize()
	l.box = container.NewStack(l.bg, l.label)
	l.box.Hide()
	l.obj = container.New(free{}, l.box)
	return l
}

// free leaves its objects where they were put and asks for no room: what
// it holds never sizes the window.
type free struct{}

func (free) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.Size{} }
func (free) Layout([]fyne.CanvasObject, fyne.Size) {}

// enter is the pointer resting on t: its tooltip shows after the delay.
func (l *tipLayer) enter(t *tipped) {
	l.owner = t
	l.seq++
	if l.delay <= 0 {
		l.show(t)
		return
	}
	seq := l.seq
	time.AfterFunc(l.delay, func() {
		l.do(func() {
			if l.seq == seq && l.owner == t {
				l.show(t)
			}
		})
	})
}

// leave is the pointer leaving t.
func (l *tipLayer) leave(t *tipped) {
	if l.owner == t {
		l.owner = nil
		l.seq++
	}
	if l.shown == t {
		l.hide()
	}
}

func (l *tipLayer) hide() {
	l.shown = nil
	l.box.Hide()
}

// show places t's full text under it (above it near the bottom), inside the window.
func (l *tipLayer) show(t *tipped) {
	text, cut := t.full()
	if !cut || text == "" || !t.Visible() {
		l.hide()
		return
	}
	drv := fyne.CurrentApp().Driver()
	at := drv.AbsolutePositionForObject(t).Subtract(drv.AbsolutePositionForObject(l.obj))
	area := l.obj.Size()
	l.bg.FillColor = theme.Color(theme.ColorNameOverlayBackground)
	l.bg.StrokeColor = theme.Color(theme.ColorNameSeparator)
	l.bg.Refresh()
	l.label.SetText(text)
	pad := 2 * theme.InnerPadding()
	var tw float32
	for _, line := range strings.Split(text, "\n") {
		tw = max(tw, fyne.MeasureText(line, theme.TextSize(), fyne.TextStyle{}).Width)
	}
	w := min(tw+pad+2, tipMaxWidth, max(area.Width-8, 40))
	l.box.Resize(fyne.NewSize(w, 1)) // the height follows the wrapping at this width
	h := l.box.MinSize().Height
	l.box.Resize(fyne.NewSize(w, h))
	x := min(max(at.X, 4), area.Width-w-4)
	y := at.Y + t.Size().Height + 2
	if y+h > area.Height {
		y = max(at.Y-h-2, 0)
	}
	l.box.Move(fyne.NewPos(x, y))
	l.shown = t
	l.box.Show()
	l.obj.Refresh()
}

// tipped is content that may show less than its text (a label cut with
// "…"); while the pointer rests on it, the layer shows the full text.
type tipped struct {
	widget.BaseWidget
	content fyne.CanvasObject
	layer   *tipLayer
	// full is the whole text and whether the content shows less of it now.
	full func() (text string, cut bool)
}

var _ desktop.Hoverable = (*tipped)(nil)

func newTipped(layer *tipLayer, content fyne.CanvasObject, full func() (string, bool)) *tipped {
	t := &tipped{content: content, layer: layer, full: full}
	t.ExtendBaseWidget(t)
	return t
}

func (t *tipped) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(t.content) }

// Visible is false while the content is hidden: the tooltip goes with what
// it is about (a hidden label in a stack must not take the hover of the one
// shown under it).
func (t *tipped) Visible() bool { return t.BaseWidget.Visible() && t.content.Visible() }

// tipText is the full text and whether the content shows less of it now.
func (t *tipped) tipText() (string, bool) { return t.full() }

func (t *tipped) MouseIn(*desktop.MouseEvent) {
	if t.layer != nil {
		t.layer.enter(t)
	}
}

func (t *tipped) MouseMoved(*desktop.MouseEvent) {}

func (t *tipped) MouseOut() {
	if t.layer != nil {
		t.layer.leave(t)
	}
}

// tipLabel makes l one line, cut with "…" when it does not fit, and shows
// its full text in a tooltip then.
func (l *tipLayer) tipLabel(lb *widget.Label) *tipped {
	lb.Wrapping = fyne.TextWrapOff
	lb.Truncation = fyne.TextTruncateEllipsis
	return newTipped(l, lb, func() (string, bool) { return lb.Text, labelCut(lb) })
}

// tipRich is tipLabel for rich text (dim captions, value lines).
func (l *tipLayer) tipRich(rt *widget.RichText) *tipped {
	rt.Wrapping = fyne.TextWrapOff
	rt.Truncation = fyne.TextTruncateEllipsis
	return newTipped(l, rt, func() (string, bool) { return richText(rt), richCut(rt) })
}

// labelCut reports whether l is too narrow for its text on one line.
func labelCut(l *widget.Label) bool {
	if l.Text == "" {
		return false
	}
	size := l.Theme().Size(theme.SizeNameText)
	if l.SizeName != "" {
		size = l.Theme().Size(l.SizeName)
	}
	w := fyne.MeasureText(l.Text, size, l.TextStyle).Width + 2*l.Theme().Size(theme.SizeNameInnerPadding)
	return w > l.Size().Width+0.5
}

// richText is the words of rt's text segments.
func richText(rt *widget.RichText) string {
	s := ""
	for _, seg := range rt.Segments {
		if t, ok := seg.(*widget.TextSegment); ok {
			s += t.Text
		}
	}
	return s
}

// richCut reports whether rt is too narrow for its text segments on one line.
func richCut(rt *widget.RichText) bool {
	return richText(rt) != "" && richWidth(rt) > rt.Size().Width+0.5
}

// reserve stacks its objects and is as large as the largest of them, hidden
// or not: whatever shows in it, the room it takes never changes.
type reserve struct{}

func (reserve) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (reserve) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// vcenter centres its objects vertically at their own height, across the whole width.
type vcenter struct{}

func (vcenter) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		if o.Visible() {
			s = s.Max(o.MinSize())
		}
	}
	return s
}

func (vcenter) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		h := min(o.MinSize().Height, size.Height)
		o.Move(fyne.NewPos(0, (size.Height-h)/2))
		o.Resize(fyne.NewSize(size.Width, h))
	}
}

// shrinkText is a line of large text (an amount) that shrinks to fit its
// width instead of widening what holds it; below the smallest size it is
// cut with "…" and the tooltip has it whole.
type shrinkText struct {
	widget.BaseWidget
	Text      string
	TextSize  float32 // the size it has when it fits
	TextStyle fyne.TextStyle
	minSize   float32
	txt       *canvas.Text
}

func newShrinkText(size float32, style fyne.TextStyle) *shrinkText {
	f := &shrinkText{Text: "—", TextSize: size, TextStyle: style, minSize: 11}
	f.ExtendBaseWidget(f)
	return f
}

// SetText changes the text.
func (f *shrinkText) SetText(s string) {
	if f.Text == s {
		return
	}
	f.Text = s
	f.Refresh()
}

// cut reports whether the text does not fit even at the smallest size.
func (f *shrinkText) cut() bool {
	return fyne.MeasureText(f.Text, f.minSize, f.TextStyle).Width > f.Size().Width+0.5
}

func (f *shrinkText) CreateRenderer() fyne.WidgetRenderer {
	f.txt = canvas.NewText(f.Text, theme.Color(theme.ColorNameForeground))
	f.txt.TextStyle = f.TextStyle
	r := &shrinkTextRenderer{f: f}
	r.Refresh()
	return r
}

type shrinkTextRenderer struct{ f *shrinkText }

func (r *shrinkTextRenderer) Destroy()                     {}
func (r *shrinkTextRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.f.txt} }

func (r *shrinkTextRenderer) MinSize() fyne.Size {
	h := fyne.MeasureText("0", r.f.TextSize, r.f.TextStyle).Height
	return fyne.NewSize(fyne.MeasureText("0 TON", r.f.minSize, r.f.TextStyle).Width, h)
}

func (r *shrinkTextRenderer) Layout(size fyne.Size) {
	f := r.f
	text, ts := f.Text, f.TextSize
	if w := fyne.MeasureText(text, ts, f.TextStyle).Width; w > size.Width && w > 0 {
		ts = max(ts*size.Width/w, f.minSize)
		for ts > f.minSize && fyne.MeasureText(text, ts, f.TextStyle).Width > size.Width {
			ts -= 0.5
		}
	}
	if fyne.MeasureText(text, ts, f.TextStyle).Width > size.Width {
		runes := []rune(text)
		for len(runes) > 1 && fyne.MeasureText(string(runes)+"…", ts, f.TextStyle).Width > size.Width {
			runes = runes[:len(runes)-1]
		}
		text = string(runes) + "…"
	}
	f.txt.Text, f.txt.TextSize = text, ts
	th := fyne.MeasureText(text, ts, f.TextStyle).Height
	f.txt.Move(fyne.NewPos(0, size.Height-th))
	f.txt.Resize(fyne.NewSize(size.Width, th))
	f.txt.Refresh()
}

func (r *shrinkTextRenderer) Refresh() {
	r.f.txt.Color = theme.Color(theme.ColorNameForeground)
	r.Layout(r.f.Size())
}

// columns lays its objects side by side in shares of the width (equal, or
// by weights) when each fits in its share; otherwise each gets its minimum
// and a share of what is left. Unlike a grid, its minimum width is the sum
// of the objects' (not the widest times their number), so one wide column
// does not widen the others.
type columns struct {
	weights []float32 // one per object; nil: equal
}

func (c columns) weight(i int) float32 {
	if i < len(c.weights) {
		return c.weights[i]
	}
	return 1
}

// visible is the shown objects and their weights.
func (c columns) visible(objs []fyne.CanvasObject) ([]fyne.CanvasObject, []float32) {
	var out []fyne.CanvasObject
	var ws []float32
	for i, o := range objs {
		if o.Visible() {
			out = append(out, o)
			ws = append(ws, c.weight(i))
		}
	}
	return out, ws
}

func (c columns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	vis, _ := c.visible(objs)
	var s fyne.Size
	for _, o := range vis {
		m := o.MinSize()
		s.Width += m.Width
		s.Height = max(s.Height, m.Height)
	}
	if len(vis) > 1 {
		s.Width += theme.Padding() * float32(len(vis)-1)
	}
	return s
}

func (c columns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	vis, ws := c.visible(objs)
	if len(vis) == 0 {
		return
	}
	pad := theme.Padding()
	total := float32(0)
	for _, w := range ws {
		total += w
	}
	avail := size.Width - pad*float32(len(vis)-1)
	widths := make([]float32, len(vis))
	even, sum := true, float32(0)
	for i, o := range vis {
		widths[i] = o.MinSize().Width
		sum += widths[i]
		if widths[i] > avail*ws[i]/total {
			even = false
		}
	}
	extra := max(avail-sum, 0)
	x := float32(0)
	for i, o := range vis {
		w := avail * ws[i] / total
		if !even {
			w = widths[i] + extra*ws[i]/total
		}
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, size.Height))
		x += w + pad
	}
}

// newColumns is a container of columns of equal shares.
func newColumns(objs ...fyne.CanvasObject) *fyne.Container {
	return container.New(columns{}, objs...)
}

// twoPart is a head (bold or coloured) and dim details right after it, on
// one line: the details are cut first, then the head, each with "…"; the
// tooltip has both. (Fyne cuts a rich text of several inline segments
// badly, so each part is a rich text of its own.)
type twoPart struct {
	obj       *tipped
	head, sub *widget.TextSegment
	headRT    *widget.RichText
	subRT     *widget.RichText
}

func newTwoPart(tips *tipLayer, head, sub *widget.TextSegment) *twoPart {
	p := &twoPart{head: head, sub: sub, headRT: widget.NewRichText(head), subRT: widget.NewRichText(sub)}
	head.Style.Inline, sub.Style.Inline = false, false
	p.headRT.Truncation = fyne.TextTruncateEllipsis
	p.subRT.Truncation = fyne.TextTruncateEllipsis
	row := container.New(headFirst{}, p.headRT, p.subRT)
	p.obj = newTipped(tips, row, func() (string, bool) { return p.text(), richCut(p.headRT) || p.subCut() })
	return p
}

// subCut reports whether the details are cut or left out.
func (p *twoPart) subCut() bool {
	return p.sub.Text != "" && (!p.subRT.Visible() || richCut(p.subRT))
}

// text is both parts' words.
func (p *twoPart) text() string { return p.head.Text + p.sub.Text }

// Refresh redraws both parts after their segments changed.
func (p *twoPart) Refresh() {
	p.headRT.Refresh()
	p.subRT.Refresh()
	p.obj.content.(*fyne.Container).Refresh()
}

// headFirst lays out a head and its details on one line: the head at its
// natural width (cut when the line is shorter), the details in the rest,
// left out when not even their "…" fits.
type headFirst struct{}

func (headFirst) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := objs[0].MinSize()
	return fyne.NewSize(h.Width, max(h.Height, objs[1].MinSize().Height))
}

func (headFirst) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	head, sub := objs[0].(*widget.RichText), objs[1].(*widget.RichText)
	pad := 2 * theme.InnerPadding()
	hw := min(richWidth(head)+1, size.Width) // a pixel more: Fyne cuts text that fits exactly
	head.Move(fyne.NewPos(0, 0))
	head.Resize(fyne.NewSize(hw, size.Height))
	// The details start where the head's text ends (their paddings overlap).
	x := hw - pad
	if w := size.Width - x; richText(sub) != "" && w >= sub.MinSize().Width {
		sub.Show()
		sub.Move(fyne.NewPos(x, 0))
		sub.Resize(fyne.NewSize(w, size.Height))
	} else {
		sub.Hide()
	}
}

// richWidth is the width rt needs for its text segments on one line.
func richWidth(rt *widget.RichText) float32 {
	th := rt.Theme()
	w := 2 * th.Size(theme.SizeNameInnerPadding)
	for _, seg := range rt.Segments {
		t, ok := seg.(*widget.TextSegment)
		if !ok {
			continue
		}
		size := th.Size(theme.SizeNameText)
		if t.Style.SizeName != "" {
			size = th.Size(t.Style.SizeName)
		}
		w += fyne.MeasureText(t.Text, size, t.Style.TextStyle).Width
	}
	return w
}
