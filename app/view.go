package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// mainView is the main window's content. It renders a worker.Status and
// turns clicks into Core calls. All its methods run on the Fyne thread;
// Core calls run on goroutines that come back through v.do.
//
// Widget fields are reachable from tests in this package, so tests find
// what they check without walking the widget tree.
type mainView struct {
	// The window's core, dialogs' parent, logger, do, tooltips and render,
	// shared with every tab (env.go).
	*tabEnv
	// onRender is called after each refresh (the tray follows the state with it).
	onRender func(st worker.Status, busy bool)
	// onToday is given today's totals after each ledger read (the tray's earnings line).
	onToday func(day earnings.DayTotal)
	// life: shown, hidden in the tray, closed (window_life.go).
	life windowLife
	pace renderPace // render_pace.go

	// content is the window's content: the body, scrolled as a whole only
	// when the window is smaller than the body needs (never at 1024×640 or
	// more), and the tooltips over it.
	content fyne.CanvasObject
	body    fyne.CanvasObject
	frame   *container.Scroll
	status  worker.Status
	// clock is the time the telemetry graphs use; time.Now in the app.
	clock func() time.Time

	// the Dashboard's "now" strip: job, today's earnings, telemetry graphs
	now *nowStrip

	// header: the state, its buttons and one status line under them, whose
	// room is always kept (banners never move the tabs): an error, else a
	// notice, else why it does not serve now, else what the state means.
	stateBadge  *pill
	stateError  *widget.Label
	reasons     *widget.Label  // why not serving now, every reason, on one line
	stateLine   *dimLabel      // what the state means, when nothing else is said
	detailsBtn  *widget.Button // opens "Why not earning?"
	startNowBtn *widget.Button // while waiting for idle: serve without waiting
	rebuildBtn  *widget.Button // on a damaged ledger: rebuild it from the proxy's receipts
	// startAtLogin turns start at login on (Options.StartAtLogin; nil: not offered).
	startAtLogin func() error
	rebuildDlg   *dialog.ConfirmDialog
	fatalShown   string // the fatal error already shown in a dialog
	net          networkWidgets
	nets         *networksView // the Networks tab (networks_view.go)
	toggleBtn    *widget.Button
	busy         bool // a Start/Stop call is in flight
	notice       *widget.Label
	noticeRow    *fyne.Container
	noticeOn     bool // a notice waits to be dismissed

	// GPU panel
	gpuOK      *fyne.Container // shown when a GPU is usable
	gpuNone    *fyne.Container // shown otherwise
	gpuName    *widget.Label
	gpuCC      *pill
	gpuMore    *dimLabel // "+1 more GPU"
	vramBar    *widget.ProgressBar
	vramLabel  string
	gpuDriver  *dimLabel
	gpuTemp    *widget.Label
	gpuPower   *widget.Label
	gpuUtil    *widget.Label
	gpuProcs   *widget.Label
	gpuHead    *widget.Label // headline when no GPU
	gpuReason  *widget.Label
	gpuErrors  *dimLabel
	ollamaPill *pill

	// Ollama panel
	ollamaVersion *widget.Label
	ollamaMode    *widget.Label
	ollamaAddr    *widget.Label
	ollamaRunsOn  *widget.Label
	ollamaErr     *widget.Label

	// models
	modelsBox  *fyne.Container
	modelRows  map[string]*modelRow
	modelOrder []string
	noModels   *widget.Label
	storage    storageWidgets
	confirm    *dialog.ConfirmDialog // the last delete confirmation shown
	builtin    builtinOffer          // the built-in model back, when no model is left (model_delete.go)

	// downloads
	pullEntry *widget.Entry
	pullBtn   *widget.Button
	// downloads is the state of every download, shared with the wizard;
	// pulls draws it on the Dashboard (downloads.go).
	downloads *downloads
	pulls     *pullList

	// tabs: Dashboard (the worker), Earnings, Why not earning?, Settings
	tabs        *container.AppTabs
	earn        *earningsView
	why         *whyView
	whyTab      *container.TabItem
	set         *settingsView
	settingsTab *container.TabItem

	// onboard is the first-run wizard (nil: not shown this run).
	onboard *onboarding
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
	del       *widget.Button
}

