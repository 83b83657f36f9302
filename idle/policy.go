package idle

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
)

// ReasonCode names a rule of the policy. Codes are stable: the UI, the
// tray and logs switch on them, never on Reason.Text.
type ReasonCode string

// Reason codes (the owner-presence rules added for games are in owner.go).
const (
	CodeManualStop  ReasonCode = "manual_stop"  // the owner pressed Stop in the tray
	CodePausedUntil ReasonCode = "paused_until" // the owner paused serving until a time
	CodeIdleUnknown ReasonCode = "idle_unknown" // the input-idle source failed: we cannot tell whether the owner is here
	CodeOwnerActive ReasonCode = "owner_active" // keyboard/mouse input more recently than the idle threshold
	CodeGPUInUse    ReasonCode = "gpu_in_use"   // another program (a game) holds GPU memory
	CodeFullScreen  ReasonCode = "full_screen"  // the active window is full screen (a movie, a game)
	CodeSchedule    ReasonCode = "schedule"     // outside the owner's serving hours
	CodeTooHot      ReasonCode = "too_hot"      // a GPU is above the temperature cap
	CodePowerCap    ReasonCode = "power_cap"    // a GPU draws more than the power cap
	CodeVRAMLow     ReasonCode = "vram_low"     // less free video memory than the owner's reserve
)

// Reason is one reason in force why the policy is not serving. The UI
// reads Code, Programs and Waiting; Text is the same in words, for logs
// and headless output.
type Reason struct {
	Code ReasonCode `json:"code"`
	Text string     `json:"text"` // plain words for the owner
	// Programs names the programs behind the reason, most important first
	// ("Half-Life 2", "game.exe"): the GPU users, the full-screen program,
	// the Steam game. Empty when the rule has none or it is unknown.
	Programs []string `json:"programs,omitempty"`
	// Waiting is set when the condition has cleared and the policy waits
	// (the resume hysteresis) to be sure before serving again.
	Waiting bool      `json:"waiting,omitempty"`
	Until   time.Time `json:"until,omitzero"` // when it ends, if known
}

// OverrideMode is the owner's manual choice from the tray.
type OverrideMode int

const (
	// OverrideNone leaves the decision to the policy.
	OverrideNone OverrideMode = iota
	// OverrideForceOn is tray Start: serve now, without waiting for idle.
	OverrideForceOn
	// OverrideForceOff is tray Stop: never serve until changed.
	OverrideForceOff
	// OverridePauseUntil stops serving until Override.Until, then the
	// policy decides again.
	OverridePauseUntil
)

// Override is the owner's manual choice. The zero value is OverrideNone.
type Override struct {
	Mode  OverrideMode
	Until time.Time // for OverridePauseUntil
}

// ForceOn is tray Start. ForceOff is tray Stop. PauseUntil pauses until t.
func ForceOn() Override               { return Override{Mode: OverrideForceOn} }
func ForceOff() Override              { return Override{Mode: OverrideForceOff} }
func PauseUntil(t time.Time) Override { return Override{Mode: OverridePauseUntil, Until: t} }

// Signals is everything the policy looks at, sampled at one time.
type Signals struct {
	// InputIdle is the time since the last keyboard/mouse input; < 0 means
	// unknown (treated like InputErr).
	InputIdle time.Duration
	// InputErr is set when the idle source failed. The policy then does
	// not serve (reason idle_unknown): it cannot see the owner return.
	InputErr        error
	FullScreen      bool
	FullScreenTitle string
	// FullScreenProgram names the full-screen program ("game.exe") when
	// the source knows it; Presentation says it is a presentation.
	FullScreenProgram string
	Presentation      bool
	// LastController is when a game controller was last used; zero when
	// no controller input has been seen. It counts like keyboard input.
	LastController time.Time
	// ControllerErr says controllers cannot be read: a note in the
	// decision (Decision.Notes), never a pause.
	ControllerErr error
	// Steam is the game Steam reports running (AppID 0: none).
	Steam SteamGame
	GPU   gpu.Snapshot
	// OwnPIDs are our own processes (Ollama and its runners). Their GPU
	// memory never counts as another program using the GPU and counts as
	// free for the VRAM reserve.
	OwnPIDs        map[uint32]bool
	ManualOverride Override
}

