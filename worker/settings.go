package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
)

// Settings are the owner's choices that outlive a run. They live in
// settings.json in the data dir (0600), written atomically.
type Settings struct {
	// PayoutAddress is the owner's TON wallet (as entered, validated).
	PayoutAddress string `json:"payout_address,omitempty"`
	// TariffNanoPerKWh is the owner's electricity price in nanoTON per kWh,
	// for net earnings (0: not set); SetElectricity derives it from
	// Electricity.
	TariffNanoPerKWh int64 `json:"tariff_nano_per_kwh,omitempty"`
	// Electricity is that price as the owner gave it, in their currency
	// (electricity.go); settings saved before it are migrated on load.
	Electricity *Electricity `json:"electricity,omitempty"`
	// Idle is the owner's idle policy as set in the Settings tab; nil until
	// it is saved there (the command-line flags or defaults apply). Once
	// saved it wins over the flags: the owner changes it in the window.
	Idle *IdleSettings `json:"idle,omitempty"`
	// LogLevel is debug, info, warn or error ("" : the --log-level flag).
	// It is read at launch (LoadSettings), so a change applies on the next start.
	LogLevel string `json:"log_level,omitempty"`
	// Onboarded is set once the owner finished or skipped the first-run
	// wizard; the window does not show it again.
	Onboarded bool `json:"onboarded,omitempty"`
	// ModelCacheQuotaGB caps the total size of Cocoon's local models in GB
	// (10^9 bytes; 0: no quota). After each download the least recently
	// used models are deleted until the cache fits (see SetModelCacheQuotaGB).
	ModelCacheQuotaGB int64 `json:"model_cache_quota_gb,omitempty"`
	// Sharing says the owner left sharing on (Start, Start now, Pause for);
	// Stop clears it. The next launch shares again (ResumeSharing), so a
	// reboot does not stop the earning.
	Sharing bool `json:"sharing,omitempty"`
	// PausedUntilMS is the end of a "Pause for 1 hour" (unix ms; 0: none),
	// kept across a restart.
	PausedUntilMS int64 `json:"paused_until_ms,omitempty"`
	// AutoClaimNano is the claimable amount (nanoTON) past which the app
	// claims from the escrow by itself: 0 is the default (claim.go,
	// AutoClaimFeeMultiple × the claim fee), negative is off.
	AutoClaimNano int64 `json:"auto_claim_nano,omitempty"`
	// Network is the network joined in the app (networks.go); nil: the
	// local test network. A --network flag wins over it.
	Network *JoinedNetwork `json:"network,omitempty"`
}

// SettingsFile is the settings' file name in the data dir.
const SettingsFile = "settings.json"

// ErrBadSetting wraps every rejected setting.
var ErrBadSetting = errors.New("invalid setting")

func (c *Core) settingsPath() string { return filepath.Join(c.cfg.DataDir, SettingsFile) }

// Settings returns the saved settings (zero when none were saved).
func (c *Core) Settings() Settings {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.settings == nil {
		s, err := loadSettings(c.settingsPath())
		if err != nil {
			c.log.Warn("settings unreadable; using defaults", "err", err)
		}
		c.settings = &s
	}
	return *c.settings
}

// Tariff is the electricity price as the ledger's queries take it.
func (c *Core) Tariff() earnings.Tariff {
	return earnings.Tariff{PerKWhNano: c.Settings().TariffNanoPerKWh}
}

