package app

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// dashboardView is the Dashboard tab: the "now" strip, the GPU, Ollama,
// Models (with storage and downloads) and Network panels. It renders a
// worker.Status and turns clicks into Core calls through its tabEnv; its
// methods run on the Fyne thread.
//
// Widget fields are reachable from tests in this package, so tests find
// what they check without walking the widget tree.
type dashboardView struct {
	env     *tabEnv
	content fyne.CanvasObject
	status  worker.Status // the last status shown
	// notify shows a notice in the window's status line (after a delete).
	notify func(text string)

	// the "now" strip: job, today's earnings, telemetry graphs
	now *nowStrip

	// GPU panel
	gpuOK     *fyne.Container // shown when a GPU is usable
	gpuNone   *fyne.Container // shown otherwise
	gpuName   *widget.Label
	gpuCC     *pill
	gpuMore   *dimLabel // "+1 more GPU"
	vramBar   *widget.ProgressBar
	vramLabel string
	gpuDriver *dimLabel
	gpuTemp   *widget.Label
	gpuPower  *widget.Label
	gpuUtil   *widget.Label
	gpuProcs  *widget.Label
	gpuHead   *widget.Label // headline when no GPU
	gpuReason *widget.Label
	gpuErrors *dimLabel

	// Ollama panel
	ollamaPill    *pill
	ollamaVersion *widget.Label
	ollamaMode    *widget.Label
	ollamaAddr    *widget.Label
	ollamaRunsOn  *widget.Label
	ollamaErr     *widget.Label

	// models
	models   *modelList    // model_list.go
	noModels *widget.Label // the empty list's hint
	storage  storageWidgets
	confirm  *dialog.ConfirmDialog // the last delete confirmation shown
	builtin  builtinOffer          // the built-in model back, when no model is left (model_delete.go)

	// downloads: the window's, shared with the wizard; pulls draws them here
	downloads *downloads
	pullEntry *widget.Entry
	pullBtn   *widget.Button
	pulls     *pullList

	// Network panel (network_view.go)
	net networkWidgets
}

func newDashboard(env *tabEnv, dl *downloads, notify func(string)) *dashboardView {
	d := &dashboardView{env: env, downloads: dl, notify: notify}
	d.now = newNowStrip(env.tips)
	// The Dashboard scrolls when the window is too short for all of it; the
	// Models panel comes before the Network panel (on a 640-high screen it
	// starts on the first page) and takes whatever height is left over.
	d.content = container.NewVScroll(container.NewBorder(
		container.NewVBox(d.now.obj, newColumns(d.buildGPU(), d.buildOllama())), d.buildNetwork(), nil, nil,
		d.buildModels()))
	return d
}

// refresh renders st (now is the telemetry graphs' time). It is cheap when
// little changed: widgets are updated in place and rows are only rebuilt
// when the set of models changes.
func (d *dashboardView) refresh(st worker.Status, now time.Time) {
	d.status = st
	d.now.render(st, now)
	d.renderGPU(st.GPU)
	d.renderOllama(st.Ollama)
	d.renderRunsOn(st.Placement, st.Ollama)
	d.renderNetwork(st)
	d.models.render(st)
	d.renderStorage()
	d.renderPulls()
}

