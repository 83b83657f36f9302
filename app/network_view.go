package app

import (
	"fmt"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/ton"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// networkWidgets show the link to the network, what was served and earned,
// and how the owner can try the local network.
type networkWidgets struct {
	pill     *pill
	where    *widget.Label
	api      *widget.Label
	key      *widget.Label
	copyKey  *widget.Button
	served   *widget.Label
	earned   *widget.Label
	lastStop *widget.Label
	err      *widget.Label
	keyRow   fyne.CanvasObject
}

func (d *dashboardView) buildNetwork() fyne.CanvasObject {
	n := &d.net
	n.pill = newPill("Not connected", colorGrey, pillText)
	n.where = widget.NewLabel("—")
	n.api = widget.NewLabel("—")
	n.key = widget.NewLabel("—")
	n.copyKey = widget.NewButtonWithIcon("", theme.ContentCopyIcon(), func() {
		if k := d.status.Network.APIKey; k != "" && d.env.win != nil {
			d.env.win.Clipboard().SetContent(k)
		}
	})
	n.copyKey.Importance = widget.LowImportance
	n.served = widget.NewLabel("—")
	n.earned = widget.NewLabel("—")
	n.lastStop = widget.NewLabel("—")
	n.err = wrapLabel("")
	n.err.Importance = widget.DangerImportance
	n.err.Hide()
	tip := d.env.tips.tipLabel
	n.keyRow = container.NewBorder(nil, nil, nil, n.copyKey, tip(n.key))
	left := container.New(layout.NewFormLayout(),
		caption("Network"), tip(n.where),
		caption("API"), tip(n.api),
		caption("API key"), n.keyRow)
	right := container.New(layout.NewFormLayout(),
		caption("Served"), tip(n.served),
		caption("Earned"), tip(n.earned),
		caption("Last pause"), tip(n.lastStop))
	p := panel("Network", n.pill.obj, container.NewVBox(newColumns(left, right), n.err))
	n.pill.parent = p
	return p
}

func (d *dashboardView) renderNetwork(st worker.Status) {
	n := &d.net
	ns := st.Network
	switch {
	case ns.URL == "":
		n.pill.set("No network", colorGrey)
	case ns.Connected:
		n.pill.set("Connected", colorGreen)
	default:
		n.pill.set("Not connected", colorAmber)
	}
	where := "none configured"
	if ns.Local {
		where = "local test network (on this computer)"
	} else if ns.Name != "" {
		where = ns.Name + " · " + ns.URL
	} else if ns.URL != "" {
		where = ns.URL
	}
	if ns.WorkerID != "" {
		where += " · worker " + shortID(ns.WorkerID)
	}
	setLabel(n.where, where, widget.MediumImportance)
	api := "—"
	if ns.APIURL != "" {
		api = ns.APIURL
	}
	setLabel(n.api, api, widget.MediumImportance)
	key := "—"
	if ns.APIKey != "" {
		key = ns.APIKey
	}
	setLabel(n.key, key, widget.MediumImportance)
	setVisible(n.copyKey, ns.APIKey != "")
	served := plural(st.Jobs.Completed, "job") + " · " + plural(int(st.Jobs.Tokens), "token")
	if st.Jobs.Running > 0 {
		served = fmt.Sprintf("%d running · ", st.Jobs.Running) + served
	}
	if st.Jobs.LastTokensPS > 0 {
		served += fmt.Sprintf(" · %.0f tok/s", st.Jobs.LastTokensPS)
	}
	setLabel(n.served, served, widget.MediumImportance)
	earned := fmt.Sprintf("%s TON in %s", tonText(st.Earned), plural(st.Receipts, "receipt"))
	if ns.Local {
		earned += " (test TON)"
	}
	setLabel(n.earned, earned, widget.MediumImportance)
	last := "—"
	if p := st.LastPause; p != nil {
		last = fmt.Sprintf("GPU freed in %d ms · %s", p.Took.Milliseconds(), p.Reason)
	}
	setLabel(n.lastStop, last, widget.MediumImportance)
	setLabel(n.err, networkErrorText(ns), widget.DangerImportance)
	setVisible(n.err, ns.Error != "" && !ns.Connected)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// tonText formats nanoTON as TON for people.
func tonText(nano int64) string { return ton.Format(nano) }

func shortID(id string) string {
	if len(id) > 12 {
		return id[:6] + "…" + id[len(id)-4:]
	}
	return id
}

// reasonsText is every reason in force why the worker does not serve, on
// one line ("Paused: a · b").
func reasonsText(st worker.Status) string {
	if (st.State != worker.StateWaiting && st.State != worker.StatePaused) || len(st.Reasons) == 0 {
		return ""
	}
	texts := make([]string, 0, len(st.Reasons))
	for _, r := range st.Reasons {
		texts = append(texts, oneLine(r.Text))
	}
	head := "Paused: "
	if st.State == worker.StateWaiting {
		head = "Waiting: "
	}
	return head + strings.Join(texts, " · ")
}

// reasonLines is every reason in force, one a line (the status line's tooltip).
func reasonLines(st worker.Status) string {
	head, _, _ := strings.Cut(reasonsText(st), ": ")
	if head == "" {
		return ""
	}
	lines := make([]string, 0, len(st.Reasons)+1)
	lines = append(lines, head+":")
	for _, r := range st.Reasons {
		lines = append(lines, "• "+oneLine(r.Text))
	}
	return strings.Join(lines, "\n")
}

// stateSentence says what the state means, for the status line when it has
// nothing more pressing to say.
func stateSentence(st worker.Status) string {
	switch st.State {
	case worker.StateServing:
		if st.Jobs.Running > 0 {
			return "Serving: a job is running on your GPU."
		}
		return "Serving: jobs are welcome while you are away. Touch the mouse and Cocoon steps aside."
	case worker.StateWaiting:
		return "Waiting for you to step away from the computer."
	case worker.StatePaused:
		return "Paused: the GPU is yours."
	case worker.StateStopped, "":
		return "Not sharing. Start sharing to earn while you are away; Cocoon steps aside when you come back."
	}
	return stateWord(st.State) + "."
}
