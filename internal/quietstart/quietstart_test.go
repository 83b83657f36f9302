package quietstart

import "testing"

func TestFixLocale(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want string // LANGUAGE afterwards
	}{
		{"LANG=C.UTF-8", map[string]string{"LANG": "C.UTF-8"}, "en"},
		{"LC_ALL=POSIX.utf8 wins over LANG", map[string]string{"LC_ALL": "POSIX.utf8", "LANG": "de_DE.UTF-8"}, "en"},
		{"LC_MESSAGES=C.UTF-8", map[string]string{"LC_MESSAGES": "C.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"},
		{"a language stays", map[string]string{"LANG": "de_DE.UTF-8"}, ""},
		{"LC_ALL language wins over LANG=C.UTF-8", map[string]string{"LC_ALL": "de_DE.UTF-8", "LANG": "C.UTF-8"}, ""},
		{"plain C is already quiet", map[string]string{"LANG": "C"}, ""},
		{"no locale at all", map[string]string{}, ""},
		{"LANGUAGE already set", map[string]string{"LANG": "C.UTF-8", "LANGUAGE": "de"}, "de"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range c.env {
				env[k] = v
			}
			changed := fixLocale(func(k string) string { return env[k] }, func(k, v string) error { env[k] = v; return nil })
			if got := env["LANGUAGE"]; got != c.want {
				t.Errorf("LANGUAGE = %q, want %q", got, c.want)
			}
			if wantChanged := c.want != c.env["LANGUAGE"]; changed != wantChanged {
				t.Errorf("changed = %v, want %v", changed, wantChanged)
			}
		})
	}
}
