//go:build linux

package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"github.com/godbus/dbus/v5"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// envTrayHelper makes the test binary run the real app (see TestMain).
const envTrayHelper = "COCOON_TRAY_HELPER"

// TestMain lets TestTrayOverDBus run this test binary as the real app: with
// envTrayHelper=1 it runs trayHelper on the main goroutine (GLFW wants the
// main thread, which Fyne's driver locks to it) instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(envTrayHelper) == "1" {
		os.Exit(trayHelper())
	}
	if os.Getenv(envRealCoreHelper) == "1" {
		os.Exit(realCoreHelper())
	}
	if os.Getenv(envNoBusHelper) != "" {
		os.Exit(noBusHelper())
	}
	if os.Getenv(envLayoutHelper) != "" {
		os.Exit(layoutHelper())
	}
	os.Exit(m.Run())
}

// trayHelper runs the real Fyne app with a tray against a fake core,
// printing "starts=N stops=N" whenever the core's counts change, until the
// tray's Quit ends it.
func trayHelper() int {
	core := newFakeCore(noDriverStatus())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		last := ""
		for ctx.Err() == nil {
			starts, stops, _, _ := core.counts()
			if s := fmt.Sprintf("starts=%d stops=%d", starts, stops); s != last {
				fmt.Println(s)
				last = s
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if ok, why := TrayAvailable(); !ok {
		fmt.Fprintln(os.Stderr, "helper: tray unavailable:", why)
		return 1
	}
	viewMadeForTest = func(v *mainView) { go playMinutes(ctx, core, v) }
	if err := Run(ctx, core, Options{Tray: true, StartHidden: true, NoNotifications: true}); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "helper: timed out")
		return 1
	}
	fmt.Println("quit")
	return 0
}

// playMinutes answers the test's commands on stdin. "wait": the worker
// waits, held back by a program on the GPU (cleared, in the hysteresis);
// "minute": a minute of that waiting, one status a second as the core
// publishes them (each with new wording: "Cleared N s ago …"), with the
// Earnings tab re-reading the ledger every 10 s, played fast; "settle": the
// Fyne thread has done what was queued for it; "drop": the
// window hides as closing it does and is dropped as after trimAfter in the
// tray (prints "dropped <bool>"); "check": prints "window <bool>", whether
// the window of the moment is live and holds the app's content at a size.
// Each prints "done <command>" once the app has rendered all of it.
func playMinutes(ctx context.Context, core *fakeCore, v *mainView) {
	rendered := make(chan int, 1)
	fyne.DoAndWait(func() { // Run has set onRender by now
		orig := v.onRender
		v.onRender = func(st worker.Status, busy bool) {
			orig(st, busy)
			select {
			case rendered <- st.Receipts:
			default:
			}
		}
	})
	marker := 0
	// sync renders a status that only the helper tells apart (Receipts
	// does not show in the tray) and waits until the app has.
	sync := func() {
		marker++
		core.set(func(s *worker.Status) { s.Receipts = marker })
		core.publish(worker.Event{Type: worker.EventJob})
		for {
			select {
			case <-ctx.Done():
				return
			case got := <-rendered:
				if got == marker {
					return
				}
			}
		}
	}
	cleared := func(sec int) []idle.Reason {
		return []idle.Reason{{Code: idle.CodeGPUInUse, Until: time.Now().Add(time.Duration(30-sec%30) * time.Second),
			Text: fmt.Sprintf("Cleared %d s ago (steam.exe is using the GPU); waiting %d s more to be sure before serving again", sec, 30-sec%30)}}
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch cmd := strings.TrimSpace(sc.Text()); cmd {
		case "wait":
			core.set(func(s *worker.Status) { s.State, s.Reasons = worker.StateWaiting, cleared(0) })
			core.publish(worker.Event{Type: worker.EventState, Data: worker.StateWaiting})
		case "minute":
			for sec := 1; sec <= 60; sec++ {
				core.set(func(s *worker.Status) { s.Reasons = cleared(sec) })
				core.publish(worker.Event{Type: worker.EventState, Data: worker.StateWaiting})
				if sec%10 == 0 {
					core.publish(worker.Event{Type: worker.EventEarnings})
				}
				time.Sleep(20 * time.Millisecond) // spread out, as the core's ticks are
			}
		case "settle":
			// Fyne sends the tray menu twice at start, the second time
			// from the tray's ready callback through the Fyne thread's
			// queue, with new item ids; after this, that is done.
			fyne.DoAndWait(func() {})
		case "drop":
			fyne.DoAndWait(v.hideWindow)
			fmt.Println("dropped", v.dropWindow(ctx))
		case "check":
			var ok bool
			fyne.DoAndWait(func() {
				lw, live := v.win.(*liveWindow)
				size := v.win.Canvas().Size()
				ok = live && !lw.dropped && v.win.Content() == v.content && size.Width > 0 && size.Height > 0
			})
			fmt.Println("window", ok)
		default:
			continue
		}
		sync()
		fmt.Println("done", strings.TrimSpace(sc.Text()))
	}
}

