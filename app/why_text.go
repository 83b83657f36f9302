package app

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// The "Why am I not earning?" reasons, without Fyne: every reason in force
// now, in plain words, each with what the owner can do about it
// (explainWhy). The tab that shows them is why_view.go.

// whyLevel is how a reason reads: good news, a wait that ends by itself,
// something the owner may change, or a problem.
type whyLevel int

const (
	whyGood    whyLevel = iota // serving
	whyInfo                    // a fact, or a wait that ends by itself
	whyBlocked                 // not serving until the owner (or the world) changes something
	whyProblem                 // something is broken
)

// whyAction is what a reason's button does.
type whyAction int

const (
	actNone     whyAction = iota
	actStart              // Core.Start: start sharing (serves once the owner is away)
	actStartNow           // Core.StartNow: serve now, without waiting for idle
	actModels             // the Dashboard's models: download or choose one
	actSettings           // the Settings tab
)

// actionLabel is the button text of an action.
func actionLabel(a whyAction) string {
	switch a {
	case actStart:
		return "Start sharing"
	case actStartNow:
		return "Start now"
	case actModels:
		return "Download a model"
	case actSettings:
		return "Open settings"
	}
	return ""
}

// why is one reason in force, with what the owner can do.
type why struct {
	Code    idle.ReasonCode // stable: an idle reason code or one of the why* codes below
	Level   whyLevel
	Title   string // a few words
	Detail  string // the facts
	Fix     string // what the owner can do, in words
	Actions []whyAction
}

// Codes of the reasons that do not come from the idle policy.
const (
	whyStopped      = "stopped"
	whyError        = "error"
	whyNoGPU        = "no_gpu"
	whyOnCPU        = "on_cpu" // a GPU is present but the model runs (partly) on the CPU
	whyDiskFull     = "disk_full"
	whyOllama       = "ollama"
	whyOllamaStart  = "ollama_starting"
	whyNoModel      = "no_model"
	whyModelMissing = "model_missing"
	whyNoNetwork    = "no_network"
	whyDisconnected = "disconnected"
	whyConnecting   = "connecting"
	whyServing      = "serving"
	whyNoDemand     = "no_demand"
	whyTestTON      = "test_ton"
	whyNoPayout     = "no_payout_address"
	whyQuarantined  = "quarantined"    // the proxy sends no jobs: failed checks
	whyDailyCap     = "daily_cap"      // a new computer earned its day's cap
	whyNewHeld      = "new_on_network" // a new computer's earnings are held
	whyResuming     = "resuming"       // a blocking condition cleared; the policy waits to be sure
)

// whyFacts is what the explanation depends on besides the status.
type whyFacts struct {
	Status worker.Status
	Now    time.Time
	// JobsAtServe is Jobs.Completed when serving last began; -1 if unknown.
	JobsAtServe int
	// PayoutAddress is the saved TON address ("" none).
	PayoutAddress string
}

// whyNotEarning lists every reason in force now why the worker is not
// earning, each with what the owner can do. It is a pure function of the
// status (and the clock, for the time left).
func whyNotEarning(st worker.Status) []why {
	return explainWhy(whyFacts{Status: st, Now: time.Now(), JobsAtServe: -1})
}

