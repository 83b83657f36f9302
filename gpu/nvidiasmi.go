package gpu

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// nvidia-smi is the fallback backend: it ships with every NVIDIA driver (in
// System32 on Windows) and needs neither cgo nor NVML bindings. It is slower
// than NVML (one process start per query, two per Snapshot) and cannot list
// graphics processes or the CUDA version, so NVML is preferred where it loads.

// smiGPUArgs and smiAppsArgs are the nvidia-smi queries. Compute apps carry
// the GPU's UUID first so each process is put on the right card; the
// process name sits between two fixed fields, so a Windows path with a comma
// in it is still read whole.
var (
	smiGPUArgs = []string{
		"--query-gpu=index,name,uuid,memory.total,memory.used,memory.free,temperature.gpu,utilization.gpu,power.draw,power.limit,driver_version",
		"--format=csv,noheader,nounits",
	}
	smiAppsArgs = []string{
		"--query-compute-apps=gpu_uuid,pid,process_name,used_memory",
		"--format=csv,noheader,nounits",
	}
)

// smiGPUFields is the number of columns smiGPUArgs asks for.
const smiGPUFields = 11

// smiTimeout bounds one nvidia-smi run (a hung driver makes it hang).
const smiTimeout = 10 * time.Second

// smiNum is a number nvidia-smi printed, or ok=false for "[N/A]",
// "[Not Supported]", "[Unknown Error]" and anything else that is not one.
type smiNum struct {
	v  float64
	ok bool
}

// smiGPU is one line of the --query-gpu output. Memory is in MiB, power in W.
type smiGPU struct {
	index                          int
	name, uuid, driver             string
	memTotal, memUsed, memFree     smiNum
	tempC, utilGPU, powerW, limitW smiNum
}

// smiApp is one line of the --query-compute-apps output.
type smiApp struct {
	gpuUUID string // "" when the query had no gpu_uuid column
	pid     uint32
	name    string // base name of process_name, "" when unknown
	memMiB  smiNum
}

// errSMIOutput is returned for output with no line in the expected format.
var errSMIOutput = errors.New("gpu: nvidia-smi output not understood")

// smiNoDevices is what nvidia-smi prints (exit code 6) when the driver sees no GPU.
const smiNoDevices = "No devices were found"

// parseSMINum reads one nvidia-smi value; "[N/A]" and the like are not ok.
func parseSMINum(s string) smiNum {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return smiNum{}
	}
	return smiNum{v: v, ok: true}
}

// smiText reads a text value; bracketed placeholders such as "[N/A]" and
// "[Insufficient Permissions]" become "".
func smiText(s string) string {
	s = strings.TrimSpace(s)
	if s == "N/A" || (strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")) {
		return ""
	}
	return s
}