// SetPayoutAddress validates and saves the owner's TON address. The network
// (mainnet or testnet) is the proxy's when known, else mainnet. It returns
// the parsed address, whose Warnings() the UI shows (e.g. a bounceable form).
func (c *Core) SetPayoutAddress(s string) (ton.Address, error) {
	netw := ton.Mainnet
	if _, _, n, err := c.PayoutQuote(); err == nil {
		netw = n
	}
	a, err := ton.ParseAddress(s, netw)
	if err != nil {
		return ton.Address{}, fmt.Errorf("worker: payout address: %w", err)
	}
	err = c.updateSettings(func(st *Settings) error {
		st.PayoutAddress = strings.TrimSpace(s)
		return nil
	})
	if cl := c.cl(); err == nil && cl != nil && c.cfg.PayoutAddress == "" {
		// Vouchers name the payout address: ask for one made out to the
		// new one (when not connected, the next register carries it).
		if rerr := cl.RequestVoucher(strings.TrimSpace(s)); rerr != nil {
			c.log.Debug("voucher request not sent", "err", rerr)
		}
	}
	return a, err
}

// SetTariff saves the electricity price in nanoTON per kWh.
func (c *Core) SetTariff(nanoPerKWh int64) error {
	if nanoPerKWh < 0 || nanoPerKWh > 1_000_000_000_000 {
		return fmt.Errorf("worker: tariff: %w: %d nanoTON per kWh is out of range", ErrBadSetting, nanoPerKWh)
	}
	return c.updateSettings(func(st *Settings) error {
		st.TariffNanoPerKWh, st.Electricity = nanoPerKWh, nil
		migrateElectricity(st) // the same price, in TON
		return nil
	})
}

// updateSettings applies change to the saved settings and saves them. Updates
// are serialized (settingsMu), so two saves at once both take effect.
func (c *Core) updateSettings(change func(*Settings) error) error {
	c.settingsMu.Lock()
	defer c.settingsMu.Unlock()
	st := c.Settings()
	if err := change(&st); err != nil {
		return err
	}
	if err := saveSettings(c.settingsPath(), st); err != nil {
		return err
	}
	c.mu.Lock()
	c.settings = &st
	c.mu.Unlock()
	c.bus.Publish(EventEarnings, nil)
	return nil
}

// SetOnboarded records that the owner finished or skipped the first-run
// wizard, so it is not shown again.
func (c *Core) SetOnboarded() error {
	if c.Settings().Onboarded {
		return nil
	}
	if err := c.updateSettings(func(st *Settings) error {
		st.Onboarded = true
		return nil
	}); err != nil {
		return err
	}
	c.log.Info("first-run wizard done")
	return nil
}

// LoadSettings reads the settings saved in dataDir (zero when none were
// saved), for what must be known before the core exists (the log level).
func LoadSettings(dataDir string) (Settings, error) {
	return loadSettings(filepath.Join(dataDir, SettingsFile))
}

func loadSettings(path string) (Settings, error) {
	var s Settings
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("worker: settings: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("worker: settings %s: %w", path, err)
	}
	migrateElectricity(&s)
	return s, nil
}

func saveSettings(path string, s Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("worker: settings: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("worker: settings: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("worker: settings: %w", err)
	}
	return nil
}

// Setting names, as FieldError.Field reports them.
const (
	FieldIdleMinutes = "idle_minutes"
	FieldSchedule    = "schedule"
	FieldMaxTemp     = "max_temperature_c"
	FieldMaxPower    = "max_power_w"
	FieldVRAMReserve = "vram_reserve_mb"
	FieldLogLevel    = "log_level"
)

// FieldError is one rejected setting: which field and why, in plain words.
// It wraps ErrBadSetting.
type FieldError struct {
	Field   string // one of the Field constants
	Problem string // e.g. "must be at least 0.5 minutes"
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("worker: %s: %s", strings.ReplaceAll(e.Field, "_", " "), e.Problem)
}

func (e *FieldError) Unwrap() error { return ErrBadSetting }

// FieldErrors lists the *FieldError values in err (joined or wrapped).
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Limits of the idle policy's settings.
const (
	MinIdleMinutes = 0.5
	MaxIdleMinutes = 24 * 60
	MinTempCapC    = 40  // a cap below this would never let a GPU serve
	MaxTempCapC    = 100 // GPUs throttle themselves before this
	MinPowerCapW   = 10
	MaxPowerCapW   = 2000
	MaxVRAMReserve = 256 << 10 // MB
)

