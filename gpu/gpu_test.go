//go:build linux && cgo

package gpu

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// fakeGPU describes one mocked device.
type fakeGPU struct {
	name, uuid          string
	total, used         uint64
	temp                uint32
	tempRet             nvml.Return
	util                nvml.Utilization
	powerMW, limitMW    uint32
	powerRet, limitRet  nvml.Return
	mgmtLimitMW         uint32
	mgmtLimitRet        nvml.Return
	compute, graphics   []nvml.ProcessInfo
	graphicsRet         nvml.Return
	handleRet           nvml.Return // DeviceGetHandleByIndex result
	nameRet, memInfoRet nvml.Return
}

// fakeSystem describes the whole mocked NVML.
type fakeSystem struct {
	initRet   nvml.Return
	initPanic bool
	driver    string
	cuda      int
	countRet  nvml.Return
	gpus      []fakeGPU
	ccCaps    *nvml.ConfComputeSystemCaps  // nil: ERROR_NOT_SUPPORTED
	ccState   *nvml.ConfComputeSystemState // nil: ERROR_FUNCTION_NOT_FOUND
}

// trap records calls to NVML functions a test did not expect.
type trap struct {
	mu    sync.Mutex
	calls []string
}

func (tr *trap) names() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.calls...)
}

// arm fills every nil ...Func field of a mock struct (pointer) with a function
// that records the call and returns zero values. Mocks leave unset functions
// nil (which panics), so after arm any call the test did not set up is
// recorded by name instead, and the test can assert that there was none.
func (tr *trap) arm(mockPtr any, prefix string) {
	v := reflect.ValueOf(mockPtr).Elem()
	typ := v.Type()
	for i := 0; i < v.NumField(); i++ {
		f, sf := v.Field(i), typ.Field(i)
		if !sf.IsExported() || f.Kind() != reflect.Func || !strings.HasSuffix(sf.Name, "Func") || !f.IsNil() {
			continue
		}
		name := prefix + strings.TrimSuffix(sf.Name, "Func")
		ft := f.Type()
		f.Set(reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
			tr.mu.Lock()
			tr.calls = append(tr.calls, name)
			tr.mu.Unlock()
			out := make([]reflect.Value, ft.NumOut())
			for j := range out {
				out[j] = reflect.Zero(ft.Out(j))
				if ft.Out(j) == reflect.TypeOf(nvml.SUCCESS) {
					out[j] = reflect.ValueOf(nvml.ERROR_UNKNOWN)
				}
			}
			return out
		}))
	}
}

func retOr(r, def nvml.Return) nvml.Return {
	if r != nvml.SUCCESS {
		return r
	}
	return def
}

func newFakeDevice(g fakeGPU, tr *trap, prefix string) *mock.Device {
	d := &mock.Device{
		GetNameFunc: func() (string, nvml.Return) {
			if g.nameRet != nvml.SUCCESS {
				return "", g.nameRet
			}
			return g.name, nvml.SUCCESS
		},
		GetUUIDFunc: func() (string, nvml.Return) { return g.uuid, nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			if g.memInfoRet != nvml.SUCCESS {
				return nvml.Memory{}, g.memInfoRet
			}
			return nvml.Memory{Total: g.total, Used: g.used, Free: g.total - g.used}, nvml.SUCCESS
		},
		GetTemperatureFunc: func(s nvml.TemperatureSensors) (uint32, nvml.Return) {
			if s != nvml.TEMPERATURE_GPU {
				return 0, nvml.ERROR_INVALID_ARGUMENT
			}
			return g.temp, g.tempRet
		},
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) { return g.util, nvml.SUCCESS },
		GetPowerUsageFunc:       func() (uint32, nvml.Return) { return g.powerMW, g.powerRet },
		GetEnforcedPowerLimitFunc: func() (uint32, nvml.Return) {
			return g.limitMW, g.limitRet
		},
		GetPowerManagementLimitFunc: func() (uint32, nvml.Return) {
			return g.mgmtLimitMW, retOr(g.mgmtLimitRet, nvml.SUCCESS)
		},
		GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
			return g.compute, nvml.SUCCESS
		},
		GetGraphicsRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
			return g.graphics, g.graphicsRet
		},
	}
	tr.arm(d, prefix)
	return d
}

