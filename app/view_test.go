package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// newTestView builds a view on a headless test app, with its goroutine
// callbacks routed to a queue the test drains.
func newTestView(t testing.TB, core *fakeCore) (*mainView, fyne.Window, uiQueue) {
	t.Helper()
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	t.Cleanup(w.Close)
	v := newMainView(core, w)
	q := make(uiQueue, 64)
	v.do = q.do
	w.SetContent(v.content)
	w.Resize(fyne.NewSize(900, 600))
	v.refresh(core.Status())
	return v, w, q
}

// startWatch runs the same event loop Run uses, against the fake core.
func startWatch(t *testing.T, v *mainView, core *fakeCore, q uiQueue) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	events, unsub := core.Subscribe(eventBuffer)
	t.Cleanup(unsub)
	go watch(ctx, core, events, q.do, nil, func(evs []worker.Event, st worker.Status) {
		for _, ev := range evs {
			v.handleEvent(ev)
		}
		v.refresh(st)
	})
}

func TestGPUNoDriverShowsReason(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
	if v.dash.gpuOK.Visible() || !v.dash.gpuNone.Visible() {
		t.Fatalf("want the no-GPU panel: ok visible=%v, none visible=%v", v.dash.gpuOK.Visible(), v.dash.gpuNone.Visible())
	}
	if got := v.dash.gpuHead.Text; got != "No NVIDIA driver" {
		t.Errorf("headline = %q", got)
	}
	want := "No NVIDIA driver found — Cocoon can still run models on the CPU for testing"
	if got := v.dash.gpuReason.Text; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
}

func TestGPUOKShowsNameAndVRAM(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(gpuOKStatus()))
	if !v.dash.gpuOK.Visible() || v.dash.gpuNone.Visible() {
		t.Fatal("want the GPU panel")
	}
	if got := v.dash.gpuName.Text; got != "NVIDIA GeForce RTX 4090" {
		t.Errorf("name = %q", got)
	}
	if got, want := v.dash.vramBar.Value, 7.0/24; math.Abs(got-want) > 1e-9 {
		t.Errorf("vram bar = %v, want %v", got, want)
	}
	if got := v.dash.vramBar.TextFormatter(); got != "7 GiB / 24 GiB" {
		t.Errorf("vram text = %q", got)
	}
	if got := v.dash.gpuDriver.text(); got != "Driver 550.54.14 · CUDA 12.4" {
		t.Errorf("driver = %q", got)
	}
	if got := v.dash.gpuTemp.Text; got != "61 °C" {
		t.Errorf("temperature = %q", got)
	}
	if got := v.dash.gpuPower.Text; got != "187 / 450 W" {
		t.Errorf("power = %q", got)
	}
	if !strings.Contains(v.dash.gpuProcs.Text, "Cyberpunk2077.exe") {
		t.Errorf("processes = %q", v.dash.gpuProcs.Text)
	}
	if v.dash.gpuCC.obj.Visible() {
		t.Error("confidential computing badge shown for a card without it")
	}

	st := gpuOKStatus()
	st.GPU.Devices[0].ConfidentialCompute = true
	v.refresh(st)
	if !v.dash.gpuCC.obj.Visible() {
		t.Error("confidential computing badge not shown")
	}
}

func TestModelsListWithFitBadges(t *testing.T) {
	tests := []struct {
		name    string
		status  worker.Status
		wantFit string
	}{
		{"gpu", gpuOKStatus(), "Fits in VRAM"},
		{"no gpu", noDriverStatus(), "no GPU: runs on the CPU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _, _ := newTestView(t, newFakeCore(tt.status))
			if got := len(v.dash.models.rows); got != 2 {
				t.Fatalf("rows = %d, want 2", got)
			}
			if got := len(v.dash.models.obj.Objects); got != 3 { // two rows and a separator
				t.Errorf("models box holds %d objects, want 3", got)
			}
			big, tiny := v.dash.models.rows["llama3.2:1b"], v.dash.models.rows["tiny-llama:test"]
			if big == nil || tiny == nil {
				t.Fatalf("missing rows: %v", v.dash.models.rows)
			}
			for _, r := range []*modelRow{big, tiny} {
				if got := r.fit.txt.Text; got != tt.wantFit {
					t.Errorf("%s fit badge = %q, want %q", r.name, got, tt.wantFit)
				}
			}
			if got := tiny.detailSeg.Text; got != "812 KB · Llama · 0.4M parameters · 32-bit" {
				t.Errorf("details = %q", got)
			}
			if !big.serving.obj.Visible() || tiny.serving.obj.Visible() {
				t.Error("serving marker must be on llama3.2:1b only")
			}
			if big.loaded.obj.Visible() || !tiny.loaded.obj.Visible() {
				t.Error("loaded marker must be on tiny-llama:test only")
			}
			if !big.serve.Disabled() || tiny.serve.Disabled() {
				t.Error("Serve must be disabled only for the model being served")
			}
		})
	}
}

