package proxy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

func testJob(id, worker string, prompt, completion int64) JobRecord {
	j := JobRecord{JobID: id, WorkerID: worker, Model: "m", PromptTokens: prompt, CompletionTokens: completion,
		PricePrompt: 100, PriceCompletion: 1000, CoefficientMilli: 1000, CommissionBPS: 1000,
		KeyDigest: KeyDigest("k"), KeyName: "app", Time: time.Now()}
	j.Amount, _ = receipt.Amount(prompt, completion, 100, 1000, 1000, 1000)
	j.Gross, _ = receipt.Amount(prompt, completion, 100, 1000, 1000, 0)
	return j
}

func TestBoltStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(r receipt.Receipt) receipt.Signed { return receipt.Sign(key, r) }
	s, err := OpenBoltStore(dir, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TouchWorker(ctx, "w1", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		job         JobRecord
		wantCreated bool
		wantCum     int64
		wantSeq     int64
	}{
		{"first job", testJob("j1", "w1", 10, 3), true, 3600, 1},
		{"second job", testJob("j2", "w1", 0, 10), true, 3600 + 9000, 2},
		{"same job again is not credited", testJob("j1", "w1", 10, 3), false, 3600, 1},
		{"other worker", testJob("j3", "w2", 1, 0), true, 90, 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r, created, err := s.RecordJob(ctx, st.job, sign)
			if err != nil {
				t.Fatal(err)
			}
			if created != st.wantCreated || r.Receipt.Cumulative != st.wantCum || r.Receipt.Seq != st.wantSeq {
				t.Errorf("created=%v cum=%d seq=%d, want %v %d %d", created, r.Receipt.Cumulative, r.Receipt.Seq, st.wantCreated, st.wantCum, st.wantSeq)
			}
			if err := r.Verify(key.Public().(ed25519.PublicKey)); err != nil {
				t.Error(err)
			}
		})
	}
	bad := testJob("j4", "w1", 1, 1)
	bad.Amount++
	if _, _, err := s.RecordJob(ctx, bad, sign); err == nil {
		t.Error("a job whose amount does not match its factors was recorded")
	}
	w, ok, err := s.Worker(ctx, "w1")
	if err != nil || !ok || w.Cumulative != 12600 || w.LastSeq != 2 || w.FirstSeen.IsZero() {
		t.Fatalf("worker w1 = %+v %v %v", w, ok, err)
	}
	rs, err := s.Receipts(ctx, "w1", 0, 0)
	if err != nil || len(rs) != 2 || rs[0].Receipt.JobID != "j1" || rs[1].Receipt.JobID != "j2" {
		t.Fatalf("receipts = %+v, %v", rs, err)
	}
	if rs, _ := s.Receipts(ctx, "w1", 1, 0); len(rs) != 1 || rs[0].Receipt.Seq != 2 {
		t.Errorf("receipts after seq 1 = %+v", rs)
	}
	u, err := s.Usage(ctx, KeyDigest("k"))
	if err != nil || u.Requests != 3 || u.PromptTokens != 11 || u.CompletionTokens != 13 || u.Cost != 4000+10000+100 {
		t.Errorf("usage = %+v %v", u, err)
	}
	tot, _ := s.Totals(ctx)
	if tot.Jobs != 3 || tot.PaidToWorkers != 12690 || tot.Charged != 14100 || tot.Commission != 1410 {
		t.Errorf("totals = %+v", tot)
	}

	// A second opener gives up after its lock timeout with a clear error
	// (bounded generously: a hang check, not a timing assertion).
	second := make(chan error, 1)
	go func() {
		_, err := OpenBoltStore(dir, 50*time.Millisecond)
		second <- err
	}()
	select {
	case err := <-second:
		if !errors.Is(err, ErrStoreLocked) {
			t.Errorf("second open: %v, want ErrStoreLocked", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a second open of a store in use still waits after 30 s; it must fail with ErrStoreLocked")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopen: everything is still there.
	s2, err := OpenBoltStore(dir, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if w, _, _ := s2.Worker(ctx, "w1"); w.Cumulative != 12600 {
		t.Errorf("after reopen cumulative = %d", w.Cumulative)
	}
	if r, ok, _ := s2.Receipt(ctx, "j2"); !ok || r.Receipt.Seq != 2 {
		t.Errorf("after reopen receipt j2 = %+v %v", r, ok)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Error("the key changed between loads")
	}
	st, err := osStat(dir + "/" + KeyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", st.Mode().Perm(), err)
	}
	if err := osChmod(dir+"/"+KeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(dir); err == nil {
		t.Error("a world-readable key was accepted")
	}
}

var (
	osStat  = os.Stat
	osChmod = os.Chmod
)