// newFakeLib builds a mock NVML from sys; every function it does not set up
// is trapped by tr.
func newFakeLib(sys fakeSystem, tr *trap) *mock.Interface {
	devs := make([]*mock.Device, len(sys.gpus))
	for i, g := range sys.gpus {
		devs[i] = newFakeDevice(g, tr, "Device.")
	}
	m := &mock.Interface{
		InitFunc: func() nvml.Return {
			if sys.initPanic {
				panic("libnvidia-ml.so.1: cannot open shared object file")
			}
			return sys.initRet
		},
	}
	if sys.initRet == nvml.SUCCESS && !sys.initPanic {
		m.ShutdownFunc = func() nvml.Return { return nvml.SUCCESS }
		m.SystemGetDriverVersionFunc = func() (string, nvml.Return) { return sys.driver, nvml.SUCCESS }
		m.SystemGetCudaDriverVersionFunc = func() (int, nvml.Return) { return sys.cuda, nvml.SUCCESS }
		m.SystemGetConfComputeCapabilitiesFunc = func() (nvml.ConfComputeSystemCaps, nvml.Return) {
			if sys.ccCaps == nil {
				return nvml.ConfComputeSystemCaps{}, nvml.ERROR_NOT_SUPPORTED
			}
			return *sys.ccCaps, nvml.SUCCESS
		}
		m.SystemGetConfComputeStateFunc = func() (nvml.ConfComputeSystemState, nvml.Return) {
			if sys.ccState == nil {
				return nvml.ConfComputeSystemState{}, nvml.ERROR_FUNCTION_NOT_FOUND
			}
			return *sys.ccState, nvml.SUCCESS
		}
		m.DeviceGetCountFunc = func() (int, nvml.Return) { return len(sys.gpus), sys.countRet }
		m.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(devs) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			if r := sys.gpus[i].handleRet; r != nvml.SUCCESS {
				return nil, r
			}
			return devs[i], nvml.SUCCESS
		}
	}
	tr.arm(m, "")
	return m
}

var procNames = map[uint32]string{100: "ollama", 200: "steam_game", 300: "Xorg"}

func lookupName(pid uint32) string { return procNames[pid] }

func rtx4090() fakeGPU {
	return fakeGPU{
		name: "NVIDIA GeForce RTX 4090", uuid: "GPU-4090",
		total: 24 * gib, used: 3 * gib,
		temp: 61, util: nvml.Utilization{Gpu: 87, Memory: 40},
		powerMW: 350_000, limitMW: 450_000,
		compute: []nvml.ProcessInfo{{Pid: 100, UsedGpuMemory: 2 * gib}},
		graphics: []nvml.ProcessInfo{
			{Pid: 200, UsedGpuMemory: 512 << 20},
			{Pid: 100, UsedGpuMemory: ^uint64(0)}, // same pid again, memory not available
			{Pid: 300, UsedGpuMemory: ^uint64(0)},
		},
	}
}

func rtx4060() fakeGPU {
	return fakeGPU{
		name: "NVIDIA GeForce RTX 4060", uuid: "GPU-4060",
		total: 8 * gib, used: 1 * gib, temp: 45,
		powerMW: 20_000, limitMW: 115_000,
	}
}

