package app

import (
	"fmt"
	"time"

	"github.com/cocoon-desktop/cocoon-desktop/network"
)

// standingWords is the owner's view of the network's trust standing
// (docs/trust.md): a title, the facts and what the owner can do. ok is
// false when the proxy keeps no standing (the line is then hidden).
type standingWords struct {
	Title, Detail, Fix string
	Level              whyLevel
}

// explainStanding puts a standing into words. Canary jobs are "check jobs"
// here: an owner has no reason to know the word.
func explainStanding(s *network.Standing, now time.Time) (standingWords, bool) {
	if s == nil {
		return standingWords{}, false
	}
	held := ""
	if s.Held > 0 {
		held = tonText(s.Held) + " TON of your earnings is held"
		if s.HeldUntil > 0 {
			held += " until " + shortTime(time.UnixMilli(s.HeldUntil), now)
		}
		held += "."
	}
	switch s.Level {
	case network.TrustQuarantined:
		w := standingWords{Level: whyProblem, Title: "Quarantined: the network sends this computer no jobs"}
		w.Detail = "The network's check jobs found answers this computer's model did not produce"
		if s.Reason != "" {
			w.Detail = s.Reason
		}
		w.Detail = fmt.Sprintf("%s (%d check jobs passed, %d failed).", trimDot(w.Detail), s.CanariesPassed, s.CanariesFailed)
		if s.Held > 0 {
			w.Detail += fmt.Sprintf(" %s TON of your earnings is held until the network's operator has looked into it.", tonText(s.Held))
		}
		w.Fix = "Use the model as downloaded (delete it and download it again on the Dashboard) with the Ollama Cocoon manages, then ask the network's operator to review this computer."
		return w, true
	case network.TrustTrusted:
		w := standingWords{Level: whyGood, Title: "Trusted by the network"}
		w.Detail = fmt.Sprintf("This computer passed %d check jobs; its earnings are not held.", s.CanariesPassed)
		if held != "" {
			w.Detail += " " + held
		}
		return w, true
	default: // network.TrustNew
		w := standingWords{Level: whyInfo, Title: "New on this network"}
		if s.Held > 0 {
			w.Title = "New on this network: earnings are held for a while"
		}
		w.Detail = fmt.Sprintf("The network checks new computers with ordinary jobs whose answers it knows (paid like any job): %d of %d passed so far.",
			s.CanariesPassed, s.CanariesNeeded)
		if held != "" {
			w.Detail += " " + held
		}
		if s.DailyCap > 0 {
			w.Detail += fmt.Sprintf(" Until then it earns at most %s TON a day (today %s TON).", tonText(s.DailyCap), tonText(s.EarnedToday))
		}
		w.Fix = "Nothing to do: keep sharing."
		if s.Held > 0 || s.DailyCap > 0 {
			w.Fix += " Once enough check jobs pass, new earnings are paid out without a hold or a daily limit."
		}
		return w, true
	}
}

// dailyCapReached reports whether a new computer has earned its day's cap
// (the network sends it no client jobs until the next UTC day).
func dailyCapReached(s *network.Standing) bool {
	return s != nil && s.Level == network.TrustNew && s.DailyCap > 0 && s.EarnedToday >= s.DailyCap
}

func trimDot(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '.' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
