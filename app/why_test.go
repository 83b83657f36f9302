package app

import (
	"image/png"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// servingStatus: an RTX 4090 serving on the local network, connected.
func servingStatus() worker.Status {
	st := gpuOKStatus()
	st.State = worker.StateServing
	st.GPU.Devices[0].Processes = nil
	st.Network = worker.NetworkStatus{Local: true, URL: "ws://127.0.0.1:8443/v1/worker", Connected: true, WorkerID: "w-1"}
	return st
}

// onCPUStatus: an RTX 4090 serving, but the model runs on the CPU for reason.
func onCPUStatus(reason string) worker.Status {
	st := servingStatus()
	st.Placement = worker.Placement{Model: st.Model, RunsOn: ollama.RunsOnCPU, Device: "NVIDIA GeForce RTX 4090",
		CPUReason: reason, Warning: st.Model + " runs on the CPU: because."}
	return st
}

func remote(st worker.Status) worker.Status {
	st.Network.Local = false
	st.Network.URL = "wss://proxy.example.org/v1/worker"
	return st
}

func TestWhyNotEarning(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	paused := func(st worker.Status, rs ...idle.Reason) worker.Status {
		st.State = worker.StatePaused
		st.Reasons = rs
		return st
	}
	tests := []struct {
		name  string
		facts whyFacts
		codes []idle.ReasonCode // every reason, in order
		// checks on the first reason
		title   string // part of its title
		fix     string // part of its fix
		actions []whyAction
	}{
		{name: "serving, connected, no jobs yet",
			facts: whyFacts{Status: servingStatus(), JobsAtServe: 0},
			codes: []idle.ReasonCode{whyServing, whyNoDemand, whyTestTON}, title: "Serving: jobs are welcome"},
		{name: "serving, jobs unchanged since serving began",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.Jobs.Completed = 5; return s }(), JobsAtServe: 5},
			codes: []idle.ReasonCode{whyServing, whyNoDemand, whyTestTON}},
		{name: "serving, jobs arriving",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.Jobs.Completed = 7; return s }(), JobsAtServe: 5},
			codes: []idle.ReasonCode{whyServing, whyTestTON}},
		{name: "serving, a job running",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.Jobs.Running = 1; return s }(), JobsAtServe: 0},
			codes: []idle.ReasonCode{whyServing, whyTestTON}},
		{name: "serving on a real network with a payout address",
			facts: whyFacts{Status: func() worker.Status { s := remote(servingStatus()); s.Jobs.Completed = 3; return s }(), JobsAtServe: 1, PayoutAddress: "UQ…"},
			codes: []idle.ReasonCode{whyServing}},
		{name: "stopped by you",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.State = worker.StateStopped; return s }()},
			codes: []idle.ReasonCode{whyStopped, whyTestTON}, title: "Sharing is off", actions: []whyAction{actStart}},
		{name: "tray stop",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeManualStop, Text: "You stopped serving from the tray"})},
			codes: []idle.ReasonCode{idle.CodeManualStop, whyTestTON}, title: "Stopped by you", actions: []whyAction{actStart}},
		{name: "paused for an hour",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodePausedUntil, Text: "You paused serving until Wed 13:00", Until: now.Add(time.Hour)})},
			codes: []idle.ReasonCode{idle.CodePausedUntil, whyTestTON}, title: "resumes in 1 h", actions: []whyAction{actStartNow}},
		{name: "waiting for idle, time left",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.State = worker.StateWaiting
				s.Reasons = []idle.Reason{{Code: idle.CodeOwnerActive, Text: "You used the keyboard or mouse 5 s ago; serving starts after 30 s without input", Until: now.Add(25 * time.Second)}}
				return s
			}()},
			codes: []idle.ReasonCode{idle.CodeOwnerActive, whyTestTON}, title: "Waiting for you to step away · 25 s left",
			fix: "Start now", actions: []whyAction{actStartNow, actSettings}},
		{name: "a game on the GPU is named",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeGPUInUse, Text: "Cyberpunk2077.exe (6.0 GB) is using the GPU", Programs: []string{"Cyberpunk2077.exe"}})},
			codes: []idle.ReasonCode{idle.CodeGPUInUse, whyTestTON}, title: "Cyberpunk2077.exe is using the GPU",
			fix: "Pause while other apps use the GPU", actions: []whyAction{actSettings}},
		{name: "several programs on the GPU",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeGPUInUse, Text: "blender (3.0 GB), obs (512 MB) and 2 more are using the GPU", Programs: []string{"blender", "obs", "x", "y"}})},
			codes: []idle.ReasonCode{idle.CodeGPUInUse, whyTestTON}, title: "blender, obs and 2 more are using the GPU"},
		{name: "a GPU reason's title comes from its programs, not its text",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeGPUInUse, Text: "(words the UI must not parse) is using the GPU", Programs: []string{"game.exe"}})},
			codes: []idle.ReasonCode{idle.CodeGPUInUse, whyTestTON}, title: "game.exe is using the GPU"},
		{name: "a Steam game is named",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeSteamGame, Text: "Steam game running: Half-Life 2", Programs: []string{"Half-Life 2"}})},
			codes: []idle.ReasonCode{idle.CodeSteamGame, whyTestTON}, title: "Steam game running: Half-Life 2",
			fix: "Pause while other apps use the GPU", actions: []whyAction{actSettings}},
		{name: "a full-screen program is named",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeFullScreen, Text: "Full-screen program: game.exe", Programs: []string{"game.exe"}})},
			codes: []idle.ReasonCode{idle.CodeFullScreen, whyTestTON}, title: "Full-screen program: game.exe", actions: []whyAction{actSettings}},
		{name: "presentation mode",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodePresentation, Text: "Presentation mode is on"})},
			codes: []idle.ReasonCode{idle.CodePresentation, whyTestTON}, title: "Presentation mode is on", actions: []whyAction{actSettings}},
		{name: "a controller in use",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.State = worker.StateWaiting
				s.Reasons = []idle.Reason{{Code: idle.CodeControllerActive, Text: "You used a game controller 2 s ago", Until: now.Add(time.Minute)}}
				return s
			}()},
			codes: []idle.ReasonCode{idle.CodeControllerActive, whyTestTON}, title: "Controller in use · 1 min left",
			actions: []whyAction{actStartNow, actSettings}},
		{name: "unreadable controllers: a note, not a block",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.Notes = []idle.Reason{{Code: idle.CodeControllersUnreadable, Text: idle.ErrControllersUnreadable.Error()}}
				return s
			}(), JobsAtServe: -1},
			codes: []idle.ReasonCode{idle.CodeControllersUnreadable, whyServing, whyNoDemand, whyTestTON}, title: "Can't read game controllers", fix: "input group"},
		{name: "every limit at once, in the policy's order",
			facts: whyFacts{Status: paused(servingStatus(),
				idle.Reason{Code: idle.CodeFullScreen, Text: `"Movie" is full screen`},
				idle.Reason{Code: idle.CodeSchedule, Text: "Outside your serving hours (mon 22:00-08:00)", Until: now.Add(10 * time.Hour)},
				idle.Reason{Code: idle.CodeTooHot, Text: "GPU 0 is at 91 °C, above your 85 °C limit"},
				idle.Reason{Code: idle.CodePowerCap, Text: "GPU 0 draws 400 W, above your 300 W limit"},
				idle.Reason{Code: idle.CodeVRAMLow, Text: "Video memory is short: only 512 MB free on GPU 0 (you keep 2.0 GB for yourself)"})},
			codes: []idle.ReasonCode{idle.CodeFullScreen, idle.CodeSchedule, idle.CodeTooHot, idle.CodePowerCap, idle.CodeVRAMLow, whyTestTON},
			title: "A full-screen window is open", actions: []whyAction{actSettings}},
		{name: "outside the schedule",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeSchedule, Text: "Outside your serving hours", Until: now.Add(90 * time.Minute)})},
			codes: []idle.ReasonCode{idle.CodeSchedule, whyTestTON}, title: "next window in 1 h 30 min", actions: []whyAction{actStartNow, actSettings}},
		{name: "cannot see the owner",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeIdleUnknown, Text: "Can't tell whether you are at the computer (no X11)"})},
			codes: []idle.ReasonCode{idle.CodeIdleUnknown, whyTestTON}, actions: []whyAction{actStartNow}},
		{name: "the game closed; waiting to be sure",
			facts: whyFacts{Status: paused(servingStatus(), idle.Reason{Code: idle.CodeGPUInUse, Text: "Cleared 5 s ago (x is using the GPU); waiting 25 s more", Waiting: true, Until: now.Add(25 * time.Second)})},
			codes: []idle.ReasonCode{whyResuming, whyTestTON}, title: "Resuming soon · in 25 s", fix: "Nothing to do"},
		{name: "no NVIDIA GPU on the local network is fine",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.GPU = noDriverStatus().GPU; return s }(), JobsAtServe: -1},
			codes: []idle.ReasonCode{whyNoGPU, whyServing, whyNoDemand, whyTestTON}, title: "No NVIDIA GPU", fix: "fine for the local test network"},
		{name: "no NVIDIA GPU on a real network",
			facts: whyFacts{Status: func() worker.Status {
				s := remote(servingStatus())
				s.State = worker.StateStopped
				s.GPU = gpu.Snapshot{State: gpu.StateNoDevice}
				return s
			}(), PayoutAddress: "UQ…"},
			codes: []idle.ReasonCode{whyStopped, whyNoGPU}},
		{name: "Ollama down; the error state is not repeated",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.State = worker.StateError
				s.Error = "Ollama: connection refused"
				s.Ollama = ollama.Status{Error: "connection refused"}
				return s
			}()},
			codes: []idle.ReasonCode{whyOllama, whyTestTON}, title: "Ollama", actions: nil},
		{name: "Ollama starting",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.State = worker.StateStopped
				s.Ollama = ollama.Status{}
				return s
			}()},
			codes: []idle.ReasonCode{whyStopped, whyOllamaStart, whyTestTON}},
		{name: "no model downloaded",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.State, s.Error, s.Models, s.Model = worker.StateError, "no model downloaded: download one first", nil, ""
				return s
			}()},
			codes: []idle.ReasonCode{whyNoModel, whyTestTON}, title: "No model downloaded", actions: []whyAction{actModels}},
		{name: "the served model is missing",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.State = worker.StateStopped
				s.Model = "qwen3:8b"
				return s
			}()},
			codes: []idle.ReasonCode{whyStopped, whyModelMissing, whyTestTON}},
		{name: "no model chosen",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.State = worker.StateStopped; s.Model = ""; return s }()},
			codes: []idle.ReasonCode{whyStopped, whyModelMissing, whyTestTON}},
		{name: "proxy key mismatch",
			facts: whyFacts{Status: func() worker.Status {
				s := remote(servingStatus())
				s.Network.Connected, s.Network.Error = false, "auth failed: proxy key mismatch"
				return s
			}(), PayoutAddress: "UQ…"},
			codes: []idle.ReasonCode{whyDisconnected}, title: "Not connected", fix: "Check the proxy key"},
		{name: "network unreachable",
			facts: whyFacts{Status: func() worker.Status {
				s := remote(servingStatus())
				s.Network.Connected, s.Network.Error = false, "dial tcp: connection refused"
				return s
			}(), PayoutAddress: "UQ…"},
			codes: []idle.ReasonCode{whyDisconnected}, fix: "reconnects by itself"},
		{name: "connecting",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.Network.Connected = false; return s }()},
			codes: []idle.ReasonCode{whyConnecting, whyTestTON}},
		{name: "no network at all",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.Network = worker.NetworkStatus{}; return s }()},
			codes: []idle.ReasonCode{whyNoNetwork}},
		{name: "no payout address on a real network",
			facts: whyFacts{Status: func() worker.Status { s := remote(servingStatus()); s.Jobs.Completed = 2; return s }(), JobsAtServe: 0},
			codes: []idle.ReasonCode{whyServing, whyNoPayout}, actions: nil},
		{name: "a GPU, but the model runs on the CPU: no backend",
			facts: whyFacts{Status: onCPUStatus(worker.CPUNoBackend)},
			codes: []idle.ReasonCode{whyOnCPU, whyServing, whyNoDemand, whyTestTON}, title: "runs on the CPU", fix: "earn less"},
		{name: "a GPU, but the model does not fit",
			facts: whyFacts{Status: onCPUStatus(worker.CPUTooBig)},
			codes: []idle.ReasonCode{whyOnCPU, whyServing, whyNoDemand, whyTestTON}, title: "does not fit", actions: []whyAction{actModels, actSettings}},
		{name: "the disk is full",
			facts: whyFacts{Status: func() worker.Status { s := servingStatus(); s.DiskFull = "The disk is full: …"; return s }()},
			codes: []idle.ReasonCode{whyDiskFull, whyServing, whyNoDemand, whyTestTON}, title: "disk is full", fix: "Free some space"},
		{name: "an error of its own",
			facts: whyFacts{Status: func() worker.Status {
				s := servingStatus()
				s.State, s.Error = worker.StateError, "could not load llama3.2:1b: out of memory"
				return s
			}()},
			codes: []idle.ReasonCode{whyError, whyTestTON}, title: "error", fix: "retries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.facts.Now = now
			got := explainWhy(tc.facts)
			var codes []idle.ReasonCode
			for _, w := range got {
				codes = append(codes, w.Code)
				if w.Title == "" || (w.Level != whyGood && w.Detail == "") {
					t.Errorf("%s: empty title or detail: %+v", w.Code, w)
				}
				if w.Level >= whyBlocked && w.Fix == "" {
					t.Errorf("%s: says nothing the owner can do: %+v", w.Code, w)
				}
			}
			if !slices.Equal(codes, tc.codes) {
				t.Fatalf("codes = %v, want %v\n%+v", codes, tc.codes, got)
			}
			first := got[0]
			if !strings.Contains(first.Title, tc.title) {
				t.Errorf("title %q does not contain %q", first.Title, tc.title)
			}
			if !strings.Contains(first.Fix, tc.fix) {
				t.Errorf("fix %q does not contain %q", first.Fix, tc.fix)
			}
			if tc.actions != nil && !slices.Equal(first.Actions, tc.actions) {
				t.Errorf("actions = %v, want %v", first.Actions, tc.actions)
			}
		})
	}
}

