package earnings

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cocoon-desktop/cocoon-desktop/receipt"
)

// testProfiles resolves profile ids 1–3 for decoder tests.
var testProfiles = []profile{
	{WorkerID: testWorker, Model: "llama3", ProxyKey: proxyPub, PricePrompt: 1000, PriceCompletion: 3000, CoefficientMilli: 1000, CommissionBPS: 1000},
	{WorkerID: "w-other", Model: "", PricePrompt: 0, PriceCompletion: math.MaxInt64, CoefficientMilli: -1, CommissionBPS: 10000},
	{WorkerID: "", Model: "qwen2.5:7b", ProxyKey: []byte{1, 2, 3}},
}

func lookupTestProfile(id uint64) (*profile, error) {
	if id < 1 || id > uint64(len(testProfiles)) {
		return nil, fmt.Errorf("%w: profile %d is not stored", errBadRecord, id)
	}
	return &testProfiles[id-1], nil
}

// withProfile gives r the fields of testProfiles[id-1].
func withProfile(id int, r receipt.Receipt) receipt.Receipt {
	p := testProfiles[id-1]
	r.WorkerID, r.Model = p.WorkerID, p.Model
	r.PricePrompt, r.PriceCompletion, r.CoefficientMilli, r.CommissionBPS = p.PricePrompt, p.PriceCompletion, p.CoefficientMilli, p.CommissionBPS
	return r
}

func energy(mj int64) *int64 { return &mj }

func TestRecordRoundTrip(t *testing.T) {
	proxyID := "job-0123456789abcdef0123456789abcdef"
	signed := src(proxyID, 7, withTokens(321, 654, 6*jobAmount))
	tests := []struct {
		name    string
		rec     ledgerRecord
		prof    uint64
		stray   bool
		signed  bool // a genuine receipt: the decoded one verifies
		wantLen int  // 0: not checked
	}{
		{
			name: "a proxy receipt with energy (the common record)",
			rec:  ledgerRecord{Receipt: signed, EnergyMJ: energy(150_000), CreditedAt: signed.Receipt.Time + 50},
			prof: 1, signed: true,
			// flags 1, time 6, credited 1, job id 1+16, profile 1, tokens 2+2, cumulative 4, energy 3, signature 64
			wantLen: 101,
		},
		{
			name: "short job id, no energy, stray",
			rec:  ledgerRecord{Receipt: src("j1", 1), CreditedAt: t0.UnixMilli()},
			prof: 1, stray: true, signed: true,
		},
		{
			name: "amount that does not follow its factors",
			rec: ledgerRecord{Receipt: receipt.Signed{Receipt: withProfile(1, receipt.Receipt{
				JobID: "job-00", PromptTokens: 1, Amount: 5, Cumulative: 5, Seq: 3, Time: 1,
			}), ProxyKey: proxyPub, Signature: make([]byte, 64)}, CreditedAt: 0},
			prof: 1,
		},
		{
			name: "factors that give no amount, extreme values",
			rec: ledgerRecord{Receipt: receipt.Signed{Receipt: withProfile(2, receipt.Receipt{
				JobID: "job-ABCDEF", PromptTokens: math.MinInt64, CompletionTokens: math.MaxInt64,
				Amount: math.MinInt64, Cumulative: math.MaxInt64, Seq: math.MaxInt64, Time: math.MaxInt64,
			}), ProxyKey: nil, Signature: nil}, EnergyMJ: energy(-1), CreditedAt: math.MinInt64},
			prof: 2,
		},
		{
			name: "odd-length hex, unusual signature length, no time",
			rec: ledgerRecord{Receipt: receipt.Signed{Receipt: withProfile(3, receipt.Receipt{
				JobID: "job-abc", Seq: -4, Cumulative: 0,
			}), ProxyKey: []byte{1, 2, 3}, Signature: bytes.Repeat([]byte{9}, 65)}, EnergyMJ: energy(0), CreditedAt: 123},
			prof: 3,
		},
		{
			name: "job id that is only the prefix",
			rec: ledgerRecord{Receipt: receipt.Signed{Receipt: withProfile(1, receipt.Receipt{
				JobID: "job-", Seq: 1, Time: 5,
			}), ProxyKey: proxyPub, Signature: []byte{1}}, CreditedAt: 5},
			prof: 1,
		},
		{
			name: "job id in bytes that are not UTF-8",
			rec: ledgerRecord{Receipt: receipt.Signed{Receipt: withProfile(1, receipt.Receipt{
				JobID: "\xff\x00job", Seq: 2, Time: 5,
			}), ProxyKey: proxyPub, Signature: make([]byte, 64)}, CreditedAt: 4},
			prof: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.rec
			v := encodeRecord(&want, tc.prof, tc.stray)
			if tc.wantLen != 0 && len(v) != tc.wantLen {
				t.Errorf("encoded in %d bytes, want %d", len(v), tc.wantLen)
			}
			got, h, err := decodeRecord(want.Receipt.Receipt.Seq, v, lookupTestProfile)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if h.stray() != tc.stray {
				t.Errorf("stray = %v", h.stray())
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got  %+v\n want %+v", got, want)
			}
			if ph, err := peekRecord(v); err != nil || ph != h {
				t.Errorf("peek = %+v, %v; want %+v", ph, err, h)
			}
			if err := got.Receipt.Verify(proxyPub); tc.signed && err != nil {
				t.Errorf("decoded receipt does not verify: %v", err)
			}
		})
	}
}

