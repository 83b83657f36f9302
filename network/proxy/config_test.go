package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const validConfig = `{
  "api_addr": "127.0.0.1:8080",
  "worker_addr": "0.0.0.0:8443",
  "data_dir": "/var/lib/cocoon-proxy",
  "models": {"llama3.2:1b": {"price_prompt": 20, "price_completion": 80}},
  "commission_bps": 1000,
  "api_keys": [
    {"key": "sk-test-0123456789abcdef", "name": "demo app", "rate_limit_per_min": 60},
    {"key_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "name": "hashed"}
  ],
  "admin_key": "admin-0123456789abcdef",
  "job_timeout": "120s",
  "heartbeat": "10s"
}`

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string // substring; "" means valid
		check   func(t *testing.T, c Config)
	}{
		{name: "full", json: validConfig, check: func(t *testing.T, c Config) {
			if c.CommissionBPS != 1000 || c.JobTimeout != 120*time.Second || c.Heartbeat != 10*time.Second {
				t.Errorf("got %+v", c)
			}
			if p := c.Models["llama3.2:1b"]; p.PricePrompt != 20 || p.PriceCompletion != 80 {
				t.Errorf("prices %+v", p)
			}
			if len(c.APIKeys) != 2 || c.APIKeys[0].RateLimitPerMin != 60 {
				t.Errorf("keys %+v", c.APIKeys)
			}
		}},
		{name: "defaults", json: `{"data_dir":"d","models":{"m":{"price_prompt":1,"price_completion":2}}}`, check: func(t *testing.T, c Config) {
			if c.APIAddr != DefaultAPIAddr || c.CommissionBPS != DefaultCommissionBPS || c.JobTimeout != DefaultJobTimeout ||
				c.Heartbeat != 10*time.Second || c.MaxBodyBytes != DefaultMaxBodyBytes {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{name: "explicit zero commission", json: `{"data_dir":"d","commission_bps":0,"models":{"m":{"price_prompt":1,"price_completion":2}}}`, check: func(t *testing.T, c Config) {
			if c.CommissionBPS != 0 {
				t.Errorf("commission %d", c.CommissionBPS)
			}
		}},
		{name: "not json", json: `{`, wantErr: "proxy config"},
		{name: "unknown field", json: `{"data_dir":"d","modles":{}}`, wantErr: "unknown field"},
		{name: "trailing data", json: `{"data_dir":"d","models":{"m":{}}} {}`, wantErr: "trailing"},
		{name: "no data dir", json: `{"models":{"m":{}}}`, wantErr: "data_dir"},
		{name: "no models", json: `{"data_dir":"d"}`, wantErr: "models"},
		{name: "negative price", json: `{"data_dir":"d","models":{"m":{"price_prompt":-1}}}`, wantErr: "negative"},
		{name: "price wrong type", json: `{"data_dir":"d","models":{"m":{"price_prompt":1.5}}}`, wantErr: "price_prompt"},
		{name: "commission over 100%", json: `{"data_dir":"d","commission_bps":10001,"models":{"m":{}}}`, wantErr: "commission_bps"},
		{name: "bad duration", json: `{"data_dir":"d","job_timeout":"soon","models":{"m":{}}}`, wantErr: "job_timeout"},
		{name: "zero timeout", json: `{"data_dir":"d","job_timeout":"0s","models":{"m":{}}}`, wantErr: "job_timeout"},
		{name: "tiny heartbeat", json: `{"data_dir":"d","heartbeat":"1ms","models":{"m":{}}}`, wantErr: "heartbeat"},
		{name: "bad addr", json: `{"data_dir":"d","api_addr":"localhost","models":{"m":{}}}`, wantErr: "api_addr"},
		{name: "bad port", json: `{"data_dir":"d","worker_addr":"127.0.0.1:99999","models":{"m":{}}}`, wantErr: "worker_addr"},
		{name: "key and digest", json: `{"data_dir":"d","models":{"m":{}},"api_keys":[{"key":"sk-0123456789abcdef","key_sha256":"00","name":"x"}]}`, wantErr: "not both"},
		{name: "short key", json: `{"data_dir":"d","models":{"m":{}},"api_keys":[{"key":"short","name":"x"}]}`, wantErr: "16..256"},
		{name: "bad digest", json: `{"data_dir":"d","models":{"m":{}},"api_keys":[{"key_sha256":"zz","name":"x"}]}`, wantErr: "64 hex"},
		{name: "no key name", json: `{"data_dir":"d","models":{"m":{}},"api_keys":[{"key":"sk-0123456789abcdef"}]}`, wantErr: "name"},
		{name: "duplicate key", json: `{"data_dir":"d","models":{"m":{}},"api_keys":[{"key":"sk-0123456789abcdef","name":"a"},{"key":"sk-0123456789abcdef","name":"b"}]}`, wantErr: "same key"},
		{name: "negative rate", json: `{"data_dir":"d","models":{"m":{}},"api_keys":[{"key":"sk-0123456789abcdef","name":"a","rate_limit_per_min":-1}]}`, wantErr: "rate_limit"},
		{name: "empty model name", json: `{"data_dir":"d","models":{"":{}}}`, wantErr: "model name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestLoadConfigRelativeDataDir(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.json")
	if err := os.WriteFile(path, []byte(`{"data_dir":"state","models":{"m":{"price_prompt":1,"price_completion":1}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "state") {
		t.Errorf("data_dir = %s", c.DataDir)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte(`{"data_dir":"d","models":{"m":{"price_prompt":1,"price_completion":2}}}`))
	f.Add([]byte(`{"data_dir":"d","commission_bps":10001,"models":{"m":{}}}`))
	f.Add([]byte(`{"data_dir":"d","job_timeout":"-5s","models":{"m":{}}}`))
	f.Add([]byte(`{"data_dir":"d","api_keys":[{"key_sha256":"zz","name":"x"}],"models":{"m":{}}}`))
	f.Add([]byte(`{"data_dir":"d","models":{"m":{}},"trust":{"hold_period":"1h","new_daily_cap":5,"quarantine_after":2,"trusted_workers":["8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"]}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		// Whatever parses must be valid and usable.
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
		}
		if c.DataDir == "" || len(c.Models) == 0 || c.CommissionBPS < 0 || c.CommissionBPS > 10000 || c.JobTimeout <= 0 {
			t.Fatalf("accepted an unusable config: %+v", c)
		}
	})
}
