package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// The first-run wizard: five short steps in a modal card over the main
// window (the GPU, a model that fits, a quick benchmark, the payout address,
// when to share), then "Start sharing". It is shown while the saved
// settings say the owner has not finished or skipped it (Settings.Onboarded),
// and never again after either (Core.SetOnboarded).
//
// It is not shown when the app was started with --start: the owner already
// chose to share (start at login uses it, and so does scripts/screenshot.sh).

// Wizard steps, in order.
const (
	obGPU = iota
	obModel
	obBench
	obPayout
	obWhen
	obSteps
)

var obStepNames = [obSteps]string{"Your GPU", "Model", "Benchmark", "Payout", "When to share"}

// obCardSize is the wizard card's size when the window has room for it.
var obCardSize = fyne.NewSize(780, 580)

type onboarding struct {
	env   *tabEnv
	hooks onboardingHooks
	// downloads is the window's, shared with the Dashboard.
	downloads *downloads
	status    worker.Status // the last status shown
	pop       *widget.PopUp
	step      int
	open      bool
	// busy: a Core call of the current step is in flight (Next is disabled).
	busy bool
	// finishing: Finish is starting the worker (the wizard closes itself).
	finishing bool

	stepPills []*pill
	stepRow   *fyne.Container
	title     *widget.Label
	pages     [obSteps]fyne.CanvasObject
	body      *fyne.Container
	skipBtn   *widget.Button
	backBtn   *widget.Button
	nextBtn   *widget.Button

	// 1. GPU
	gpuHead   *widget.Label
	gpuDetail *widget.Label
	gpuNote   *widget.Label

	// 2. model
	models    *modelList // drawn as on the Dashboard (model_list.go)
	noModels  *widget.Label
	modelMsg  *widget.Label
	pullEntry *widget.Entry
	pullBtn   *widget.Button
	pullName  string    // the download started here ("" : none)
	pulls     *pullList // every download, as on the Dashboard
	pullMsg   *widget.Label

	// 3. benchmark
	benchModel  *widget.Label
	benchBar    *widget.ProgressBarInfinite
	benchSpeed  *widget.Label
	benchDetail *widget.Label
	benchNote   *widget.Label
	benchErr    *widget.Label
	benchBtn    *widget.Button
	benchCancel context.CancelFunc // non-nil while a benchmark runs
	benchResult *worker.BenchmarkResult
	benchRan    bool // one was started (entering the step starts the first)

	// 4. payout address
	addrEntry *widget.Entry
	addrMsg   *widget.Label
	addrSaved string // what the core has saved

	// 5. when to share
	idleEntry *widget.Entry
	pauseGPU  *widget.Check
	pauseFS   *widget.Check
	atLogin   *widget.Check // start at login (shown when the app can set it)
	idleMsg   *widget.Label
	policy    worker.IdleSettings // the policy in force: schedule and caps are kept
}

// onboardingHooks are what the wizard asks of the rest of the window.
type onboardingHooks struct {
	// startAtLogin turns start at login on (nil: not offered).
	startAtLogin func() error
	// payoutSaved: the owner saved a payout address (the Earnings tab re-reads it).
	payoutSaved func()
	// finished: setup is done and saved; the window starts sharing.
	finished func()
}

