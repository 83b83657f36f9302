package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// settlementCore is the part of the core that claims from the proxy's
// escrow on chain (worker/claim.go). A core without it shows no panel.
type settlementCore interface {
	Settlement() (worker.SettlementStatus, error)
	Claim(ctx context.Context) (earnings.Claim, error)
	SetAutoClaim(nano int64) error
}

// loadSettlement reads the money on chain (any goroutine); nil when the
// core cannot claim or there is no voucher yet.
func loadSettlement(core Core) *worker.SettlementStatus {
	sc, ok := core.(settlementCore)
	if !ok {
		return nil
	}
	st, err := sc.Settlement()
	if err != nil || st.Voucher == nil {
		return nil
	}
	return &st
}

// settlementPanel shows where the money is: signed by the proxy, claimable
// now, claimed and confirmed on chain (with the link), and the escrow's
// balance against what it owes this owner; Withdraw claims it.
type settlementPanel struct {
	e   *earningsView
	obj fyne.CanvasObject

	cardSigned, cardClaimable, cardClaimed *moneyCard
	escrowLine                             *widget.Label
	warnRow                                *fyne.Container
	warn                                   *widget.Label
	withdrawBtn                            *widget.Button
	lastClaim                              *widget.Label
	link                                   *widget.Hyperlink
	auto                                   *dimLabel
	autoEntry                              *widget.Entry
	autoSave                               *widget.Button
	msg                                    *widget.Label
	claiming                               bool
	// body is the panel with a voucher; none the plain line without one.
	body *fyne.Container
	none *widget.Label
}

func newSettlementPanel(e *earningsView) *settlementPanel {
	p := &settlementPanel{e: e}
	tips := e.env.tips
	p.cardSigned = newMoneyCard("Earned, signed by the network", tips)
	p.cardClaimable = newMoneyCard("Claimable now", tips)
	p.cardClaimed = newMoneyCard("Claimed on chain", tips)
	p.escrowLine = wrapLabel("")
	p.warn = wrapLabel("")
	p.warn.Importance = widget.WarningImportance
	p.warnRow = container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, p.warn)
	p.warnRow.Hide()
	p.withdrawBtn = widget.NewButtonWithIcon("Withdraw to my wallet", theme.UploadIcon(), p.withdraw)
	p.withdrawBtn.Importance = widget.HighImportance
	p.lastClaim = wrapLabel("")
	p.link = widget.NewHyperlink("View on Tonviewer", nil)
	p.link.Hide()
	p.auto = newDim("")
	p.auto.Wrapping = fyne.TextWrapWord
	p.msg = wrapLabel("")
	p.msg.Hide()
	p.autoEntry = widget.NewEntry()
	p.autoEntry.SetPlaceHolder("default")
	p.autoEntry.OnSubmitted = func(string) { p.saveAuto() }
	p.autoSave = widget.NewButton("Save", p.saveAuto)
	autoRow := container.NewBorder(nil, nil, caption("Withdraw by itself from"), container.NewHBox(caption("TON · off · empty: default"), p.autoSave), p.autoEntry)
	cards := newColumns(p.cardSigned.obj, p.cardClaimable.obj, p.cardClaimed.obj)
	actions := container.NewBorder(nil, nil, nil, p.withdrawBtn, container.NewVBox(p.escrowLine))
	claimRow := container.NewBorder(nil, nil, nil, p.link, p.lastClaim)
	p.body = container.NewVBox(cards, actions, p.warnRow, claimRow, p.auto.RichText, autoRow, p.msg)
	p.none = wrapLabel("")
	p.none.Hide()
	p.obj = panel("On chain", nil, container.NewVBox(p.none, p.body))
	p.obj.Hide()
	return p
}

// noVoucherText says plainly why there is nothing to withdraw: the only
// way money leaves is a claim from the network's escrow contract.
func noVoucherText(local bool) string {
	if local {
		return "The local test network has no escrow contract: its test TON cannot be withdrawn."
	}
	return "Nothing to withdraw on chain yet: Withdraw appears once the network signs your earnings for its escrow contract. " +
		"A network without an escrow contract cannot pay out."
}