func TestNoModels(t *testing.T) {
	st := noDriverStatus()
	st.Models = nil
	v, _, _ := newTestView(t, newFakeCore(st))
	// The hint, and the way back to the built-in model.
	if len(v.dash.models.obj.Objects) != 2 || v.dash.models.obj.Objects[0] != v.dash.noModels || v.dash.models.obj.Objects[1] != v.dash.builtin.obj {
		t.Fatalf("want the empty-list hint and the built-in offer, got %d objects", len(v.dash.models.obj.Objects))
	}
}

func TestStartButtonStartsAndBadgeFollowsEvent(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, q := newTestView(t, core)
	startWatch(t, v, core, q)
	if got := v.stateBadge.txt.Text; got != "Stopped" {
		t.Fatalf("badge = %q", got)
	}
	if got := v.toggleBtn.Text; got != "Start sharing" {
		t.Fatalf("button = %q", got)
	}

	test.Tap(v.toggleBtn)
	if !v.toggleBtn.Disabled() || v.toggleBtn.Text != "Starting…" {
		t.Errorf("while in flight: disabled=%v text=%q", v.toggleBtn.Disabled(), v.toggleBtn.Text)
	}
	q.runUntil(t, "badge Serving", func() bool { return v.stateBadge.txt.Text == "Serving" && !v.busy })
	if starts, _, _, _ := core.counts(); starts != 1 {
		t.Errorf("Start called %d times, want 1", starts)
	}
	if v.stateBadge.bg.FillColor != stateColor(worker.StateServing) {
		t.Error("badge colour is not the running colour")
	}
	if v.toggleBtn.Disabled() || v.toggleBtn.Text != "Stop sharing" {
		t.Errorf("after start: disabled=%v text=%q", v.toggleBtn.Disabled(), v.toggleBtn.Text)
	}

	// The core changes state on its own (e.g. Ollama died): the event re-renders.
	core.set(func(s *worker.Status) { s.State, s.Error = worker.StateError, "Ollama stopped answering" })
	core.publish(worker.Event{Type: worker.EventState})
	q.runUntil(t, "badge Error", func() bool { return v.stateBadge.txt.Text == "Error" })
	if !v.stateError.Visible() || v.stateError.Text != "Ollama stopped answering" {
		t.Errorf("error line: visible=%v text=%q", v.stateError.Visible(), v.stateError.Text)
	}

	test.Tap(v.toggleBtn) // Stop from the error state
	q.runUntil(t, "badge Stopped", func() bool { return v.stateBadge.txt.Text == "Stopped" && !v.busy })
	if _, stops, _, _ := core.counts(); stops != 1 {
		t.Errorf("Stop called %d times, want 1", stops)
	}
	if v.stateError.Visible() {
		t.Error("error line still shown when stopped")
	}
}

func TestStartErrorShowsDialog(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	core.startErr = errors.New("no model selected")
	v, w, q := newTestView(t, core)
	test.Tap(v.toggleBtn)
	q.runUntil(t, "start to finish", func() bool { return !v.busy })
	if w.Canvas().Overlays().Top() == nil {
		t.Fatal("no error dialog shown")
	}
	if v.toggleBtn.Disabled() {
		t.Error("button still disabled after the failure")
	}
}

