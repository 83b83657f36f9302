package idle

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

func jsRec(typ, number byte, value int16) []byte {
	b := make([]byte, jsEventSize)
	binary.LittleEndian.PutUint16(b[4:6], uint16(value))
	b[6], b[7] = typ, number
	return b
}

func evRec(size int, typ, code uint16, value int32) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint16(b[size-8:], typ)
	binary.LittleEndian.PutUint16(b[size-6:], code)
	binary.LittleEndian.PutUint32(b[size-4:], uint32(value))
	return b
}

func TestDecodeJSEvents(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want []controllerEvent
		err  error
	}{
		{"button", jsRec(jsEventButton, 2, 1), []controllerEvent{{number: 2, value: 1}}, nil},
		{"axis, negative", jsRec(jsEventAxis, 1, -32767), []controllerEvent{{axis: true, number: 1, value: -32767}}, nil},
		{"initial state", jsRec(jsEventAxis|jsEventInit, 0, 12), []controllerEvent{{axis: true, value: 12, init: true}}, nil},
		{"unknown type skipped", slices.Concat(jsRec(0x40, 0, 1), jsRec(jsEventButton, 0, 0)), []controllerEvent{{}}, nil},
		{"partial record", slices.Concat(jsRec(jsEventButton, 0, 1), []byte{1, 2, 3}), []controllerEvent{{value: 1}}, errShortEvent},
		{"empty", nil, nil, nil},
	}
	for _, tc := range cases {
		got, err := decodeJSEvents(tc.in)
		if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestDecodeEvdevEvents(t *testing.T) {
	for _, size := range []int{16, 24} { // 32- and 64-bit struct input_event
		cases := []struct {
			name string
			in   []byte
			want []controllerEvent
			err  error
		}{
			{"button", evRec(size, evKey, 0x130, 1), []controllerEvent{{number: 0x130, value: 1}}, nil},
			{"stick", evRec(size, evAbs, 1, -200), []controllerEvent{{axis: true, number: 1, value: -200}}, nil},
			{"d-pad is a button", evRec(size, evAbs, absHat0X, 1), []controllerEvent{{number: 0x1000 + absHat0X, value: 1}}, nil},
			{"sync and misc ignored", slices.Concat(evRec(size, 0, 0, 0), evRec(size, 4, 4, 9)), nil, nil},
			{"axis code out of range ignored", evRec(size, evAbs, 0x40, 1), nil, nil},
			{"partial", evRec(size, evKey, 0x130, 1)[:size-1], nil, errShortEvent},
		}
		for _, tc := range cases {
			got, err := decodeEvdevEvents(tc.in, size)
			if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
				t.Errorf("%d/%s: %+v, %v; want %+v, %v", size, tc.name, got, err, tc.want, tc.err)
			}
		}
	}
	if _, err := decodeEvdevEvents(nil, 4); err == nil {
		t.Error("an event size under 8 should be refused")
	}
}

func TestParseKeyCaps(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		bits    int
		gamepad bool
		bad     bool
	}{
		{"xbox pad (64-bit words)", "7cdb000000000000 0 0 0 0\n", 64, true, false},
		{"joystick trigger only", "1 0 0 0 0", 64, false, false}, // bit 256: BTN_MISC, not a pad
		{"flight stick BTN_TRIGGER", "ffff00000000 0 0 0 0", 64, true, false},
		{"keyboard", "0 0 0 0 0 0 0 0 0 0 0 0 0 40000000", 64, false, false},
		{"mouse", "1f0000 0 0 0 0", 64, false, false},
		{"32-bit words", "7cdb0000 0 0 0 0 0 0 0 0 0", 32, true, false},
		{"empty", "", 64, false, true},
		{"not hex", "zz 0", 64, false, true},
		{"word too wide", "1ffffffffffffffff", 64, false, true},
		{"absurdly long", strings.Repeat("0 ", 100), 64, false, true},
	}
	for _, tc := range cases {
		b, err := parseKeyCaps(tc.in, tc.bits)
		if (err != nil) != tc.bad {
			t.Errorf("%s: err %v, want bad=%v", tc.name, err, tc.bad)
			continue
		}
		if err == nil && isGamepadCaps(b) != tc.gamepad {
			t.Errorf("%s: gamepad %v, want %v", tc.name, !tc.gamepad, tc.gamepad)
		}
	}
}

// The presence rule with a device's own axis ranges (evdev): a trigger of
// 0..255 resting at 0 and a stick of 0..255 resting at 128.
func TestPresenceAxisRanges(t *testing.T) {
	info := map[int][2]int64{2: {0, 255}, 0: {128, 255}}
	p := presence{axisInfo: func(a int) (int32, int64, bool) {
		v, ok := info[a]
		return int32(v[0]), v[1], ok
	}}
	steps := []struct {
		name string
		ev   controllerEvent
		want bool
	}{
		{"stick wobble at rest", controllerEvent{axis: true, number: 0, value: 131}, false},
		{"stick pushed", controllerEvent{axis: true, number: 0, value: 250}, true},
		{"stick held, trembling", controllerEvent{axis: true, number: 0, value: 245}, false},
		{"trigger touched lightly", controllerEvent{axis: true, number: 2, value: 10}, false},
		{"trigger pulled", controllerEvent{axis: true, number: 2, value: 200}, true},
		{"axis without a known range", controllerEvent{axis: true, number: 5, value: 1}, true},
		{"button", controllerEvent{number: 0x130, value: 0}, true},
	}
	for _, st := range steps {
		if got := p.input([]controllerEvent{st.ev}); got != st.want {
			t.Errorf("%s: input %v, want %v", st.name, got, st.want)
		}
	}
}

func FuzzDecodeJSEvents(f *testing.F) {
	f.Add(jsRec(jsEventButton, 1, 1))
	f.Add(slices.Concat(jsRec(jsEventAxis|jsEventInit, 0, 0), []byte{9}))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := decodeJSEvents(b)
		if len(evs) > len(b)/jsEventSize {
			t.Fatalf("%d events from %d bytes", len(evs), len(b))
		}
		if (err != nil) != (len(b)%jsEventSize != 0) {
			t.Fatalf("err %v for %d bytes", err, len(b))
		}
		var p presence
		p.input(evs) // must not panic
	})
}

func FuzzDecodeEvdevEvents(f *testing.F) {
	f.Add(evRec(24, evKey, 0x130, 1), 24)
	f.Add(evRec(16, evAbs, 3, -5), 16)
	f.Fuzz(func(t *testing.T, b []byte, size int) {
		evs, err := decodeEvdevEvents(b, size)
		if size < 8 {
			if err == nil {
				t.Fatal("size under 8 accepted")
			}
			return
		}
		if len(evs) > len(b)/size {
			t.Fatalf("%d events from %d bytes", len(evs), len(b))
		}
		p := presence{axisInfo: func(int) (int32, int64, bool) { return 0, 0, false }}
		p.input(evs)
	})
}

func FuzzParseKeyCaps(f *testing.F) {
	f.Add("7cdb000000000000 0 0 0 0")
	f.Add("0 0 0 0 0 0 0 0 0 0 0 0 0 40000000")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseKeyCaps(s, 64)
		if err == nil {
			if b.BitLen() > 64*64 {
				t.Fatalf("%d bits accepted", b.BitLen())
			}
			isGamepadCaps(b)
		}
	})
}
