package app

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/internal/autostart"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// The Settings tab: the idle policy, the limits, the payout address, the
// electricity price and the log level. Every field is checked before
// anything is saved; the core checks again and persists in settings.json.

// Field names of the settings the core does not name itself.
const (
	fieldPayout = "payout_address"
)

// settingsForm is what the form shows, as text, to tell edits from the saved values.
type settingsForm struct {
	idleMin, schedule, tempC, powerW, vramMB string
	pauseGPU, pauseFS                        bool
	address, logLevel                        string
	perKWh, currency, tonPrice               string // the electricity price (money_text.go)
}

type settingsView struct {
	autostart *widget.Check // applied at once, outside Save: it is a file, not a setting
	env       *tabEnv
	// saved is called after the owner's settings were saved (the Earnings
	// tab re-reads the address and the price).
	saved   func()
	sw      NetworkSwitcher      // nil: the core cannot switch networks
	network worker.NetworkStatus // the network in the last status shown
	content fyne.CanvasObject

	idleEntry     *widget.Entry
	pauseGPU      *widget.Check
	pauseFS       *widget.Check
	schedEntry    *widget.Entry
	schedPreview  *widget.Label
	whenBox       *fyne.Container // re-laid out when the preview's height changes
	tempEntry     *widget.Entry
	powerEntry    *widget.Entry
	vramEntry     *widget.Entry
	addrEntry     *widget.Entry
	tariffEntry   *widget.Entry // price per kWh, in currencyEntry's currency
	currencyEntry *widget.Entry
	tonPriceEntry *widget.Entry // what one TON costs in that currency
	logLevel      *widget.Select
	networkText   *widget.Label
	saveBtn       *widget.Button
	revertBtn     *widget.Button
	status        *widget.Label
	msgs          map[string]*widget.Label // field → its message under the entry
	loaded        settingsForm
	saving        bool
	logLevelSaved string
}

