package app

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// The Networks tab: which network the worker serves, a way back to the
// local test network, and joining another from an invite in two clicks —
// paste and Join shows the network's signed name, prices and commission;
// "Join <name>" moves the running worker there (worker.Core.JoinNetwork).
// A bad invite is explained under the field, never in a dialog.

// NetworkSwitcher is what the Networks tab needs of the core.
// *worker.Core has it; a core without it shows the current network only.
type NetworkSwitcher interface {
	PreviewNetwork(ctx context.Context, inv network.Invite) (network.NetworkInfo, error)
	JoinNetwork(ctx context.Context, inv network.Invite) error
	UseLocalNetwork(ctx context.Context) error
	CanSwitchNetwork() bool
}

var _ NetworkSwitcher = (*worker.Core)(nil)

// maxPriceLines is how many models the preview lists before "and N more".
const maxPriceLines = 8

type networksView struct {
	env     *tabEnv
	sw      NetworkSwitcher // nil: the core cannot switch
	content fyne.CanvasObject

	pill     *pill
	current  *widget.Label // the network's name
	where    *widget.Label // its address, or "on this computer"
	fixed    *widget.Label // --network chose it
	useLocal *widget.Button

	joinBox  *fyne.Container // hidden when the core cannot switch
	entry    *widget.Entry
	joinBtn  *widget.Button
	problem  *widget.Label // why the invite or the join failed
	checking *widget.Label // "Asking the network…", "Joined …"

	card       *fyne.Container // the preview
	cardName   *widget.Label
	cardPrices *fyne.Container
	cardFee    *widget.Label
	cardPays   *widget.Label
	confirm    *widget.Button
	cancel     *widget.Button

	invite network.Invite // the previewed invite
	seq    int            // bumped on every edit: a late preview is dropped
	busy   bool           // a preview, join or switch back is in flight
}

func newNetworksView(env *tabEnv) *networksView {
	n := &networksView{env: env}
	n.sw, _ = env.core.(NetworkSwitcher)
	tip := env.tips.tipLabel
	n.pill = newPill("Not connected", colorGrey, pillText)
	n.current = widget.NewLabel("—")
	n.current.TextStyle = fyne.TextStyle{Bold: true}
	n.where = widget.NewLabel("—")
	n.fixed = wrapLabel("Chosen on the command line (--network): start Cocoon without --network to choose here.")
	n.fixed.Hide()
	n.useLocal = widget.NewButtonWithIcon("Use the local test network", theme.HomeIcon(), n.backToLocal)
	n.useLocal.Hide()
	currentPanel := panel("Current network", n.pill.obj, container.NewVBox(tip(n.current), tip(n.where), n.fixed,
		container.NewHBox(n.useLocal)))
	n.pill.parent = currentPanel

	n.entry = widget.NewEntry()
	n.entry.SetPlaceHolder("Paste the invite here: a cocoon://join link or a cocoon1 string")
	n.entry.OnChanged = func(string) { n.edited() }
	n.entry.OnSubmitted = func(string) { n.preview() }
	n.joinBtn = widget.NewButtonWithIcon("Join", theme.NavigateNextIcon(), n.preview)
	n.joinBtn.Importance = widget.HighImportance
	n.problem = wrapLabel("")
	n.problem.Importance = widget.DangerImportance
	n.problem.Hide()
	n.checking = wrapLabel("")
	n.checking.Hide()

	n.cardName = widget.NewLabel("")
	n.cardName.TextStyle = fyne.TextStyle{Bold: true}
	n.cardPrices = container.NewVBox()
	n.cardFee = widget.NewLabel("")
	n.cardPays = widget.NewLabel("")
	n.confirm = widget.NewButtonWithIcon("Join", theme.ConfirmIcon(), n.join)
	n.confirm.Importance = widget.HighImportance
	n.cancel = widget.NewButton("Cancel", n.clearPreview)
	// The decision first (name and Join), the terms below it in a form, so
	// that the card fits under the field at 1024×640.
	n.card = container.NewVBox(widget.NewSeparator(),
		container.NewBorder(nil, nil, nil, container.NewHBox(n.confirm, n.cancel), tip(n.cardName)),
		container.New(layout.NewFormLayout(),
			caption("Pays per model"), n.cardPrices,
			caption("Commission"), tip(n.cardFee),
			caption("Payouts"), tip(n.cardPays)))
	n.card.Hide()
	n.joinBox = container.NewVBox(
		wrapLabel("A network's operator gives you an invite. Paste it here: you see the network's name, what it pays and its commission before you join."),
		container.NewBorder(nil, nil, nil, n.joinBtn, n.entry), n.problem, n.checking, n.card)
	joinPanel := panel("Join a network", nil, n.joinBox)
	if n.sw == nil || !n.sw.CanSwitchNetwork() {
		n.entry.Disable()
		n.joinBtn.Disable()
	}
	n.content = container.NewVScroll(container.NewVBox(currentPanel, joinPanel))
	return n
}

