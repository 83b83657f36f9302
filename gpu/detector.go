package gpu

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DefaultInitRetry is how long a Detector waits after a failed nvml.Init
// before it tries nvml.Init again (so a driver installed later is picked up).
const DefaultInitRetry = 30 * time.Second

// Reasons shown to the owner when State is not StateOK.
const (
	ReasonNoDriver = "no NVIDIA driver found (libnvidia-ml is not installed)"
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
// errors.Is(err, nvml.ERROR_LIBRARY_NOT_FOUND) and errors.Is(err, ErrNoDriver)
// work on it.
type InitError struct {
	Code     nvml.Return // nvml.ERROR_LIBRARY_NOT_FOUND when Init panicked
	NoDriver bool        // the library could not be loaded
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
// default reads /proc/<pid>/comm on Linux and returns "" elsewhere.
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
	lib      nvml.Interface
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

// NewDetector returns a Detector over lib; a nil lib means the real NVML
// library (nvml.New()). Nothing is called until Init or Snapshot.
func NewDetector(lib nvml.Interface, opts ...Option) *Detector {
	if lib == nil {
		lib = nvml.New()
	}
	d := &Detector{
		lib:      lib,
		procName: procComm,
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
	if ret == nvml.SUCCESS {
		d.inited, d.failed, d.initErr = true, false, nil
		return nil
	}
	e := &InitError{Code: ret}
	switch {
	case panicked != nil:
		e.Code, e.NoDriver = nvml.ERROR_LIBRARY_NOT_FOUND, true
		e.msg = fmt.Sprintf("NVML panicked: %v", panicked)
	case ret == nvml.ERROR_LIBRARY_NOT_FOUND:
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
		if ret == nvml.ERROR_LIB_RM_VERSION_MISMATCH {
			reason += " (the driver was updated; restart the computer)"
		}
		d.failSnap = Snapshot{State: StateError, Reason: reason}
	}
	return e
}

// safeInit calls lib.Init and turns a panic (go-nvml may panic when
// libnvidia-ml cannot be loaded) into a value.
func safeInit(lib nvml.Interface) (ret nvml.Return, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			ret, panicked = nvml.ERROR_LIBRARY_NOT_FOUND, r
		}
	}()
	return lib.Init(), nil
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
	if ret := d.lib.Shutdown(); ret != nvml.SUCCESS {
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
	count, ret := d.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		s.State, s.Reason = StateError, "NVIDIA driver could not count GPUs: "+returnText(ret)
		return s
	}
	if count == 0 {
		s.State, s.Reason = StateNoDevice, ReasonNoDevice
		return s
	}
	var skipped []string
	for i := 0; i < count; i++ {
		h, ret := d.lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS || h == nil {
			if ret == nvml.SUCCESS {
				ret = nvml.ERROR_UNKNOWN
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
	if v, ret := d.lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		d.driver = v
	} else {
		ok = false
	}
	if v, ret := d.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		d.cuda = CUDAVersionString(v)
	} else {
		ok = false
	}
	// Confidential computing: any error (ERROR_NOT_SUPPORTED on consumer
	// cards, ERROR_FUNCTION_NOT_FOUND on old drivers) means "not available".
	cc := false
	if caps, ret := d.lib.SystemGetConfComputeCapabilities(); ret == nvml.SUCCESS &&
		caps.GpusCaps == nvml.CC_SYSTEM_GPUS_CC_CAPABLE {
		cc = true
	}
	if st, ret := d.lib.SystemGetConfComputeState(); ret == nvml.SUCCESS &&
		st.CcFeature == nvml.CC_SYSTEM_FEATURE_ENABLED {
		cc = true
	}
	d.confidCmp = cc
	d.sysRead = ok
}

// readDevice reads one device; a field that fails is left zero and noted.
func (d *Detector) readDevice(index int, h nvml.Device) Device {
	dev := Device{Index: index, Processes: []Process{}, ConfidentialCompute: d.confidCmp}
	note := func(field string, ret nvml.Return) {
		dev.Errors = append(dev.Errors, field+": "+returnText(ret))
	}
	if v, ret := h.GetName(); ret == nvml.SUCCESS {
		dev.Name = v
	} else {
		note("name", ret)
	}
	if v, ret := h.GetUUID(); ret == nvml.SUCCESS {
		dev.UUID = v
	} else {
		note("uuid", ret)
	}
	if m, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
		dev.MemoryTotal, dev.MemoryUsed, dev.MemoryFree = m.Total, m.Used, m.Free
	} else {
		note("memory", ret)
	}
	if v, ret := h.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
		dev.TemperatureC = int(v)
	} else {
		note("temperature", ret)
	}
	if u, ret := h.GetUtilizationRates(); ret == nvml.SUCCESS {
		dev.UtilizationGPU, dev.UtilizationMemory = int(u.Gpu), int(u.Memory)
	} else {
		note("utilization", ret)
	}
	if v, ret := h.GetPowerUsage(); ret == nvml.SUCCESS {
		dev.PowerW = float64(v) / 1000
	} else {
		note("power", ret)
	}
	if v, ret := h.GetEnforcedPowerLimit(); ret == nvml.SUCCESS {
		dev.PowerLimitW = float64(v) / 1000
	} else if v, ret2 := h.GetPowerManagementLimit(); ret2 == nvml.SUCCESS {
		dev.PowerLimitW = float64(v) / 1000
	} else {
		note("power limit", ret)
	}

	// Compute (CUDA, e.g. Ollama) and graphics (games) processes, by pid.
	seen := map[uint32]int{} // pid → index in dev.Processes
	add := func(infos []nvml.ProcessInfo) {
		for _, p := range infos {
			mem := p.UsedGpuMemory
			if mem == ^uint64(0) { // NVML_VALUE_NOT_AVAILABLE (e.g. under WDDM)
				mem = 0
			}
			if i, ok := seen[p.Pid]; ok {
				if mem > dev.Processes[i].MemoryUsed {
					dev.Processes[i].MemoryUsed = mem
				}
				continue
			}
			seen[p.Pid] = len(dev.Processes)
			dev.Processes = append(dev.Processes, Process{PID: p.Pid, Name: d.procName(p.Pid), MemoryUsed: mem})
		}
	}
	if ps, ret := h.GetComputeRunningProcesses(); ret == nvml.SUCCESS {
		add(ps)
	} else {
		note("compute processes", ret)
	}
	if ps, ret := h.GetGraphicsRunningProcesses(); ret == nvml.SUCCESS {
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
func returnText(r nvml.Return) string {
	switch r {
	case nvml.SUCCESS:
		return "Success"
	case nvml.ERROR_UNINITIALIZED:
		return "Uninitialized"
	case nvml.ERROR_INVALID_ARGUMENT:
		return "Invalid Argument"
	case nvml.ERROR_NOT_SUPPORTED:
		return "Not Supported"
	case nvml.ERROR_NO_PERMISSION:
		return "Insufficient Permissions"
	case nvml.ERROR_ALREADY_INITIALIZED:
		return "Already Initialized"
	case nvml.ERROR_NOT_FOUND:
		return "Not Found"
	case nvml.ERROR_INSUFFICIENT_SIZE:
		return "Insufficient Size"
	case nvml.ERROR_INSUFFICIENT_POWER:
		return "Insufficient External Power"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "Driver Not Loaded"
	case nvml.ERROR_TIMEOUT:
		return "Timeout"
	case nvml.ERROR_IRQ_ISSUE:
		return "Interrupt Request Issue"
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "NVML Shared Library Not Found"
	case nvml.ERROR_FUNCTION_NOT_FOUND:
		return "Function Not Found"
	case nvml.ERROR_CORRUPTED_INFOROM:
		return "Corrupted infoROM"
	case nvml.ERROR_GPU_IS_LOST:
		return "GPU is lost"
	case nvml.ERROR_RESET_REQUIRED:
		return "GPU requires reset"
	case nvml.ERROR_OPERATING_SYSTEM:
		return "The operating system has blocked the request"
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		return "Driver/library version mismatch"
	case nvml.ERROR_IN_USE:
		return "In use by another client"
	case nvml.ERROR_MEMORY:
		return "Insufficient Memory"
	case nvml.ERROR_NO_DATA:
		return "No data"
	case nvml.ERROR_INSUFFICIENT_RESOURCES:
		return "Insufficient Resources"
	case nvml.ERROR_NOT_READY:
		return "Not Ready"
	case nvml.ERROR_UNKNOWN:
		return "Unknown Error"
	}
	return "NVML error " + strconv.Itoa(int(r))
}

// procComm is the default process-name lookup: /proc/<pid>/comm on Linux.
func procComm(pid uint32) string {
	if runtime.GOOS != "linux" {
		return ""
	}
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
