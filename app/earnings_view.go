package app

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// Earnings tab sizes.
const (
	chartDays   = 30  // the bar chart's days, today included
	historyJobs = 100 // jobs the history table shows (the CSV has them all)
	historyWds  = 50  // payouts the history shows
)

// earningsData is everything the Earnings tab shows, read in one go off
// the Fyne thread (loadEarnings) and rendered on it (render).
type earningsData struct {
	hasLedger bool
	readErr   error // reading the ledger failed
	bal       earnings.Balance
	days      []earnings.DayTotal // chartDays days, oldest first (empty without a ledger)
	jobs      []earnings.Job      // newest first
	wds       []earnings.Payout
	settings  worker.Settings
	local     bool                     // the local test network
	settle    *worker.SettlementStatus // the money on chain; nil: no voucher yet (settlement_view.go)
}

// loadEarnings reads the ledger, the settings and the money on chain. It may
// run on any goroutine.
func loadEarnings(core Core, now time.Time) earningsData {
	st := core.Status()
	d := earningsData{settings: core.Settings(), local: st.Network.Local}
	d.settle = loadSettlement(core)
	h, err := core.EarningsHistory(historyJobs, historyWds)
	if errors.Is(err, worker.ErrNoLedger) {
		d.bal, d.wds = st.Earnings.Balance, st.Earnings.Payouts
		return d
	}
	d.hasLedger = true
	d.bal, d.jobs, d.wds = h.Balance, h.Jobs, h.Payouts
	from := startOfDay(now).AddDate(0, 0, -(chartDays - 1))
	days, derr := core.DailyEarnings(from, from.AddDate(0, 0, chartDays), earnings.Tariff{PerKWhNano: d.settings.TariffNanoPerKWh})
	d.days = days
	if err == nil {
		err = derr
	}
	d.readErr = err
	return d
}

func startOfDay(t time.Time) time.Time {
	y, m, dd := t.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, t.Location())
}

// earningsView is the Earnings tab: balance, 30-day chart, job and
// payout history, payout address, electricity tariff, CSV export and
// the one-click payout. Its methods run on the Fyne thread.
type earningsView struct {
	env *tabEnv
	// showToday gives today's totals (priced: an electricity price is set)
	// to the rest of the window: the Dashboard's strip and the tray.
	showToday func(today earnings.DayTotal, priced bool)
	// editElectricity opens the Settings tab at the electricity price.
	editElectricity func()
	content         fyne.CanvasObject
	data            earningsData
	now             func() time.Time
	loading         bool     // a load is in flight
	again           bool     // another load was asked for meanwhile
	seen            [2]int64 // the status's earned total and receipt count at the last reload it caused

	cardAvail, cardPending, cardEarned, cardToday *moneyCard
	terms                                         *dimLabel // TON/h estimate, fee, price (money_text.go)
	settle                                        *settlementPanel
	mismatch                                      *widget.Label
	// standing: the network's trust standing of this computer (hidden when
	// the proxy keeps none); held is its held nanoTON.
	standing      *standingWords
	held          int64
	standingRow   *fyne.Container
	standingTitle *widget.Label
	standingText  *widget.Label
	standingIcon  *widget.Icon
	mismatchRow   *fyne.Container
	readErr       *widget.Label

	chart     *barChart
	chartInfo *dimLabel
	legendNet fyne.CanvasObject

	history   *container.AppTabs
	jobsTable *widget.Table
	jobsEmpty *widget.Label
	wdBox     *fyne.Container
	wdRows    []*wdRow
	wdEmpty   *widget.Label

	addrText    *widget.Label
	addrCopy    *widget.Button
	addrEditBtn *widget.Button
	addrShow    *fyne.Container
	addrEdit    *fyne.Container
	addrEntry   *widget.Entry
	addrSave    *widget.Button
	addrMsg     *widget.Label

	elecText *widget.Label  // the electricity price, as the owner gave it
	elecBtn  *widget.Button // "Change…": the Settings tab, where it is edited

	exportBtn *widget.Button
}

// moneyCard is one balance card: a caption, a large amount (smaller when
// it is long: the card never widens), a dim line (cut, with a tooltip).
type moneyCard struct {
	obj   fyne.CanvasObject
	value *shrinkText
	sub   *dimLabel
}