// startSessionBus starts a private dbus-daemon and returns its address.
func startSessionBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		testx.SkipOrFail(t, "dbus-daemon", "dbus-daemon not installed (scripts/install-deps.sh installs dbus)")
	}
	sock := filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--print-address", "--address=unix:path="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		testx.SkipOrFail(t, "dbus-daemon", err.Error())
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading bus address: %v", err)
	}
	return strings.TrimSpace(line)
}

// dbusMenuItem is one item of a com.canonical.dbusmenu layout.
type dbusMenuItem struct {
	ID      int32
	Label   string
	Enabled bool
	Visible bool
}

// parseLayout flattens a GetLayout reply's (ia{sv}av) tree.
func parseLayout(id int32, props map[string]dbus.Variant, children []dbus.Variant, out *[]dbusMenuItem) {
	it := dbusMenuItem{ID: id, Enabled: true, Visible: true}
	if v, ok := props["label"]; ok {
		it.Label, _ = v.Value().(string)
	}
	if v, ok := props["enabled"]; ok {
		it.Enabled, _ = v.Value().(bool)
	}
	if v, ok := props["visible"]; ok {
		it.Visible, _ = v.Value().(bool)
	}
	if v, ok := props["type"]; ok && v.Value() == "separator" {
		it.Label = "---"
	}
	if id != 0 {
		*out = append(*out, it)
	}
	for _, c := range children {
		fields, ok := c.Value().([]any)
		if !ok || len(fields) != 3 {
			continue
		}
		cid, _ := fields[0].(int32)
		cprops, _ := fields[1].(map[string]dbus.Variant)
		cchildren, _ := fields[2].([]dbus.Variant)
		parseLayout(cid, cprops, cchildren, out)
	}
}

type trayClient struct {
	conn     *dbus.Conn
	menu     dbus.BusObject
	service  string
	menuPath dbus.ObjectPath
}

