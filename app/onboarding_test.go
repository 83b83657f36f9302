package app

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

const goodTONAddress = "UQBnpOUoBy7TBuejGYV83KZB-J_qqf7eupIs1XuqjtjpN3W7"

// newOnboardingView is a test view with the wizard shown, as on a first run.
func newOnboardingView(t *testing.T, f *fakeCore) (*mainView, *onboarding, uiQueue) {
	t.Helper()
	v, _, q := newTestView(t, f)
	if !v.startOnboarding(false) {
		t.Fatal("the wizard was not shown on a first run")
	}
	o := v.onboard
	if !o.open || !o.pop.Visible() || o.step != obGPU {
		t.Fatalf("wizard open=%v visible=%v step=%d", o.open, o.pop.Visible(), o.step)
	}
	return v, o, q
}

func TestOnboardingShownOnFirstRunOnly(t *testing.T) {
	f := newFakeCore(gpuOKStatus())
	v, w, _ := newTestView(t, f)
	if !v.startOnboarding(false) {
		t.Fatal("not shown on the first run")
	}
	if top := w.Canvas().Overlays().Top(); top != v.onboard.pop {
		t.Fatalf("top overlay = %T, want the wizard", top)
	}
	if v.startOnboarding(false) {
		t.Error("shown twice")
	}

	done := newFakeCore(gpuOKStatus())
	done.settings.Onboarded = true
	v2, w2, _ := newTestView(t, done)
	if v2.startOnboarding(false) || v2.onboard != nil || w2.Canvas().Overlays().Top() != nil {
		t.Error("shown although the owner finished it before")
	}

	// Started with --start: the owner already chose to share.
	v3, _, _ := newTestView(t, newFakeCore(gpuOKStatus()))
	if v3.startOnboarding(true) {
		t.Error("shown with --start")
	}
}

func TestOnboardingSkipPersists(t *testing.T) {
	f := newFakeCore(gpuOKStatus())
	_, o, _ := newOnboardingView(t, f)
	test.Tap(o.nextBtn) // on to the model step, then skip from there
	test.Tap(o.skipBtn)
	if o.open || o.pop.Visible() {
		t.Fatal("Skip left the wizard open")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, n := f.onboardCalls(); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Skip did not record that setup is done")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !f.Settings().Onboarded {
		t.Error("settings not onboarded after Skip")
	}
	if starts, _, _, _ := f.counts(); starts != 0 {
		t.Errorf("Skip started sharing (%d starts)", starts)
	}
}

func TestOnboardingGPUStep(t *testing.T) {
	_, o, _ := newOnboardingView(t, newFakeCore(gpuOKStatus()))
	if o.gpuHead.Text != "NVIDIA GeForce RTX 4090" || !strings.Contains(o.gpuDetail.Text, "24 GiB of video memory, 17 GiB free") {
		t.Errorf("GPU step: %q / %q", o.gpuHead.Text, o.gpuDetail.Text)
	}

	_, o2, _ := newOnboardingView(t, newFakeCore(noDriverStatus()))
	if o2.gpuHead.Text != "No NVIDIA driver" || !strings.Contains(o2.gpuDetail.Text, "No NVIDIA driver found") ||
		!strings.Contains(o2.gpuNote.Text, "CPU only") || !strings.Contains(o2.gpuNote.Text, "local test network") {
		t.Errorf("no-GPU step: %q / %q / %q", o2.gpuHead.Text, o2.gpuDetail.Text, o2.gpuNote.Text)
	}
}

