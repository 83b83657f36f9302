package proxy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The comparison of a canary's answer with its reference.
//
// Greedy decoding is deterministic on one machine, but machines differ in
// float rounding (another backend, GPU kernels, thread counts), and where
// the model's two best tokens are nearly tied, a rounding difference can
// flip the choice; from there an honest answer goes its own way. So:
//
//   - the answer must match the reference exactly, streamed piece by piece
//     (a piece is a token, or the tokens of one character), up to the
//     first place it differs;
//   - there, the answer's next token must be one of the reference's top
//     alternatives, behind the reference's own choice by less than Margin
//     nats of log probability: a near-tie, which a float difference can
//     flip. After a genuine flip the contexts differ, so the rest of the
//     answer is not compared (see "what is left" in docs/trust.md);
//   - an answer that ends early must end where an end token was a near-tie;
//     an answer longer than the reference fails.
//
// Repeat penalties: Ollama's llama.cpp runner lowers the score of tokens it
// has already seen (repeat_penalty 1.1 over the last 64 tokens by default)
// before the greedy choice, but reports log probabilities from the raw
// scores. Where the reference's token may have been penalized (its text
// occurs in the prompt or the answer so far) the raw gap to an unpenalized
// runner-up overstates the real one by an amount the log probabilities do
// not show; there the answer's token is accepted when it is one of the two
// best alternatives within Margin + PenaltySlack. A token whose bytes Ollama
// does not report (a fragment of a UTF-8 character comes as U+FFFD) counts
// as matching an answer that goes on with a non-ASCII character.
//
// A reference without log probabilities (a trusted worker's) admits no
// tolerance: the answer must equal it.

// canaryVerdict is the outcome of one comparison. evidence is short words
// and numbers, never text.
type canaryVerdict struct {
	passed   bool
	evidence string
}

// compareCanary judges answer against ref. promptText holds the prompt's
// roles and contents (tokens seen there may have been penalized).
func compareCanary(ref *reference, promptText, answer string, margin, slack float64) canaryVerdict {
	if ref.chunks == nil {
		return compareExact(ref.text, answer)
	}
	n := ref.tokens
	off, tok := 0, 0
	// fork is the first place where the answer took a longer near-tie
	// token that starts with the reference's (" the" against " t"): the
	// text still matches there, so a difference found later may stem
	// from it.
	var fork *canaryVerdict
	for _, ch := range ref.chunks {
		rest := answer[off:]
		if ch.text == "" {
			// Tokens whose bytes the runtime dropped (an invalid UTF-8
			// sequence): nothing of them reaches an answer.
			tok += len(ch.tokens)
			continue
		}
		if strings.HasPrefix(rest, ch.text) {
			if fork == nil && len(ch.tokens) == 1 {
				if ok, gap := nearTie(ch.tokens[0], rest, answer[:off], promptText, margin, slack, true); ok {
					fork = &canaryVerdict{true, fmt.Sprintf("diverged at token %d of %d at a near-tie (gap %.3f nats, margin %g)", tok, n, gap, margin)}
				}
			}
			off += len(ch.text)
			tok += len(ch.tokens)
			continue
		}
		if len(ch.tokens) == 0 {
			return failOrFork(fork, fmt.Sprintf("diverged at token %d of %d where the reference reports no token", tok, n))
		}
		// Find the token of the chunk where the answer leaves it.
		i, o := 0, off
		for i < len(ch.tokens)-1 {
			pc := ch.tokens[i].piece
			if unknownPiece(pc) || !strings.HasPrefix(answer[o:], pc) {
				break
			}
			o += len(pc)
			i++
		}
		t, rest := ch.tokens[i], answer[o:]
		at := tok + i
		if rest == "" || strings.HasPrefix(t.piece, rest) {
			// The answer ends here, or inside the reference's token.
			if rest == "" && endNearTie(t, margin) {
				return canaryVerdict{true, fmt.Sprintf("ended at token %d of %d where an end token was a near-tie", at, n)}
			}
			return failOrFork(fork, fmt.Sprintf("truncated: the answer ends at token %d of %d", at, n))
		}
		if ok, gap := nearTie(t, rest, answer[:o], promptText, margin, slack, false); ok {
			return canaryVerdict{true, fmt.Sprintf("diverged at token %d of %d at a near-tie (gap %.3f nats, margin %g)", at, n, gap, margin)}
		} else if gap >= 0 {
			return failOrFork(fork, fmt.Sprintf("diverged at token %d of %d: its token trails the reference's by %.3f nats (margin %g)", at, n, gap, margin))
		}
		return failOrFork(fork, fmt.Sprintf("diverged at token %d of %d: its token is not among the reference's top %d", at, n, len(t.alts)))
	}
	if off < len(answer) {
		return failOrFork(fork, fmt.Sprintf("all %d tokens matched, then %d bytes more than the reference", n, len(answer)-off))
	}
	return canaryVerdict{true, fmt.Sprintf("matched all %d tokens", n)}
}

