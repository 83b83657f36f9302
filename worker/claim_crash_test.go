package worker

import (
	"crypto/ed25519"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/earnings"
	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/ton/escrow"
)

// TestClaimSurvivesAppCrashes kills the app (stops its core at once) at
// each step of a claim, crashRounds times each, restarts it on the same
// data dir, and checks that every claim is confirmed after the restart,
// that the escrow paid each voucher's difference exactly once (the owner
// holds the vouched total less one fee per claim), and that the ledger's
// claims sum to the escrow's paid total: nothing claimed twice, nothing lost.
func TestClaimSurvivesAppCrashes(t *testing.T) {
	e := newSettleEnv(t, 9*time.Minute)
	killPoints := []struct {
		name string
		set  func(*Core, *atomic.Bool)
	}{
		{"after recording, before sending", func(c *Core, dead *atomic.Bool) {
			c.claimHooks.afterRecord = func() bool { dead.Store(true); return true }
		}},
		{"after sending, before the ledger knows", func(c *Core, dead *atomic.Bool) {
			c.claimHooks.afterSend = func() bool { dead.Store(true); return true }
		}},
	}
	claims := 0
	var vouched int64
	for _, kp := range killPoints {
		t.Run(kp.name, func(t *testing.T) {
			for round := 0; round < crashRounds; round++ {
				var dead atomic.Bool
				r := e.start(func(c *Core) { kp.set(c, &dead) })
				v := e.earn(r, 1)
				cl, err := r.core.Claim(e.ctx)
				if err != nil {
					t.Fatalf("round %d: claim: %v", round, err)
				}
				if !dead.Load() || cl.State != earnings.ClaimPending {
					t.Fatalf("round %d: the kill point was not reached (claim %+v)", round, cl)
				}
				r.stop() // the app dies here

				r = e.start(nil) // and comes back on the same data dir
				waitFor(t, fmt.Sprintf("round %d: the claim of %d confirmed after the restart", round, v.Cumulative), func() bool {
					st, err := r.core.Settlement()
					return err == nil && st.Pending == 0 && st.PaidOnChain == v.Cumulative
				})
				r.stop()
				claims++
				vouched = v.Cumulative
			}
		})
	}
	fee := int64(escrow.DefaultClaimFee)
	if got := e.ownerBalance(); got > vouched-int64(claims)*fee || got < vouched-int64(claims)*(fee+100) {
		t.Fatalf("owner holds %d nanoTON after %d claims of %d in all, want %d (each difference paid once)",
			got, claims, vouched, vouched-int64(claims)*fee)
	}
	r := e.start(nil)
	defer r.stop()
	l := r.core.led()
	cs, err := l.Claims(0)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, c := range cs {
		if c.State != earnings.ClaimConfirmed {
			t.Fatalf("claim %+v not confirmed", c)
		}
		sum += c.Amount
	}
	if len(cs) != claims || sum != vouched {
		t.Fatalf("ledger: %d claims summing to %d, want %d summing to %d", len(cs), sum, claims, vouched)
	}
	if rep, err := r.core.VerifyLedger(); err != nil || !rep.OK() {
		t.Fatalf("ledger does not verify after the crashes: %+v %v", rep, err)
	}
	t.Logf("%d claims across %d app crashes: each paid once; ledger and escrow agree on %d nanoTON", claims, claims, vouched)
}

// crashRounds is how many times each kill point of a claim is hit.
const crashRounds = 20

func mustKey(t *testing.T, dir string) ed25519.PublicKey {
	k, err := network.LoadOrCreateKey(dir + "/keys/worker.key")
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().(ed25519.PublicKey)
}