func TestDetectorSnapshot(t *testing.T) {
	noDevFuncs := func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
		t.Helper()
		if calls := tr.names(); len(calls) != 0 {
			t.Errorf("NVML called after failed Init: %v", calls)
		}
		if len(s.Devices) != 0 {
			t.Errorf("devices = %v, want none", s.Devices)
		}
	}
	tests := []struct {
		name       string
		sys        fakeSystem
		wantState  State
		wantReason string // exact, when set
		check      func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface)
	}{
		{
			name:      "rtx 4090 with a game and ollama",
			sys:       fakeSystem{driver: "550.54.14", cuda: 12040, gpus: []fakeGPU{rtx4090()}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				if s.DriverVersion != "550.54.14" || s.CUDAVersion != "12.4" {
					t.Errorf("versions = %q, %q", s.DriverVersion, s.CUDAVersion)
				}
				if len(s.Devices) != 1 {
					t.Fatalf("devices = %d, want 1", len(s.Devices))
				}
				want := Device{
					Index: 0, Name: "NVIDIA GeForce RTX 4090", UUID: "GPU-4090",
					MemoryTotal: 24 * gib, MemoryUsed: 3 * gib, MemoryFree: 21 * gib,
					TemperatureC: 61, UtilizationGPU: 87, UtilizationMemory: 40,
					PowerW: 350, PowerLimitW: 450,
					Processes: []Process{
						{PID: 100, Name: "ollama", MemoryUsed: 2 * gib},
						{PID: 200, Name: "steam_game", MemoryUsed: 512 << 20},
						{PID: 300, Name: "Xorg", MemoryUsed: 0},
					},
				}
				if !reflect.DeepEqual(s.Devices[0], want) {
					t.Errorf("device =\n%+v\nwant\n%+v", s.Devices[0], want)
				}
				if got, want := s.Summary(), "NVIDIA GeForce RTX 4090 · 24.0 GB VRAM (21.0 GB free) · driver 550.54.14 · CUDA 12.4"; got != want {
					t.Errorf("Summary = %q, want %q", got, want)
				}
				if free, ok := s.FreeVRAM(); !ok || free != 21*gib {
					t.Errorf("FreeVRAM = %d, %v", free, ok)
				}
				if p, ok := s.Primary(); !ok || p.UUID != "GPU-4090" {
					t.Errorf("Primary = %v, %v", p.UUID, ok)
				}
				if calls := tr.names(); len(calls) != 0 {
					t.Errorf("unexpected NVML calls: %v", calls)
				}
			},
		},
		{
			name:      "two cards",
			sys:       fakeSystem{driver: "550.54.14", cuda: 12020, gpus: []fakeGPU{rtx4060(), rtx4090()}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				if len(s.Devices) != 2 {
					t.Fatalf("devices = %d, want 2", len(s.Devices))
				}
				if s.Devices[0].Index != 0 || s.Devices[1].Index != 1 || s.Devices[0].Name != "NVIDIA GeForce RTX 4060" {
					t.Errorf("device order/index wrong: %+v", s.Devices)
				}
				if p, ok := s.Primary(); !ok || p.Name != "NVIDIA GeForce RTX 4090" || p.Index != 1 {
					t.Errorf("Primary = %+v, %v; want the 4090", p, ok)
				}
				if free, ok := s.FreeVRAM(); !ok || free != 21*gib {
					t.Errorf("FreeVRAM = %d, %v; want 21 GiB", free, ok)
				}
				if got := s.Summary(); !strings.HasPrefix(got, "2 GPUs: NVIDIA GeForce RTX 4060 (8.0 GB, 7.0 GB free), NVIDIA GeForce RTX 4090 (24.0 GB, 21.0 GB free) · driver") || !strings.HasSuffix(got, "CUDA 12.2") {
					t.Errorf("Summary = %q", got)
				}
				if len(s.Devices[1].Processes) != 3 || len(s.Devices[0].Processes) != 0 {
					t.Errorf("processes = %v / %v", s.Devices[0].Processes, s.Devices[1].Processes)
				}
			},
		},
		{
			name:       "no driver",
			sys:        fakeSystem{initRet: nvml.ERROR_LIBRARY_NOT_FOUND},
			wantState:  StateNoDriver,
			wantReason: "no NVIDIA driver found (libnvidia-ml is not installed)",
			check:      noDevFuncs,
		},
		{
			name:       "init panics (library missing)",
			sys:        fakeSystem{initPanic: true},
			wantState:  StateNoDriver,
			wantReason: ReasonNoDriver,
			check:      noDevFuncs,
		},
		{
			name:       "driver installed but not loaded",
			sys:        fakeSystem{initRet: nvml.ERROR_DRIVER_NOT_LOADED},
			wantState:  StateError,
			wantReason: "NVIDIA driver error: Driver Not Loaded",
			check:      noDevFuncs,
		},
		{
			name:       "driver but zero devices",
			sys:        fakeSystem{driver: "550.54.14", cuda: 12040},
			wantState:  StateNoDevice,
			wantReason: "NVIDIA driver found, but no GPU",
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				if len(m.DeviceGetHandleByIndexCalls()) != 0 {
					t.Error("DeviceGetHandleByIndex called with zero devices")
				}
				if got := s.Summary(); got != ReasonNoDevice {
					t.Errorf("Summary = %q", got)
				}
				if _, ok := s.FreeVRAM(); ok {
					t.Error("FreeVRAM ok with no device")
				}
				if _, ok := s.Primary(); ok {
					t.Error("Primary ok with no device")
				}
			},
		},
		{
			name:       "device count fails",
			sys:        fakeSystem{countRet: nvml.ERROR_UNKNOWN, gpus: []fakeGPU{rtx4090()}},
			wantState:  StateError,
			wantReason: "NVIDIA driver could not count GPUs: Unknown Error",
		},
		{
			name: "power not supported and temperature unknown",
			sys: fakeSystem{driver: "550.54.14", cuda: 12040, gpus: []fakeGPU{func() fakeGPU {
				g := rtx4090()
				g.powerRet, g.powerMW = nvml.ERROR_NOT_SUPPORTED, 999
				g.tempRet, g.temp = nvml.ERROR_UNKNOWN, 99
				return g
			}()}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				d := s.Devices[0]
				if d.PowerW != 0 || d.TemperatureC != 0 {
					t.Errorf("power %v temp %v, want 0 for failed fields", d.PowerW, d.TemperatureC)
				}
				if d.PowerLimitW != 450 || d.MemoryTotal != 24*gib || d.Name == "" {
					t.Errorf("other fields lost: %+v", d)
				}
				want := []string{"temperature: Unknown Error", "power: Not Supported"}
				if !reflect.DeepEqual(d.Errors, want) {
					t.Errorf("Errors = %q, want %q", d.Errors, want)
				}
			},
		},
		{
			name: "enforced limit unsupported falls back to management limit; graphics unsupported",
			sys: fakeSystem{gpus: []fakeGPU{func() fakeGPU {
				g := rtx4060()
				g.limitRet, g.mgmtLimitMW = nvml.ERROR_NOT_SUPPORTED, 100_000
				g.graphicsRet = nvml.ERROR_NOT_SUPPORTED
				return g
			}()}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				d := s.Devices[0]
				if d.PowerLimitW != 100 {
					t.Errorf("PowerLimitW = %v, want 100", d.PowerLimitW)
				}
				if want := []string{"graphics processes: Not Supported"}; !reflect.DeepEqual(d.Errors, want) {
					t.Errorf("Errors = %q, want %q", d.Errors, want)
				}
			},
		},
		{
			name: "both power limits and name and memory fail",
			sys: fakeSystem{gpus: []fakeGPU{func() fakeGPU {
				g := rtx4060()
				g.limitRet, g.mgmtLimitRet = nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_NOT_SUPPORTED
				g.nameRet, g.memInfoRet = nvml.ERROR_GPU_IS_LOST, nvml.ERROR_NO_PERMISSION
				return g
			}()}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				d := s.Devices[0]
				want := []string{"name: GPU is lost", "memory: Insufficient Permissions", "power limit: Not Supported"}
				if !reflect.DeepEqual(d.Errors, want) {
					t.Errorf("Errors = %q, want %q", d.Errors, want)
				}
				if got := s.Summary(); !strings.HasPrefix(got, "GPU 0 · 0.0 GB VRAM") {
					t.Errorf("Summary = %q", got)
				}
			},
		},
		{
			name: "one handle fails, the other is kept",
			sys: fakeSystem{gpus: []fakeGPU{func() fakeGPU {
				g := rtx4060()
				g.handleRet = nvml.ERROR_NO_PERMISSION
				return g
			}(), rtx4090()}},
			wantState:  StateOK,
			wantReason: "skipped GPU 0: Insufficient Permissions",
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				if len(s.Devices) != 1 || s.Devices[0].Index != 1 {
					t.Errorf("devices = %+v, want only index 1", s.Devices)
				}
				if !strings.HasSuffix(s.Summary(), " · skipped GPU 0: Insufficient Permissions") {
					t.Errorf("Summary = %q", s.Summary())
				}
			},
		},
		{
			name: "no handle usable",
			sys: fakeSystem{gpus: []fakeGPU{func() fakeGPU {
				g := rtx4090()
				g.handleRet = nvml.ERROR_GPU_IS_LOST
				return g
			}()}},
			wantState:  StateError,
			wantReason: "no usable GPU (GPU 0: GPU is lost)",
		},
		{
			name: "confidential computing capable",
			sys: fakeSystem{driver: "550.90.07", cuda: 12040, gpus: []fakeGPU{{name: "NVIDIA H100 80GB HBM3", total: 80 * gib}},
				ccCaps: &nvml.ConfComputeSystemCaps{CpuCaps: nvml.CC_SYSTEM_CPU_CAPS_INTEL_TDX, GpusCaps: nvml.CC_SYSTEM_GPUS_CC_CAPABLE}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				if !s.Devices[0].ConfidentialCompute {
					t.Error("ConfidentialCompute = false, want true")
				}
			},
		},
		{
			name: "confidential computing enabled (state)",
			sys: fakeSystem{gpus: []fakeGPU{{name: "NVIDIA H100", total: 80 * gib}},
				ccCaps:  &nvml.ConfComputeSystemCaps{GpusCaps: nvml.CC_SYSTEM_GPUS_CC_NOT_CAPABLE},
				ccState: &nvml.ConfComputeSystemState{CcFeature: nvml.CC_SYSTEM_FEATURE_ENABLED}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				if !s.Devices[0].ConfidentialCompute {
					t.Error("ConfidentialCompute = false, want true")
				}
			},
		},
		{
			name: "confidential computing reported but not capable",
			sys: fakeSystem{gpus: []fakeGPU{rtx4090()},
				ccCaps:  &nvml.ConfComputeSystemCaps{GpusCaps: nvml.CC_SYSTEM_GPUS_CC_NOT_CAPABLE},
				ccState: &nvml.ConfComputeSystemState{CcFeature: nvml.CC_SYSTEM_FEATURE_DISABLED}},
			wantState: StateOK,
			check: func(t *testing.T, s Snapshot, tr *trap, m *mock.Interface) {
				if s.Devices[0].ConfidentialCompute {
					t.Error("ConfidentialCompute = true, want false")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trap{}
			m := newFakeLib(tc.sys, tr)
			clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			d := NewDetector(m, WithProcessName(lookupName), WithClock(func() time.Time { return clock }))
			s := d.Snapshot()
			if s.State != tc.wantState {
				t.Errorf("State = %q (%s), want %q", s.State, s.Reason, tc.wantState)
			}
			if tc.wantReason != "" && s.Reason != tc.wantReason {
				t.Errorf("Reason = %q, want %q", s.Reason, tc.wantReason)
			}
			if tc.wantState == StateOK && tc.wantReason == "" && s.Reason != "" {
				t.Errorf("Reason = %q, want none", s.Reason)
			}
			if !s.Time.Equal(clock) {
				t.Errorf("Time = %v, want %v", s.Time, clock)
			}
			if s.Devices == nil {
				t.Error("Devices is nil; want an empty slice (JSON [])")
			}
			if tc.wantState != StateOK && s.Summary() != s.Reason {
				t.Errorf("Summary = %q, want the Reason %q", s.Summary(), s.Reason)
			}
			if tc.check != nil {
				tc.check(t, s, tr, m)
			}
			if got := len(m.InitCalls()); got != 1 {
				t.Errorf("Init called %d times, want 1", got)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			wantShutdown := 0
			if tc.sys.initRet == nvml.SUCCESS && !tc.sys.initPanic {
				wantShutdown = 1
			}
			if got := len(m.ShutdownCalls()); got != wantShutdown {
				t.Errorf("Shutdown called %d times, want %d", got, wantShutdown)
			}
		})
	}
}

