package proxy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestParseMeteringConfig: the "metering" object, its defaults and every
// out-of-range field named in the error.
func TestParseMeteringConfig(t *testing.T) {
	const base = `{"data_dir":"d","models":{"m":{"price_prompt":1,"price_completion":2}}`
	for _, tc := range []struct {
		name    string
		json    string // the metering object; "" → none
		want    MeteringConfig
		wantErr string
	}{
		{"absent: defaults", "", DefaultMeteringConfig(), ""},
		{"one directory", `{"ollama_models": "/models"}`, with(func(c *MeteringConfig) { c.OllamaModels = []string{"/models"} }), ""},
		{"a list", `{"ollama_models": ["/a", "/b"]}`, with(func(c *MeteringConfig) { c.OllamaModels = []string{"/a", "/b"} }), ""},
		{"every field", `{"default_max_tokens": 10, "max_bytes_per_token": 8, "max_job_bytes": 4096, "tolerance_tokens": 0, "tolerance_percent": 5}`,
			MeteringConfig{DefaultMaxTokens: 10, MaxBytesPerToken: 8, MaxJobBytes: 4096, ToleranceTokens: 0, TolerancePercent: 5}, ""},
		{"unknown field", `{"ollama_model": "/x"}`, MeteringConfig{}, "unknown field"},
		{"directory not a string", `{"ollama_models": 5}`, MeteringConfig{}, "directory"},
		{"empty directory", `{"ollama_models": [""]}`, MeteringConfig{}, "ollama_models[0] is empty"},
		{"zero default max_tokens", `{"default_max_tokens": 0}`, MeteringConfig{}, "default_max_tokens"},
		{"default max_tokens over the protocol's", `{"default_max_tokens": 2000000}`, MeteringConfig{}, "default_max_tokens"},
		{"zero bytes per token", `{"max_bytes_per_token": 0}`, MeteringConfig{}, "max_bytes_per_token"},
		{"job bytes over 1 GiB", `{"max_job_bytes": 2147483648}`, MeteringConfig{}, "max_job_bytes"},
		{"negative tolerance", `{"tolerance_tokens": -1}`, MeteringConfig{}, "tolerance_tokens"},
		{"tolerance over 1000 %", `{"tolerance_percent": 1001}`, MeteringConfig{}, "tolerance_percent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := base + "}"
			if tc.json != "" {
				js = base + `,"metering":` + tc.json + "}"
			}
			c, err := ParseConfig([]byte(js))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Metering, tc.want) {
				t.Errorf("metering %+v, want %+v", c.Metering, tc.want)
			}
		})
	}
}

func with(f func(*MeteringConfig)) MeteringConfig {
	c := DefaultMeteringConfig()
	f(&c)
	return c
}

// TestLoadConfigMeteringDirsRelative: a relative models directory is
// taken relative to the config file, like data_dir.
func TestLoadConfigMeteringDirsRelative(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.json")
	js := `{"data_dir":"d","models":{"m":{"price_prompt":1,"price_completion":2}},"metering":{"ollama_models":["models","/abs"]}}`
	if err := os.WriteFile(path, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "models"), "/abs"}; !reflect.DeepEqual(c.Metering.OllamaModels, want) {
		t.Errorf("ollama_models %v, want %v", c.Metering.OllamaModels, want)
	}
}

// TestBilledWithinTolerance: the billing rule on its own, at the edges.
func TestBilledWithinTolerance(t *testing.T) {
	p := &Proxy{cfg: Config{Metering: DefaultMeteringConfig()}}
	for _, tc := range []struct {
		name            string
		counted, tolera int64
	}{
		{"nothing counted", 0, DefaultToleranceTokens},
		{"short answer", 10, 10 + DefaultToleranceTokens},
		{"long answer: the percentage adds", 1000, 1000 + DefaultToleranceTokens + 1000*DefaultTolerancePercent/100},
		{"saturates", 1 << 62, 1<<62 + DefaultToleranceTokens + (1<<62)*DefaultTolerancePercent/100},
		{"saturates at the top", 1<<63 - 1, 1<<63 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.tolerated(tc.counted); got != tc.tolera {
				t.Errorf("tolerated(%d) = %d, want %d", tc.counted, got, tc.tolera)
			}
		})
	}
}
