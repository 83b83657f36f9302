package proxy

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
	"github.com/cocoon-desktop/cocoon-desktop/ton"
)

// Trust without a TEE (docs/trust.md): every worker has a trust record in
// the store (trust_store.go). The checks of the other parts report to it
// through three hooks — noteMetering, strike and noteCanary — and it
// decides, from the record and TrustConfig:
//
//   - the level: new until it has passed CanariesToTrust canaries, then
//     trusted; quarantined once its failure points within FailureWindow
//     reach QuarantineAfter (a failed canary or a strike is one point, a
//     token count over the proxy's own plus the tolerance half a point);
//     only an operator lifts a quarantine (ReleaseQuarantine);
//   - what is held: a new worker's credits until credit time + HoldPeriod,
//     a quarantined worker's whole unpaid balance; payouts never take held
//     money (BeginPayout checks it in its transaction);
//   - who gets client jobs: not a quarantined worker, nor a new worker
//     that earned NewDailyCap today (until 00:00 UTC).
//
// The worker hears its standing in every balance message and in a fresh
// one whenever the standing changes.

// Defaults of TrustConfig. DefaultTrustConfig (what a config file gets)
// holds new workers' earnings; the zero TrustConfig (DefaultConfig:
// embedded proxies, the local network, tests) does not hold nor cap them.
const (
	DefaultQuarantineAfter     = 3
	DefaultFailureWindow       = 7 * 24 * time.Hour
	DefaultCanariesToTrust     = 10
	DefaultHoldPeriod          = 72 * time.Hour
	DefaultNewDailyCap         = 10_000_000_000 // 10 TON
	DefaultMaxCoefficientMilli = 3000           // 3.0×
)

// Limits checked by TrustConfig.validate.
const (
	maxQuarantineAfter  = maxTrustEvents / 2 // every counted failure must fit in the record's evidence
	maxCanariesToTrust  = 1_000_000
	maxTrustPeriod      = 365 * 24 * time.Hour
	maxTrustedWorkers   = 10_000
	protocolMaxCoeff    = 100_000 // network.Register's limit
	holdGranularityDivs = 48      // hold release times are rounded up to HoldPeriod/48
	// tallyFlushEvery: harmless metering disagreements are counted in
	// memory and stored with the worker's next trust write, at disconnect,
	// or every this many, so an honest worker whose runtime counts a token
	// differently does not cost a disk write per job.
	tallyFlushEvery = 64
	// trustRetry is when a worker whose trust record could not be read is
	// looked at again (it gets no client jobs meanwhile).
	trustRetry = 5 * time.Second
)

// TrustConfig is the operator's trust policy (config file: "trust").
type TrustConfig struct {
	// QuarantineAfter (K) is how many failure points within FailureWindow
	// quarantine a worker: a failed canary or a strike counts 1, a token
	// count over the proxy's own plus the tolerance ½. 0: 3.
	QuarantineAfter int
	// FailureWindow is how far back failures count. 0: 7 days.
	FailureWindow time.Duration
	// CanariesToTrust (N) is how many passed canaries make a new worker
	// trusted. 0: 10.
	CanariesToTrust int
	// HoldPeriod holds each credit of a new worker until credit time +
	// HoldPeriod (rounded up to HoldPeriod/48). 0: not held.
	HoldPeriod time.Duration
	// NewDailyCap is the nanoTON a new worker may earn per UTC day; past it
	// it gets no client jobs until the next day (canaries still go to it).
	// 0: no cap.
	NewDailyCap int64
	// MaxCoefficientMilli is the highest price coefficient (× 1000) a worker
	// may charge: a registration above it is priced at it and the worker is
	// told so in an error message. 0: the protocol's 100 000.
	MaxCoefficientMilli int64
	// TrustedWorkers are worker ids (hex keys) the operator vouches for:
	// trusted from the start (canary references, the operator's own rigs).
	// They can still be quarantined.
	TrustedWorkers []string
}