func newOnboarding(env *tabEnv, dl *downloads, hooks onboardingHooks) *onboarding {
	o := &onboarding{env: env, downloads: dl, hooks: hooks}
	o.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	o.title.SizeName = theme.SizeNameHeadingText
	o.stepRow = container.NewHBox()
	for i, name := range obStepNames {
		p := newPill(fmt.Sprintf("%d  %s", i+1, name), colorGrey, pillText)
		o.stepPills = append(o.stepPills, p)
		o.stepRow.Add(p.obj)
	}

	o.pages[obGPU] = o.buildGPU()
	o.pages[obModel] = o.buildModel()
	o.pages[obBench] = o.buildBench()
	o.pages[obPayout] = o.buildPayout()
	o.pages[obWhen] = o.buildWhen()
	o.body = container.NewStack(o.pages[:]...)

	o.skipBtn = widget.NewButton("Skip setup", o.skip)
	o.skipBtn.Importance = widget.LowImportance
	o.backBtn = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), o.back)
	o.nextBtn = widget.NewButtonWithIcon("Next", theme.NavigateNextIcon(), o.next)
	o.nextBtn.IconPlacement = widget.ButtonIconTrailingText
	o.nextBtn.Importance = widget.HighImportance

	icon := canvas.NewImageFromResource(iconResource)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSize(36, 36))
	welcome := widget.NewLabelWithStyle("Welcome to Cocoon Desktop", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	welcome.SizeName = theme.SizeNameSubHeadingText
	sub := caption("Five quick steps, then your GPU earns TON while you are away. Everything can be changed later.")
	sub.Wrapping = fyne.TextWrapWord
	head := container.NewVBox(
		container.NewBorder(nil, nil, icon, nil, container.NewVBox(welcome, sub)),
		o.stepRow,
		widget.NewSeparator(),
		o.title)
	buttons := container.NewBorder(nil, nil, o.skipBtn, container.NewHBox(o.backBtn, o.nextBtn))
	card := container.NewBorder(head, container.NewVBox(widget.NewSeparator(), buttons), nil, nil,
		container.NewVScroll(o.body))
	o.pop = widget.NewModalPopUp(container.New(layout.NewCustomPaddedLayout(4, 4, 8, 8), card), env.win.Canvas())
	o.load()
	o.goTo(obGPU)
	return o
}

// load fills the fields from the core's saved settings.
func (o *onboarding) load() {
	set := o.env.core.Settings()
	o.addrSaved = set.PayoutAddress
	o.addrEntry.SetText(set.PayoutAddress)
	o.policy = o.env.core.IdleSettings()
	o.idleEntry.SetText(strconv.FormatFloat(o.policy.IdleMinutes, 'f', -1, 64))
	o.pauseGPU.SetChecked(o.policy.PauseOnGPUUse)
	o.pauseFS.SetChecked(o.policy.PauseOnFullScreen)
}

func (o *onboarding) show(st worker.Status) {
	o.open = true
	size := obCardSize
	if cs := o.env.win.Canvas().Size(); cs.Width > 0 && cs.Height > 0 {
		size = fyne.NewSize(min(size.Width, cs.Width-40), min(size.Height, cs.Height-40))
	}
	o.pop.Resize(size)
	o.pop.Show()
	o.refresh(st)
}

// close hides the wizard and stops what it runs (a download it started goes
// on: the Dashboard shows it).
func (o *onboarding) close() {
	if !o.open {
		return
	}
	o.open = false
	if o.benchCancel != nil {
		o.benchCancel()
	}
	o.pop.Hide()
}

func (o *onboarding) goTo(step int) {
	if step != o.step && o.step == obBench && o.benchCancel != nil {
		o.benchCancel() // leaving the step stops the benchmark
	}
	o.step = step
	for i, p := range o.pages {
		setVisible(p, i == step)
	}
	for i, p := range o.stepPills {
		c := colorGrey
		switch {
		case i == step:
			c = colorBlue
		case i < step:
			c = colorGreen
		}
		p.set(p.txt.Text, c)
	}
	titles := [obSteps]string{
		"Your GPU",
		"Pick a model that fits",
		"Quick benchmark",
		"Where to send your earnings",
		"When to share",
	}
	o.title.SetText(titles[step])
	setVisible(o.backBtn, step > 0)
	if step == obWhen {
		o.nextBtn.IconPlacement = widget.ButtonIconLeadingText
		o.nextBtn.SetText("Start sharing")
		o.nextBtn.SetIcon(theme.MediaPlayIcon())
	} else {
		o.nextBtn.IconPlacement = widget.ButtonIconTrailingText
		o.nextBtn.SetText("Next")
		o.nextBtn.SetIcon(theme.NavigateNextIcon())
	}
	o.updateButtons()
	if step == obBench && !o.benchRan {
		o.runBenchmark()
	}
}

