package gpu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Output of nvidia-smi with smiGPUArgs, as printed by real drivers
// (Windows 551.86 on an RTX 4090; Linux 550.54.14 with two cards).
const (
	smiWindows4090 = "0, NVIDIA GeForce RTX 4090, GPU-2b3c4d5e-0000-1111-2222-333344445555, 24564, 1534, 22698, 42, 3, 30.55, 450.00, 551.86\r\n"
	smiLinuxTwo    = "0, NVIDIA GeForce RTX 4060, GPU-4060, 8188, 1024, 7164, 45, 0, 20.12, 115.00, 550.54.14\n" +
		"1, NVIDIA GeForce RTX 4090, GPU-4090, 24564, 3072, 21492, 61, 87, 350.00, 450.00, 550.54.14\n"
	smiLaptopNA = "0, NVIDIA GeForce RTX 3050 Laptop GPU, GPU-3050, 4096, 0, 3962, 40, [N/A], [N/A], [Not Supported], 537.13\n"
)

func num(v float64) smiNum { return smiNum{v: v, ok: true} }

func TestParseNvidiaSMIGPUs(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    []smiGPU
		wantErr bool
	}{
		{name: "windows rtx 4090, CRLF", out: smiWindows4090, want: []smiGPU{{
			index: 0, name: "NVIDIA GeForce RTX 4090", uuid: "GPU-2b3c4d5e-0000-1111-2222-333344445555", driver: "551.86",
			memTotal: num(24564), memUsed: num(1534), memFree: num(22698), tempC: num(42), utilGPU: num(3),
			powerW: num(30.55), limitW: num(450),
		}}},
		{name: "two cards", out: smiLinuxTwo, want: []smiGPU{
			{index: 0, name: "NVIDIA GeForce RTX 4060", uuid: "GPU-4060", driver: "550.54.14",
				memTotal: num(8188), memUsed: num(1024), memFree: num(7164), tempC: num(45), utilGPU: num(0), powerW: num(20.12), limitW: num(115)},
			{index: 1, name: "NVIDIA GeForce RTX 4090", uuid: "GPU-4090", driver: "550.54.14",
				memTotal: num(24564), memUsed: num(3072), memFree: num(21492), tempC: num(61), utilGPU: num(87), powerW: num(350), limitW: num(450)},
		}},
		{name: "laptop: N/A and Not Supported", out: smiLaptopNA, want: []smiGPU{{
			index: 0, name: "NVIDIA GeForce RTX 3050 Laptop GPU", uuid: "GPU-3050", driver: "537.13",
			memTotal: num(4096), memUsed: num(0), memFree: num(3962), tempC: num(40),
		}}},
		{name: "comma in the name", out: "0, NVIDIA Foo, Bar Edition, GPU-x, 1, 2, 3, 4, 5, 6, 7, 1.0\n", want: []smiGPU{{
			index: 0, name: "NVIDIA Foo, Bar Edition", uuid: "GPU-x", driver: "1.0",
			memTotal: num(1), memUsed: num(2), memFree: num(3), tempC: num(4), utilGPU: num(5), powerW: num(6), limitW: num(7),
		}}},
		{name: "warning line skipped", out: "WARNING: infoROM is corrupted at gpu 0000:01:00.0\n" + smiLinuxTwo[:strings.Index(smiLinuxTwo, "\n")+1],
			want: []smiGPU{{index: 0, name: "NVIDIA GeForce RTX 4060", uuid: "GPU-4060", driver: "550.54.14",
				memTotal: num(8188), memUsed: num(1024), memFree: num(7164), tempC: num(45), utilGPU: num(0), powerW: num(20.12), limitW: num(115)}}},
		{name: "no devices", out: "No devices were found\n", want: []smiGPU{}},
		{name: "empty", out: "", want: []smiGPU{}},
		{name: "driver not loaded text", out: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n",
			want: []smiGPU{}, wantErr: true},
		{name: "too few fields", out: "0, NVIDIA, GPU-1, 1, 2\n", want: []smiGPU{}, wantErr: true},
		{name: "negative index", out: "-1, A, GPU-1, 1, 2, 3, 4, 5, 6, 7, 8\n", want: []smiGPU{}, wantErr: true},
		{name: "bad numbers are not ok", out: "0, A, GPU-1, -5, NaN, Inf, 1e999, x, 6, 7, 8\n", want: []smiGPU{{
			index: 0, name: "A", uuid: "GPU-1", driver: "8", powerW: num(6), limitW: num(7)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseNvidiaSMIGPUs(tc.out)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestParseNvidiaSMIApps(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want []smiApp
	}{
		{name: "windows under WDDM", out: "GPU-4090, 4242, C:\\Users\\me\\AppData\\Local\\Programs\\Ollama\\ollama.exe, [N/A]\r\n" +
			"GPU-4090, 777, C:\\Program Files (x86)\\Steam\\steamapps\\common\\Foo, Bar\\game.exe, 1536\r\n",
			want: []smiApp{
				{gpuUUID: "GPU-4090", pid: 4242, name: "ollama.exe"},
				{gpuUUID: "GPU-4090", pid: 777, name: "game.exe", memMiB: num(1536)},
			}},
		{name: "linux", out: "GPU-4060, 100, /usr/local/bin/ollama, 2048\n", want: []smiApp{{gpuUUID: "GPU-4060", pid: 100, name: "ollama", memMiB: num(2048)}}},
		{name: "without gpu_uuid", out: "100, ollama, 2048\n", want: []smiApp{{pid: 100, name: "ollama", memMiB: num(2048)}}},
		{name: "insufficient permissions", out: "GPU-1, 5, [Insufficient Permissions], [N/A]\n", want: []smiApp{{gpuUUID: "GPU-1", pid: 5}}},
		{name: "none", out: "No running processes found\n", want: []smiApp{}},
		{name: "empty", out: "\r\n", want: []smiApp{}},
		{name: "bad pid", out: "GPU-1, x, a, 1\nGPU-1, 99999999999, a, 1\n", want: []smiApp{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseNvidiaSMIApps(tc.out); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestSMIConversions(t *testing.T) {
	if b, ok := mibToBytes(num(24564)); !ok || b != 24564<<20 {
		t.Errorf("mibToBytes = %d, %v", b, ok)
	}
	if _, ok := mibToBytes(num(1 << 44)); ok {
		t.Error("mibToBytes accepted an overflowing value")
	}
	if mw, ok := wattsToMilli(num(30.55)); !ok || mw != 30550 {
		t.Errorf("wattsToMilli(30.55) = %d, %v", mw, ok)
	}
	if _, ok := wattsToMilli(num(5e6)); ok {
		t.Error("wattsToMilli accepted an overflowing value")
	}
	if _, ok := smiUint32(smiNum{}); ok {
		t.Error("smiUint32 accepted a missing value")
	}
}

// FuzzParseNvidiaSMI: the parsers never panic, and what they return is sane.
func FuzzParseNvidiaSMI(f *testing.F) {
	for _, s := range []string{smiWindows4090, smiLinuxTwo, smiLaptopNA, "No devices were found", "",
		"0, a, b, c, d, e, f, g, h, i, j, k, l", "GPU-1, 5, x, 1", "1,2,3", ",,,,,,,,,,,,", "\x00, \xff,\n,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		gpus, err := parseNvidiaSMIGPUs(out)
		if gpus == nil {
			t.Fatal("nil GPU slice")
		}
		if err != nil && len(gpus) != 0 {
			t.Fatalf("error %v with %d GPUs", err, len(gpus))
		}
		for _, g := range gpus {
			if g.index < 0 {
				t.Fatalf("negative index %d", g.index)
			}
			for _, n := range []smiNum{g.memTotal, g.memUsed, g.memFree, g.tempC, g.utilGPU, g.powerW, g.limitW} {
				if n.ok && (n.v < 0 || n.v != n.v) {
					t.Fatalf("bad number %v", n.v)
				}
			}
			if g.name != strings.TrimSpace(g.name) || strings.ContainsAny(g.name, "\r\n") {
				t.Fatalf("untrimmed name %q", g.name)
			}
			d := smiDevice{g: g}
			d.memoryInfo()
			d.powerUsage()
			d.temperature()
		}
		for _, a := range parseNvidiaSMIApps(out) {
			if strings.ContainsAny(a.name, `/\`) {
				t.Fatalf("name %q is not a base name", a.name)
			}
		}
	})
}

// fakeSMI answers nvidia-smi queries from canned output.
type fakeSMI struct {
	gpus, apps string
	err        error
	calls      []string
}

func (f *fakeSMI) run(_ context.Context, args ...string) ([]byte, error) {
	f.calls = append(f.calls, args[0])
	if f.err != nil {
		return nil, f.err
	}
	if strings.HasPrefix(args[0], "--query-gpu=") {
		return []byte(f.gpus), nil
	}
	return []byte(f.apps), nil
}

func TestSMIDetector(t *testing.T) {
	f := &fakeSMI{gpus: smiLinuxTwo, apps: "GPU-4090, 100, /usr/bin/ollama, 2048\nGPU-4090, 200, C:\\Games\\game.exe, [N/A]\n"}
	names := map[uint32]string{100: "ollama-runner"} // the lookup wins; 200 falls back to nvidia-smi's name
	d := newDetector(newSMILib(f.run), WithProcessName(func(pid uint32) string { return names[pid] }))
	s := d.Snapshot()
	if s.State != StateOK || s.DriverVersion != "550.54.14" || s.CUDAVersion != "" || len(s.Devices) != 2 {
		t.Fatalf("snapshot = %+v", s)
	}
	want := Device{
		Index: 1, Name: "NVIDIA GeForce RTX 4090", UUID: "GPU-4090",
		MemoryTotal: 24564 << 20, MemoryUsed: 3072 << 20, MemoryFree: 21492 << 20,
		TemperatureC: 61, UtilizationGPU: 87, PowerW: 350, PowerLimitW: 450,
		Processes: []Process{{PID: 100, Name: "ollama-runner", MemoryUsed: 2048 << 20}, {PID: 200, Name: "game.exe"}},
		Errors:    []string{"graphics processes: Not Supported"},
	}
	if !reflect.DeepEqual(s.Devices[1], want) {
		t.Errorf("device 1 =\n%+v\nwant\n%+v", s.Devices[1], want)
	}
	if len(s.Devices[0].Processes) != 0 {
		t.Errorf("device 0 processes = %+v, want none", s.Devices[0].Processes)
	}
	// init's query is reused by the first snapshot; later ones query again.
	if want := []string{smiGPUArgs[0], smiAppsArgs[0]}; !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls = %q, want %q", f.calls, want)
	}
	f.calls = nil
	d.Snapshot()
	if len(f.calls) != 2 {
		t.Errorf("second snapshot ran %d queries, want 2", len(f.calls))
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

func TestSMIDetectorStates(t *testing.T) {
	notFound := &fakeSMI{err: exec.ErrNotFound}
	d := newDetector(newSMILib(notFound.run))
	if s := d.Snapshot(); s.State != StateNoDriver || s.Reason != ReasonNoDriver {
		t.Errorf("missing nvidia-smi: %+v", s)
	}
	if err := d.Init(); !errors.Is(err, ErrNoDriver) {
		t.Errorf("Init = %v, want ErrNoDriver", err)
	}
	none := &fakeSMI{gpus: "No devices were found\n"}
	if s := newDetector(newSMILib(none.run)).Snapshot(); s.State != StateNoDevice {
		t.Errorf("no devices: %+v", s)
	}
	// A failing compute-apps query is noted on the device, nothing else lost.
	appsFail := &fakeSMI{gpus: smiWindows4090}
	lib := newSMILib(func(ctx context.Context, args ...string) ([]byte, error) {
		if strings.HasPrefix(args[0], "--query-compute-apps") {
			return nil, errors.New("boom")
		}
		return appsFail.run(ctx, args...)
	})
	s := newDetector(lib).Snapshot()
	if s.State != StateOK || len(s.Devices) != 1 || s.Devices[0].MemoryTotal != 24564<<20 ||
		!reflect.DeepEqual(s.Devices[0].Errors, []string{"compute processes: Unknown Error", "graphics processes: Not Supported"}) {
		t.Errorf("apps query failing: %+v", s)
	}
}

// TestSMIReturnRealExec runs stand-ins for nvidia-smi that print what the
// real one prints and exit with its exit codes.
func TestSMIReturnRealExec(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs /bin/sh")
	}
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, body string
		want       Return
	}{
		{"ok", "printf '" + strings.ReplaceAll(smiLinuxTwo, "\n", "\\n") + "'", retSuccess},
		{"no devices", "echo 'No devices were found'; exit 6", retSuccess},
		{"driver not loaded", "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"; exit 9", retDriverNotLoaded},
		{"gpu lost", "exit 15", retGPUIsLost},
		{"other", "exit 255", retUnknown},
	}
	for _, tc := range tests {
		p := script(strings.ReplaceAll(tc.name, " ", "_"), tc.body)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, p).Output()
		if got := smiReturn(out, err, ctx.Err()); got != tc.want {
			t.Errorf("%s: smiReturn = %d (%v), want %d", tc.name, got, err, tc.want)
		}
		cancel()
	}
	if got := smiReturn(nil, exec.ErrNotFound, nil); got != retLibraryNotFound {
		t.Errorf("not found: %d", got)
	}
	// The whole backend through a fake nvidia-smi first on $PATH.
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	fake := "case \"$1\" in --query-gpu=*) printf '" + strings.ReplaceAll(smiWindows4090, "\r\n", "\\r\\n") + "';; *) echo 'GPU-2b3c4d5e-0000-1111-2222-333344445555, 4242, ollama, 100';; esac"
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte("#!/bin/sh\n"+fake+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	s := NewSMIDetector(WithProcessName(func(uint32) string { return "" })).Snapshot()
	if s.State != StateOK || len(s.Devices) != 1 || s.DriverVersion != "551.86" ||
		len(s.Devices[0].Processes) != 1 || s.Devices[0].Processes[0].Name != "ollama" {
		t.Errorf("fake nvidia-smi on PATH: %+v", s)
	}
	t.Log(s.Summary())
}
