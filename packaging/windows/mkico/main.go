// Command mkico writes a Windows .ico from a square PNG (the installer's and
// uninstaller's icon, made from assets/icon.png at build time so that no
// binary copy of the icon lives in the repository).
//
// The .ico holds 16, 32 and 48 px images as 32-bit BGRA bitmaps (what every
// Windows version and NSIS read) and the 256 px image as PNG (Vista and
// later); the output depends only on the input, so builds are reproducible.
//
// usage: go run ./packaging/windows/mkico in.png out.ico
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkico in.png out.ico")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mkico:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("open icon: %w", err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("decode %s: %w", in, err)
	}
	ico, err := encode(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, ico, 0o644); err != nil {
		return fmt.Errorf("write icon: %w", err)
	}
	return nil
}

// encode builds the .ico: a directory, then one image per size.
func encode(src image.Image) ([]byte, error) {
	sizes := []int{16, 32, 48, 256}
	var images [][]byte
	for _, s := range sizes {
		img := scale(src, s)
		if s == 256 {
			var b bytes.Buffer
			if err := png.Encode(&b, img); err != nil {
				return nil, fmt.Errorf("encode 256 px png: %w", err)
			}
			images = append(images, b.Bytes())
			continue
		}
		images = append(images, dib(img))
	}
	var out bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&out, le, v) }
	w([3]uint16{0, 1, uint16(len(sizes))}) // reserved, type icon, count
	offset := 6 + 16*len(sizes)
	for i, s := range sizes {
		dim := uint8(s)
		if s == 256 {
			dim = 0 // 0 means 256
		}
		w([4]uint8{dim, dim, 0, 0})
		w([2]uint16{1, 32}) // planes, bits per pixel
		w([2]uint32{uint32(len(images[i])), uint32(offset)})
		offset += len(images[i])
	}
	for _, img := range images {
		out.Write(img)
	}
	return out.Bytes(), nil
}

// dib is an icon bitmap: BITMAPINFOHEADER (height doubled for the AND
// mask), bottom-up BGRA rows, then an all-zero AND mask (alpha decides).
func dib(img *image.NRGBA) []byte {
	s := img.Rect.Dx()
	var b bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&b, le, struct {
		Size                 uint32
		Width, Height        int32
		Planes, BitCount     uint16
		Compression, ImgSize uint32
		XPPM, YPPM           int32
		ClrUsed, ClrImp      uint32
	}{40, int32(s), int32(2 * s), 1, 32, 0, uint32(s * s * 4), 0, 0, 0, 0})
	for y := s - 1; y >= 0; y-- {
		for x := 0; x < s; x++ {
			c := img.NRGBAAt(x, y)
			b.Write([]byte{c.B, c.G, c.R, c.A})
		}
	}
	maskRow := ((s + 31) / 32) * 4
	b.Write(make([]byte, maskRow*s))
	return b.Bytes()
}

// scale resizes with a box filter over premultiplied colour, good enough
// for downscaling an icon by whole-ish factors and fully deterministic.
func scale(src image.Image, size int) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, size, size))
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	for y := 0; y < size; y++ {
		y0, y1 := sb.Min.Y+y*sh/size, sb.Min.Y+(y+1)*sh/size
		for x := 0; x < size; x++ {
			x0, x1 := sb.Min.X+x*sw/size, sb.Min.X+(x+1)*sw/size
			var r, g, bl, a, n uint64
			for sy := y0; sy < max(y1, y0+1); sy++ {
				for sx := x0; sx < max(x1, x0+1); sx++ {
					c := color.RGBA64Model.Convert(src.At(sx, sy)).(color.RGBA64)
					r, g, bl, a = r+uint64(c.R), g+uint64(c.G), bl+uint64(c.B), a+uint64(c.A)
					n++
				}
			}
			pm := color.RGBA64{R: uint16(r / n), G: uint16(g / n), B: uint16(bl / n), A: uint16(a / n)}
			dst.Set(x, y, pm) // NRGBA's Set un-premultiplies
		}
	}
	return dst
}