// DefaultTrustConfig is the policy for a public proxy: what a config file
// gets for every field it does not set.
func DefaultTrustConfig() TrustConfig {
	return TrustConfig{
		QuarantineAfter:     DefaultQuarantineAfter,
		FailureWindow:       DefaultFailureWindow,
		CanariesToTrust:     DefaultCanariesToTrust,
		HoldPeriod:          DefaultHoldPeriod,
		NewDailyCap:         DefaultNewDailyCap,
		MaxCoefficientMilli: DefaultMaxCoefficientMilli,
	}
}

// fileTrustConfig is the JSON form of TrustConfig ("trust" in the config
// file). Absent fields keep DefaultTrustConfig's value.
type fileTrustConfig struct {
	QuarantineAfter     *int     `json:"quarantine_after"`
	FailureWindow       *string  `json:"failure_window"`
	CanariesToTrust     *int     `json:"canaries_to_trust"`
	HoldPeriod          *string  `json:"hold_period"`
	NewDailyCap         *int64   `json:"new_daily_cap"`
	MaxCoefficientMilli *int64   `json:"max_coefficient_milli"`
	TrustedWorkers      []string `json:"trusted_workers"`
}

// parseTrustConfig turns the file's "trust" object (nil: absent) into a
// TrustConfig on top of DefaultTrustConfig.
func parseTrustConfig(f *fileTrustConfig) (TrustConfig, error) {
	c := DefaultTrustConfig()
	if f == nil {
		return c, nil
	}
	if f.QuarantineAfter != nil {
		c.QuarantineAfter = *f.QuarantineAfter
	}
	if f.CanariesToTrust != nil {
		c.CanariesToTrust = *f.CanariesToTrust
	}
	if f.NewDailyCap != nil {
		c.NewDailyCap = *f.NewDailyCap
	}
	if f.MaxCoefficientMilli != nil {
		c.MaxCoefficientMilli = *f.MaxCoefficientMilli
	}
	c.TrustedWorkers = f.TrustedWorkers
	for _, d := range []struct {
		name string
		src  *string
		dst  *time.Duration
	}{{"failure_window", f.FailureWindow, &c.FailureWindow}, {"hold_period", f.HoldPeriod, &c.HoldPeriod}} {
		if d.src == nil {
			continue
		}
		v, err := time.ParseDuration(*d.src)
		if err != nil {
			return TrustConfig{}, fmt.Errorf("proxy config: trust: %s: %q is not a duration like \"72h\"", d.name, truncateStr(*d.src, 32))
		}
		*d.dst = v
	}
	return c, nil
}

// withDefaults fills the zero fields that have a default; HoldPeriod and
// NewDailyCap stay 0 (off).
func (c TrustConfig) withDefaults() TrustConfig {
	if c.QuarantineAfter == 0 {
		c.QuarantineAfter = DefaultQuarantineAfter
	}
	if c.FailureWindow == 0 {
		c.FailureWindow = DefaultFailureWindow
	}
	if c.CanariesToTrust == 0 {
		c.CanariesToTrust = DefaultCanariesToTrust
	}
	if c.MaxCoefficientMilli == 0 {
		c.MaxCoefficientMilli = protocolMaxCoeff
	}
	ids := make([]string, len(c.TrustedWorkers))
	for i, id := range c.TrustedWorkers {
		ids[i] = strings.ToLower(strings.TrimSpace(id))
	}
	c.TrustedWorkers = ids
	return c
}

