package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// mainView is the main window's content: the header (state, Start/Stop,
// the status line), the tabs, the window's life and the wiring between
// them. Each tab is its own view, given the window's tabEnv (env.go), never
// mainView; docs/design.md ("The window's code") lists which file holds
// which. It renders a worker.Status and turns clicks into Core calls. All
// its methods run on the Fyne thread; Core calls run on goroutines that
// come back through v.do.
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
	naps naps       // hidden_nap.go
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
	toggleBtn    *widget.Button
	busy         bool // a Start/Stop call is in flight
	notice       *widget.Label
	noticeRow    *fyne.Container
	noticeOn     bool // a notice waits to be dismissed

	// downloads is the state of every download, shared by the Dashboard
	// and the wizard (downloads.go).
	downloads *downloads

	// tabs: Dashboard (the worker), Earnings, Why not earning?, Networks, Settings
	tabs        *container.AppTabs
	dash        *dashboardView // dashboard.go
	earn        *earningsView
	why         *whyView
	whyTab      *container.TabItem
	nets        *networksView
	set         *settingsView
	settingsTab *container.TabItem

	// onboard is the first-run wizard (nil: not shown this run).
	onboard *onboarding
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
		},
		clock: time.Now,
	}
	v.do = v.fyneDo // fyne.Do that also ends a nap (hidden_nap.go)
	v.naps.napper = newChanNapper()
	v.tips = newTipLayer(func(fn func()) { v.do(fn) })
	v.render = v.refresh
	v.downloads = newDownloads(v.tabEnv)
	v.downloads.changed = v.downloadsChanged
	v.dash = newDashboard(v.tabEnv, v.downloads, v.showNotice)
	v.earn = newEarningsView(v.tabEnv, v.showToday, v.editElectricity)
	v.why = newWhyView(v.tabEnv, v.doAction)
	v.set = newSettingsView(v.tabEnv, func() { v.earn.reload() })
	v.nets = newNetworksView(v.tabEnv)
	v.whyTab = container.NewTabItemWithIcon("Why not earning?", theme.QuestionIcon(), v.why.content)
	v.settingsTab = container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), v.set.content)
	v.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Dashboard", theme.ComputerIcon(), v.dash.content),
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

// refresh renders st. It is cheap when little changed: widgets are updated
// in place and rows are only rebuilt when the set of models changes.
func (v *mainView) refresh(st worker.Status) {
	v.status = st
	v.downloads.follow(st)
	if v.skipWhileHidden(st) {
		return
	}
	v.renderHeader()
	v.dash.refresh(st, v.clock())
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
		errText = errorLine(st)
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
	v.dash.now.setToday(today, priced)
	if v.onToday != nil {
		v.onToday(today)
	}
}

// tickTelemetry moves the telemetry graphs on when no status came (the
// app calls it every telemetryTick).
func (v *mainView) tickTelemetry() { v.dash.now.tick(v.clock()) }

// handleEvent folds what an event carries into the view's own state; the
// caller then refreshes from the core's Status.
func (v *mainView) handleEvent(ev worker.Event) {
	switch ev.Type {
	case worker.EventEarnings, worker.EventReceipt, worker.EventNetwork:
		v.earn.reload()
	case worker.EventModels:
		if ev, ok := ev.Data.(worker.ModelEviction); ok && len(ev.Models) > 0 {
			v.showNotice(time.Now().Format("15:04") + "  " + evictionText(ev))
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
		v.showNotice(t.Format("15:04") + "  " + oneLine(msg))
	}
}

// cancelPulls cancels every download this window started (on quit).
func (v *mainView) cancelPulls() { v.downloads.cancelAll() }

// downloadsChanged redraws what shows the downloads: a download started
// on the Dashboard shows in the wizard, and the other way round.
func (v *mainView) downloadsChanged() {
	v.dash.renderPulls()
	v.dash.updatePullButton()
	if v.onboard != nil {
		v.onboard.renderPull()
	}
}

// showNotice shows text in the status line until the owner dismisses it.
func (v *mainView) showNotice(text string) {
	setLabel(v.notice, text, widget.WarningImportance)
	v.noticeOn = true
	v.renderStatusLine()
}

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
		if v.win != nil {
			v.win.Canvas().Focus(v.dash.pullEntry)
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
