package gpu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultInitRetry is how long a Detector waits after a failed nvml.Init
// before it tries nvml.Init again (so a driver installed later is picked up).
const DefaultInitRetry = 30 * time.Second

// Reasons shown to the owner when State is not StateOK. ReasonNoDriver is
// declared per platform: it names the library that was not found
// (libnvidia-ml on Linux, nvml.dll on Windows, nvidia-smi elsewhere).
const (
	ReasonNoDevice = "NVIDIA driver found, but no GPU"
	reasonClosed   = "GPU detector is closed"
)

// ErrNoDriver is matched (errors.Is) by the error Init returns when the
// NVML library cannot be loaded at all.
var ErrNoDriver = errors.New("no NVIDIA driver")

// ErrClosed is returned by Init after Close.
var ErrClosed = errors.New("gpu: detector is closed")

// InitError is the error Init returns when nvml.Init fails. Its message is
// captured when the failure happens, so printing it later never calls NVML.
// errors.Is(err, retLibraryNotFound) (Linux) and
// errors.Is(err, ErrNoDriver) (everywhere) work on it.
type InitError struct {
	Code     Return // NVML_ERROR_LIBRARY_NOT_FOUND (12) when Init panicked
	NoDriver bool   // the library could not be loaded
	msg      string
}

func (e *InitError) Error() string { return "gpu: nvml init: " + e.msg }

// Unwrap returns the NVML return code (itself an error).
func (e *InitError) Unwrap() error { return e.Code }

// Is reports ErrNoDriver for a library that could not be loaded.
func (e *InitError) Is(target error) bool { return target == ErrNoDriver && e.NoDriver }

// Option configures a Detector.
type Option func(*Detector)

// WithProcessName sets how a process id is turned into a program name. The
// default reads /proc/<pid>/comm on Linux and the process image name on
// Windows; where it returns "", a name the backend knows (nvidia-smi's
// process_name) is used.
func WithProcessName(lookup func(pid uint32) string) Option {
	return func(d *Detector) {
		if lookup != nil {
			d.procName = lookup
		}
	}
}

// WithClock sets the clock used for Snapshot.Time and the Init retry timer.
func WithClock(now func() time.Time) Option {
	return func(d *Detector) {
		if now != nil {
			d.now = now
		}
	}
}

// WithInitRetry sets how long to wait after a failed nvml.Init before calling
// nvml.Init again: 0 means DefaultInitRetry, a negative value never retries.
func WithInitRetry(interval time.Duration) Option {
	return func(d *Detector) {
		if interval == 0 {
			interval = DefaultInitRetry
		}
		d.retry = interval
	}
}

// Detector reads GPU identity and telemetry through NVML. It is safe for
// concurrent use; NVML calls are serialised by a mutex.
//
// A failed nvml.Init is terminal: after it, the Detector calls no NVML
// function but Init (at most once per retry interval), because calling a
// device function without an initialised library kills the process.
type Detector struct {
	lib      library
	procName func(pid uint32) string
	now      func() time.Time
	retry    time.Duration

	mu       sync.Mutex
	inited   bool      // nvml.Init succeeded and Shutdown was not called
	closed   bool      // Close was called
	failed   bool      // the last nvml.Init failed
	failedAt time.Time // when it failed
	initErr  *InitError
	failSnap Snapshot // returned while failed

	// System-wide facts, read once after Init succeeds.
	sysRead   bool
	driver    string
	cuda      string
	confidCmp bool
}

// NewDetector returns a Detector over lib; a nil lib means the platform's
// default backend (see NewDefaultDetector). On Linux with cgo, Library is
// go-nvml's nvml.Interface, so fakes from pkg/nvml/mock can be passed.
// Nothing is called until Init or Snapshot.
func NewDetector(lib Library, opts ...Option) *Detector {
	return newDetector(toLibrary(lib), opts...)
}

// NewDefaultDetector returns a Detector over the platform's default backend:
// go-nvml on Linux (with cgo), nvml.dll and then nvidia-smi on Windows, and
// nvidia-smi elsewhere. It is NewDetector(nil, opts...), spelled so that it
// reads the same on every OS.
func NewDefaultDetector(opts ...Option) *Detector {
	return newDetector(defaultLibrary(), opts...)
}

// NewSMIDetector returns a Detector that reads GPUs by running nvidia-smi
// (found on $PATH, or where the NVIDIA driver installs it on Windows). It
// works on any OS; use it where NVML cannot be loaded.
func NewSMIDetector(opts ...Option) *Detector {
	return newDetector(newSMILib(nil), opts...)
}

