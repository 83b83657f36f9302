package earnings

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// The stored job record, schema 2. The key is the receipt's seq (8 bytes,
// big-endian); the value is
//
//	flags        1 byte, the bits below
//	time         varint   receipt time, unix ms
//	credited     varint   credited time − receipt time, ms (wraps; exact either way)
//	job id       uvarint n, then n bytes: with recHexJobID the bytes of the hex
//	             after "job-" (the proxy's 36-character ids take 1+16), else the string
//	profile      uvarint  id in the profiles bucket: worker id, model, proxy key,
//	             the two prices, coefficient and commission, stored once
//	prompt       varint
//	completion   varint
//	[amount]     varint   only with recAmount; otherwise receipt.Amount of the factors
//	cumulative   varint
//	[energy mJ]  varint   only with recEnergy
//	signature    64 bytes; with recSigLen uvarint n, then n bytes
//
// Varints are encoding/binary's (signed ones zigzag), minimal: the decoder
// refuses a longer encoding, unknown flags, an unknown profile, a job id or
// amount stored in a form the encoder would not choose, and trailing bytes,
// so every value has exactly one encoding and decode(encode(r)) == r. The
// seq, time, job id, credited time and flags come first so that time-order
// lookups (peekRecord) read only those.
//
// A proxy receipt of this decade credited within a second of its signing,
// with token counts under 8,192, energy under 1 kJ and a running total under
// 2,000 TON takes 1+6+1+17+1+2+2+6+3+64 = 103 bytes; bbolt adds the 8-byte
// key and a 16-byte element header.
const (
	recStray    = 1 << iota // out of time order: listed in time_strays (see order.go)
	recEnergy               // an energy measurement follows the cumulative total
	recAmount               // the amount is stored: it is not what its factors give
	recHexJobID             // the job id is "job-" + lowercase hex, stored as bytes
	recSigLen               // the signature is not 64 bytes and is stored with its length

	recFlags = recStray | recEnergy | recAmount | recHexJobID | recSigLen
)

// errBadRecord means a stored record or profile cannot be decoded.
var errBadRecord = errors.New("unreadable ledger record")

// profile is what many receipts share, stored once (bucket profiles).
type profile struct {
	WorkerID         string
	Model            string
	ProxyKey         []byte
	PricePrompt      int64
	PriceCompletion  int64
	CoefficientMilli int64
	CommissionBPS    int64
}

func profileOf(s *receipt.Signed) profile {
	r := &s.Receipt
	return profile{
		WorkerID: r.WorkerID, Model: r.Model, ProxyKey: s.ProxyKey,
		PricePrompt: r.PricePrompt, PriceCompletion: r.PriceCompletion,
		CoefficientMilli: r.CoefficientMilli, CommissionBPS: r.CommissionBPS,
	}
}

func (p *profile) encode() []byte {
	b := make([]byte, 0, 16+len(p.WorkerID)+len(p.Model)+len(p.ProxyKey)+4*binary.MaxVarintLen64)
	b = appendString(b, p.WorkerID)
	b = appendString(b, p.Model)
	b = appendString(b, string(p.ProxyKey))
	for _, v := range []int64{p.PricePrompt, p.PriceCompletion, p.CoefficientMilli, p.CommissionBPS} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func decodeProfile(b []byte) (profile, error) {
	d := decoder{b: b}
	p := profile{WorkerID: d.string(), Model: d.string()}
	if key := d.bytes(d.length()); len(key) > 0 {
		p.ProxyKey = bytes.Clone(key)
	}
	p.PricePrompt, p.PriceCompletion = d.varint(), d.varint()
	p.CoefficientMilli, p.CommissionBPS = d.varint(), d.varint()
	if err := d.end(); err != nil {
		return profile{}, fmt.Errorf("%w: profile: %w", errBadRecord, err)
	}
	return p, nil
}

// encodeRecord encodes rec, whose shared fields are profile id prof.
func encodeRecord(rec *ledgerRecord, prof uint64, stray bool) []byte {
	r := &rec.Receipt.Receipt
	flags := byte(0)
	if stray {
		flags |= recStray
	}
	if rec.EnergyMJ != nil {
		flags |= recEnergy
	}
	if want, err := receipt.Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion,
		r.CoefficientMilli, r.CommissionBPS); err != nil || want != r.Amount {
		flags |= recAmount
	}
	jobID, hexID := jobIDBytes(r.JobID)
	if hexID {
		flags |= recHexJobID
	}
	sig := rec.Receipt.Signature
	if len(sig) != ed25519.SignatureSize {
		flags |= recSigLen
	}
	b := make([]byte, 0, 48+len(jobID)+len(sig))
	b = append(b, flags)
	b = binary.AppendVarint(b, r.Time)
	b = binary.AppendVarint(b, rec.CreditedAt-r.Time)
	b = appendString(b, jobID)
	b = binary.AppendUvarint(b, prof)
	b = binary.AppendVarint(b, r.PromptTokens)
	b = binary.AppendVarint(b, r.CompletionTokens)
	if flags&recAmount != 0 {
		b = binary.AppendVarint(b, r.Amount)
	}
	b = binary.AppendVarint(b, r.Cumulative)
	if rec.EnergyMJ != nil {
		b = binary.AppendVarint(b, *rec.EnergyMJ)
	}
	if flags&recSigLen != 0 {
		b = binary.AppendUvarint(b, uint64(len(sig)))
	}
	return append(b, sig...)
}

// recordHead is the start of a record: enough for its place in time order.
type recordHead struct {
	flags      byte
	time       int64 // receipt time
	creditedAt int64
	jobID      string
}

func (h *recordHead) stray() bool { return h.flags&recStray != 0 }

