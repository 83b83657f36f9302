package app

import (
	"strings"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/idle"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
	"github.com/cocoon-desktop/cocoon-desktop/worker"
)

func TestExplainStanding(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.Local)
	until := now.Add(2 * time.Hour).UnixMilli()
	tests := []struct {
		name      string
		s         *network.Standing
		wantOK    bool
		level     whyLevel
		wantWords []string
	}{
		{"no standing kept", nil, false, 0, nil},
		{"new, held and capped", &network.Standing{Level: network.TrustNew, CanariesPassed: 3, CanariesNeeded: 10,
			Held: 1_500_000_000, HeldUntil: until, DailyCap: 5_000_000_000, EarnedToday: 2_000_000_000}, true, whyInfo,
			[]string{"3 of 10 passed", "1.5 TON of your earnings is held until Today 14:00", "at most 5 TON a day (today 2 TON)"}},
		{"new, nothing held", &network.Standing{Level: network.TrustNew, CanariesPassed: 1, CanariesNeeded: 10}, true, whyInfo,
			[]string{"New on this network\n", "1 of 10 passed", "keep sharing."}},
		{"trusted, nothing held", &network.Standing{Level: network.TrustTrusted, CanariesPassed: 12, CanariesNeeded: 10}, true, whyGood,
			[]string{"passed 12 check jobs", "not held"}},
		{"trusted, an old hold left", &network.Standing{Level: network.TrustTrusted, CanariesPassed: 12, Held: 250_000_000, HeldUntil: until}, true, whyGood,
			[]string{"0.25 TON of your earnings is held until Today 14:00"}},
		{"quarantined with the proxy's reason", &network.Standing{Level: network.TrustQuarantined, CanariesPassed: 2, CanariesFailed: 3,
			Held: 4_000_000_000, Reason: "3 check jobs answered with text the model did not produce."}, true, whyProblem,
			[]string{"3 check jobs answered with text the model did not produce (2 check jobs passed, 3 failed).",
				"4 TON of your earnings is held until the network's operator", "download it again"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, ok := explainStanding(tc.s, now)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if w.Level != tc.level {
				t.Errorf("level = %v, want %v", w.Level, tc.level)
			}
			all := w.Title + "\n" + w.Detail + "\n" + w.Fix
			for _, s := range tc.wantWords {
				if !strings.Contains(all, s) {
					t.Errorf("words lack %q:\n%s", s, all)
				}
			}
		})
	}
}

// TestWhyShowsStanding: quarantine and a reached daily cap block earning
// and say so; a new computer's hold is a note; a trusted one adds nothing.
func TestWhyShowsStanding(t *testing.T) {
	tests := []struct {
		name  string
		s     *network.Standing
		want  idle.ReasonCode // reason code present, "" none of the three
		level whyLevel
	}{
		{"quarantined", &network.Standing{Level: network.TrustQuarantined, CanariesFailed: 3}, whyQuarantined, whyBlocked},
		{"new, cap reached", &network.Standing{Level: network.TrustNew, CanariesNeeded: 10, DailyCap: 100, EarnedToday: 100}, whyDailyCap, whyBlocked},
		{"new, under the cap", &network.Standing{Level: network.TrustNew, CanariesNeeded: 10, DailyCap: 100, EarnedToday: 99}, whyNewHeld, whyInfo},
		{"trusted", &network.Standing{Level: network.TrustTrusted}, "", 0},
		{"new, nothing held, no cap", &network.Standing{Level: network.TrustNew, CanariesNeeded: 10}, "", 0},
		{"no standing", nil, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := noDriverStatus()
			st.Network.URL, st.Network.Connected = "wss://proxy.example/v1/worker", true
			st.Earnings.Proxy = &network.Balance{Network: "mainnet", Standing: tc.s}
			got := explainWhy(whyFacts{Status: st, Now: time.Now(), JobsAtServe: -1, PayoutAddress: "UQ…"})
			var found *why
			for i, w := range got {
				switch w.Code {
				case whyQuarantined, whyDailyCap, whyNewHeld:
					if found != nil {
						t.Errorf("two standing reasons: %s and %s", found.Code, w.Code)
					}
					found = &got[i]
				}
			}
			switch {
			case tc.want == "" && found != nil:
				t.Errorf("unexpected reason %s: %s", found.Code, found.Title)
			case tc.want != "" && found == nil:
				t.Errorf("no %s reason in %+v", tc.want, got)
			case found != nil && (found.Code != tc.want || found.Level != tc.level):
				t.Errorf("reason %s level %v, want %s level %v", found.Code, found.Level, tc.want, tc.level)
			}
		})
	}
}

// TestEarningsHeldByNetwork: what the network holds is shown, taken out of
// what can be withdrawn.
func TestEarningsHeldByNetwork(t *testing.T) {
	f, tl := earningsFake(t)
	f.settings.PayoutAddress = testAddress(t, ton.Mainnet).String()
	tl.credit(testJob{at: time.Now(), prompt: 50_000, completion: 80_000}) // 1.305 TON
	bal, _ := tl.l.Balance()
	const held = 1_000_000_000
	f.set(func(st *worker.Status) {
		st.Network.URL, st.Network.Connected = "wss://proxy.example/v1/worker", true
		st.Earnings.Proxy = &network.Balance{Cumulative: bal.Earned, Network: "mainnet", Payouts: true,
			Standing: &network.Standing{Level: network.TrustNew, CanariesPassed: 1, CanariesNeeded: 5, Held: held,
				HeldUntil: time.Now().Add(48 * time.Hour).UnixMilli()}}
	})
	v, _, _ := newTestView(t, f)
	e := v.earn
	if !e.standingRow.Visible() || !strings.Contains(e.standingText.Text, "1 of 5 passed") ||
		!strings.Contains(e.standingText.Text, "1 TON of your earnings is held until") {
		t.Errorf("standing row visible=%v title %q text %q", e.standingRow.Visible(), e.standingTitle.Text, e.standingText.Text)
	}
	payable := bal.Available - held
	if got, want := e.cardAvail.value.Text, ton.Format(payable)+" TON"; got != want {
		t.Errorf("available card = %q, want %q", got, want)
	}
	if got := e.cardAvail.sub.text(); !strings.Contains(got, "1 TON more held by the network") {
		t.Errorf("available sub = %q", got)
	}
	// The whole balance held: nothing is withdrawable now, and it says why.
	f.set(func(st *worker.Status) { st.Earnings.Proxy.Standing.Held = bal.Available })
	e.refreshStatus(f.Status())
	if got := e.cardAvail.sub.text(); e.cardAvail.value.Text != "0 TON" || !strings.Contains(got, "all of it held by the network") {
		t.Errorf("all held: available %q, sub %q", e.cardAvail.value.Text, got)
	}

	// No standing (a proxy that keeps none): the row goes, nothing is held.
	f.set(func(st *worker.Status) { st.Earnings.Proxy.Standing = nil })
	e.refreshStatus(f.Status())
	if e.standingRow.Visible() || e.cardAvail.value.Text != ton.Format(bal.Available)+" TON" {
		t.Errorf("without standing: row visible=%v, available %q", e.standingRow.Visible(), e.cardAvail.value.Text)
	}
}