func TestOnboardingModelStep(t *testing.T) {
	st := noDriverStatus() // llama3.2:1b is chosen; tiny-llama:test is not
	f := newFakeCore(st)
	v, o, q := newOnboardingView(t, f)
	test.Tap(o.nextBtn)
	if o.step != obModel || !o.pages[obModel].Visible() || o.pages[obGPU].Visible() {
		t.Fatalf("step %d after Next", o.step)
	}
	if len(o.models.rows) != 2 {
		t.Fatalf("%d model rows", len(o.models.rows))
	}
	chosen, other := o.models.rows["llama3.2:1b"], o.models.rows["tiny-llama:test"]
	if chosen.serve.Text != "Chosen" || !chosen.serve.Disabled() || other.serve.Text != "Use" || other.serve.Disabled() {
		t.Errorf("buttons: %q disabled=%v, %q disabled=%v", chosen.serve.Text, chosen.serve.Disabled(), other.serve.Text, other.serve.Disabled())
	}
	if got := other.fit.txt.Text; got != "no GPU: runs on the CPU" || other.fit.bg.FillColor != colorAmber {
		t.Errorf("fit badge %q %v", got, other.fit.bg.FillColor)
	}
	test.Tap(other.serve)
	q.runUntil(t, "the model to be chosen", func() bool { return v.status.Model == "tiny-llama:test" })
	if _, _, _, served := f.counts(); len(served) != 1 || served[0] != "tiny-llama:test" {
		t.Errorf("SetModel calls %v", served)
	}
	if other.serve.Text != "Chosen" || chosen.serve.Text != "Use" {
		t.Errorf("after choosing: %q, %q", other.serve.Text, chosen.serve.Text)
	}

	// Download another: progress on a bar, Cancel stops it.
	f.pullFn = func(ctx context.Context, name string) error {
		f.set(func(s *worker.Status) {
			s.Pulls = map[string]ollama.PullProgress{name: {Model: name, Status: "pulling", Completed: 400 << 20, Total: 1000 << 20, Percent: 40}}
		})
		f.publish(worker.Event{Type: worker.EventPull})
		<-ctx.Done()
		return ctx.Err()
	}
	startWatch(t, v, f, q)
	test.Type(o.pullEntry, "qwen2.5:7b")
	if o.pullBtn.Disabled() {
		t.Fatal("Download disabled with a name typed")
	}
	test.Tap(o.pullBtn)
	q.runUntil(t, "download progress", func() bool {
		r := o.pulls.rows["qwen2.5:7b"]
		return r != nil && r.bar.Value > 0.39
	})
	row := o.pulls.rows["qwen2.5:7b"]
	if !row.bar.Visible() || !strings.HasPrefix(row.barText, "40%") || row.title.Text != "qwen2.5:7b" {
		t.Fatalf("pull row bar visible=%v text=%q title=%q", row.bar.Visible(), row.barText, row.title.Text)
	}
	test.Tap(row.cancel)
	q.runUntil(t, "the download to stop", func() bool { return len(o.pulls.rows) == 0 })
	if !o.pullMsg.Visible() || !strings.Contains(o.pullMsg.Text, "cancelled") {
		t.Errorf("after cancel: %q", o.pullMsg.Text)
	}

	// A finished download is chosen.
	f.pullFn = func(ctx context.Context, name string) error {
		f.set(func(s *worker.Status) {
			s.Models = append(s.Models, ollama.Model{Name: name, Size: 2 << 30, FitNote: "no GPU: runs on the CPU"})
			s.Pulls = map[string]ollama.PullProgress{name: {Model: name, Done: true, Percent: 100}}
		})
		return nil
	}
	test.Type(o.pullEntry, "qwen2.5:0.5b")
	test.Tap(o.pullBtn)
	q.runUntil(t, "the downloaded model to be chosen", func() bool { return v.status.Model == "qwen2.5:0.5b" })
	if !strings.Contains(o.pullMsg.Text, "downloaded and chosen") {
		t.Errorf("after the download: %q", o.pullMsg.Text)
	}
}

