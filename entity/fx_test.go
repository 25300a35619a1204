package entity

import (
	"strings"
	"testing"
)

func TestParsePair(t *testing.T) {
	for in, want := range map[string]Currency{
		"EUR-USD": EUR, "eur-usd": EUR, "EUR_USD": EUR, "EUR/USD": EUR, "EURUSD": EUR, "gbpusd": GBP, "Jpy-Usd": JPY,
		"CHF-USD": CHF, "CAD-USD": CAD, "AUD-USD": AUD,
		"USD-USD": "", "USD-EUR": "", "EUR-GBP": "", "XXX-USD": "", "EUR.USD": "", "EUR--USD": "", "EUR": "", "": "",
		"EUR-USDX": "", " EUR-USD": "", "EUR USD": "",
	} {
		got, ok := ParsePair(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParsePair(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// FuzzParsePair: ParsePair accepts only a supported currency other than
// USD against USD, and its result names a pair that parses to itself.
func FuzzParsePair(f *testing.F) {
	for _, s := range []string{"EUR-USD", "eurusd", "USD-EUR", "GBP_USD", "JPY/USD", "", "\xff\xfe-USD", "EUR-USD\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := ParsePair(s)
		if !ok {
			if c != "" {
				t.Fatalf("ParsePair(%q) refused with %q", s, c)
			}
			if _, err := ValidatePair(s, "path", "pair"); err == nil {
				t.Fatalf("ValidatePair(%q) accepted what ParsePair refuses", s)
			}
			return
		}
		if !c.Valid() || c == USD || !strings.EqualFold(s[:3], string(c)) || !strings.EqualFold(s[len(s)-3:], "USD") {
			t.Fatalf("ParsePair(%q) = %q", s, c)
		}
		if again, ok := ParsePair(PairName(c)); !ok || again != c {
			t.Fatalf("PairName(%q) = %q parses to %q, %v", c, PairName(c), again, ok)
		}
	})
}