func TestRecordDecodeStrict(t *testing.T) {
	good := ledgerRecord{Receipt: src("job-00ff", 3), EnergyMJ: energy(7), CreditedAt: t0.UnixMilli()}
	v := encodeRecord(&good, 1, false)
	with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(v)) }
	tests := []struct {
		name string
		v    []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"unknown flag", with(func(b []byte) []byte { b[0] |= 0x80; return b }), "unknown flags"},
		{"trailing byte", append(bytes.Clone(v), 0), "trailing"},
		{"signature cut", v[:len(v)-1], "truncated"},
		{"energy flag without energy", with(func(b []byte) []byte { b[0] &^= recEnergy; return b }), "trailing"},
		{"amount flag, amount follows its factors", encodeRaw(t, recAmount, 3, "j", 1, 100, 50, jobAmount), "amount stored"},
		{"hex job id stored as text", encodeRaw(t, 0, 3, "job-00ff", 1, 100, 50), "stored as text"},
		{"empty hex job id", encodeRaw(t, recHexJobID, 3, "", 1, 100, 50), "empty hex job id"},
		{"empty job id", encodeRaw(t, 0, 3, "", 1, 100, 50), "empty job id"},
		{"unknown profile", encodeRaw(t, 0, 3, "j", 9, 100, 50), "profile 9 is not stored"},
		{"non-minimal varint", func() []byte {
			b := encodeRaw(t, 0, 3, "j", 1, 100, 50)
			// The time is the 1-byte varint after the flags: 0x06 → 0x86 0x00.
			return append([]byte{b[0], b[1] | 0x80, 0x00}, b[2:]...)
		}(), "not minimal"},
		{"varint overflow", append([]byte{0}, bytes.Repeat([]byte{0xff}, 11)...), "overflows"},
		{"length past the end", []byte{0, 2, 0, 0x7f}, "length 127"},
		{"64-byte signature with its length", func() []byte {
			r := good
			r.EnergyMJ = nil
			b := encodeRecord(&r, 1, false)
			b[0] |= recSigLen
			sig := b[len(b)-64:]
			return append(append(b[:len(b)-64:len(b)-64], 64), sig...)
		}(), "64-byte signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := decodeRecord(3, tc.v, lookupTestProfile)
			if !errors.Is(err, errBadRecord) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("decode = %v; want errBadRecord saying %q", err, tc.want)
			}
		})
	}
	// Every truncation of a valid record is an error, never a panic.
	for n := range len(v) {
		if _, _, err := decodeRecord(3, v[:n], lookupTestProfile); err == nil {
			t.Errorf("record cut to %d of %d bytes decoded", n, len(v))
		}
	}
}

