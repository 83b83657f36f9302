package cli

import (
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cocoon-desktop/cocoon-desktop/internal/paths"
	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// TestLocalNetworkVouchesForItsWorker: the embedded proxy of the local
// network trusts this computer's worker key from the start, so the owner's
// own network neither holds its test earnings nor calls it "new".
func TestLocalNetworkVouchesForItsWorker(t *testing.T) {
	dir := t.TempDir()
	dirs := paths.Dirs{Data: dir, Config: filepath.Join(dir, "config"), Logs: filepath.Join(dir, "logs")}
	nc, p, err := setupNetwork(networkFlags{apiAddr: "127.0.0.1:0"}, dirs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !nc.Local {
		t.Fatal("not the local network")
	}
	key, err := network.LoadOrCreateKey(filepath.Join(dir, "keys", "worker.key"))
	if err != nil {
		t.Fatal(err)
	}
	id := network.WorkerID(key.Public().(ed25519.PublicKey))
	if got := p.Config().Trust.TrustedWorkers; !slices.Contains(got, id) {
		t.Errorf("trusted workers %v lack this computer's worker %s", got, id)
	}
}
