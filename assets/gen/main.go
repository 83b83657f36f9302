//go:build ignore

// Command gen draws Cocoon Desktop's icons with the standard library only and
// writes them as PNG files into assets/:
//
//	icon.png          256×256 app icon: a silk-wrapped cocoon on a dark tile
//	tray-stopped.png   64×64 tray icon, grey
//	tray-running.png   64×64 tray icon, green
//	tray-error.png     64×64 tray icon, red with an exclamation mark
//
// Run it from the repository root:
//
//	go run assets/gen/main.go
//
// Every shape is an implicit function sampled 8×8 times per pixel into an
// alpha mask, then composited with image/draw, so edges are anti-aliased.
package main

import (
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// shape reports whether the point (x, y), in unit coordinates (0..1 across
// the image), is inside.
type shape func(x, y float64) bool

// mask samples s into an anti-aliased alpha mask of size n×n.
func mask(n int, s shape) *image.Alpha {
	const ss = 8 // samples per axis
	m := image.NewAlpha(image.Rect(0, 0, n, n))
	for py := 0; py < n; py++ {
		for px := 0; px < n; px++ {
			hit := 0
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(n)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(n)
					if s(x, y) {
						hit++
					}
				}
			}
			m.SetAlpha(px, py, color.Alpha{A: uint8(math.Round(255 * float64(hit) / (ss * ss)))})
		}
	}
	return m
}

// paint composites src through the mask of s onto dst.
func paint(dst *image.NRGBA, src image.Image, s shape) {
	n := dst.Bounds().Dx()
	draw.DrawMask(dst, dst.Bounds(), src, image.Point{}, mask(n, s), image.Point{}, draw.Over)
}

// vgrad is a vertical gradient source from top to bottom colour over n pixels.
type vgrad struct {
	n           int
	top, bottom color.NRGBA
}

func (g vgrad) ColorModel() color.Model { return color.NRGBAModel }
func (g vgrad) Bounds() image.Rectangle { return image.Rect(-1e6, -1e6, 1e6, 1e6) }
func (g vgrad) At(x, y int) color.Color {
	t := math.Min(1, math.Max(0, float64(y)/float64(g.n-1)))
	mix := func(a, b uint8) uint8 { return uint8(math.Round(float64(a)*(1-t) + float64(b)*t)) }
	return color.NRGBA{mix(g.top.R, g.bottom.R), mix(g.top.G, g.bottom.G), mix(g.top.B, g.bottom.B), mix(g.top.A, g.bottom.A)}
}

func uniform(c color.NRGBA) image.Image { return image.NewUniform(c) }

// Shapes, all in unit coordinates.

func roundedRect(x0, y0, x1, y1, r float64) shape {
	return func(x, y float64) bool {
		if x < x0 || x > x1 || y < y0 || y > y1 {
			return false
		}
		cx := math.Max(x0+r, math.Min(x, x1-r))
		cy := math.Max(y0+r, math.Min(y, y1-r))
		return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
	}
}

func circle(cx, cy, r float64) shape {
	return func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
}

// cocoon is an egg-like oval, a little fuller at the top, tilted slightly.
type cocoonGeom struct{ cx, cy, rx, ry, tilt float64 }

// local maps (x, y) into the cocoon's normalised frame: u across, v along, both -1..1 at the rim.
func (c cocoonGeom) local(x, y float64) (u, v float64) {
	dx, dy := x-c.cx, y-c.cy
	s, co := math.Sin(c.tilt), math.Cos(c.tilt)
	rx := dx*co + dy*s
	ry := -dx*s + dy*co
	v = ry / c.ry
	// wider towards the top (v < 0), narrower towards the tip
	width := c.rx * (1 - 0.18*v)
	return rx / width, v
}

func (c cocoonGeom) body() shape {
	return func(x, y float64) bool {
		u, v := c.local(x, y)
		return u*u+v*v <= 1
	}
}