// refresh shows the current network.
func (n *networksView) refresh(st worker.Status) {
	ns := st.Network
	switch {
	case ns.URL == "":
		n.pill.set("No network", colorGrey)
	case ns.Connected:
		n.pill.set("Connected", colorGreen)
	default:
		n.pill.set("Not connected", colorAmber)
	}
	setLabel(n.current, networkName(ns), widget.MediumImportance)
	where := ns.URL
	if ns.Local {
		where = "On this computer: for trying Cocoon out; it earns test TON"
	}
	setLabel(n.where, where, widget.MediumImportance)
	canSwitch := n.sw != nil && n.sw.CanSwitchNetwork()
	setVisible(n.fixed, n.sw != nil && !canSwitch)
	setVisible(n.useLocal, canSwitch && !ns.Local && ns.URL != "")
	if n.busy {
		n.useLocal.Disable()
	} else {
		n.useLocal.Enable()
	}
}

// edited clears the last invite's problem and preview: the field changed.
func (n *networksView) edited() {
	n.seq++
	setVisible(n.problem, false)
	if !n.busy {
		setVisible(n.checking, false)
	}
	n.hideCard()
}

func (n *networksView) showProblem(text string) {
	setLabel(n.problem, text, widget.DangerImportance)
	n.problem.Show()
}

func (n *networksView) setChecking(text string) {
	setLabel(n.checking, text, widget.MediumImportance)
	setVisible(n.checking, text != "")
}

func (n *networksView) hideCard() {
	n.card.Hide()
	n.invite = network.Invite{}
}

func (n *networksView) clearPreview() {
	n.hideCard()
	n.setChecking("")
}

// preview parses the invite and asks its proxy for the network's description.
func (n *networksView) preview() {
	if n.sw == nil || n.busy {
		return
	}
	n.edited()
	inv, err := network.ParseInvite(n.entry.Text)
	if err != nil {
		n.showProblem(inviteProblem(err))
		return
	}
	seq := n.seq
	n.busy = true
	n.joinBtn.Disable()
	n.setChecking("Asking the network to describe itself")
	go func() {
		info, err := n.sw.PreviewNetwork(n.env.ctx, inv)
		if err != nil {
			n.env.log.Warn("network preview failed", "url", inv.URL, "err", err)
		}
		n.env.do(func() {
			n.busy = false
			n.joinBtn.Enable()
			if seq != n.seq { // the field changed meanwhile
				return
			}
			n.setChecking("")
			if err != nil {
				n.showProblem(inviteProblem(err))
				return
			}
			n.showCard(inv, info)
		})
	}()
}

func (n *networksView) showCard(inv network.Invite, info network.NetworkInfo) {
	n.invite = inv
	name := previewName(inv, info)
	setLabel(n.cardName, name, widget.MediumImportance)
	n.cardPrices.RemoveAll()
	for i, p := range info.Prices {
		if i == maxPriceLines {
			n.cardPrices.Add(widget.NewLabel(plural(len(info.Prices)-maxPriceLines, "more model")))
			break
		}
		n.cardPrices.Add(n.env.tips.tipLabel(widget.NewLabel(priceLine(p))))
	}
	if len(info.Prices) == 0 {
		n.cardPrices.Add(widget.NewLabel("No models priced yet"))
	}
	setLabel(n.cardFee, commissionText(info.CommissionBPS), widget.MediumImportance)
	setLabel(n.cardPays, payoutsText(info), widget.MediumImportance)
	n.confirm.SetText("Join " + name)
	n.card.Show()
	n.joinBox.Refresh()
}

// join moves the worker to the previewed network.
func (n *networksView) join() {
	inv := n.invite
	if n.sw == nil || n.busy || inv.URL == "" {
		return
	}
	name := n.cardName.Text
	n.busy = true
	n.confirm.Disable()
	n.joinBtn.Disable()
	n.setChecking("Joining " + name + ", one moment")
	go func() {
		err := n.sw.JoinNetwork(n.env.ctx, inv)
		if err != nil {
			n.env.log.Warn("joining a network failed", "url", inv.URL, "err", err)
		}
		st := n.env.core.Status()
		n.env.do(func() {
			n.busy = false
			n.confirm.Enable()
			n.joinBtn.Enable()
			if err != nil {
				n.setChecking("")
				n.showProblem(inviteProblem(err))
				return
			}
			n.entry.SetText("") // clears the preview too (edited)
			n.setChecking("Joined " + name + ". Cocoon serves it from now on, and after a restart.")
			n.env.render(st)
		})
	}()
}

// backToLocal moves the worker back to the local test network.
func (n *networksView) backToLocal() {
	if n.sw == nil || n.busy {
		return
	}
	n.busy = true
	n.useLocal.Disable()
	go func() {
		err := n.sw.UseLocalNetwork(n.env.ctx)
		if err != nil {
			n.env.log.Warn("going back to the local network failed", "err", err)
		}
		st := n.env.core.Status()
		n.env.do(func() {
			n.busy = false
			n.useLocal.Enable()
			if err != nil {
				n.showProblem(inviteProblem(err))
				return
			}
			n.setChecking("Back on the " + worker.LocalNetworkName + ".")
			n.env.render(st)
		})
	}()
}
