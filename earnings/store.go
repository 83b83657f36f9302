package earnings

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// store is the job buckets of one transaction, with the profiles it has read
// or written cached (nothing else changes them under a transaction).
type store struct {
	recs, index, strays  *bolt.Bucket
	profiles, profileIDs *bolt.Bucket
	meta, gaps, agg      *bolt.Bucket
	byID                 map[uint64]*profile
	ids                  map[string]uint64 // encoded profile → id
}

func newStore(tx *bolt.Tx) *store {
	return &store{
		recs: tx.Bucket(bucketRecords), index: tx.Bucket(bucketJobIndex), strays: tx.Bucket(bucketStrays),
		profiles: tx.Bucket(bucketProfiles), profileIDs: tx.Bucket(bucketProfileIDs),
		meta: tx.Bucket(bucketMeta), gaps: tx.Bucket(bucketGaps), agg: tx.Bucket(bucketAgg),
		byID: map[uint64]*profile{}, ids: map[string]uint64{},
	}
}

// profile returns profile id.
func (s *store) profile(id uint64) (*profile, error) {
	if p, ok := s.byID[id]; ok {
		return p, nil
	}
	v := s.profiles.Get(be64(int64(id)))
	if v == nil {
		return nil, fmt.Errorf("%w: profile %d is not stored", errBadRecord, id)
	}
	p, err := decodeProfile(v)
	if err != nil {
		return nil, fmt.Errorf("profile %d: %w", id, err)
	}
	s.byID[id] = &p
	return &p, nil
}

// profileID returns the id of p, storing p if it is new. The reverse index
// is keyed by the encoding's SHA-256, so a long worker id or model name
// cannot make a key too long for bbolt.
func (s *store) profileID(p profile) (uint64, error) {
	enc := p.encode()
	if id, ok := s.ids[string(enc)]; ok {
		return id, nil
	}
	sum := sha256.Sum256(enc)
	if v := s.profileIDs.Get(sum[:]); v != nil {
		id := uint64(beInt(v))
		if len(v) != 8 || !bytes.Equal(s.profiles.Get(v), enc) {
			return 0, fmt.Errorf("%w: profile index entry %x names profile %d, which differs", errBadRecord, sum[:4], id)
		}
		s.ids[string(enc)] = id
		return id, nil
	}
	id, err := s.profiles.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := s.profiles.Put(be64(int64(id)), enc); err != nil {
		return 0, err
	}
	if err := s.profileIDs.Put(sum[:], be64(int64(id))); err != nil {
		return 0, err
	}
	s.ids[string(enc)] = id
	return id, nil
}

// decode decodes the record stored under key k.
func (s *store) decode(k, v []byte) (ledgerRecord, recordHead, error) {
	if len(k) != 8 {
		return ledgerRecord{}, recordHead{}, fmt.Errorf("%w: key %x is not a seq", errBadRecord, k)
	}
	return decodeRecord(beInt(k), v, s.profile)
}

// get returns the record of seq, if stored.
func (s *store) get(seq int64) (ledgerRecord, recordHead, bool, error) {
	v := s.recs.Get(be64(seq))
	if v == nil {
		return ledgerRecord{}, recordHead{}, false, nil
	}
	rec, h, err := decodeRecord(seq, v, s.profile)
	return rec, h, err == nil, err
}

// put stores rec under its seq.
func (s *store) put(rec *ledgerRecord, stray bool) error {
	id, err := s.profileID(profileOf(&rec.Receipt))
	if err != nil {
		return err
	}
	return s.recs.Put(be64(rec.Receipt.Receipt.Seq), encodeRecord(rec, id, stray))
}