const pillText = 12

// newMainView builds the view. win is the parent of dialogs.
func newMainView(core Core, win fyne.Window) *mainView {
	v := &mainView{
		tabEnv: &tabEnv{
			core: core,
			win:  win,
			ctx:  context.Background(),
			log:  slog.New(slog.DiscardHandler),
			do:   fyne.Do,
		},
		clock:     time.Now,
		modelRows: map[string]*modelRow{},
	}
	v.tips = newTipLayer(func(fn func()) { v.do(fn) })
	v.render = v.refresh
	v.downloads = newDownloads(v.tabEnv)
	v.downloads.changed = v.downloadsChanged
	v.now = newNowStrip(v.tips)
	// The Dashboard scrolls when the window is too short for all of it; the
	// Models panel comes before the Network panel (on a 640-high screen it
	// starts on the first page) and takes whatever height is left over.
	dashboard := container.NewVScroll(container.NewBorder(
		container.NewVBox(v.now.obj, newColumns(v.buildGPU(), v.buildOllama())), v.buildNetwork(), nil, nil,
		v.buildModels()))
	v.earn = newEarningsView(v.tabEnv, v.showToday, v.editElectricity)
	v.why = newWhyView(v.tabEnv, v.doAction)
	v.set = newSettingsView(v.tabEnv, func() { v.earn.reload() })
	v.nets = newNetworksView(v.tabEnv)
	v.whyTab = container.NewTabItemWithIcon("Why not earning?", theme.QuestionIcon(), v.why.content)
	v.settingsTab = container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), v.set.content)
	v.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Dashboard", theme.ComputerIcon(), dashboard),
		container.NewTabItemWithIcon("Earnings", theme.StorageIcon(), v.earn.content),
		v.whyTab, container.NewTabItemWithIcon("Networks", theme.ListIcon(), v.nets.content), v.settingsTab)
	v.tabs.OnSelected = func(t *container.TabItem) {
		if t == v.settingsTab {
			v.set.load(false) // fresh values, unless the owner is editing
		}
	}
	v.earn.reloadNow()
	// The header (state, Start/Stop) stays above the tabs: it is the app's main control.
	v.body = container.New(layout.NewCustomPaddedLayout(6, 10, 12, 12), container.NewBorder(v.buildHeader(), nil, nil, nil, v.tabs))
	// The window's minimum size is windowMin whatever it shows; below the
	// body's own minimum (under 1024×640) the whole window scrolls.
	v.frame = container.NewScroll(v.body)
	v.frame.SetMinSize(windowMin)
	v.content = container.NewStack(v.frame, v.tips.obj)
	return v
}