func newSettingsView(env *tabEnv, saved func()) *settingsView {
	s := &settingsView{env: env, saved: saved, msgs: map[string]*widget.Label{}}
	s.sw, _ = env.core.(NetworkSwitcher)
	entry := func(placeholder string) *widget.Entry {
		e := widget.NewEntry()
		e.SetPlaceHolder(placeholder)
		e.OnSubmitted = func(string) { s.save() }
		return e
	}
	s.idleEntry = entry("5")
	s.pauseGPU = widget.NewCheck("Pause while other apps (games) use the GPU", nil)
	s.pauseFS = widget.NewCheck("Pause while a window is full screen (movies, games)", nil)
	s.schedEntry = entry("any time, or e.g. mon-fri 22:00-08:00; sat,sun 00:00-24:00")
	s.schedPreview = wrapLabel("")
	s.schedEntry.OnChanged = func(string) { s.previewSchedule() }
	s.tempEntry = entry("0")
	s.powerEntry = entry("0")
	s.vramEntry = entry("1024")
	s.addrEntry = entry("UQ… or EQ… (your TON wallet)")
	s.tariffEntry = entry("e.g. 0.25")
	s.currencyEntry = entry("e.g. EUR")
	s.tonPriceEntry = entry("e.g. 3.10")
	s.currencyEntry.OnChanged = func(string) { s.renderTONPrice() }
	s.logLevel = widget.NewSelect(worker.LogLevels, nil)
	s.networkText = wrapLabel("—")
	for _, f := range []string{worker.FieldIdleMinutes, worker.FieldSchedule, worker.FieldMaxTemp, worker.FieldMaxPower,
		worker.FieldVRAMReserve, worker.FieldLogLevel, fieldPayout, fieldPerKWh, fieldCurrency, fieldTONPrice} {
		l := wrapLabel("")
		l.Importance = widget.DangerImportance
		l.Hide()
		s.msgs[f] = l
	}
	s.saveBtn = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), s.save)
	s.saveBtn.Importance = widget.HighImportance
	s.revertBtn = widget.NewButtonWithIcon("Revert", theme.ContentUndoIcon(), func() { s.load(true) })
	s.status = wrapLabel("")
	s.status.Hide()

	// unit puts a dim unit after an entry of a fixed width; it wraps in a
	// narrow window rather than widening it.
	unit := func(e *widget.Entry, u string) fyne.CanvasObject {
		c := caption(u)
		c.Wrapping = fyne.TextWrapWord
		return container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(110, e.MinSize().Height), e), nil, container.New(vcenter{}, c))
	}
	field := func(e fyne.CanvasObject, field, help string) fyne.CanvasObject {
		objs := []fyne.CanvasObject{e}
		if help != "" {
			h := caption(help)
			h.Wrapping = fyne.TextWrapWord
			objs = append(objs, h)
		}
		if m := s.msgs[field]; m != nil {
			objs = append(objs, m)
		}
		return container.NewVBox(objs...)
	}
	form := func(rows ...fyne.CanvasObject) fyne.CanvasObject {
		return container.New(layout.NewFormLayout(), rows...)
	}

	s.whenBox = container.NewVBox(
		form(
			caption("Start after"), field(unit(s.idleEntry, "minutes without keyboard or mouse input"), worker.FieldIdleMinutes, ""),
			caption("Schedule"), field(s.schedEntry, worker.FieldSchedule, ""),
		),
		s.schedPreview,
		s.pauseGPU, s.pauseFS,
		caption("Start and Stop in the tray always win over these rules."),
	)
	when := panel("When Cocoon serves", nil, s.whenBox)
	limits := panel("Limits", nil, form(
		caption("Temperature"), field(unit(s.tempEntry, "°C · 0: no cap"), worker.FieldMaxTemp, ""),
		caption("Power"), field(unit(s.powerEntry, "W · 0: no cap"), worker.FieldMaxPower, ""),
		caption("Keep free"), field(unit(s.vramEntry, "MB of video memory for you"), worker.FieldVRAMReserve, ""),
	))
	money := panel("Earnings", nil, form(
		caption("Payout address"), field(s.addrEntry, fieldPayout, ""),
		caption("Electricity"), field(unit(s.tariffEntry, "per kWh · empty: none"), fieldPerKWh, ""),
		caption("Currency"), field(unit(s.currencyEntry, "EUR, USD, … or TON"), fieldCurrency, ""),
		caption("1 TON costs"), field(unit(s.tonPriceEntry, "in that currency (you set it: nothing is fetched)"), fieldTONPrice, ""),
	))
	s.autostart = widget.NewCheck("Start Cocoon when I log in", s.setAutostart)
	s.autostart.Checked = autostart.Enabled()
	advanced := panel("Advanced", nil, form(
		caption("At login"), field(s.autostart, "", "Off by default. Cocoon then starts sharing and waits for you to be away."),
		caption("Log level"), field(container.NewGridWrap(fyne.NewSize(160, s.logLevel.MinSize().Height), s.logLevel), worker.FieldLogLevel, "Applies the next time Cocoon starts."),
		caption("Network"), field(s.networkText, "", "Set with --network and --proxy-key when starting Cocoon."),
	))
	note := caption("The rules and limits apply at once, also while sharing.")
	buttons := container.NewBorder(nil, nil, nil, container.NewCenter(container.NewHBox(s.revertBtn, s.saveBtn)), container.NewVBox(s.status, note))
	cols := newColumns(
		container.NewVBox(when, money),
		container.NewVBox(limits, advanced))
	s.content = container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), buttons), nil, nil, container.NewVScroll(cols))
	s.load(true)
	return s
}

// values is what the core has now, as the form shows it.
func (s *settingsView) values() settingsForm {
	core := s.env.core
	p := core.IdleSettings()
	set := core.Settings()
	f := settingsForm{
		idleMin:  strconv.FormatFloat(p.IdleMinutes, 'f', -1, 64),
		schedule: p.Schedule,
		tempC:    strconv.Itoa(p.MaxTemperatureC),
		powerW:   strconv.FormatFloat(p.MaxPowerW, 'f', -1, 64),
		vramMB:   strconv.FormatUint(p.VRAMReserveMB, 10),
		pauseGPU: p.PauseOnGPUUse,
		pauseFS:  p.PauseOnFullScreen,
		address:  set.PayoutAddress,
		logLevel: set.LogLevel,
	}
	if el := electricityOf(set); el != nil {
		f.perKWh, f.currency = microText(el.PerKWhMicro), el.Currency
		if !el.IsTON() {
			f.tonPrice = microText(el.TONPriceMicro)
		}
	}
	if f.logLevel == "" {
		f.logLevel = "info"
	}
	return f
}

// form is what the owner typed.
func (s *settingsView) form() settingsForm {
	return settingsForm{
		idleMin: strings.TrimSpace(s.idleEntry.Text), schedule: strings.TrimSpace(s.schedEntry.Text),
		tempC: strings.TrimSpace(s.tempEntry.Text), powerW: strings.TrimSpace(s.powerEntry.Text),
		vramMB: strings.TrimSpace(s.vramEntry.Text), pauseGPU: s.pauseGPU.Checked, pauseFS: s.pauseFS.Checked,
		address: strings.TrimSpace(s.addrEntry.Text), logLevel: s.logLevel.Selected,
		perKWh: strings.TrimSpace(s.tariffEntry.Text), currency: strings.TrimSpace(s.currencyEntry.Text),
		tonPrice: strings.TrimSpace(s.tonPriceEntry.Text),
	}
}

