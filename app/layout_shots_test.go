package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
)

// envLayoutHelper makes the test binary show the real window (GLFW, on the
// X server in $DISPLAY) over a fake core in one of TestLayout's states, for
// scripts/screenshot-layout.sh. Its value names the state; the window's
// size is in COCOON_LAYOUT_SIZE ("1024x640").
//
// It prints "ready" once the window shows that state at that size, then
// reads commands, one a line, and answers each once done:
//
//	tab N   shows tab N (0: Dashboard)             → "tab N"
//	bottom  scrolls the tab shown to its end       → "bottom"
//	quit    quits (so does the end of its input)
const envLayoutHelper = "COCOON_LAYOUT_HELPER"

func layoutHelper() int {
	name := os.Getenv(envLayoutHelper)
	var tc *layoutCase
	for _, c := range layoutCases() {
		if c.name == name {
			tc = &c
		}
	}
	if tc == nil {
		fmt.Fprintf(os.Stderr, "layout helper: no state %q\n", name)
		return 2
	}
	var w, h float32
	if _, err := fmt.Sscanf(os.Getenv("COCOON_LAYOUT_SIZE"), "%fx%f", &w, &h); err != nil {
		fmt.Fprintln(os.Stderr, "layout helper: COCOON_LAYOUT_SIZE:", err)
		return 2
	}
	size := fyne.NewSize(w, h)
	dir, err := os.MkdirTemp("", "cocoon-layout-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "layout helper:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	core := tc.core(dir)
	if l := core.theLedger(); l != nil {
		defer l.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	made := make(chan *mainView, 1)
	viewMadeForTest = func(v *mainView) { made <- v }
	go func() {
		defer cancel()
		v := <-made
		// On the Fyne thread: it runs once the window shows.
		var conds []func() bool
		fyne.DoAndWait(func() {
			v.win.Resize(size)
			if tc.setup != nil {
				tc.setup(v, func(_ string, cond func() bool) { conds = append(conds, cond) })
			}
		})
		for _, cond := range conds { // what the setup waits for comes back through fyne.Do
			for ok := false; !ok && ctx.Err() == nil; {
				fyne.DoAndWait(func() { ok = cond() })
				if !ok {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
		settleFrames()
		fmt.Println("ready")
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			cmd, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
			switch cmd {
			case "tab":
				i, err := strconv.Atoi(arg)
				if err != nil {
					fmt.Println("error:", err)
					continue
				}
				fyne.DoAndWait(func() { v.tabs.SelectIndex(i) })
				settleFrames()
				fmt.Println("tab", i)
			case "bottom":
				fyne.DoAndWait(func() {
					if sc, ok := v.tabs.Selected().Content.(*container.Scroll); ok {
						sc.ScrollToBottom()
					}
				})
				settleFrames()
				fmt.Println("bottom")
			case "quit":
				return
			default:
				fmt.Println("error: unknown command", cmd)
			}
		}
	}()
	if err := Run(ctx, core, Options{NoOnboarding: true, NoNotifications: true}); err != nil {
		fmt.Fprintln(os.Stderr, "layout helper:", err)
		return 1
	}
	return 0
}

// settleFrames lets the window lay out and draw what changed.
func settleFrames() {
	for range 5 {
		fyne.DoAndWait(func() {})
		time.Sleep(50 * time.Millisecond)
	}
}
