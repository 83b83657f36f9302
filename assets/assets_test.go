package assets

import (
	"bytes"
	"image/png"
	"testing"
)

func TestIconsDecode(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		size int
	}{
		{"icon.png", Icon, 256},
		{"tray-stopped.png", TrayStopped, 64},
		{"tray-running.png", TrayRunning, 64},
		{"tray-error.png", TrayError, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := png.Decode(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			b := img.Bounds()
			if b.Dx() != tt.size || b.Dy() != tt.size {
				t.Fatalf("size = %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.size, tt.size)
			}
		})
	}
	if bytes.Equal(TrayStopped, TrayRunning) || bytes.Equal(TrayRunning, TrayError) {
		t.Fatal("tray icons must differ per state")
	}
}