// validate checks every field (0 stands for the default where there is one).
func (c TrustConfig) validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("proxy config: trust: "+format, args...) }
	if c.QuarantineAfter < 0 || c.QuarantineAfter > maxQuarantineAfter {
		return bad("quarantine_after %d out of range 1..%d", c.QuarantineAfter, maxQuarantineAfter)
	}
	if c.FailureWindow < 0 || (c.FailureWindow != 0 && c.FailureWindow < time.Minute) || c.FailureWindow > maxTrustPeriod {
		return bad("failure_window %v out of range 1m..%v", c.FailureWindow, maxTrustPeriod)
	}
	if c.CanariesToTrust < 0 || c.CanariesToTrust > maxCanariesToTrust {
		return bad("canaries_to_trust %d out of range 1..%d", c.CanariesToTrust, maxCanariesToTrust)
	}
	if c.HoldPeriod < 0 || c.HoldPeriod > maxTrustPeriod {
		return bad("hold_period %v out of range 0..%v (0: not held)", c.HoldPeriod, maxTrustPeriod)
	}
	if c.NewDailyCap < 0 {
		return bad("new_daily_cap must not be negative (0: no cap)")
	}
	if c.MaxCoefficientMilli < 0 || c.MaxCoefficientMilli > protocolMaxCoeff {
		return bad("max_coefficient_milli %d out of range 1..%d", c.MaxCoefficientMilli, protocolMaxCoeff)
	}
	if len(c.TrustedWorkers) > maxTrustedWorkers {
		return bad("trusted_workers: %d ids, limit %d", len(c.TrustedWorkers), maxTrustedWorkers)
	}
	seen := map[string]int{}
	for i, id := range c.TrustedWorkers {
		id = strings.ToLower(strings.TrimSpace(id))
		if !isWorkerID(id) {
			return bad("trusted_workers[%d]: %q is not a worker id (64 hex digits)", i, truncateStr(id, 80))
		}
		if j, dup := seen[id]; dup {
			return bad("trusted_workers[%d]: same id as trusted_workers[%d]", i, j)
		}
		seen[id] = i
	}
	return nil
}

// isWorkerID reports whether s is a worker id: lowercase hex of a 32-byte key.
func isWorkerID(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && strings.ToLower(s) == s
}

// holdUntil is when a credit made at now is released: now + period,
// rounded up to period/48 so that a worker's holds stay few.
func holdUntil(now time.Time, period time.Duration) time.Time {
	g := max(period/holdGranularityDivs, time.Second)
	t := now.Add(period)
	if r := t.Sub(t.Truncate(g)); r > 0 {
		t = t.Add(g - r)
	}
	return t.UTC()
}

// nextUTCDay is the next 00:00 UTC after now.
func nextUTCDay(now time.Time) time.Time {
	return time.Unix((unixDay(now)+1)*86400, 0).UTC()
}

// trustState is the proxy's in-memory side of the trust records.
type trustState struct {
	cfg     TrustConfig
	vouched map[string]bool
	now     func() time.Time // the clock of holds and days (a test seam: SetClock)

	mu    sync.Mutex
	tally map[string]meteringTally // harmless disagreements not yet stored, by worker id

	kick chan struct{} // wakes the loop when a wake time may have moved earlier
	wg   sync.WaitGroup
}

// meteringTally is disagreements counted in memory.
type meteringTally struct {
	n          int64
	worstRatio int64 // claimed/counted × 1000
}

func newTrustState(cfg TrustConfig) *trustState {
	ts := &trustState{cfg: cfg, vouched: map[string]bool{}, now: time.Now,
		tally: map[string]meteringTally{}, kick: make(chan struct{}, 1)}
	for _, id := range cfg.TrustedWorkers {
		ts.vouched[id] = true
	}
	return ts
}

// connTrust is a connection's view of its worker's trust, guarded by
// Proxy.mu (mu orders the reads and sends of one connection).
type connTrust struct {
	mu     sync.Mutex
	level  string
	barred bool              // no client jobs: quarantined, or a new worker over today's cap
	wake   time.Time         // when its standing next changes by itself (a release, a new day); zero: never
	sent   *network.Standing // the last standing sent on this connection
}

// trustView is what the proxy derives from a record at a time.
type trustView struct {
	standing network.Standing
	barred   bool
	wake     time.Time
}

