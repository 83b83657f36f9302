package app

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/gpu"
	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/receipt"
	"github.com/cocoon-desktop/cocoon-desktop/runtime/ollama"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

// The window has to fit a 1024×640 laptop and use a 4K screen, in every
// state the worker can be in (issue 13). TestLayout renders every tab in
// every state below at both sizes with Fyne's test driver and checks what a
// person would see go wrong: a window that asks for more room than the
// screen has, widgets off its edges, widgets squeezed below their minimum
// size (which is how things come to draw over each other), text cut off
// without its full words at hand, and a tab row that moves when a banner
// comes or goes.

// layoutSizes are the window sizes every state is rendered at.
var layoutSizes = []struct {
	name string
	size fyne.Size
}{
	{"1024x640", fyne.NewSize(1024, 640)},
	{"1920x1080", fyne.NewSize(1920, 1080)},
}

// maxWindowMin is the most the window's minimum size may be, in every state.
var maxWindowMin = fyne.NewSize(1024, 640)

// layoutCase is one state of the window.
type layoutCase struct {
	name string
	// core builds the fake core; dir is an empty directory for a ledger.
	core func(dir string) *fakeCore
	// setup, if set, does what the owner did in this state (saved a
	// tariff, typed bad settings…) once the view shows the core's status,
	// on the Fyne thread; wait waits for a condition on it (the test drains
	// the view's queue meanwhile; the screenshot helper checks it after).
	setup func(v *mainView, wait func(what string, cond func() bool))
}

// Long words the cases use.
const (
	longModel  = "hf.co/bartowski/Meta-Llama-3.1-70B-Instruct-abliterated-GGUF:Q4_K_M-imatrix-experimental"
	longError  = "model runtime: ollama: POST http://127.0.0.1:11500/api/chat: read tcp 127.0.0.1:53110->127.0.0.1:11500: read: connection reset by peer; the runner process exited with status 2 (CUDA error: out of memory while allocating 3.2 GiB for the KV cache of " + longModel + ")"
	longNotice = "network: the proxy at wss://proxy.cocoon-network.example.org:443/v1/worker refused the worker key ed25519:9f3c2a7b6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a2918 because it is not registered for this network"
)

