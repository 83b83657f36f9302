package app

import (
	"image/png"
	"os"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// envTrayShot, when set, is where TestTrayMenuShot writes its picture
// (scripts/screenshot-tray.sh sets it).
const envTrayShot = "COCOON_TRAY_SHOT"

// TestTrayMenuShot draws the tray menu while serving, with today's
// earnings, as Fyne draws a menu (tray hosts draw it in the desktop's own
// style), checks what it says, and saves it when envTrayShot asks.
func TestTrayMenuShot(t *testing.T) {
	core := newFakeCore(noDriverStatus())
	v, _, _ := newTestView(t, core)
	desk := &fakeDesk{}
	tray := newTrayMenu(desk, v, func() {}, func() {})
	st := noDriverStatus()
	st.State = worker.StateServing
	st.Jobs.Completed = 12
	tray.update(st, false)
	tray.setToday(day(12, 34_500_000))
	want := "Cocoon: serving · 12 jobs|Today: 0.0345 TON · 12 jobs|Network: none|Stop sharing|Pause for 1 hour|Open Cocoon Desktop|Quit"
	if got := menuLabels(desk.menu); got != want {
		t.Fatalf("menu = %s\nwant   %s", got, want)
	}
	if tray.tooltip != "Cocoon Desktop: serving · today 0.0345 TON" {
		t.Errorf("tooltip = %q", tray.tooltip)
	}
	path := os.Getenv(envTrayShot)
	if path == "" {
		return
	}
	m := widget.NewMenu(desk.menu)
	w := test.NewWindow(m)
	defer w.Close()
	w.SetPadded(false)
	w.Resize(m.MinSize().Add(fyne.NewSize(0, 0)))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, w.Canvas().Capture()); err != nil {
		t.Fatal(err)
	}
}
