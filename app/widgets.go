package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// pill is a small rounded badge: white bold text on a coloured background.
type pill struct {
	bg  *canvas.Rectangle
	txt *canvas.Text
	box *fyne.Container // the badge at its own size
	obj fyne.CanvasObject
	// parent, if set, is re-laid out when the text (so the width) changes.
	parent fyne.CanvasObject
}

func newPill(text string, c color.Color, textSize float32) *pill {
	bg := canvas.NewRectangle(c)
	bg.CornerRadius = textSize
	t := canvas.NewText(text, color.White)
	t.TextStyle = fyne.TextStyle{Bold: true}
	t.TextSize = textSize
	pad := textSize / 3
	box := container.NewStack(bg, container.New(layout.NewCustomPaddedLayout(pad, pad, textSize*0.7, textSize*0.7), t))
	return &pill{bg: bg, txt: t, box: box, obj: container.NewCenter(box)}
}

// set changes the text and colour; it re-lays out the badge when the text changes.
func (p *pill) set(text string, c color.Color) {
	changed := p.txt.Text != text
	p.txt.Text = text
	p.bg.FillColor = c
	p.bg.Refresh()
	p.txt.Refresh()
	if changed {
		p.box.Refresh()
		p.obj.Refresh()
		if p.parent != nil {
			p.parent.Refresh()
		}
	}
}

func (p *pill) setVisible(show bool) {
	if show {
		p.obj.Show()
	} else {
		p.obj.Hide()
	}
}

// panelBG is a panel's rounded, subtly tinted background. It is a widget so
// its colours follow the theme when the variant changes (light/dark).
type panelBG struct {
	widget.BaseWidget
}

func newPanelBG() *panelBG {
	p := &panelBG{}
	p.ExtendBaseWidget(p)
	return p
}

func (p *panelBG) CreateRenderer() fyne.WidgetRenderer {
	r := &panelBGRenderer{rect: canvas.NewRectangle(nil)}
	r.Refresh()
	return r
}

type panelBGRenderer struct{ rect *canvas.Rectangle }

func (r *panelBGRenderer) Layout(size fyne.Size)        { r.rect.Resize(size) }
func (r *panelBGRenderer) MinSize() fyne.Size           { return fyne.Size{} }
func (r *panelBGRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.rect} }
func (r *panelBGRenderer) Destroy()                     {}
func (r *panelBGRenderer) Refresh() {
	r.rect.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.rect.StrokeColor = theme.Color(theme.ColorNameSeparator)
	r.rect.StrokeWidth = 1
	r.rect.CornerRadius = theme.Size(theme.SizeNameInputRadius) * 2
	r.rect.Refresh()
}

// panel is a titled section on a subtly tinted rounded background.
func panel(title string, trailing fyne.CanvasObject, content fyne.CanvasObject) fyne.CanvasObject {
	bg := newPanelBG()
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.SizeName = theme.SizeNameSubHeadingText
	var headRow fyne.CanvasObject = head
	if trailing != nil {
		// The trailing part takes the room right of the title: a badge sits
		// at its right end; a text (tipped) fills it and is cut when long.
		var t fyne.CanvasObject = container.NewHBox(layout.NewSpacer(), trailing)
		if _, fills := trailing.(*tipped); fills {
			t = trailing
		}
		headRow = container.NewBorder(nil, nil, head, nil, t)
	}
	inner := container.NewBorder(headRow, nil, nil, nil, content)
	return container.NewStack(bg, container.New(layout.NewCustomPaddedLayout(2, 8, 8, 8), inner))
}

// dimLabel is secondary text in the theme's placeholder colour: readable,
// but quieter than values. The colour can change (e.g. to the error colour).
//
// Place its RichText, never the dimLabel itself: Fyne keeps a widget's
// renderer by the object it is given, so a dimLabel in a container gets a
// second renderer that is drawn but never updated (old lines of a wrapped
// text stay on screen). TestLayout fails on one.
type dimLabel struct {
	*widget.RichText
	seg *widget.TextSegment
}

func newDim(text string) *dimLabel {
	seg := &widget.TextSegment{Text: text, Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder, Inline: true}}
	return &dimLabel{RichText: widget.NewRichText(seg), seg: seg}
}

func (d *dimLabel) text() string { return d.seg.Text }

// set changes the text and colour, refreshing only on change.
func (d *dimLabel) set(text string, colorName fyne.ThemeColorName) {
	if d.seg.Text == text && d.seg.Style.ColorName == colorName {
		return
	}
	d.seg.Text = text
	d.seg.Style.ColorName = colorName
	d.Refresh()
}

// caption is dim text that does not change (field names, units, notes).
func caption(text string) *widget.RichText { return newDim(text).RichText }

// wrapLabel is a word-wrapping label.
func wrapLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// setLabel updates a label's text and importance, refreshing only on change.
func setLabel(l *widget.Label, text string, imp widget.Importance) {
	if l.Text == text && l.Importance == imp {
		return
	}
	l.Text = text
	l.Importance = imp
	l.Refresh()
}

func setVisible(o fyne.CanvasObject, show bool) {
	if show && !o.Visible() {
		o.Show()
	} else if !show && o.Visible() {
		o.Hide()
	}
}