func (v *mainView) buildHeader() fyne.CanvasObject {
	icon := canvas.NewImageFromResource(iconResource)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSize(40, 40))
	title := widget.NewLabelWithStyle("Cocoon Desktop", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	v.stateBadge = newPill(stateWord(worker.StateStopped), stateColor(worker.StateStopped), 14)

	v.toggleBtn = widget.NewButtonWithIcon("Start sharing", theme.MediaPlayIcon(), v.toggle)
	v.toggleBtn.Importance = widget.HighImportance
	toggle := container.NewGridWrap(fyne.NewSize(190, 46), v.toggleBtn)

	// The status line: one line, cut with "…" (the tooltip and "Why not
	// earning?" have it all), in a room kept whatever it says.
	v.stateError = widget.NewLabel("")
	v.stateError.Importance = widget.DangerImportance
	v.stateError.Hide()
	v.reasons = widget.NewLabel("")
	v.reasons.Importance = widget.WarningImportance
	v.reasons.Hide()
	v.stateLine = newDim("")
	v.notice = widget.NewLabel("")
	v.notice.Importance = widget.WarningImportance
	dismiss := widget.NewButtonWithIcon("", theme.CancelIcon(), func() {
		v.noticeOn = false
		v.renderStatusLine()
	})
	dismiss.Importance = widget.LowImportance
	v.noticeRow = container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), dismiss, v.tips.tipLabel(v.notice))
	v.noticeRow.Hide()
	v.detailsBtn = widget.NewButtonWithIcon("Details", theme.QuestionIcon(), func() { v.tabs.Select(v.whyTab) })
	v.detailsBtn.Importance = widget.LowImportance
	v.detailsBtn.Hide()
	v.reasons.Truncation = fyne.TextTruncateEllipsis
	reasons := newTipped(v.tips, v.reasons, func() (string, bool) { return reasonLines(v.status), labelCut(v.reasons) })
	line := container.New(reserve{}, v.tips.tipLabel(v.stateError), reasons, v.noticeRow,
		container.New(vcenter{}, v.tips.tipRich(v.stateLine.RichText)))
	status := container.NewBorder(nil, nil, nil, container.New(reserve{}, v.detailsBtn), line)

	v.startNowBtn = widget.NewButtonWithIcon("Start now", theme.MediaFastForwardIcon(), v.startNow)
	v.startNowBtn.Hide()
	v.rebuildBtn = widget.NewButtonWithIcon("Rebuild ledger…", theme.ViewRefreshIcon(), v.askRebuildLedger)
	v.rebuildBtn.Importance = widget.HighImportance
	v.rebuildBtn.Hide()
	left := container.NewHBox(icon, container.NewCenter(title), v.stateBadge.obj)
	row := container.NewBorder(nil, nil, left, container.NewHBox(container.NewCenter(v.rebuildBtn), container.NewCenter(v.startNowBtn), container.NewCenter(toggle)))
	v.stateBadge.parent = row
	return container.NewVBox(row, status, widget.NewSeparator())
}

func (v *mainView) buildGPU() fyne.CanvasObject {
	v.gpuName = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.gpuCC = newPill("Confidential computing", colorPurple, pillText)
	v.gpuCC.setVisible(false)
	v.gpuMore = newDim("")
	v.gpuMore.Hide()
	v.vramBar = widget.NewProgressBar()
	v.vramBar.TextFormatter = func() string { return v.vramLabel }
	v.gpuDriver = newDim("")
	v.gpuDriver.seg.Style.Alignment = fyne.TextAlignTrailing
	v.gpuTemp = widget.NewLabel("")
	v.gpuPower = widget.NewLabel("")
	v.gpuUtil = widget.NewLabel("")
	v.gpuProcs = widget.NewLabel("")
	v.gpuErrors = newDim("")
	v.gpuErrors.Wrapping = fyne.TextWrapWord
	v.gpuErrors.Hide()

	stat := func(name string, l *widget.Label) fyne.CanvasObject {
		return container.NewHBox(caption(name), l)
	}
	telemetry := container.NewHBox(stat("Temp", v.gpuTemp), stat("Power", v.gpuPower), stat("Load", v.gpuUtil))
	v.gpuOK = container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(v.gpuMore.RichText, v.gpuCC.obj), v.tips.tipLabel(v.gpuName)),
		container.NewBorder(nil, nil, caption("VRAM"), nil, v.vramBar),
		telemetry,
		container.NewBorder(nil, nil, caption("Also using it"), nil, v.tips.tipLabel(v.gpuProcs)),
		v.gpuErrors.RichText,
	)
	v.gpuHead = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.gpuHead.Importance = widget.WarningImportance
	v.gpuReason = wrapLabel("")
	v.gpuNone = container.NewVBox(
		container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, v.gpuHead),
		v.gpuReason)
	v.gpuOK.Hide()
	// The driver line sits right of the title, cut when the panel is narrow.
	return panel("GPU", v.tips.tipRich(v.gpuDriver.RichText), container.NewStack(v.gpuOK, v.gpuNone))
}

