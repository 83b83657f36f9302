package app

import (
	"image/png"
	"os"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
)

func TestZZShot(t *testing.T) {
	want := os.Getenv("ZZCASE")
	for _, tc := range layoutCases() {
		if tc.name != want {
			continue
		}
		for _, sz := range layoutSizes {
			core := tc.core(t.TempDir())
			v, w, q := newLayoutView(t, core, sz.size)
			if tc.setup != nil {
				tc.setup(t, v, q)
			}
			for i, it := range v.tabs.Items {
				v.tabs.SelectIndex(i)
				settle(w, sz.size)
				f, _ := os.Create("/tmp/layout-shots/" + strings.ReplaceAll(tc.name, " ", "_") + "-" + sz.name + "-" + strings.Fields(it.Text)[0] + ".png")
				png.Encode(f, w.Canvas().Capture())
				f.Close()
			}
			_ = fyne.Size{}
		}
	}
}