func TestOnboardingBenchmarkShowsSpeed(t *testing.T) {
	f := newFakeCore(gpuOKStatus())
	f.bench = worker.BenchmarkResult{Model: "llama3.2:1b", Runs: 3, Tokens: 768, TokensPerSec: 142.6,
		RunsOn: ollama.RunsOnGPU, Backend: "CUDA", Device: "NVIDIA GeForce RTX 4090", VRAMShare: 1,
		FirstToken: 38 * time.Millisecond, FirstTokenCold: 1200 * time.Millisecond, Took: 6 * time.Second}
	f.benchBlock = make(chan struct{})
	_, o, q := newOnboardingView(t, f)
	test.Tap(o.nextBtn)
	test.Tap(o.nextBtn) // entering the step starts the benchmark
	if o.step != obBench || o.benchCancel == nil || !o.benchBar.Visible() || o.benchBtn.Text != "Cancel" {
		t.Fatalf("step %d, running=%v, bar=%v, button %q", o.step, o.benchCancel != nil, o.benchBar.Visible(), o.benchBtn.Text)
	}
	if o.benchModel.Text != "Model: llama3.2:1b" {
		t.Errorf("model line %q", o.benchModel.Text)
	}
	close(f.benchBlock)
	q.runUntil(t, "the benchmark result", func() bool { return o.benchSpeed.Visible() })
	if o.benchSpeed.Text != "143 tokens/s" {
		t.Errorf("speed %q", o.benchSpeed.Text)
	}
	if d := o.benchDetail.Text; !strings.Contains(d, "First token after 38 ms") || !strings.Contains(d, "1.2 s with loading") || !strings.Contains(d, "3 runs") ||
		!strings.Contains(d, "measured on the GPU (NVIDIA GeForce RTX 4090, CUDA)") {
		t.Errorf("detail %q", d)
	}
	if n := o.benchNote.Text; !strings.Contains(n, "depends on demand") {
		t.Errorf("note %q", n)
	}
	if o.benchBar.Visible() || o.benchBtn.Text != "Run again" {
		t.Errorf("after: bar %v, button %q", o.benchBar.Visible(), o.benchBtn.Text)
	}
	// Back and forth does not run it again; Run again does.
	test.Tap(o.backBtn)
	test.Tap(o.nextBtn)
	if n, _ := f.onboardCalls(); n != 1 {
		t.Errorf("%d benchmarks after coming back, want 1", n)
	}

	// An error is said in plain words.
	f.mu.Lock()
	f.benchErr = errors.Join(worker.ErrNotReady)
	f.mu.Unlock()
	test.Tap(o.benchBtn)
	q.runUntil(t, "the benchmark error", func() bool { return o.benchErr.Visible() })
	if !strings.Contains(o.benchErr.Text, "not ready yet") {
		t.Errorf("error %q", o.benchErr.Text)
	}
	if n, _ := f.onboardCalls(); n != 2 {
		t.Errorf("%d benchmarks, want 2", n)
	}
}

// Leaving the step cancels a running benchmark.
func TestOnboardingBenchmarkCancelledOnNext(t *testing.T) {
	f := newFakeCore(gpuOKStatus())
	f.benchBlock = make(chan struct{}) // never closed: only cancelling ends it
	_, o, q := newOnboardingView(t, f)
	o.goTo(obBench)
	if o.benchCancel == nil {
		t.Fatal("benchmark not started")
	}
	test.Tap(o.nextBtn)
	if o.step != obPayout {
		t.Fatalf("step %d", o.step)
	}
	q.runUntil(t, "the benchmark to stop", func() bool { return o.benchCancel == nil })
	if o.benchSpeed.Visible() {
		t.Error("a cancelled benchmark shows a speed")
	}
}

func TestOnboardingPayoutValidation(t *testing.T) {
	f := newFakeCore(gpuOKStatus())
	_, o, q := newOnboardingView(t, f)
	o.goTo(obPayout)

	test.Type(o.addrEntry, "not-an-address")
	test.Tap(o.nextBtn)
	q.runUntil(t, "the address error", func() bool { return o.addrMsg.Visible() })
	if o.step != obPayout || o.addrMsg.Importance != widget.DangerImportance || o.addrMsg.Text == "" {
		t.Fatalf("bad address: step %d, message %q (%v)", o.step, o.addrMsg.Text, o.addrMsg.Importance)
	}
	if f.Settings().PayoutAddress != "" {
		t.Fatal("a bad address was saved")
	}
	t.Logf("bad address says: %s", o.addrMsg.Text)

	// Typing clears the message; a good address is saved and the wizard moves on.
	o.addrEntry.SetText(goodTONAddress)
	if o.addrMsg.Visible() {
		t.Error("the error stays while typing")
	}
	test.Tap(o.nextBtn)
	q.runUntil(t, "the next step", func() bool { return o.step == obWhen || o.addrMsg.Visible() })
	if o.step != obWhen {
		t.Fatalf("good address: still on step %d: %q", o.step, o.addrMsg.Text)
	}
	if got := f.Settings().PayoutAddress; got != goodTONAddress {
		t.Errorf("saved %q", got)
	}

	// Empty is fine: the address is optional.
	_, o2, _ := newOnboardingView(t, newFakeCore(gpuOKStatus()))
	o2.goTo(obPayout)
	test.Tap(o2.nextBtn)
	if o2.step != obWhen {
		t.Errorf("empty address: step %d", o2.step)
	}
}

