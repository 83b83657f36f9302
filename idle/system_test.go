package idle

import (
	"errors"
	"io"
	"runtime"
	"testing"
)

func TestNewSystemIdle(t *testing.T) {
	switch runtime.GOOS {
	case "linux":
		t.Setenv("DISPLAY", "")
		src, err := NewSystemIdle()
		if !errors.Is(err, ErrNoDisplay) || src != nil {
			t.Errorf("NewSystemIdle without DISPLAY = %v, %v; want nil, ErrNoDisplay", src, err)
		}
	case "windows":
		src, err := NewSystemIdle()
		if err != nil {
			t.Fatal(err)
		}
		d, err := src.InputIdle()
		if err != nil || d < 0 {
			t.Errorf("InputIdle = %v, %v", d, err)
		}
		if _, ok := src.(FullScreener); !ok {
			t.Error("the Windows source is not a FullScreener")
		}
		if c, ok := src.(io.Closer); !ok || c.Close() != nil {
			t.Error("the Windows source does not close")
		}
	default:
		if _, err := NewSystemIdle(); !errors.Is(err, ErrUnsupported) {
			t.Errorf("NewSystemIdle = %v, want ErrUnsupported", err)
		}
	}
}
