package single

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// both runs a test with the unix-socket and the loopback-TCP transport.
func both(t *testing.T, fn func(t *testing.T)) {
	for _, tcp := range []bool{false, true} {
		name := "unix"
		if tcp {
			name = "tcp"
		}
		t.Run(name, func(t *testing.T) {
			old := useTCP
			useTCP = tcp
			t.Cleanup(func() { useTCP = old })
			fn(t)
		})
	}
}

func waitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestSecondInstanceActivatesFirst(t *testing.T) {
	both(t, func(t *testing.T) {
		dir := t.TempDir()
		activated := make(chan struct{}, 4)
		release, err := Acquire(dir, func() { activated <- struct{}{} })
		if err != nil {
			t.Fatal(err)
		}
		defer release()

		for i := 0; i < 2; i++ {
			rel2, err := Acquire(dir, func() { t.Error("second instance's callback called") })
			if !errors.Is(err, ErrAlreadyRunning) {
				if rel2 != nil {
					rel2()
				}
				t.Fatalf("second Acquire: err = %v, want ErrAlreadyRunning", err)
			}
			waitSignal(t, activated, "onActivate")
		}

		// After release the next launch becomes the instance.
		release()
		release() // idempotent
		rel3, err := Acquire(dir, nil)
		if err != nil {
			t.Fatalf("Acquire after release: %v", err)
		}
		rel3()
		for _, f := range []string{SocketName, PortFileName} {
			if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind after release (%v)", f, err)
			}
		}
	})
}

// A crashed instance leaves its socket file; nobody listens on it.
func TestStaleSocketRemoved(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, SocketName)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // the file stays, nothing listens: ECONNREFUSED
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("stale socket not in place: %v", err)
	}
	activated := make(chan struct{}, 1)
	release, err := Acquire(dir, func() { activated <- struct{}{} })
	if err != nil {
		t.Fatalf("Acquire over a stale socket: %v", err)
	}
	defer release()
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, mode %v", err, fi.Mode())
	}
	if _, err := Acquire(dir, nil); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Acquire: %v", err)
	}
	waitSignal(t, activated, "onActivate")
}

// A port file naming a port where nothing (or something else) listens is stale.
func TestStalePortFile(t *testing.T) {
	useTCP = true
	t.Cleanup(func() { useTCP = false })
	for _, tc := range []struct {
		name string
		srv  func(t *testing.T) int
	}{
		{"nothing listens", func(t *testing.T) int {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			return port
		}},
		{"another program", func(t *testing.T) int {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
					c.Close()
				}
			}()
			return ln.Addr().(*net.TCPAddr).Port
		}},
		{"garbage", func(t *testing.T) int { return -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			content := "not a port\n"
			if p := tc.srv(t); p > 0 {
				content = fmtPort(p)
			}
			if err := os.WriteFile(filepath.Join(dir, PortFileName), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			release, err := Acquire(dir, nil)
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			defer release()
			fi, err := os.Stat(filepath.Join(dir, PortFileName))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("port file: %v %v", err, fi.Mode())
			}
			if _, err := Acquire(dir, nil); !errors.Is(err, ErrAlreadyRunning) {
				t.Fatalf("second Acquire: %v", err)
			}
		})
	}
}

// A data dir too deep for a unix socket path falls back to loopback TCP.
func TestLongPathFallsBackToTCP(t *testing.T) {
	dir := t.TempDir()
	for len(dir) <= maxSockPath {
		dir = filepath.Join(dir, "a-rather-long-directory-name")
	}
	release, err := Acquire(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := os.Stat(filepath.Join(dir, PortFileName)); err != nil {
		t.Fatalf("no port file: %v", err)
	}
	if _, err := Acquire(dir, nil); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Acquire: %v", err)
	}
}

func fmtPort(p int) string { return strconv.Itoa(p) + "\n" }