func newMoneyCard(title string, tips *tipLayer) *moneyCard {
	c := &moneyCard{value: newShrinkText(22, fyne.TextStyle{Bold: true}), sub: newDim("")}
	value := newTipped(tips, c.value, func() (string, bool) { return c.value.Text, c.value.cut() })
	inner := container.NewVBox(caption(title), value, tips.tipRich(c.sub.RichText))
	c.obj = container.NewStack(newPanelBG(), container.New(layout.NewCustomPaddedLayout(2, 6, 10, 8), inner))
	return c
}

func (c *moneyCard) set(value, sub string) {
	c.value.SetText(value)
	c.sub.set(sub, theme.ColorNamePlaceHolder)
}

// wdRow is one payout in the history.
type wdRow struct {
	w     earnings.Payout
	obj   fyne.CanvasObject
	state *pill
	link  *widget.Hyperlink // nil without a transaction hash
	text  string            // the row's words, for tests
}

func newEarningsView(env *tabEnv, showToday func(earnings.DayTotal, bool), editElectricity func()) *earningsView {
	e := &earningsView{env: env, showToday: showToday, editElectricity: editElectricity, now: time.Now}
	e.cardAvail = newMoneyCard("Available", env.tips)
	e.cardPending = newMoneyCard("Pending payouts", env.tips)
	e.cardEarned = newMoneyCard("Earned, all time", env.tips)
	e.cardToday = newMoneyCard("Today", env.tips)
	cards := newColumns(e.cardAvail.obj, e.cardPending.obj, e.cardEarned.obj, e.cardToday.obj)

	e.mismatch = wrapLabel("")
	e.mismatch.Importance = widget.WarningImportance
	e.mismatchRow = container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, e.mismatch)
	e.mismatchRow.Hide()
	e.readErr = wrapLabel("")
	e.readErr.Importance = widget.DangerImportance
	e.readErr.Hide()
	e.standingTitle = wrapLabel("")
	e.standingTitle.TextStyle = fyne.TextStyle{Bold: true}
	e.standingText = wrapLabel("")
	e.standingIcon = widget.NewIcon(theme.InfoIcon())
	e.standingRow = container.NewBorder(nil, nil, e.standingIcon, nil,
		container.NewVBox(e.standingTitle, e.standingText))
	e.standingRow.Hide()

	e.chart = newBarChart()
	e.chart.onHover = e.showDay
	e.chartInfo = newDim("")
	e.chartInfo.Wrapping = fyne.TextWrapWord
	legendGross := legendItem(colorChartGross, "Gross")
	e.legendNet = legendItem(colorChartNet, "Net of electricity")
	legend := container.NewHBox(legendGross, e.legendNet)
	chartPanel := panel("Last 30 days", legend, container.NewBorder(nil, e.chartInfo.RichText, nil, nil, e.chart))

	e.terms = newDim("")
	e.settle = newSettlementPanel(e)
	top := container.NewVBox(cards, env.tips.tipRich(e.terms.RichText), e.settle.obj, e.standingRow, e.mismatchRow, e.readErr)
	middle := container.NewBorder(nil, nil, nil, container.New(&atLeast{w: 430}, e.buildWallet()), chartPanel)
	e.history = container.NewAppTabs(
		container.NewTabItemWithIcon("Jobs", theme.ListIcon(), e.buildJobs()),
		container.NewTabItemWithIcon("Payouts", theme.UploadIcon(), e.buildPayouts()))
	// The tab scrolls when the window is too short; the history keeps room
	// for a few rows and takes whatever height is left over.
	history := container.New(&atLeast{h: 220}, e.history)
	e.content = container.NewVScroll(container.NewBorder(container.NewVBox(top, middle), nil, nil, nil, history))
	return e
}

func legendItem(c color.Color, text string) fyne.CanvasObject {
	sw := canvas.NewRectangle(c)
	sw.CornerRadius = 2
	sw.SetMinSize(fyne.NewSize(12, 12))
	return container.NewHBox(container.NewCenter(sw), caption(text))
}

// atLeast lays its objects out stacked, at least w wide and h high.
type atLeast struct{ w, h float32 }

