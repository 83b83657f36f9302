package earnings

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Time order. Jobs, ExportCSV and the edges of range sums list jobs in time
// order: by timeKey, the job's time (ms) then its job id. Records are keyed
// by seq, and the proxy numbers receipts as it signs them, so the records
// are nearly always in time order already; a time index entry per job would
// repeat what the key order gives, at ~70 bytes a job (schema 1 had one). Instead the records
// in time order are read from the records bucket itself (found by binary
// search over seq), and the few that are not — two jobs finishing together,
// a proxy clock that stepped — are strays: flagged in their record and listed
// in bucket time_strays (timeKey → seq), merged in when reading.
//
// Invariant: the records that are not strays, in seq order, have strictly
// increasing timeKeys, and meta order_last is the highest such seq. Any
// record may be a stray without harm, so whatever is costly to decide
// falls back to that.

// orderWalk bounds the records looked at around a new one to place it.
const orderWalk = 16

// place decides whether a new record (seq, time key), not yet stored, joins
// the records in time order, and keeps the invariant: it returns stray=true
// or, when it joins at the end, first demotes to strays the (at most
// orderWalk) in-order records a clock running ahead put after it.
func (s *store) place(seq int64, key []byte) (stray bool, err error) {
	if seq < 1 {
		return true, nil // no valid receipt has it; as a key it sorts after every positive seq
	}
	last := getI64(s.meta, metaOrderLast)
	c := s.recs.Cursor()
	if seq > last {
		var demote [][]byte
		if last > 0 {
			steps := 0
			for k, v := c.Seek(be64(last)); k != nil; k, v = c.Prev() {
				if steps++; steps > orderWalk {
					return true, nil
				}
				h, err := peekRecord(v)
				if err != nil {
					return false, fmt.Errorf("seq %d: %w", beInt(k), err)
				}
				if h.stray() {
					continue
				}
				if bytes.Compare(h.orderKey(), key) < 0 {
					break
				}
				demote = append(demote, bytes.Clone(k))
			}
		}
		for _, k := range demote {
			if err := s.demote(k); err != nil {
				return false, err
			}
		}
		return false, putI64(s.meta, metaOrderLast, seq)
	}
	// Between two in-order records: a late receipt filling a gap.
	succ, _, err := s.neighbour(c, seq, false)
	if err != nil || succ == nil {
		return true, err
	}
	pred, none, err := s.neighbour(c, seq, true)
	switch {
	case err != nil:
		return true, err
	case pred == nil && !none, bytes.Compare(key, succ) >= 0, pred != nil && bytes.Compare(pred, key) >= 0:
		return true, nil
	}
	return false, nil
}