// smiLines splits output into trimmed non-empty lines (CRLF on Windows; a
// lone CR ends a line too).
func smiLines(out string) []string {
	var lines []string
	for _, l := range strings.FieldsFunc(out, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// splitSMI splits a CSV line into trimmed fields (nvidia-smi never quotes).
func splitSMI(line string) []string {
	f := strings.Split(line, ",")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f
}

// parseNvidiaSMIGPUs parses the output of nvidia-smi with smiGPUArgs. Lines
// that are not GPU rows (warnings nvidia-smi prints on stdout) are skipped;
// output with text but no GPU row is an error, except "No devices were found".
// A name with commas in it is kept whole.
func parseNvidiaSMIGPUs(out string) ([]smiGPU, error) {
	gpus := []smiGPU{}
	lines := smiLines(out)
	for _, line := range lines {
		f := splitSMI(line)
		if len(f) < smiGPUFields {
			continue
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil || idx < 0 {
			continue
		}
		extra := len(f) - smiGPUFields // commas inside the name
		name := strings.Join(f[1:2+extra], ", ")
		r := f[2+extra:]
		gpus = append(gpus, smiGPU{
			index: idx, name: smiText(name), uuid: smiText(r[0]),
			memTotal: parseSMINum(r[1]), memUsed: parseSMINum(r[2]), memFree: parseSMINum(r[3]),
			tempC: parseSMINum(r[4]), utilGPU: parseSMINum(r[5]),
			powerW: parseSMINum(r[6]), limitW: parseSMINum(r[7]),
			driver: smiText(r[8]),
		})
	}
	if len(gpus) == 0 && len(lines) > 0 && !strings.Contains(out, smiNoDevices) {
		return gpus, errSMIOutput
	}
	return gpus, nil
}

// parseNvidiaSMIApps parses the output of nvidia-smi --query-compute-apps,
// either gpu_uuid,pid,process_name,used_memory (smiAppsArgs) or the shorter
// pid,process_name,used_memory. Lines that do not parse are skipped; "No
// running processes found" and empty output mean none.
func parseNvidiaSMIApps(out string) []smiApp {
	apps := []smiApp{}
	for _, line := range smiLines(out) {
		f := splitSMI(line)
		if len(f) < 3 {
			continue
		}
		var a smiApp
		rest := f
		if pid, err := strconv.ParseUint(f[0], 10, 32); err == nil {
			a.pid = uint32(pid) // no gpu_uuid column
		} else {
			if len(f) < 4 {
				continue
			}
			pid, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				continue
			}
			a.gpuUUID, a.pid = smiText(f[0]), uint32(pid)
			rest = f[1:]
		}
		a.name = baseName(smiText(strings.Join(rest[1:len(rest)-1], ", ")))
		a.memMiB = parseSMINum(rest[len(rest)-1])
		apps = append(apps, a)
	}
	return apps
}

// baseName is the last element of a Windows or Unix path.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// mibToBytes converts MiB; ok is false for values that do not fit.
func mibToBytes(n smiNum) (uint64, bool) {
	if !n.ok || n.v >= 1<<43 {
		return 0, false
	}
	return uint64(math.Round(n.v)) << 20, true
}

// wattsToMilli converts W to mW; ok is false for values that do not fit.
func wattsToMilli(n smiNum) (uint32, bool) {
	if !n.ok || n.v*1000 > math.MaxUint32 {
		return 0, false
	}
	return uint32(math.Round(n.v * 1000)), true
}

// smiUint32 converts a count, percent or °C value.
func smiUint32(n smiNum) (uint32, bool) {
	if !n.ok || n.v > math.MaxUint32 {
		return 0, false
	}
	return uint32(math.Round(n.v)), true
}

// smiRunner runs nvidia-smi with args and returns its standard output; a
// non-zero exit is an *exec.ExitError (with whatever was printed).
type smiRunner func(ctx context.Context, args ...string) ([]byte, error)

// execSMI runs the nvidia-smi found by findSMI, without a console window on
// Windows.
func execSMI(ctx context.Context, args ...string) ([]byte, error) {
	path, err := findSMI()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	hideWindow(cmd)
	return cmd.Output()
}

// findSMI looks for nvidia-smi on $PATH, then in the places the driver
// installs it (smiCandidates, per OS).
func findSMI() (string, error) {
	if p, err := exec.LookPath("nvidia-smi"); err == nil {
		return p, nil
	}
	for _, p := range smiCandidates() {
		if p, err := exec.LookPath(p); err == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// smiReturn turns the result of one nvidia-smi run into an NVML code.
// nvidia-smi's exit codes are NVML's (9 driver not loaded, 12 library not
// found, 15 GPU lost, ...), 255 is "other error"; "No devices were found"
// (exit 6) is a success with no GPU.
func smiReturn(out []byte, err error, ctxErr error) Return {
	if err == nil {
		return retSuccess
	}
	if ctxErr != nil {
		return retTimeout
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return retLibraryNotFound
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if strings.Contains(string(out), smiNoDevices) || strings.Contains(string(ee.Stderr), smiNoDevices) {
			return retSuccess
		}
		if c := ee.ExitCode(); c > 0 && c <= 30 {
			return Return(c)
		}
	}
	return retUnknown
}

// smiLib reads GPUs by running nvidia-smi. init runs the GPU query once
// (missing nvidia-smi is "library not found"); each deviceCount after the
// first runs it again, plus the compute-apps query.
type smiLib struct {
	run     smiRunner
	gpus    []smiGPU
	apps    []smiApp
	appsRet Return
	fresh   bool // gpus were read by init and not used yet
}

// newSMILib returns an nvidia-smi backend; a nil run means execSMI.
func newSMILib(run smiRunner) *smiLib {
	if run == nil {
		run = execSMI
	}
	return &smiLib{run: run}
}

func (l *smiLib) query(args []string) (string, Return) {
	ctx, cancel := context.WithTimeout(context.Background(), smiTimeout)
	defer cancel()
	out, err := l.run(ctx, args...)
	return string(out), smiReturn(out, err, ctx.Err())
}

func (l *smiLib) readGPUs() Return {
	out, ret := l.query(smiGPUArgs)
	if ret != retSuccess {
		return ret
	}
	gpus, err := parseNvidiaSMIGPUs(out)
	if err != nil {
		return retUnknown
	}
	l.gpus = gpus
	return retSuccess
}

func (l *smiLib) init() Return {
	l.gpus, l.apps, l.fresh = nil, nil, false
	if ret := l.readGPUs(); ret != retSuccess {
		return ret
	}
	l.fresh = true
	return retSuccess
}

func (l *smiLib) shutdown() Return { return retSuccess }

func (l *smiLib) driverVersion() (string, Return) {
	for _, g := range l.gpus {
		if g.driver != "" {
			return g.driver, retSuccess
		}
	}
	return "", retNotSupported
}

// cudaDriverVersion is not in nvidia-smi's query fields.
func (l *smiLib) cudaDriverVersion() (int, Return) { return 0, retNotSupported }

func (l *smiLib) confidentialCompute() bool { return false }

func (l *smiLib) deviceCount() (int, Return) {
	if !l.fresh {
		if ret := l.readGPUs(); ret != retSuccess {
			return 0, ret
		}
	}
	l.fresh = false
	l.apps = nil
	l.appsRet = retSuccess
	if len(l.gpus) > 0 {
		var out string
		out, l.appsRet = l.query(smiAppsArgs)
		if l.appsRet == retSuccess {
			l.apps = parseNvidiaSMIApps(out)
		}
	}
	return len(l.gpus), retSuccess
}

func (l *smiLib) deviceByIndex(i int) (device, Return) {
	if i < 0 || i >= len(l.gpus) {
		return nil, retInvalidArgument
	}
	d := smiDevice{g: l.gpus[i], appsRet: l.appsRet}
	for _, a := range l.apps {
		if a.gpuUUID == d.g.uuid || (a.gpuUUID == "" && i == 0) {
			d.apps = append(d.apps, a)
		}
	}
	return d, retSuccess
}

// smiDevice is one GPU row; a value nvidia-smi did not give is "not supported".
type smiDevice struct {
	g       smiGPU
	apps    []smiApp
	appsRet Return
}

func text(s string) (string, Return) {
	if s == "" {
		return "", retNotSupported
	}
	return s, retSuccess
}

func okRet(ok bool) Return {
	if ok {
		return retSuccess
	}
	return retNotSupported
}

func (d smiDevice) name() (string, Return) { return text(d.g.name) }
func (d smiDevice) uuid() (string, Return) { return text(d.g.uuid) }

func (d smiDevice) memoryInfo() (memInfo, Return) {
	t, ok1 := mibToBytes(d.g.memTotal)
	u, ok2 := mibToBytes(d.g.memUsed)
	f, ok3 := mibToBytes(d.g.memFree)
	if !ok1 || !ok2 || !ok3 {
		return memInfo{}, retNotSupported
	}
	return memInfo{total: t, used: u, free: f}, retSuccess
}

func (d smiDevice) temperature() (uint32, Return) {
	v, ok := smiUint32(d.g.tempC)
	return v, okRet(ok)
}

// utilization has no memory-controller figure (not queried): it is 0.
func (d smiDevice) utilization() (utilRates, Return) {
	v, ok := smiUint32(d.g.utilGPU)
	return utilRates{gpu: v}, okRet(ok)
}

func (d smiDevice) powerUsage() (uint32, Return) {
	v, ok := wattsToMilli(d.g.powerW)
	return v, okRet(ok)
}

func (d smiDevice) enforcedPowerLimit() (uint32, Return) {
	v, ok := wattsToMilli(d.g.limitW)
	return v, okRet(ok)
}

func (d smiDevice) powerManagementLimit() (uint32, Return) { return d.enforcedPowerLimit() }

func (d smiDevice) computeProcesses() ([]procInfo, Return) {
	if d.appsRet != retSuccess {
		return nil, d.appsRet
	}
	ps := make([]procInfo, 0, len(d.apps))
	for _, a := range d.apps {
		mem, ok := mibToBytes(a.memMiB)
		if !ok {
			mem = ^uint64(0) // NVML_VALUE_NOT_AVAILABLE, as under WDDM
		}
		ps = append(ps, procInfo{pid: a.pid, usedMem: mem, name: a.name})
	}
	return ps, retSuccess
}

// graphicsProcesses: nvidia-smi has no query for them.
func (d smiDevice) graphicsProcesses() ([]procInfo, Return) { return nil, retNotSupported }
