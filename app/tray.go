package app

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// trayPause is how long the tray's "Pause for 1 hour" pauses serving.
const trayPause = time.Hour

// Tray menu labels (the DBus tray test finds items by them).
const (
	trayStartLabel    = "Start sharing"
	trayStopLabel     = "Stop sharing"
	trayStartNowLabel = "Start now"
	trayPauseLabel    = "Pause for 1 hour"
	trayOpenLabel     = "Open Cocoon Desktop"
	trayQuitLabel     = "Quit"
)

// trayMenu is the system-tray icon and its menu; it follows the worker state.
type trayMenu struct {
	desk     desktop.App
	menu     *fyne.Menu
	state    *fyne.MenuItem // disabled line: "Cocoon: serving · 12 jobs"
	toggle   *fyne.MenuItem // Start / Stop
	startNow *fyne.MenuItem // while waiting or paused: serve without waiting
	pause    *fyne.MenuItem // while started: pause for an hour
	open     *fyne.MenuItem
	network  *fyne.MenuItem // "Network: <name>", disabled
	quit     *fyne.MenuItem
	icon     fyne.Resource
}

// newTrayMenu installs the tray. Only call it when TrayAvailable says so.
func newTrayMenu(desk desktop.App, v *mainView, show, quit func()) *trayMenu {
	t := &trayMenu{desk: desk}
	t.state = fyne.NewMenuItem(trayStateLine(worker.StateStopped, ""), nil)
	t.state.Disabled = true
	t.network = fyne.NewMenuItem(networkLine(worker.NetworkStatus{}), nil)
	t.network.Disabled = true
	t.toggle = fyne.NewMenuItem(trayStartLabel, v.toggle)
	t.startNow = fyne.NewMenuItem(trayStartNowLabel, v.startNow)
	t.pause = fyne.NewMenuItem(trayPauseLabel, func() { v.pauseFor(trayPause) })
	t.open = fyne.NewMenuItem(trayOpenLabel, show)
	t.quit = fyne.NewMenuItem(trayQuitLabel, quit)
	t.quit.IsQuit = true
	t.menu = fyne.NewMenu("Cocoon Desktop")
	t.menu.Items = t.items(worker.StateStopped, false)
	desk.SetSystemTrayMenu(t.menu)
	t.setIcon(trayIcon(worker.StateStopped))
	return t
}

// items is the menu for a state: "Start now" only while the worker waits
// or is paused, "Pause for 1 hour" only while it is started.
func (t *trayMenu) items(s worker.State, busy bool) []*fyne.MenuItem {
	out := []*fyne.MenuItem{t.state, t.network, fyne.NewMenuItemSeparator(), t.toggle}
	if !busy && (s == worker.StateWaiting || s == worker.StatePaused) {
		out = append(out, t.startNow)
	}
	if !busy && startedState(s) && s != worker.StateError {
		out = append(out, t.pause)
	}
	return append(out, fyne.NewMenuItemSeparator(), t.open, fyne.NewMenuItemSeparator(), t.quit)
}

// update relabels the menu and swaps the icon, touching the tray only when
// something visible changed (a menu refresh rebuilds the whole native menu).
func (t *trayMenu) update(st worker.Status, busy bool) {
	stateLine := trayStatusLine(st)
	toggle := trayStartLabel
	if startedState(st.State) {
		toggle = trayStopLabel
	}
	if busy {
		if startedState(st.State) {
			toggle = "Stopping…"
		} else {
			toggle = "Starting…"
		}
	}
	items := t.items(st.State, busy)
	netLine := networkLine(st.Network)
	if t.state.Label != stateLine || t.network.Label != netLine || t.toggle.Label != toggle || t.toggle.Disabled != busy || !sameItems(t.menu.Items, items) {
		t.state.Label = stateLine
		t.network.Label = netLine
		t.toggle.Label = toggle
		t.toggle.Disabled = busy
		t.menu.Items = items
		t.menu.Refresh()
	}
	t.setIcon(trayIcon(st.State))
}