// dirty reports unsaved edits.
func (s *settingsView) dirty() bool { return s.form() != s.loaded }

// load fills the form from the core; unless force, only when nothing was edited.
func (s *settingsView) load(force bool) {
	if !force && (s.dirty() || s.saving) {
		s.renderNetwork()
		return
	}
	f := s.values()
	s.idleEntry.SetText(f.idleMin)
	s.schedEntry.SetText(f.schedule)
	s.tempEntry.SetText(f.tempC)
	s.powerEntry.SetText(f.powerW)
	s.vramEntry.SetText(f.vramMB)
	s.pauseGPU.SetChecked(f.pauseGPU)
	s.pauseFS.SetChecked(f.pauseFS)
	s.addrEntry.SetText(f.address)
	s.tariffEntry.SetText(f.perKWh)
	s.currencyEntry.SetText(f.currency)
	s.tonPriceEntry.SetText(f.tonPrice)
	s.logLevel.SetSelected(f.logLevel)
	s.loaded = s.form() // as the widgets hold it (trimmed)
	s.logLevelSaved = f.logLevel
	for _, m := range s.msgs {
		m.Hide()
	}
	if force {
		s.status.Hide()
	}
	s.previewSchedule()
	s.renderNetwork()
}

// refresh shows the network of a new status.
func (s *settingsView) refresh(st worker.Status) {
	s.network = st.Network
	s.renderNetwork()
}

func (s *settingsView) renderNetwork() {
	ns := s.network
	text := "None configured"
	switch {
	case ns.Local:
		text = "Local test network on this computer (test TON, no payouts)"
	case ns.URL != "":
		text = networkName(ns) + " · " + ns.URL + " · proxy key pinned"
	}
	if s.sw != nil && s.sw.CanSwitchNetwork() {
		text += " (the Networks tab changes it)"
	}
	setLabel(s.networkText, text, widget.MediumImportance)
}

// previewSchedule shows how the schedule is read, as it is typed.
func (s *settingsView) previewSchedule() {
	sched, err := idle.ParseSchedule(s.schedEntry.Text)
	switch {
	case err != nil:
		setLabel(s.schedPreview, strings.TrimPrefix(err.Error(), "idle: "), widget.DangerImportance)
	case sched == nil:
		setLabel(s.schedPreview, "Serves at any time. Days: mon … sun, ranges like mon-fri, or daily; times HH:MM-HH:MM, 24:00 allowed.", widget.MediumImportance)
	default:
		setLabel(s.schedPreview, "Serves only: "+sched.String()+" (local time)", widget.MediumImportance)
	}
	if s.whenBox != nil {
		s.whenBox.Refresh()
	}
}

// parsePolicy reads the idle fields; bad numbers come back as field problems.
func parsePolicy(f settingsForm) (worker.IdleSettings, map[string]string) {
	bad := map[string]string{}
	num := func(field, text, what string) float64 {
		t := strings.ReplaceAll(strings.TrimSpace(text), ",", ".")
		if t == "" {
			return 0
		}
		x, err := strconv.ParseFloat(t, 64)
		if err != nil {
			bad[field] = fmt.Sprintf("%q is not a number of %s", text, what)
		}
		return x
	}
	p := worker.IdleSettings{
		IdleMinutes:       num(worker.FieldIdleMinutes, f.idleMin, "minutes"),
		PauseOnGPUUse:     f.pauseGPU,
		PauseOnFullScreen: f.pauseFS,
		Schedule:          f.schedule,
		MaxPowerW:         num(worker.FieldMaxPower, f.powerW, "watts"),
	}
	if strings.TrimSpace(f.idleMin) == "" {
		bad[worker.FieldIdleMinutes] = "enter a number of minutes, at least 0.5"
	}
	t := num(worker.FieldMaxTemp, f.tempC, "°C")
	if t != float64(int(t)) {
		bad[worker.FieldMaxTemp] = "use whole degrees, e.g. 83"
	}
	p.MaxTemperatureC = int(t)
	v := num(worker.FieldVRAMReserve, f.vramMB, "MB")
	switch {
	case v < 0:
		bad[worker.FieldVRAMReserve] = "cannot be negative"
	case v != float64(uint64(v)):
		bad[worker.FieldVRAMReserve] = "use whole MB, e.g. 1024"
	default:
		p.VRAMReserveMB = uint64(v)
	}
	for _, fe := range worker.FieldErrors(p.Validate()) {
		if _, ok := bad[fe.Field]; !ok {
			bad[fe.Field] = fe.Problem
		}
	}
	return p, bad
}

