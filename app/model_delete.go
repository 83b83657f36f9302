package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// builtinOffer is the way back when no model is left: the built-in model,
// written from code (no download from the internet).
type builtinOffer struct {
	btn  *widget.Button
	obj  fyne.CanvasObject
	busy bool
	dlg  *dialog.ConfirmDialog // the last "No model left" offer shown
}

func (d *dashboardView) newBuiltinOffer() fyne.CanvasObject {
	d.builtin.btn = widget.NewButtonWithIcon("Download "+builtinName+" (built in)", theme.DownloadIcon(), d.restoreBuiltin)
	d.builtin.obj = container.NewHBox(d.builtin.btn)
	return d.builtin.obj
}

// restoreBuiltin puts the built-in model back on a goroutine.
func (d *dashboardView) restoreBuiltin() {
	if d.builtin.busy {
		return
	}
	d.builtin.busy = true
	d.builtin.btn.Disable()
	go func() {
		d.env.log.Info("restoring the built-in model")
		err := d.env.core.RestoreBuiltInModel(d.env.ctx)
		st := d.env.core.Status()
		d.env.do(func() {
			d.builtin.busy = false
			d.builtin.btn.Enable()
			if err != nil {
				d.env.showError("Could not put "+builtinName+" back", err)
			}
			d.env.render(st)
		})
	}()
}

// confirmDelete warns before a model is deleted: what happens to sharing,
// and for the last model that the built-in one can come back.
func (d *dashboardView) confirmDelete(name string) {
	dlg := dialog.NewCustomConfirm("Delete model", "Delete", "Keep", wrapLabel(deleteWarning(name, d.status)), func(ok bool) {
		if ok {
			d.deleteModel(name)
		}
	}, d.env.win)
	dlg.SetConfirmImportance(widget.DangerImportance)
	dlg.Resize(fyne.NewSize(520, 0))
	d.confirm = dlg
	dlg.Show()
}

func (d *dashboardView) deleteModel(name string) {
	wasServed, wasSharing := name == d.status.Model, d.status.State.Started()
	go func() {
		d.env.log.Info("deleting model", "model", name)
		err := d.env.core.DeleteModel(d.env.ctx, name)
		st := d.env.core.Status()
		d.env.do(func() {
			if err != nil {
				d.env.showError("Could not delete "+name, err)
				d.env.render(st)
				return
			}
			d.env.render(st)
			if msg := afterDeleteText(name, wasServed, wasSharing, st); msg != "" {
				d.notify(msg)
			}
			if wasServed && len(st.Models) == 0 {
				d.offerBuiltin(name)
			}
		})
	}()
}

// offerBuiltin asks, once the last model is gone, whether to put the
// built-in one back.
func (d *dashboardView) offerBuiltin(deleted string) {
	if d.env.win == nil {
		return
	}
	msg := wrapLabel(deleted + " was your only model, so Cocoon has nothing to share with. " +
		builtinName + " is built in: it comes back at once, without the internet, and serves the local test network.")
	dlg := dialog.NewCustomConfirm("No model left", "Download "+builtinName, "Not now", msg, func(ok bool) {
		if ok {
			d.restoreBuiltin()
		}
	}, d.env.win)
	dlg.Resize(fyne.NewSize(520, 0))
	d.builtin.dlg = dlg
	dlg.Show()
}