// IdleSettings is the part of the idle policy the owner sets in the window,
// as settings.json stores it. Zero caps mean "no cap".
type IdleSettings struct {
	// IdleMinutes: serve after this long without keyboard or mouse input.
	IdleMinutes float64 `json:"idle_minutes"`
	// PauseOnGPUUse pauses while another program (a game) uses the GPU.
	PauseOnGPUUse bool `json:"pause_on_gpu_use"`
	// PauseOnFullScreen pauses while the active window is full screen.
	PauseOnFullScreen bool `json:"pause_on_full_screen"`
	// Schedule is the weekly serving windows in idle.ParseSchedule's
	// syntax, e.g. "mon-fri 22:00-08:00"; "" serves at any time.
	Schedule        string  `json:"schedule,omitempty"`
	MaxTemperatureC int     `json:"max_temperature_c,omitempty"`
	MaxPowerW       float64 `json:"max_power_w,omitempty"`
	// VRAMReserveMB is video memory kept free for the owner.
	VRAMReserveMB uint64 `json:"vram_reserve_mb,omitempty"`
}

// IdlePolicyOf is the owner-facing view of an idle configuration.
func IdlePolicyOf(cfg idle.Config) IdleSettings {
	after := cfg.IdleAfter
	if after <= 0 {
		after = idle.DefaultIdleAfter
	}
	p := IdleSettings{
		IdleMinutes:       math.Round(after.Minutes()*100) / 100,
		PauseOnGPUUse:     cfg.PauseOnGPUProcesses,
		PauseOnFullScreen: cfg.PauseOnFullScreen,
		MaxTemperatureC:   cfg.MaxTemperatureC,
		MaxPowerW:         cfg.MaxPowerW,
		VRAMReserveMB:     cfg.VRAMReserve >> 20,
	}
	if cfg.Schedule != nil {
		p.Schedule = cfg.Schedule.String()
	}
	return p
}

// Validate checks every field; the error joins one *FieldError per bad
// field (see FieldErrors), nil when all are good.
func (p IdleSettings) Validate() error {
	_, err := p.Apply(idle.Config{})
	return err
}

// Apply returns base with the policy's fields set, or the joined
// *FieldError values of every bad field. The schedule comes back in its
// canonical form through the returned config's Schedule.String().
func (p IdleSettings) Apply(base idle.Config) (idle.Config, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	switch m := p.IdleMinutes; {
	case math.IsNaN(m) || math.IsInf(m, 0):
		bad(FieldIdleMinutes, "must be a number of minutes")
	case m < MinIdleMinutes:
		bad(FieldIdleMinutes, "must be at least %g minutes (30 s), so a short pause at the desk does not start serving", float64(MinIdleMinutes))
	case m > MaxIdleMinutes:
		bad(FieldIdleMinutes, "must be at most %d minutes (a day)", MaxIdleMinutes)
	}
	sched, err := idle.ParseSchedule(p.Schedule)
	if err != nil {
		bad(FieldSchedule, "%s", strings.TrimPrefix(err.Error(), "idle: "))
	}
	switch t := p.MaxTemperatureC; {
	case t < 0:
		bad(FieldMaxTemp, "cannot be negative (0 means no cap)")
	case t > 0 && t < MinTempCapC:
		bad(FieldMaxTemp, "must be 0 (no cap) or at least %d °C: an idle GPU is often warmer than %d °C", MinTempCapC, t)
	case t > MaxTempCapC:
		bad(FieldMaxTemp, "must be at most %d °C", MaxTempCapC)
	}
	switch w := p.MaxPowerW; {
	case math.IsNaN(w) || math.IsInf(w, 0):
		bad(FieldMaxPower, "must be a number of watts")
	case w < 0:
		bad(FieldMaxPower, "cannot be negative (0 means no cap)")
	case w > 0 && w < MinPowerCapW:
		bad(FieldMaxPower, "must be 0 (no cap) or at least %d W", MinPowerCapW)
	case w > MaxPowerCapW:
		bad(FieldMaxPower, "must be at most %d W", MaxPowerCapW)
	}
	if p.VRAMReserveMB > MaxVRAMReserve {
		bad(FieldVRAMReserve, "must be at most %d MB", MaxVRAMReserve)
	}
	if len(errs) > 0 {
		return base, errors.Join(errs...)
	}
	cfg := base
	cfg.IdleAfter = time.Duration(p.IdleMinutes * float64(time.Minute))
	cfg.PauseOnGPUProcesses = p.PauseOnGPUUse
	cfg.PauseOnFullScreen = p.PauseOnFullScreen
	cfg.Schedule = sched
	cfg.MaxTemperatureC = p.MaxTemperatureC
	cfg.MaxPowerW = p.MaxPowerW
	cfg.VRAMReserve = p.VRAMReserveMB << 20
	return cfg, nil
}

