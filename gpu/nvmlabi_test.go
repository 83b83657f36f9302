package gpu

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestRetFromCall(t *testing.T) {
	dirty := uint64(0xdeadbeef_00000007) // garbage in RAX's upper half; truncated on 32-bit
	tests := []struct {
		r1   uintptr
		want Return
	}{
		{0, retSuccess},
		{12, retLibraryNotFound},
		{999, retUnknown},
		{uintptr(dirty), retInsufficientSize},
		{^uintptr(0), Return(-1)},
	}
	for _, tc := range tests {
		if got := retFromCall(tc.r1); got != tc.want {
			t.Errorf("retFromCall(%#x) = %d, want %d", tc.r1, got, tc.want)
		}
	}
}

func TestCString(t *testing.T) {
	buf := make([]byte, nvmlDeviceNameV2BufferSize)
	copy(buf, "NVIDIA GeForce RTX 4090\x00garbage")
	if got := cString(buf); got != "NVIDIA GeForce RTX 4090" {
		t.Errorf("cString = %q", got)
	}
	if got := cString([]byte("no terminator")); got != "no terminator" {
		t.Errorf("cString = %q", got)
	}
	if got := cString(nil); got != "" {
		t.Errorf("cString(nil) = %q", got)
	}
}

func TestDecodeMemoryAndUtilization(t *testing.T) {
	le := binary.LittleEndian
	b := make([]byte, sizeofMemory)
	le.PutUint64(b[0:], 24*gib)
	le.PutUint64(b[8:], 21*gib)
	le.PutUint64(b[16:], 3*gib)
	if got, want := decodeMemory(b), (memInfo{total: 24 * gib, free: 21 * gib, used: 3 * gib}); got != want {
		t.Errorf("decodeMemory = %+v, want %+v", got, want)
	}
	u := make([]byte, sizeofUtilization)
	le.PutUint32(u[0:], 87)
	le.PutUint32(u[4:], 40)
	if got, want := decodeUtilization(u), (utilRates{gpu: 87, memory: 40}); got != want {
		t.Errorf("decodeUtilization = %+v, want %+v", got, want)
	}
}

func TestDecodeProcessInfos(t *testing.T) {
	le := binary.LittleEndian
	b := make([]byte, 3*sizeofProcessInfo)
	put := func(i int, pid uint32, mem uint64) {
		r := b[i*sizeofProcessInfo:]
		le.PutUint32(r[0:], pid)
		le.PutUint32(r[4:], 0xaaaaaaaa) // padding: must be ignored
		le.PutUint64(r[8:], mem)
		le.PutUint32(r[16:], 0xffffffff) // gpuInstanceId: not MIG
		le.PutUint32(r[20:], 0xffffffff)
	}
	put(0, 100, 2*gib)
	put(1, 200, ^uint64(0)) // NVML_VALUE_NOT_AVAILABLE under WDDM
	put(2, 300, 0)
	want := []procInfo{{pid: 100, usedMem: 2 * gib}, {pid: 200, usedMem: ^uint64(0)}, {pid: 300}}
	if got := decodeProcessInfos(b, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("decodeProcessInfos = %+v, want %+v", got, want)
	}
	if got := decodeProcessInfos(b, 2); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("n=2: %+v", got)
	}
	if got := decodeProcessInfos(b, 10); len(got) != 3 {
		t.Errorf("n beyond the buffer: %d records, want 3", len(got))
	}
	if got := decodeProcessInfos(b, -1); len(got) != 0 {
		t.Errorf("n=-1: %d records", len(got))
	}
}