func (o *onboarding) updateButtons() {
	if o.busy {
		o.nextBtn.Disable()
		o.backBtn.Disable()
	} else {
		o.nextBtn.Enable()
		o.backBtn.Enable()
	}
}

func (o *onboarding) back() {
	if o.step > 0 && !o.busy {
		o.goTo(o.step - 1)
	}
}

// next checks the step and moves on; the last step finishes.
func (o *onboarding) next() {
	if o.busy {
		return
	}
	switch o.step {
	case obPayout:
		o.savePayout()
	case obWhen:
		o.finish()
	default:
		o.goTo(o.step + 1)
	}
}

// skip closes the wizard for good.
func (o *onboarding) skip() {
	o.env.log.Info("setup wizard skipped", "step", obStepNames[o.step])
	o.close()
	o.persist()
}

// persist records that the wizard is done, on a goroutine.
func (o *onboarding) persist() {
	core := o.env.core
	go func() {
		err := core.SetOnboarded()
		if err != nil {
			o.env.do(func() { o.env.showError("Could not save that setup is done", err) })
		}
	}()
}

// refresh follows the core's status while the wizard is open.
func (o *onboarding) refresh(st worker.Status) {
	o.status = st
	if !o.open {
		return
	}
	if st.State.Started() && !o.finishing {
		// Sharing was started elsewhere (the tray): the owner has chosen.
		o.env.log.Info("sharing started outside the setup wizard; closing it")
		o.close()
		return
	}
	o.renderGPU(st.GPU)
	o.models.render(st)
	o.renderPull()
	o.renderBenchModel(st)
}

// ---- 1. GPU ----

func (o *onboarding) buildGPU() fyne.CanvasObject {
	o.gpuHead = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	o.gpuHead.Truncation = fyne.TextTruncateEllipsis
	o.gpuDetail = wrapLabel("")
	o.gpuNote = wrapLabel("")
	return container.NewVBox(o.gpuHead, o.gpuDetail, o.gpuNote)
}

func (o *onboarding) renderGPU(snap gpu.Snapshot) {
	if snap.State == gpu.StateOK && len(snap.Devices) > 0 {
		d := snap.Devices[0]
		setLabel(o.gpuHead, d.Name, widget.MediumImportance)
		detail := fmt.Sprintf("%s of video memory, %s free now · %s", humanIBytes(d.MemoryTotal), humanIBytes(d.MemoryFree), driverText(snap))
		if n := len(snap.Devices) - 1; n > 0 {
			detail += fmt.Sprintf("\n%s more: Cocoon uses the first one.", plural(n, "GPU"))
		}
		setLabel(o.gpuDetail, detail, widget.MediumImportance)
		setLabel(o.gpuNote, "Cocoon serves AI models on this GPU while you are away, and gives it back "+
			"(the model unloaded, its memory freed) as soon as you return or start a game. "+
			"The bigger the model that fits in its memory, the more requests it can take.", widget.MediumImportance)
		return
	}
	head := gpuHeadline(snap.State)
	if snap.State == gpu.StateOK {
		head = gpuHeadline(gpu.StateNoDevice)
	}
	setLabel(o.gpuHead, head, widget.WarningImportance)
	setLabel(o.gpuDetail, gpuReason(snap), widget.MediumImportance)
	note := "Without an NVIDIA GPU, Cocoon runs models on the CPU only. That is fine for the local test network " +
		"(it proves everything works, and pays nothing real); earning on the real network needs an NVIDIA GPU with its driver."
	if snap.State == "" {
		note = "Cocoon is still looking at this computer's GPU; this updates by itself."
	}
	setLabel(o.gpuNote, note, widget.MediumImportance)
}

