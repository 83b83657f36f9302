package app

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

const bytesPerGB = 1_000_000_000

// storageWidgets is the Models panel's storage row: the drive of the model
// cache, its free space, the models' total against the quota, and the quota.
type storageWidgets struct {
	obj       fyne.CanvasObject
	text      *dimLabel
	entry     *widget.Entry
	save      *widget.Button
	overQuota bool
}

// storageText says where the models live and how full the cache is.
func storageText(mc worker.ModelCache) string {
	var parts []string
	if mc.Attached {
		parts = append(parts, "Managed by your Ollama")
	} else if mc.Mount != "" {
		drive := "Drive " + mc.Mount
		if mc.FreeKnown {
			drive += " · " + humanBytes(int64(min(mc.Free, 1<<62))) + " free"
		}
		parts = append(parts, drive)
	} else if mc.FreeKnown {
		parts = append(parts, humanBytes(int64(min(mc.Free, 1<<62)))+" free")
	}
	used := "models use " + humanBytes(mc.Used)
	switch {
	case mc.Attached && mc.Quota > 0:
		used += " (the quota applies to Cocoon's own store only)"
	case mc.Quota > 0:
		used += " of " + humanBytes(mc.Quota)
	default:
		used += ", no quota"
	}
	parts = append(parts, used)
	return strings.Join(parts, " · ")
}

// parseQuotaGB reads the quota entry: whole GB, empty or 0 for none.
func parseQuotaGB(s string) (int64, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.ToUpper(s)), "GB"))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a whole number of GB", s)
	}
	if n > worker.MaxModelCacheQuotaGB {
		return 0, fmt.Errorf("%d GB is more than %d GB", n, worker.MaxModelCacheQuotaGB)
	}
	return n, nil
}

func quotaEntryText(gb int64) string {
	if gb <= 0 {
		return ""
	}
	return strconv.FormatInt(gb, 10)
}

func (d *dashboardView) buildStorage() fyne.CanvasObject {
	s := &d.storage
	s.text = newDim("")
	s.text.Truncation = fyne.TextTruncateEllipsis
	s.entry = widget.NewEntry()
	s.entry.SetPlaceHolder("none")
	s.entry.SetText(quotaEntryText(d.env.core.Settings().ModelCacheQuotaGB))
	s.entry.OnSubmitted = func(string) { d.saveQuota() }
	s.save = widget.NewButton("Set", d.saveQuota)
	quota := container.NewHBox(caption("Quota"), container.NewGridWrap(fyne.NewSize(72, s.entry.MinSize().Height), s.entry),
		caption("GB"), s.save)
	s.obj = container.NewBorder(nil, nil, caption("Storage"), quota, d.env.tips.tipRich(s.text.RichText))
	return s.obj
}

// renderStorage re-reads the model cache (a statfs) and shows it.
func (d *dashboardView) renderStorage() {
	s := &d.storage
	mc := d.env.core.ModelCache()
	s.overQuota = !mc.Attached && mc.Quota > 0 && mc.Used > mc.Quota
	c := theme.ColorNamePlaceHolder
	if s.overQuota {
		c = theme.ColorNameWarning
	}
	s.text.set(storageText(mc), c)
	if mc.Attached { // the owner's own models are never deleted for a quota
		s.entry.Disable()
		s.save.Disable()
	} else {
		s.entry.Enable()
		s.save.Enable()
	}
}

// saveQuota saves the quota typed in the entry.
func (d *dashboardView) saveQuota() {
	gb, err := parseQuotaGB(d.storage.entry.Text)
	if err != nil {
		d.env.showError("Could not set the model quota", err)
		return
	}
	core := d.env.core
	go func() {
		err := core.SetModelCacheQuotaGB(gb)
		d.env.do(func() {
			if err != nil {
				d.env.showError("Could not set the model quota", err)
			} else {
				d.env.log.Info("model cache quota set", "gb", gb)
				d.storage.entry.SetText(quotaEntryText(gb))
			}
			d.renderStorage()
		})
	}()
}

// evictionText is the notice after models were deleted to fit the quota.
func evictionText(ev worker.ModelEviction) string {
	return fmt.Sprintf("Removed %s (%s, least recently used) to stay under the %s model quota.",
		strings.Join(ev.Models, ", "), humanBytes(ev.Freed), humanBytes(ev.Quota))
}