func (v *mainView) buildOllama() fyne.CanvasObject {
	v.ollamaPill = newPill("Checking…", colorGrey, pillText)
	v.ollamaVersion = widget.NewLabel("—")
	v.ollamaMode = widget.NewLabel("—")
	v.ollamaAddr = widget.NewLabel("—")
	v.ollamaRunsOn = widget.NewLabel("—")
	v.ollamaErr = wrapLabel("")
	v.ollamaErr.Importance = widget.DangerImportance
	v.ollamaErr.Hide()
	form := container.New(layout.NewFormLayout(),
		caption("Version"), v.tips.tipLabel(v.ollamaVersion),
		caption("Mode"), v.tips.tipLabel(v.ollamaMode),
		caption("Address"), v.tips.tipLabel(v.ollamaAddr),
		caption("Runs on"), v.tips.tipLabel(v.ollamaRunsOn))
	p := panel("Ollama", v.ollamaPill.obj, container.NewVBox(form, v.ollamaErr))
	v.ollamaPill.parent = p
	return p
}

func (v *mainView) buildModels() fyne.CanvasObject {
	v.noModels = wrapLabel("No models yet. Download one below, e.g. llama3.2:1b.")
	v.noModels.Importance = widget.LowImportance
	v.modelsBox = container.NewVBox(v.noModels, v.newBuiltinOffer())

	v.pullEntry = widget.NewEntry()
	v.pullEntry.SetPlaceHolder("Model name, e.g. llama3.2:1b")
	v.pullEntry.OnSubmitted = func(string) { v.startPull() }
	v.pullEntry.OnChanged = func(string) { v.updatePullButton() }
	v.pullBtn = widget.NewButtonWithIcon("Download", theme.DownloadIcon(), v.startPull)
	v.pullBtn.Importance = widget.MediumImportance
	v.pullBtn.Disable()
	v.pulls = newPullList(v.downloads, v.tips)

	download := container.NewVBox(
		widget.NewSeparator(),
		v.buildStorage(),
		container.NewBorder(nil, nil, caption("Download model"), v.pullBtn, v.pullEntry),
		v.pulls.obj)
	// No scroll of its own: the Dashboard scrolls when the list is long.
	return panel("Models", nil, container.NewBorder(nil, download, nil, nil, container.NewVBox(v.modelsBox)))
}

// refresh renders st. It is cheap when little changed: widgets are updated
// in place and rows are only rebuilt when the set of models changes.
func (v *mainView) refresh(st worker.Status) {
	v.status = st
	v.downloads.follow(st)
	if v.skipWhileHidden(st) {
		return
	}
	v.renderHeader()
	v.now.render(st, v.clock())
	v.renderGPU(st.GPU)
	v.renderOllama(st.Ollama)
	v.renderRunsOn(st.Placement, st.Ollama)
	v.renderNetwork(st)
	v.renderModels()
	v.renderStorage()
	v.renderPulls()
	v.earn.refreshStatus(st)
	v.why.refresh(st)
	v.nets.refresh(st)
	v.set.refresh(st)
	if v.onboard != nil {
		v.onboard.refresh(st)
	}
	if v.onRender != nil {
		v.onRender(st, v.busy)
	}
}

func (v *mainView) renderHeader() {
	st := v.status
	v.stateBadge.set(stateWord(st.State), stateColor(st.State))
	errText := ""
	if st.State == worker.StateError {
		errText = st.Error
		if errText == "" {
			errText = "Something needs your attention."
		}
	}
	if st.Fatal != "" {
		errText = fatalText(st)
	}
	setLabel(v.stateError, oneLine(errText), widget.DangerImportance)
	setVisible(v.rebuildBtn, st.LedgerDamaged != "")
	if st.Fatal != "" && st.Fatal != v.fatalShown && v.win != nil {
		v.fatalShown = st.Fatal
		dialog.ShowError(errors.New(errText), v.win)
	}
	setLabel(v.reasons, reasonsText(st), widget.WarningImportance)
	v.stateLine.set(stateSentence(st), theme.ColorNamePlaceHolder)
	v.renderStatusLine()
	setVisible(v.startNowBtn, st.State == worker.StateWaiting && !v.busy)
	v.updateToggle()
}