// sameItems compares menus by their non-separator items.
func sameItems(a, b []*fyne.MenuItem) bool {
	strip := func(in []*fyne.MenuItem) []*fyne.MenuItem {
		var out []*fyne.MenuItem
		for _, it := range in {
			if !it.IsSeparator {
				out = append(out, it)
			}
		}
		return out
	}
	a, b = strip(a), strip(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (t *trayMenu) setIcon(r fyne.Resource) {
	if t.icon == r {
		return
	}
	t.icon = r
	t.desk.SetSystemTrayIcon(r)
}

// trayStatusLine is the menu's first, disabled line for a status:
// "Cocoon: serving · 12 jobs", "Cocoon: paused — you are using the PC".
func trayStatusLine(st worker.Status) string {
	switch st.State {
	case worker.StateServing:
		line := trayStateLine(st.State, "")
		switch n := st.Jobs.Completed; {
		case n == 1:
			line += " · 1 job"
		case n > 1:
			line += fmt.Sprintf(" · %d jobs", n)
		}
		return line
	case worker.StateWaiting, worker.StatePaused:
		line := trayStateLine(st.State, "")
		if len(st.Reasons) > 0 {
			if r := trayReason(st.Reasons[0]); r != "" {
				line += " — " + r
			}
		}
		return line
	default:
		return trayStateLine(st.State, st.Error)
	}
}

// shortReason makes a reason fit a menu line: its first clause, starting
// lower-case, at most 50 characters (cut at a word).
func shortReason(s string) string {
	const max = 50
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, ";\n"); i > 0 {
		s = strings.TrimSpace(s[:i])
	}
	s = strings.TrimRight(s, ".")
	// "You are…" → "you are…", but "GPU …" stays.
	if r, n := utf8.DecodeRuneInString(s); unicode.IsUpper(r) {
		if r2, _ := utf8.DecodeRuneInString(s[n:]); !unicode.IsUpper(r2) {
			s = string(unicode.ToLower(r)) + s[n:]
		}
	}
	rs := []rune(s)
	if len(rs) <= max {
		return s
	}
	cut := string(rs[:max-1])
	if i := strings.LastIndexByte(cut, ' '); i > max/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,:—-") + "…"
}

// trayStateLine is the state line from the state alone (and the error text
// in the error state).
func trayStateLine(s worker.State, errText string) string {
	line := "Cocoon: " + stateWordLower(s)
	if s == worker.StateError && errText != "" {
		const max = 60
		r := []rune(errText)
		if len(r) > max {
			errText = string(r[:max-1]) + "…"
		}
		line += " — " + errText
	}
	return line
}

func stateWordLower(s worker.State) string { return strings.ToLower(stateWord(s)) }

// trayIcon is the tray icon for a worker state.
func trayIcon(s worker.State) fyne.Resource {
	switch s {
	case worker.StateServing:
		return trayRunningResource
	case worker.StateError:
		return trayErrorResource
	default:
		return trayStoppedResource
	}
}

// pauseFor pauses serving for d (the tray's "Pause for 1 hour").
func (v *mainView) pauseFor(d time.Duration) {
	go func() {
		v.log.Info("pausing worker", "for", d)
		err := v.core.PauseFor(v.ctx, d)
		st := v.core.Status()
		v.do(func() {
			if err != nil {
				v.showError("Could not pause", err)
			}
			v.refresh(st)
		})
	}()
}

// Desktop notifications.

// notification is one desktop notification.
type notification struct {
	Title, Content string
}

// notifier decides which desktop notifications a status change deserves.
// It holds only what it must remember between changes: the payouts it
// has announced and the running day's baseline for the daily summary.
// It does no I/O, so tests drive it with made-up statuses and clocks.
type notifier struct {
	started   bool
	announced map[string]bool // payout IDs already notified
	day       time.Time       // local midnight of the day being counted
	dayEarned int64           // Status.Earned when that day began (nanoTON)
	dayJobs   int             // Status.Jobs.Completed when that day began
}

func newNotifier() *notifier { return &notifier{announced: map[string]bool{}} }

// notificationsFor returns the notifications for the change prev → next
// observed at now:
//   - a payout that turned confirmed (each ID once);
//   - once per local day, at the first job finished on a new day, a summary
//     of the previous day counted (only days with jobs; the count starts
//     when the app does);
//   - entering the error state (something needs the owner).
func (n *notifier) notificationsFor(prev, next worker.Status, now time.Time) []notification {
	var out []notification
	today := localDay(now)
	if !n.started {
		n.started = true
		n.day, n.dayEarned, n.dayJobs = today, next.Earned, next.Jobs.Completed
	}

	if next.State == worker.StateError && prev.State != worker.StateError {
		msg := strings.TrimSpace(next.Error)
		if msg == "" {
			msg = "Something needs your attention."
		}
		out = append(out, notification{Title: "Cocoon Desktop needs you", Content: msg})
	}

	before := make(map[string]earnings.PayoutState, len(prev.Earnings.Payouts))
	for _, w := range prev.Earnings.Payouts {
		before[w.ID] = w.State
	}
	for _, w := range next.Earnings.Payouts {
		if w.State != earnings.PayoutConfirmed || n.announced[w.ID] {
			continue
		}
		// Only a change seen happening: not the history loaded at start.
		if was, ok := before[w.ID]; ok && was != earnings.PayoutConfirmed {
			n.announced[w.ID] = true
			out = append(out, notification{
				Title:   "Payout confirmed",
				Content: fmt.Sprintf("%s TON arrived at %s", ton.Format(w.Received()), shortAddress(w.Destination)),
			})
		}
	}

	if next.Jobs.Completed < n.dayJobs || next.Earned < n.dayEarned { // the core's counters restarted
		n.dayJobs, n.dayEarned = min(n.dayJobs, next.Jobs.Completed), min(n.dayEarned, next.Earned)
	}
	if today.After(n.day) && next.Jobs.Completed > prev.Jobs.Completed {
		jobs := prev.Jobs.Completed - n.dayJobs
		earned := prev.Earned - n.dayEarned
		if jobs > 0 {
			out = append(out, notification{Title: "Cocoon Desktop earnings", Content: daySummary(n.day, today, earned, jobs)})
		}
		n.day, n.dayEarned, n.dayJobs = today, prev.Earned, prev.Jobs.Completed
	}
	return out
}

// daySummary is "Yesterday: 0.0123 TON from 45 jobs" (or "On Mon 2 Jan: …"
// when the last day with work was earlier).
func daySummary(day, today time.Time, earned int64, jobs int) string {
	when := "Yesterday"
	if !day.AddDate(0, 0, 1).Equal(today) {
		when = "On " + day.Format("Mon 2 Jan")
	}
	unit := "jobs"
	if jobs == 1 {
		unit = "job"
	}
	return fmt.Sprintf("%s: %s TON from %d %s", when, ton.Format(earned), jobs, unit)
}

func localDay(t time.Time) time.Time {
	t = t.Local()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.Local)
}

// sendNotifications shows notifications through the running Fyne app.
func sendNotifications(ns []notification) {
	app := fyne.CurrentApp()
	if app == nil {
		return
	}
	for _, n := range ns {
		app.SendNotification(fyne.NewNotification(n.Title, n.Content))
	}
}