// explainWhy is whyNotEarning with every input explicit.
func explainWhy(f whyFacts) []why {
	st := f.Status
	var out []why
	add := func(w why) { out = append(out, w) }

	// What the owner chose.
	if !st.State.Started() {
		add(why{Code: whyStopped, Level: whyBlocked, Title: "Sharing is off",
			Detail:  "You have not started sharing, or you stopped it.",
			Fix:     "Press Start sharing: Cocoon serves once you are away from the computer and gets out of the way when you come back.",
			Actions: []whyAction{actStart}})
	}
	if st.State == worker.StateWaiting || st.State == worker.StatePaused {
		for _, r := range st.Reasons {
			add(explainReason(r, f.Now))
		}
	}

	for _, n := range st.Notes {
		add(explainNote(n))
	}

	// What the machine and the network need.
	setup := setupReasons(st)
	if st.State == worker.StateError && !errorCovered(st.Error, setup) {
		msg := st.Error
		if msg == "" {
			msg = "Something needs your attention."
		}
		add(why{Code: whyError, Level: whyProblem, Title: "Sharing stopped on an error", Detail: msg,
			Fix: "Cocoon retries loading the model every 10 seconds. If the error stays, press Stop sharing and Start sharing again; the log has the details."})
	}
	out = append(out, setup...)

	// Serving: the good news, then soft notes.
	ns := st.Network
	if st.State == worker.StateServing && ns.Connected {
		detail := "Connected and offering " + modelOrDash(st.Model) + "."
		if st.Jobs.Running > 0 {
			detail = fmt.Sprintf("%s running now; ", plural(st.Jobs.Running, "job")) + plural(st.Jobs.Completed, "job") + " served this session."
		} else if st.Jobs.Completed > 0 {
			detail += " " + plural(st.Jobs.Completed, "job") + " served this session."
		}
		add(why{Code: whyServing, Level: whyGood, Title: "Serving: jobs are welcome", Detail: detail})
		if st.Jobs.Running == 0 && (st.Jobs.Completed == 0 || st.Jobs.Completed == f.JobsAtServe) {
			add(why{Code: whyNoDemand, Level: whyInfo, Title: "No jobs since serving began",
				Detail: fmt.Sprintf("There is no demand for %s right now. Nothing is wrong: jobs come when the network sends requests for this model.", modelOrDash(st.Model)),
				Fix:    "A popular model gets more jobs; you can choose another one on the Dashboard."})
		}
	}
	if p := st.Earnings.Proxy; p != nil && ns.Connected {
		if sw, ok := explainStanding(p.Standing, f.Now); ok {
			switch {
			case p.Standing.Level == network.TrustQuarantined:
				add(why{Code: whyQuarantined, Level: whyBlocked, Title: sw.Title, Detail: sw.Detail, Fix: sw.Fix})
			case dailyCapReached(p.Standing):
				add(why{Code: whyDailyCap, Level: whyBlocked, Title: "Today's limit for new computers is reached",
					Detail: fmt.Sprintf("A new computer earns at most %s TON a day until it has passed the network's check jobs (%d of %d so far); it gets jobs again after midnight UTC.",
						tonText(p.Standing.DailyCap), p.Standing.CanariesPassed, p.Standing.CanariesNeeded),
					Fix: "Nothing to do: keep sharing. The limit goes once enough check jobs pass."})
			case p.Standing.Level == network.TrustNew && (p.Standing.Held > 0 || p.Standing.DailyCap > 0):
				add(why{Code: whyNewHeld, Level: whyInfo, Title: sw.Title, Detail: sw.Detail, Fix: sw.Fix})
			}
		}
	}
	switch {
	case ns.Local:
		add(why{Code: whyTestTON, Level: whyInfo, Title: "Test TON only: no payouts on the local test network",
			Detail: "The local network on this computer proves the whole pipeline, but what it pays is test TON that cannot be paid out.",
			Fix:    "To earn real TON, start Cocoon with --network wss://… and --proxy-key of a Cocoon network."})
	case ns.URL != "" && strings.TrimSpace(f.PayoutAddress) == "":
		add(why{Code: whyNoPayout, Level: whyBlocked, Title: "No payout address",
			Detail:  "Your earnings are counted, but there is no TON wallet to pay them to.",
			Fix:     "Set your TON wallet address in Settings.",
			Actions: []whyAction{actSettings}})
	}
	return out
}