// whyNotEarning uses the clock for the time left.
func TestWhyNotEarningUsesTheClock(t *testing.T) {
	st := servingStatus()
	st.State = worker.StateWaiting
	st.Reasons = []idle.Reason{{Code: idle.CodeOwnerActive, Text: "…", Until: time.Now().Add(2*time.Minute + 10*time.Second)}}
	got := whyNotEarning(st)
	if len(got) == 0 || got[0].Title != "Waiting for you to step away · 3 min left" {
		t.Fatalf("got %+v", got)
	}
}

func whyCodes(v *mainView) []idle.ReasonCode {
	var out []idle.ReasonCode
	for _, it := range v.why.items {
		out = append(out, it.Code)
	}
	return out
}

func whyRowFor(v *mainView, code idle.ReasonCode) *whyRow {
	for i, it := range v.why.items {
		if it.Code == code {
			return v.why.rows[i]
		}
	}
	return nil
}

// A reason appears as soon as the core publishes the change, and clears the same way.
func TestWhyTabFollowsStatusEvents(t *testing.T) {
	f := newFakeCore(servingStatus())
	v, _, q := newTestView(t, f)
	startWatch(t, v, f, q)
	if got := whyCodes(v); !slices.Equal(got, []idle.ReasonCode{whyServing, whyNoDemand, whyTestTON}) {
		t.Fatalf("serving: %v", got)
	}
	if !strings.HasPrefix(v.why.head.Text, "You are sharing your GPU") {
		t.Errorf("head = %q", v.why.head.Text)
	}

	f.set(func(s *worker.Status) {
		s.State = worker.StatePaused
		s.Reasons = []idle.Reason{{Code: idle.CodeGPUInUse, Text: "Cyberpunk2077.exe (6.0 GB) is using the GPU", Programs: []string{"Cyberpunk2077.exe"}}}
	})
	at := time.Now()
	f.publish(worker.Event{Type: worker.EventState, Data: worker.StatePaused})
	q.runUntil(t, "the game's reason", func() bool { return whyRowFor(v, idle.CodeGPUInUse) != nil })
	t.Logf("the reason appeared %v after the event (make bench measures this; no timed assertion here)", time.Since(at))
	r := whyRowFor(v, idle.CodeGPUInUse)
	if r.title.Text != "Cyberpunk2077.exe is using the GPU" || r.button(actSettings) == nil || !r.obj.Visible() {
		t.Errorf("row: title %q, settings button %v", r.title.Text, r.button(actSettings))
	}
	if v.why.list.Objects[0] != r.obj {
		t.Error("the row is not shown first")
	}
	if !strings.HasPrefix(v.why.head.Text, "Not earning right now: 1 thing") {
		t.Errorf("head = %q", v.why.head.Text)
	}

	// Its button opens Settings.
	test.Tap(r.button(actSettings))
	if v.tabs.Selected() != v.settingsTab {
		t.Errorf("Open settings selected %q", v.tabs.Selected().Text)
	}

	f.set(func(s *worker.Status) { s.State, s.Reasons = worker.StateServing, nil })
	f.publish(worker.Event{Type: worker.EventState, Data: worker.StateServing})
	q.runUntil(t, "the reason to clear", func() bool { return whyRowFor(v, idle.CodeGPUInUse) == nil })
	if got := len(v.why.list.Objects); got != 3 {
		t.Errorf("%d rows shown after clearing, want 3", got)
	}
}