func TestOnboardingFinishStartsAndPersists(t *testing.T) {
	f := newFakeCore(gpuOKStatus())
	v, o, q := newOnboardingView(t, f)
	o.goTo(obWhen)
	if o.nextBtn.Text != "Start sharing" {
		t.Fatalf("last step's button %q", o.nextBtn.Text)
	}
	if o.idleEntry.Text != "5" || !o.pauseGPU.Checked || !o.pauseFS.Checked {
		t.Fatalf("defaults: %q %v %v", o.idleEntry.Text, o.pauseGPU.Checked, o.pauseFS.Checked)
	}

	// A bad idle time is refused, and nothing starts.
	o.idleEntry.SetText("0.1")
	test.Tap(o.nextBtn)
	if !o.idleMsg.Visible() || !strings.Contains(o.idleMsg.Text, "at least 0.5") {
		t.Fatalf("idle 0.1: %q", o.idleMsg.Text)
	}
	o.idleEntry.SetText("soon")
	test.Tap(o.nextBtn)
	if !strings.Contains(o.idleMsg.Text, "not a number") {
		t.Fatalf("idle soon: %q", o.idleMsg.Text)
	}
	if starts, _, _, _ := f.counts(); starts != 0 || len(f.policySets) != 0 {
		t.Fatalf("a bad idle time started (%d) or saved (%v)", starts, f.policySets)
	}

	o.idleEntry.SetText("10")
	test.Tap(o.pauseFS)
	test.Tap(o.nextBtn)
	q.runUntil(t, "sharing to start", func() bool {
		starts, _, _, _ := f.counts()
		return starts == 1 && !v.busy
	})
	if o.open || o.pop.Visible() {
		t.Error("the wizard is still open after Start sharing")
	}
	if _, n := f.onboardCalls(); n != 1 || !f.Settings().Onboarded {
		t.Errorf("SetOnboarded calls %d, settings %+v", n, f.Settings())
	}
	f.mu.Lock()
	sets := append([]worker.IdleSettings(nil), f.policySets...)
	f.mu.Unlock()
	if len(sets) != 1 || sets[0].IdleMinutes != 10 || !sets[0].PauseOnGPUUse || sets[0].PauseOnFullScreen {
		t.Errorf("idle policy saved %+v", sets)
	}
	if v.status.State != worker.StateServing || v.toggleBtn.Text != "Stop sharing" {
		t.Errorf("after start: state %s, button %q", v.status.State, v.toggleBtn.Text)
	}
}

// Sharing started elsewhere (the tray) closes the wizard, without marking it done.
func TestOnboardingClosesWhenStartedElsewhere(t *testing.T) {
	f := newFakeCore(gpuOKStatus())
	v, o, q := newOnboardingView(t, f)
	startWatch(t, v, f, q)
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	q.runUntil(t, "the wizard to close", func() bool { return !o.open })
	if o.pop.Visible() {
		t.Error("still visible")
	}
	if _, n := f.onboardCalls(); n != 0 {
		t.Errorf("SetOnboarded called %d times", n)
	}
}

// TestOnboardingOffersStartAtLogin: the last step offers start at login,
// checked; finishing with it checked turns it on once, unchecked leaves it
// off, and where the app cannot set it the box is not shown.
func TestOnboardingOffersStartAtLogin(t *testing.T) {
	tests := []struct {
		name      string
		supported bool
		uncheck   bool
		wantCalls int
	}{
		{"checked by default", true, false, 1},
		{"unchecked by the owner", true, true, 0},
		{"not offered where unsupported", false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCore(gpuOKStatus())
			v, _, q := newTestView(t, f)
			var calls atomic.Int32
			if tc.supported {
				v.startAtLogin = func() error { calls.Add(1); return nil }
			}
			if !v.startOnboarding(false) {
				t.Fatal("the wizard was not shown on a first run")
			}
			o := v.onboard
			o.goTo(obWhen)
			if o.atLogin.Visible() != tc.supported || (tc.supported && !o.atLogin.Checked) {
				t.Fatalf("start at login shown %v, checked %v", o.atLogin.Visible(), o.atLogin.Checked)
			}
			if tc.uncheck {
				test.Tap(o.atLogin)
			}
			test.Tap(o.nextBtn)
			q.runUntil(t, "sharing to start", func() bool {
				starts, _, _, _ := f.counts()
				return starts == 1 && !v.busy
			})
			if n := int(calls.Load()); n != tc.wantCalls {
				t.Fatalf("start at login turned on %d times, want %d", n, tc.wantCalls)
			}
		})
	}
}
