// Package quietstart keeps a clean start of the app quiet: it fixes, before
// any library reads them, environment values that make a library print to
// the console although nothing is wrong.
//
// Fyne's lang package turns the POSIX locale into a language tag; under
// LANG=C.UTF-8 (the default of Debian containers and many minimal
// installs) it gets "C", which is no tag, and prints "Fyne error: Error
// parsing user locale C" on every start, even for --help. The C locale
// means "no translation", so this package asks for English through
// LANGUAGE, which gettext-style readers (Fyne's included) consult after
// LC_ALL, LC_MESSAGES and LANG. It changes nothing when the locale names
// a language or LANGUAGE is already set.
//
// It must be initialised before fyne.io/fyne/v2/lang reads the locale.
// Go initialises packages in import-path order, each once all it imports
// are: this package imports the standard library only, so it comes before
// lang, which waits for github.com/jeandeaual/go-locale and
// github.com/nicksnyder/go-i18n (both sorted after this path). The
// command-line package imports it; internal/cli's TestQuietStart checks
// the result on the real program.
package quietstart

import (
	"os"
	"strings"
)

func init() { fixLocale(os.Getenv, os.Setenv) }

// fixLocale sets LANGUAGE=en when the locale in force is C or POSIX with an
// encoding (C.UTF-8, POSIX.utf8), which Fyne cannot parse, and LANGUAGE is
// unset. It reports whether it set it.
func fixLocale(getenv func(string) string, setenv func(string, string) error) bool {
	if getenv("LANGUAGE") != "" {
		return false
	}
	locale := ""
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if locale = getenv(name); locale != "" {
			break
		}
	}
	base, _, hasEncoding := strings.Cut(locale, ".")
	if !hasEncoding || (base != "C" && base != "POSIX") {
		// Plain "C" and "POSIX" Fyne already reads as "no locale"; a
		// language (de_DE.UTF-8) parses.
		return false
	}
	return setenv("LANGUAGE", "en") == nil
}