func TestPullProgressEventUpdatesBar(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	started := make(chan struct{})
	core.pullFn = func(ctx context.Context, name string) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}
	v, _, q := newTestView(t, core)
	startWatch(t, v, core, q)

	if !v.dash.pullBtn.Disabled() {
		t.Error("Download enabled with an empty name")
	}
	test.Type(v.dash.pullEntry, "llama3.2:3b")
	if v.dash.pullBtn.Disabled() {
		t.Fatal("Download disabled with a name typed")
	}
	test.Tap(v.dash.pullBtn)
	<-started
	r := v.dash.pulls.rows["llama3.2:3b"]
	if r == nil {
		t.Fatal("no progress row for the pull")
	}
	if v.dash.pullEntry.Text != "" {
		t.Errorf("entry not cleared: %q", v.dash.pullEntry.Text)
	}

	core.publish(worker.Event{Type: worker.EventPull, Data: ollama.PullProgress{
		Model: "llama3.2:3b", Status: "pulling", Completed: 800_000_000, Total: 2_000_000_000, Percent: 40, Rate: 25_400_000,
	}})
	q.runUntil(t, "progress 40%", func() bool { return math.Abs(r.bar.Value-0.4) < 1e-9 })
	if got := r.bar.TextFormatter(); got != "40% · 800 MB of 2 GB · 25.4 MB/s" {
		t.Errorf("detail = %q", got)
	}
	if !r.cancel.Visible() || r.cancel.Disabled() {
		t.Error("Cancel not offered")
	}

	// The core's Status wins over the event copy once it has the pull.
	core.set(func(s *worker.Status) {
		s.Pulls = map[string]ollama.PullProgress{"llama3.2:3b": {Model: "llama3.2:3b", Completed: 1_500_000_000, Total: 2_000_000_000, Percent: 75}}
	})
	core.publish(worker.Event{Type: worker.EventGPU})
	q.runUntil(t, "progress 75%", func() bool { return math.Abs(r.bar.Value-0.75) < 1e-9 })

	test.Tap(r.cancel)
	q.runUntil(t, "the row to go", func() bool { return len(v.dash.pulls.rows) == 0 })
}

func TestPullFailureShownInRed(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	core.pullFn = func(ctx context.Context, name string) error {
		return fmt.Errorf("worker: download nosuch:latest: %w", fmt.Errorf("runtime: pull nosuch:latest: %w: file does not exist", ollama.ErrModelNotFound))
	}
	v, _, q := newTestView(t, core)
	v.dash.pullEntry.SetText("nosuch:latest")
	test.Tap(v.dash.pullBtn)
	q.runUntil(t, "the pull to fail", func() bool { return len(v.downloads.pulling) == 0 })
	r := v.dash.pulls.rows["nosuch:latest"]
	if r == nil {
		t.Fatal("failed pull has no row")
	}
	if !strings.Contains(r.detail.text(), "That model was not found") || strings.Contains(r.detail.text(), "runtime:") || r.detail.seg.Style.ColorName != theme.ColorNameError {
		t.Errorf("detail = %q importance=%v", r.detail.text(), r.detail.seg.Style.ColorName)
	}
	if r.bar.Visible() {
		t.Error("progress bar shown for a failed pull")
	}
	test.Tap(r.close)
	if len(v.dash.pulls.rows) != 0 {
		t.Error("dismissed failure still shown")
	}
}

func TestDeleteAsksForConfirmation(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, w, q := newTestView(t, core)
	row := v.dash.models.rows["tiny-llama:test"]

	test.Tap(row.del)
	if v.dash.confirm == nil || w.Canvas().Overlays().Top() == nil {
		t.Fatal("no confirmation dialog")
	}
	if _, _, deleted, _ := core.counts(); len(deleted) != 0 {
		t.Fatalf("deleted before confirming: %v", deleted)
	}
	v.dash.confirm.Dismiss() // "Keep"
	if _, _, deleted, _ := core.counts(); len(deleted) != 0 {
		t.Fatalf("deleted after Keep: %v", deleted)
	}

	test.Tap(row.del)
	v.dash.confirm.Confirm()
	q.runUntil(t, "the row to go", func() bool { return v.dash.models.rows["tiny-llama:test"] == nil })
	if _, _, deleted, _ := core.counts(); len(deleted) != 1 || deleted[0] != "tiny-llama:test" {
		t.Errorf("deleted = %v", deleted)
	}
	if len(v.dash.models.obj.Objects) != 1 {
		t.Errorf("models box holds %d objects, want 1", len(v.dash.models.obj.Objects))
	}
}

func TestServeSetsModel(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, q := newTestView(t, core)
	test.Tap(v.dash.models.rows["tiny-llama:test"].serve)
	q.runUntil(t, "serving marker to move", func() bool { return v.dash.models.rows["tiny-llama:test"].serving.obj.Visible() })
	if _, _, _, served := core.counts(); len(served) != 1 || served[0] != "tiny-llama:test" {
		t.Errorf("served = %v", served)
	}
	if v.dash.models.rows["llama3.2:1b"].serving.obj.Visible() {
		t.Error("old model still marked serving")
	}
}