// orderKey is the record's place in time order (see timeMS and timeKey).
func (h *recordHead) orderKey() []byte { return timeKey(timeMS(h.time, h.creditedAt), h.jobID) }

// peekRecord decodes the head of a record, checking only what it reads.
func peekRecord(v []byte) (recordHead, error) {
	d := decoder{b: v}
	h, err := d.head()
	if err != nil {
		return h, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	return h, nil
}

func (d *decoder) head() (recordHead, error) {
	var h recordHead
	if len(d.b) == 0 {
		return h, errors.New("empty")
	}
	h.flags = d.b[0]
	d.b, d.off = d.b[1:], 1
	if h.flags&^recFlags != 0 {
		return h, fmt.Errorf("unknown flags %#x", h.flags)
	}
	h.time = d.varint()
	h.creditedAt = d.varint() + h.time
	raw := d.bytes(d.length())
	if d.err != nil {
		return h, d.err
	}
	if h.flags&recHexJobID != 0 {
		if len(raw) == 0 {
			return h, errors.New("empty hex job id")
		}
		h.jobID = hexJobPrefix + hex.EncodeToString(raw)
	} else {
		h.jobID = string(raw)
		if h.jobID == "" {
			return h, errors.New("empty job id")
		}
		if _, isHex := jobIDBytes(h.jobID); isHex {
			return h, fmt.Errorf("job id %q stored as text", h.jobID)
		}
	}
	return h, nil
}

// decodeRecord decodes the record stored under seq; profiles resolves its
// profile id.
func decodeRecord(seq int64, v []byte, profiles func(id uint64) (*profile, error)) (ledgerRecord, recordHead, error) {
	rec, h, err := decodeRecordErr(seq, v, profiles)
	if err != nil {
		return ledgerRecord{}, h, fmt.Errorf("%w: seq %d: %w", errBadRecord, seq, err)
	}
	return rec, h, nil
}

func decodeRecordErr(seq int64, v []byte, profiles func(id uint64) (*profile, error)) (ledgerRecord, recordHead, error) {
	var rec ledgerRecord
	d := decoder{b: v}
	h, err := d.head()
	if err != nil {
		return rec, h, err
	}
	id := d.uvarint()
	if d.err != nil {
		return rec, h, d.err
	}
	p, err := profiles(id)
	if err != nil {
		return rec, h, err
	}
	r := receipt.Receipt{
		JobID: h.jobID, WorkerID: p.WorkerID, Model: p.Model,
		PricePrompt: p.PricePrompt, PriceCompletion: p.PriceCompletion,
		CoefficientMilli: p.CoefficientMilli, CommissionBPS: p.CommissionBPS,
		Seq: seq, Time: h.time,
	}
	r.PromptTokens, r.CompletionTokens = d.varint(), d.varint()
	if d.err != nil {
		return rec, h, d.err
	}
	want, werr := receipt.Amount(r.PromptTokens, r.CompletionTokens, r.PricePrompt, r.PriceCompletion,
		r.CoefficientMilli, r.CommissionBPS)
	if h.flags&recAmount != 0 {
		r.Amount = d.varint()
		if d.err == nil && werr == nil && r.Amount == want {
			return rec, h, errors.New("amount stored although its factors give it")
		}
	} else {
		if werr != nil {
			return rec, h, fmt.Errorf("amount not stored and its factors give none: %w", werr)
		}
		r.Amount = want
	}
	r.Cumulative = d.varint()
	if h.flags&recEnergy != 0 {
		mj := d.varint()
		rec.EnergyMJ = &mj
	}
	n := uint64(ed25519.SignatureSize)
	if h.flags&recSigLen != 0 {
		if n = d.length(); n == ed25519.SignatureSize && d.err == nil {
			return rec, h, errors.New("64-byte signature stored with its length")
		}
	}
	sig := d.bytes(n)
	if err := d.end(); err != nil {
		return rec, h, err
	}
	rec.Receipt = receipt.Signed{Receipt: r, ProxyKey: p.ProxyKey}
	if len(sig) > 0 {
		rec.Receipt.Signature = bytes.Clone(sig)
	}
	rec.CreditedAt = h.creditedAt
	return rec, h, nil
}

const hexJobPrefix = "job-"

// jobIDBytes returns the stored form of a job id: the bytes of the hex after
// "job-" when the id is "job-" and lowercase hex of even length (so that it
// encodes back to the same string), else the id itself.
func jobIDBytes(id string) (string, bool) {
	h, ok := strings.CutPrefix(id, hexJobPrefix)
	if !ok || h == "" || len(h)%2 != 0 {
		return id, false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return id, false
		}
	}
	b, _ := hex.DecodeString(h)
	return string(b), true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads minimal varints and length-prefixed bytes; the first error
// sticks and later reads return zero values.
type decoder struct {
	b   []byte
	off int // bytes read, for messages
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("byte %d: "+format, append([]any{d.off}, args...)...)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		d.fail("truncated")
		return 0
	case n < 0:
		d.fail("varint overflows 64 bits")
		return 0
	case n > 1 && d.b[n-1] == 0:
		d.fail("varint not minimal")
		return 0
	}
	d.b, d.off = d.b[n:], d.off+n
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// length reads a length that must fit in what is left.
func (d *decoder) length() uint64 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("length %d, %d bytes left", n, len(d.b))
		return 0
	}
	return n
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("truncated")
		return nil
	}
	b := d.b[:n:n]
	d.b, d.off = d.b[n:], d.off+int(n)
	return b
}

func (d *decoder) string() string { return string(d.bytes(d.length())) }

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("byte %d: %d trailing bytes", d.off, len(d.b))
	}
	return d.err
}