func (m *atLeast) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize(m.w, m.h)
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (m *atLeast) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (e *earningsView) buildWallet() fyne.CanvasObject {
	e.addrText = widget.NewLabel("Not set")
	e.addrCopy = widget.NewButtonWithIcon("", theme.ContentCopyIcon(), func() {
		if a := e.data.settings.PayoutAddress; a != "" && e.env.win != nil {
			e.env.win.Clipboard().SetContent(a)
		}
	})
	e.addrCopy.Importance = widget.LowImportance
	e.addrEditBtn = widget.NewButtonWithIcon("Edit", theme.DocumentCreateIcon(), e.startAddrEdit)
	e.addrShow = container.NewBorder(nil, nil, nil, container.NewHBox(e.addrCopy, e.addrEditBtn), e.env.tips.tipLabel(e.addrText))
	e.addrEntry = widget.NewEntry()
	e.addrEntry.SetPlaceHolder("UQ… from Tonkeeper")
	e.addrEntry.OnSubmitted = func(string) { e.saveAddr() }
	e.addrSave = widget.NewButtonWithIcon("", theme.ConfirmIcon(), e.saveAddr)
	e.addrSave.Importance = widget.HighImportance
	cancel := widget.NewButtonWithIcon("", theme.CancelIcon(), func() {
		e.addrEdit.Hide()
		e.addrShow.Show()
		e.addrMsg.Hide()
	})
	cancel.Importance = widget.LowImportance
	e.addrEdit = container.NewBorder(nil, nil, nil, container.NewHBox(e.addrSave, cancel), e.addrEntry)
	e.addrEdit.Hide()
	e.addrMsg = wrapLabel("")
	e.addrMsg.Hide()

	e.elecText = widget.NewLabel("Not set")
	e.elecBtn = widget.NewButtonWithIcon("Change", theme.DocumentCreateIcon(), e.editElectricity)
	tariffRow := container.NewBorder(nil, nil, nil, e.elecBtn, e.env.tips.tipLabel(e.elecText))

	form := container.New(layout.NewFormLayout(),
		caption("Wallet"), container.NewStack(e.addrShow, e.addrEdit),
		caption("Electricity"), tariffRow)

	// Money leaves only by the On chain panel's Withdraw (settlement_view.go).
	e.exportBtn = widget.NewButtonWithIcon("Export CSV…", theme.DocumentSaveIcon(), e.openExport)
	buttons := container.NewGridWithColumns(2, layout.NewSpacer(), e.exportBtn)
	return panel("Wallet", nil, container.NewVBox(form, e.addrMsg, buttons))
}

var jobColumns = []struct {
	title string
	width float32
}{{"Time", 140}, {"Model", 200}, {"Tokens", 110}, {"Amount, TON", 150}, {"Energy", 100}, {"Net of electricity, TON", 220}}

func (e *earningsView) buildJobs() fyne.CanvasObject {
	e.jobsTable = widget.NewTable(
		func() (int, int) { return len(e.data.jobs), len(jobColumns) },
		func() fyne.CanvasObject {
			return e.env.tips.tipLabel(widget.NewLabel(""))
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			l := o.(*tipped).content.(*widget.Label)
			l.Alignment = fyne.TextAlignLeading
			if id.Col >= 2 {
				l.Alignment = fyne.TextAlignTrailing
			}
			l.SetText(e.jobCell(id.Row, id.Col))
		})
	e.jobsTable.ShowHeaderRow = true
	e.jobsTable.CreateHeader = func() fyne.CanvasObject {
		l := widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		return l
	}
	e.jobsTable.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		l := o.(*widget.Label)
		if id.Col >= 0 && id.Col < len(jobColumns) {
			l.Text = jobColumns[id.Col].title
			l.Alignment = fyne.TextAlignLeading
			if id.Col >= 2 {
				l.Alignment = fyne.TextAlignTrailing
			}
			l.Refresh()
		}
	}
	for i, c := range jobColumns {
		e.jobsTable.SetColumnWidth(i, c.width)
	}
	e.jobsEmpty = wrapLabel("No jobs yet. Once the worker serves, every job appears here with its signed receipt.")
	e.jobsEmpty.Importance = widget.LowImportance
	return container.NewStack(e.jobsTable, container.NewVBox(e.jobsEmpty))
}