// TestFailedInitIsTerminal proves that after a failed Init the Detector calls
// no NVML function other than Init, however often it is asked, and retries
// Init only once per retry interval.
func TestFailedInitIsTerminal(t *testing.T) {
	tests := []struct {
		name      string
		sys       fakeSystem
		retry     time.Duration
		wantState State
		wantInits []int // Init call count after each step; the clock moves 10 s a step
	}{
		{name: "no driver, default 30s retry", sys: fakeSystem{initRet: nvml.ERROR_LIBRARY_NOT_FOUND},
			wantState: StateNoDriver, wantInits: []int{1, 1, 1, 2, 2, 2, 3}},
		{name: "init panics, default retry", sys: fakeSystem{initPanic: true},
			wantState: StateNoDriver, wantInits: []int{1, 1, 1, 2}},
		{name: "driver error, never retry", sys: fakeSystem{initRet: nvml.ERROR_LIB_RM_VERSION_MISMATCH}, retry: -1,
			wantState: StateError, wantInits: []int{1, 1, 1, 1, 1, 1}},
		{name: "no driver, 10s retry", sys: fakeSystem{initRet: nvml.ERROR_LIBRARY_NOT_FOUND}, retry: 10 * time.Second,
			wantState: StateNoDriver, wantInits: []int{1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trap{}
			m := newFakeLib(tc.sys, tr)
			clock := time.Unix(1_700_000_000, 0)
			opts := []Option{WithClock(func() time.Time { return clock }), WithProcessName(func(uint32) string {
				t.Error("process-name lookup called without a device")
				return ""
			})}
			if tc.retry != 0 {
				opts = append(opts, WithInitRetry(tc.retry))
			}
			d := NewDetector(m, opts...)
			var first Snapshot
			for step, want := range tc.wantInits {
				s := d.Snapshot()
				if step == 0 {
					first = s
				}
				if s.State != tc.wantState || s.Reason != first.Reason || len(s.Devices) != 0 {
					t.Errorf("step %d: snapshot %+v, want the same failed snapshot %+v", step, s, first)
				}
				if !s.Time.Equal(clock) {
					t.Errorf("step %d: Time = %v, want %v", step, s.Time, clock)
				}
				if got := len(m.InitCalls()); got != want {
					t.Errorf("step %d: Init called %d times, want %d", step, got, want)
				}
				clock = clock.Add(10 * time.Second)
			}
			err := d.Init()
			if err == nil {
				t.Fatal("Init() = nil after a failed init")
			}
			if !strings.HasPrefix(err.Error(), "gpu: nvml init: ") {
				t.Errorf("Init() error %q lacks the prefix", err)
			}
			if tc.wantState == StateNoDriver {
				if !errors.Is(err, ErrNoDriver) || !errors.Is(err, nvml.ERROR_LIBRARY_NOT_FOUND) {
					t.Errorf("Init() = %v, want ErrNoDriver and ERROR_LIBRARY_NOT_FOUND", err)
				}
			} else if errors.Is(err, ErrNoDriver) || !errors.Is(err, tc.sys.initRet) {
				t.Errorf("Init() = %v, want %v and not ErrNoDriver", err, tc.sys.initRet)
			}
			var ie *InitError
			if !errors.As(err, &ie) {
				t.Errorf("Init() error is %T, want *InitError", err)
			}
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if s := d.Snapshot(); s.State != StateError || s.Reason != reasonClosed {
				t.Errorf("after Close: %+v", s)
			}
			if calls := tr.names(); len(calls) != 0 {
				t.Errorf("NVML functions called after a failed Init: %v", calls)
			}
			if n := len(m.ShutdownCalls()); n != 0 {
				t.Errorf("Shutdown called %d times after a failed Init", n)
			}
		})
	}
}