// level is the worker's effective level: quarantined as stored; trusted
// as stored, when vouched for, or once it passed canaries_to_trust (also
// after the operator lowered it); else new.
func (ts *trustState) level(r *TrustRecord) string {
	switch {
	case r.Level == network.TrustQuarantined:
		return network.TrustQuarantined
	case r.Level == network.TrustTrusted || ts.vouched[r.WorkerID] || r.CanariesPassed >= int64(ts.cfg.CanariesToTrust):
		return network.TrustTrusted
	default:
		return network.TrustNew
	}
}

// view derives the standing, the client-job bar and the next wake of a
// worker from its record and balance at now.
func (ts *trustState) view(r TrustRecord, b network.Balance, now time.Time) trustView {
	c := ts.cfg
	level := ts.level(&r)
	st := network.Standing{Level: level, CanariesPassed: r.CanariesPassed, CanariesFailed: r.CanariesFailed,
		CanariesNeeded: int64(c.CanariesToTrust)}
	v := trustView{}
	unpaid := max(b.Cumulative-b.Paid-b.Pending, 0)
	if level == network.TrustQuarantined {
		st.Held = unpaid
		v.barred = true
		st.Reason = quarantineReason(&r)
	} else {
		st.Held = r.held(now, unpaid)
		if st.Held > 0 {
			st.HeldUntil = r.heldUntil(now).UnixMilli()
		}
		v.wake = r.nextRelease(now)
	}
	if level == network.TrustNew {
		st.Reason = fmt.Sprintf("new: %d of %d canaries passed", r.CanariesPassed, c.CanariesToTrust)
		if c.HoldPeriod > 0 {
			st.Reason += "; earnings held " + c.HoldPeriod.String()
		}
		if c.NewDailyCap > 0 {
			st.DailyCap = c.NewDailyCap
			if r.Day == unixDay(now) {
				st.EarnedToday = r.EarnedToday
			}
			if st.EarnedToday > 0 {
				if d := nextUTCDay(now); v.wake.IsZero() || d.Before(v.wake) {
					v.wake = d
				}
			}
			if st.EarnedToday >= c.NewDailyCap {
				v.barred = true
				st.Reason += "; today's cap of " + ton.Format(c.NewDailyCap) + " TON reached: client jobs resume at 00:00 UTC"
			}
		}
	}
	st.Reason = truncateStr(st.Reason, network.MaxReasonLength-8)
	v.standing = st
	return v
}

// eventWords names an event kind for the owner.
var eventWords = map[string]string{
	EventCanaryFailed: "failed a check job",
	EventStrike:       "strike",
	EventOverClaim:    "claimed more tokens than it produced",
}

// quarantineReason says why, in words, from the latest evidence (newest
// first).
func quarantineReason(r *TrustRecord) string {
	var parts []string
	for i := len(r.Events) - 1; i >= 0 && len(parts) < 3; i-- {
		e := r.Events[i]
		if e.Points == 0 {
			continue
		}
		parts = append(parts, eventWords[e.Kind]+" ("+e.Evidence+")")
	}
	return strings.Join(parts, "; ")
}

// checkQuarantine quarantines r when its failure points reached K and says
// whether it did.
func (ts *trustState) checkQuarantine(r *TrustRecord, now time.Time) bool {
	if r.Level == network.TrustQuarantined {
		return false
	}
	pts := r.failurePoints(now, ts.cfg.FailureWindow)
	if pts < 2*int64(ts.cfg.QuarantineAfter) {
		return false
	}
	r.Level, r.LevelSince = network.TrustQuarantined, now.UTC()
	r.addEvent(TrustEvent{Time: now, Kind: EventQuarantined,
		Evidence: fmt.Sprintf("%s failure points within %v (quarantine_after %d)", halfPoints(pts), ts.cfg.FailureWindow, ts.cfg.QuarantineAfter)})
	return true
}