// jobCell is the text of one cell of the job history.
func (e *earningsView) jobCell(row, col int) string {
	if row < 0 || row >= len(e.data.jobs) {
		return ""
	}
	j := e.data.jobs[row]
	switch col {
	case 0:
		return shortTime(j.Time, e.now())
	case 1:
		return j.Model
	case 2:
		return groupDigits(j.PromptTokens + j.CompletionTokens)
	case 3:
		return tonText(j.Amount)
	case 4:
		if !j.EnergyMeasured {
			return "—"
		}
		return fmt.Sprintf("%.2f Wh", float64(j.EnergyMilliJ)/3_600_000)
	case 5:
		if e.tariff().PerKWhNano <= 0 || !j.EnergyMeasured {
			return "—"
		}
		return tonText(j.Net(e.tariff()))
	}
	return ""
}

func (e *earningsView) buildPayouts() fyne.CanvasObject {
	e.wdEmpty = wrapLabel("No payouts yet.")
	e.wdEmpty.Importance = widget.LowImportance
	e.wdBox = container.NewVBox(e.wdEmpty)
	return container.NewVScroll(e.wdBox)
}

// refreshStatus renders what comes with every Status (cheap).
func (e *earningsView) refreshStatus(st worker.Status) {
	// The status carries the signed total and the receipt count: when they
	// moved, the ledger changed, whatever events were missed on the way.
	if seen := [2]int64{st.Earned, int64(st.Receipts)}; seen != e.seen {
		e.seen = seen
		e.reload()
	}
	m := st.Earnings.Mismatch
	if m != "" {
		m = "The network and this computer disagree about your earnings: " + m
	}
	setLabel(e.mismatch, m, widget.WarningImportance)
	setVisible(e.mismatchRow, m != "")
	var s *network.Standing
	if p := st.Earnings.Proxy; p != nil {
		s = p.Standing
	}
	e.setStanding(s)
	terms := rateText(st.Earnings.Rate)
	if p := pricesText(st.Earnings.Proxy, st.Model); p != "" {
		terms += " · " + p
	}
	if e.terms.text() != terms {
		e.terms.set(terms, theme.ColorNamePlaceHolder)
	}
}

// setStanding shows the network's trust standing of this computer: its
// level, the check jobs passed and what is held until when.
func (e *earningsView) setStanding(s *network.Standing) {
	w, ok := explainStanding(s, e.now())
	held := int64(0)
	if ok {
		held = s.Held
	}
	if ok && (e.standing == nil || *e.standing != w) {
		e.standing = &w
		setLabel(e.standingTitle, w.Title, widget.MediumImportance)
		setLabel(e.standingText, w.Detail, widget.MediumImportance)
		switch w.Level {
		case whyProblem:
			e.standingIcon.SetResource(theme.ErrorIcon())
		case whyGood:
			e.standingIcon.SetResource(theme.ConfirmIcon())
		default:
			e.standingIcon.SetResource(theme.InfoIcon())
		}
	} else if !ok {
		e.standing = nil
	}
	setVisible(e.standingRow, ok)
	if held != e.held {
		e.held = held
		e.renderAvail()
		e.renderWallet()
	}
}

// renderAvail sets the Available card: the ledger's unpaid balance, less
// what the network holds.
func (e *earningsView) renderAvail() {
	b := e.data.bal
	test := ""
	if e.data.local {
		test = " (test TON)"
	}
	avail := e.payable()
	sub := "withdraw it on chain below" + test
	switch {
	case e.held > 0 && avail <= 0:
		sub = "all of it held by the network for now" + test
	case e.held > 0:
		sub = tonText(min(e.held, b.Available)) + " TON more held by the network" + test
	case e.data.local:
		sub = "the local test network pays nothing out" + test
	case avail <= 0:
		sub = "nothing to pay out yet" + test
	case e.data.settle == nil:
		sub = "withdrawable once the network signs a voucher for its escrow"
	}
	e.cardAvail.set(tonText(avail)+" TON", sub)
}

// payable is what can be paid out now: the ledger's available balance less
// what the network holds.
func (e *earningsView) payable() int64 { return max(e.data.bal.Available-e.held, 0) }

// reload reads the ledger on a goroutine and renders it; calls while one is
// in flight fold into one more.
func (e *earningsView) reload() {
	if e.loading {
		e.again = true
		return
	}
	e.loading = true
	core, now := e.env.core, e.now()
	go func() {
		d := loadEarnings(core, now)
		e.env.do(func() {
			e.loading = false
			e.render(d)
			if e.again {
				e.again = false
				e.reload()
			}
		})
	}()
}

// reloadNow reads and renders at once, on the Fyne thread.
func (e *earningsView) reloadNow() { e.render(loadEarnings(e.env.core, e.now())) }