// renderStatusLine shows the one thing the status line says: an error,
// else a notice not yet dismissed, else the reasons it does not serve,
// else what the state means.
func (v *mainView) renderStatusLine() {
	errShown := v.stateError.Text != ""
	noticeShown := v.noticeOn && !errShown
	reasonsShown := v.reasons.Text != "" && !errShown && !noticeShown
	setVisible(v.stateError, errShown)
	setVisible(v.noticeRow, noticeShown)
	setVisible(v.reasons, reasonsShown)
	setVisible(v.stateLine, !errShown && !noticeShown && !reasonsShown)
	setVisible(v.detailsBtn, errShown || reasonsShown)
}

// oneLine puts text on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// startedState reports whether the worker counts as started (Stop is the action).
func startedState(s worker.State) bool { return s.Started() }

func (v *mainView) updateToggle() {
	b := v.toggleBtn
	text, icon, imp := "Start sharing", theme.MediaPlayIcon(), widget.HighImportance
	blocked := v.status.Fatal != "" || v.status.LedgerDamaged != "" // nothing can start
	if startedState(v.status.State) && !blocked {
		text, icon, imp = "Stop sharing", theme.MediaStopIcon(), widget.DangerImportance
	}
	if v.busy {
		if startedState(v.status.State) {
			text = "Stopping…"
		} else {
			text = "Starting…"
		}
	}
	if b.Text != text || b.Importance != imp || b.Icon != icon {
		b.Text, b.Icon, b.Importance = text, icon, imp
		b.Refresh()
	}
	if v.busy || blocked {
		b.Disable() // the core has stopped, or waits for a rebuild
	} else {
		b.Enable()
	}
}

// askRebuildLedger explains the rebuild and, once the owner agrees, asks
// the core to set the damaged ledger aside and fill a new one from the
// proxy's receipts.
func (v *mainView) askRebuildLedger() {
	msg := v.status.LedgerDamaged + "\n\n" +
		"Rebuilding keeps the damaged file beside the new one (nothing is deleted), makes a new ledger " +
		"and fetches every receipt the network signed for this computer. Payouts made before are " +
		"recorded as one entry from the network's paid total."
	d := dialog.NewCustomConfirm("Rebuild the earnings ledger", "Rebuild", "Not now", wrapLabel(msg), func(ok bool) {
		if !ok {
			return
		}
		go func() {
			aside, err := v.core.RebuildLedger(v.ctx)
			st := v.core.Status()
			v.do(func() {
				if err != nil {
					v.showError("Could not rebuild the ledger", err)
				} else {
					info := dialog.NewCustom("Ledger rebuilt", "OK", wrapLabel("The damaged file is kept as "+aside+
						". Receipts are being fetched from the network; the balance fills in as they arrive."), v.win)
					info.Resize(fyne.NewSize(560, 220))
					info.Show()
				}
				v.refresh(st)
			})
		}()
	}, v.win)
	d.Resize(fyne.NewSize(560, 300))
	v.rebuildDlg = d
	d.Show()
}

// startNow serves without waiting for the owner to be away.
func (v *mainView) startNow() {
	go func() {
		v.log.Info("starting worker now")
		err := v.core.StartNow(v.ctx)
		st := v.core.Status()
		v.do(func() {
			if err != nil {
				v.showError("Could not start", err)
			}
			v.refresh(st)
		})
	}()
}