func layoutCases() []layoutCase {
	return []layoutCase{
		{name: "stopped", core: func(string) *fakeCore { return newFakeCore(noDriverStatus()) }},
		{name: "waiting", core: func(string) *fakeCore {
			st := gpuOKStatus()
			st.State = worker.StateWaiting
			st.Reasons = []idle.Reason{{Code: idle.CodeOwnerActive, Text: "You used the keyboard or mouse 12 s ago", Until: time.Now().Add(4 * time.Minute)}}
			st.Network = localNetwork()
			return newFakeCore(st)
		}},
		{name: "serving", core: func(dir string) *fakeCore {
			st := gpuOKStatus()
			st.State = worker.StateServing
			st.Network = localNetwork()
			st.Jobs = worker.JobStats{Completed: 1, Tokens: 96, Running: 1, LastModel: "llama3.2:1b", LastTokensPS: 87.5}
			st.Loaded = []ollama.Loaded{{Name: "llama3.2:1b", Size: 1_321_098_329, SizeVRAM: 1_321_098_329}}
			st.LastPause = &worker.PauseRecord{Took: 412 * time.Millisecond, Reason: "You moved the mouse"}
			f := newFakeCore(st)
			l := layoutLedger(dir, []testJob{{at: time.Now().Add(-time.Minute), prompt: 40, completion: 56, joules: 90}})
			f.ledger = l
			f.set(func(s *worker.Status) {
				s.Earned, s.Receipts = ledgerTotal(l)
				s.Earnings.Proxy = &network.Balance{Standing: &network.Standing{Level: network.TrustTrusted, CanariesPassed: 12, CanariesNeeded: 10}}
			})
			return f
		}},
		{name: "paused, several reasons", core: func(string) *fakeCore {
			st := gpuOKStatus()
			st.State = worker.StatePaused
			st.Network = localNetwork()
			until := time.Now().Add(3 * time.Hour)
			st.Reasons = []idle.Reason{
				{Code: idle.CodeOwnerActive, Text: "You used the keyboard or mouse 2 s ago"},
				{Code: idle.CodeGPUInUse, Text: "Cyberpunk2077.exe (6.0 GB), obs64.exe (1.2 GB) and steamwebhelper.exe (0.3 GB) are using the GPU"},
				{Code: idle.CodeFullScreen, Text: "A window is full screen: Cyberpunk 2077® v2.12 — Phantom Liberty (DX12, 3840×2160, HDR)"},
				{Code: idle.CodeTooHot, Text: "The GPU is at 87 °C, above your limit of 83 °C"},
				{Code: idle.CodeSchedule, Text: "Outside your serving hours (mon-fri 22:00-08:00; sat,sun 00:00-24:00)", Until: until},
				{Code: idle.CodePausedUntil, Text: "You paused serving until " + until.Format("Mon 15:04"), Until: until},
			}
			st.LastPause = &worker.PauseRecord{Took: 1830 * time.Millisecond, Reason: "Cyberpunk2077.exe (6.0 GB), obs64.exe (1.2 GB) and steamwebhelper.exe (0.3 GB) are using the GPU"}
			return newFakeCore(st)
		}},
		{name: "errors", core: func(string) *fakeCore {
			st := gpuOKStatus()
			st.State = worker.StateError
			st.Error = longError
			st.GPU.Devices[0].Errors = []string{"NVML: power readings are not supported on this card (ERROR_NOT_SUPPORTED)", "NVML: the process list failed: insufficient permissions to query other users' processes"}
			st.Ollama = ollama.Status{Mode: ollama.ModeManaged, Address: "http://127.0.0.1:11500", Restarts: 14, Error: longError}
			st.Network = worker.NetworkStatus{URL: "wss://proxy.cocoon-network.example.org:443/v1/worker", WorkerID: "9f3c2a7b6e5d4c3b2a19", Error: longNotice}
			st.DiskFull = "the ledger cannot be written: /home/owner/.local/share/cocoon-desktop/ledger.db: no space left on device"
			st.Placement = worker.Placement{Model: "llama3.2:1b", RunsOn: ollama.RunsOnCPU, Device: "NVIDIA GeForce RTX 4090", CPUReason: worker.CPUNoBackend,
				Warning: "Ollama found no GPU backend that works with this card (CUDA 12 needs driver 525 or newer; Vulkan found no device), so the model runs on the CPU."}
			st.Pulls = map[string]ollama.PullProgress{
				"qwen2.5:32b":  {Model: "qwen2.5:32b", Done: true, Err: "pull model manifest: Get \"https://registry.ollama.ai/v2/library/qwen2.5/manifests/32b\": dial tcp: lookup registry.ollama.ai on 127.0.0.53:53: server misbehaving"},
				"mistral:7b":   {Model: "mistral:7b", Done: true, Err: "write /home/owner/.local/share/cocoon-desktop/ollama/models/blobs/sha256-ff82381e2bea77d91c1b824c7afb83f6fb73e9f7de9dda631bcdbca564aa5435-partial-0: no space left on device"},
				"phi3:mini":    {Model: "phi3:mini", Status: "pulling ff82381e2bea", Completed: 820_000_000, Total: 2_200_000_000, Percent: 37.3, Rate: 25_400_000},
				longModel + "": {Model: longModel, Status: "pulling manifest", Completed: 0, Total: 0},
			}
			st.Earnings.Mismatch = "the network signed 12.5 TON for this computer but the ledger holds 11.25 TON: 3 receipts are missing and are being fetched again"
			f := newFakeCore(st)
			f.quoteErr = fmt.Errorf("worker: payouts: %s", longNotice)
			return f
		}, setup: func(v *mainView, wait func(string, func() bool)) {
			v.handleEvent(worker.Event{Type: worker.EventError, Time: time.Now(), Data: longNotice})
			v.refresh(v.core.Status())
		}},
		{name: "damaged ledger", core: func(string) *fakeCore {
			st := noDriverStatus()
			st.State = worker.StateError
			st.LedgerDamaged = "the earnings ledger /home/owner/.local/share/cocoon-desktop/ledger.db is damaged: page 1234 of bucket \"jobs\" has a bad checksum (file truncated by a crash or a full disk?)"
			st.Error = st.LedgerDamaged
			return newFakeCore(st)
		}},
		{name: "long model names", core: func(string) *fakeCore {
			st := gpuOKStatus()
			st.State = worker.StateServing
			st.Network = localNetwork()
			st.GPU.Devices[0].Name = "NVIDIA GeForce RTX 4090 Laptop GPU with Max-Q Design and a very long board name"
			st.GPU.Devices[0].ConfidentialCompute = true
			st.GPU.Devices = append(st.GPU.Devices, st.GPU.Devices[0], st.GPU.Devices[0])
			st.GPU.Devices[0].Processes = []gpu.Process{
				{PID: 1, Name: "Cyberpunk2077.exe", MemoryUsed: 6 << 30}, {PID: 2, Name: "obs64.exe", MemoryUsed: 1 << 30},
				{PID: 3, Name: "steamwebhelper.exe", MemoryUsed: 300 << 20}, {PID: 4, Name: "Discord.exe", MemoryUsed: 200 << 20},
			}
			st.Model = longModel
			st.Models = nil
			for i, n := range []string{longModel, "hf.co/TheBloke/Mixtral-8x22B-Instruct-v0.1-GGUF:Q5_K_M", "llama3.2:1b", "deepseek-r1:70b-llama-distill-q8_0", "qwen2.5-coder:32b-instruct-q6_K", "gemma2:27b-instruct-q8_0"} {
				st.Models = append(st.Models, ollama.Model{Name: n, Size: int64(i+1) * 17_000_000_000, Family: "llama", Parameters: "70.6B", Quant: "Q4_K_M",
					FitNote: "needs 42.5 GB of VRAM; 17 GB free after your 1024 MB reserve: runs partly on the CPU, slowly"})
			}
			st.Loaded = []ollama.Loaded{{Name: longModel, Size: 42_000_000_000, SizeVRAM: 17_000_000_000}}
			st.Jobs = worker.JobStats{Completed: 3, Tokens: 4096, Running: 1, LastModel: longModel, LastTokensPS: 3.2}
			st.Pulls = map[string]ollama.PullProgress{longModel + "-v2": {Model: longModel + "-v2", Status: "pulling 4c8a9f2e1b3d", Completed: 41_300_000_000, Total: 42_500_000_000, Percent: 97.2, Rate: 112_300_000}}
			st.Network.APIKey = "cocoon-local-" + strings.Repeat("9f3c2a7b6e5d4c3b", 4)
			return newFakeCore(st)
		}},
		{name: "big numbers", core: func(dir string) *fakeCore {
			st := gpuOKStatus()
			st.State = worker.StateServing
			st.Network = worker.NetworkStatus{URL: "wss://proxy.cocoon-network.example.org:443/v1/worker", Connected: true, WorkerID: "9f3c2a7b6e5d4c3b2a19"}
			st.Jobs = worker.JobStats{Completed: 1_234_567, Tokens: 98_765_432_101, Running: 12, LastModel: "llama3.2:1b", LastTokensPS: 12345.6}
			st.GPU.Devices[0].PowerW, st.GPU.Devices[0].PowerLimitW = 1187.5, 1450
			st.GPU.Devices[0].MemoryTotal, st.GPU.Devices[0].MemoryUsed = 192<<30, 187<<30
			now := time.Now()
			var jobs []testJob
			for i := range 120 { // more than the history shows
				d := i / 4
				jobs = append(jobs, testJob{at: now.AddDate(0, 0, -d).Add(-time.Duration(i+1) * time.Minute), model: "qwen2.5-coder:32b-instruct-q6_K", prompt: 1_000_000_000, completion: 7_000_000_000 + int64(d)*100_000_000, joules: 9_000_000})
			}
			l := layoutLedger(dir, jobs)
			f := newFakeCore(st)
			f.ledger = l
			f.quoteErr = nil
			f.quoteMin, f.quoteFee, f.quoteNet = 100_000_000, 5_000_000, ton.Mainnet
			f.settings.PayoutAddress = testAddressString()
			f.settings.TariffNanoPerKWh = 123_456_789
			id := "po-layout-1"
			if err := l.BeginPayout(earnings.Payout{ID: id, Amount: 1_234_567_891_234_567, Fee: 5_000_000, Destination: testAddressString()}); err != nil {
				panic(err)
			}
			if err := l.MarkFailed(id, "the wallet contract rejected the transfer: exit code 37 (not enough TON for the forward fee) after 3 attempts over 10 minutes"); err != nil {
				panic(err)
			}
			f.set(func(s *worker.Status) {
				s.Earned, s.Receipts = ledgerTotal(l)
				s.Earnings.Proxy = &network.Balance{Standing: &network.Standing{Level: network.TrustNew, CanariesPassed: 3, CanariesNeeded: 10,
					Held: 987_654_321_987_654, HeldUntil: now.Add(72 * time.Hour).UnixMilli(), DailyCap: 50_000_000_000_000, EarnedToday: 12_345_678_901_234},
					CommissionBPS: 1250, Prices: []network.ModelPrice{{Model: strings.TrimSuffix(s.Model, ":latest"), PricePrompt: 123_456_789, PriceCompletion: 987_654_321}}}
				s.Earnings.Rate = worker.EarnRate{Known: true, NanoPerHour: 123_456_789_012_345, Serving: 23*time.Hour + 59*time.Minute}
			})
			return f
		}, setup: func(v *mainView, wait func(string, func() bool)) {
			e := v.earn
			// A long currency name and big prices (a kWh in rupiah).
			if err := v.core.SetElectricity(&worker.Electricity{Currency: "Indonesian rupiah (IDR)", PerKWhMicro: 1_444_700_000, TONPriceMicro: 52_123_456_789}); err != nil {
				panic(err)
			}
			e.reloadNow()
			wait("the electricity price shown", func() bool { return strings.Contains(e.elecText.Text, "rupiah") && !e.loading })
			e.history.SelectIndex(1) // the payouts, one failed with its reason
		}},
		{name: "money words", core: func(dir string) *fakeCore {
			// A network that pays, with its fee and prices; energy not
			// measured on this card; below the minimum payout.
			st := noDriverStatus()
			st.State = worker.StateServing
			st.Network = worker.NetworkStatus{URL: "wss://proxy.cocoon-network.example.org:443/v1/worker", Connected: true, WorkerID: "9f3c2a7b6e5d4c3b2a19"}
			now := time.Now()
			l := layoutLedger(dir, []testJob{{at: now.Add(-3 * time.Minute), model: "llama3.2:1b", prompt: 2000, completion: 4000},
				{at: now.Add(-time.Minute), model: "llama3.2:1b", prompt: 1500, completion: 3000}})
			f := newFakeCore(st)
			f.ledger = l
			f.quoteErr = nil
			f.quoteMin, f.quoteFee, f.quoteNet = 1_000_000_000, 5_000_000, ton.Mainnet
			f.settings.PayoutAddress = testAddressString()
			f.settings.Electricity = &worker.Electricity{Currency: "EUR", PerKWhMicro: 310_000, TONPriceMicro: 3_100_000}
			f.settings.TariffNanoPerKWh = 100_000_000
			f.set(func(s *worker.Status) {
				s.Earned, s.Receipts = ledgerTotal(l)
				s.Earnings.Proxy = &network.Balance{Network: "mainnet", Payouts: true, CommissionBPS: 1000,
					Prices: []network.ModelPrice{{Model: "llama3.2:1b", PricePrompt: 50, PriceCompletion: 200}, {Model: "tiny-llama:test", PricePrompt: 1, PriceCompletion: 4}}}
				s.Earnings.Rate = worker.EarnRate{Known: true, NanoPerHour: 212_345_678, Serving: 3*time.Hour + 20*time.Minute}
			})
			return f
		}},
		{name: "tiny amounts", core: func(dir string) *fakeCore {
			st := noDriverStatus()
			st.State = worker.StateServing
			st.Network = localNetwork()
			l := layoutLedger(dir, []testJob{{at: time.Now().Add(-time.Minute), prompt: 1, completion: 10}})
			f := newFakeCore(st)
			f.ledger = l
			f.set(func(s *worker.Status) { s.Earned, s.Receipts = ledgerTotal(l) })
			return f
		}},
		{name: "settings problems", core: func(string) *fakeCore { return newFakeCore(noDriverStatus()) },
			setup: func(v *mainView, wait func(string, func() bool)) {
				s := v.set
				s.idleEntry.SetText("soon")
				s.schedEntry.SetText("weekdays after dinner until the early morning, and all weekend long, unless a game is running")
				s.tempEntry.SetText("83.5")
				s.powerEntry.SetText("lots")
				s.vramEntry.SetText("-1024")
				s.addrEntry.SetText("UQ-this-is-not-a-ton-address-at-all-it-is-far-too-long-to-be-one-of-them")
				s.tariffEntry.SetText("0.05 per kWh during the day, 0.02 at night")
				s.currencyEntry.SetText("Zimbabwean dollars of the 2009 series")
				s.tonPriceEntry.SetText("about three and a half")
				s.save()
				wait("the bad settings reported", func() bool { return s.status.Visible() && s.msgs[worker.FieldIdleMinutes].Visible() })
			}},
		// The Networks tab (networks_view.go): an invite refused, a preview
		// with long names and many models, a joined network far away.
		{name: "networks, bad invite", core: func(string) *fakeCore {
			st := gpuOKStatus()
			st.Network = localNetwork()
			return newFakeCore(st)
		}, setup: func(v *mainView, wait func(string, func() bool)) {
			v.nets.entry.SetText("cocoon://join?url=wss%3A%2F%2Fproxy.cocoon-network.example.org%3A443%2Fv1%2Fworker&key=" + strings.Repeat("ab", 31))
			v.nets.preview()
			wait("the problem shown", func() bool { return v.nets.problem.Visible() })
		}},
		{name: "networks, preview", core: func(string) *fakeCore {
			st := gpuOKStatus()
			st.Network = localNetwork()
			return newFakeCore(st)
		}, setup: func(v *mainView, wait func(string, func() bool)) {
			inv := network.Invite{URL: "wss://proxy.cocoon-network.example.org:443/v1/worker", ProxyKey: make([]byte, 32), Name: strings.Repeat("Very Long Network Name ", 3)[:64]}
			info := network.NetworkInfo{Name: inv.Name, ProtocolVersion: network.ProtocolVersion, CommissionBPS: 1234, Payouts: true, TONNetwork: "mainnet"}
			for i := range 12 {
				info.Prices = append(info.Prices, network.ModelPrice{Model: fmt.Sprintf("%s-%d", longModel, i), PricePrompt: 9_000_000_000_000, PriceCompletion: 123_456_789_012})
			}
			v.nets.entry.SetText(inv.String())
			v.nets.showCard(inv, info)
			wait("the preview shown", func() bool { return v.nets.card.Visible() })
		}},
		{name: "networks, joined", core: func(string) *fakeCore {
			st := gpuOKStatus()
			st.State = worker.StateWaiting
			st.Network = worker.NetworkStatus{URL: "wss://proxy.cocoon-network.example.org:443/v1/worker", Name: strings.Repeat("Very Long Network Name ", 3)[:64],
				WorkerID: "9f3c2a7b6e5d4c3b2a19", Error: longNotice}
			return newFakeCore(st)
		}},
		settlementLayoutCase(), // settlement_view_test.go
	}
}