// The job id index (bucket job_index) answers "is this job id stored, under
// which seq" for Credit's idempotency. A key and value per job would cost
// ~33 bytes a job, most of it bbolt's 16-byte element header, so entries are
// grouped: the key is the first 2 bytes of the job id's SHA-256 (65,536
// groups, ~15 entries each at a million jobs), the value the group's entries
// in seq order, each
//
//	2 bytes   the next 2 bytes of the SHA-256
//	varint    seq − the previous entry's seq (the first: − 0); > 0 after the first
//
// about 5 bytes an entry. Ids that share all 4 bytes (some 230 of a million
// random ids) are told apart by the records the entries point at (findJob).
const (
	indexGroupLen  = 2
	indexSuffixLen = 2
)

type indexEntry struct {
	suffix [indexSuffixLen]byte
	seq    int64
}

func jobIndexHash(jobID string) (group []byte, suffix [indexSuffixLen]byte) {
	sum := sha256.Sum256([]byte(jobID))
	copy(suffix[:], sum[indexGroupLen:])
	return sum[:indexGroupLen:indexGroupLen], suffix
}

func encodeIndexGroup(es []indexEntry) []byte {
	b := make([]byte, 0, len(es)*(indexSuffixLen+3))
	prev := int64(0)
	for _, e := range es {
		b = append(b, e.suffix[:]...)
		b = binary.AppendVarint(b, e.seq-prev)
		prev = e.seq
	}
	return b
}

func decodeIndexGroup(b []byte) ([]indexEntry, error) {
	d := decoder{b: b}
	var es []indexEntry
	prev := int64(0)
	for len(d.b) > 0 && d.err == nil {
		var e indexEntry
		copy(e.suffix[:], d.bytes(indexSuffixLen))
		delta := d.varint()
		if d.err == nil && len(es) > 0 && delta <= 0 {
			d.fail("seqs not increasing")
		}
		e.seq = prev + delta
		prev = e.seq
		es = append(es, e)
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("%w: job id index group: %w", errBadRecord, err)
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: empty job id index group", errBadRecord)
	}
	return es, nil
}

// indexJob adds the job id index entry of (jobID, seq).
func (s *store) indexJob(jobID string, seq int64) error {
	group, suffix := jobIndexHash(jobID)
	var es []indexEntry
	if v := s.index.Get(group); v != nil {
		var err error
		if es, err = decodeIndexGroup(v); err != nil {
			return fmt.Errorf("group %x: %w", group, err)
		}
	}
	i := sort.Search(len(es), func(i int) bool { return es[i].seq >= seq })
	if i < len(es) && es[i].seq == seq {
		return fmt.Errorf("%w: job id index group %x already has seq %d", errBadRecord, group, seq)
	}
	es = slices.Insert(es, i, indexEntry{suffix: suffix, seq: seq})
	return s.index.Put(group, encodeIndexGroup(es))
}

// findJob returns the seqs stored for jobID: normally none or one.
func (s *store) findJob(jobID string) ([]int64, error) {
	group, suffix := jobIndexHash(jobID)
	v := s.index.Get(group)
	if v == nil {
		return nil, nil
	}
	es, err := decodeIndexGroup(v)
	if err != nil {
		return nil, fmt.Errorf("group %x: %w", group, err)
	}
	var out []int64
	for _, e := range es {
		if e.suffix != suffix {
			continue
		}
		v := s.recs.Get(be64(e.seq))
		if v == nil {
			return nil, fmt.Errorf("the job id index names seq %d but it is not stored", e.seq)
		}
		h, err := peekRecord(v)
		if err != nil {
			return nil, fmt.Errorf("seq %d: %w", e.seq, err)
		}
		if h.jobID == jobID {
			out = append(out, e.seq)
		}
	}
	return out, nil
}

// indexEntries counts the job id index's entries.
func (s *store) indexEntries() (int64, error) {
	var n int64
	err := s.index.ForEach(func(k, v []byte) error {
		es, err := decodeIndexGroup(v)
		if err != nil || len(k) != indexGroupLen {
			return fmt.Errorf("group %x: %w", k, err)
		}
		n += int64(len(es))
		return nil
	})
	return n, err
}