// toggle starts or stops the worker on a goroutine; the button is disabled meanwhile.
func (v *mainView) toggle() {
	if v.busy {
		return
	}
	stop := startedState(v.status.State)
	v.busy = true
	v.updateToggle()
	if v.onRender != nil {
		v.onRender(v.status, true)
	}
	go func() {
		var err error
		if stop {
			v.log.Info("stopping worker")
			err = v.core.Stop(v.ctx)
		} else {
			v.log.Info("starting worker")
			err = v.core.Start(v.ctx)
		}
		st := v.core.Status()
		v.do(func() {
			v.busy = false
			if err != nil {
				v.log.Warn("start/stop failed", "stop", stop, "err", err)
				title := "Could not start"
				if stop {
					title = "Could not stop"
				}
				v.showError(title, err)
			}
			v.refresh(st)
		})
	}()
}

func (v *mainView) renderGPU(snap gpu.Snapshot) {
	ok := snap.State == gpu.StateOK && len(snap.Devices) > 0
	setVisible(v.gpuOK, ok)
	setVisible(v.gpuNone, !ok)
	if !ok {
		head := gpuHeadline(snap.State)
		if snap.State == gpu.StateOK { // ok but no devices: say so
			head = gpuHeadline(gpu.StateNoDevice)
		}
		setLabel(v.gpuHead, head, widget.WarningImportance)
		setLabel(v.gpuReason, gpuReason(snap), widget.MediumImportance)
		return
	}
	d := snap.Devices[0]
	setLabel(v.gpuName, d.Name, widget.MediumImportance)
	v.gpuCC.setVisible(d.ConfidentialCompute)
	more := ""
	if n := len(snap.Devices) - 1; n == 1 {
		more = "+1 more GPU"
	} else if n > 1 {
		more = fmt.Sprintf("+%d more GPUs", n)
	}
	v.gpuMore.set(more, theme.ColorNamePlaceHolder)
	setVisible(v.gpuMore, more != "")
	v.vramLabel = vramText(d)
	v.vramBar.SetValue(vramFraction(d)) // also refreshes the text
	v.vramBar.Refresh()
	v.gpuDriver.set(driverText(snap), theme.ColorNamePlaceHolder)
	tempImp := widget.MediumImportance
	if d.TemperatureC >= 85 {
		tempImp = widget.DangerImportance
	}
	setLabel(v.gpuTemp, fmt.Sprintf("%d °C", d.TemperatureC), tempImp)
	setLabel(v.gpuPower, powerText(d), widget.MediumImportance)
	setLabel(v.gpuUtil, fmt.Sprintf("%d%%", d.UtilizationGPU), widget.MediumImportance)
	procs := processText(d.Processes)
	setLabel(v.gpuProcs, strings.ReplaceAll(procs, "\n", "; "), widget.MediumImportance)
	errs := strings.Join(d.Errors, "; ")
	v.gpuErrors.set(errs, theme.ColorNamePlaceHolder)
	setVisible(v.gpuErrors, errs != "")
}

func (v *mainView) renderOllama(o ollama.Status) {
	if o.Reachable {
		v.ollamaPill.set("Reachable", colorGreen)
	} else if o.Error == "" && o.Address == "" && o.Version == "" {
		v.ollamaPill.set("Not started", colorGrey)
	} else {
		v.ollamaPill.set("Not reachable", colorRed)
	}
	version := o.Version
	if version == "" {
		version = "—"
	}
	setLabel(v.ollamaVersion, version, widget.MediumImportance)
	mode := ollamaMode(o.Mode)
	if o.Mode == ollama.ModeManaged && o.PID > 0 {
		mode += fmt.Sprintf(" (pid %d)", o.PID)
	}
	if o.Restarts > 0 {
		mode += fmt.Sprintf(", restarted %d×", o.Restarts)
	}
	mode += ollamaSourceSuffix(o.Source)
	setLabel(v.ollamaMode, mode, widget.MediumImportance)
	addr := o.Address
	if addr == "" {
		addr = "—"
	}
	setLabel(v.ollamaAddr, addr, widget.MediumImportance)
	setLabel(v.ollamaErr, o.Error, widget.DangerImportance)
	setVisible(v.ollamaErr, o.Error != "")
}

