package page

import (
	"bytes"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
)

func TestRoundTrip(t *testing.T) {
	for _, p := range [][]byte{[]byte("a"), []byte("USER#alice\x00TX#01J"), bytes.Repeat([]byte{0xff}, 300)} {
		c := Encode(p)
		got, err := Decode(c)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", p, got, err)
		}
		if strings.ContainsAny(c, "+/=") {
			t.Fatalf("cursor %q is not URL-safe", c)
		}
	}
	if Encode(nil) != "" {
		t.Fatal("empty payload must give an empty cursor")
	}
	if got, err := Decode(""); got != nil || err != nil {
		t.Fatalf("Decode(\"\") = %q, %v", got, err)
	}
}

func TestTamperedCursorsAreInvalid(t *testing.T) {
	c := Encode([]byte("USER#alice|TX#0001"))
	raw := []byte(c)
	flipped := append([]byte(nil), raw...)
	if flipped[3] == 'A' {
		flipped[3] = 'B'
	} else {
		flipped[3] = 'A'
	}
	for name, bad := range map[string]string{
		"flipped":  string(flipped),
		"truncate": c[:len(c)-2],
		"notb64":   "%%%%",
		"short":    "QUJD",
		"huge":     strings.Repeat("A", MaxCursorLen+1),
		"extended": c + "AA",
	} {
		if _, err := Decode(bad); err == nil || !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: Decode = %v, want invalid", name, err)
		}
	}
}

func TestLimit(t *testing.T) {
	for _, c := range []struct{ n, want int }{{0, 50}, {-3, 50}, {1, 1}, {100, 100}, {101, 100}} {
		if got := Limit(c.n, 50, 100); got != c.want {
			t.Errorf("Limit(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode([]byte("USER#alice|TX#0001")))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Decode(s)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %q", apperr.KindOf(err))
			}
			return
		}
		if s != "" && Encode(p) != s {
			t.Fatalf("accepted a cursor Encode would not make: %q", s)
		}
	})
}
