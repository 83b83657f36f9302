package gpu

import (
	"testing"
)

// stubLib is a library whose init returns ret (or panics) and counts calls.
type stubLib struct {
	ret   Return
	panic bool
	inits int
	shuts int
	count int
}

func (s *stubLib) init() Return {
	s.inits++
	if s.panic {
		panic("cannot load")
	}
	return s.ret
}
func (s *stubLib) shutdown() Return                   { s.shuts++; return retSuccess }
func (s *stubLib) driverVersion() (string, Return)    { return "1.0", retSuccess }
func (s *stubLib) cudaDriverVersion() (int, Return)   { return 12040, retSuccess }
func (s *stubLib) confidentialCompute() bool          { return false }
func (s *stubLib) deviceCount() (int, Return)         { return s.count, retSuccess }
func (s *stubLib) deviceByIndex(int) (device, Return) { return nil, retGPUIsLost }

func TestFirstLib(t *testing.T) {
	tests := []struct {
		name      string
		libs      []*stubLib
		want      Return
		wantUsed  int // index of the library in use, -1 for none
		wantInits []int
	}{
		{"first works", []*stubLib{{ret: retSuccess}, {ret: retSuccess}}, retSuccess, 0, []int{1, 0}},
		{"dll missing, smi works", []*stubLib{{ret: retLibraryNotFound}, {ret: retSuccess}}, retSuccess, 1, []int{1, 1}},
		{"dll panics, smi works", []*stubLib{{panic: true}, {ret: retSuccess}}, retSuccess, 1, []int{1, 1}},
		{"init function missing, smi works", []*stubLib{{ret: retFunctionNotFound}, {ret: retSuccess}}, retSuccess, 1, []int{1, 1}},
		{"driver error is not hidden", []*stubLib{{ret: retDriverNotLoaded}, {ret: retSuccess}}, retDriverNotLoaded, -1, []int{1, 0}},
		{"both missing: first code", []*stubLib{{ret: retLibraryNotFound}, {ret: retLibraryNotFound}}, retLibraryNotFound, -1, []int{1, 1}},
		{"dll missing, smi says driver not loaded", []*stubLib{{ret: retLibraryNotFound}, {ret: retDriverNotLoaded}}, retDriverNotLoaded, -1, []int{1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &firstLib{}
			for _, l := range tc.libs {
				f.libs = append(f.libs, l)
			}
			if got := f.init(); got != tc.want {
				t.Errorf("init = %d, want %d", got, tc.want)
			}
			for i, l := range tc.libs {
				if l.inits != tc.wantInits[i] {
					t.Errorf("lib %d: %d inits, want %d", i, l.inits, tc.wantInits[i])
				}
			}
			if tc.wantUsed < 0 {
				if f.cur != nil {
					t.Error("a library is in use after a failed init")
				}
				if f.shutdown() != retUninitialized {
					t.Error("shutdown without init should be Uninitialized")
				}
				return
			}
			if f.cur != library(tc.libs[tc.wantUsed]) {
				t.Errorf("library in use is not %d", tc.wantUsed)
			}
			f.shutdown()
			if tc.libs[tc.wantUsed].shuts != 1 {
				t.Error("shutdown not passed on")
			}
		})
	}
}

func TestDetectorOverFirstLib(t *testing.T) {
	dll, smi := &stubLib{ret: retLibraryNotFound}, &stubLib{ret: retSuccess, count: 1}
	d := newDetector(&firstLib{libs: []library{dll, smi}})
	s := d.Snapshot()
	if s.State != StateError || s.Reason != "no usable GPU (GPU 0: GPU is lost)" || s.DriverVersion != "1.0" || s.CUDAVersion != "12.4" {
		t.Errorf("snapshot = %+v", s)
	}
	d.Close()
	if smi.shuts != 1 || dll.shuts != 0 {
		t.Errorf("shutdowns: dll %d, smi %d", dll.shuts, smi.shuts)
	}

	// Both missing: no driver, and nothing but init is called.
	a, b := &stubLib{ret: retLibraryNotFound}, &stubLib{ret: retLibraryNotFound}
	d = newDetector(&firstLib{libs: []library{a, b}}, WithInitRetry(-1))
	for i := 0; i < 3; i++ {
		if s := d.Snapshot(); s.State != StateNoDriver || s.Reason != ReasonNoDriver {
			t.Errorf("snapshot = %+v", s)
		}
	}
	if a.inits != 1 || b.inits != 1 {
		t.Errorf("inits = %d, %d; want 1, 1 (no retry)", a.inits, b.inits)
	}
}

func TestNewDefaultDetector(t *testing.T) {
	// Whatever this machine has, a default detector answers without
	// crashing; without a driver it reports no_driver.
	d := NewDefaultDetector(WithInitRetry(-1))
	s := d.Snapshot()
	t.Logf("default detector: %s: %s", s.State, s.Summary())
	if s.State == "" {
		t.Error("empty state")
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}
