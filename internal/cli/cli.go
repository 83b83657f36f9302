// Package cli is Cocoon Desktop's command line: it parses flags, sets up
// directories and logging, builds the worker core and hands it to the GUI,
// to headless mode or to a subcommand (doctor, version). main only calls Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cocoon-desktop/cocoon-desktop/app"
	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/internal/autostart"
	"github.com/cocoon-desktop/cocoon-desktop/internal/logging"
	"github.com/cocoon-desktop/cocoon-desktop/internal/paths"
	"github.com/cocoon-desktop/cocoon-desktop/internal/single"
	"github.com/cocoon-desktop/cocoon-desktop/network/proxy"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// Version is the app version, set at build time with -ldflags "-X ...cli.Version=...".
var Version = "0.1.0-dev"

// Exit codes.
const (
	ExitOK        = 0
	ExitUnhealthy = 1 // doctor: not able to serve
	ExitUsage     = 2
	ExitFailure   = 3
)

// common are the flags every mode accepts.
type common struct {
	dataDir    string
	logLevel   string
	ollamaAddr string
	noAttach   bool
	model      string
	vramMB     uint64
	net        networkFlags
	idleMin    float64
	schedule   string
	maxTempC   int
	maxPowerW  float64
	noGPUPause bool
	demoGPU    bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", "", "keep all data, settings and logs under this dir (env "+paths.EnvDataDir+")")
	fs.StringVar(&c.logLevel, "log-level", "", "log level: debug, info, warn, error (default: the one saved in Settings, else info)")
	fs.StringVar(&c.ollamaAddr, "ollama", "", "use the Ollama at this address if it answers (default $OLLAMA_HOST or 127.0.0.1:11434)")
	fs.BoolVar(&c.noAttach, "no-attach", false, "never use a running Ollama: always start a managed one")
	fs.StringVar(&c.model, "model", "", "model to serve (default: the built-in tiny model, or the first local one)")
	fs.Uint64Var(&c.vramMB, "vram-reserve-mb", 1024, "VRAM kept free for the owner when judging whether a model fits")
	fs.StringVar(&c.net.url, "network", "", "the network proxy's worker endpoint (wss://...); default: a local test network on this computer")
	fs.StringVar(&c.net.proxyKey, "proxy-key", "", "with --network: the proxy's ed25519 public key (hex) to pin")
	fs.StringVar(&c.net.tonNet, "ton-network", "mainnet", "the TON network the proxy's escrow is on, where Withdraw claims (mainnet or testnet)")
	fs.StringVar(&c.net.tonConfig, "ton-config", "", "the TON global config (URL, file or JSON) Withdraw reaches liteservers with (default: ton.org's for --ton-network)")
	fs.StringVar(&c.net.apiAddr, "api-addr", "", "local network: where its OpenAI-compatible API listens (default "+DefaultLocalAPIAddr+")")
	fs.Float64Var(&c.idleMin, "idle-minutes", 5, "start serving after this many minutes without keyboard or mouse input")
	fs.StringVar(&c.schedule, "schedule", "", `serve only in these weekly windows, e.g. "mon-fri 22:00-08:00; sat,sun 00:00-24:00" (default: any time)`)
	fs.IntVar(&c.maxTempC, "max-temp", 0, "pause while a GPU is hotter than this many °C (0: no cap)")
	fs.Float64Var(&c.maxPowerW, "max-power", 0, "pause while a GPU draws more than this many watts (0: no cap)")
	fs.BoolVar(&c.noGPUPause, "no-pause-on-gpu-use", false, "keep serving while other programs (games) use the GPU")
	fs.BoolVar(&c.demoGPU, "demo-gpu", false, "screenshots and demos on the local network: simulate an NVIDIA GeForce RTX 4090 in NVML (no real GPU is used)")
}