// renderRunsOn says where the served model runs; red when a GPU is
// present but the model runs (partly) on the CPU.
func (v *mainView) renderRunsOn(p worker.Placement, o ollama.Status) {
	imp := widget.MediumImportance
	if p.OnCPUWithGPU() {
		imp = widget.DangerImportance
	}
	setLabel(v.ollamaRunsOn, runsOnText(p, o), imp)
}

func (v *mainView) renderModels() {
	st := v.status
	order := make([]string, 0, len(st.Models))
	loaded := map[string]string{} // name → where it runs
	for _, l := range st.Loaded {
		loaded[l.Name] = l.RunsOn()
	}
	for _, m := range st.Models {
		order = append(order, m.Name)
		r := v.modelRows[m.Name]
		if r == nil {
			r = v.newModelRow(m.Name)
			v.modelRows[m.Name] = r
		}
		where, isLoaded := loaded[m.Name]
		r.update(m, m.Name == st.Model, m.Loaded || isLoaded, where, modelEarnings(st, m.Name))
	}
	for name := range v.modelRows {
		if !slices.Contains(order, name) {
			delete(v.modelRows, name)
		}
	}
	if slices.Equal(order, v.modelOrder) && len(order) > 0 {
		return
	}
	v.modelOrder = order
	objs := []fyne.CanvasObject{}
	if len(order) == 0 {
		objs = append(objs, v.noModels, v.builtin.obj)
	}
	for i, name := range order {
		if i > 0 {
			objs = append(objs, widget.NewSeparator())
		}
		objs = append(objs, v.modelRows[name].obj)
	}
	v.modelsBox.Objects = objs
	v.modelsBox.Refresh()
}

func (v *mainView) newModelRow(name string) *modelRow {
	r := &modelRow{name: name}
	r.nameSeg = &widget.TextSegment{Text: name + "   ", Style: widget.RichTextStyle{TextStyle: fyne.TextStyle{Bold: true}}}
	r.detailSeg = &widget.TextSegment{Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder}}
	r.title = newTwoPart(v.tips, r.nameSeg, r.detailSeg)
	r.serving = newPill("Selected", colorBlue, pillText)
	r.loaded = newPill("Loaded", colorPurple, pillText)
	r.fit = newPill("", colorGreen, pillText)
	r.serve = widget.NewButtonWithIcon("Use", theme.ConfirmIcon(), func() { v.serveModel(name) })
	r.del = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { v.confirmDelete(name) })
	r.del.Importance = widget.DangerImportance
	fit := newTipped(v.tips, r.fit.obj, func() (string, bool) { return r.fitFull, r.fitFull != r.fit.txt.Text })
	right := container.NewHBox(r.serving.obj, r.loaded.obj, fit, container.NewCenter(r.serve), container.NewCenter(r.del))
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
	r.serving.setVisible(serving)
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
	if serving {
		r.serve.Disable()
	} else {
		r.serve.Enable()
	}
	r.obj.Refresh()
}

func (v *mainView) serveModel(name string) {
	go func() {
		v.log.Info("serving model", "model", name)
		err := v.core.SetModel(name)
		st := v.core.Status()
		v.do(func() {
			if err != nil {
				v.showError("Could not serve "+name, err)
			}
			v.refresh(st)
		})
	}()
}

func (v *mainView) updatePullButton() {
	name := strings.TrimSpace(v.pullEntry.Text)
	if name == "" || v.downloads.running(name) {
		v.pullBtn.Disable()
	} else {
		v.pullBtn.Enable()
	}
}

// startPull downloads the model named in the entry.
func (v *mainView) startPull() {
	if !v.downloads.start(strings.TrimSpace(v.pullEntry.Text)) {
		return
	}
	v.pullEntry.SetText("")
	v.updatePullButton()
}

func (v *mainView) renderPulls() { v.pulls.render() }

// downloadsChanged redraws what shows the downloads: a download started
// here shows in the wizard, and the other way round.
func (v *mainView) downloadsChanged() {
	v.renderPulls()
	v.updatePullButton()
	if v.onboard != nil {
		v.onboard.renderPull()
	}
}