func (d *dashboardView) buildGPU() fyne.CanvasObject {
	d.gpuName = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.gpuCC = newPill("Confidential computing", colorPurple, pillText)
	d.gpuCC.setVisible(false)
	d.gpuMore = newDim("")
	d.gpuMore.Hide()
	d.vramBar = widget.NewProgressBar()
	d.vramBar.TextFormatter = func() string { return d.vramLabel }
	d.gpuDriver = newDim("")
	d.gpuDriver.seg.Style.Alignment = fyne.TextAlignTrailing
	d.gpuTemp = widget.NewLabel("")
	d.gpuPower = widget.NewLabel("")
	d.gpuUtil = widget.NewLabel("")
	d.gpuProcs = widget.NewLabel("")
	d.gpuErrors = newDim("")
	d.gpuErrors.Wrapping = fyne.TextWrapWord
	d.gpuErrors.Hide()

	stat := func(name string, l *widget.Label) fyne.CanvasObject {
		return container.NewHBox(caption(name), l)
	}
	telemetry := container.NewHBox(stat("Temp", d.gpuTemp), stat("Power", d.gpuPower), stat("Load", d.gpuUtil))
	d.gpuOK = container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(d.gpuMore.RichText, d.gpuCC.obj), d.env.tips.tipLabel(d.gpuName)),
		container.NewBorder(nil, nil, caption("VRAM"), nil, d.vramBar),
		telemetry,
		container.NewBorder(nil, nil, caption("Also using it"), nil, d.env.tips.tipLabel(d.gpuProcs)),
		d.gpuErrors.RichText,
	)
	d.gpuHead = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.gpuHead.Importance = widget.WarningImportance
	d.gpuReason = wrapLabel("")
	d.gpuNone = container.NewVBox(
		container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, d.gpuHead),
		d.gpuReason)
	d.gpuOK.Hide()
	// The driver line sits right of the title, cut when the panel is narrow.
	return panel("GPU", d.env.tips.tipRich(d.gpuDriver.RichText), container.NewStack(d.gpuOK, d.gpuNone))
}

func (d *dashboardView) buildOllama() fyne.CanvasObject {
	d.ollamaPill = newPill("Checking…", colorGrey, pillText)
	d.ollamaVersion = widget.NewLabel("—")
	d.ollamaMode = widget.NewLabel("—")
	d.ollamaAddr = widget.NewLabel("—")
	d.ollamaRunsOn = widget.NewLabel("—")
	d.ollamaErr = wrapLabel("")
	d.ollamaErr.Importance = widget.DangerImportance
	d.ollamaErr.Hide()
	form := container.New(layout.NewFormLayout(),
		caption("Version"), d.env.tips.tipLabel(d.ollamaVersion),
		caption("Mode"), d.env.tips.tipLabel(d.ollamaMode),
		caption("Address"), d.env.tips.tipLabel(d.ollamaAddr),
		caption("Runs on"), d.env.tips.tipLabel(d.ollamaRunsOn))
	p := panel("Ollama", d.ollamaPill.obj, container.NewVBox(form, d.ollamaErr))
	d.ollamaPill.parent = p
	return p
}

func (d *dashboardView) buildModels() fyne.CanvasObject {
	d.noModels = wrapLabel("No models yet. Download one below, e.g. llama3.2:1b.")
	d.noModels.Importance = widget.LowImportance
	d.models = newModelList(d.env.tips, modelListMode{use: d.serveModel, del: d.confirmDelete}, d.noModels, d.newBuiltinOffer())

	d.pullEntry = widget.NewEntry()
	d.pullEntry.SetPlaceHolder("Model name, e.g. llama3.2:1b")
	d.pullEntry.OnSubmitted = func(string) { d.startPull() }
	d.pullEntry.OnChanged = func(string) { d.updatePullButton() }
	d.pullBtn = widget.NewButtonWithIcon("Download", theme.DownloadIcon(), d.startPull)
	d.pullBtn.Importance = widget.MediumImportance
	d.pullBtn.Disable()
	d.pulls = newPullList(d.downloads, d.env.tips)

	download := container.NewVBox(
		widget.NewSeparator(),
		d.buildStorage(),
		container.NewBorder(nil, nil, caption("Download model"), d.pullBtn, d.pullEntry),
		d.pulls.obj)
	// No scroll of its own: the Dashboard scrolls when the list is long.
	return panel("Models", nil, container.NewBorder(nil, download, nil, nil, container.NewVBox(d.models.obj)))
}