// Config tunes the policy. Start from DefaultConfig: the zero value of the
// bool fields means "off".
type Config struct {
	// IdleAfter is how long without keyboard/mouse input before serving
	// starts. 0 means the default, 5 minutes.
	IdleAfter time.Duration
	// ResumeHysteresis is how long the owner must stay away, and every
	// other blocking condition stay clear, after a pause before serving
	// resumes. 0 means IdleAfter; never less than MinResumeHysteresis.
	ResumeHysteresis time.Duration
	// PauseOnGPUProcesses pauses while another program uses the GPU, and
	// while Steam reports a running game (the owner's switch for "other
	// programs' games come first").
	PauseOnGPUProcesses bool
	// IgnoreProcesses are program names never counted as using the GPU
	// (the desktop itself). Matching ignores case, directories and ".exe".
	// nil means DefaultIgnoreProcesses; an empty non-nil slice ignores none.
	IgnoreProcesses []string
	// MinGPUProcessMemory: a process holding less VRAM than this is not
	// counted. 0 means the default, 64 MiB. A process whose memory NVML
	// cannot report (0, as under Windows WDDM) is not counted either unless
	// CountUnknownMemory is set.
	MinGPUProcessMemory uint64
	// CountUnknownMemory counts processes whose GPU memory is unknown (0).
	CountUnknownMemory bool
	// IgnoreSteamApps are Steam app ids that are not games (they run all
	// day). nil means DefaultIgnoreSteamApps; an empty non-nil slice
	// ignores none.
	IgnoreSteamApps []uint32
	// PauseOnFullScreen pauses while the active window is full screen or
	// a presentation runs.
	PauseOnFullScreen bool
	// Schedule limits automatic serving to weekly windows; nil = always.
	Schedule *Schedule
	// MaxTemperatureC pauses when a GPU is above it and resumes below it
	// minus 5 °C. 0 means no cap.
	MaxTemperatureC int
	// MaxPowerW pauses when a GPU draws more and resumes below 90 % of it.
	// 0 means no cap.
	MaxPowerW float64
	// VRAMReserve is video memory kept free for the owner. The Decision
	// carries it for model fitting; the policy also pauses when a GPU has
	// less free than this, counting our own processes' memory as free.
	VRAMReserve uint64
}

// Defaults.
const (
	DefaultIdleAfter           = 5 * time.Minute
	MinResumeHysteresis        = 30 * time.Second
	DefaultMinGPUProcessMemory = 64 << 20
	// TemperatureHysteresisC is how far below MaxTemperatureC a GPU must
	// cool before serving resumes.
	TemperatureHysteresisC = 5
	// PowerHysteresis is the fraction of MaxPowerW the draw must fall
	// below before serving resumes.
	PowerHysteresis = 0.9
)

// DefaultIgnoreProcesses are parts of the desktop that always hold some
// GPU memory. They are never "another app using the GPU".
var DefaultIgnoreProcesses = []string{
	"Xorg", "X", "Xwayland", "gnome-shell", "kwin_x11", "kwin_wayland", "plasmashell",
	"mutter", "cinnamon", "xfwm4", "picom", "compiz", "sway", "Hyprland",
	"nvidia-settings", "nvidia-smi", "dwm.exe", "explorer.exe",
}

// DefaultConfig returns the defaults: serve after 5 minutes without input,
// pause for other GPU programs and full-screen windows, no caps.
func DefaultConfig() Config {
	return Config{
		IdleAfter:           DefaultIdleAfter,
		PauseOnGPUProcesses: true,
		MinGPUProcessMemory: DefaultMinGPUProcessMemory,
		PauseOnFullScreen:   true,
	}
}

func (c Config) normalized() Config {
	if c.IdleAfter <= 0 {
		c.IdleAfter = DefaultIdleAfter
	}
	if c.ResumeHysteresis <= 0 {
		c.ResumeHysteresis = c.IdleAfter
	}
	if c.ResumeHysteresis < MinResumeHysteresis {
		c.ResumeHysteresis = MinResumeHysteresis
	}
	if c.IgnoreProcesses == nil {
		c.IgnoreProcesses = DefaultIgnoreProcesses
	}
	if c.IgnoreSteamApps == nil {
		c.IgnoreSteamApps = DefaultIgnoreSteamApps
	}
	if c.MinGPUProcessMemory == 0 {
		c.MinGPUProcessMemory = DefaultMinGPUProcessMemory
	}
	return c
}