// startOnboarding shows the wizard when the owner has not finished or
// skipped it yet; skip (the app was started with --start) never shows it.
// It reports whether it showed the wizard.
func (v *mainView) startOnboarding(skip bool) bool {
	if skip || v.onboard != nil || v.core.Settings().Onboarded {
		return false
	}
	v.log.Info("first run: showing the setup wizard")
	v.onboard = newOnboarding(v.tabEnv, v.downloads, onboardingHooks{
		startAtLogin: v.startAtLogin,
		payoutSaved:  func() { v.earn.reload() },
		finished: func() {
			v.set.load(true)
			if !v.status.State.Started() {
				v.toggle() // Start: serves once the owner is away
			}
		},
	})
	v.onboard.show(v.status)
	return true
}

// showToday gives today's earnings to the Dashboard's strip and the tray.
func (v *mainView) showToday(today earnings.DayTotal, priced bool) {
	if v.now != nil {
		v.now.setToday(today, priced)
	}
	if v.onToday != nil {
		v.onToday(today)
	}
}

// tickTelemetry moves the telemetry graphs on when no status came (the
// app calls it every telemetryTick).
func (v *mainView) tickTelemetry() { v.now.tick(v.clock()) }

// handleEvent folds what an event carries into the view's own state; the
// caller then refreshes from the core's Status.
func (v *mainView) handleEvent(ev worker.Event) {
	switch ev.Type {
	case worker.EventEarnings, worker.EventReceipt, worker.EventNetwork:
		v.earn.reload()
	case worker.EventModels:
		if ev, ok := ev.Data.(worker.ModelEviction); ok && len(ev.Models) > 0 {
			setLabel(v.notice, time.Now().Format("15:04")+"  "+evictionText(ev), widget.WarningImportance)
			v.noticeOn = true
			v.renderStatusLine()
		}
	case worker.EventPull:
		v.downloads.observe(ev)
	case worker.EventError:
		msg := fmt.Sprint(ev.Data)
		if s, ok := ev.Data.(string); ok {
			msg = s
		} else if err, ok := ev.Data.(error); ok {
			v.log.Warn("core error shown", "err", err)
			msg = wordsFor(err).String()
		}
		if msg == "" {
			return
		}
		t := ev.Time
		if t.IsZero() {
			t = time.Now()
		}
		setLabel(v.notice, t.Format("15:04")+"  "+oneLine(msg), widget.WarningImportance)
		v.noticeOn = true
		v.renderStatusLine()
	}
}

// cancelPulls cancels every download this window started (on quit).
func (v *mainView) cancelPulls() { v.downloads.cancelAll() }

// editElectricity opens the Settings tab at the electricity price (the
// Earnings tab's "Change").
func (v *mainView) editElectricity() {
	if v.tabs != nil {
		v.tabs.Select(v.settingsTab)
	}
	if v.win != nil {
		v.win.Canvas().Focus(v.set.tariffEntry)
	}
}

// doAction runs a reason's button.
func (v *mainView) doAction(a whyAction) {
	switch a {
	case actStart:
		v.startSharing()
	case actStartNow:
		v.startNow()
	case actModels:
		v.tabs.SelectIndex(0)
		if v.win != nil && v.pullEntry != nil {
			v.win.Canvas().Focus(v.pullEntry)
		}
	case actSettings:
		if v.settingsTab != nil {
			v.tabs.Select(v.settingsTab)
		}
	}
}

// startSharing calls Core.Start on a goroutine (Start never stops, unlike toggle).
func (v *mainView) startSharing() {
	if v.busy {
		return
	}
	v.busy = true
	v.updateToggle()
	go func() {
		v.log.Info("starting worker")
		err := v.core.Start(v.ctx)
		st := v.core.Status()
		v.do(func() {
			v.busy = false
			if err != nil {
				v.showError("Could not start", err)
			}
			v.refresh(st)
		})
	}()
}