func (d *dashboardView) renderGPU(snap gpu.Snapshot) {
	ok := snap.State == gpu.StateOK && len(snap.Devices) > 0
	setVisible(d.gpuOK, ok)
	setVisible(d.gpuNone, !ok)
	if !ok {
		head := gpuHeadline(snap.State)
		if snap.State == gpu.StateOK { // ok but no devices: say so
			head = gpuHeadline(gpu.StateNoDevice)
		}
		setLabel(d.gpuHead, head, widget.WarningImportance)
		setLabel(d.gpuReason, gpuReason(snap), widget.MediumImportance)
		return
	}
	dev := snap.Devices[0]
	setLabel(d.gpuName, dev.Name, widget.MediumImportance)
	d.gpuCC.setVisible(dev.ConfidentialCompute)
	more := ""
	if n := len(snap.Devices) - 1; n == 1 {
		more = "+1 more GPU"
	} else if n > 1 {
		more = fmt.Sprintf("+%d more GPUs", n)
	}
	d.gpuMore.set(more, theme.ColorNamePlaceHolder)
	setVisible(d.gpuMore, more != "")
	d.vramLabel = vramText(dev)
	d.vramBar.SetValue(vramFraction(dev)) // also refreshes the text
	d.vramBar.Refresh()
	d.gpuDriver.set(driverText(snap), theme.ColorNamePlaceHolder)
	tempImp := widget.MediumImportance
	if dev.TemperatureC >= 85 {
		tempImp = widget.DangerImportance
	}
	setLabel(d.gpuTemp, fmt.Sprintf("%d °C", dev.TemperatureC), tempImp)
	setLabel(d.gpuPower, powerText(dev), widget.MediumImportance)
	setLabel(d.gpuUtil, fmt.Sprintf("%d%%", dev.UtilizationGPU), widget.MediumImportance)
	procs := processText(dev.Processes)
	setLabel(d.gpuProcs, strings.ReplaceAll(procs, "\n", "; "), widget.MediumImportance)
	errs := strings.Join(dev.Errors, "; ")
	d.gpuErrors.set(errs, theme.ColorNamePlaceHolder)
	setVisible(d.gpuErrors, errs != "")
}

func (d *dashboardView) renderOllama(o ollama.Status) {
	if o.Reachable {
		d.ollamaPill.set("Reachable", colorGreen)
	} else if o.Error == "" && o.Address == "" && o.Version == "" {
		d.ollamaPill.set("Not started", colorGrey)
	} else {
		d.ollamaPill.set("Not reachable", colorRed)
	}
	version := o.Version
	if version == "" {
		version = "—"
	}
	setLabel(d.ollamaVersion, version, widget.MediumImportance)
	mode := ollamaMode(o.Mode)
	if o.Mode == ollama.ModeManaged && o.PID > 0 {
		mode += fmt.Sprintf(" (pid %d)", o.PID)
	}
	if o.Restarts > 0 {
		mode += fmt.Sprintf(", restarted %d×", o.Restarts)
	}
	mode += ollamaSourceSuffix(o.Source)
	setLabel(d.ollamaMode, mode, widget.MediumImportance)
	addr := o.Address
	if addr == "" {
		addr = "—"
	}
	setLabel(d.ollamaAddr, addr, widget.MediumImportance)
	setLabel(d.ollamaErr, o.Error, widget.DangerImportance)
	setVisible(d.ollamaErr, o.Error != "")
}

// renderRunsOn says where the served model runs; red when a GPU is
// present but the model runs (partly) on the CPU.
func (d *dashboardView) renderRunsOn(p worker.Placement, o ollama.Status) {
	imp := widget.MediumImportance
	if p.OnCPUWithGPU() {
		imp = widget.DangerImportance
	}
	setLabel(d.ollamaRunsOn, runsOnText(p, o), imp)
}

func (d *dashboardView) serveModel(name string) {
	go func() {
		d.env.log.Info("serving model", "model", name)
		err := d.env.core.SetModel(name)
		st := d.env.core.Status()
		d.env.do(func() {
			if err != nil {
				d.env.showError("Could not serve "+name, err)
			}
			d.env.render(st)
		})
	}()
}

func (d *dashboardView) updatePullButton() {
	name := strings.TrimSpace(d.pullEntry.Text)
	if name == "" || d.downloads.running(name) {
		d.pullBtn.Disable()
	} else {
		d.pullBtn.Enable()
	}
}

// startPull downloads the model named in the entry.
func (d *dashboardView) startPull() {
	if !d.downloads.start(strings.TrimSpace(d.pullEntry.Text)) {
		return
	}
	d.pullEntry.SetText("")
	d.updatePullButton()
}

func (d *dashboardView) renderPulls() { d.pulls.render() }