// Main runs the program with args (without the program name) and returns the exit code.
func Main(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	var c common
	fs := flag.NewFlagSet("cocoon-desktop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	headless := fs.Bool("headless", false, "run without a window or tray (rigs and servers); Ctrl-C stops")
	noStart := fs.Bool("no-start", false, "headless: do not start sharing by itself")
	startGUI := fs.Bool("start", false, "window mode: start sharing at launch (it serves once you are away)")
	autostartFlag := fs.String("autostart", "", "on or off: start Cocoon Desktop (with --start) when you log in, then exit; off by default")
	c.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Cocoon Desktop %s: rent your idle NVIDIA GPU to an AI-inference network.\n\n", Version)
		fmt.Fprintf(stderr, "usage:\n  cocoon-desktop [flags]            the app (window + tray)\n")
		fmt.Fprintf(stderr, "  cocoon-desktop --headless [flags] the same core without a display\n")
		fmt.Fprintf(stderr, "  cocoon-desktop doctor [--json]    check GPU, Ollama and models\n")
		fmt.Fprintf(stderr, "  cocoon-desktop earnings [--json]  balance and history (export FILE, verify)\n")
		fmt.Fprintf(stderr, "  cocoon-desktop --autostart on|off start at login (or not), then exit\n")
		fmt.Fprintf(stderr, "  cocoon-desktop version\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if rest := fs.Args(); len(rest) > 0 {
		switch rest[0] {
		case "doctor":
			return doctorCmd(rest[1:], c, stdout, stderr)
		case "earnings":
			return earningsCmd(rest[1:], c, stdout, stderr)
		case "version":
			fmt.Fprintf(stdout, "cocoon-desktop %s (Ollama %s, %s/%s)\n", Version, ollama.OllamaVersion, goruntime.GOOS, goruntime.GOARCH)
			return ExitOK
		default:
			fmt.Fprintf(stderr, "unknown command %q\n", rest[0])
			fs.Usage()
			return ExitUsage
		}
	}
	if *autostartFlag != "" {
		return autostartCmd(*autostartFlag, stdout, stderr)
	}
	if !*headless && !hasDisplay() {
		fmt.Fprintln(stderr, "No display found ($DISPLAY and $WAYLAND_DISPLAY are empty): running headless.")
		*headless = true
	}
	// One instance per data dir: a second launch shows the first one's window.
	activate := make(chan struct{}, 1)
	release, running, err := acquireInstance(c.dataDir, func() {
		select {
		case activate <- struct{}{}:
		default:
		}
	})
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop: warning: cannot check for another running instance:", err)
	}
	if running {
		if *headless {
			fmt.Fprintln(stdout, "Cocoon Desktop is already running with this data dir.")
		} else {
			fmt.Fprintln(stdout, "Cocoon Desktop is already running; showing its window")
		}
		return ExitOK
	}
	defer release()
	env, err := setup(c, *headless, true, !*headless)
	if err != nil {
		fmt.Fprintln(stderr, "cocoon-desktop:", err)
		return ExitFailure
	}
	defer env.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *headless {
		return runHeadless(ctx, env, !*noStart, stdout)
	}
	return runGUI(ctx, env, *startGUI, activate, func(code int) {
		// The GUI's goroutine is held in Fyne (app.Options.QuitStuck): the
		// defers above never run, so do their work here and end.
		stop()
		env.close()
		release()
		os.Exit(code)
	})
}

// acquireInstance makes this process the data dir's single instance.
// running is true when another one already runs (it was asked to show its
// window); err is set when the check itself failed (then run anyway).
func acquireInstance(dataDir string, onActivate func()) (release func(), running bool, err error) {
	release = func() {}
	dirs, err := paths.Resolve(dataDir)
	if err == nil {
		err = dirs.Create()
	}
	if err != nil {
		return release, false, err
	}
	rel, err := single.Acquire(dirs.Data, onActivate)
	switch {
	case errors.Is(err, single.ErrAlreadyRunning):
		return release, true, nil
	case err != nil:
		return release, false, err
	}
	return rel, false, nil
}

// startAtLogin is the window's way to turn start at login on (nil where the
// system has no autostart the app can set).
func startAtLogin() func() error {
	if !autostart.Supported() {
		return nil
	}
	return enableStartAtLogin
}