// setupReasons are the GPU, Ollama, model and network problems.
func setupReasons(st worker.Status) []why {
	var out []why
	add := func(w why) { out = append(out, w) }
	ns := st.Network
	if st.GPU.State != gpu.StateOK || len(st.GPU.Devices) == 0 {
		w := why{Code: whyNoGPU, Level: whyBlocked, Title: "No NVIDIA GPU: models run on the CPU", Detail: gpuReason(st.GPU)}
		if w.Detail == "" {
			w.Detail = gpuHeadline(st.GPU.State) + "."
		}
		if ns.Local {
			w.Level = whyInfo
			w.Fix = "That is fine for the local test network. To earn on a real network, use a computer with an NVIDIA GPU and its driver installed."
		} else {
			w.Fix = "A real network sends jobs to GPUs: install the NVIDIA driver (or use a computer with an NVIDIA GPU)."
		}
		add(w)
	}
	if st.DiskFull != "" {
		add(why{Code: whyDiskFull, Level: whyProblem, Title: "The disk is full", Detail: st.DiskFull,
			Fix: "Free some space on the drive of Cocoon's data dir (" + st.DataDir + "); Cocoon carries on by itself."})
	}
	if p := st.Placement; p.OnCPUWithGPU() {
		w := why{Code: whyOnCPU, Level: whyBlocked, Title: "The GPU is not used: the model runs on the CPU",
			Detail: strings.TrimSpace(p.Warning + " " + cpuCost(st)),
			Fix:    "Jobs still run, but slower, so they earn less and heat the CPU."}
		switch p.CPUReason {
		case worker.CPUTooBig, worker.CPUVRAMReserve:
			w.Title = "The model does not fit in the GPU's memory"
			w.Actions = []whyAction{actModels, actSettings}
		case worker.CPUNoBackend, worker.CPUOldDriver:
			w.Level = whyProblem
		}
		add(w)
	}
	o := st.Ollama
	switch {
	case !o.Reachable && o.Error != "":
		add(why{Code: whyOllama, Level: whyProblem, Title: "The model runtime (Ollama) is not reachable", Detail: o.Error,
			Fix: "Cocoon restarts the Ollama it manages by itself. If you run your own Ollama, make sure it is running, or start Cocoon with --no-attach to let it manage one."})
	case !o.Reachable:
		add(why{Code: whyOllamaStart, Level: whyInfo, Title: "The model runtime is starting",
			Detail: "Cocoon is starting Ollama; this takes a few seconds."})
	case len(st.Models) == 0:
		add(why{Code: whyNoModel, Level: whyBlocked, Title: "No model downloaded",
			Detail:  "The worker needs a model on this computer to serve.",
			Fix:     "Download one on the Dashboard, e.g. llama3.2:1b.",
			Actions: []whyAction{actModels}})
	case st.Model == "":
		add(why{Code: whyModelMissing, Level: whyBlocked, Title: "No model chosen",
			Detail:  "There are models on this computer, but none is chosen to serve.",
			Fix:     "Press Use next to a model on the Dashboard.",
			Actions: []whyAction{actModels}})
	case !slices.ContainsFunc(st.Models, func(m ollama.Model) bool { return m.Name == st.Model }):
		add(why{Code: whyModelMissing, Level: whyBlocked, Title: "The served model is not on this computer",
			Detail:  st.Model + " is chosen but not downloaded (it may have been deleted).",
			Fix:     "Download it again, or choose another model on the Dashboard.",
			Actions: []whyAction{actModels}})
	}
	switch {
	case ns.URL == "":
		add(why{Code: whyNoNetwork, Level: whyBlocked, Title: "No network configured",
			Detail: "Cocoon runs without a network, so no jobs can arrive.",
			Fix:    "Start Cocoon without --network for the local test network, or with --network wss://… and --proxy-key for a real one."})
	case !ns.Connected && ns.Error != "":
		w := why{Code: whyDisconnected, Level: whyProblem, Title: "Not connected to the network", Detail: ns.Error,
			Fix: "Cocoon reconnects by itself. Check the internet connection and the --network address."}
		if e := strings.ToLower(ns.Error); strings.Contains(e, "proxy key") || strings.Contains(e, "auth") {
			w.Fix = "Check the proxy key: --proxy-key must be the network's published public key (hex). Cocoon refuses a proxy whose key differs."
		}
		add(w)
	case !ns.Connected:
		add(why{Code: whyConnecting, Level: whyInfo, Title: "Connecting to the network",
			Detail: "Cocoon joins the network once its models are known; this takes a few seconds."})
	}
	return out
}

// errorCovered reports whether a setup reason already explains the error.
func errorCovered(msg string, setup []why) bool {
	m := strings.ToLower(msg)
	for _, w := range setup {
		switch w.Code {
		case whyOllama, whyOllamaStart:
			if strings.Contains(m, "ollama") {
				return true
			}
		case whyNoModel, whyModelMissing:
			if strings.Contains(m, "model") {
				return true
			}
		}
	}
	return false
}

