//go:build linux && cgo

package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/gpu/gputest"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testollama"
	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// envRealCoreHelper makes the test binary run the real window over a real
// core (see TestMain and realCoreHelper).
const envRealCoreHelper = "COCOON_REALCORE_HELPER"

// The price list of the helper's network, which the test bills against.
const (
	realPricePrompt     = 2_000 // nanoTON per prompt token
	realPriceCompletion = 7_000 // nanoTON per completion token
	realAPIKey          = "gui-real-core-key"
)

// realCoreHelper runs the real Fyne window (GLFW, on the X server in
// $DISPLAY) over a real worker core: a managed Ollama with the tiny model
// and a proxy on loopback. It prints "API <url>" once the worker serves,
// then "UI <dashboard earned> | <earnings card>" whenever those widgets
// change, until it is killed.
func realCoreHelper() int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := os.Getenv("COCOON_HELPER_DIR")
	pcfg := proxy.DefaultConfig()
	pcfg.APIAddr, pcfg.WorkerAddr, pcfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", filepath.Join(dir, "proxy")
	pcfg.Models = map[string]proxy.ModelPrice{"cocoon-tiny": {PricePrompt: realPricePrompt, PriceCompletion: realPriceCompletion}}
	pcfg.APIKeys = []proxy.APIKey{{Key: realAPIKey, Name: "gui"}}
	p, err := proxy.New(pcfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	go func() { _ = p.Run(ctx) }()
	core := worker.New(worker.Config{
		DataDir: filepath.Join(dir, "worker"), SeedTinyModel: true,
		Runtime:   ollama.Config{NoAttach: true, Binary: testollama.Binary()},
		GPU:       gpu.NewDetector(gputest.Library(gputest.RTX4090())),
		Network:   worker.NetworkConfig{URL: p.WorkerURL(), ProxyKey: p.PublicKey()},
		InputIdle: idle.InputIdlerFunc(func() (time.Duration, error) { return time.Hour, nil }), // the owner is away
	})
	go func() { _ = core.Run(ctx) }()
	go func() {
		if err := core.WaitModels(ctx); err != nil {
			return
		}
		if err := core.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "helper: start:", err)
			return
		}
		for ctx.Err() == nil {
			if st, err := p.Status(ctx); err == nil && len(st.Workers) == 1 && st.Workers[0].State == "accepting" {
				fmt.Printf("API http://%s/v1/\n", p.APIAddr())
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	viewMadeForTest = func(v *mainView) {
		go func() {
			last := ""
			for ctx.Err() == nil {
				texts := make(chan string, 1)
				fyne.Do(func() { texts <- v.dash.net.earned.Text + " | " + v.earn.cardEarned.value.Text })
				select {
				case s := <-texts:
					if s != last {
						fmt.Println("UI " + s)
						last = s
					}
				case <-ctx.Done():
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	if err := Run(ctx, core, Options{NoOnboarding: true, NoNotifications: true}); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// TestRealWindowOverRealCore: the real window on a real X server over the
// real worker, Ollama and proxy — a request through the API shows up in the
// Dashboard's and the Earnings tab's widgets with the exact amount the price
// list, the coefficient, the commission and Ollama's token counts give.
func TestRealWindowOverRealCore(t *testing.T) {
	if testollama.Binary() == "" {
		testollama.Skip(t)
	}
	display := testx.StartXvfb(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRealCoreHelper+"=1", "DISPLAY="+display, "HOME="+t.TempDir(),
		"COCOON_HELPER_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("helper stderr:\n%s", stderr.String())
		}
	})
	deadline := time.After(2 * time.Minute)
	next := func(prefix string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the helper exited before printing %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return strings.TrimPrefix(l, prefix)
				}
			case <-deadline:
				t.Fatalf("no %q line from the helper within 2 minutes", prefix)
			}
		}
	}
	apiURL := next("API ")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := openai.NewClient(option.WithBaseURL(apiURL), option.WithAPIKey(realAPIKey), option.WithMaxRetries(0))
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "cocoon-tiny", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello from the GUI test")},
		MaxTokens: openai.Int(24),
	})
	if err != nil {
		t.Fatal(err)
	}
	amount, err := receipt.Amount(resp.Usage.PromptTokens, resp.Usage.CompletionTokens, realPricePrompt, realPriceCompletion,
		1000, proxy.DefaultCommissionBPS)
	if err != nil || amount <= 0 {
		t.Fatalf("amount %d for %+v: %v", amount, resp.Usage, err)
	}
	want := tonText(amount) + " TON in 1 receipt | " + tonText(amount) + " TON"
	// The two widgets update on their own events: wait until both show it.
	last := ""
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the helper exited; the window last showed %q, want %q", last, want)
			}
			if got, isUI := strings.CutPrefix(l, "UI "); isUI {
				if got == want {
					return
				}
				last = got
			}
		case <-deadline:
			t.Fatalf("the window shows %q, want %q (%d prompt + %d completion tokens)", last, want,
				resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
		}
	}
}
