package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"os"
	"testing"
)

// TestEncode reads back the .ico made from the project's icon: four images
// (16, 32, 48 as 32-bit bitmaps with a doubled height for the mask, 256 as
// PNG), each where the directory says, the 256 px one the icon itself; and
// encoding twice gives the same bytes (reproducible builds).
func TestEncode(t *testing.T) {
	f, err := os.Open("../../../assets/icon.png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	ico, err := encode(src)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := encode(src)
	if !bytes.Equal(ico, again) {
		t.Error("two encodings differ")
	}
	le := binary.LittleEndian
	if le.Uint16(ico[2:]) != 1 || le.Uint16(ico[4:]) != 4 {
		t.Fatalf("header % x, want an icon with 4 images", ico[:6])
	}
	for i, want := range []int{16, 32, 48, 256} {
		t.Run(string(rune('0'+i)), func(t *testing.T) {
			e := ico[6+16*i:]
			size, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
			if off+size > len(ico) {
				t.Fatalf("image %d at %d+%d past the end (%d)", i, off, size, len(ico))
			}
			img := ico[off : off+size]
			if want == 256 {
				if e[0] != 0 {
					t.Errorf("256 px entry width byte %d, want 0", e[0])
				}
				p, err := png.Decode(bytes.NewReader(img))
				if err != nil {
					t.Fatal(err)
				}
				if p.Bounds().Dx() != 256 || p.Bounds().Dy() != 256 {
					t.Errorf("png %v, want 256x256", p.Bounds())
				}
				return
			}
			if int(e[0]) != want || int(e[1]) != want {
				t.Errorf("entry %dx%d, want %d", e[0], e[1], want)
			}
			if w, h := int32(le.Uint32(img[4:])), int32(le.Uint32(img[8:])); int(w) != want || int(h) != 2*want {
				t.Errorf("bitmap %dx%d, want %dx%d", w, h, want, 2*want)
			}
			if wantLen := 40 + want*want*4 + ((want+31)/32)*4*want; size != wantLen {
				t.Errorf("bitmap %d bytes, want %d", size, wantLen)
			}
		})
	}
}

// TestScaleAverages checks the box filter: a 2x2 of black and white halves
// to one grey pixel, and transparent pixels do not darken it.
func TestScaleAverages(t *testing.T) {
	cases := []struct {
		name   string
		pixels [4]color.NRGBA
		want   color.NRGBA
	}{
		{"black and white", [4]color.NRGBA{{0, 0, 0, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}, {255, 255, 255, 255}}, color.NRGBA{127, 127, 127, 255}},
		{"half transparent", [4]color.NRGBA{{255, 0, 0, 255}, {0, 0, 0, 0}, {255, 0, 0, 255}, {0, 0, 0, 0}}, color.NRGBA{255, 0, 0, 127}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := image.NewNRGBA(image.Rect(0, 0, 2, 2))
			for i, c := range tc.pixels {
				src.SetNRGBA(i%2, i/2, c)
			}
			got := scale(src, 1).NRGBAAt(0, 0)
			near := func(a, b uint8) bool { return int(a)-int(b) <= 1 && int(b)-int(a) <= 1 }
			if !near(got.R, tc.want.R) || !near(got.G, tc.want.G) || !near(got.B, tc.want.B) || !near(got.A, tc.want.A) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
