package page

import (
	"bytes"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
)

var testCodec = NewCodec(nil)

func TestRoundTrip(t *testing.T) {
	for _, p := range [][]byte{[]byte("a"), []byte("USER#alice\x00TX#01J"), bytes.Repeat([]byte{0xff}, 300)} {
		c := testCodec.Encode(p)
		got, err := testCodec.Decode(c)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("testCodec.Decode(testCodec.Encode(%q)) = %q, %v", p, got, err)
		}
		if strings.ContainsAny(c, "+/=") {
			t.Fatalf("cursor %q is not URL-safe", c)
		}
	}
	if testCodec.Encode(nil) != "" {
		t.Fatal("empty payload must give an empty cursor")
	}
	if got, err := testCodec.Decode(""); got != nil || err != nil {
		t.Fatalf("testCodec.Decode(\"\") = %q, %v", got, err)
	}
}

func TestTamperedCursorsAreInvalid(t *testing.T) {
	c := testCodec.Encode([]byte("USER#alice|TX#0001"))
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
		if _, err := testCodec.Decode(bad); err == nil || !apperr.Is(err, apperr.Invalid) {
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
	f.Add(testCodec.Encode([]byte("USER#alice|TX#0001")))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := testCodec.Decode(s)
		if err != nil {
			if !apperr.Is(err, apperr.Invalid) {
				t.Fatalf("error of kind %q", apperr.KindOf(err))
			}
			return
		}
		if s != "" && testCodec.Encode(p) != s {
			t.Fatalf("accepted a cursor Encode would not make: %q", s)
		}
	})
}

// TestKeyFromSecret: a cursor made under the key of one secret is refused
// under the key of another and accepted under the same secret's key
// derived again (another replica); the key is not the secret.
func TestKeyFromSecret(t *testing.T) {
	secret1 := []byte("0123456789abcdef0123456789abcdef")
	secret2 := []byte("0123456789abcdef0123456789abcdeF")
	key1, err := KeyFromSecret(secret1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := KeyFromSecret(secret1)
	if err != nil {
		t.Fatal(err)
	}
	key2, err := KeyFromSecret(secret2)
	if err != nil {
		t.Fatal(err)
	}
	if len(key1) != KeyLen || !bytes.Equal(key1, again) || bytes.Equal(key1, key2) || bytes.Equal(key1, secret1) {
		t.Fatalf("keys %x, %x (again), %x (other secret)", key1, again, key2)
	}
	payload := []byte("USER#alice|TX#0001")
	c := NewCodec(key1).Encode(payload)
	if got, err := NewCodec(again).Decode(c); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("same secret: %q, %v", got, err)
	}
	if _, err := NewCodec(key2).Decode(c); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("other secret: %v, want invalid", err)
	}
	if _, err := testCodec.Decode(c); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("random key: %v, want invalid", err)
	}
	var none *Codec
	if got, err := none.Decode(none.Encode(payload)); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("nil codec round trip: %q, %v", got, err)
	}
	if _, err := none.Decode(c); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("nil codec accepted another key's cursor: %v", err)
	}
}
