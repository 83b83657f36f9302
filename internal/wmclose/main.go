// Command wmclose asks an X11 window to close the way a window manager's
// close button does: a WM_PROTOCOLS client message carrying
// WM_DELETE_WINDOW. The app then hides into its tray instead of quitting.
// Xvfb runs no window manager and xdotool's windowclose destroys the window
// instead, so scripts/bench-idle.sh uses this to hide the app's window.
//
// usage: go run ./internal/wmclose WINDOW_ID   (decimal, as xdotool prints it)
package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"strconv"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wmclose:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: wmclose WINDOW_ID")
	}
	id, err := strconv.ParseUint(args[0], 0, 32)
	if err != nil {
		return fmt.Errorf("window id %q: %w", args[0], err)
	}
	xgb.Logger = log.New(io.Discard, "", 0) // no "Could not get authority info" under Xvfb
	conn, err := xgb.NewConn()
	if err != nil {
		return fmt.Errorf("connect to X: %w", err)
	}
	defer conn.Close()
	atom := func(name string) (xproto.Atom, error) {
		r, err := xproto.InternAtom(conn, false, uint16(len(name)), name).Reply()
		if err != nil {
			return 0, fmt.Errorf("intern %s: %w", name, err)
		}
		return r.Atom, nil
	}
	protocols, err := atom("WM_PROTOCOLS")
	if err != nil {
		return err
	}
	del, err := atom("WM_DELETE_WINDOW")
	if err != nil {
		return err
	}
	win := xproto.Window(id)
	ev := xproto.ClientMessageEvent{
		Format: 32,
		Window: win,
		Type:   protocols,
		Data:   xproto.ClientMessageDataUnionData32New([]uint32{uint32(del), xproto.TimeCurrentTime, 0, 0, 0}),
	}
	if err := xproto.SendEventChecked(conn, false, win, xproto.EventMaskNoEvent, string(ev.Bytes())).Check(); err != nil {
		return fmt.Errorf("send WM_DELETE_WINDOW to %#x: %w", id, err)
	}
	return nil
}