// encodeRaw writes a record by hand, field by field, up to the cumulative
// total and a 64-byte signature: what the encoder would not write.
func encodeRaw(t *testing.T, flags byte, time int64, jobID string, prof uint64, prompt, completion int64, amount ...int64) []byte {
	t.Helper()
	b := []byte{flags}
	b = appendVarintT(b, time, 0)
	b = appendString(b, jobID)
	b = appendUvarintT(b, prof)
	b = appendVarintT(b, prompt, completion)
	for _, a := range amount {
		b = appendVarintT(b, a)
	}
	b = appendVarintT(b, 5) // cumulative
	return append(b, make([]byte, 64)...)
}

func TestProfileAndAggDecodeStrict(t *testing.T) {
	p := testProfiles[0]
	enc := p.encode()
	if got, err := decodeProfile(enc); err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("profile round trip: %+v, %v", got, err)
	}
	for n := range len(enc) {
		if _, err := decodeProfile(enc[:n]); !errors.Is(err, errBadRecord) {
			t.Errorf("profile cut to %d bytes: %v", n, err)
		}
	}
	if _, err := decodeProfile(append(enc, 1)); !errors.Is(err, errBadRecord) {
		t.Errorf("profile with a trailing byte: %v", err)
	}
	s := aggStats{Jobs: 3, Gross: 1 << 40, Prompt: -1, Completion: 0, EnergyMJ: math.MaxInt64, Metered: 1}
	if got, err := decodeAgg(s.encode()); err != nil || got != s {
		t.Errorf("aggregate round trip: %+v, %v", got, err)
	}
	if _, err := decodeAgg([]byte{2, 2}); !errors.Is(err, errBadRecord) {
		t.Errorf("short aggregate: %v", err)
	}
	es := []indexEntry{{suffix: [2]byte{1, 2}, seq: -3}, {suffix: [2]byte{1, 2}, seq: 1}, {suffix: [2]byte{9, 9}, seq: 1 << 40}}
	if got, err := decodeIndexGroup(encodeIndexGroup(es)); err != nil || !reflect.DeepEqual(got, es) {
		t.Errorf("index group round trip: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{{}, {1}, {1, 2, 2, 1, 2, 0}, {1, 2, 2, 1, 2, 1}} { // empty, cut, seq not increasing (0, −1)
		if _, err := decodeIndexGroup(bad); !errors.Is(err, errBadRecord) {
			t.Errorf("index group %x: %v", bad, err)
		}
	}
}