func TestOllamaPanel(t *testing.T) {
	v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
	if v.dash.ollamaPill.txt.Text != "Reachable" || v.dash.ollamaVersion.Text != "0.17.4" ||
		v.dash.ollamaMode.Text != "Managed by Cocoon (pid 4321)" || v.dash.ollamaAddr.Text != "http://127.0.0.1:11500" {
		t.Errorf("ollama: %q %q %q %q", v.dash.ollamaPill.txt.Text, v.dash.ollamaVersion.Text, v.dash.ollamaMode.Text, v.dash.ollamaAddr.Text)
	}
	st := noDriverStatus()
	st.Ollama = ollama.Status{Mode: ollama.ModeAttached, Address: "http://127.0.0.1:11434", Error: "ollama not answering: connection refused"}
	v.refresh(st)
	if v.dash.ollamaPill.txt.Text != "Not reachable" || !v.dash.ollamaErr.Visible() || !strings.Contains(v.dash.ollamaErr.Text, "connection refused") {
		t.Errorf("unreachable: pill=%q err visible=%v text=%q", v.dash.ollamaPill.txt.Text, v.dash.ollamaErr.Visible(), v.dash.ollamaErr.Text)
	}
}

func TestErrorEventShowsNotice(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, q := newTestView(t, core)
	startWatch(t, v, core, q)
	core.publish(worker.Event{Type: worker.EventError, Data: "network: proxy refused the worker key"})
	q.runUntil(t, "notice", func() bool { return v.noticeRow.Visible() })
	if !strings.Contains(v.notice.Text, "proxy refused the worker key") {
		t.Errorf("notice = %q", v.notice.Text)
	}
}

// fakeDesk records what the tray is told.
type fakeDesk struct {
	menu  *fyne.Menu
	icons []fyne.Resource
}

func (d *fakeDesk) SetSystemTrayMenu(m *fyne.Menu)    { d.menu = m }
func (d *fakeDesk) SetSystemTrayIcon(r fyne.Resource) { d.icons = append(d.icons, r) }
func (d *fakeDesk) SetSystemTrayWindow(w fyne.Window) {}

func TestTrayFollowsState(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, _ := newTestView(t, core)
	desk := &fakeDesk{}
	shown, quit := 0, 0
	tray := newTrayMenu(desk, v, func() { shown++ }, func() { quit++ })
	if desk.menu == nil || len(desk.icons) != 1 || desk.icons[0] != trayStoppedResource {
		t.Fatalf("tray not set up: menu=%v icons=%v", desk.menu, desk.icons)
	}
	labels := func() []string {
		var out []string
		for _, it := range desk.menu.Items {
			if !it.IsSeparator {
				out = append(out, it.Label)
			}
		}
		return out
	}
	if got := strings.Join(labels(), "|"); got != "Cocoon: stopped|Today: 0 TON · 0 jobs|Network: none|Start sharing|Open Cocoon Desktop|Quit" {
		t.Errorf("menu = %s", got)
	}
	if !tray.state.Disabled || !tray.today.Disabled {
		t.Error("the state and earnings lines must be disabled")
	}

	st := noDriverStatus()
	st.State = worker.StateServing
	tray.update(st, false)
	if tray.state.Label != "Cocoon: serving" || tray.toggle.Label != "Stop sharing" {
		t.Errorf("running: %q / %q", tray.state.Label, tray.toggle.Label)
	}
	st.State = worker.StateError
	tray.update(st, false)
	tray.update(st, false) // no change: no icon churn
	want := []fyne.Resource{trayStoppedResource, trayRunningResource, trayErrorResource}
	if len(desk.icons) != len(want) {
		t.Fatalf("icons set %d times, want %d", len(desk.icons), len(want))
	}
	for i := range want {
		if desk.icons[i] != want[i] {
			t.Errorf("icon %d = %s, want %s", i, desk.icons[i].Name(), want[i].Name())
		}
	}
	for _, it := range desk.menu.Items {
		switch it.Label {
		case "Open Cocoon Desktop":
			it.Action()
		case "Quit":
			if !it.IsQuit {
				t.Error("Quit item not marked IsQuit")
			}
			it.Action()
		}
	}
	if shown != 1 || quit != 1 {
		t.Errorf("open=%d quit=%d", shown, quit)
	}
}