func localNetwork() worker.NetworkStatus {
	return worker.NetworkStatus{Local: true, URL: "wss://127.0.0.1:4000/v1/worker", Connected: true, WorkerID: "ab12cd34ef56aa77bb88",
		APIURL: "http://127.0.0.1:8484/v1", APIKey: "cocoon-local-9f3c2a7b6e5d4c3b"}
}

func testAddressString() string {
	a, err := ton.ParseAddress("0:"+strings.Repeat("3f", 32), ton.Mainnet)
	if err != nil {
		panic(err)
	}
	return a.String()
}

// layoutLedger is a ledger in dir holding jobs, signed like the proxy's receipts.
func layoutLedger(dir string, jobs []testJob) *earnings.Ledger {
	l, err := earnings.Open(filepath.Join(dir, "ledger.db"),
		earnings.Options{ProxyKey: testProxyKey.Public().(ed25519.PublicKey), WorkerID: "w-test"})
	if err != nil {
		panic(err)
	}
	var cum int64
	for i, j := range jobs {
		if j.model == "" {
			j.model = "llama3.2:1b"
		}
		amount, err := receipt.Amount(j.prompt, j.completion, 5000, 15000, 1000, 1000)
		if err != nil {
			panic(err)
		}
		cum += amount
		r := receipt.Receipt{JobID: fmt.Sprintf("job-%d", i+1), WorkerID: "w-test", Model: j.model,
			PromptTokens: j.prompt, CompletionTokens: j.completion, PricePrompt: 5000, PriceCompletion: 15000,
			CoefficientMilli: 1000, CommissionBPS: 1000, Amount: amount, Cumulative: cum, Seq: int64(i + 1), Time: j.at.UnixMilli()}
		s := receipt.Sign(testProxyKey, r)
		if j.joules > 0 {
			_, err = l.CreditWithEnergy(s, j.joules)
		} else {
			_, err = l.Credit(s)
		}
		if err != nil {
			panic(err)
		}
	}
	return l
}