// Decision is the policy's answer at one time.
type Decision struct {
	Serve bool `json:"serve"`
	// Reasons lists every reason in force why not serving, in a fixed
	// order (reasonOrder: manual_stop, paused_until, idle_unknown,
	// owner_active, controller_active, gpu_in_use, steam_game, full_screen,
	// presentation, schedule, too_hot, power_cap, vram_low); empty when
	// Serve.
	Reasons []Reason `json:"reasons,omitempty"`
	// Notes are facts the owner should know that do not stop serving
	// (controllers_unreadable).
	Notes []Reason `json:"notes,omitempty"`
	// NextCheck is when the decision could change without new input (time
	// left to the idle threshold, to the end of a hysteresis wait, a pause
	// or a schedule window); 0 when nothing is due.
	NextCheck time.Duration `json:"next_check"`
	// Changed is true when Serve differs from the previous Update (and on
	// the first Update).
	Changed bool `json:"changed"`
	// VRAMReserve is Config.VRAMReserve, for fitting a model.
	VRAMReserve uint64 `json:"vram_reserve"`
	// VRAMAvailable is the most video memory a model may use on the best
	// GPU: free memory plus our own processes' memory, minus VRAMReserve;
	// 0 when unknown.
	VRAMAvailable uint64    `json:"vram_available"`
	Time          time.Time `json:"time"`
}

// Has reports whether the decision carries a reason with this code.
func (d Decision) Has(code ReasonCode) bool {
	for _, r := range d.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}

// Policy decides when to serve. It is a pure state machine: it keeps no
// clock and starts no goroutine; every call to Update gives it the time
// and the signals. It is not safe for concurrent use.
//
// The rules, strongest first:
//
//  1. ForceOff (tray Stop): never serve; the only reason is manual_stop.
//  2. PauseUntil in the future: do not serve (paused_until, listed with the
//     other reasons in force, which say what will still block afterwards).
//  3. ForceOn (tray Start) means "serve now, don't wait for idle": it
//     skips the input-idle wait, the schedule and the resume hysteresis of
//     its first start. The owner's game still wins: another program on the
//     GPU, a full-screen window, the temperature, power and VRAM limits
//     still pause it, and after such a pause it resumes only once the
//     condition has been clear for ResumeHysteresis. A failing idle
//     source does not stop ForceOn (the owner is evidently present).
//  4. Otherwise serve only when the input has been idle ≥ IdleAfter and
//     nothing else blocks. If the idle source fails, do not serve
//     (idle_unknown): we could not see the owner come back.
//
// Pausing is immediate. Resuming after a pause (once we have served at
// least once) needs the owner away for max(IdleAfter, ResumeHysteresis)
// and every other condition that can flap (idle_unknown, gpu_in_use,
// full_screen, too_hot, power_cap, vram_low) clear for ResumeHysteresis.
// The very first start needs only IdleAfter. The schedule and manual
// pauses are clock-driven and do not flap, so they add no wait.
type Policy struct {
	cfg Config

	started    bool
	serving    bool
	everServed bool
	prevMode   OverrideMode

	lastBlocked    time.Time // last Update when a flapping condition was in force
	blockedReasons []Reason  // those conditions, as they were then

	hot   map[int]bool // device index → above the temperature cap (latched)
	power map[int]bool // device index → above the power cap (latched)
}

// NewPolicy returns a policy with cfg (zero durations take their defaults).
func NewPolicy(cfg Config) *Policy {
	return &Policy{cfg: cfg.normalized(), hot: map[int]bool{}, power: map[int]bool{}}
}

// Config returns the configuration in effect, defaults filled in.
func (p *Policy) Config() Config { return p.cfg }

// Serving reports the last decision's Serve.
func (p *Policy) Serving() bool { return p.serving }

