package idle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Platform-neutral decoding for the Linux controller source
// (controllers_linux.go): the joystick API's events, evdev's events and the
// capability bitmaps sysfs publishes, kept here so they are tested and
// fuzzed on every OS.

// jsEventSize is sizeof(struct js_event): __u32 time; __s16 value; __u8
// type; __u8 number.
const jsEventSize = 8

// js_event types (linux/joystick.h).
const (
	jsEventButton = 0x01
	jsEventAxis   = 0x02
	jsEventInit   = 0x80 // a synthetic event sent on open with the current state
)

// evdevEventSize is sizeof(struct input_event) for this architecture: a
// struct timeval (two longs) then __u16 type, __u16 code, __s32 value.
const evdevEventSize = 2*strconv.IntSize/8 + 8

// evdev event types and codes (linux/input-event-codes.h).
const (
	evKey       = 0x01
	evAbs       = 0x03
	btnJoystick = 0x120 // BTN_JOYSTICK..BTN_GAMEPAD..BTN_THUMBR: 0x120–0x13f
	btnLastPad  = 0x13f
	absHat0X    = 0x10 // ABS_HAT0X..ABS_HAT3Y: the d-pad, -1/0/1
	absHat3Y    = 0x17
	absMax      = 0x3f
)

// jsAxisRange is the joystick API's axis range: the driver scales every
// axis to -32767..32767.
const jsAxisRange = 65534

// axisMoveFraction is how far (of its range) an axis must move from where
// it was last counted to count as the owner's hand: a stick's drift and
// noise is smaller than this, a deliberate push is larger.
const axisMoveFraction = 0.10

// controllerEvent is one decoded event, reduced to what presence needs.
type controllerEvent struct {
	axis   bool  // an axis (stick, trigger); else a button or d-pad
	number int   // which axis or button
	value  int32 // the axis position or button state
	init   bool  // the driver's initial state, not input
}

// errShortEvent is returned for a trailing partial event.
var errShortEvent = errors.New("idle: partial controller event")

// decodeJSEvents decodes struct js_event records (little- or big-endian as
// the host: the kernel writes them native; every platform Cocoon runs on
// is little-endian). A trailing partial record is an error; the whole
// records before it are returned.
func decodeJSEvents(b []byte) ([]controllerEvent, error) {
	var out []controllerEvent
	for len(b) >= jsEventSize {
		value := int16(binary.LittleEndian.Uint16(b[4:6]))
		typ := b[6]
		ev := controllerEvent{number: int(b[7]), value: int32(value), init: typ&jsEventInit != 0}
		switch typ &^ jsEventInit {
		case jsEventButton:
		case jsEventAxis:
			ev.axis = true
		default:
			b = b[jsEventSize:]
			continue // unknown type: skip it, keep the rest
		}
		out = append(out, ev)
		b = b[jsEventSize:]
	}
	if len(b) != 0 {
		return out, errShortEvent
	}
	return out, nil
}

// decodeEvdevEvents decodes struct input_event records of size
// evdevEventSize, keeping key and absolute-axis events. The d-pad's hat
// axes count as buttons (they are digital).
func decodeEvdevEvents(b []byte, size int) ([]controllerEvent, error) {
	if size < 8 {
		return nil, fmt.Errorf("idle: evdev event size %d", size)
	}
	var out []controllerEvent
	for len(b) >= size {
		rec := b[size-8 : size]
		typ := binary.LittleEndian.Uint16(rec[0:2])
		code := binary.LittleEndian.Uint16(rec[2:4])
		value := int32(binary.LittleEndian.Uint32(rec[4:8]))
		switch {
		case typ == evKey:
			out = append(out, controllerEvent{number: int(code), value: value})
		case typ == evAbs && code >= absHat0X && code <= absHat3Y:
			out = append(out, controllerEvent{number: 0x1000 + int(code), value: value})
		case typ == evAbs && code <= absMax:
			out = append(out, controllerEvent{axis: true, number: int(code), value: value})
		}
		b = b[size:]
	}
	if len(b) != 0 {
		return out, errShortEvent
	}
	return out, nil
}

// parseKeyCaps parses a sysfs capability bitmap
// (/sys/class/input/eventN/device/capabilities/key): hex words of
// wordBits bits, most significant first, separated by spaces.
func parseKeyCaps(s string, wordBits int) (*big.Int, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, errors.New("idle: empty capability bitmap")
	}
	if len(fields) > 64 { // KEY_MAX is 0x2ff: 12 words of 64 bits, 24 of 32
		return nil, fmt.Errorf("idle: capability bitmap of %d words", len(fields))
	}
	bits := new(big.Int)
	for _, f := range fields {
		w, err := strconv.ParseUint(f, 16, wordBits)
		if err != nil {
			return nil, fmt.Errorf("idle: capability word %q: %w", f, err)
		}
		bits.Lsh(bits, uint(wordBits))
		bits.Or(bits, new(big.Int).SetUint64(w))
	}
	return bits, nil
}

// isGamepadCaps reports whether a key capability bitmap has a joystick or
// gamepad button (BTN_JOYSTICK..0x13f): the kernel's own test for a
// joystick device, which keyboards and mice never pass.
func isGamepadCaps(bits *big.Int) bool {
	for b := btnJoystick; b <= btnLastPad; b++ {
		if bits.Bit(b) == 1 {
			return true
		}
	}
	return false
}

// presence tells the owner's hand from a controller's noise, per device.
type presence struct {
	// axisInfo returns an axis's position now and its range (max-min), as
	// the device reports them (evdev's EVIOCGABS); ok false when unknown,
	// and then every move of that axis counts (the safe side: pause). nil
	// means the joystick API: every axis in -32767..32767, its first
	// position sent as an initial-state event.
	axisInfo func(axis int) (pos int32, rng int64, ok bool)
	counted  map[int]int32 // axis → position when last counted (or first known)
}

// input reports whether the events hold the owner's input: any button or
// d-pad change, or an axis moved by at least axisMoveFraction of its range
// from where it was last counted. The driver's initial state is not input.
func (p *presence) input(evs []controllerEvent) bool {
	if p.counted == nil {
		p.counted = map[int]int32{}
	}
	used := false
	for _, ev := range evs {
		if ev.init {
			if ev.axis {
				p.counted[ev.number] = ev.value
			}
			continue
		}
		if !ev.axis {
			used = true
			continue
		}
		rng, known := int64(jsAxisRange), true
		last, seen := p.counted[ev.number]
		if p.axisInfo != nil {
			var pos int32
			pos, rng, known = p.axisInfo(ev.number)
			if !seen && known {
				last = pos
			}
		}
		moved := int64(ev.value) - int64(last)
		if moved < 0 {
			moved = -moved
		}
		if !known || rng <= 0 || float64(moved) >= axisMoveFraction*float64(rng) {
			p.counted[ev.number] = ev.value
			used = true
		} else if !seen {
			p.counted[ev.number] = last
		}
	}
	return used
}