// showNet says whether the net of electricity means something: a price is
// set and energy was measured (NVML power) on some day shown.
func (e *earningsView) showNet() bool {
	return e.tariff().PerKWhNano > 0 && energyMeasured(e.data.days)
}

func (e *earningsView) tariff() earnings.Tariff {
	return earnings.Tariff{PerKWhNano: e.data.settings.TariffNanoPerKWh}
}

func (e *earningsView) render(d earningsData) {
	e.data = d
	now := e.now()
	b := d.bal
	e.renderAvail()
	inFlight := 0
	for _, w := range d.wds {
		if w.State == earnings.PayoutPending || w.State == earnings.PayoutSent {
			inFlight++
		}
	}
	pendingSub := "none on the way"
	if inFlight > 0 {
		pendingSub = plural(inFlight, "payout") + " on the way"
	}
	e.cardPending.set(tonText(b.Pending)+" TON", pendingSub)
	e.cardEarned.set(tonText(b.Earned)+" TON", fmt.Sprintf("%s · %s TON paid out", plural(int(b.Jobs), "job"), tonText(b.PaidOut)))
	var today earnings.DayTotal
	if n := len(d.days); n > 0 && !now.Before(d.days[n-1].Start) {
		today = d.days[n-1]
	}
	_, todaySub := todayText(today, e.tariff().PerKWhNano > 0)
	e.cardToday.set(tonText(today.Gross)+" TON", todaySub)
	e.showToday(today, e.tariff().PerKWhNano > 0)

	readErr := ""
	if d.readErr != nil {
		readErr = "Could not read the earnings ledger: " + wordsFor(d.readErr).String()
		if readErr != e.readErr.Text { // once per new error, not per render
			e.env.log.Warn("could not read the earnings ledger", "err", d.readErr)
		}
	}
	setLabel(e.readErr, readErr, widget.DangerImportance)
	setVisible(e.readErr, readErr != "")

	showNet := e.showNet()
	e.chart.set(d.days, showNet)
	setVisible(e.legendNet, showNet)
	e.showDay(-1)

	e.jobsTable.Refresh()
	setVisible(e.jobsEmpty, len(d.jobs) == 0)
	setVisible(e.jobsTable, len(d.jobs) > 0) // its header would show through the empty words
	jobsTitle := "Jobs"
	if b.Jobs > int64(len(d.jobs)) {
		jobsTitle = fmt.Sprintf("Jobs (latest %d of %d; all in the CSV)", len(d.jobs), b.Jobs)
	} else if len(d.jobs) > 0 {
		jobsTitle = fmt.Sprintf("Jobs (%d)", len(d.jobs))
	}
	wdTitle := "Payouts"
	if len(d.wds) > 0 {
		wdTitle = fmt.Sprintf("Payouts (%d)", len(d.wds))
	}
	if e.history.Items[0].Text != jobsTitle || e.history.Items[1].Text != wdTitle {
		e.history.Items[0].Text, e.history.Items[1].Text = jobsTitle, wdTitle
		e.history.Refresh()
	}
	e.renderPayouts()
	e.renderWallet()
	e.settle.render(d.settle)
}

// showDay shows day i of the chart under it, or the 30-day total for i < 0.
func (e *earningsView) showDay(i int) {
	days := e.data.days
	net := e.showNet()
	if i < 0 || i >= len(days) {
		var t earnings.JobTotals
		var netSum int64
		for _, d := range days {
			t.Jobs += d.Jobs
			t.Gross += d.Gross
			netSum += d.Net
		}
		s := fmt.Sprintf("30 days: %s TON from %s", tonText(t.Gross), plural(int(t.Jobs), "job"))
		switch {
		case net:
			s += fmt.Sprintf(" · %s TON net of electricity", tonText(netSum))
		case e.tariff().PerKWhNano > 0:
			s += " · energy not measured on this card, so no net"
		default:
			s += " · set your electricity price to see the net"
		}
		if len(days) == 0 {
			s = "No history yet."
		}
		e.chartInfo.set(s, theme.ColorNamePlaceHolder)
		return
	}
	d := days[i]
	s := fmt.Sprintf("%s: %s TON from %s", d.Start.Format("Mon Jan 2"), tonText(d.Gross), plural(int(d.Jobs), "job"))
	if d.EnergyMilliJ > 0 {
		s += fmt.Sprintf(" · %.3f kWh", d.EnergyKWh())
	}
	if net {
		s += fmt.Sprintf(" · net %s TON", tonText(d.Net))
	}
	e.chartInfo.set(s, theme.ColorNameForeground)
}