// findTray waits for a StatusNotifierItem to register with the watcher and
// returns a client for its dbusmenu.
func findTray(t *testing.T, conn *dbus.Conn) *trayClient {
	t.Helper()
	watcher := conn.Object("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher")
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := watcher.GetProperty("org.kde.StatusNotifierWatcher.RegisteredStatusNotifierItems")
		if err == nil {
			if items, _ := v.Value().([]string); len(items) > 0 {
				t.Logf("registered items: %q", items)
				service, path := items[0], "/StatusNotifierItem"
				if i := strings.IndexByte(service, '/'); i >= 0 {
					service, path = service[:i], service[i:]
				}
				item := conn.Object(service, dbus.ObjectPath(path))
				mv, err := item.GetProperty("org.kde.StatusNotifierItem.Menu")
				if err != nil {
					t.Fatalf("item %s%s: Menu property: %v", service, path, err)
				}
				mp, _ := mv.Value().(dbus.ObjectPath)
				if mp == "" {
					t.Fatalf("item %s%s: no menu path (%v)", service, path, mv)
				}
				return &trayClient{conn: conn, menu: conn.Object(service, mp), service: service, menuPath: mp}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no StatusNotifierItem registered within 30 s (last error: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *trayClient) items(t *testing.T) []dbusMenuItem {
	t.Helper()
	var rev uint32
	var layout struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	call := c.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{})
	if call.Err != nil {
		t.Fatalf("GetLayout: %v", call.Err)
	}
	if err := call.Store(&rev, &layout); err != nil {
		t.Fatalf("GetLayout reply: %v", err)
	}
	var out []dbusMenuItem
	parseLayout(layout.ID, layout.Props, layout.Children, &out)
	return out
}

// revision is the menu's layout revision (GetLayout's first answer).
func (c *trayClient) revision(t *testing.T) uint32 {
	t.Helper()
	var rev uint32
	var layout struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := c.menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(0), []string{}).Store(&rev, &layout); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	return rev
}

func labels(items []dbusMenuItem) string {
	var s []string
	for _, it := range items {
		if it.Visible && it.Label != "---" {
			s = append(s, it.Label)
		}
	}
	return strings.Join(s, "|")
}

// waitItem polls the menu until an item labelled label appears.
func (c *trayClient) waitItem(t *testing.T, label string) dbusMenuItem {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last []dbusMenuItem
	for time.Now().Before(deadline) {
		last = c.items(t)
		for _, it := range last {
			if it.Label == label && it.Visible {
				return it
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no menu item %q; menu: %s", label, labels(last))
	return dbusMenuItem{}
}

// waitMenu polls until the menu reads want (Fyne rebuilds the native menu
// item by item, so a reader can see it half built).
func (c *trayClient) waitMenu(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		if got = labels(c.items(t)); got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("menu = %s\nwant   %s", got, want)
}

func (c *trayClient) click(t *testing.T, it dbusMenuItem) {
	t.Helper()
	// As a host does: the menu opens (the root's "opened" event), then an item is clicked.
	if err := c.menu.Call("com.canonical.dbusmenu.Event", 0, int32(0), "opened", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatalf("open the menu: %v", err)
	}
	err := c.menu.Call("com.canonical.dbusmenu.Event", 0, it.ID, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
	if err != nil {
		t.Fatalf("click %q: %v", it.Label, err)
	}
}

// TestTrayOverDBus drives the real tray the way a desktop's tray host does:
// a private session bus with a real StatusNotifierWatcher, the real Fyne app
// (under Xvfb, in a subprocess) registering its StatusNotifierItem, and the
// menu read and clicked through com.canonical.dbusmenu.
func TestTrayOverDBus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Xvfb, dbus-daemon and the real app")
	}
	snw, err := exec.LookPath("status-notifier-watcher")
	if err != nil {
		testx.SkipOrFail(t, "status-notifier-watcher", "not installed (Debian package haskell-status-notifier-item-utils; scripts/install-deps.sh installs it)")
	}
	addr := startSessionBus(t)
	display := testx.StartXvfb(t)

	watcher := exec.Command(snw)
	watcher.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr)
	var watcherLog strings.Builder
	watcher.Stdout, watcher.Stderr = &watcherLog, &watcherLog
	if err := watcher.Start(); err != nil {
		t.Fatalf("status-notifier-watcher: %v", err)
	}
	t.Cleanup(func() { _ = watcher.Process.Kill(); _ = watcher.Wait() })

	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, why := TrayAvailable()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TrayAvailable false with status-notifier-watcher running: %s\nwatcher log: %s", why, watcherLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	home := t.TempDir()
	helper := exec.Command(os.Args[0])
	helper.Env = append(os.Environ(), envTrayHelper+"=1", "DISPLAY="+display, "WAYLAND_DISPLAY=",
		"DBUS_SESSION_BUS_ADDRESS="+addr, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"), "LANG=C.UTF-8")
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helperIn, err := helper.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	helper.Stderr = &stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var mu sync.Mutex
	var lines []string
	gotLine := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			select {
			case gotLine <- sc.Text():
			default:
			}
		}
		exited <- helper.Wait()
	}()
	helperDone := false
	t.Cleanup(func() {
		if !helperDone {
			_ = helper.Process.Kill()
			<-exited
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("helper stdout:\n%s\nhelper stderr:\n%s", strings.Join(lines, "\n"), stderr.String())
			mu.Unlock()
		}
	})
	waitLine := func(want string) {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case l := <-gotLine:
				if strings.TrimSpace(l) == want {
					return
				}
			case <-timeout:
				t.Fatalf("helper never printed %q", want)
			}
		}
	}

	waitLine("starts=0 stops=0")
	tray := findTray(t, conn)
	t.Logf("tray item %s, menu %s", tray.service, tray.menuPath)
	fmt.Fprintln(helperIn, "settle")
	waitLine("done settle")
	tray.waitMenu(t, "Cocoon: stopped|Today: 0 TON · 0 jobs|Network: none|Start sharing|Open Cocoon Desktop|Quit")
	// The item's id once the menu is whole and sent for the last time: a
	// menu sent again gives its items new ids (a click would name one gone).
	start := tray.waitItem(t, "Start sharing")
	for _, it := range tray.items(t) {
		if strings.HasPrefix(it.Label, "Cocoon:") && it.Enabled {
			t.Errorf("state line %q is enabled", it.Label)
		}
	}

	tray.click(t, start)
	waitLine("starts=1 stops=0")
	tray.waitMenu(t, "Cocoon: serving|Today: 0 TON · 0 jobs|Network: none|Stop sharing|Pause for 1 hour|Open Cocoon Desktop|Quit")
	stop := tray.waitItem(t, "Stop sharing")
	if _, err := conn.Object(tray.service, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.Status"); err != nil {
		t.Errorf("item Status property: %v", err)
	}

	tray.click(t, stop)
	waitLine("starts=1 stops=1")
	tray.waitMenu(t, "Cocoon: stopped|Today: 0 TON · 0 jobs|Network: none|Start sharing|Open Cocoon Desktop|Quit")

	// A minute of waiting re-sends the menu at most twice (it re-sent it
	// every second or two while the reason's wording ticked).
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("com.canonical.dbusmenu"), dbus.WithMatchMember("LayoutUpdated")); err != nil {
		t.Fatal(err)
	}
	layoutUpdates := make(chan *dbus.Signal, 4096)
	conn.Signal(layoutUpdates)
	fmt.Fprintln(helperIn, "wait")
	waitLine("done wait")
	tray.waitMenu(t, "Cocoon: waiting for idle — another program is using the GPU|Today: 0 TON · 0 jobs|Network: none|Stop sharing|Start now|Pause for 1 hour|Open Cocoon Desktop|Quit")
	rev0 := tray.revision(t)
	for len(layoutUpdates) > 0 {
		<-layoutUpdates
	}
	fmt.Fprintln(helperIn, "minute")
	waitLine("done minute")
	rev1 := tray.revision(t) // a round trip: the signals sent before it have arrived
	if rev1-rev0 > 2 || len(layoutUpdates) > 2 {
		t.Errorf("a minute of waiting: menu revision %d → %d, %d LayoutUpdated signals; want at most 2", rev0, rev1, len(layoutUpdates))
	}
	t.Logf("a minute of waiting: menu revision %d → %d, %d LayoutUpdated signals", rev0, rev1, len(layoutUpdates))
	conn.RemoveSignal(layoutUpdates)
	// The tooltip says the state and today's earnings.
	tip, err := conn.Object(tray.service, "/StatusNotifierItem").GetProperty("org.kde.StatusNotifierItem.ToolTip")
	if err != nil {
		t.Fatalf("ToolTip property: %v", err)
	}
	if fields, ok := tip.Value().([]any); !ok || len(fields) != 4 || fields[2] != "Cocoon Desktop: waiting for idle · today 0 TON" {
		t.Errorf("ToolTip = %#v, want its title to be the state and today's earnings", tip.Value())
	}

	// Opened from the tray, hidden and dropped (its window-system window
	// and GL context closed, as after 10 s in the tray), the window opens
	// again from the tray: a new window on screen with the app's content.
	if _, err := exec.LookPath("xdotool"); err != nil {
		testx.SkipOrFail(t, "xdotool", "not installed (scripts/install-deps.sh installs it)")
	}
	open := tray.waitItem(t, "Open Cocoon Desktop")
	tray.click(t, open)
	waitWindowShown(t, display, true)
	fmt.Fprintln(helperIn, "drop")
	waitLine("dropped true")
	waitLine("done drop")
	waitWindowShown(t, display, false)
	tray.click(t, open)
	waitWindowShown(t, display, true)
	fmt.Fprintln(helperIn, "check")
	waitLine("window true")

	// Quit from the tray ends the app cleanly (no panic: the bus is there).
	tray.click(t, tray.waitItem(t, "Quit"))
	select {
	case err := <-exited:
		helperDone = true
		if err != nil {
			t.Fatalf("helper exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the app did not quit from the tray's Quit")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(lines, "\n"), "quit") {
		t.Errorf("Run did not return normally; stdout:\n%s", strings.Join(lines, "\n"))
	}
}

// waitWindowShown waits until a window titled "Cocoon Desktop" is on the
// display's screen (shown) or none is (not shown).
func waitWindowShown(t *testing.T, display string, shown bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		search := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^Cocoon Desktop$")
		search.Env = append(os.Environ(), "DISPLAY="+display)
		out, _ := search.Output() // exit 1: none found
		if found := strings.TrimSpace(string(out)) != ""; found == shown {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s the window is still not shown=%v", shown)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