// The Why tab names the game (from the reason's Programs) in the real
// widgets, through the core's status events.
func TestWhyTabNamesTheGame(t *testing.T) {
	f := newFakeCore(servingStatus())
	v, w, q := newTestView(t, f)
	startWatch(t, v, f, q)
	cases := []struct {
		name   string
		reason idle.Reason
		title  string
	}{
		{"Steam game", idle.Reason{Code: idle.CodeSteamGame, Text: "Steam game running: Half-Life 2", Programs: []string{"Half-Life 2"}}, "Steam game running: Half-Life 2"},
		{"full-screen program", idle.Reason{Code: idle.CodeFullScreen, Text: "Full-screen program: game.exe", Programs: []string{"game.exe"}}, "Full-screen program: game.exe"},
		{"controller", idle.Reason{Code: idle.CodeControllerActive, Text: "You used a game controller 1 s ago", Until: time.Now().Add(time.Hour)}, "Controller in use · 1 h left"},
	}
	for _, tc := range cases {
		f.set(func(s *worker.Status) { s.State, s.Reasons = worker.StatePaused, []idle.Reason{tc.reason} })
		f.publish(worker.Event{Type: worker.EventState, Data: worker.StatePaused})
		q.runUntil(t, tc.name, func() bool { return whyRowFor(v, tc.reason.Code) != nil })
		if r := whyRowFor(v, tc.reason.Code); r.title.Text != tc.title || !r.obj.Visible() {
			t.Errorf("%s: row title %q, want %q", tc.name, r.title.Text, tc.title)
		}
	}
	if path := os.Getenv("COCOON_SHOT"); path != "" { // look at it: COCOON_SHOT=/tmp/why-gamer.png
		f.set(func(s *worker.Status) {
			s.State = worker.StatePaused
			s.Reasons = []idle.Reason{
				{Code: idle.CodeControllerActive, Text: "You used a game controller 2 s ago", Until: time.Now().Add(5 * time.Minute)},
				{Code: idle.CodeSteamGame, Text: "Steam game running: Half-Life 2", Programs: []string{"Half-Life 2"}},
				{Code: idle.CodeFullScreen, Text: `Full-screen program: hl2.exe ("Half-Life 2")`, Programs: []string{"hl2.exe"}},
			}
			s.Notes = []idle.Reason{{Code: idle.CodeControllersUnreadable, Text: idle.ErrControllersUnreadable.Error()}}
		})
		f.publish(worker.Event{Type: worker.EventState, Data: worker.StatePaused})
		q.runUntil(t, "the gamer's reasons", func() bool { return whyRowFor(v, idle.CodeControllersUnreadable) != nil })
		v.tabs.Select(v.whyTab)
		w.Resize(fyne.NewSize(1024, 640))
		out, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		if err := png.Encode(out, w.Canvas().Capture()); err != nil {
			t.Fatal(err)
		}
	}
}

