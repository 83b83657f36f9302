// Package app is Cocoon Desktop's graphical front end: the main window and
// the system-tray icon, built with Fyne.
//
// It is deliberately thin. It renders the worker core's Status, re-reading
// it after every event the core publishes, and turns the owner's clicks into
// Core calls made on goroutines. Every widget update from a goroutine goes
// through fyne.Do. This is the only package of the project that imports
// fyne.io; errors become dialogs here and nowhere else.
package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/systray"

	"github.com/cocoon-desktop/cocoon-desktop/assets"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// AppID is the application's unique ID (as in FyneApp.toml).
const AppID = "org.cocoondesktop.app"

// Options configure Run.
type Options struct {
	// Tray shows a system-tray icon. Pass TrayAvailable()'s result: setting
	// up a tray without a StatusNotifierWatcher on DBus makes Quit panic.
	// With a tray, closing the window hides it; without one, it quits.
	Tray bool
	// StartHidden starts with only the tray icon (ignored without a tray).
	StartHidden bool
	// Logger receives the GUI's logs; nil discards them.
	Logger *slog.Logger
	// OnQuit, if set, is called once when the GUI has quit, before Run returns.
	OnQuit func()
	// Activate, if set, shows and focuses the window on each receive (a
	// second launch of the app asked for it; see internal/single).
	Activate <-chan struct{}
	// NoNotifications turns off desktop notifications.
	NoNotifications bool
	// NoOnboarding never shows the first-run wizard (the command line sets
	// it for --start: the owner already chose to share). It is not shown
	// either once the owner finished or skipped it (Settings.Onboarded).
	NoOnboarding bool
	// StartAtLogin turns starting at login on (the first-run wizard offers
	// it at its end, checked); nil: not offered (tests, unsupported systems).
	StartAtLogin func() error
	// QuitStuck, if set, is called (on another goroutine) when the GUI has
	// not come back out of Fyne within quitStuckAfter of the start of a
	// quit (see watchQuit): Run cannot return then, its goroutine is held
	// in Fyne, so QuitStuck should end the program after its own clean-up.
	// The GUI's loops are stopped before it is called; downloads end with
	// the context given to Run. Nil: Run logs it and goes on waiting.
	QuitStuck func()
}

var (
	iconResource        = fyne.NewStaticResource("icon.png", assets.Icon)
	trayStoppedResource = fyne.NewStaticResource("tray-stopped.png", assets.TrayStopped)
	trayRunningResource = fyne.NewStaticResource("tray-running.png", assets.TrayRunning)
	trayErrorResource   = fyne.NewStaticResource("tray-error.png", assets.TrayError)
)

// eventBuffer is how many core events may queue before the core drops some;
// the GUI only needs to know that something changed.
const eventBuffer = 64

// quitSettle is how long a hidden window has to drain its queued input
// events before the app quits (a few frames of Fyne's 60 Hz loop).
const quitSettle = 100 * time.Millisecond

// viewMadeForTest, when set (by a test binary running the real app), is
// given the window's view once it exists, so the test can read its widgets.
var viewMadeForTest func(v *mainView)