func ledgerTotal(l *earnings.Ledger) (int64, int) {
	cum, n, err := l.Totals()
	if err != nil {
		panic(err)
	}
	return cum, n
}

// newLayoutView is newTestView with Fyne's own theme (the sizes people
// see) at a given window size; it waits for the Earnings tab's first read.
func newLayoutView(t *testing.T, core *fakeCore, size fyne.Size) (*mainView, fyne.Window, uiQueue) {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(theme.DefaultTheme())
	w := test.NewWindow(nil)
	t.Cleanup(w.Close)
	v := newMainView(core, w)
	q := make(uiQueue, 64)
	v.do = q.do
	w.SetContent(v.content)
	w.Resize(size)
	v.refresh(core.Status())
	q.runUntil(t, "the earnings read", func() bool { return !v.earn.loading })
	return v, w, q
}

func TestLayout(t *testing.T) {
	// Where the tab row sits in the plainest state, per window size: it
	// must not move when banners come and go. The window's minimum size
	// must not change either.
	tabsAt := map[string]fyne.Position{}
	var winMin *fyne.Size
	for _, sz := range layoutSizes {
		for _, tc := range layoutCases() {
			t.Run(sz.name+"/"+tc.name, func(t *testing.T) {
				core := tc.core(t.TempDir())
				if l := core.theLedger(); l != nil {
					t.Cleanup(func() { l.Close() })
				}
				v, w, q := newLayoutView(t, core, sz.size)
				if tc.setup != nil {
					tc.setup(v, func(what string, cond func() bool) { q.runUntil(t, what, cond) })
				}
				for i, tab := range v.tabs.Items {
					v.tabs.SelectIndex(i)
					settle(w, sz.size)
					problems := layoutProblems(w)
					if m := windowMinSize(w); winMin == nil {
						winMin = &m
					} else if m != *winMin {
						problems = append(problems, fmt.Sprintf("the window's minimum size changed from %.0f×%.0f to %.0f×%.0f", winMin.Width, winMin.Height, m.Width, m.Height))
					}
					tabs := absPos(v.tabs, w.Canvas().Content())
					if first, ok := tabsAt[sz.name]; !ok {
						tabsAt[sz.name] = tabs
					} else if tabs != first {
						problems = append(problems, fmt.Sprintf("the tab row moved from %v to %v", first, tabs))
					}
					if len(problems) > 0 {
						const most = 12
						more := ""
						if len(problems) > most {
							more = fmt.Sprintf("\n  … and %d more", len(problems)-most)
							problems = problems[:most]
						}
						t.Errorf("%s tab: %d problems:\n  %s%s", tab.Text, len(problems), strings.Join(problems, "\n  "), more)
					}
				}
			})
		}
	}
}