// failOrFork fails with evidence, unless the answer earlier took a longer
// near-tie token, after which no later difference counts.
func failOrFork(fork *canaryVerdict, evidence string) canaryVerdict {
	if fork != nil {
		return *fork
	}
	return canaryVerdict{false, evidence}
}

// nearTie reports whether the answer's next token (rest starts with it)
// can be an alternative to the reference's token t that a float difference
// flipped. gap is the smallest log-probability gap among the alternatives
// that match rest (-1 when none matches). With longer, only alternatives
// longer than t's piece count (the text matched t's piece too).
func nearTie(t refToken, rest, answerSoFar, promptText string, margin, slack float64, longer bool) (bool, float64) {
	penalized := seenBefore(t.piece, answerSoFar, promptText)
	gap := -1.0
	rank := 0
	for _, a := range t.alts {
		if a.piece == t.piece && a.logprob == t.logprob {
			continue // the reference's own choice
		}
		r := rank
		rank++
		if a.piece == "" || (longer && len(a.piece) <= len(t.piece)) {
			continue
		}
		if unknownPiece(a.piece) {
			// A fragment of a non-ASCII character: the answer can only
			// have taken it if its next byte is not ASCII.
			if rest == "" || rest[0] < utf8.RuneSelf {
				continue
			}
		} else if !strings.HasPrefix(rest, a.piece) {
			continue
		}
		g := max(t.logprob-a.logprob, 0)
		if gap < 0 || g < gap {
			gap = g
		}
		tol := margin
		if penalized {
			// Both penalized: the gap shrinks by the penalty's factor.
			// Only the reference's token penalized: the runner-up is one of
			// the best unpenalized ones, with an unseen gap.
			tol = 1.1 * margin
			if r < 2 {
				tol = margin + slack
			}
		}
		if g < tol {
			return true, g
		}
	}
	return false, gap
}

// endNearTie reports whether an end of generation (a token with no text)
// was among the reference's alternatives within margin at t.
func endNearTie(t refToken, margin float64) bool {
	for _, a := range t.alts {
		if a.piece == "" && t.logprob-a.logprob < margin {
			return true
		}
	}
	return false
}

// seenBefore reports whether a token's text occurs in the prompt or the
// answer so far, so that a repeat penalty may have applied to it.
func seenBefore(piece, answerSoFar, promptText string) bool {
	if piece == "" || unknownPiece(piece) {
		return true // cannot tell: assume it was
	}
	return strings.Contains(answerSoFar, piece) || strings.Contains(promptText, piece)
}

// unknownPiece reports whether a token's bytes are not known exactly: a
// token holding part of a UTF-8 character reaches Ollama's API as U+FFFD.
func unknownPiece(p string) bool {
	return strings.ContainsRune(p, utf8.RuneError)
}

// compareExact judges an answer against a text-only reference.
func compareExact(ref, answer string) canaryVerdict {
	if answer == ref {
		return canaryVerdict{true, fmt.Sprintf("matched the trusted answer (%d bytes)", len(ref))}
	}
	i := 0
	for i < len(ref) && i < len(answer) && ref[i] == answer[i] {
		i++
	}
	switch {
	case i == len(answer):
		return canaryVerdict{false, fmt.Sprintf("truncated: the answer ends at byte %d of %d of the trusted answer (exact match required)", i, len(ref))}
	case i == len(ref):
		return canaryVerdict{false, fmt.Sprintf("the trusted answer's %d bytes matched, then %d bytes more", len(ref), len(answer)-i)}
	}
	return canaryVerdict{false, fmt.Sprintf("diverged at byte %d of %d of the trusted answer (exact match required)", i, len(ref))}
}