func (e *earningsView) renderPayouts() {
	rows := make([]*wdRow, 0, len(e.data.wds))
	objs := make([]fyne.CanvasObject, 0, len(e.data.wds)+1)
	for _, w := range e.data.wds {
		r := e.newWdRow(w)
		rows = append(rows, r)
		objs = append(objs, r.obj)
	}
	if len(objs) == 0 {
		objs = append(objs, e.wdEmpty)
	}
	e.wdRows = rows
	e.wdBox.Objects = objs
	e.wdBox.Refresh()
}

// payoutWords says a payout's state in words and its badge colour.
func payoutWords(s earnings.PayoutState) (string, color.Color) {
	switch s {
	case earnings.PayoutPending:
		return "Pending", colorAmber
	case earnings.PayoutSent:
		return "Sent", colorBlue
	case earnings.PayoutConfirmed:
		return "Confirmed", colorGreen
	case earnings.PayoutFailed:
		return "Failed", colorRed
	}
	return string(s), colorGrey
}

// tonviewerURL is the transaction's page on Tonviewer for its network.
func tonviewerURL(tx string, n ton.Net) string {
	host := "tonviewer.com"
	if n == ton.Testnet {
		host = "testnet.tonviewer.com"
	}
	return "https://" + host + "/transaction/" + url.PathEscape(tx)
}

// parseAnyAddress parses an address for whichever TON network it is for.
func parseAnyAddress(s string) (ton.Address, bool) {
	if a, err := ton.ParseAddress(s, ton.Mainnet); err == nil {
		return a, true
	}
	if a, err := ton.ParseAddress(s, ton.Testnet); err == nil {
		return a, true
	}
	return ton.Address{}, false
}

func shortAddress(s string) string {
	if a, ok := parseAnyAddress(s); ok {
		return a.Short()
	}
	if len(s) > 12 {
		return s[:4] + "…" + s[len(s)-4:]
	}
	return s
}