func newDetector(lib library, opts ...Option) *Detector {
	d := &Detector{
		lib:      lib,
		procName: defaultProcName,
		now:      time.Now,
		retry:    DefaultInitRetry,
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Init initialises NVML if that has not happened yet. After a failure it
// returns the same error without calling NVML until the retry interval has
// passed. It is called by Snapshot, so calling it is optional.
func (d *Detector) Init() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.initLocked()
}

func (d *Detector) initLocked() error {
	switch {
	case d.closed:
		return ErrClosed
	case d.inited:
		return nil
	case d.failed && (d.retry < 0 || d.now().Sub(d.failedAt) < d.retry):
		return d.initErr
	}
	ret, panicked := safeInit(d.lib)
	if ret == retSuccess {
		d.inited, d.failed, d.initErr = true, false, nil
		return nil
	}
	e := &InitError{Code: ret}
	switch {
	case panicked != nil:
		e.Code, e.NoDriver = retLibraryNotFound, true
		e.msg = fmt.Sprintf("NVML panicked: %v", panicked)
	case ret == retLibraryNotFound:
		e.NoDriver = true
		e.msg = returnText(ret)
	default:
		e.msg = returnText(ret)
	}
	d.failed, d.failedAt, d.initErr = true, d.now(), e
	if e.NoDriver {
		d.failSnap = Snapshot{State: StateNoDriver, Reason: ReasonNoDriver}
	} else {
		reason := "NVIDIA driver error: " + e.msg
		if ret == retLibRMVersionMismatch {
			reason += " (the driver was updated; restart the computer)"
		}
		d.failSnap = Snapshot{State: StateError, Reason: reason}
	}
	return e
}

// Close shuts NVML down if Init succeeded. Later Snapshots report StateError
// without calling NVML. Close is idempotent.
func (d *Detector) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if !d.inited {
		return nil
	}
	d.inited = false
	if ret := d.lib.shutdown(); ret != retSuccess {
		return fmt.Errorf("gpu: nvml shutdown: %w", ret)
	}
	return nil
}

// Snapshot reads every GPU now. It initialises NVML on first use. It never
// fails: problems are reported through State, Reason and Device.Errors.
func (d *Detector) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if err := d.initLocked(); err != nil {
		var s Snapshot
		if errors.Is(err, ErrClosed) {
			s = Snapshot{State: StateError, Reason: reasonClosed}
		} else {
			s = d.failSnap
		}
		s.Devices = []Device{}
		s.Time = now
		return s
	}
	return d.readLocked(now)
}

// readLocked reads system and device data; NVML is initialised.
func (d *Detector) readLocked(now time.Time) Snapshot {
	d.readSystemLocked()
	s := Snapshot{
		State:         StateOK,
		DriverVersion: d.driver,
		CUDAVersion:   d.cuda,
		Devices:       []Device{},
		Time:          now,
	}
	count, ret := d.lib.deviceCount()
	if ret != retSuccess {
		s.State, s.Reason = StateError, "NVIDIA driver could not count GPUs: "+returnText(ret)
		return s
	}
	if count == 0 {
		s.State, s.Reason = StateNoDevice, ReasonNoDevice
		return s
	}
	var skipped []string
	for i := 0; i < count; i++ {
		h, ret := d.lib.deviceByIndex(i)
		if ret != retSuccess || h == nil {
			if ret == retSuccess {
				ret = retUnknown
			}
			skipped = append(skipped, fmt.Sprintf("GPU %d: %s", i, returnText(ret)))
			continue
		}
		s.Devices = append(s.Devices, d.readDevice(i, h))
	}
	if len(skipped) > 0 {
		if len(s.Devices) == 0 {
			s.State = StateError
			s.Reason = "no usable GPU (" + strings.Join(skipped, "; ") + ")"
		} else {
			s.Reason = "skipped " + strings.Join(skipped, "; ")
		}
	}
	return s
}

// readSystemLocked reads the driver and CUDA versions and confidential
// computing support once; a value that fails is read again next time.
func (d *Detector) readSystemLocked() {
	if d.sysRead {
		return
	}
	ok := true
	if v, ret := d.lib.driverVersion(); ret == retSuccess {
		d.driver = v
	} else {
		ok = false
	}
	if v, ret := d.lib.cudaDriverVersion(); ret == retSuccess {
		d.cuda = CUDAVersionString(v)
	} else {
		ok = false
	}
	// Confidential computing: any error (ERROR_NOT_SUPPORTED on consumer
	// cards, ERROR_FUNCTION_NOT_FOUND on old drivers) means "not available".
	d.confidCmp = d.lib.confidentialCompute()
	d.sysRead = ok
}