// enableStartAtLogin makes this executable start at login (with --start).
func enableStartAtLogin() error {
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return err
	}
	return autostart.Enable(exe)
}

// autostartCmd turns start-at-login on or off (--autostart on|off).
func autostartCmd(v string, stdout, stderr io.Writer) int {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		if err := enableStartAtLogin(); err != nil {
			fmt.Fprintln(stderr, "cocoon-desktop: start at login:", err)
			return ExitFailure
		}
		fmt.Fprintln(stdout, "Cocoon Desktop will start when you log in (it shares your GPU once you are away).")
		return ExitOK
	case "off", "false", "no", "0":
		if err := autostart.Disable(); err != nil {
			fmt.Fprintln(stderr, "cocoon-desktop: start at login:", err)
			return ExitFailure
		}
		fmt.Fprintln(stdout, "Cocoon Desktop will no longer start when you log in.")
		return ExitOK
	default:
		fmt.Fprintf(stderr, "--autostart takes on or off, not %q\n", v)
		return ExitUsage
	}
}

func hasDisplay() bool {
	if goruntime.GOOS != "linux" && goruntime.GOOS != "freebsd" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// environment is what every mode shares once set up.
type environment struct {
	dirs  paths.Dirs
	log   *slog.Logger
	core  *worker.Core
	proxy *proxy.Proxy // the embedded local network, nil otherwise
	close func()
}

func setup(c common, logToStderr, withNetwork, withInput bool) (*environment, error) {
	dirs, err := paths.Resolve(c.dataDir)
	if err != nil {
		return nil, err
	}
	if c.logLevel == "" { // the flag wins; else the level saved in Settings
		c.logLevel = "info"
		if st, err := worker.LoadSettings(dirs.Data); err == nil && st.LogLevel != "" {
			c.logLevel = st.LogLevel
		}
	}
	level, err := logging.ParseLevel(c.logLevel)
	if err != nil {
		return nil, err
	}
	if err := dirs.Create(); err != nil {
		return nil, err
	}
	logger, closeLog, err := logging.Setup(dirs.Logs, level, logToStderr)
	if err != nil {
		return nil, err
	}
	logger.Info("cocoon-desktop starting", "version", Version, "data_dir", dirs.Data, "log_dir", dirs.Logs)
	wcfg := worker.Config{
		DataDir:       dirs.Data,
		Model:         c.model,
		SeedTinyModel: true,
		Logger:        logger,
		Runtime: ollama.Config{
			AttachAddr:  c.ollamaAddr,
			NoAttach:    c.noAttach,
			VRAMReserve: c.vramMB << 20,
		},
		Idle:     idle.DefaultConfig(),
		LogError: logging.FileError,
	}
	if c.demoGPU {
		if c.net.url != "" {
			closeLog()
			return nil, errors.New("--demo-gpu simulates a GPU: it is for the local test network only, not with --network")
		}
		det, err := demoGPU()
		if err != nil {
			closeLog()
			return nil, err
		}
		logger.Warn("--demo-gpu: NVML is simulated (an RTX 4090 that does not exist); models run wherever Ollama puts them")
		wcfg.GPU = det
	}
	if c.idleMin <= 0 {
		closeLog()
		return nil, fmt.Errorf("--idle-minutes must be above 0, got %v", c.idleMin)
	}
	sched, err := idle.ParseSchedule(c.schedule)
	if err != nil {
		closeLog()
		return nil, fmt.Errorf("--schedule: %w", err)
	}
	if c.maxTempC < 0 || c.maxPowerW < 0 {
		closeLog()
		return nil, fmt.Errorf("--max-temp and --max-power must not be negative")
	}
	wcfg.Idle.IdleAfter = time.Duration(c.idleMin * float64(time.Minute))
	wcfg.Idle.VRAMReserve = c.vramMB << 20
	wcfg.Idle.Schedule, wcfg.Idle.MaxTemperatureC, wcfg.Idle.MaxPowerW = sched, c.maxTempC, c.maxPowerW
	wcfg.Idle.PauseOnGPUProcesses = !c.noGPUPause
	env := &environment{dirs: dirs, log: logger}
	closers := []func(){func() { _ = closeLog() }}
	if withNetwork {
		ncfg, p, err := setupNetwork(c.net, dirs, logger)
		if err != nil {
			closeLog()
			return nil, err
		}
		wcfg.Network, env.proxy = ncfg, p
		wcfg.NetworkFixed = c.net.url != "" // the flag wins over a network joined in the app
		// Claims go to the chain itself, not through the proxy
		// (docs/settlement.md); it connects only when there is a voucher
		// to claim, so the local network (no escrow) never reaches TON.
		tn, err := ton.ParseNet(c.net.tonNet)
		if err != nil {
			closeLog()
			return nil, fmt.Errorf("--ton-network: %w", err)
		}
		lc := &ton.LazyLiteChain{Config: c.net.tonConfig, Net: tn}
		wcfg.Settlement = lc
		closers = append(closers, lc.Close)
	}
	if withInput {
		// The owner's keyboard and mouse (X11 on Linux, GetLastInputInfo on
		// Windows). Without it the worker cannot see the owner come back, so
		// it does not serve (the UI says why).
		src, err := idle.NewSystemIdle()
		if err != nil {
			logger.Warn("no input-idle source: the worker will not serve until it can tell you are away", "err", err)
			wcfg.InputIdle = idle.InputIdlerFunc(func() (time.Duration, error) { return -1, err })
		} else {
			wcfg.InputIdle = src
			wcfg.FullScreen, _ = src.(idle.FullScreener)
			if c, ok := src.(io.Closer); ok {
				closers = append(closers, func() { _ = c.Close() })
			}
		}
		gamer := idle.NewGamerSources() // controllers, Steam, the full-screen program's name
		wcfg.Controllers, wcfg.Steam = gamer.Controllers, gamer.Steam
		if gamer.FullScreen != nil {
			wcfg.FullScreen = gamer.FullScreen
		}
		closers = append(closers, func() { _ = gamer.Close() })
	}
	// The window offers to rebuild a damaged ledger (withInput is the
	// window mode); headless stops and names `earnings rebuild`.
	wcfg.OfferLedgerRebuild = withInput
	env.core = worker.New(wcfg)
	env.close = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	return env, nil
}

// runCore runs the core (and the embedded proxy) in the background until
// ctx ends or one of them fails for good, which stops the other. The
// channel delivers the first error (nil after a clean stop) once both have
// returned.
func runCore(ctx context.Context, env *environment) <-chan error {
	g, ctx := errgroup.WithContext(ctx)
	if env.proxy != nil {
		g.Go(func() error {
			if err := env.proxy.Run(ctx); err != nil {
				return fmt.Errorf("local network proxy: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error { return env.core.Run(ctx) })
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	return done
}

// exit ends the program with a code when the window cannot return from its
// quit; runGUI calls it after stopping the core.
func runGUI(ctx context.Context, env *environment, start bool, activate <-chan struct{}, exit func(code int)) int {
	ctx, cancel := context.WithCancel(ctx)
	coreDone := runCore(ctx, env)
	// Sharing left on at the last quit (or a reboot) resumes by itself.
	resume, pause := worker.ResumeSharing(env.core.Settings(), time.Now())
	if start || resume {
		go startWhenReady(ctx, env, pause)
	}
	start = start || resume
	tray, why := app.TrayAvailable()
	if !tray {
		env.log.Warn("no system tray: running with the window only", "reason", why)
	}
	var stopOnce sync.Once
	stopCore := func() { // from here, or from QuitStuck's goroutine
		stopOnce.Do(func() {
			cancel()
			if werr := <-coreDone; werr != nil {
				env.log.Error("core stopped with an error", "err", werr)
			}
		})
	}
	err := app.Run(ctx, env.core, app.Options{Tray: tray, NoOnboarding: start, Logger: env.log, Activate: activate,
		StartAtLogin: startAtLogin(),
		// The owner quit: no job may run on after the window is gone.
		QuitStuck: func() { stopCore(); exit(ExitOK) }})
	stopCore()
	if err != nil {
		env.log.Error("app stopped with an error", "err", err)
		return ExitFailure
	}
	return ExitOK
}

// startWhenReady starts sharing once the model list is known (paused for
// pause first, when it is not zero).
func startWhenReady(ctx context.Context, env *environment, pause time.Duration) {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := env.core.WaitModels(wctx); err != nil {
		return
	}
	start := env.core.Start
	if pause > 0 {
		env.log.Info("resuming a pause", "left", pause.Round(time.Second))
		start = func(ctx context.Context) error { return env.core.PauseFor(ctx, pause) }
	}
	if err := start(ctx); err != nil && ctx.Err() == nil {
		env.log.Error("could not start sharing", "err", err)
	}
}

func runHeadless(ctx context.Context, env *environment, autoStart bool, out io.Writer) int {
	coreDone := runCore(ctx, env)
	events, unsubscribe := env.core.Subscribe(64)
	defer unsubscribe()
	if autoStart {
		_, pause := worker.ResumeSharing(env.core.Settings(), time.Now())
		go startWhenReady(ctx, env, pause)
	}
	fmt.Fprintf(out, "Cocoon Desktop %s running headless; data in %s, logs in %s. Ctrl-C stops.\n", Version, env.dirs.Data, env.dirs.Logs)
	if n := env.core.Status().Network; n.Local {
		fmt.Fprintf(out, "Local test network: try it with\n  curl %s/chat/completions -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -d '{\"model\":\"cocoon-tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n", n.APIURL, n.APIKey)
	}
	var last string
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopping...")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = env.core.Unload(sctx) // not Stop: the next launch shares again
			cancel()
			if err := <-coreDone; err != nil {
				fmt.Fprintln(out, "stopped with an error:", err)
				return ExitFailure
			}
			fmt.Fprintln(out, "stopped.")
			return ExitOK
		case err := <-coreDone: // stopped by itself: a fatal error
			fmt.Fprintln(out, "stopped with an error:", err)
			if errors.Is(err, earnings.ErrDamaged) || errors.Is(err, earnings.ErrMissing) {
				fmt.Fprintf(out, "The earnings ledger cannot be used. `cocoon-desktop earnings rebuild` keeps the file aside "+
					"and fills a new ledger from the network's receipts at the next start.\n")
			}
			return ExitFailure
		case ev, ok := <-events:
			if !ok {
				return ExitOK
			}
			if ev.Type == worker.EventGPU || ev.Type == worker.EventPull || ev.Type == worker.EventJob {
				continue
			}
			if line := statusLine(env.core.Status()); line != last {
				fmt.Fprintln(out, line)
				last = line
			}
		}
	}
}

// statusLine is headless mode's one-line view of the core.
func statusLine(s worker.Status) string {
	ollamaLine := "ollama: not reachable"
	if s.Ollama.Reachable {
		ollamaLine = fmt.Sprintf("ollama %s (%s) at %s", s.Ollama.Version, s.Ollama.Mode, s.Ollama.Address)
	} else if s.Ollama.Error != "" {
		ollamaLine = "ollama: " + s.Ollama.Error
	}
	line := fmt.Sprintf("[%s] %s · %s · %d model(s), serving %q", s.State, gpuLine(s), ollamaLine, len(s.Models), s.Model)
	switch n := s.Network; {
	case n.URL == "":
	case n.Connected:
		line += fmt.Sprintf(" · network connected · %d jobs · earned %d nanoTON (%d receipts)", s.Jobs.Completed, s.Earned, s.Receipts)
	default:
		line += " · network not connected"
		if n.Error != "" {
			line += ": " + n.Error
		}
	}
	if s.Error != "" {
		line += " · " + s.Error
	}
	for _, r := range s.Reasons {
		line += " · " + r.Text
	}
	return line
}

func gpuLine(s worker.Status) string { return s.GPU.Summary() }