// check validates the whole form without saving; field → problem.
func (s *settingsView) check(f settingsForm) (worker.IdleSettings, *worker.Electricity, map[string]string) {
	p, bad := parsePolicy(f)
	el, elBad := parseElectricity(f.perKWh, f.currency, f.tonPrice)
	for k, m := range elBad {
		bad[k] = m
	}
	if f.address != s.loaded.address {
		if f.address == "" {
			bad[fieldPayout] = "enter your TON wallet address"
		} else if _, ok := parseAnyAddress(f.address); !ok {
			if _, err := ton.ParseAddress(f.address, ton.Mainnet); err != nil {
				bad[fieldPayout] = strings.TrimPrefix(err.Error(), "earnings: ")
			}
		}
	}
	return p, el, bad
}

func (s *settingsView) showProblems(bad map[string]string) {
	for field, m := range s.msgs {
		setLabel(m, bad[field], widget.DangerImportance)
		setVisible(m, bad[field] != "")
	}
}

func (s *settingsView) setStatus(text string, imp widget.Importance) {
	setLabel(s.status, text, imp)
	setVisible(s.status, text != "")
}

// save checks every field, then saves through the core on a goroutine.
func (s *settingsView) save() {
	if s.saving {
		return
	}
	f := s.form()
	p, el, bad := s.check(f)
	s.showProblems(bad)
	if len(bad) > 0 {
		s.setStatus(fmt.Sprintf("Nothing was saved: %s to fix.", plural(len(bad), "field")), widget.DangerImportance)
		return
	}
	old := s.loaded
	s.saving = true
	s.saveBtn.Disable()
	core := s.env.core
	go func() {
		bad := map[string]string{}
		var other []string
		note := func(field string, err error) {
			if err == nil {
				return
			}
			fes := worker.FieldErrors(err)
			for _, fe := range fes {
				bad[fe.Field] = fe.Problem
			}
			if len(fes) == 0 {
				s.env.log.Warn("a setting was not saved", "field", field, "err", err)
				if field != "" {
					bad[field] = wordsFor(err).String()
				} else {
					other = append(other, wordsFor(err).String())
				}
			}
		}
		note("", core.SetIdleSettings(p))
		var warn []string
		if f.address != old.address {
			a, err := core.SetPayoutAddress(f.address)
			var ae *ton.AddressError
			if errors.As(err, &ae) {
				err = errors.New(ae.Error())
			}
			note(fieldPayout, err)
			if err == nil {
				warn = a.Warnings()
			}
		}
		if f.perKWh != old.perKWh || f.currency != old.currency || f.tonPrice != old.tonPrice {
			note(fieldPerKWh, core.SetElectricity(el))
		}
		if f.logLevel != old.logLevel {
			note(worker.FieldLogLevel, core.SetLogLevel(f.logLevel))
		}
		st := core.Status()
		s.env.do(func() {
			s.saving = false
			s.saveBtn.Enable()
			if len(bad) > 0 || len(other) > 0 {
				s.showProblems(bad)
				msg := "Some settings were not saved"
				if len(other) > 0 {
					msg += ": " + strings.Join(other, "; ")
				}
				s.setStatus(msg+".", widget.DangerImportance)
				return
			}
			s.network = st.Network
			s.load(true)
			msg := "Saved. The rules and limits apply now."
			if f.logLevel != old.logLevel {
				msg += " The log level applies the next time Cocoon starts."
			}
			if len(warn) > 0 {
				s.setStatus(msg+" "+strings.Join(warn, " "), widget.WarningImportance)
			} else {
				s.setStatus(msg, widget.SuccessImportance)
			}
			s.env.render(st)
			s.saved()
		})
	}()
}

// setAutostart writes or removes the login entry for this executable.
func (s *settingsView) setAutostart(on bool) {
	var err error
	if on {
		var exe string
		if exe, err = os.Executable(); err == nil {
			err = autostart.Enable(exe)
		}
	} else {
		err = autostart.Disable()
	}
	if err != nil {
		s.env.log.Warn("start at login not changed", "on", on, "err", err)
		s.setStatus("Start at login: "+wordsFor(err).String(), widget.DangerImportance)
		s.autostart.Checked = autostart.Enabled()
		s.autostart.Refresh()
		return
	}
	if on {
		s.setStatus("Cocoon will start when you log in.", widget.SuccessImportance)
	} else {
		s.setStatus("Cocoon will not start at login.", widget.MediumImportance)
	}
}

// renderTONPrice greys out the TON price when the currency is TON itself.
func (s *settingsView) renderTONPrice() {
	if strings.EqualFold(strings.TrimSpace(s.currencyEntry.Text), "TON") {
		s.tonPriceEntry.Disable()
	} else {
		s.tonPriceEntry.Enable()
	}
}