// ---- 2. model ----

func (o *onboarding) buildModel() fyne.CanvasObject {
	intro := wrapLabel("Cocoon serves one model at a time. Pick one that fits in your GPU's memory: " +
		"the badge says whether it does.")
	o.noModels = wrapLabel("No models yet: Cocoon is starting its model runtime, or you can download one below.")
	o.noModels.Importance = widget.LowImportance
	o.models = newModelList(o.env.tips, modelListMode{use: o.chooseModel, chooser: true}, o.noModels)
	o.modelMsg = wrapLabel("")
	o.modelMsg.Hide()

	o.pullEntry = widget.NewEntry()
	o.pullEntry.SetPlaceHolder("Another model, e.g. llama3.2:1b")
	o.pullEntry.OnSubmitted = func(string) { o.startPull() }
	o.pullEntry.OnChanged = func(string) { o.updatePullButton() }
	o.pullBtn = widget.NewButtonWithIcon("Download", theme.DownloadIcon(), o.startPull)
	o.pullBtn.Disable()
	o.pulls = newPullList(o.downloads, o.env.tips)
	o.pullMsg = wrapLabel("")
	o.pullMsg.Hide()
	download := container.NewVBox(
		widget.NewSeparator(),
		container.NewBorder(nil, nil, caption("Download"), o.pullBtn, o.pullEntry),
		o.pulls.obj, o.pullMsg)
	return container.NewVBox(intro, o.models.obj, o.modelMsg, download)
}

func (o *onboarding) chooseModel(name string) {
	core := o.env.core
	go func() {
		err := core.SetModel(name)
		st := core.Status()
		o.env.do(func() {
			if err != nil {
				o.env.log.Warn("setup wizard: could not choose the model", "model", name, "err", err)
				setLabel(o.modelMsg, "Could not choose "+name+": "+wordsFor(err).String(), widget.DangerImportance)
				o.modelMsg.Show()
			} else {
				o.env.log.Info("setup wizard: model chosen", "model", name)
				o.modelMsg.Hide()
				o.benchRan = false // the next visit benchmarks the new model
				o.benchResult = nil
			}
			o.env.render(st)
		})
	}()
}

func (o *onboarding) updatePullButton() {
	name := strings.TrimSpace(o.pullEntry.Text)
	if name == "" || o.pullName != "" {
		o.pullBtn.Disable()
	} else {
		o.pullBtn.Enable()
	}
}

// startPull downloads the named model with the window's downloads (so it
// goes on, and shows, on the Dashboard too) and chooses it when it is done.
func (o *onboarding) startPull() {
	name := strings.TrimSpace(o.pullEntry.Text)
	if name == "" || o.pullName != "" || o.downloads.running(name) {
		return
	}
	o.pullName = name
	o.pullMsg.Hide()
	o.downloads.start(name)
	o.pullEntry.SetText("")
	o.renderPull()
}

// renderPull draws the downloads and, once the one started here has
// ended, says how and chooses the model it brought. A failure stays in
// its row, as on the Dashboard.
func (o *onboarding) renderPull() {
	o.pulls.render()
	name := o.pullName
	if name == "" || o.downloads.running(name) {
		o.updatePullButton()
		return
	}
	o.pullName = ""
	o.updatePullButton()
	switch {
	case o.downloads.errs[name] != "":
		o.pullMsg.Hide()
	case o.downloads.dismissed[name]:
		setLabel(o.pullMsg, "Download of "+name+" cancelled.", widget.MediumImportance)
		o.pullMsg.Show()
	default:
		setLabel(o.pullMsg, name+" is downloaded and chosen.", widget.SuccessImportance)
		o.pullMsg.Show()
		o.chooseModel(name)
	}
}

// ---- 3. benchmark ----