// Update evaluates the signals at now and returns the decision.
func (p *Policy) Update(now time.Time, s Signals) Decision {
	cfg := p.cfg
	mode := s.ManualOverride.Mode
	if mode == OverridePauseUntil && !now.Before(s.ManualOverride.Until) {
		mode = OverrideNone // the pause is over
	}
	freshForceOn := mode == OverrideForceOn && (!p.started || p.prevMode != OverrideForceOn)

	d := Decision{Time: now, VRAMReserve: cfg.VRAMReserve}
	var next []time.Duration

	// Conditions that can flap; tracked for hysteresis.
	var flappy []Reason
	// idle source
	idleKnown := s.InputErr == nil && s.InputIdle >= 0
	if !idleKnown && mode != OverrideForceOn {
		text := "Can't tell whether you are at the computer, so not serving to be safe"
		if s.InputErr != nil {
			text += " (" + s.InputErr.Error() + ")"
		}
		flappy = append(flappy, Reason{Code: CodeIdleUnknown, Text: text})
	}
	flappy = append(flappy, p.gpuReasons(s)...)
	if r, ok := steamReason(s, cfg.IgnoreSteamApps); ok && cfg.PauseOnGPUProcesses {
		flappy = append(flappy, r)
	}
	if cfg.PauseOnFullScreen && (s.FullScreen || s.Presentation) {
		flappy = append(flappy, fullScreenReason(s))
	}
	flappy = append(flappy, p.limitReasons(s.GPU, s.OwnPIDs, &d)...)

	if len(flappy) > 0 {
		p.lastBlocked = now
		p.blockedReasons = flappy
	}

	// Owner presence (automatic mode only).
	var ownerActive []Reason
	if idleKnown && mode != OverrideForceOn {
		need := cfg.IdleAfter
		// The longer wait is for resuming after a pause; while serving, only
		// input within IdleAfter means the owner is back.
		if p.everServed && !p.serving && cfg.ResumeHysteresis > need {
			need = cfg.ResumeHysteresis
		}
		if s.InputIdle < need {
			left := need - s.InputIdle
			ownerActive = append(ownerActive, Reason{
				Code: CodeOwnerActive,
				Text: fmt.Sprintf("You used the keyboard or mouse %s ago; serving starts after %s without input",
					human(s.InputIdle), human(need)),
				Until: now.Add(left),
			})
			next = append(next, left)
		}
	}
	// A controller is input too: a controller game must not look idle.
	if !s.LastController.IsZero() && mode != OverrideForceOn {
		need := cfg.IdleAfter
		if p.everServed && !p.serving && cfg.ResumeHysteresis > need {
			need = cfg.ResumeHysteresis
		}
		if r, left, ok := controllerReason(now, max(now.Sub(s.LastController), 0), need); ok {
			ownerActive = append(ownerActive, r)
			next = append(next, left)
		}
	}

	// Schedule (automatic mode only).
	var sched []Reason
	if cfg.Schedule != nil && mode != OverrideForceOn {
		change := cfg.Schedule.NextChange(now)
		if !change.IsZero() {
			next = append(next, change.Sub(now))
		}
		if !cfg.Schedule.Allows(now) {
			text := fmt.Sprintf("Outside your serving hours (%s)", cfg.Schedule)
			if !change.IsZero() {
				text += "; the next window opens " + change.Format("Mon 15:04")
			}
			sched = append(sched, Reason{Code: CodeSchedule, Text: text, Until: change})
		}
	}

	// Hysteresis: after a pause, wait until the flapping conditions have
	// been clear for ResumeHysteresis.
	var waiting []Reason
	if len(flappy) == 0 && !p.serving && p.everServed && !freshForceOn && !p.lastBlocked.IsZero() {
		resumeAt := p.lastBlocked.Add(cfg.ResumeHysteresis)
		if now.Before(resumeAt) {
			for _, r := range p.blockedReasons {
				waiting = append(waiting, Reason{
					Code: r.Code,
					Text: fmt.Sprintf("Cleared %s ago (%s); waiting %s more to be sure before serving again",
						human(now.Sub(p.lastBlocked)), r.Text, human(resumeAt.Sub(now))),
					Programs: r.Programs,
					Waiting:  true,
					Until:    resumeAt,
				})
			}
			next = append(next, resumeAt.Sub(now))
		}
	}

	switch mode {
	case OverrideForceOff:
		d.Reasons = []Reason{{Code: CodeManualStop, Text: "You stopped serving from the tray"}}
		next = nil
	case OverridePauseUntil:
		until := s.ManualOverride.Until
		d.Reasons = append(d.Reasons, Reason{
			Code:  CodePausedUntil,
			Text:  "You paused serving until " + until.Local().Format("Mon 15:04"),
			Until: until,
		})
		next = append(next, until.Sub(now))
		fallthrough
	default:
		d.Reasons = append(d.Reasons, orderReasons(flappy, ownerActive, sched, waiting)...)
	}
	d.Serve = len(d.Reasons) == 0
	d.Notes = controllerNote(s.ControllerErr)
	d.NextCheck = minPositive(next)
	d.Changed = !p.started || d.Serve != p.serving

	p.started = true
	p.serving = d.Serve
	p.prevMode = mode
	if d.Serve {
		p.everServed = true
	}
	return d
}