// explainReason turns one idle-policy reason into words and actions.
func explainReason(r idle.Reason, now time.Time) why {
	w := why{Code: r.Code, Level: whyBlocked, Detail: r.Text}
	left := ""
	if !r.Until.IsZero() && r.Until.After(now) {
		left = shortDuration(r.Until.Sub(now))
	}
	switch r.Code {
	case idle.CodeManualStop:
		w.Title = "Stopped by you"
		w.Fix = "Press Start sharing to let Cocoon serve again."
		w.Actions = []whyAction{actStart}
		return w
	case idle.CodePausedUntil:
		w.Title = "Paused by you"
		if left != "" {
			w.Title += " · resumes in " + left
		}
		w.Fix = "Press Start now to end the pause and serve at once."
		w.Actions = []whyAction{actStartNow}
		return w
	case idle.CodeOwnerActive:
		w.Level = whyInfo
		w.Title = "Waiting for you to step away"
		if left != "" {
			w.Title += " · " + left + " left"
		}
		w.Fix = "Leave the keyboard and mouse alone and serving starts by itself, or press Start now to serve while you use the computer. The wait is set in Settings."
		w.Actions = []whyAction{actStartNow, actSettings}
		return w
	case idle.CodeSchedule:
		w.Title = "Outside your serving hours"
		if left != "" {
			w.Title += " · next window in " + left
		}
		w.Fix = "Press Start now to serve anyway, or change the schedule in Settings."
		w.Actions = []whyAction{actStartNow, actSettings}
		return w
	case idle.CodeControllerActive:
		w.Level = whyInfo
		w.Title = "Controller in use"
		if left != "" {
			w.Title += " · " + left + " left"
		}
		w.Fix = "A game controller counts like the keyboard: serving starts once it is left alone, or press Start now to serve while you play. The wait is set in Settings."
		w.Actions = []whyAction{actStartNow, actSettings}
		return w
	}
	// A condition that cleared: the policy waits to be sure (hysteresis).
	if r.Waiting {
		w.Code, w.Level = whyResuming, whyInfo
		w.Title = "Resuming soon"
		if left != "" {
			w.Title += " · in " + left
		}
		w.Fix = "Nothing to do: Cocoon waits a little so it does not start and stop while you come and go."
		return w
	}
	switch r.Code {
	case idle.CodeIdleUnknown:
		w.Level = whyProblem
		w.Title = "Cocoon can't tell whether you are at the computer"
		w.Fix = "It needs to see keyboard and mouse activity to get out of your way, so it does not serve on its own. Press Start now to serve anyway."
		w.Actions = []whyAction{actStartNow}
	case idle.CodeGPUInUse:
		w.Title = gpuUsersTitle(r.Programs)
		w.Fix = "Serving resumes by itself when it closes. To share the GPU alongside it, turn off \"Pause while other apps use the GPU\" in Settings."
		w.Actions = []whyAction{actSettings}
	case idle.CodeSteamGame:
		w.Title = "Steam game running"
		if len(r.Programs) > 0 {
			w.Title += ": " + r.Programs[0]
		}
		w.Detail = "Your games come first: Cocoon does not serve while Steam reports a game running."
		w.Fix = "Serving resumes by itself when the game closes. To share the GPU alongside games, turn off \"Pause while other apps use the GPU\" in Settings."
		w.Actions = []whyAction{actSettings}
	case idle.CodeFullScreen:
		w.Title = "A full-screen window is open"
		if len(r.Programs) > 0 {
			w.Title = "Full-screen program: " + r.Programs[0]
		}
		w.Fix = "Serving resumes when you leave full screen. To serve anyway, turn off \"Pause on full screen\" in Settings."
		w.Actions = []whyAction{actSettings}
	case idle.CodePresentation:
		w.Title = "Presentation mode is on"
		w.Fix = "Serving resumes when the presentation ends. To serve anyway, turn off \"Pause on full screen\" in Settings."
		w.Actions = []whyAction{actSettings}
	case idle.CodeTooHot:
		w.Title = "The GPU is too hot"
		w.Fix = "Serving resumes when it cools down. Better airflow helps; the limit is in Settings."
		w.Actions = []whyAction{actSettings}
	case idle.CodePowerCap:
		w.Title = "The GPU draws more than your power limit"
		w.Fix = "Serving resumes when the draw falls. The limit is in Settings."
		w.Actions = []whyAction{actSettings}
	case idle.CodeVRAMLow:
		w.Title = "Not enough free video memory"
		w.Fix = "Close programs that hold video memory, or keep less for yourself in Settings."
		w.Actions = []whyAction{actSettings}
	default:
		w.Title = "Not serving"
	}
	return w
}

// gpuUsersTitle names the programs on the GPU, from the policy's list
// (largest first): "Cyberpunk2077.exe is using the GPU", "a, b and 2 more
// are using the GPU".
func gpuUsersTitle(programs []string) string {
	switch len(programs) {
	case 0:
		return "Another program is using the GPU"
	case 1:
		return programs[0] + " is using the GPU"
	}
	names := programs
	if len(names) > 3 { // two names and a count keep the title short
		names = append(slices.Clone(programs[:2]), fmt.Sprintf("%d more", len(programs)-2))
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " are using the GPU"
}

// shortDuration is a countdown for people: "45 s", "4 min", "2 h 5 min".
func shortDuration(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second) // round up: never "0 s" while waiting
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		m := (s + 59) / 60
		return fmt.Sprintf("%d min", m)
	case s < 48*3600:
		m := (s + 59) / 60
		if m%60 == 0 {
			return fmt.Sprintf("%d h", m/60)
		}
		return fmt.Sprintf("%d h %d min", m/60, m%60)
	default:
		return fmt.Sprintf("%d days", (s+12*3600)/(24*3600))
	}
}

func modelOrDash(m string) string {
	if m == "" {
		return "no model"
	}
	return m
}