// IdleConfig is the idle policy in force: the one the core was built with
// (flags or defaults) with the owner's saved IdleSettings on top.
func (c *Core) IdleConfig() idle.Config {
	cfg, _ := c.idleConfig()
	return cfg
}

// IdleSettings is the owner-facing view of IdleConfig.
func (c *Core) IdleSettings() IdleSettings { return IdlePolicyOf(c.IdleConfig()) }

// idleConfig also returns the saved policy it used (nil: none); see savedIdle.
func (c *Core) idleConfig() (idle.Config, *IdleSettings) {
	saved := c.Settings().Idle
	if saved == nil {
		return c.cfg.Idle, nil
	}
	cfg, err := saved.Apply(c.cfg.Idle)
	if err != nil { // a hand-edited file: keep the flags
		c.log.Warn("saved idle settings are invalid; using the defaults and flags", "err", err)
		return c.cfg.Idle, saved
	}
	return cfg, saved
}

// savedIdle is the saved policy (nil: none). The pointer changes with every
// SetIdleSettings and only then, so the control loop compares it to see that
// the policy changed.
func (c *Core) savedIdle() *IdleSettings { return c.Settings().Idle }

// SetIdleSettings validates the owner's idle policy, saves it in
// settings.json and applies it: a running worker re-evaluates with it
// at once, keeping the owner's Start/Stop choice. An
// invalid policy changes nothing; its error joins a *FieldError per bad
// field (FieldErrors).
func (c *Core) SetIdleSettings(p IdleSettings) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if s, _ := idle.ParseSchedule(p.Schedule); s != nil {
		p.Schedule = s.String() // canonical
	} else {
		p.Schedule = ""
	}
	if err := c.updateSettings(func(st *Settings) error {
		st.Idle = &p
		return nil
	}); err != nil {
		return err
	}
	c.nudgeControl()
	c.log.Info("idle settings changed", "idle_minutes", p.IdleMinutes, "pause_on_gpu_use", p.PauseOnGPUUse,
		"pause_on_full_screen", p.PauseOnFullScreen, "schedule", p.Schedule, "max_temp_c", p.MaxTemperatureC,
		"max_power_w", p.MaxPowerW, "vram_reserve_mb", p.VRAMReserveMB)
	return nil
}

// LogLevels are the levels SetLogLevel accepts.
var LogLevels = []string{"debug", "info", "warn", "error"}

// SetLogLevel validates and saves the log level ("" clears it: the
// --log-level flag decides). It applies the next time the app starts.
func (c *Core) SetLogLevel(level string) error {
	level = strings.ToLower(strings.TrimSpace(level))
	if level != "" {
		if !slices.Contains(LogLevels, level) {
			return &FieldError{Field: FieldLogLevel, Problem: fmt.Sprintf("%q is not a level; use debug, info, warn or error", level)}
		}
	}
	return c.updateSettings(func(st *Settings) error {
		st.LogLevel = level
		return nil
	})
}