// TestLedgerCompactRecords checks the stored size of a typical job and that
// a record damaged in the file is reported in words by queries and Verify.
func TestLedgerCompactRecords(t *testing.T) {
	l := openTest(t, "", Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	var cum int64
	for i := 1; i <= 50; i++ {
		id := fmt.Sprintf("job-%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xc2b2ae3d27d4eb4f)
		r := rc(id, int64(i), withTokens(int64(200+i), int64(300+i), cum), at(t0.Add(time.Duration(i)*time.Second)))
		cum = r.Cumulative
		if _, err := l.CreditWithEnergy(sign(r), 150); err != nil {
			t.Fatal(err)
		}
	}
	var total, n, profiles int
	_ = l.view(func(tx *bolt.Tx) error {
		profiles = tx.Bucket(bucketProfiles).Stats().KeyN
		return tx.Bucket(bucketRecords).ForEach(func(_, v []byte) error { total += len(v); n++; return nil })
	})
	if n != 50 || profiles != 1 || total/n > 104 { // 101 for the common record, +3 for a credited time an hour after the receipt time
		t.Errorf("%d records of %d bytes on average, %d profiles; want 50 of ≤ 104, 1", n, total/max(n, 1), profiles)
	}
	mustVerifyOK(t, l)

	// Damage record 10 in place: Jobs and Verify say so.
	path := l.Path()
	l.Close()
	tamper(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		v := bytes.Clone(b.Get(be64(10)))
		return b.Put(be64(10), v[:20])
	})
	l = openTest(t, path, Options{})
	if _, _, err := l.Jobs("", 100); !errors.Is(err, errBadRecord) {
		t.Errorf("Jobs over a damaged record = %v", err)
	}
	rep, err := l.Verify()
	if err != nil || rep.First() == nil || rep.First().Kind != ProblemRecord || rep.First().Seq != 10 {
		t.Errorf("Verify = %v, %v; want a record problem at seq 10", rep.Problems, err)
	}
}

func appendVarintT(b []byte, vs ...int64) []byte {
	for _, v := range vs {
		b = appendUvarintT(b, uint64(v<<1)^uint64(v>>63))
	}
	return b
}

func appendUvarintT(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// FuzzDecodeRecord feeds the record decoder arbitrary bytes: it must never
// panic, and whatever it accepts must encode back to exactly those bytes
// (one encoding per record).
func FuzzDecodeRecord(f *testing.F) {
	for _, rec := range []ledgerRecord{
		{Receipt: src("job-0123456789abcdef0123456789abcdef", 5), EnergyMJ: energy(150_000), CreditedAt: t0.UnixMilli()},
		{Receipt: src("j1", 1), CreditedAt: 0},
		{Receipt: receipt.Signed{Receipt: withProfile(2, receipt.Receipt{JobID: "x", Amount: 3, Seq: 2}), Signature: []byte{1, 2}}, EnergyMJ: energy(-5)},
	} {
		prof := uint64(1)
		if rec.Receipt.Receipt.WorkerID != testWorker {
			prof = 2
		}
		f.Add(encodeRecord(&rec, prof, false))
		f.Add(encodeRecord(&rec, prof, true))
	}
	f.Add([]byte{recFlags, 0, 0, 1, 0xff, 1})
	f.Fuzz(func(t *testing.T, v []byte) {
		var prof uint64
		rec, h, err := decodeRecord(9, v, func(id uint64) (*profile, error) { prof = id; return lookupTestProfile(id) })
		ph, perr := peekRecord(v)
		if err != nil {
			if !errors.Is(err, errBadRecord) {
				t.Fatalf("error %v is not errBadRecord", err)
			}
			return
		}
		if perr != nil || ph != h {
			t.Fatalf("decoded, but peek = %+v, %v", ph, perr)
		}
		if again := encodeRecord(&rec, prof, h.stray()); !bytes.Equal(again, v) {
			t.Fatalf("decoded %x, encodes back to %x", v, again)
		}
	})
}

// FuzzDecodeIndexGroup: the same for the job id index's groups, profiles
// and aggregates.
func FuzzDecodeIndexGroup(f *testing.F) {
	f.Add(encodeIndexGroup([]indexEntry{{suffix: [2]byte{1, 2}, seq: 1}, {suffix: [2]byte{3, 4}, seq: 300}}))
	f.Add(testProfiles[0].encode())
	f.Add(aggStats{1, 2, 3, 4, 5, 6}.encode())
	f.Fuzz(func(t *testing.T, v []byte) {
		if es, err := decodeIndexGroup(v); err == nil {
			if again := encodeIndexGroup(es); !bytes.Equal(again, v) {
				t.Fatalf("index group %x encodes back to %x", v, again)
			}
		}
		if p, err := decodeProfile(v); err == nil {
			if again := p.encode(); !bytes.Equal(again, v) {
				t.Fatalf("profile %x encodes back to %x", v, again)
			}
		}
		if s, err := decodeAgg(v); err == nil && v != nil {
			if again := s.encode(); !bytes.Equal(again, v) {
				t.Fatalf("aggregate %x encodes back to %x", v, again)
			}
		}
	})
}
