package app

import (
	"fmt"
	"image/color"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// The "Why am I not earning?" tab: every reason in force now, in plain
// words (why_text.go), each with what the owner can do about it. It
// re-renders on every status event the core publishes (no polling), so a
// reason appears or clears as soon as the core's state changes.

type whyView struct {
	env *tabEnv
	// act runs a reason's button (start, go to the models, ...): the
	// window's header and tabs do those.
	act     func(whyAction)
	content fyne.CanvasObject
	head    *widget.Label
	sub     *dimLabel
	list    *fyne.Container
	rows    []*whyRow
	items   []why
	// jobsAtServe is Jobs.Completed when the worker last began serving (-1: not serving).
	jobsAtServe int
}

type whyRow struct {
	obj     *fyne.Container
	bar     *canvas.Rectangle
	icon    *widget.Icon
	title   *widget.Label
	detail  *widget.Label
	fix     *dimLabel
	buttons *fyne.Container
	item    why
}

func newWhyView(env *tabEnv, act func(whyAction)) *whyView {
	w := &whyView{env: env, act: act, jobsAtServe: -1}
	w.head = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.head.SizeName = theme.SizeNameSubHeadingText
	w.sub = newDim("Updated with every change of the worker's state.")
	w.list = container.NewVBox()
	top := container.NewVBox(w.head, w.sub.RichText)
	w.content = container.NewBorder(top, nil, nil, nil, container.NewVScroll(w.list))
	return w
}

// refresh re-renders from a status; the view calls it on every status event.
func (w *whyView) refresh(st worker.Status) {
	if st.State == worker.StateServing {
		if w.jobsAtServe < 0 {
			w.jobsAtServe = st.Jobs.Completed
		}
	} else {
		w.jobsAtServe = -1
	}
	addr := ""
	if w.env.core != nil {
		addr = w.env.core.Settings().PayoutAddress
	}
	items := explainWhy(whyFacts{Status: st, Now: time.Now(), JobsAtServe: w.jobsAtServe, PayoutAddress: addr})
	w.render(items)
	w.sub.set(networkLine(st.Network)+" · updated with every change of the worker's state.", theme.ColorNamePlaceHolder)
}

func (w *whyView) render(items []why) {
	w.items = items
	blocking := 0
	earning := false
	for _, it := range items {
		if it.Level >= whyBlocked {
			blocking++
		}
		if it.Code == whyServing {
			earning = true
		}
	}
	head := ""
	switch {
	case earning && blocking == 0:
		head = "You are sharing your GPU: jobs earn as they arrive"
	case earning && blocking == 1:
		// Serving all the same (e.g. on the CPU): earning, with one thing
		// that holds it back, not "not earning".
		head = "Earning as jobs arrive; 1 thing holds it back"
	case earning:
		head = fmt.Sprintf("Earning as jobs arrive; %d things hold it back", blocking)
	case blocking == 0:
		head = "Not earning yet, but nothing needs you: it starts by itself"
	case blocking == 1:
		head = "Not earning right now: 1 thing stands in the way"
	default:
		head = fmt.Sprintf("Not earning right now: %d things stand in the way", blocking)
	}
	setLabel(w.head, head, widget.MediumImportance)

	for len(w.rows) < len(items) {
		w.rows = append(w.rows, w.newRow())
	}
	changed := len(w.list.Objects) != len(items)
	for i, it := range items {
		w.rows[i].update(w, it)
	}
	if changed {
		objs := make([]fyne.CanvasObject, len(items))
		for i := range items {
			objs[i] = w.rows[i].obj
		}
		w.list.Objects = objs
		w.list.Refresh()
	}
}

func (w *whyView) newRow() *whyRow {
	r := &whyRow{}
	r.bar = canvas.NewRectangle(colorGrey)
	r.bar.SetMinSize(fyne.NewSize(4, 4))
	r.bar.CornerRadius = 2
	r.icon = widget.NewIcon(theme.InfoIcon())
	r.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.title.Wrapping = fyne.TextWrapWord
	r.detail = wrapLabel("")
	r.fix = newDim("")
	r.fix.Wrapping = fyne.TextWrapWord
	r.buttons = container.NewHBox()
	text := container.NewVBox(r.title, r.detail, r.fix.RichText)
	right := container.NewVBox(layout.NewSpacer(), r.buttons, layout.NewSpacer())
	body := container.NewBorder(nil, nil, container.NewHBox(r.bar, container.NewVBox(r.icon)), right, text)
	r.obj = container.NewStack(newPanelBG(), container.New(layout.NewCustomPaddedLayout(4, 4, 6, 8), body))
	return r
}

func levelLook(l whyLevel) (color.Color, fyne.Resource, widget.Importance) {
	switch l {
	case whyGood:
		return colorGreen, theme.ConfirmIcon(), widget.SuccessImportance
	case whyBlocked:
		return colorAmber, theme.WarningIcon(), widget.WarningImportance
	case whyProblem:
		return colorRed, theme.ErrorIcon(), widget.DangerImportance
	default:
		return colorBlue, theme.InfoIcon(), widget.MediumImportance
	}
}

func (r *whyRow) update(w *whyView, it why) {
	same := r.item.Code == it.Code && r.item.Level == it.Level && slices.Equal(r.item.Actions, it.Actions)
	r.item = it
	c, icon, imp := levelLook(it.Level)
	if !same {
		r.bar.FillColor = c
		r.bar.Refresh()
		r.icon.SetResource(icon)
	}
	setLabel(r.title, it.Title, imp)
	setLabel(r.detail, it.Detail, widget.MediumImportance)
	setVisible(r.detail, it.Detail != "")
	r.fix.set(it.Fix, theme.ColorNamePlaceHolder)
	setVisible(r.fix, it.Fix != "")
	if !same {
		btns := make([]fyne.CanvasObject, 0, len(it.Actions))
		for i, a := range it.Actions {
			b := widget.NewButton(actionLabel(a), func() { w.act(a) })
			if i == 0 {
				b.Importance = widget.HighImportance
			}
			btns = append(btns, b)
		}
		r.buttons.Objects = btns
		r.buttons.Refresh()
	}
}

// button returns the row's button for an action (tests), nil if none.
func (r *whyRow) button(a whyAction) *widget.Button {
	for _, o := range r.buttons.Objects {
		if b, ok := o.(*widget.Button); ok && b.Text == actionLabel(a) {
			return b
		}
	}
	return nil
}