// neighbour returns the time key of the nearest in-order record before
// (back) or after seq; none when there is no such record, and neither when
// it is more than orderWalk records away.
func (s *store) neighbour(c *bolt.Cursor, seq int64, back bool) (key []byte, none bool, err error) {
	k, v := c.Seek(be64(seq))
	if back {
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for steps := 0; k != nil; steps++ {
		if steps == orderWalk {
			return nil, false, nil
		}
		h, err := peekRecord(v)
		if err != nil {
			return nil, false, fmt.Errorf("seq %d: %w", beInt(k), err)
		}
		if !h.stray() {
			return h.orderKey(), false, nil
		}
		if back {
			k, v = c.Prev()
		} else {
			k, v = c.Next()
		}
	}
	return nil, true, nil
}

// demote makes the in-order record under key k a stray.
func (s *store) demote(k []byte) error {
	v := s.recs.Get(k)
	h, err := peekRecord(v)
	if err != nil {
		return fmt.Errorf("seq %d: %w", beInt(k), err)
	}
	nv := bytes.Clone(v)
	nv[0] |= recStray
	if err := s.recs.Put(k, nv); err != nil {
		return err
	}
	return s.strays.Put(h.orderKey(), k)
}

// timeline walks the jobs in time order, merging the in-order records with
// the strays.
type timeline struct {
	s      *store
	rc, sc *bolt.Cursor
	back   bool
	last   []byte // be64(order_last): no in-order record after it
	mk, mv []byte // the next in-order record (nil: none left) and its time key
	mo     []byte
	sk, sv []byte // the next stray: time key → seq
}

// timelineFrom starts a walk forward from the first job whose time key is
// ≥ target, or (back) backward from the last job whose time key is
// < target (nil target: from the newest job).
func (s *store) timelineFrom(target []byte, back bool) (*timeline, error) {
	last := getI64(s.meta, metaOrderLast)
	t := &timeline{s: s, rc: s.recs.Cursor(), sc: s.strays.Cursor(), back: back, last: be64(last)}
	var err error
	if !back && target == nil {
		target = []byte{}
	}
	if target != nil {
		if t.mk, t.mv, t.mo, err = s.seekOrdered(t.rc, target, last); err != nil {
			return nil, err
		}
	}
	if !back {
		t.sk, t.sv = t.sc.Seek(target)
		return t, nil
	}
	switch {
	case t.mk != nil:
		t.mk, t.mv, t.mo, err = t.step()
	case last > 0:
		// Every in-order record is before target: start from the last.
		t.mk, t.mv = t.rc.Seek(t.last)
		var h recordHead
		if t.mk != nil {
			h, err = peekRecord(t.mv)
		}
		switch {
		case err != nil:
		case t.mk == nil || h.stray():
			t.mk, t.mv, t.mo, err = t.step()
		default:
			t.mo = h.orderKey()
		}
	}
	if err != nil {
		return nil, err
	}
	if target == nil {
		t.sk, t.sv = t.sc.Last()
	} else if t.sk, t.sv = t.sc.Seek(target); t.sk == nil {
		t.sk, t.sv = t.sc.Last()
	} else {
		t.sk, t.sv = t.sc.Prev()
	}
	return t, nil
}

// step moves the records cursor to the next in-order record in t's direction.
func (t *timeline) step() (k, v, okey []byte, err error) {
	for {
		if t.back {
			k, v = t.rc.Prev()
		} else {
			k, v = t.rc.Next()
		}
		if k == nil || bytes.Compare(k, t.last) > 0 {
			return nil, nil, nil, nil
		}
		h, err := peekRecord(v)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("seq %d: %w", beInt(k), err)
		}
		if !h.stray() {
			return k, v, h.orderKey(), nil
		}
	}
}

// next returns the next job: its record's key and value and its time key;
// k is nil at the end.
func (t *timeline) next() (k, v, okey []byte, err error) {
	useM := t.mk != nil && (t.sk == nil || (bytes.Compare(t.mo, t.sk) < 0) != t.back)
	switch {
	case useM:
		k, v, okey = t.mk, t.mv, t.mo
		t.mk, t.mv, t.mo, err = t.step()
		return k, v, okey, err
	case t.sk != nil:
		k, okey = t.sv, t.sk
		if v = t.s.recs.Get(k); v == nil || len(k) != 8 {
			return nil, nil, nil, fmt.Errorf("the time index names seq %d but it is not stored", beInt(k))
		}
		if t.back {
			t.sk, t.sv = t.sc.Prev()
		} else {
			t.sk, t.sv = t.sc.Next()
		}
		return k, v, okey, nil
	}
	return nil, nil, nil, nil
}

// seekOrdered finds the first in-order record whose time key is ≥ target,
// by binary search over seq in [1, last], and leaves c on it.
func (s *store) seekOrdered(c *bolt.Cursor, target []byte, last int64) (k, v, okey []byte, err error) {
	lo, hi := int64(1), last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		k, _, okey, err := s.firstOrdered(c, mid, last)
		if err != nil {
			return nil, nil, nil, err
		}
		if k == nil || bytes.Compare(okey, target) >= 0 {
			hi = mid
		} else {
			lo = beInt(k) + 1 // every seq up to k leads to k
		}
	}
	return s.firstOrdered(c, lo, last)
}

// firstOrdered is the first in-order record with seq in [from, last].
func (s *store) firstOrdered(c *bolt.Cursor, from, last int64) (k, v, okey []byte, err error) {
	if from > last {
		return nil, nil, nil, nil
	}
	end := be64(last)
	for k, v = c.Seek(be64(from)); k != nil && bytes.Compare(k, end) <= 0; k, v = c.Next() {
		h, err := peekRecord(v)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("seq %d: %w", beInt(k), err)
		}
		if !h.stray() {
			return k, v, h.orderKey(), nil
		}
	}
	return nil, nil, nil, nil
}
