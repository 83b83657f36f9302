// Package single keeps Cocoon Desktop to one running instance per data dir.
//
// The instance is whoever holds an exclusive lock on a file in the data dir
// (flock on Unix, LockFileEx on Windows; the OS drops it when the process
// dies, so a crash never leaves it held). Only the holder listens on a
// unix-domain socket there (on Windows, or where the socket path would be too
// long, on a loopback TCP port whose number it writes to a 0600 file). A
// second launch fails to take the lock, connects, sends "activate" — the
// first instance then shows its window — and gets ErrAlreadyRunning, so it
// can say so and exit. Since only the lock holder ever removes a stale
// socket, two launches at the same moment can never delete each other's.
package single

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrAlreadyRunning is returned by Acquire after it told the running
// instance to show itself.
var ErrAlreadyRunning = errors.New("single: another instance is running")

const (
	// SocketName and PortFileName are the files Acquire keeps in the dir.
	SocketName   = "instance.sock"
	PortFileName = "instance.port"
	LockName     = "instance.lock"

	activateMsg = "activate"
	okMsg       = "ok"
	ioTimeout   = 2 * time.Second
	// activateWait bounds how long a second launch tries to reach the
	// instance that holds the lock (it may have just started).
	activateWait = 5 * time.Second
	maxSockPath  = 100 // sun_path is 104 (macOS) or 108 (Linux) bytes with the NUL
)

// useTCP picks the loopback-TCP transport; tests flip it to cover both.
var useTCP = runtime.GOOS == "windows"

// Acquire makes this process the single instance for dir. onActivate (may be
// nil) is called on its own goroutine each time a later launch asks this
// instance to show itself. release stops listening and removes the files;
// it is safe to call more than once.
//
// When another instance already runs, Acquire signals it and returns
// ErrAlreadyRunning. A stale socket or port file (no one listening) is removed
// and taken over.
func Acquire(dir string, onActivate func()) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("single: %w", err)
	}
	var t transport = unixTransport{path: filepath.Join(dir, SocketName)}
	if useTCP || len(filepath.Join(dir, SocketName)) > maxSockPath {
		t = tcpTransport{portFile: filepath.Join(dir, PortFileName)}
	}
	lock, err := tryLock(filepath.Join(dir, LockName))
	if errors.Is(err, errLocked) {
		// Another instance holds it; it may still be starting to listen.
		for deadline := time.Now().Add(activateWait); ; time.Sleep(20 * time.Millisecond) {
			if activate(t) || time.Now().After(deadline) {
				return nil, ErrAlreadyRunning
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("single: %w", err)
	}
	t.clean() // we hold the lock: whatever is there was left by a dead instance
	ln, err := t.listen()
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("single: %w", err)
	}
	s := &server{ln: ln, onActivate: onActivate, done: make(chan struct{})}
	go s.serve()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = ln.Close()
			<-s.done
			t.clean()
			lock.Close() // last: no one may take over before the files are gone
		})
	}, nil
}

// activate asks a running instance to show itself; false when none answers
// with the protocol's reply.
func activate(t transport) bool {
	c, err := t.dial()
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := fmt.Fprintln(c, activateMsg); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == okMsg
}

type server struct {
	ln         net.Listener
	onActivate func()
	done       chan struct{}
}

func (s *server) serve() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		go s.handle(c)
	}
}

func (s *server) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != activateMsg {
		return
	}
	_, _ = fmt.Fprintln(c, okMsg)
	if s.onActivate != nil {
		s.onActivate()
	}
}

type transport interface {
	dial() (net.Conn, error)
	listen() (net.Listener, error)
	clean() // remove what a dead instance left
}

type unixTransport struct{ path string }

func (u unixTransport) dial() (net.Conn, error) {
	return net.DialTimeout("unix", u.path, ioTimeout)
}

func (u unixTransport) listen() (net.Listener, error) {
	ln, err := net.Listen("unix", u.path)
	if err != nil {
		return nil, err
	}
	// Only the owner may signal it (the data dir is private too).
	_ = os.Chmod(u.path, 0o600)
	return ln, nil
}

func (u unixTransport) clean() { _ = os.Remove(u.path) }

type tcpTransport struct{ portFile string }

func (t tcpTransport) dial() (net.Conn, error) {
	b, err := os.ReadFile(t.portFile)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("bad port file %s", t.portFile)
	}
	return net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), ioTimeout)
}

func (t tcpTransport) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	tmp := t.portFile + ".tmp"
	err = os.WriteFile(tmp, []byte(strconv.Itoa(port)+"\n"), 0o600)
	if err == nil {
		err = os.Rename(tmp, t.portFile)
	}
	if err != nil {
		_ = ln.Close()
		_ = os.Remove(tmp)
		return nil, err
	}
	return ln, nil
}

func (t tcpTransport) clean() { _ = os.Remove(t.portFile) }