// The buttons drive the core: Start sharing, Start now, Download a model.
func TestWhyButtonsCallTheCore(t *testing.T) {
	st := servingStatus()
	st.State = worker.StateStopped
	f := newFakeCore(st)
	v, _, q := newTestView(t, f)
	r := whyRowFor(v, whyStopped)
	if r == nil || r.button(actStart) == nil {
		t.Fatalf("no Start sharing button: %v", whyCodes(v))
	}
	test.Tap(r.button(actStart))
	q.runUntil(t, "Start", func() bool { s, _, _, _ := f.counts(); return s == 1 && v.status.State == worker.StateServing })

	f.set(func(s *worker.Status) {
		s.State = worker.StateWaiting
		s.Reasons = []idle.Reason{{Code: idle.CodeOwnerActive, Text: "You used the keyboard 3 s ago", Until: time.Now().Add(time.Minute)}}
	})
	v.refresh(f.Status())
	test.Tap(whyRowFor(v, idle.CodeOwnerActive).button(actStartNow))
	q.runUntil(t, "StartNow", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.startNows == 1 })

	f.set(func(s *worker.Status) { s.State, s.Reasons, s.Models, s.Model = worker.StateStopped, nil, nil, "" })
	v.refresh(f.Status())
	v.tabs.Select(v.whyTab)
	test.Tap(whyRowFor(v, whyNoModel).button(actModels))
	if v.tabs.SelectedIndex() != 0 {
		t.Errorf("Download a model selected tab %d, want the Dashboard", v.tabs.SelectedIndex())
	}
}

