package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
)

// Settings are the owner's choices that outlive a run. They live in
// settings.json in the data dir (0600), written atomically.
type Settings struct {
	// PayoutAddress is the owner's TON wallet (as entered, validated).
	PayoutAddress string `json:"payout_address,omitempty"`
	// TariffNanoPerKWh is the owner's electricity price in nanoTON per kWh,
	// for net earnings (0: not set).
	TariffNanoPerKWh int64 `json:"tariff_nano_per_kwh,omitempty"`
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
func (c *Core) SetPayoutAddress(s string) (earnings.Address, error) {
	netw := earnings.Mainnet
	if _, _, n, err := c.PayoutQuote(); err == nil {
		netw = n
	}
	a, err := earnings.ParseAddress(s, netw)
	if err != nil {
		return earnings.Address{}, fmt.Errorf("worker: payout address: %w", err)
	}
	err = c.updateSettings(func(st *Settings) error {
		st.PayoutAddress = strings.TrimSpace(s)
		return nil
	})
	return a, err
}

// SetTariff saves the electricity price in nanoTON per kWh.
func (c *Core) SetTariff(nanoPerKWh int64) error {
	if nanoPerKWh < 0 || nanoPerKWh > 1_000_000_000_000 {
		return fmt.Errorf("worker: tariff: %w: %d nanoTON per kWh is out of range", ErrBadSetting, nanoPerKWh)
	}
	return c.updateSettings(func(st *Settings) error {
		st.TariffNanoPerKWh = nanoPerKWh
		return nil
	})
}

func (c *Core) updateSettings(change func(*Settings) error) error {
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