// settle lays the window out at size a few times over, as a real window
// does as the minimum sizes of what it shows settle (a wrapping label's
// height follows the width it was given).
func settle(w fyne.Window, size fyne.Size) {
	for range 2 {
		w.Resize(size.SubtractWidthHeight(1, 1))
		w.Resize(size)
	}
}

// windowMinSize is the minimum size the window asks of the window
// manager: its content's, plus the window's padding (the real window is
// padded too).
func windowMinSize(w fyne.Window) fyne.Size {
	pad := 2 * theme.Padding()
	return w.Canvas().Content().MinSize().AddWidthHeight(pad, pad)
}

// frameOf is the scroll container the window's content may wrap its body
// in (so that a window smaller than the body scrolls), or nil.
func frameOf(w fyne.Window) *container.Scroll {
	c, ok := w.Canvas().Content().(*fyne.Container)
	if !ok || len(c.Objects) == 0 {
		return nil
	}
	sc, _ := c.Objects[0].(*container.Scroll)
	return sc
}

// layoutProblems lists what is wrong with the window's layout now.
func layoutProblems(w fyne.Window) []string {
	var out []string
	over := func(what string, m fyne.Size) {
		if m.Width > maxWindowMin.Width || m.Height > maxWindowMin.Height {
			out = append(out, fmt.Sprintf("%s is %.0f×%.0f, more than %.0f×%.0f", what, m.Width, m.Height, maxWindowMin.Width, maxWindowMin.Height))
		}
	}
	pad := 2 * theme.Padding()
	over("the window's minimum size", windowMinSize(w))
	frame := frameOf(w)
	if frame != nil { // at 1024×640 and more, the window as a whole never scrolls
		over("the room the window's body needs", frame.Content.MinSize().AddWidthHeight(pad, pad))
	}
	size := w.Canvas().Size()
	win := rect{0, 0, size.Width, size.Height}
	walkLayout(w.Canvas().Content(), fyne.Position{}, win, "", nil, frame, func(o fyne.CanvasObject, r, clip rect, path string, anc []fyne.CanvasObject) {
		out = append(out, objectProblems(o, r, clip, path, anc)...)
	})
	return out
}

