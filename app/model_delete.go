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

func (v *mainView) newBuiltinOffer() fyne.CanvasObject {
	v.builtin.btn = widget.NewButtonWithIcon("Download "+builtinName+" (built in)", theme.DownloadIcon(), v.restoreBuiltin)
	v.builtin.obj = container.NewHBox(v.builtin.btn)
	return v.builtin.obj
}

// restoreBuiltin puts the built-in model back on a goroutine.
func (v *mainView) restoreBuiltin() {
	if v.builtin.busy {
		return
	}
	v.builtin.busy = true
	v.builtin.btn.Disable()
	go func() {
		v.log.Info("restoring the built-in model")
		err := v.core.RestoreBuiltInModel(v.ctx)
		st := v.core.Status()
		v.do(func() {
			v.builtin.busy = false
			v.builtin.btn.Enable()
			if err != nil {
				v.showError("Could not put "+builtinName+" back", err)
			}
			v.refresh(st)
		})
	}()
}

// confirmDelete warns before a model is deleted: what happens to sharing,
// and for the last model that the built-in one can come back.
func (v *mainView) confirmDelete(name string) {
	d := dialog.NewCustomConfirm("Delete model", "Delete", "Keep", wrapLabel(deleteWarning(name, v.status)), func(ok bool) {
		if ok {
			v.deleteModel(name)
		}
	}, v.win)
	d.SetConfirmImportance(widget.DangerImportance)
	d.Resize(fyne.NewSize(520, 0))
	v.confirm = d
	d.Show()
}

func (v *mainView) deleteModel(name string) {
	wasServed, wasSharing := name == v.status.Model, v.status.State.Started()
	go func() {
		v.log.Info("deleting model", "model", name)
		err := v.core.DeleteModel(v.ctx, name)
		st := v.core.Status()
		v.do(func() {
			if err != nil {
				v.showError("Could not delete "+name, err)
				v.refresh(st)
				return
			}
			v.refresh(st)
			if msg := afterDeleteText(name, wasServed, wasSharing, st); msg != "" {
				setLabel(v.notice, msg, widget.WarningImportance)
				v.noticeOn = true
				v.renderStatusLine()
			}
			if wasServed && len(st.Models) == 0 {
				v.offerBuiltin(name)
			}
		})
	}()
}

// offerBuiltin asks, once the last model is gone, whether to put the
// built-in one back.
func (v *mainView) offerBuiltin(deleted string) {
	if v.win == nil {
		return
	}
	msg := wrapLabel(deleted + " was your only model, so Cocoon has nothing to share with. " +
		builtinName + " is built in: it comes back at once, without the internet, and serves the local test network.")
	d := dialog.NewCustomConfirm("No model left", "Download "+builtinName, "Not now", msg, func(ok bool) {
		if ok {
			v.restoreBuiltin()
		}
	}, v.win)
	d.Resize(fyne.NewSize(520, 0))
	v.builtin.dlg = d
	d.Show()
}