func (o *onboarding) buildBench() fyne.CanvasObject {
	intro := wrapLabel(fmt.Sprintf("Cocoon runs the chosen model on a short prompt (up to %d runs, %d s at most) "+
		"to see how fast this computer answers. Nothing leaves your computer.",
		worker.BenchmarkRuns, int(worker.BenchmarkTimeLimit/time.Second)))
	o.benchModel = widget.NewLabel("")
	o.benchBar = widget.NewProgressBarInfinite()
	o.benchBar.Stop()
	o.benchBar.Hide()
	o.benchSpeed = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	o.benchSpeed.SizeName = theme.SizeNameHeadingText
	o.benchSpeed.Hide()
	o.benchDetail = wrapLabel("")
	o.benchDetail.Hide()
	o.benchNote = wrapLabel("")
	o.benchNote.Hide()
	o.benchErr = wrapLabel("")
	o.benchErr.Importance = widget.DangerImportance
	o.benchErr.Hide()
	o.benchBtn = widget.NewButtonWithIcon("Run benchmark", theme.MediaPlayIcon(), o.toggleBenchmark)
	return container.NewVBox(intro,
		container.NewBorder(nil, nil, nil, o.benchBtn, o.benchModel),
		o.benchBar, o.benchSpeed, o.benchDetail, o.benchNote, o.benchErr)
}

func (o *onboarding) renderBenchModel(st worker.Status) {
	m := st.Model
	if m == "" {
		m = "none chosen yet: pick one in the previous step"
	}
	o.benchModel.SetText("Model: " + m)
}

func (o *onboarding) toggleBenchmark() {
	if o.benchCancel != nil {
		o.benchCancel()
		return
	}
	o.runBenchmark()
}

// runBenchmark runs Core.Benchmark on a goroutine; leaving the step or the
// Cancel button stops it.
func (o *onboarding) runBenchmark() {
	if o.benchCancel != nil {
		return
	}
	o.benchRan = true
	ctx, cancel := context.WithCancel(o.env.ctx)
	o.benchCancel = cancel
	o.benchErr.Hide()
	o.benchBar.Show()
	o.benchBar.Start()
	o.benchBtn.SetText("Cancel")
	o.benchBtn.SetIcon(theme.CancelIcon())
	core := o.env.core
	go func() {
		res, err := core.Benchmark(ctx)
		cancelled := ctx.Err() != nil
		cancel()
		o.env.do(func() {
			o.benchCancel = nil
			o.benchBar.Stop()
			o.benchBar.Hide()
			o.benchBtn.SetText("Run again")
			o.benchBtn.SetIcon(theme.ViewRefreshIcon())
			switch {
			case err != nil && cancelled:
				setLabel(o.benchErr, "Benchmark stopped.", widget.MediumImportance)
				o.benchErr.Show()
			case err != nil:
				o.env.log.Warn("setup wizard: benchmark failed", "err", err)
				setLabel(o.benchErr, "The benchmark did not run: "+benchError(err), widget.DangerImportance)
				o.benchErr.Show()
			default:
				o.benchResult = &res
				o.renderBench(res)
			}
		})
	}()
}

// benchError says what went wrong in plain words.
func benchError(err error) string {
	switch {
	case errors.Is(err, worker.ErrNotReady):
		return "the model runtime (Ollama) is not ready yet. Wait a moment, then Run again."
	case errors.Is(err, worker.ErrBenchmarkBusy):
		return "Cocoon is already sharing; stop it to benchmark."
	case errors.Is(err, ollama.ErrModelNotFound):
		return "no model is chosen. Go back and pick or download one."
	}
	return wordsFor(err).String()
}

