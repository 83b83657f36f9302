//go:build linux

package ollama_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// TestRestartManagedOllama: Restart ends a running managed Ollama (its
// whole tree, model runner included) and the supervisor brings up a fresh
// one that serves; an attached Ollama is refused (ErrNotManaged).
func TestRestartManagedOllama(t *testing.T) {
	rt := startManaged(t, nil)
	registerTiny(t, rt, tiny)
	chat := func() {
		t.Helper()
		var text strings.Builder
		if _, err := rt.Chat(ctxT(t, time.Minute), ollama.Job{Model: tiny, Messages: []ollama.Message{{Role: "user", Content: "hi"}}, MaxTokens: 8},
			func(s string) error { text.WriteString(s); return nil }); err != nil || text.Len() == 0 {
			t.Fatalf("chat: %q, %v", text.String(), err)
		}
	}
	chat() // a runner exists now
	sup := rt.Supervisor()
	old, oldPIDs := sup.PID(), sup.PIDs()
	if err := rt.Restart("test: wedged"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for sup.PID() == old || sup.PID() == 0 || !rt.Status().Reachable {
		if time.Now().After(deadline) {
			t.Fatalf("no fresh Ollama within a minute (pid %d, was %d)", sup.PID(), old)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range oldPIDs {
		if alive(pid) {
			t.Errorf("pid %d of the restarted tree is still alive", pid)
		}
	}
	chat() // the fresh one serves

	if err := ollama.New(ollama.Config{AttachAddr: "http://127.0.0.1:1", NoManage: true}).Restart("x"); !errors.Is(err, ollama.ErrNotManaged) {
		t.Fatalf("Restart of an attached Ollama = %v, want ErrNotManaged", err)
	}
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	st := procStat(pid)
	return st != nil && st[0] != "Z"
}