// TestDriverInstalledLater: Init fails, then succeeds on the retry.
func TestDriverInstalledLater(t *testing.T) {
	tr := &trap{}
	m := newFakeLib(fakeSystem{driver: "550.54.14", cuda: 12040, gpus: []fakeGPU{rtx4090()}}, tr)
	installed := false
	m.InitFunc = func() nvml.Return {
		if !installed {
			return nvml.ERROR_LIBRARY_NOT_FOUND
		}
		return nvml.SUCCESS
	}
	clock := time.Unix(0, 0)
	d := NewDetector(m, WithClock(func() time.Time { return clock }), WithProcessName(lookupName))
	if s := d.Snapshot(); s.State != StateNoDriver {
		t.Fatalf("State = %q, want no_driver", s.State)
	}
	if n := len(m.DeviceGetCountCalls()) + len(m.SystemGetDriverVersionCalls()); n != 0 {
		t.Fatalf("%d NVML calls after failed Init", n)
	}
	installed = true
	clock = clock.Add(29 * time.Second)
	if s := d.Snapshot(); s.State != StateNoDriver {
		t.Fatalf("State = %q before the retry interval, want no_driver", s.State)
	}
	clock = clock.Add(time.Second)
	s := d.Snapshot()
	if s.State != StateOK || len(s.Devices) != 1 {
		t.Fatalf("after retry: %+v", s)
	}
	if got := len(m.InitCalls()); got != 2 {
		t.Errorf("Init called %d times, want 2", got)
	}
	d.Snapshot()
	if got := len(m.InitCalls()); got != 2 {
		t.Errorf("Init called again after success: %d", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(m.ShutdownCalls()); got != 1 {
		t.Errorf("Shutdown called %d times, want 1", got)
	}
	if calls := tr.names(); len(calls) != 0 {
		t.Errorf("unexpected NVML calls: %v", calls)
	}
}

func TestCloseReportsShutdownError(t *testing.T) {
	tr := &trap{}
	m := newFakeLib(fakeSystem{}, tr)
	m.ShutdownFunc = func() nvml.Return { return nvml.ERROR_UNKNOWN }
	d := NewDetector(m)
	if err := d.Init(); err != nil {
		t.Fatal(err)
	}
	err := d.Close()
	if !errors.Is(err, nvml.ERROR_UNKNOWN) || !strings.HasPrefix(err.Error(), "gpu: nvml shutdown: ") {
		t.Errorf("Close() = %v", err)
	}
}

// TestSystemInfoReadOnce: versions and CC support are read once, not per sample.
func TestSystemInfoReadOnce(t *testing.T) {
	tr := &trap{}
	m := newFakeLib(fakeSystem{driver: "550.54.14", cuda: 12040, gpus: []fakeGPU{rtx4060()}}, tr)
	d := NewDetector(m)
	for i := 0; i < 5; i++ {
		if s := d.Snapshot(); s.DriverVersion != "550.54.14" || s.CUDAVersion != "12.4" {
			t.Fatalf("versions = %q %q", s.DriverVersion, s.CUDAVersion)
		}
	}
	if n := len(m.SystemGetDriverVersionCalls()); n != 1 {
		t.Errorf("SystemGetDriverVersion called %d times, want 1", n)
	}
	if n := len(m.DeviceGetCountCalls()); n != 5 {
		t.Errorf("DeviceGetCount called %d times, want 5", n)
	}
}

func TestConcurrentSnapshots(t *testing.T) {
	tr := &trap{}
	m := newFakeLib(fakeSystem{gpus: []fakeGPU{rtx4090(), rtx4060()}}, tr)
	d := NewDetector(m, WithProcessName(lookupName))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if s := d.Snapshot(); s.State != StateOK || len(s.Devices) != 2 {
					t.Errorf("snapshot: %+v", s)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := len(m.InitCalls()); got != 1 {
		t.Errorf("Init called %d times, want 1", got)
	}
	_ = d.Close()
}

func TestCUDAVersionString(t *testing.T) {
	tests := []struct {
		name string
		in   int
		want string
	}{
		{"12.4", 12040, "12.4"},
		{"12.2", 12020, "12.2"},
		{"11.8", 11080, "11.8"},
		{"13.0", 13000, "13.0"},
		{"unknown", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CUDAVersionString(tc.in); got != tc.want {
				t.Errorf("CUDAVersionString(%d) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSummaryWithoutDevices(t *testing.T) {
	tests := []struct {
		name string
		s    Snapshot
		want string
	}{
		{"not sampled yet", Snapshot{}, "GPU not checked yet"},
		{"no driver without reason", Snapshot{State: StateNoDriver}, ReasonNoDriver},
		{"no device without reason", Snapshot{State: StateNoDevice}, ReasonNoDevice},
		{"error with reason", Snapshot{State: StateError, Reason: "NVIDIA driver error: Timeout"}, "NVIDIA driver error: Timeout"},
		{"error without reason", Snapshot{State: StateError}, "GPU error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Summary(); got != tc.want {
				t.Errorf("Summary = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaultProcessName(t *testing.T) {
	if _, err := os.Stat("/proc/self/comm"); err != nil {
		testx.SkipOrFail(t, "/proc", err.Error())
	}
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := procComm(uint32(os.Getpid())), strings.TrimSpace(string(b)); got != want || got == "" {
		t.Errorf("procComm(self) = %q, want %q", got, want)
	}
	if got := procComm(0); got != "" {
		t.Errorf("procComm(0) = %q, want empty", got)
	}
}

func TestSampler(t *testing.T) {
	tr := &trap{}
	m := newFakeLib(fakeSystem{gpus: []fakeGPU{rtx4090()}}, tr)
	d := NewDetector(m, WithProcessName(lookupName))
	defer d.Close()

	got := make(chan Snapshot, 100)
	s := NewSampler(d, 10*time.Millisecond, func(snap Snapshot) {
		select {
		case got <- snap:
		default:
		}
	})
	if l := s.Latest(); l.State != "" {
		t.Errorf("Latest before Run = %+v, want zero", l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	deadline := time.After(10 * time.Second)
	for n := 0; n < 2; n++ {
		select {
		case snap := <-got:
			if snap.State != StateOK {
				t.Errorf("published %+v", snap)
			}
		case <-deadline:
			t.Fatalf("received %d snapshots before the deadline, want ≥ 2", n)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil on cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if l := s.Latest(); l.State != StateOK || len(l.Devices) != 1 {
		t.Errorf("Latest = %+v", l)
	}
}

func TestSamplerDefaults(t *testing.T) {
	s := NewSampler(NewDetector(&mock.Interface{}), 0, nil)
	if s.interval != DefaultSampleInterval {
		t.Errorf("interval = %v, want %v", s.interval, DefaultSampleInterval)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil { // cancelled: returns at once, calls nothing (Init is nil and would panic)
		t.Errorf("Run = %v", err)
	}
}

// TestRealLibrary runs the real go-nvml on this machine. Without an NVIDIA
// driver, Init fails and the Detector must report no_driver and leave the
// process alive (a device call after a failed Init would exit it with 127).
func TestRealLibrary(t *testing.T) {
	d := NewDetector(nil, WithInitRetry(time.Nanosecond)) // retry every call: Init only
	var s Snapshot
	for i := 0; i < 3; i++ {
		s = d.Snapshot()
		time.Sleep(time.Millisecond)
	}
	t.Logf("real NVML: %s: %s", s.State, s.Summary())
	switch s.State {
	case StateNoDriver:
		if s.Reason != ReasonNoDriver {
			t.Errorf("Reason = %q", s.Reason)
		}
		if err := d.Init(); !errors.Is(err, ErrNoDriver) {
			t.Errorf("Init() = %v, want ErrNoDriver", err)
		}
	case StateOK, StateNoDevice, StateError:
		t.Logf("this machine has an NVIDIA driver; snapshot: %+v", s)
	default:
		t.Errorf("State = %q", s.State)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// Still here: the process survived.
}