func (o *onboarding) renderBench(r worker.BenchmarkResult) {
	o.benchSpeed.SetText(benchSpeedText(r.TokensPerSec))
	o.benchSpeed.Show()
	o.benchDetail.SetText(fmt.Sprintf("First token after %s (%s with loading the model) · %s in %s · %s · measured on %s",
		benchDuration(r.FirstToken), benchDuration(r.FirstTokenCold), plural(r.Runs, "run"),
		benchDuration(r.Took), plural(r.Tokens, "token"), r.MeasuredOn()))
	o.benchDetail.Show()
	note := benchVerdict(r.TokensPerSec) + " You are paid per token you generate for the network's users, " +
		"so what you earn depends on demand as well as on this speed."
	if p := o.status.Placement; p.OnCPUWithGPU() {
		note += " " + p.Warning
	}
	if o.status.Network.Local {
		note += " The local test network pays nothing real."
	}
	o.benchNote.SetText(note)
	o.benchNote.Show()
}

// benchSpeedText is "42.5 tokens/s".
func benchSpeedText(tps float64) string {
	switch {
	case tps >= 100:
		return fmt.Sprintf("%.0f tokens/s", tps)
	case tps >= 10:
		return fmt.Sprintf("%.1f tokens/s", tps)
	}
	return fmt.Sprintf("%.2f tokens/s", tps)
}

func benchDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// benchVerdict puts a speed in words (a person reads about 5–10 tokens/s).
func benchVerdict(tps float64) string {
	switch {
	case tps >= 30:
		return "Fast: answers stream much faster than anyone reads."
	case tps >= 10:
		return "Good: answers stream faster than people read."
	case tps >= 3:
		return "Usable, but slow: a smaller model would answer faster."
	}
	return "Very slow: try a smaller model, or an NVIDIA GPU."
}

// ---- 4. payout address ----

func (o *onboarding) buildPayout() fyne.CanvasObject {
	intro := wrapLabel("Optional: the TON wallet your earnings are paid to (e.g. from Tonkeeper). " +
		"Leave it empty to add it later in Settings; what you earn meanwhile is kept.")
	o.addrEntry = widget.NewEntry()
	o.addrEntry.SetPlaceHolder("UQ… or EQ… (your TON wallet)")
	o.addrEntry.OnSubmitted = func(string) { o.next() }
	o.addrEntry.OnChanged = func(string) { o.addrMsg.Hide() }
	o.addrMsg = wrapLabel("")
	o.addrMsg.Hide()
	return container.NewVBox(intro, container.NewBorder(nil, nil, caption("Payout address"), nil, o.addrEntry), o.addrMsg)
}

// savePayout validates and saves the address (if one was entered and it
// changed), then moves on. An error stays on the step; a warning is shown
// once, and Next again moves on.
func (o *onboarding) savePayout() {
	addr := strings.TrimSpace(o.addrEntry.Text)
	if addr == "" || addr == o.addrSaved {
		o.goTo(obWhen)
		return
	}
	o.busy = true
	o.updateButtons()
	core := o.env.core
	go func() {
		a, err := core.SetPayoutAddress(addr)
		msg := ""
		var ae *ton.AddressError
		if errors.As(err, &ae) {
			msg = ae.Error() // says what is wrong with this address
		} else if err != nil {
			o.env.log.Warn("setup wizard: could not save the payout address", "err", err)
			msg = wordsFor(err).String()
		}
		o.env.do(func() {
			o.busy = false
			o.updateButtons()
			if err != nil {
				setLabel(o.addrMsg, msg, widget.DangerImportance)
				o.addrMsg.Show()
				return
			}
			o.addrSaved = addr
			o.hooks.payoutSaved()
			if w := a.Warnings(); len(w) > 0 {
				setLabel(o.addrMsg, "Saved. "+strings.Join(w, " "), widget.WarningImportance)
				o.addrMsg.Show()
				return
			}
			o.goTo(obWhen)
		})
	}()
}

// ---- 5. when to share ----