// rect is an area of the window; a clip may be unbounded (±Inf) along a
// scroll's direction.
type rect struct{ x0, y0, x1, y1 float32 }

func (r rect) String() string {
	f := func(x float32) string {
		if math.IsInf(float64(x), 0) {
			return "∞"
		}
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("(%s,%s)-(%s,%s)", f(r.x0), f(r.y0), f(r.x1), f(r.y1))
}

// inside reports whether r lies within c, to half a pixel.
func (r rect) inside(c rect) bool {
	const e = 0.5
	return r.x0 >= c.x0-e && r.y0 >= c.y0-e && r.x1 <= c.x1+e && r.y1 <= c.y1+e
}

// walkLayout visits every visible object under o with its area in the
// window, the area it may draw in and its ancestors: the area is the
// window, narrowed to a scroll container's view across its scrolling
// direction (along it, content beyond the view is what scrolling is for).
// The frame, the scroll around the whole window, is no exception: at the
// sizes tested its content must fit.
func walkLayout(o fyne.CanvasObject, origin fyne.Position, clip rect, path string, anc []fyne.CanvasObject, frame fyne.CanvasObject,
	visit func(o fyne.CanvasObject, r, clip rect, path string, anc []fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	p := origin.Add(o.Position())
	s := o.Size()
	r := rect{p.X, p.Y, p.X + s.Width, p.Y + s.Height}
	path += "/" + objectName(o)
	visit(o, r, clip, path, anc)
	var kids []fyne.CanvasObject
	switch x := o.(type) {
	case *fyne.Container:
		kids = x.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(x).Objects()
	}
	if sc, ok := o.(*container.Scroll); ok && o != frame {
		inf := float32(math.Inf(1))
		switch sc.Direction {
		case container.ScrollVerticalOnly:
			clip = rect{max(clip.x0, r.x0), -inf, min(clip.x1, r.x1), inf}
		case container.ScrollHorizontalOnly:
			clip = rect{-inf, max(clip.y0, r.y0), inf, min(clip.y1, r.y1)}
		case container.ScrollBoth:
			clip = rect{-inf, -inf, inf, inf}
		}
	}
	anc = append(anc[:len(anc):len(anc)], o)
	for _, k := range kids {
		walkLayout(k, p, clip, path, anc, frame, visit)
	}
}

// tipper is content that shows its full text in a tooltip when cut.
type tipper interface {
	tipText() (text string, cut bool)
}

// objectProblems is what is wrong with one object at r.
func objectProblems(o fyne.CanvasObject, r, clip rect, path string, anc []fyne.CanvasObject) []string {
	var out []string
	what := describe(o, path)
	if _, line := o.(*canvas.Line); line {
		return nil // drawn between its two points, not in its box
	}
	if !r.inside(clip) {
		out = append(out, fmt.Sprintf("%s lies at %v, outside %v", what, r, clip))
	}
	if _, ok := o.(*dimLabel); ok {
		out = append(out, fmt.Sprintf("%s is a dimLabel placed itself: it gets a renderer of its own that is drawn but not updated (place its RichText)", what))
	}
	switch x := o.(type) {
	case *canvas.Text:
		if x.Text == "" {
			break
		}
		tw := fyne.MeasureText(x.Text, x.TextSize, x.TextStyle).Width
		if w := r.x1 - r.x0; tw > w+1 {
			out = append(out, fmt.Sprintf("%s is cut: %.0f px of text in %.0f px", what, tw, w))
		}
		if strings.HasSuffix(x.Text, "…") && !endsInEllipsis[x.Text] {
			if p := tooltipProblem(x.Text, anc); p != "" {
				out = append(out, fmt.Sprintf("%s is cut with \"…\" and %s", what, p))
			}
		}
	case *fyne.Container, fyne.Widget:
		if strings.Contains(path, "/Table/") {
			break // a table lays out its own cells (and scrolls)
		}
		m := o.MinSize()
		if w, h := r.x1-r.x0, r.y1-r.y0; w+0.5 < m.Width || h+0.5 < m.Height {
			out = append(out, fmt.Sprintf("%s is squeezed to %.0f×%.0f, below its minimum %.0f×%.0f", what, w, h, m.Width, m.Height))
		}
	}
	return out
}

// tooltipProblem says what is wrong with the tooltip of a text shown cut
// (""when it has one with the whole text).
func tooltipProblem(shown string, anc []fyne.CanvasObject) string {
	for i := len(anc) - 1; i >= 0; i-- {
		tp, ok := anc[i].(tipper)
		if !ok {
			continue
		}
		full, cut := tp.tipText()
		switch {
		case !cut:
			return fmt.Sprintf("its tooltip would not show (it does not know it is cut; full text %q)", full)
		case !strings.Contains(words(full), words(strings.TrimSuffix(shown, "…"))):
			return fmt.Sprintf("its tooltip has other words: %q", full)
		}
		return ""
	}
	return "has no tooltip with the whole text"
}

// words is s without separators and line breaks, one space between words.
func words(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("·", " ", "•", " ").Replace(s)), " ")
}

// endsInEllipsis are our own words that end in "…" (buttons that open a
// dialog, states in progress): not truncated.
var endsInEllipsis = map[string]bool{
	"Checking…": true, "Starting…": true, "Stopping…": true, "Rebuild ledger…": true,
	"Export CSV…": true,
}

func describe(o fyne.CanvasObject, path string) string {
	if len(path) > 90 {
		path = "…" + path[len(path)-89:]
	}
	switch x := o.(type) {
	case *canvas.Text:
		return fmt.Sprintf("text %q (%s)", x.Text, path)
	case *widget.Label:
		return fmt.Sprintf("label %q (%s)", x.Text, path)
	case *widget.Button:
		return fmt.Sprintf("button %q (%s)", x.Text, path)
	}
	return path
}

func objectName(o fyne.CanvasObject) string {
	t := reflect.TypeOf(o)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// absPos is o's position in the window's content.
func absPos(o, root fyne.CanvasObject) fyne.Position {
	var found fyne.Position
	walkLayout(root, fyne.Position{}, rect{}, "", nil, nil, func(x fyne.CanvasObject, r, _ rect, _ string, _ []fyne.CanvasObject) {
		if x == o {
			found = fyne.NewPos(r.x0, r.y0)
		}
	})
	return found
}