func (e *earningsView) newWdRow(w earnings.Payout) *wdRow {
	r := &wdRow{w: w}
	word, c := payoutWords(w.State)
	r.state = newPill(word, c, pillText)
	when := shortTime(w.Created.Local(), e.now())
	amount := widget.NewLabelWithStyle(tonText(w.Amount)+" TON", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
	dest := newDim("→ " + shortAddress(w.Destination) + fmt.Sprintf("  (fee %s, received %s TON)", tonText(w.Fee), tonText(w.Received())))
	tips := e.env.tips
	parts := []string{when, amount.Text, dest.text(), word}
	var right []fyne.CanvasObject
	if w.TxHash != "" {
		n := ton.Mainnet
		if a, ok := parseAnyAddress(w.Destination); ok && a.Testnet {
			n = ton.Testnet
		}
		u, _ := url.Parse(tonviewerURL(w.TxHash, n))
		r.link = widget.NewHyperlink("View on Tonviewer", u)
		right = append(right, r.link)
		parts = append(parts, u.String())
	}
	right = append(right, r.state.obj)
	// Fixed widths for the time and the amount (a long amount is cut, with a
	// tooltip), the rest of the room for where it went.
	line := container.NewBorder(nil, nil,
		container.NewHBox(container.New(&atLeast{w: 110}, widget.NewLabel(when)), container.New(&atLeast{w: 170}, tips.tipLabel(amount))),
		container.NewHBox(right...), container.New(vcenter{}, tips.tipRich(dest.RichText)))
	var obj fyne.CanvasObject = line
	if w.State == earnings.PayoutFailed && w.Reason != "" {
		why := newDim("Failed: " + w.Reason + " The amount is available again.")
		why.set(why.text(), theme.ColorNameError)
		why.Wrapping = fyne.TextWrapWord
		obj = container.NewVBox(line, container.New(layout.NewCustomPaddedLayout(0, 4, 12, 0), why.RichText))
		parts = append(parts, w.Reason)
	}
	r.obj = container.NewVBox(obj, widget.NewSeparator())
	r.text = strings.Join(parts, " | ")
	return r
}

func (e *earningsView) renderWallet() {
	d := e.data
	addr := strings.TrimSpace(d.settings.PayoutAddress)
	text := "Not set"
	if addr != "" {
		text = shortAddress(addr)
		if a, ok := parseAnyAddress(addr); ok && a.Testnet {
			text += " (testnet)"
		}
	}
	setLabel(e.addrText, text, widget.MediumImportance)
	setVisible(e.addrCopy, addr != "")
	if addr == "" {
		e.addrEditBtn.SetText("Set")
	} else {
		e.addrEditBtn.SetText("Edit")
	}

	setLabel(e.elecText, electricityText(electricityOf(d.settings)), widget.MediumImportance)

	if d.hasLedger {
		e.exportBtn.Enable()
	} else {
		e.exportBtn.Disable()
	}
}

func (e *earningsView) startAddrEdit() {
	e.addrEntry.SetText(e.data.settings.PayoutAddress)
	e.addrShow.Hide()
	e.addrEdit.Show()
	e.addrMsg.Hide()
	if e.env.win != nil {
		e.env.win.Canvas().Focus(e.addrEntry)
	}
}

// saveAddr validates and saves the address in the entry through the core.
func (e *earningsView) saveAddr() {
	s := strings.TrimSpace(e.addrEntry.Text)
	e.addrSave.Disable()
	core := e.env.core
	go func() {
		a, err := core.SetPayoutAddress(s)
		d := loadEarnings(core, e.now())
		e.env.do(func() {
			e.addrSave.Enable()
			if err != nil {
				msg := wordsFor(err).String()
				var ae *ton.AddressError
				if errors.As(err, &ae) {
					msg = ae.Error() // says what is wrong with this address
				}
				setLabel(e.addrMsg, msg, widget.DangerImportance)
				e.addrMsg.Show()
				return
			}
			e.addrEdit.Hide()
			e.addrShow.Show()
			if w := a.Warnings(); len(w) > 0 {
				setLabel(e.addrMsg, "Saved. "+strings.Join(w, " "), widget.WarningImportance)
				e.addrMsg.Show()
			} else {
				e.addrMsg.Hide()
			}
			e.render(d)
		})
	}()
}

// parseTON reads a TON amount typed by a person ("1.5", "0,25", "2") as
// nanoTON, exactly: at most 9 decimals, not negative.
func parseTON(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "TON"))
	s = strings.ReplaceAll(s, ",", ".")
	if s == "" {
		return 0, errors.New("enter an amount in TON, e.g. 0.05")
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if strings.HasPrefix(whole, "-") {
		return 0, errors.New("the amount cannot be negative")
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a number; use digits and one point, e.g. 0.05", s)
		}
	}
	if len(frac) > 9 {
		return 0, errors.New("TON has at most 9 decimals")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 9_000_000_000 {
		return 0, fmt.Errorf("%s is too large", s)
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	return w*1_000_000_000 + f, nil
}

// writeCSV writes the whole ledger as CSV to w.
func (e *earningsView) writeCSV(w io.Writer) error {
	return e.env.core.ExportEarningsCSV(w, time.UnixMilli(0).In(time.Local), e.now().AddDate(100, 0, 0))
}

func (e *earningsView) openExport() {
	if e.env.win == nil {
		return
	}
	d := dialog.NewFileSave(func(wc fyne.URIWriteCloser, err error) {
		if err != nil {
			e.env.showError("Could not export", err)
			return
		}
		if wc == nil {
			return // cancelled
		}
		go func() {
			err := e.writeCSV(wc)
			if cerr := wc.Close(); err == nil {
				err = cerr
			}
			e.env.do(func() {
				if err != nil {
					e.env.showError("Could not export", err)
					return
				}
				dialog.ShowInformation("Exported", "Your earnings history was saved to\n"+wc.URI().Path(), e.env.win)
			})
		}()
	}, e.env.win)
	d.SetFileName("cocoon-earnings-" + e.now().Format("2006-01-02") + ".csv")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv"}))
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

// shortTime is "15:04" today, "Jan 2 15:04" this year, else "2006-01-02".
func shortTime(t, now time.Time) string {
	t = t.Local()
	switch {
	case startOfDay(t).Equal(startOfDay(now.Local())):
		return "Today " + t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("Jan 2 15:04")
	}
	return t.Format("2006-01-02")
}

// groupDigits is 1234567 → "1,234,567".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