func (o *onboarding) buildWhen() fyne.CanvasObject {
	intro := wrapLabel("Cocoon only shares your GPU while you are away, and stops the moment you are back.")
	o.idleEntry = widget.NewEntry()
	o.idleEntry.SetPlaceHolder("5")
	o.idleEntry.OnSubmitted = func(string) { o.next() }
	o.idleEntry.OnChanged = func(string) { o.idleMsg.Hide() }
	o.pauseGPU = widget.NewCheck("Pause while other apps (games) use the GPU", nil)
	o.pauseFS = widget.NewCheck("Pause while a window is full screen (movies, games)", nil)
	// Checked: a reboot should not end the earning (sharing itself resumes
	// at the next launch; this makes the launch happen).
	o.atLogin = widget.NewCheck("Start Cocoon Desktop when I log in", nil)
	o.atLogin.SetChecked(true)
	setVisible(o.atLogin, o.hooks.startAtLogin != nil)
	o.idleMsg = wrapLabel("")
	o.idleMsg.Importance = widget.DangerImportance
	o.idleMsg.Hide()
	idleRow := container.NewHBox(caption("Start after"),
		container.NewGridWrap(fyne.NewSize(90, o.idleEntry.MinSize().Height), o.idleEntry),
		container.NewCenter(caption("minutes without keyboard or mouse input")))
	outro := caption("\"Start sharing\" does not take your GPU now: Cocoon waits until you are away. " +
		"Start and Stop are always in the window and the tray; schedules and limits are in Settings.")
	outro.Wrapping = fyne.TextWrapWord
	return container.NewVBox(intro, idleRow, o.idleMsg, o.pauseGPU, o.pauseFS, o.atLogin, widget.NewSeparator(), outro)
}

// finish saves the idle policy, records that setup is done and starts sharing
// (which waits for the owner to be away).
func (o *onboarding) finish() {
	f := settingsForm{
		idleMin: o.idleEntry.Text, pauseGPU: o.pauseGPU.Checked, pauseFS: o.pauseFS.Checked,
		schedule: o.policy.Schedule, tempC: strconv.Itoa(o.policy.MaxTemperatureC),
		powerW: strconv.FormatFloat(o.policy.MaxPowerW, 'f', -1, 64), vramMB: strconv.FormatUint(o.policy.VRAMReserveMB, 10),
	}
	p, bad := parsePolicy(f)
	if msg := bad[worker.FieldIdleMinutes]; msg != "" {
		o.showIdleProblem(msg)
		return
	}
	if len(bad) > 0 { // a saved schedule or cap the wizard does not show: keep what is saved
		p = o.policy
		if m, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(o.idleEntry.Text), ",", "."), 64); err == nil {
			p.IdleMinutes = m
		}
		p.PauseOnGPUUse, p.PauseOnFullScreen = o.pauseGPU.Checked, o.pauseFS.Checked
	}
	o.busy = true
	o.updateButtons()
	core := o.env.core
	var atLogin func() error
	if o.hooks.startAtLogin != nil && o.atLogin.Checked {
		atLogin = o.hooks.startAtLogin
	}
	go func() {
		err := core.SetIdleSettings(p)
		var saveErr, loginErr error
		if err == nil {
			saveErr = core.SetOnboarded()
			if atLogin != nil {
				loginErr = atLogin()
			}
		}
		o.env.do(func() {
			o.busy = false
			o.updateButtons()
			if err != nil {
				msg := wordsFor(err).String()
				if fes := worker.FieldErrors(err); len(fes) > 0 {
					msg = fes[0].Problem
				}
				o.showIdleProblem(msg)
				return
			}
			if saveErr != nil {
				o.env.showError("Could not save that setup is done", saveErr)
			}
			if loginErr != nil {
				o.env.showError("Could not set Cocoon Desktop to start when you log in", loginErr)
			}
			o.env.log.Info("setup wizard finished; starting to share")
			o.finishing = true
			o.close()
			o.hooks.finished()
		})
	}()
}

func (o *onboarding) showIdleProblem(msg string) {
	setLabel(o.idleMsg, msg, widget.DangerImportance)
	o.idleMsg.Show()
}