var reasonOrder = map[ReasonCode]int{
	CodeManualStop: 0, CodePausedUntil: 1, CodeIdleUnknown: 2, CodeOwnerActive: 3, CodeControllerActive: 4,
	CodeGPUInUse: 5, CodeSteamGame: 6, CodeFullScreen: 7, CodePresentation: 8, CodeSchedule: 9,
	CodeTooHot: 10, CodePowerCap: 11, CodeVRAMLow: 12,
}

func orderReasons(groups ...[]Reason) []Reason {
	var out []Reason
	for _, g := range groups {
		out = append(out, g...)
	}
	sort.SliceStable(out, func(i, j int) bool { return reasonOrder[out[i].Code] < reasonOrder[out[j].Code] })
	return out
}

// gpuReasons reports other programs holding GPU memory.
func (p *Policy) gpuReasons(s Signals) []Reason {
	if !p.cfg.PauseOnGPUProcesses {
		return nil
	}
	type user struct {
		name string
		mem  uint64
	}
	var users []user
	seen := map[uint32]int{}
	for _, dev := range s.GPU.Devices {
		for _, pr := range dev.Processes {
			if s.OwnPIDs[pr.PID] || p.ignored(pr.Name) {
				continue
			}
			if pr.MemoryUsed == 0 && !p.cfg.CountUnknownMemory {
				continue
			}
			if pr.MemoryUsed != 0 && pr.MemoryUsed < p.cfg.MinGPUProcessMemory {
				continue
			}
			if i, ok := seen[pr.PID]; ok { // same program on several GPUs
				users[i].mem += pr.MemoryUsed
				continue
			}
			name := pr.Name
			if name == "" {
				name = fmt.Sprintf("Program %d", pr.PID)
			}
			seen[pr.PID] = len(users)
			users = append(users, user{name, pr.MemoryUsed})
		}
	}
	if len(users) == 0 {
		return nil
	}
	sort.SliceStable(users, func(i, j int) bool { return users[i].mem > users[j].mem })
	var parts, names []string
	for _, u := range users {
		names = append(names, u.name)
	}
	for i, u := range users {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more", len(users)-3))
			break
		}
		if u.mem > 0 {
			parts = append(parts, fmt.Sprintf("%s (%s)", u.name, gb(u.mem)))
		} else {
			parts = append(parts, u.name)
		}
	}
	verb := "is"
	if len(users) > 1 {
		verb = "are"
	}
	return []Reason{{Code: CodeGPUInUse, Text: joinAnd(parts) + " " + verb + " using the GPU", Programs: names}}
}

func (p *Policy) ignored(name string) bool {
	n := normName(name)
	if n == "" {
		return false
	}
	for _, ig := range p.cfg.IgnoreProcesses {
		if normName(ig) == n {
			return true
		}
	}
	return false
}

