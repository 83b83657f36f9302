//go:build linux

package idle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DefaultControllerRescan is how often Controllers looks for plugged or
// unplugged devices.
const DefaultControllerRescan = 2 * time.Second

// Controllers is the Linux game-controller source: the joystick API's
// /dev/input/js* devices and the evdev /dev/input/event* devices whose key
// capabilities (from sysfs) include joystick or gamepad buttons. Each poll
// reads whatever events are queued without blocking (the devices are open
// O_NONBLOCK), so it needs no goroutine of its own: the Watcher's poll is
// its clock. Safe for concurrent use.
type Controllers struct {
	// Dir holds the device nodes; default /dev/input.
	Dir string
	// SysDir holds the devices' sysfs entries; default /sys/class/input.
	SysDir string
	// Rescan is how often Dir is listed again; default DefaultControllerRescan.
	Rescan time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu       sync.Mutex
	devs     map[string]*controllerDev // by path
	denied   map[string]error          // gamepads we may not open, by path
	lastScan time.Time
	last     time.Time // last controller input; zero: none seen
	closed   bool
}

type controllerDev struct {
	path  string
	fd    int
	evdev bool
	pres  presence
}

// NewControllers returns a source over /dev/input.
func NewControllers() *Controllers { return &Controllers{} }

func (c *Controllers) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// ControllerIdle reads the queued events of every controller and returns
// the time since the last input (< 0: none seen yet). The error wraps
// ErrControllersUnreadable and names the devices that cannot be opened;
// the duration still covers the others.
func (c *Controllers) ControllerIdle() (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return -1, errors.New("idle: controllers: closed")
	}
	now := c.now()
	rescan := c.Rescan
	if rescan <= 0 {
		rescan = DefaultControllerRescan
	}
	if c.devs == nil || now.Sub(c.lastScan) >= rescan || now.Before(c.lastScan) {
		c.scan()
		c.lastScan = now
	}
	for path, d := range c.devs {
		used, err := d.drain()
		if err != nil { // unplugged (ENODEV) or broken: reopened by a later scan if it is back
			unix.Close(d.fd)
			delete(c.devs, path)
			continue
		}
		if used {
			c.last = now
		}
	}
	idle := time.Duration(-1)
	if !c.last.IsZero() {
		idle = max(now.Sub(c.last), 0)
	}
	if len(c.denied) > 0 {
		paths := make([]string, 0, len(c.denied))
		for p := range c.denied {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		return idle, fmt.Errorf("idle: %s: %w", strings.Join(paths, ", "), ErrControllersUnreadable)
	}
	return idle, nil
}

// scan opens the controllers not open yet.
func (c *Controllers) scan() {
	if c.devs == nil {
		c.devs = map[string]*controllerDev{}
	}
	c.denied = map[string]error{}
	dir := c.Dir
	if dir == "" {
		dir = "/dev/input"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return // no input devices at all (a container, a server): nothing to read
	}
	for _, e := range ents {
		name := e.Name()
		path := filepath.Join(dir, name)
		var evdev bool
		switch {
		case strings.HasPrefix(name, "js") && isNumber(name[2:]):
		case strings.HasPrefix(name, "event") && isNumber(name[5:]):
			if !c.isGamepad(name) {
				continue // keyboards and mice are the X server's business
			}
			evdev = true
		default:
			continue
		}
		if _, open := c.devs[path]; open {
			continue
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				c.denied[path] = err
			}
			continue
		}
		d := &controllerDev{path: path, fd: fd, evdev: evdev}
		if evdev {
			d.pres.axisInfo = evdevAxes(fd)
		}
		c.devs[path] = d
	}
}

// isGamepad reads eventN's key capabilities from sysfs.
func (c *Controllers) isGamepad(event string) bool {
	sys := c.SysDir
	if sys == "" {
		sys = "/sys/class/input"
	}
	b, err := os.ReadFile(filepath.Join(sys, event, "device", "capabilities", "key"))
	if err != nil {
		return false
	}
	bits, err := parseKeyCaps(string(b), strconv.IntSize)
	return err == nil && isGamepadCaps(bits)
}

// drain reads every queued event; used reports the owner's input.
func (d *controllerDev) drain() (used bool, err error) {
	size := jsEventSize
	if d.evdev {
		size = evdevEventSize
	}
	buf := make([]byte, 64*size)
	for {
		n, err := unix.Read(d.fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			return used, nil
		case err != nil:
			return used, fmt.Errorf("idle: read %s: %w", d.path, err)
		case n <= 0:
			return used, nil // a FIFO with no writer (tests); a device never reads 0
		}
		var evs []controllerEvent
		if d.evdev {
			evs, _ = decodeEvdevEvents(buf[:n-n%size], size)
		} else {
			evs, _ = decodeJSEvents(buf[:n-n%size])
		}
		if d.pres.input(evs) {
			used = true
		}
		if n < len(buf) {
			return used, nil
		}
	}
}

// inputAbsinfo is struct input_absinfo.
type inputAbsinfo struct {
	Value, Minimum, Maximum, Fuzz, Flat, Resolution int32
}

// evdevAxes reads each axis's position and range once, at open
// (EVIOCGABS); axes it cannot read count on every move.
func evdevAxes(fd int) func(int) (int32, int64, bool) {
	type axis struct {
		pos int32
		rng int64
	}
	axes := map[int]axis{}
	for code := 0; code <= absMax; code++ {
		var info inputAbsinfo
		// EVIOCGABS(abs) = _IOR('E', 0x40 + abs, struct input_absinfo)
		req := uintptr(2<<30 | uintptr(unsafe.Sizeof(info))<<16 | 'E'<<8 | uintptr(0x40+code))
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&info))); e != 0 {
			continue
		}
		axes[code] = axis{info.Value, int64(info.Maximum) - int64(info.Minimum)}
	}
	return func(code int) (int32, int64, bool) {
		a, ok := axes[code]
		return a.pos, a.rng, ok
	}
}

// Close closes the open devices.
func (c *Controllers) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.devs {
		unix.Close(d.fd)
	}
	c.devs, c.closed = nil, true
	return nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
