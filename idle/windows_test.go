package idle

import (
	"errors"
	"fmt"
	"testing"
	"time"
	"unsafe"
)

// fakeWindows stands in for the Win32 calls (no Windows here): a
// notification state, a foreground window, a registry and four XInput
// slots, each settable by the test.
type fakeWindows struct {
	state    uint32
	stateErr error
	title    string
	pid      uint32
	images   map[uint32]string
	reg      map[string]any // `key\value` → uint32 or string
	pads     [4]*xinputState
	noXInput bool
	polls    [4]int // XInputGetState calls per user
}

func (f *fakeWindows) api() win32 {
	return win32{
		notificationState: func() (uint32, error) { return f.state, f.stateErr },
		foreground:        func() (string, uint32) { return f.title, f.pid },
		processImage: func(pid uint32) (string, error) {
			if p, ok := f.images[pid]; ok {
				return p, nil
			}
			return "", errors.New("access denied")
		},
		userDWORD: func(key, value string) (uint32, error) {
			v, ok := f.reg[key+`\`+value]
			if !ok {
				return 0, errRegistryMissing
			}
			n, ok := v.(uint32)
			if !ok {
				return 0, errors.New("not a DWORD")
			}
			return n, nil
		},
		userString: func(key, value string) (string, error) {
			v, ok := f.reg[key+`\`+value].(string)
			if !ok {
				return "", errRegistryMissing
			}
			return v, nil
		},
		xinputState: func(user uint32) (xinputState, error) {
			if f.noXInput {
				return xinputState{}, errNoXInput
			}
			f.polls[user]++
			if f.pads[user] == nil {
				return xinputState{}, errControllerAbsent
			}
			return *f.pads[user], nil
		},
	}
}

func TestWindowsFullScreen(t *testing.T) {
	cases := []struct {
		name  string
		fake  fakeWindows
		want  FullScreenInfo
		isErr bool
	}{
		{"desktop: accepts notifications", fakeWindows{state: qunsAcceptsNotifications, title: "Explorer", pid: 4}, FullScreenInfo{}, false},
		{"Direct3D full screen names the game", fakeWindows{state: qunsRunningD3DFullScreen, title: "Half-Life 2", pid: 77,
			images: map[uint32]string{77: `C:\Program Files (x86)\Steam\steamapps\common\Half-Life 2\hl2.exe`}},
			FullScreenInfo{On: true, Title: "Half-Life 2", Program: "hl2.exe"}, false},
		{"busy: a borderless full-screen program", fakeWindows{state: qunsBusy, title: "Movie", pid: 9, images: map[uint32]string{9: `C:\vlc\vlc.exe`}},
			FullScreenInfo{On: true, Title: "Movie", Program: "vlc.exe"}, false},
		{"presentation mode", fakeWindows{state: qunsPresentationMode, title: "Slides", pid: 5, images: map[uint32]string{5: `C:\Office\POWERPNT.EXE`}},
			FullScreenInfo{On: true, Title: "Slides", Program: "POWERPNT.EXE", Presentation: true}, false},
		{"a protected process: no name, still full screen", fakeWindows{state: qunsRunningD3DFullScreen, title: "Anti-cheat game", pid: 66},
			FullScreenInfo{On: true, Title: "Anti-cheat game"}, false},
		{"quiet time is not full screen", fakeWindows{state: qunsQuietTime}, FullScreenInfo{}, false},
		{"screen locked is not full screen", fakeWindows{state: qunsNotPresent}, FullScreenInfo{}, false},
		{"the call fails", fakeWindows{stateErr: errors.New("HRESULT 0x80004005")}, FullScreenInfo{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newWindowsOwner(tc.fake.api(), nil)
			got, err := o.FullScreenDetail()
			if (err != nil) != tc.isErr || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v (error %v)", got, err, tc.want, tc.isErr)
			}
			on, title, _ := o.FullScreen()
			if on != tc.want.On || title != tc.want.Title {
				t.Errorf("FullScreen() = %v, %q", on, title)
			}
		})
	}
}

func TestWindowsSteamGame(t *testing.T) {
	cases := []struct {
		name  string
		reg   map[string]any
		want  SteamGame
		isErr bool
	}{
		{"no Steam installed", nil, SteamGame{}, false},
		{"Steam, no game", map[string]any{`Software\Valve\Steam\RunningAppID`: uint32(0)}, SteamGame{}, false},
		{"a game with its name", map[string]any{
			`Software\Valve\Steam\RunningAppID`:      uint32(220),
			`Software\Valve\Steam\Apps\220\Name`:     "Half-Life 2 ",
			`Software\Valve\Steam\Apps\440\Name`:     "Team Fortress 2",
			`Software\Valve\Steam\Apps\220\Running`:  uint32(1),
			`Software\Valve\Steam\Apps\220\Updating`: uint32(0),
		}, SteamGame{AppID: 220, Name: "Half-Life 2"}, false},
		{"a game Steam has no name for", map[string]any{`Software\Valve\Steam\RunningAppID`: uint32(440)}, SteamGame{AppID: 440}, false},
		{"a value of the wrong type", map[string]any{`Software\Valve\Steam\RunningAppID`: "440"}, SteamGame{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeWindows{reg: tc.reg}
			got, err := newWindowsOwner(f.api(), nil).SteamGame()
			if (err != nil) != tc.isErr || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v (error %v)", got, err, tc.want, tc.isErr)
			}
		})
	}
}

func TestWindowsXInput(t *testing.T) {
	pad := func(packet uint32, f func(*xinputState)) *xinputState {
		s := &xinputState{Packet: packet}
		if f != nil {
			f(s)
		}
		return s
	}
	type step struct {
		advance time.Duration
		set     func(f *fakeWindows)
		want    time.Duration // -1: no input seen
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"no controller", []step{{want: -1}, {advance: time.Minute, want: -1}}},
		{"first sight is the resting state, not input", []step{
			{set: func(f *fakeWindows) { f.pads[0] = pad(100, func(s *xinputState) { s.Buttons = 0x1000 }) }, want: -1},
		}},
		{"a button press counts; the clock runs from it", []step{
			{set: func(f *fakeWindows) { f.pads[0] = pad(1, nil) }, want: -1},
			{set: func(f *fakeWindows) { f.pads[0] = pad(2, func(s *xinputState) { s.Buttons = 0x1000 }) }, want: 0}, // A
			{advance: 30 * time.Second, want: 30 * time.Second},
		}},
		{"stick drift bumps the packet number but is not input", []step{
			{set: func(f *fakeWindows) { f.pads[1] = pad(1, func(s *xinputState) { s.ThumbLX = 1200 }) }, want: -1},
			{set: func(f *fakeWindows) { f.pads[1] = pad(2, func(s *xinputState) { s.ThumbLX = 3100; s.ThumbRY = -2000 }) }, want: -1},
			{set: func(f *fakeWindows) { f.pads[1] = pad(3, func(s *xinputState) { s.LeftTrigger = 20 }) }, want: -1},
			{set: func(f *fakeWindows) { f.pads[1] = pad(4, func(s *xinputState) { s.ThumbLX = 32000 }) }, want: 0},
		}},
		{"a trigger pulled counts", []step{
			{set: func(f *fakeWindows) { f.pads[2] = pad(7, nil) }, want: -1},
			{advance: time.Second, set: func(f *fakeWindows) { f.pads[2] = pad(8, func(s *xinputState) { s.RightTrigger = 255 }) }, want: 0},
		}},
		{"same packet number: nothing new even if read again", []step{
			{set: func(f *fakeWindows) { f.pads[3] = pad(5, nil) }, want: -1},
			{set: func(f *fakeWindows) { f.pads[3] = pad(5, func(s *xinputState) { s.Buttons = 1 }) }, want: -1},
		}},
		{"unplugged and plugged back: its first state is not input", []step{
			{set: func(f *fakeWindows) { f.pads[0] = pad(1, nil) }, want: -1},
			{set: func(f *fakeWindows) { f.pads[0] = nil }, want: -1},
			{advance: xinputAbsentRecheck, set: func(f *fakeWindows) { f.pads[0] = pad(50, func(s *xinputState) { s.Buttons = 0x10 }) }, want: -1},
		}},
		{"no XInput DLL", []step{{set: func(f *fakeWindows) { f.noXInput = true }, want: -1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeWindows{}
			clock := &testClockN{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
			o := newWindowsOwner(f.api(), clock.now)
			for i, st := range tc.steps {
				clock.t = clock.t.Add(st.advance)
				if st.set != nil {
					st.set(f)
				}
				got, err := o.ControllerIdle()
				if err != nil || got != st.want {
					t.Fatalf("step %d: ControllerIdle %v, %v; want %v", i, got, err, st.want)
				}
			}
		})
	}
}

// Empty XInput slots are asked again only every xinputAbsentRecheck: the
// call is slow for them.
func TestWindowsXInputSparesEmptySlots(t *testing.T) {
	f := &fakeWindows{}
	f.pads[0] = &xinputState{Packet: 1}
	clock := &testClockN{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	o := newWindowsOwner(f.api(), clock.now)
	for range 8 { // two seconds of 250 ms polls
		o.ControllerIdle()
		clock.t = clock.t.Add(250 * time.Millisecond)
	}
	if f.polls[0] != 8 || f.polls[1] != 1 {
		t.Fatalf("polls %v: want the connected pad every time, an empty slot once per %v", f.polls, xinputAbsentRecheck)
	}
	o.ControllerIdle()
	if f.polls[1] != 2 {
		t.Fatalf("polls %v: the empty slot should be asked again after %v", f.polls, xinputAbsentRecheck)
	}
}

// The Windows rules through the Watcher and the policy: each pauses with
// its reason and the program's name.
func TestWindowsRulesPause(t *testing.T) {
	cases := []struct {
		name     string
		set      func(f *fakeWindows)
		code     ReasonCode
		programs []string
	}{
		{"full-screen game", func(f *fakeWindows) {
			f.state, f.title, f.pid, f.images = qunsRunningD3DFullScreen, "Game", 3, map[uint32]string{3: `D:\Games\game.exe`}
		}, CodeFullScreen, []string{"game.exe"}},
		{"presentation", func(f *fakeWindows) { f.state = qunsPresentationMode }, CodePresentation, nil},
		{"Steam game", func(f *fakeWindows) {
			f.reg = map[string]any{`Software\Valve\Steam\RunningAppID`: uint32(220), `Software\Valve\Steam\Apps\220\Name`: "Half-Life 2"}
		}, CodeSteamGame, []string{"Half-Life 2"}},
		{"controller", func(f *fakeWindows) { f.pads[0].Buttons = 0x2000; f.pads[0].Packet++ }, CodeControllerActive, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeWindows{state: qunsAcceptsNotifications}
			f.pads[0] = &xinputState{Packet: 1}
			clock := &testClockN{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
			o := newWindowsOwner(f.api(), clock.now)
			w := &Watcher{
				Policy:      NewPolicy(DefaultConfig()),
				Input:       InputIdlerFunc(func() (time.Duration, error) { return time.Hour, nil }),
				FullScreen:  o,
				Controllers: o,
				Steam:       o,
				Now:         clock.now,
			}
			if d := w.Poll(); !d.Serve {
				t.Fatalf("nothing running: %+v", d.Reasons)
			}
			tc.set(f)
			clock.t = clock.t.Add(time.Second)
			d := w.Poll()
			if d.Serve || len(d.Reasons) != 1 || d.Reasons[0].Code != tc.code {
				t.Fatalf("Serve=%v reasons %+v, want %s", d.Serve, d.Reasons, tc.code)
			}
			if got := fmt.Sprint(d.Reasons[0].Programs); got != fmt.Sprint(tc.programs) {
				t.Errorf("programs %s, want %s", got, fmt.Sprint(tc.programs))
			}
		})
	}
}

type testClockN struct{ t time.Time }

func (c *testClockN) now() time.Time { return c.t }

func TestWindowsBase(t *testing.T) {
	for in, want := range map[string]string{`C:\Games\x.exe`: "x.exe", "x.exe": "x.exe", `\\?\D:\a b\y.EXE`: "y.EXE", "C:/a/z.exe": "z.exe", "": ""} {
		if got := windowsBase(in); got != want {
			t.Errorf("windowsBase(%q) = %q, want %q", in, got, want)
		}
	}
}

// xinputState must have XINPUT_STATE's layout: XInputGetState writes it.
func TestXInputStateLayout(t *testing.T) {
	var s xinputState
	if n := unsafe.Sizeof(s); n != 16 {
		t.Fatalf("sizeof %d, want 16", n)
	}
	if off := unsafe.Offsetof(s.ThumbLX); off != 8 {
		t.Fatalf("sThumbLX at %d, want 8", off)
	}
}