func normName(s string) string {
	s = strings.ReplaceAll(s, `\`, "/")
	s = strings.ToLower(filepath.Base(strings.TrimSpace(s)))
	if s == "." || s == "/" {
		return ""
	}
	return strings.TrimSuffix(s, ".exe")
}

// limitReasons checks temperature, power and VRAM, and fills
// d.VRAMAvailable.
func (p *Policy) limitReasons(snap gpu.Snapshot, own map[uint32]bool, d *Decision) []Reason {
	cfg := p.cfg
	var hot, pow, vram []string
	var hotUntil, powUntil string
	present := map[int]bool{}
	for _, dev := range snap.Devices {
		present[dev.Index] = true
		label := fmt.Sprintf("GPU %d", dev.Index)
		if cfg.MaxTemperatureC > 0 && dev.TemperatureC > 0 {
			if p.hot[dev.Index] {
				p.hot[dev.Index] = dev.TemperatureC >= cfg.MaxTemperatureC-TemperatureHysteresisC
			} else {
				p.hot[dev.Index] = dev.TemperatureC > cfg.MaxTemperatureC
			}
		}
		if cfg.MaxTemperatureC <= 0 {
			p.hot[dev.Index] = false
		}
		if p.hot[dev.Index] {
			hot = append(hot, fmt.Sprintf("%s is at %d °C", label, dev.TemperatureC))
			hotUntil = fmt.Sprintf("; serving resumes below %d °C", cfg.MaxTemperatureC-TemperatureHysteresisC)
		}
		if cfg.MaxPowerW > 0 && dev.PowerW > 0 {
			if p.power[dev.Index] {
				p.power[dev.Index] = dev.PowerW >= cfg.MaxPowerW*PowerHysteresis
			} else {
				p.power[dev.Index] = dev.PowerW > cfg.MaxPowerW
			}
		}
		if cfg.MaxPowerW <= 0 {
			p.power[dev.Index] = false
		}
		if p.power[dev.Index] {
			pow = append(pow, fmt.Sprintf("%s draws %.0f W", label, dev.PowerW))
			powUntil = fmt.Sprintf("; serving resumes below %.0f W", cfg.MaxPowerW*PowerHysteresis)
		}
		if dev.MemoryTotal > 0 {
			free := dev.MemoryFree
			for _, pr := range dev.Processes {
				if own[pr.PID] {
					free += pr.MemoryUsed
				}
			}
			if free > dev.MemoryTotal {
				free = dev.MemoryTotal
			}
			if free > cfg.VRAMReserve && free-cfg.VRAMReserve > d.VRAMAvailable {
				d.VRAMAvailable = free - cfg.VRAMReserve
			}
			if cfg.VRAMReserve > 0 && free < cfg.VRAMReserve {
				vram = append(vram, fmt.Sprintf("only %s free on %s", gb(free), label))
			}
		}
	}
	// A device that vanished from the snapshot keeps no latch.
	for i := range p.hot {
		if !present[i] {
			delete(p.hot, i)
		}
	}
	for i := range p.power {
		if !present[i] {
			delete(p.power, i)
		}
	}
	var out []Reason
	if len(hot) > 0 {
		out = append(out, Reason{Code: CodeTooHot, Text: fmt.Sprintf("%s, above your %d °C limit%s",
			joinAnd(hot), cfg.MaxTemperatureC, hotUntil)})
	}
	if len(pow) > 0 {
		out = append(out, Reason{Code: CodePowerCap, Text: fmt.Sprintf("%s, above your %.0f W limit%s",
			joinAnd(pow), cfg.MaxPowerW, powUntil)})
	}
	if len(vram) > 0 {
		out = append(out, Reason{Code: CodeVRAMLow, Text: fmt.Sprintf("Video memory is short: %s (you keep %s for yourself)",
			joinAnd(vram), gb(cfg.VRAMReserve))})
	}
	return out
}

func minPositive(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		if d > 0 && (m == 0 || d < m) {
			m = d
		}
	}
	return m
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func gb(b uint64) string {
	if b < 1<<30 {
		return fmt.Sprintf("%d MB", b>>20)
	}
	return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
}

// human formats a duration for the owner: "12 s", "4 min 30 s", "1 h 5 min".
func human(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64((d + time.Second/2) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		if s%60 == 0 {
			return fmt.Sprintf("%d min", s/60)
		}
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	default:
		m := (s + 30) / 60
		if m%60 == 0 {
			return fmt.Sprintf("%d h", m/60)
		}
		return fmt.Sprintf("%d h %d min", m/60, m%60)
	}
}