// Run shows the GUI and blocks until it quits: from the Quit menu, by
// closing the window when there is no tray, or because ctx was cancelled
// (then it quits the app itself). It must be called from the main goroutine
// and at most once per process.
func Run(ctx context.Context, core Core, opts Options) error {
	if core == nil {
		return errors.New("app: nil core")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "gui")

	if guardSessionBus() == disabledBusAddress {
		// Fyne would print an error for each notification.
		log.Info("no DBus session bus: no tray, desktop notifications or theme portal (none is started)")
		opts.NoNotifications = true
	}
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(iconResource)
	// The main window can be dropped while hidden and made again (liveWindow).
	w := newLiveWindow(a, "Cocoon Desktop")
	w.SetIcon(iconResource)

	v := newMainView(core, w)
	v.ctx = ctx
	v.log = log
	v.startAtLogin = opts.StartAtLogin
	if viewMadeForTest != nil {
		viewMadeForTest(v)
	}
	w.SetContent(v.content)
	w.Resize(fyne.NewSize(1180, 720))

	// quit hides the window first and quits a moment later: Fyne 2.7.1
	// dispatches pointer events still queued for a window it is closing,
	// and one that changes the cursor (over an entry) dereferences the
	// closed window and crashes the process at quit.
	quitBegan := newQuitStart()
	quit := func() {
		quitBegan.begin()
		w.Hide()
		time.AfterFunc(quitSettle, func() { v.fyneDo(a.Quit) }) // not held back by a nap
	}

	var tray *trayMenu
	if opts.Tray {
		if desk, ok := a.(desktop.App); ok {
			tray = newTrayMenu(desk, v, v.showWindow, quit)
			v.onToday = tray.setToday
			// Once the platform tray exists (Windows' refuses a tooltip before).
			a.Lifecycle().SetOnStarted(func() { tray.showTooltips(systrayTooltip) })
			log.Debug("system tray enabled")
		} else {
			log.Warn("system tray not supported by this driver")
		}
	}
	if tray == nil {
		w.SetMaster() // closing the window quits (after asking, while sharing)
	}
	v.life.tray, v.life.quit, v.life.prefs = tray != nil, quit, a.Preferences()
	if !opts.NoNotifications {
		v.life.notify = func(title, content string) { a.SendNotification(fyne.NewNotification(title, content)) }
	}
	w.SetCloseIntercept(v.closeRequested)
	notes := newNotifier()
	var lastSt worker.Status
	v.onRender = func(st worker.Status, busy bool) {
		if tray != nil {
			tray.update(st, busy)
		}
		if ns := notes.notificationsFor(lastSt, st, time.Now()); len(ns) > 0 && !opts.NoNotifications {
			log.Info("desktop notification", "count", len(ns), "first", ns[0].Title)
			sendNotifications(ns)
		}
		lastSt = st
	}
	v.refresh(core.Status())

	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	v.life.hiddenNow = make(chan struct{}, 1)
	v.life.shownNow = make(chan struct{}, 1)
	napsDone := make(chan struct{})
	// The input idle time lets a shown window nobody uses nap too (its own
	// X connection: the core's is the core's).
	input, err := idle.NewSystemIdle()
	if err != nil {
		log.Debug("no input idle source for the window", "err", err)
		input = nil
	} else if c, ok := input.(io.Closer); ok {
		defer c.Close()
	}
	v.naps.napper = newGLFWNapper()
	var menuOpens <-chan struct{}
	if tray != nil && trayTellsMenuOpen {
		menuOpens = systray.TrayOpenedCh
	}
	go func() { defer close(napsDone); v.runNaps(loopCtx, input, menuOpens) }()
	events, unsubscribe := core.Subscribe(eventBuffer)
	defer unsubscribe()
	go watch(loopCtx, core, events, v.do, v.life.hidden.Load, func(evs []worker.Event, st worker.Status) {
		for _, ev := range evs {
			v.handleEvent(ev)
		}
		if v.paceReasonTick(evs, st) {
			return
		}
		v.refresh(st)
	})
	go func() { // the telemetry graphs move on while the card is unchanged
		t := time.NewTicker(telemetryTick)
		defer t.Stop()
		for {
			if v.life.hidden.Load() { // nothing to draw them on: no ticks until shown
				t.Stop()
				select {
				case <-loopCtx.Done():
					return
				case <-v.life.shownNow:
				}
				t.Reset(telemetryTick)
				continue
			}
			select {
			case <-loopCtx.Done():
				return
			case <-t.C:
				// No card, no graphs: nothing to move (and no wake of the Fyne thread).
				if g := core.Status().GPU; !v.life.hidden.Load() && g.State == gpu.StateOK && len(g.Devices) > 0 {
					v.do(v.tickTelemetry)
				}
			}
		}
	}()
	if opts.Activate != nil {
		go func() {
			for {
				select {
				case <-loopCtx.Done():
					return
				case <-opts.Activate:
					log.Info("another launch asked to show the window")
					v.do(func() { v.showWindow(); w.RequestFocus() })
				}
			}
		}()
	}
	go func() {
		<-loopCtx.Done()
		if ctx.Err() != nil {
			log.Info("context cancelled, quitting GUI")
			quitBegan.begin() // v.do may never run quit if Fyne is stopping already (SIGTERM)
			v.do(quit)
		}
	}()
	finished := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		watchQuit(quitBegan.c, finished, quitStuckAfter, func() {
			log.Error("the GUI did not finish quitting: Fyne holds the main goroutine; ending without it", "after", quitStuckAfter)
			stopLoop() // downloads end with the caller's context (their list is the Fyne thread's)
			if opts.QuitStuck != nil {
				opts.QuitStuck()
			}
		})
	}()

	if opts.StartHidden && tray != nil {
		log.Info("starting hidden in the system tray")
		v.markHidden()
	} else {
		w.Show()
	}
	// After Show, so the wizard is centred in the window's real size.
	v.startOnboarding(opts.NoOnboarding)
	a.Run()

	stopLoop()
	<-napsDone
	v.cancelPulls()
	close(finished)
	<-watchDone
	log.Info("GUI closed")
	if opts.OnQuit != nil {
		opts.OnQuit()
	}
	return nil
}

// watch turns core events into renders: after each event (and any that
// queued behind it) it reads the core's Status once and hands both to
// apply on the Fyne thread through do.
//
// A batch of state events whose status differs from the last one handed
// over only in its reasons' wording is dropped here, without waking the
// Fyne thread, while quiet reports true (the window is hidden) — the tray
// only shows the reasons' codes and programs — and otherwise unless
// reasonTickPace has passed since the last such one was handed over. The
// core publishes one at every poll while it waits ("… 12 s ago"). With
// quiet nil (tests) every batch is handed over.
func watch(ctx context.Context, core Core, events <-chan worker.Event, do func(func()), quiet func() bool, apply func([]worker.Event, worker.Status)) {
	var (
		last     worker.Status
		handed   bool
		lastTick time.Time // when a wording-only status was last handed over
	)
	for {
		var evs []worker.Event
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			evs = append(evs, ev)
		}
	drain:
		for len(evs) < eventBuffer {
			select {
			case ev, ok := <-events:
				if !ok {
					break drain
				}
				evs = append(evs, ev)
			default:
				break drain
			}
		}
		st := core.Status()
		if handed && quiet != nil && onlyStateEvents(evs) && onlyReasonTextsDiffer(last, st) {
			if quiet() {
				continue
			}
			// Shown, such a status renders at most every reasonTickPace
			// (paceReasonTick): the ones in between need not wake the Fyne thread.
			if now := time.Now(); now.Sub(lastTick) < reasonTickPace && !now.Before(lastTick) {
				continue
			}
			lastTick = time.Now()
		}
		last, handed = st, true
		do(func() { apply(evs, st) })
	}
}

func onlyStateEvents(evs []worker.Event) bool {
	for _, ev := range evs {
		if ev.Type != worker.EventState {
			return false
		}
	}
	return true
}