func halfPoints(hp int64) string {
	if hp%2 == 0 {
		return fmt.Sprint(hp / 2)
	}
	return fmt.Sprintf("%d.5", hp/2)
}

// ratioMilli is claimed/counted × 1000, saturating (counted 0 counts as 1).
func ratioMilli(claimed, counted int64) int64 {
	counted = max(counted, 1)
	claimed = max(claimed, 0)
	if claimed > (1<<63-1)/1000 {
		return 1<<63 - 1
	}
	return claimed * 1000 / counted
}

func (t meteringTally) applyTo(r *TrustRecord) {
	r.Disagreements = satAdd(r.Disagreements, t.n)
	r.WorstRatioMilli = max(r.WorstRatioMilli, t.worstRatio)
}

// takeTally removes and returns a worker's in-memory tally.
func (ts *trustState) takeTally(id string) meteringTally {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := ts.tally[id]
	delete(ts.tally, id)
	return t
}

// putTally adds t back (a store write that would have taken it failed).
func (ts *trustState) putTally(id string, t meteringTally) {
	if t.n == 0 {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	old := ts.tally[id]
	ts.tally[id] = meteringTally{n: satAdd(old.n, t.n), worstRatio: max(old.worstRatio, t.worstRatio)}
}

func (ts *trustState) kickLoop() {
	select {
	case ts.kick <- struct{}{}:
	default:
	}
}

// noteMetering records that the worker's claimed token count for a job
// differed from the proxy's own count (kind is "prompt" or "completion";
// billed is what was billed). A claim within the tolerance or under the
// proxy's count harms nobody and is tallied; one over it (billed <
// claimed) is evidence and half a failure point.
func (p *Proxy) noteMetering(w *workerConn, jobID, kind string, claimed, counted, billed int64) {
	if w == nil || claimed == counted {
		return
	}
	ratio := ratioMilli(claimed, counted)
	if claimed <= billed {
		ts := p.trust
		ts.mu.Lock()
		t := ts.tally[w.id]
		t.n = satAdd(t.n, 1)
		t.worstRatio = max(t.worstRatio, ratio)
		ts.tally[w.id] = t
		flush := t.n >= tallyFlushEvery
		ts.mu.Unlock()
		w.log.Debug("metering disagreement within tolerance", "job", truncateStr(jobID, 64), "kind", kind,
			"claimed", claimed, "counted", counted, "billed", billed)
		if flush {
			p.recordTrust(w, func(*TrustRecord, time.Time) {})
		}
		return
	}
	w.log.Info("worker claimed more tokens than it produced", "job", truncateStr(jobID, 64), "kind", kind,
		"claimed", claimed, "counted", counted, "billed", billed)
	p.recordTrust(w, func(r *TrustRecord, now time.Time) {
		r.Disagreements = satAdd(r.Disagreements, 1)
		r.OverClaims = satAdd(r.OverClaims, 1)
		r.WorstRatioMilli = max(r.WorstRatioMilli, ratio)
		r.addEvent(TrustEvent{Time: now, Kind: EventOverClaim, JobID: jobID, Points: 1,
			Evidence: fmt.Sprintf("%s tokens: claimed %d, counted %d, billed %d", truncateStr(kind, 16), claimed, counted, billed)})
	})
}

// strike records a misbehaviour that cost the client or the proxy (e.g. an
// oversized stream); reason is short words, never prompt text. One
// failure point.
func (p *Proxy) strike(w *workerConn, jobID, reason string) {
	if w == nil {
		return
	}
	w.log.Info("worker strike", "job", truncateStr(jobID, 64), "reason", cleanEvidence(reason))
	p.recordTrust(w, func(r *TrustRecord, now time.Time) {
		r.Strikes = satAdd(r.Strikes, 1)
		r.addEvent(TrustEvent{Time: now, Kind: EventStrike, JobID: jobID, Points: 2, Evidence: reason})
	})
}

// noteCanary records a canary job's verdict; evidence is short words +
// numbers (e.g. "diverged at token 3 of 48, margin 2.1"), never the text.
// A pass counts toward trust; a failure is one failure point.
func (p *Proxy) noteCanary(w *workerConn, jobID, model string, passed bool, evidence string) {
	if w == nil {
		return
	}
	w.log.Info("canary verdict", "job", truncateStr(jobID, 64), "model", truncateStr(model, 64), "passed", passed,
		"evidence", cleanEvidence(evidence))
	need := int64(p.trust.cfg.CanariesToTrust)
	p.recordTrust(w, func(r *TrustRecord, now time.Time) {
		if passed {
			r.CanariesPassed = satAdd(r.CanariesPassed, 1)
			if (r.Level == "" || r.Level == network.TrustNew) && r.CanariesPassed >= need {
				r.Level, r.LevelSince = network.TrustTrusted, now.UTC()
			}
			return
		}
		r.CanariesFailed = satAdd(r.CanariesFailed, 1)
		r.addEvent(TrustEvent{Time: now, Kind: EventCanaryFailed, JobID: jobID, Points: 2,
			Evidence: truncateStr(model, 64) + ": " + evidence})
	})
}

// recordTrust applies change (and the worker's in-memory tally) to its
// trust record in one store transaction, quarantines it when its points
// reached K, and brings the connection and the worker's standing up to
// date.
func (p *Proxy) recordTrust(w *workerConn, change func(r *TrustRecord, now time.Time)) {
	ts := p.trust
	now := ts.now()
	tally := ts.takeTally(w.id)
	quarantined := false
	rec, err := p.store.UpdateTrust(context.Background(), w.id, func(r *TrustRecord) error {
		tally.applyTo(r)
		change(r, now)
		quarantined = ts.checkQuarantine(r, now)
		return nil
	})
	if err != nil {
		ts.putTally(w.id, tally)
		w.log.Error("trust record not stored", "err", err)
		return
	}
	if quarantined {
		w.log.Warn("worker quarantined: no jobs, unpaid balance held", "canaries_failed", rec.CanariesFailed,
			"strikes", rec.Strikes, "over_claims", rec.OverClaims, "reason", quarantineReason(&rec))
	}
	p.refreshTrust(w, false)
}

// credited is called after a job's credit was stored: a worker that is not
// trusted may have a new held amount or today's earnings, so its standing
// (and its bar for the daily cap) is brought up to date.
func (p *Proxy) credited(w *workerConn, hold JobHold) {
	p.mu.Lock()
	level := w.trust.level
	p.mu.Unlock()
	if !hold.isZero() || level != network.TrustTrusted {
		p.refreshTrust(w, false)
	}
}

// jobHold is what crediting a job of w must hold (zero for a trusted
// worker: nothing held, no daily cap).
func (p *Proxy) jobHold(w *workerConn) JobHold {
	p.mu.Lock()
	level := w.trust.level
	p.mu.Unlock()
	c := p.trust.cfg
	if level == network.TrustTrusted || (c.HoldPeriod == 0 && c.NewDailyCap == 0) {
		return JobHold{}
	}
	now := p.trust.now()
	h := JobHold{Now: now, Daily: c.NewDailyCap > 0}
	if c.HoldPeriod > 0 {
		h.Until = holdUntil(now, c.HoldPeriod)
	}
	return h
}

// readTrust reads a worker's balance and trust in one transaction and
// derives its view at now.
func (p *Proxy) readTrust(ctx context.Context, workerID string) (network.Balance, TrustRecord, trustView, error) {
	b, r, err := p.store.WorkerTrust(ctx, workerID)
	if err != nil {
		return network.Balance{}, r, trustView{}, err
	}
	v := p.trust.view(r, b, p.trust.now())
	return b, r, v, nil
}

// trustBalance is the worker's balance with its standing.
func (p *Proxy) trustBalance(ctx context.Context, workerID string) (network.Balance, error) {
	b, _, v, err := p.readTrust(ctx, workerID)
	if err != nil {
		return b, err
	}
	st := v.standing
	b.Standing = &st
	return b, nil
}

// refreshTrust re-reads w's trust, applies its client-job bar to the
// routing index, and sends a balance when the standing changed since the
// last one sent on this connection (always, with force, once registered).
func (p *Proxy) refreshTrust(w *workerConn, force bool) error {
	w.trust.mu.Lock()
	defer w.trust.mu.Unlock()
	b, _, v, err := p.readTrust(context.Background(), w.id)
	if err != nil {
		w.log.Error("trust record unreadable: no client jobs until it is", "err", err)
		p.mu.Lock()
		p.setBarredLocked(w, true)
		w.trust.wake = p.trust.now().Add(trustRetry)
		p.mu.Unlock()
		p.trust.kickLoop()
		return nil
	}
	st := v.standing
	p.mu.Lock()
	w.trust.level = st.Level
	p.setBarredLocked(w, v.barred)
	w.trust.wake = v.wake
	send := w.registered && (force || w.trust.sent == nil || *w.trust.sent != st)
	if send {
		w.trust.sent = &st
	}
	p.mu.Unlock()
	if !v.wake.IsZero() {
		p.trust.kickLoop()
	}
	if !send {
		return nil
	}
	b.Standing = &st
	b = p.withSettings(b)
	if err := w.send(network.TypeBalance, &b); err != nil {
		return err
	}
	p.sendVoucher(w) // a release or a register may add to it (escrow.go)
	return nil
}

// setBarredLocked sets whether w may get client jobs and re-indexes it.
func (p *Proxy) setBarredLocked(w *workerConn, barred bool) {
	if w.trust.barred == barred {
		return
	}
	w.trust.barred = barred
	p.routeUpdateLocked(w)
	if !barred {
		p.wakeQueuedLocked()
	}
}

// loadTrust reads a newly connected worker's trust before it can register.
func (p *Proxy) loadTrust(w *workerConn) {
	_ = p.refreshTrust(w, false)
}

// sendRegisterBalance sends the balance that answers every register.
func (p *Proxy) sendRegisterBalance(w *workerConn) error {
	return p.refreshTrust(w, true)
}

// trustDisconnected stores what was tallied in memory for the worker.
func (p *Proxy) trustDisconnected(w *workerConn) {
	ts := p.trust
	ts.mu.Lock()
	_, ok := ts.tally[w.id]
	ts.mu.Unlock()
	if !ok {
		return
	}
	tally := ts.takeTally(w.id)
	if _, err := p.store.UpdateTrust(context.Background(), w.id, func(r *TrustRecord) error {
		tally.applyTo(r)
		return nil
	}); err != nil {
		ts.putTally(w.id, tally)
		w.log.Error("trust record not stored", "err", err)
	}
}

// canaryAllowedLocked reports whether a canary may be sent to w now: any
// registered, accepting worker below its concurrency that is not
// quarantined — a new worker over its daily cap included (canaries are
// how it earns trust). Canaries to a quarantined worker would only cost:
// it gets none until an operator lifts the quarantine.
func (p *Proxy) canaryAllowedLocked(w *workerConn) bool {
	return w.registered && w.state == network.Accepting && p.workers[w.id] == w &&
		w.running < w.reg.MaxConcurrent && w.trust.level != network.TrustQuarantined && w.trust.level != ""
}

// capCoefficient applies the operator's maximum to a registration's
// coefficient, telling the worker when it does.
func (p *Proxy) capCoefficient(w *workerConn, ref string, asked int64) int64 {
	maxC := p.trust.cfg.MaxCoefficientMilli
	if asked <= maxC {
		return asked
	}
	w.log.Info("worker coefficient over the maximum; capped", "asked_milli", asked, "max_milli", maxC)
	w.sendError(errorMsg(network.CodeBadMessage, fmt.Sprintf(
		"coefficient_milli %d is over this proxy's maximum of %d: your jobs are priced at %d", asked, maxC, maxC), ref))
	return maxC
}

// startTrust runs the loop that brings standings up to date when holds
// release and UTC days begin; it ends with baseCtx and Close waits for it.
func (p *Proxy) startTrust() {
	p.trust.wg.Add(1)
	go func() {
		defer p.trust.wg.Done()
		p.trustLoop(p.baseCtx)
	}()
}

func (p *Proxy) trustLoop(ctx context.Context) {
	for {
		next := p.trustTick()
		var timer *time.Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(max(next.Sub(p.trust.now()), 0))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-p.trust.kick:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// trustTick refreshes every connected worker whose wake time has come and
// returns the next wake time (zero: none).
func (p *Proxy) trustTick() time.Time {
	now := p.trust.now()
	var due []*workerConn
	p.mu.Lock()
	for _, w := range p.workers {
		if wk := w.trust.wake; !wk.IsZero() && !wk.After(now) {
			due = append(due, w)
		}
	}
	p.mu.Unlock()
	for _, w := range due {
		if err := p.refreshTrust(w, false); err != nil {
			w.log.Debug("send balance", "err", err)
		}
	}
	var next time.Time
	p.mu.Lock()
	for _, w := range p.workers {
		if wk := w.trust.wake; !wk.IsZero() && (next.IsZero() || wk.Before(next)) {
			next = wk
		}
	}
	p.mu.Unlock()
	return next
}

// ErrNotQuarantined: ReleaseQuarantine of a worker that is not quarantined.
var ErrNotQuarantined = errors.New("proxy: the worker is not quarantined")

// ReleaseQuarantine lifts a worker's quarantine in the store, as an
// operator decides after reading the evidence: its level goes back to
// trusted when it had passed enough canaries, else new; failures before
// now no longer count toward quarantine; its holds are what its credits
// hold (the quarantine held everything; nothing is taken away).
func ReleaseQuarantine(ctx context.Context, st TrustStore, cfg TrustConfig, workerID string, now time.Time) (TrustRecord, error) {
	cfg = cfg.withDefaults()
	if !isWorkerID(workerID) {
		return TrustRecord{}, fmt.Errorf("proxy: %q is not a worker id (64 lowercase hex digits)", truncateStr(workerID, 80))
	}
	return st.UpdateTrust(ctx, workerID, func(r *TrustRecord) error {
		if r.Level != network.TrustQuarantined {
			return ErrNotQuarantined
		}
		r.Level = network.TrustNew
		if r.CanariesPassed >= int64(cfg.CanariesToTrust) {
			r.Level = network.TrustTrusted
		}
		r.LevelSince, r.CountFrom = now.UTC(), now.UTC()
		r.Releases = satAdd(r.Releases, 1)
		r.addEvent(TrustEvent{Time: now, Kind: EventReleased, Evidence: "quarantine lifted by the operator"})
		return nil
	})
}

// releaseQuarantine lifts a quarantine and brings a connected worker back
// into the routing.
func (p *Proxy) releaseQuarantine(ctx context.Context, workerID string) (TrustRecord, error) {
	rec, err := ReleaseQuarantine(ctx, p.store, p.trust.cfg, workerID, p.trust.now())
	if err != nil {
		return rec, err
	}
	p.log.Warn("worker quarantine lifted by the operator", "worker", workerID[:16], "level", p.trust.level(&rec))
	p.mu.Lock()
	w := p.workers[workerID]
	p.mu.Unlock()
	if w != nil {
		if err := p.refreshTrust(w, false); err != nil {
			w.log.Debug("send balance", "err", err)
		}
	}
	return rec, nil
}