func TestGPUUsersTitle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		programs []string
		want     string
	}{
		{"none known", nil, "Another program is using the GPU"},
		{"one", []string{"Cyberpunk2077.exe"}, "Cyberpunk2077.exe is using the GPU"},
		{"two", []string{"a", "b"}, "a and b are using the GPU"},
		{"three", []string{"a", "b", "c"}, "a, b and c are using the GPU"},
		{"five", []string{"a", "b", "c", "d", "e"}, "a, b and 3 more are using the GPU"},
	} {
		if got := gpuUsersTitle(tc.programs); got != tc.want {
			t.Errorf("%s: gpuUsersTitle(%q) = %q, want %q", tc.name, tc.programs, got, tc.want)
		}
	}
}

// TestCPUCost: the CPU warning says what the CPU earns (measured) against
// the GPU (estimated from its bandwidth), in TON per hour at the network's price.
func TestCPUCost(t *testing.T) {
	st := onCPUStatus(worker.CPUNoBackend)
	st.Model = "llama3.2:1b"
	st.Placement.Model = st.Model
	st.Models = []ollama.Model{{Name: "llama3.2:1b", Size: 1_000_000_000}}
	if got := cpuCost(st); !strings.Contains(got, "estimated 504 tokens/s") || strings.Contains(got, "On the CPU") {
		t.Fatalf("no measurement yet, no prices: %q", got)
	}
	st.Benchmark = &worker.BenchmarkResult{Model: "llama3.2:1b", TokensPerSec: 12, RunsOn: ollama.RunsOnCPU}
	st.Earnings.Proxy = &network.Balance{CommissionBPS: 0, Prices: []network.ModelPrice{{Model: "llama3.2:1b", PriceCompletion: 1000}}}
	got := cpuCost(st)
	// 12 tokens/s × 3600 × 1000 nanoTON = 0.0432 TON/h; 504 × 3600 × 1000 = 1.81 TON/h.
	if !strings.Contains(got, "~0.0432 TON/h (12 tokens/s)") || !strings.Contains(got, "~1.81 TON/h (504 tokens/s)") {
		t.Fatalf("cpuCost = %q", got)
	}
	st.Placement.Device = "a card we do not know"
	if got := cpuCost(st); strings.Contains(got, "estimated") {
		t.Fatalf("an estimate for an unknown card: %q", got)
	}
}

// TestWhyHeadWhileServing: a blocking reason while the worker serves all
// the same (no GPU on a real network) reads as earning held back, not as
// "not earning".
func TestWhyHeadWhileServing(t *testing.T) {
	tests := []struct {
		name  string
		items []why
		want  string
	}{
		{"serving, nothing in the way", []why{{Code: whyServing, Level: whyGood}}, "You are sharing your GPU: jobs earn as they arrive"},
		{"serving on the CPU", []why{{Code: whyNoGPU, Level: whyBlocked}, {Code: whyServing, Level: whyGood}}, "Earning as jobs arrive; 1 thing holds it back"},
		{"serving, two in the way", []why{{Code: whyNoGPU, Level: whyBlocked}, {Code: whyDailyCap, Level: whyBlocked}, {Code: whyServing, Level: whyGood}}, "Earning as jobs arrive; 2 things hold it back"},
		{"not serving", []why{{Code: whyNoGPU, Level: whyBlocked}}, "Not earning right now: 1 thing stands in the way"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _, _ := newTestView(t, newFakeCore(noDriverStatus()))
			v.why.render(tc.items)
			if v.why.head.Text != tc.want {
				t.Errorf("head = %q, want %q", v.why.head.Text, tc.want)
			}
		})
	}
}