// render shows st (nil: no voucher yet, the panel says why in one line).
func (p *settlementPanel) render(st *worker.SettlementStatus) {
	if st == nil || st.Voucher == nil {
		p.none.SetText(noVoucherText(p.e.data.local))
		p.none.Show()
		p.body.Hide()
		p.obj.Show()
		return
	}
	p.none.Hide()
	p.body.Show()
	v := st.Voucher
	signedSub := "all of it checked work"
	if v.Held > 0 {
		signedSub = tonText(v.Held) + " TON more is held for now"
	}
	p.cardSigned.set(tonText(v.Cumulative)+" TON", signedSub)
	claimSub := fmt.Sprintf("the escrow keeps %s TON per claim", tonText(v.ClaimFee))
	if st.Pending > 0 {
		claimSub = plural(st.Pending, "claim") + " on the way"
	}
	p.cardClaimable.set(tonText(st.Claimable)+" TON", claimSub)
	received := int64(0)
	for _, c := range st.Claims {
		received += c.Received()
	}
	p.cardClaimed.set(tonText(st.PaidOnChain)+" TON", tonText(received)+" TON received after fees")

	escrowText := "The escrow's balance is not known yet (no answer from the TON network)."
	if s := st.Escrow; s != nil {
		escrowText = fmt.Sprintf("The escrow holds %s TON; you are owed %s TON.", tonText(int64(s.Balance)), tonText(st.Owed))
		if s.PendingWithdrawal > 0 {
			escrowText += fmt.Sprintf(" The operator announced a withdrawal of %s TON, possible from %s: claim before then.",
				tonText(int64(s.PendingWithdrawal)), s.WithdrawAfter.Local().Format("Mon 2 Jan 15:04"))
		}
	}
	setLabel(p.escrowLine, escrowText, widget.MediumImportance)
	warn := ""
	if st.Shortfall {
		warn = "The escrow holds less than the network signed to you: it cannot pay all of it now. " +
			"Your vouchers stay valid; a claim pays once the network tops the escrow up."
	}
	setLabel(p.warn, warn, widget.WarningImportance)
	setVisible(p.warnRow, warn != "")

	p.lastClaim.SetText("No claim yet.")
	p.link.Hide()
	if len(st.Claims) > 0 {
		c := st.Claims[0]
		words := "waiting for the TON network"
		switch c.State {
		case earnings.ClaimConfirmed:
			words = fmt.Sprintf("confirmed: %s TON received", tonText(c.Received()))
		case earnings.ClaimCovered:
			words = "paid by a later claim"
		}
		p.lastClaim.SetText(fmt.Sprintf("Last claim %s, %s.", shortTime(c.Created, time.Now()), words))
		n, _ := ton.ParseNet(c.Network)
		if u, err := url.Parse(tonviewerURL(c.MsgHash, n)); err == nil && c.MsgHash != "" {
			p.link.SetURL(u)
			p.link.Show()
		}
	}
	autoText := "Automatic withdrawal is off."
	if st.AutoClaimAt > 0 {
		autoText = fmt.Sprintf("Withdraws by itself once %s TON is claimable (%d × the claim fee by default).",
			tonText(st.AutoClaimAt), worker.AutoClaimFeeMultiple)
	}
	p.auto.set(autoText, theme.ColorNamePlaceHolder)
	if !p.claiming {
		setEnabled(p.withdrawBtn, st.Claimable > v.ClaimFee) // again while pending: the same message, paid once
	}
	p.obj.Show()
}

// withdraw claims on a goroutine; the result comes back through fyne.Do.
func (p *settlementPanel) withdraw() {
	sc, ok := p.e.env.core.(settlementCore)
	if !ok {
		return
	}
	p.claiming = true
	p.withdrawBtn.Disable()
	p.msg.Hide()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := sc.Claim(ctx)
		p.e.env.do(func() {
			p.claiming = false
			switch {
			case err == nil && c.State == earnings.ClaimConfirmed:
				setLabel(p.msg, fmt.Sprintf("Claimed: %s TON is on its way to your wallet.", tonText(c.Received())), widget.SuccessImportance)
			case err == nil:
				setLabel(p.msg, "Claim sent to the TON network; it is confirmed when the escrow has paid.", widget.MediumImportance)
			case errors.Is(err, earnings.ErrNothingToClaim):
				setLabel(p.msg, "Nothing to claim: the escrow has already paid all that was signed to you.", widget.MediumImportance)
			default:
				setLabel(p.msg, "The claim did not go out: "+err.Error(), widget.DangerImportance)
			}
			p.msg.Show()
			p.e.reload()
		})
	}()
}

// saveAuto saves the automatic-claim threshold: a TON amount, "off", or
// empty for the default.
func (p *settlementPanel) saveAuto() {
	sc, ok := p.e.env.core.(settlementCore)
	if !ok {
		return
	}
	text := strings.TrimSpace(p.autoEntry.Text)
	var nano int64
	switch strings.ToLower(text) {
	case "":
	case "off", "0":
		nano = -1
	default:
		n, err := parseTON(text)
		if err != nil || n <= 0 {
			setLabel(p.msg, "Automatic withdrawal: enter an amount of TON like 0.5, \"off\", or nothing for the default.", widget.DangerImportance)
			p.msg.Show()
			return
		}
		nano = n
	}
	if err := sc.SetAutoClaim(nano); err != nil {
		setLabel(p.msg, "Automatic withdrawal not saved: "+err.Error(), widget.DangerImportance)
		p.msg.Show()
		return
	}
	p.msg.Hide()
	p.e.reload()
}

func setEnabled(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}
