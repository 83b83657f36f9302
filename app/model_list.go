package app

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// modelList draws the local models, one row each: the name and its details
// (size, quantisation, what it earned), whether it is loaded and where,
// whether it fits in the GPU's memory, Use and (on the Dashboard) Delete.
// The Dashboard and the first-run wizard each have one, drawn by this code.
type modelList struct {
	tips  *tipLayer
	mode  modelListMode
	obj   *fyne.Container     // the rows, or the empty list's objects
	empty []fyne.CanvasObject // shown when there is no model
	rows  map[string]*modelRow
	order []string
}

// modelListMode is what a list's buttons do and how it says which model
// is chosen.
type modelListMode struct {
	use func(name string) // the Use button
	del func(name string) // the Delete button; nil: none (the wizard)
	// chooser: the chosen model's button says "Chosen" (the wizard);
	// otherwise a "Selected" badge says it and the button says "Use".
	chooser bool
}

type modelRow struct {
	name      string
	obj       *fyne.Container
	title     *twoPart // bold name, then the details, dim
	nameSeg   *widget.TextSegment
	detailSeg *widget.TextSegment
	serving   *pill
	loaded    *pill
	fit       *pill
	fitFull   string // the fit note the badge may show cut
	serve     *widget.Button
	del       *widget.Button // nil without a delete action
	chooser   bool
}

func newModelList(tips *tipLayer, mode modelListMode, empty ...fyne.CanvasObject) *modelList {
	return &modelList{tips: tips, mode: mode, obj: container.NewVBox(empty...), empty: empty, rows: map[string]*modelRow{}}
}

// render updates the rows in place; the list is rebuilt only when the set
// of models changed.
func (l *modelList) render(st worker.Status) {
	order := make([]string, 0, len(st.Models))
	loaded := map[string]string{} // name → where it runs
	for _, m := range st.Loaded {
		loaded[m.Name] = m.RunsOn()
	}
	for _, m := range st.Models {
		order = append(order, m.Name)
		r := l.rows[m.Name]
		if r == nil {
			r = l.newRow(m.Name)
			l.rows[m.Name] = r
		}
		where, isLoaded := loaded[m.Name]
		r.update(m, m.Name == st.Model, m.Loaded || isLoaded, where, modelEarnings(st, m.Name))
	}
	for name := range l.rows {
		if !slices.Contains(order, name) {
			delete(l.rows, name)
		}
	}
	if slices.Equal(order, l.order) && len(order) > 0 {
		return
	}
	l.order = order
	objs := []fyne.CanvasObject{}
	if len(order) == 0 {
		objs = append(objs, l.empty...)
	}
	for i, name := range order {
		if i > 0 {
			objs = append(objs, widget.NewSeparator())
		}
		objs = append(objs, l.rows[name].obj)
	}
	l.obj.Objects = objs
	l.obj.Refresh()
}

func (l *modelList) newRow(name string) *modelRow {
	r := &modelRow{name: name, chooser: l.mode.chooser}
	r.nameSeg = &widget.TextSegment{Text: name + "   ", Style: widget.RichTextStyle{TextStyle: fyne.TextStyle{Bold: true}}}
	r.detailSeg = &widget.TextSegment{Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder}}
	r.title = newTwoPart(l.tips, r.nameSeg, r.detailSeg)
	r.serving = newPill("Selected", colorBlue, pillText)
	r.loaded = newPill("Loaded", colorPurple, pillText)
	r.fit = newPill("", colorGreen, pillText)
	r.serve = widget.NewButtonWithIcon("Use", theme.ConfirmIcon(), func() { l.mode.use(name) })
	fit := newTipped(l.tips, r.fit.obj, func() (string, bool) { return r.fitFull, r.fitFull != r.fit.txt.Text })
	right := container.NewHBox(r.serving.obj, r.loaded.obj, fit, container.NewCenter(r.serve))
	if l.mode.del != nil {
		r.del = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { l.mode.del(name) })
		r.del.Importance = widget.DangerImportance
		right.Add(container.NewCenter(r.del))
	}
	r.obj = container.NewBorder(nil, nil, nil, right, container.New(vcenter{}, r.title.obj))
	r.fit.parent = r.obj
	return r
}

func (r *modelRow) update(m ollama.Model, serving, loaded bool, runsOn, earns string) {
	d := modelDetails(m)
	if earns != "" {
		d += " · " + earns
	}
	if r.detailSeg.Text != d {
		r.detailSeg.Text = d
		r.title.Refresh()
	}
	r.serving.setVisible(serving && !r.chooser) // a chooser's button says it
	switch runsOn {
	case ollama.RunsOnGPU:
		r.loaded.set("Loaded · GPU", colorPurple)
	case ollama.RunsOnCPU:
		r.loaded.set("Loaded · CPU", colorAmber)
	default:
		r.loaded.set("Loaded", colorPurple)
	}
	r.loaded.setVisible(loaded)
	fit := fitText(m)
	c := colorGreen
	if !m.FitsVRAM {
		c = colorAmber
	}
	// Long notes are cut on the badge; the details line has room for nothing else.
	short := fit
	if len([]rune(short)) > 34 {
		short = string([]rune(short)[:33]) + "…"
	}
	r.fitFull = fit
	r.fit.set(short, c)
	if r.chooser {
		text, imp := "Use", widget.MediumImportance
		if serving {
			text, imp = "Chosen", widget.SuccessImportance
		}
		if r.serve.Text != text || r.serve.Importance != imp {
			r.serve.Text, r.serve.Importance = text, imp
			r.serve.Refresh()
		}
	}
	if serving {
		r.serve.Disable()
	} else {
		r.serve.Enable()
	}
	r.obj.Refresh()
}
