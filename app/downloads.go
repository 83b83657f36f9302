package app

import (
	"context"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// downloads is what the window knows of model downloads: the ones it
// started (they can be cancelled), the errors PullModel returned, the
// progress EventPull events carried, the core's own view (Status.Pulls)
// and the rows the owner closed. mainView owns the one value; the
// Dashboard's Downloads list and the first-run wizard both draw from it, so
// a download started in one shows in the other. Its methods run on the
// Fyne thread.
type downloads struct {
	env       *tabEnv
	pulling   map[string]context.CancelFunc  // running downloads this window started
	errs      map[string]string              // errors PullModel returned, in the owner's words
	events    map[string]ollama.PullProgress // progress from EventPull events
	dismissed map[string]bool                // closed or cancelled rows, not shown again
	core      map[string]ollama.PullProgress // Status.Pulls of the last status
	// changed redraws what shows the downloads (set by the window); it is
	// called when one starts or a row is closed. When one ends, the window
	// renders the core's fresh status instead.
	changed func()
}

func newDownloads(env *tabEnv) *downloads {
	return &downloads{
		env:       env,
		pulling:   map[string]context.CancelFunc{},
		errs:      map[string]string{},
		events:    map[string]ollama.PullProgress{},
		dismissed: map[string]bool{},
		changed:   func() {},
	}
}

// follow takes the core's downloads from a new status.
func (d *downloads) follow(st worker.Status) { d.core = st.Pulls }

// observe keeps the progress an EventPull event carries (the core's
// Status may not have the download yet).
func (d *downloads) observe(ev worker.Event) {
	if p, ok := ev.Data.(ollama.PullProgress); ok && ev.Type == worker.EventPull && p.Model != "" {
		d.events[p.Model] = p
	}
}

// running reports whether this window runs a download of name.
func (d *downloads) running(name string) bool {
	_, ok := d.pulling[name]
	return ok
}

// start downloads name on a goroutine; false if this window already does.
// When it ends, the window renders the core's status.
func (d *downloads) start(name string) bool {
	if name == "" || d.running(name) {
		return false
	}
	ctx, cancel := context.WithCancel(d.env.ctx)
	d.pulling[name] = cancel
	delete(d.errs, name)
	delete(d.events, name)
	delete(d.dismissed, name)
	core, log := d.env.core, d.env.log
	go func() {
		log.Info("downloading model", "model", name)
		err := core.PullModel(ctx, name)
		cancelled := ctx.Err() != nil
		cancel()
		st := core.Status()
		d.env.do(func() {
			delete(d.pulling, name)
			switch {
			case cancelled:
				log.Info("download cancelled", "model", name)
				d.dismissed[name] = true
			case err != nil:
				log.Warn("download failed", "model", name, "err", err)
				d.errs[name] = wordsFor(err).String()
			default:
				log.Info("download finished", "model", name)
			}
			d.env.render(st)
		})
	}()
	d.changed()
	return true
}

// cancel stops a download this window started; false if none runs.
func (d *downloads) cancel(name string) bool {
	c := d.pulling[name]
	if c == nil {
		return false
	}
	c()
	return true
}

// cancelAll cancels every download this window started (on quit).
func (d *downloads) cancelAll() {
	for _, c := range d.pulling {
		c()
	}
}

// dismiss closes a finished download's row.
func (d *downloads) dismiss(name string) {
	d.dismissed[name] = true
	delete(d.errs, name)
	d.changed()
}

// progress is the newest progress of name: the core's, else an event's.
func (d *downloads) progress(name string) ollama.PullProgress {
	if p, ok := d.core[name]; ok {
		return p
	}
	return d.events[name]
}

// pullState is what one pull row shows.
type pullState struct {
	progress ollama.PullProgress
	ours     bool // started here, so it can be cancelled
	failed   string
}

// states merges the core's view of downloads with this window's own: the
// rows to show, by model name.
func (d *downloads) states() map[string]pullState {
	out := map[string]pullState{}
	names := map[string]bool{}
	for _, m := range []map[string]ollama.PullProgress{d.core, d.events} {
		for n := range m {
			names[n] = true
		}
	}
	for n := range d.pulling {
		names[n] = true
	}
	for n := range d.errs {
		names[n] = true
	}
	for n := range names {
		p, ok := d.core[n]
		if !ok {
			p = d.events[n]
		}
		ours := d.running(n)
		s := pullState{progress: p, ours: ours}
		if !ours {
			s.failed = d.errs[n]
			if s.failed == "" {
				s.failed = p.Err
			}
		}
		switch {
		case ours:
		case d.dismissed[n]:
			continue
		case s.failed != "":
		case ok && !p.Done: // a download the core started itself
		default:
			continue
		}
		out[n] = s
	}
	return out
}

// pullList draws the downloads as rows, sorted by name: a progress bar,
// or why it failed; Cancel for this window's own, a close button for a
// failure. The Dashboard and the wizard each have one, drawn by this code.
type pullList struct {
	d     *downloads
	tips  *tipLayer
	obj   *fyne.Container
	rows  map[string]*pullRow
	order []string
}

type pullRow struct {
	name    string
	obj     *fyne.Container
	title   *widget.Label
	bar     *widget.ProgressBar
	barText string    // "40% · 800 MB of 2 GB · 25.4 MB/s", shown on the bar
	detail  *dimLabel // the error of a failed pull
	cancel  *widget.Button
	close   *widget.Button
}

func newPullList(d *downloads, tips *tipLayer) *pullList {
	return &pullList{d: d, tips: tips, obj: container.NewVBox(), rows: map[string]*pullRow{}}
}

// render updates the rows in place; the list is rebuilt only when the set
// of downloads changed.
func (l *pullList) render() {
	states := l.d.states()
	order := make([]string, 0, len(states))
	for n := range states {
		order = append(order, n)
	}
	slices.Sort(order)
	for n, s := range states {
		r := l.rows[n]
		if r == nil {
			r = l.newRow(n)
			l.rows[n] = r
		}
		r.update(s)
	}
	for n := range l.rows {
		if _, ok := states[n]; !ok {
			delete(l.rows, n)
		}
	}
	if slices.Equal(order, l.order) {
		return
	}
	l.order = order
	objs := make([]fyne.CanvasObject, 0, len(order))
	for _, n := range order {
		objs = append(objs, l.rows[n].obj)
	}
	l.obj.Objects = objs
	l.obj.Refresh()
}

func (l *pullList) newRow(name string) *pullRow {
	r := &pullRow{name: name}
	r.title = widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.bar = widget.NewProgressBar()
	r.bar.TextFormatter = func() string { return r.barText }
	r.detail = newDim("")
	r.detail.Wrapping = fyne.TextWrapWord
	r.detail.Hide()
	r.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if l.d.cancel(name) {
			r.cancel.Disable()
		}
	})
	r.close = widget.NewButtonWithIcon("", theme.CancelIcon(), func() { l.d.dismiss(name) })
	r.close.Importance = widget.LowImportance
	// The name takes a fixed width (cut, with a tooltip), so a long one
	// leaves the bar its room.
	title := container.New(&atLeast{w: 220}, container.New(vcenter{}, l.tips.tipLabel(r.title)))
	r.obj = container.NewBorder(nil, nil, title, container.NewHBox(r.cancel, r.close), container.NewStack(r.bar, r.detail.RichText))
	return r
}

func (r *pullRow) update(s pullState) {
	p := s.progress
	if s.failed != "" {
		r.bar.Hide()
		r.detail.set("Download failed: "+s.failed, theme.ColorNameError)
		r.detail.Show()
		r.cancel.Hide()
		r.close.Show()
		return
	}
	r.detail.Hide()
	r.bar.Show()
	r.barText = pullText(p)
	r.bar.SetValue(pullPercent(p) / 100) // refreshes the text too
	r.close.Hide()
	setVisible(r.cancel, s.ours)
	if s.ours {
		r.cancel.Enable()
	}
}
