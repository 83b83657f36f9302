package proxy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// TrustStatus is a worker's trust record as the admin status shows it.
type TrustStatus struct {
	WorkerID       string    `json:"worker_id"`
	Level          string    `json:"level"`
	LevelSince     time.Time `json:"level_since,omitzero"`
	Vouched        bool      `json:"vouched,omitempty"` // in the operator's trusted_workers
	CanariesPassed int64     `json:"canaries_passed"`
	CanariesFailed int64     `json:"canaries_failed"`
	CanariesNeeded int64     `json:"canaries_needed"`
	// FailurePoints count toward quarantine now (failures within the
	// window, since the last release); QuarantineAt is K.
	FailurePoints   float64 `json:"failure_points"`
	QuarantineAt    int     `json:"quarantine_at"`
	Disagreements   int64   `json:"disagreements"`
	OverClaims      int64   `json:"over_claims"`
	WorstRatioMilli int64   `json:"worst_ratio_milli,omitempty"`
	Strikes         int64   `json:"strikes"`
	Releases        int64   `json:"releases,omitempty"`
	// Held is the nanoTON that cannot be paid out now, until HeldUntil
	// (zero when nothing is held or while quarantined).
	Held        int64        `json:"held"`
	HeldUntil   time.Time    `json:"held_until,omitzero"`
	EarnedToday int64        `json:"earned_today,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	Evidence    []TrustEvent `json:"evidence"`
}

// trustStatus builds a worker's TrustStatus at now.
func (p *Proxy) trustStatus(b network.Balance, r TrustRecord, now time.Time) TrustStatus {
	ts := p.trust
	v := ts.view(r, b, now)
	st := TrustStatus{
		WorkerID: r.WorkerID, Level: v.standing.Level, LevelSince: r.LevelSince, Vouched: ts.vouched[r.WorkerID],
		CanariesPassed: r.CanariesPassed, CanariesFailed: r.CanariesFailed, CanariesNeeded: int64(ts.cfg.CanariesToTrust),
		FailurePoints: float64(r.failurePoints(now, ts.cfg.FailureWindow)) / 2, QuarantineAt: ts.cfg.QuarantineAfter,
		Disagreements: r.Disagreements, OverClaims: r.OverClaims, WorstRatioMilli: r.WorstRatioMilli,
		Strikes: r.Strikes, Releases: r.Releases, Held: v.standing.Held, EarnedToday: v.standing.EarnedToday,
		Reason: v.standing.Reason, Evidence: append([]TrustEvent{}, r.Events...),
	}
	if v.standing.HeldUntil > 0 {
		st.HeldUntil = time.UnixMilli(v.standing.HeldUntil).UTC()
	}
	// Tallied in memory, not stored yet.
	ts.mu.Lock()
	t := ts.tally[r.WorkerID]
	ts.mu.Unlock()
	st.Disagreements = satAdd(st.Disagreements, t.n)
	st.WorstRatioMilli = max(st.WorstRatioMilli, t.worstRatio)
	return st
}

// addTrustStatus fills the trust of st's workers and the quarantined list.
func (p *Proxy) addTrustStatus(ctx context.Context, st *Status) error {
	now := p.trust.now()
	for i := range st.Workers {
		b, r, err := p.store.WorkerTrust(ctx, st.Workers[i].ID)
		if err != nil {
			return err
		}
		ts := p.trustStatus(b, r, now)
		st.Workers[i].Trust = &ts
	}
	recs, err := p.store.QuarantinedWorkers(ctx)
	if err != nil {
		return err
	}
	st.Quarantined = []TrustStatus{}
	for _, r := range recs {
		b, r, err := p.store.WorkerTrust(ctx, r.WorkerID)
		if err != nil {
			return err
		}
		st.Quarantined = append(st.Quarantined, p.trustStatus(b, r, now))
	}
	return nil
}

// isAdmin reports whether the request carries the admin key. Loopback is
// not enough: a reverse proxy on the same host makes every caller loopback.
func (p *Proxy) isAdmin(r *http.Request) bool {
	tok := bearer(r)
	return p.adminDigest != "" && tok != "" && subtle.ConstantTimeCompare([]byte(KeyDigest(tok)), []byte(p.adminDigest)) == 1
}

// TrustReleasePath is the admin endpoint that lifts a quarantine:
// POST {"worker_id": "<hex>"} with "Authorization: Bearer <admin key>".
const TrustReleasePath = "/v1/admin/trust/release"

// TrustReleaseRequest is the body of POST TrustReleasePath.
type TrustReleaseRequest struct {
	WorkerID string `json:"worker_id"`
}

// handleTrustRelease is POST /v1/admin/trust/release: the running proxy's
// side of `cocoon-proxy trust release`.
func (p *Proxy) handleTrustRelease(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodPost) {
		return
	}
	if !p.isAdmin(r) {
		writeError(w, http.StatusUnauthorized, "admin_key_required", "", "this endpoint needs the admin key")
		return
	}
	var req TrustReleaseRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || !isWorkerID(req.WorkerID) {
		writeError(w, http.StatusBadRequest, "invalid_value", "worker_id", `want {"worker_id": "<64 lowercase hex digits>"}`)
		return
	}
	rec, err := p.releaseQuarantine(r.Context(), req.WorkerID)
	switch {
	case errors.Is(err, ErrNotQuarantined):
		writeError(w, http.StatusConflict, "not_quarantined", "worker_id", "worker "+req.WorkerID+" is not quarantined")
		return
	case err != nil:
		p.log.Error("trust release: store", "err", err)
		writeError(w, http.StatusInternalServerError, "store_error", "", "store unavailable")
		return
	}
	b, rec, err := p.store.WorkerTrust(r.Context(), rec.WorkerID)
	if err != nil {
		p.log.Error("trust release: store", "err", err)
		writeError(w, http.StatusInternalServerError, "store_error", "", "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, p.trustStatus(b, rec, p.trust.now()))
}
