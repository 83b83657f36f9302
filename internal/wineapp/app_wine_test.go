//go:build linux

package wineapp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/cocoon-desktop/cocoon-desktop/internal/testx"
	"github.com/cocoon-desktop/cocoon-desktop/internal/winetest"
)

// OllamaEnv names a prebuilt Windows ollama.exe (make test passes the
// cached one); without it the test runs scripts/build-ollama-windows.sh,
// which is cached after its first (long) build.
const OllamaEnv = "COCOON_OLLAMA_WINDOWS"

// TestInstalledAppUnderWine installs the real installer silently, then
// checks what a gamer would: doctor answers and finds the bundled Ollama;
// headless mode serves a paid job through the local network (an OpenAI
// client gets tokens, the ledger gets the receipt, even across a hard
// stop); a second launch finds the first; a second install upgrades in
// place keeping the ledger; uninstall removes the program, keeps the data.
func TestInstalledAppUnderWine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the Windows app and installer and runs them under Wine (minutes)")
	}
	winetest.FindTool(t, "makensis")
	began := time.Now()
	wine := winetest.New(t)
	t.Logf("wine prefix ready in %v", time.Since(began).Round(time.Millisecond))
	root := winetest.ModuleRoot(t)
	tmp := t.TempDir()

	phase := time.Now()
	app := filepath.Join(tmp, "cocoon-desktop.exe")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath",
		"-ldflags", "-s -w -H windowsgui", "-o", app, ".")
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=1", "CC=x86_64-w64-mingw32-gcc")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cross-build the app: %v\n%s", err, out)
	}
	ollama := windowsOllama(t, root)
	setup := filepath.Join(tmp, "cocoon-desktop-0.0.1-setup.exe")
	mk := exec.Command("bash", "packaging/windows/build-installer.sh", "0.0.1", app, ollama, setup)
	mk.Dir = root
	mk.Env = append(os.Environ(), "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("build-installer.sh: %v\n%s", err, out)
	}
	t.Logf("app, Ollama and installer built in %v", time.Since(phase).Round(time.Millisecond))

	t.Run("the installer does not ship the test shim", func(t *testing.T) {
		if _, err := exec.LookPath("7z"); err != nil {
			winetest.FindTool(t, "7z")
		}
		list, err := exec.Command("7z", "l", setup).CombinedOutput()
		if err != nil {
			t.Fatalf("7z l: %v\n%s", err, list)
		}
		if !bytes.Contains(list, []byte("ollama.exe")) {
			t.Fatalf("7z l does not list the installer's files:\n%s", list)
		}
		if bytes.Contains(bytes.ToLower(list), []byte("bcryptprimitives")) {
			t.Errorf("the installer carries the Wine-only ProcessPrng shim:\n%s", list)
		}
	})

	user := wine.UserDir()
	instDir := filepath.Join(user, "AppData", "Local", "Programs", "Cocoon Desktop")
	dataDir := filepath.Join(user, "AppData", "Local", "CocoonDesktop")
	installed := filepath.Join(instDir, "cocoon-desktop.exe")
	phase = time.Now()
	wine.RunWine(2*time.Minute, setup, "/S")
	t.Logf("silent install in %v", time.Since(phase).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(instDir, "bcryptprimitives.dll")); err == nil {
		t.Error("the install dir holds bcryptprimitives.dll (the shim belongs in the test prefix's system32 only)")
	}

	t.Run("doctor --json", func(t *testing.T) {
		phase := time.Now()
		out := wine.RunWine(2*time.Minute, installed, "doctor", "--json")
		t.Logf("doctor in %v", time.Since(phase).Round(time.Millisecond))
		var doc struct {
			Healthy bool `json:"healthy"`
			Ollama  struct {
				Reachable bool   `json:"reachable"`
				Mode      string `json:"mode"`
				Source    string `json:"source"`
				Binary    string `json:"binary"`
			} `json:"ollama"`
			RunsOn string `json:"runs_on"`
		}
		if err := json.Unmarshal(jsonPart(out), &doc); err != nil {
			t.Fatalf("doctor --json is not JSON: %v\n%s", err, out)
		}
		if !doc.Healthy || !doc.Ollama.Reachable || doc.Ollama.Mode != "managed" || doc.Ollama.Source != "bundled" ||
			!strings.HasSuffix(doc.Ollama.Binary, `\Cocoon Desktop\ollama.exe`) || doc.RunsOn != "cpu" {
			t.Errorf("doctor: %+v, want healthy, the bundled managed Ollama, runs on cpu\n%s", doc, out)
		}
	})

	apiAddr := freeAddr(t)
	var usage openai.CompletionUsage
	t.Run("a job end to end through the local network", func(t *testing.T) {
		// An X server, so that a console window Windows would open for the
		// bundled ollama.exe (a console program) shows up as a window.
		display := testx.StartXvfb(t)
		wine.KillAll() // a new Wine session: its desktop process must see the X server
		phase := time.Now()
		bg := wine.WithEnv("DISPLAY="+display).Start(installed, "--headless", "--idle-minutes", "0.01", "--api-addr", apiAddr)
		bg.WaitOutput(t, "[serving]", 3*time.Minute)
		t.Logf("headless app serving in %v", time.Since(phase).Round(time.Millisecond))
		key, err := os.ReadFile(filepath.Join(dataDir, "local-network", "api-key"))
		if err != nil {
			t.Fatalf("the local network's API key: %v", err)
		}
		client := openai.NewClient(option.WithBaseURL("http://"+apiAddr+"/v1/"),
			option.WithAPIKey(strings.TrimSpace(string(key))), option.WithMaxRetries(0))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:     "cocoon-tiny",
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello from Wine")},
			MaxTokens: openai.Int(16),
		})
		if err != nil {
			t.Fatalf("chat completion through the installed app: %v\n%s", err, bg.Output())
		}
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Usage.CompletionTokens <= 0 {
			t.Fatalf("completion without tokens: %+v", resp)
		}
		usage = resp.Usage
		bg.WaitOutput(t, "(1 receipts)", time.Minute)
		search := exec.Command("xdotool", "search", "--onlyvisible", "--name", `ollama\.exe`)
		search.Env = append(os.Environ(), "DISPLAY="+display)
		if out, err := search.Output(); err == nil {
			t.Errorf("ollama.exe runs in a visible console window (CREATE_NO_WINDOW missing): X windows %q", out)
		}

		second, err := wine.Try(time.Minute, wine.Wine, installed, "--headless")
		if err != nil || !strings.Contains(string(second), "already running") {
			t.Errorf("a second launch: %v, %q; want it to find the first and exit", err, second)
		}
		// A hard stop (all Wine can do to a GUI-subsystem program): the
		// receipt was committed when it was stored.
		wine.Stop(bg)
	})

	receipt := func(t *testing.T) {
		t.Helper()
		out := wine.RunWine(time.Minute, installed, "earnings", "--json")
		var rep struct {
			Ledger string `json:"ledger"`
			Jobs   []struct {
				Model            string `json:"model"`
				PromptTokens     int64  `json:"prompt_tokens"`
				CompletionTokens int64  `json:"completion_tokens"`
				Amount           int64  `json:"amount_nanoton"`
			} `json:"jobs"`
		}
		if err := json.Unmarshal(jsonPart(out), &rep); err != nil {
			t.Fatalf("earnings --json is not JSON: %v\n%s", err, out)
		}
		if !strings.HasSuffix(rep.Ledger, `\AppData\Local\CocoonDesktop\ledger.db`) {
			t.Errorf("ledger at %q, want it in %%LOCALAPPDATA%%\\CocoonDesktop", rep.Ledger)
		}
		if len(rep.Jobs) != 1 || rep.Jobs[0].Model != "cocoon-tiny" || rep.Jobs[0].Amount <= 0 ||
			rep.Jobs[0].CompletionTokens != usage.CompletionTokens || rep.Jobs[0].PromptTokens != usage.PromptTokens {
			t.Errorf("ledger jobs %+v, want the one job (usage %d+%d tokens) paid\n%s",
				rep.Jobs, usage.PromptTokens, usage.CompletionTokens, out)
		}
	}
	t.Run("the ledger holds the receipt", receipt)

	t.Run("a second install upgrades in place, data kept", func(t *testing.T) {
		ledgerBefore := mustRead(t, filepath.Join(dataDir, "ledger.db"))
		wine.RunWine(2*time.Minute, setup, "/S")
		if got := mustRead(t, filepath.Join(dataDir, "ledger.db")); !bytes.Equal(got, ledgerBefore) {
			t.Error("the ledger changed during the reinstall")
		}
		receipt(t)
	})

	t.Run("uninstall removes the program, keeps the data", func(t *testing.T) {
		wine.RunWine(2*time.Minute, filepath.Join(instDir, "uninstall.exe"), "/S")
		// The uninstaller re-launches itself from a temp copy and returns at once.
		wine.Wait(2 * time.Minute)
		if _, err := os.Stat(installed); !os.IsNotExist(err) {
			t.Errorf("%s after uninstall: %v", installed, err)
		}
		for _, f := range []string{"ledger.db", filepath.Join("local-network", "api-key")} {
			if _, err := os.Stat(filepath.Join(dataDir, f)); err != nil {
				t.Errorf("uninstall lost %s: %v", f, err)
			}
		}
	})
	t.Logf("whole Wine run in %v", time.Since(began).Round(time.Millisecond))
}

// windowsOllama is the Windows ollama.exe to bundle: $COCOON_OLLAMA_WINDOWS,
// else the cached cross build (built first if missing).
func windowsOllama(t *testing.T, root string) string {
	t.Helper()
	if p := os.Getenv(OllamaEnv); p != "" {
		return p
	}
	cmd := exec.Command("bash", "scripts/build-ollama-windows.sh")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/build-ollama-windows.sh: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// jsonPart is out from its first '{': Wine may print a line of its own first.
// jsonPart is the first JSON object in out: Wine may print its own lines
// before it ("fixme: …") or after it ("wine client error: …" while its
// server winds down).
func jsonPart(out []byte) []byte {
	i := bytes.IndexByte(out, '{')
	if i < 0 {
		return out
	}
	var v json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(out[i:])).Decode(&v); err != nil {
		return out[i:] // the caller's Unmarshal reports it
	}
	return v
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// freeAddr is a loopback address free right now (the app under Wine binds it).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}