// bands are the silk threads wrapped around the body: curved diagonal strips.
func (c cocoonGeom) bands(width float64) shape {
	centres := []float64{-0.62, -0.22, 0.18, 0.58}
	return func(x, y float64) bool {
		u, v := c.local(x, y)
		if u*u+v*v > 0.86 {
			return false
		}
		for _, k := range centres {
			// the strip curves with the body so it reads as wrapped around it
			d := v - (k + 0.28*u - 0.16*u*u)
			if math.Abs(d) < width*(1-0.35*u*u) {
				return true
			}
		}
		return false
	}
}

func (c cocoonGeom) highlight() shape {
	return func(x, y float64) bool {
		u, v := c.local(x, y)
		du, dv := (u+0.42)/0.2, (v+0.45)/0.3
		return du*du+dv*dv <= 1
	}
}

func union(ss ...shape) shape {
	return func(x, y float64) bool {
		for _, s := range ss {
			if s(x, y) {
				return true
			}
		}
		return false
	}
}

func drawCocoon(img *image.NRGBA, g cocoonGeom, base, dark, silk color.NRGBA, bandWidth float64) {
	n := img.Bounds().Dx()
	// soft shadow below
	paint(img, uniform(color.NRGBA{0, 0, 0, 50}), cocoonGeom{g.cx + 0.02, g.cy + 0.03, g.rx, g.ry, g.tilt}.body())
	paint(img, vgrad{n, base, dark}, g.body())
	paint(img, uniform(silk), g.bands(bandWidth))
	paint(img, uniform(color.NRGBA{255, 255, 255, 90}), g.highlight())
}

func appIcon() *image.NRGBA {
	const n = 256
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	paint(img, vgrad{n, color.NRGBA{0x22, 0x2e, 0x3f, 0xff}, color.NRGBA{0x10, 0x16, 0x20, 0xff}},
		roundedRect(0.04, 0.04, 0.96, 0.96, 0.2))
	g := cocoonGeom{cx: 0.5, cy: 0.53, rx: 0.25, ry: 0.36, tilt: -0.35}
	drawCocoon(img, g,
		color.NRGBA{0x3d, 0xc3, 0xff, 0xff}, color.NRGBA{0x00, 0x6f, 0xc0, 0xff},
		color.NRGBA{0xe8, 0xf7, 0xff, 0xb0}, 0.075)
	// a spark: the GPU earning while the owner is away
	paint(img, uniform(color.NRGBA{0xff, 0xd1, 0x4a, 0xff}), circle(0.76, 0.22, 0.065))
	paint(img, uniform(color.NRGBA{0xff, 0xf3, 0xc4, 0xff}), circle(0.745, 0.205, 0.025))
	return img
}

func trayIcon(base, dark color.NRGBA, exclaim bool) *image.NRGBA {
	const n = 64
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	g := cocoonGeom{cx: 0.5, cy: 0.5, rx: 0.3, ry: 0.44, tilt: -0.35}
	drawCocoon(img, g, base, dark, color.NRGBA{0xff, 0xff, 0xff, 0xb8}, 0.09)
	if exclaim {
		white := uniform(color.NRGBA{0xff, 0xff, 0xff, 0xff})
		ring := circle(0.74, 0.74, 0.22)
		paint(img, uniform(color.NRGBA{0xb4, 0x1c, 0x22, 0xff}), ring)
		paint(img, white, union(roundedRect(0.715, 0.60, 0.765, 0.78, 0.02), circle(0.74, 0.85, 0.033)))
	}
	return img
}

func write(dir, name string, img image.Image) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		log.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", filepath.Join(dir, name))
}

func main() {
	dir := "assets"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	write(dir, "icon.png", appIcon())
	write(dir, "tray-stopped.png", trayIcon(color.NRGBA{0xb8, 0xbe, 0xc6, 0xff}, color.NRGBA{0x6b, 0x72, 0x7c, 0xff}, false))
	write(dir, "tray-running.png", trayIcon(color.NRGBA{0x4a, 0xe0, 0x8a, 0xff}, color.NRGBA{0x12, 0x99, 0x4f, 0xff}, false))
	write(dir, "tray-error.png", trayIcon(color.NRGBA{0xff, 0x7a, 0x7e, 0xff}, color.NRGBA{0xd0, 0x2b, 0x34, 0xff}, true))
}
