package cli

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// TestSavedNetworkAndTheFlag: a network joined in the app (settings.json
// "network") is the one a launch serves, in the window and headless, with
// the local network kept as the way back; --network wins over it and fixes
// the network for that run.
func TestSavedNetworkAndTheFlag(t *testing.T) {
	key := strings.Repeat("ab", 32)
	saved := worker.JoinedNetwork{Name: "Friends GPU Network", URL: "wss://gpu.example.net:443/v1/worker", ProxyKey: key}
	flagURL := "wss://other.example.net:8443/v1/worker"
	for _, tc := range []struct {
		name      string
		flags     networkFlags
		wantURL   string
		wantName  string
		wantFixed bool
	}{
		{"the saved network", networkFlags{apiAddr: "127.0.0.1:0"}, saved.URL, saved.Name, false},
		{"--network wins", networkFlags{url: flagURL, proxyKey: hex.EncodeToString(make([]byte, 32))}, flagURL, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, _ := json.Marshal(worker.Settings{Network: &saved})
			if err := os.WriteFile(filepath.Join(dir, worker.SettingsFile), b, 0o600); err != nil {
				t.Fatal(err)
			}
			env, err := setup(common{dataDir: dir, idleMin: 5, net: tc.flags}, false, true, false)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if env.proxy != nil {
					env.proxy.Close()
				}
				env.close()
			})
			ns := env.core.Status().Network
			if ns.URL != tc.wantURL || ns.Name != tc.wantName || ns.Local {
				t.Errorf("network = %+v, want %s named %q", ns, tc.wantURL, tc.wantName)
			}
			if env.core.CanSwitchNetwork() == tc.wantFixed {
				t.Errorf("CanSwitchNetwork = %v, want %v", env.core.CanSwitchNetwork(), !tc.wantFixed)
			}
			if !tc.wantFixed && env.proxy == nil {
				t.Error("no local network kept to go back to")
			}
		})
	}
}
