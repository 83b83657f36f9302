package ollama_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"

	"github.com/ollama/ollama/api"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testregistry"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
)

// pushedTiny publishes the tiny model to a real OCI registry from one managed
// Ollama and returns a second, empty one that must pull it.
func pushedTiny(t *testing.T, mutate func(*ollama.Config)) (*ollama.Runtime, *testregistry.Registry, string) {
	t.Helper()
	publisher := startManaged(t, nil)
	reg := testregistry.Start(t)
	registerTiny(t, publisher, tiny)
	ref := reg.Reference("library/tiny", "latest")
	c, _ := publisher.Client()
	ctx := ctxT(t, 2*time.Minute)
	if err := c.Copy(ctx, &api.CopyRequest{Source: tiny, Destination: ref}); err != nil {
		t.Fatal(err)
	}
	if err := c.Push(ctx, &api.PushRequest{Model: ref, Insecure: true}, func(api.ProgressResponse) error { return nil }); err != nil {
		t.Fatalf("push to the test registry: %v", err)
	}
	return startManaged(t, mutate), reg, ref
}

// progressLog collects pull progress safely.
type progressLog struct {
	mu  sync.Mutex
	all []ollama.PullProgress
}

func (p *progressLog) add(pp ollama.PullProgress) {
	p.mu.Lock()
	p.all = append(p.all, pp)
	p.mu.Unlock()
}
func (p *progressLog) last() ollama.PullProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all[len(p.all)-1]
}