// readDevice reads one device; a field that fails is left zero and noted.
func (d *Detector) readDevice(index int, h device) Device {
	dev := Device{Index: index, Processes: []Process{}, ConfidentialCompute: d.confidCmp}
	note := func(field string, ret Return) {
		dev.Errors = append(dev.Errors, field+": "+returnText(ret))
	}
	if v, ret := h.name(); ret == retSuccess {
		dev.Name = v
	} else {
		note("name", ret)
	}
	if v, ret := h.uuid(); ret == retSuccess {
		dev.UUID = v
	} else {
		note("uuid", ret)
	}
	if m, ret := h.memoryInfo(); ret == retSuccess {
		dev.MemoryTotal, dev.MemoryUsed, dev.MemoryFree = m.total, m.used, m.free
	} else {
		note("memory", ret)
	}
	if v, ret := h.temperature(); ret == retSuccess {
		dev.TemperatureC = int(v)
	} else {
		note("temperature", ret)
	}
	if u, ret := h.utilization(); ret == retSuccess {
		dev.UtilizationGPU, dev.UtilizationMemory = int(u.gpu), int(u.memory)
	} else {
		note("utilization", ret)
	}
	if v, ret := h.powerUsage(); ret == retSuccess {
		dev.PowerW = float64(v) / 1000
	} else {
		note("power", ret)
	}
	if v, ret := h.enforcedPowerLimit(); ret == retSuccess {
		dev.PowerLimitW = float64(v) / 1000
	} else if v, ret2 := h.powerManagementLimit(); ret2 == retSuccess {
		dev.PowerLimitW = float64(v) / 1000
	} else {
		note("power limit", ret)
	}

	// Compute (CUDA, e.g. Ollama) and graphics (games) processes, by pid.
	seen := map[uint32]int{} // pid → index in dev.Processes
	add := func(infos []procInfo) {
		for _, p := range infos {
			mem := p.usedMem
			if mem == ^uint64(0) { // NVML_VALUE_NOT_AVAILABLE (e.g. under WDDM)
				mem = 0
			}
			if i, ok := seen[p.pid]; ok {
				if mem > dev.Processes[i].MemoryUsed {
					dev.Processes[i].MemoryUsed = mem
				}
				continue
			}
			name := d.procName(p.pid)
			if name == "" {
				name = p.name
			}
			seen[p.pid] = len(dev.Processes)
			dev.Processes = append(dev.Processes, Process{PID: p.pid, Name: name, MemoryUsed: mem})
		}
	}
	if ps, ret := h.computeProcesses(); ret == retSuccess {
		add(ps)
	} else {
		note("compute processes", ret)
	}
	if ps, ret := h.graphicsProcesses(); ret == retSuccess {
		add(ps)
	} else {
		note("graphics processes", ret)
	}
	return dev
}

// CUDAVersionString turns NVML's CUDA driver version (e.g. 12040) into "12.4".
func CUDAVersionString(v int) string {
	if v <= 0 {
		return ""
	}
	return strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
}

// returnText is NVML's message for a return code, written out here so that
// turning a code into text never calls into the library (the default
// go-nvml strings are constant names such as "ERROR_NOT_SUPPORTED").
func returnText(r Return) string {
	switch r {
	case retSuccess:
		return "Success"
	case retUninitialized:
		return "Uninitialized"
	case retInvalidArgument:
		return "Invalid Argument"
	case retNotSupported:
		return "Not Supported"
	case retNoPermission:
		return "Insufficient Permissions"
	case retAlreadyInitialized:
		return "Already Initialized"
	case retNotFound:
		return "Not Found"
	case retInsufficientSize:
		return "Insufficient Size"
	case retInsufficientPower:
		return "Insufficient External Power"
	case retDriverNotLoaded:
		return "Driver Not Loaded"
	case retTimeout:
		return "Timeout"
	case retIRQIssue:
		return "Interrupt Request Issue"
	case retLibraryNotFound:
		return "NVML Shared Library Not Found"
	case retFunctionNotFound:
		return "Function Not Found"
	case retCorruptedInforom:
		return "Corrupted infoROM"
	case retGPUIsLost:
		return "GPU is lost"
	case retResetRequired:
		return "GPU requires reset"
	case retOperatingSystem:
		return "The operating system has blocked the request"
	case retLibRMVersionMismatch:
		return "Driver/library version mismatch"
	case retInUse:
		return "In use by another client"
	case retMemory:
		return "Insufficient Memory"
	case retNoData:
		return "No data"
	case retInsufficientResources:
		return "Insufficient Resources"
	case retNotReady:
		return "Not Ready"
	case retUnknown:
		return "Unknown Error"
	}
	return "NVML error " + strconv.Itoa(int(r))
}