func isListed(t *testing.T, rt *ollama.Runtime, name string) bool {
	models, err := rt.ListModels(ctxT(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		if m.Name == name {
			return true
		}
	}
	return false
}

func TestPullFromRegistry(t *testing.T) {
	rt, reg, ref := pushedTiny(t, nil)
	var log progressLog
	if err := rt.Pull(ctxT(t, 2*time.Minute), ref, ollama.PullOptions{Insecure: true, Progress: log.add}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	last := log.last()
	if !last.Done || last.Err != "" || last.Percent != 100 || last.Total < 500_000 || last.Completed != last.Total {
		t.Fatalf("last progress = %+v", last)
	}
	sawPartial := false
	for _, p := range log.all {
		if p.Total > 0 && p.Completed > 0 {
			sawPartial = true
		}
		if p.Percent < 0 || p.Percent > 100 {
			t.Fatalf("percent out of range: %+v", p)
		}
	}
	if !sawPartial || !isListed(t, rt, ref) {
		t.Fatalf("no byte progress reported, or the model is not listed after the pull")
	}
	if reg.BlobRedirects() == 0 || reg.BlobBytesServed() < last.Total {
		t.Fatalf("the pull did not fetch the model from the registry (%d redirects, %d bytes)", reg.BlobRedirects(), reg.BlobBytesServed())
	}
}

func TestPullFailures(t *testing.T) {
	t.Run("cancelled half-way", func(t *testing.T) {
		rt, reg, ref := pushedTiny(t, nil)
		reg.Throttle(100_000) // ~6 s for the model layer
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var log progressLog
		err := rt.Pull(ctx, ref, ollama.PullOptions{Insecure: true, Progress: func(p ollama.PullProgress) {
			log.add(p)
			if p.Total > 0 && p.Completed > p.Total/4 {
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if last := log.last(); !last.Done || last.Err == "" || last.Completed >= last.Total {
			t.Fatalf("last progress = %+v, want done with an error part way", last)
		}
		if isListed(t, rt, ref) {
			t.Fatal("a cancelled pull left the model listed")
		}
		// The registry is fine: the next pull completes.
		reg.Throttle(0)
		if err := rt.Pull(ctxT(t, time.Minute), ref, ollama.PullOptions{Insecure: true}); err != nil {
			t.Fatalf("pull after a cancelled one: %v", err)
		}
	})

	t.Run("transfer breaks part way", func(t *testing.T) {
		rt, reg, ref := pushedTiny(t, nil)
		reg.CorruptBlobsAfter(200_000)
		err := rt.Pull(ctxT(t, 2*time.Minute), ref, ollama.PullOptions{Insecure: true})
		if !errors.Is(err, ollama.ErrPullFailed) {
			t.Fatalf("err = %v, want ErrPullFailed", err)
		}
		if isListed(t, rt, ref) {
			t.Fatal("a failed pull left the model listed")
		}
	})

	t.Run("unknown model", func(t *testing.T) {
		rt, reg, _ := pushedTiny(t, nil)
		err := rt.Pull(ctxT(t, time.Minute), reg.Reference("library/nope", "latest"), ollama.PullOptions{Insecure: true})
		if !errors.Is(err, ollama.ErrModelNotFound) {
			t.Fatalf("err = %v, want ErrModelNotFound", err)
		}
	})

	t.Run("disk full, caught before the download fills it", func(t *testing.T) {
		rt, reg, ref := pushedTiny(t, func(c *ollama.Config) {
			c.DiskFree = func(string) (uint64, error) { return 100_000, nil } // less than the model
		})
		reg.Throttle(200_000) // so the first progress report comes before the layer is complete
		var log progressLog
		err := rt.Pull(ctxT(t, time.Minute), ref, ollama.PullOptions{Insecure: true, Progress: log.add})
		if !errors.Is(err, ollama.ErrDiskFull) {
			t.Fatalf("err = %v, want ErrDiskFull", err)
		}
		if !strings.Contains(err.Error(), "free") || !strings.Contains(log.last().Err, "disk") {
			t.Fatalf("the error must say how much is needed and free: %v / %+v", err, log.last())
		}
		if isListed(t, rt, ref) {
			t.Fatal("a pull stopped for disk space left the model listed")
		}
	})

	t.Run("disk really full", func(t *testing.T) {
		// A 300 KB tmpfs under the models dir: Ollama itself hits ENOSPC.
		dir := t.TempDir()
		models := filepath.Join(dir, "models")
		if err := os.MkdirAll(models, 0o700); err != nil {
			t.Fatal(err)
		}
		// As root, or through password-less sudo (as make test's package install does).
		asRoot := func(args ...string) *exec.Cmd {
			if os.Geteuid() != 0 {
				return exec.Command("sudo", append([]string{"-n"}, args...)...)
			}
			return exec.Command(args[0], args[1:]...)
		}
		if out, err := asRoot("mount", "-t", "tmpfs", "-o", "size=300k,mode=0777", "tmpfs", models).CombinedOutput(); err != nil {
			testx.SkipOrFail(t, "mount (root)", fmt.Sprintf("cannot mount a small tmpfs here (needs root or password-less sudo): %v %s", err, out))
		}
		t.Cleanup(func() { _ = asRoot("umount", "-l", models).Run() })
		rt, _, ref := pushedTiny(t, func(c *ollama.Config) {
			c.Dir = dir
			c.DiskFree = func(string) (uint64, error) { return 1 << 40, nil } // let it reach the real limit
		})
		err := rt.Pull(ctxT(t, 2*time.Minute), ref, ollama.PullOptions{Insecure: true})
		t.Logf("pull onto a full disk: %v", err)
		if !errors.Is(err, ollama.ErrDiskFull) {
			t.Fatalf("err = %v, want ErrDiskFull", err)
		}
		if isListed(t, rt, ref) {
			t.Fatal("a pull that hit a full disk left the model listed")
		}
	})

	t.Run("ollama unreachable", func(t *testing.T) {
		r := ollama.New(ollama.Config{AttachAddr: "127.0.0.1:1", NoManage: true})
		_ = r.Run(context.Background())
		if err := r.Pull(ctxT(t, time.Minute), "llama3.2:1b", ollama.PullOptions{}); !errors.Is(err, ollama.ErrOllamaUnreachable) {
			t.Fatalf("err = %v, want ErrOllamaUnreachable", err)
		}
	})
}
