package main

import (
	"syscall"
	"testing"
)

// TestRaiseOpenFileLimit lowers the soft limit of open files, and checks
// that raiseOpenFileLimit raises it to the hard limit and reports both.
func TestRaiseOpenFileLimit(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Errorf("restore the open file limit: %v", err)
		}
	})
	if orig.Max < 256 {
		t.Skipf("hard limit of open files %d: too low to lower", orig.Max)
	}
	lowered := syscall.Rlimit{Cur: orig.Max / 2, Max: orig.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}

	lim, err := raiseOpenFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	if want := (openFileLimit{Before: orig.Max / 2, Soft: orig.Max, Hard: orig.Max}); lim != want {
		t.Fatalf("raiseOpenFileLimit = %+v, want %+v", lim, want)
	}
	var now syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
		t.Fatal(err)
	}
	if now.Cur != now.Max || now.Max != orig.Max {
		t.Fatalf("after raiseOpenFileLimit: soft %d, hard %d, want both %d", now.Cur, now.Max, orig.Max)
	}

	// At the hard limit already: nothing changes.
	if lim, err := raiseOpenFileLimit(); err != nil || lim != (openFileLimit{Before: orig.Max, Soft: orig.Max, Hard: orig.Max}) {
		t.Fatalf("again: %+v, %v", lim, err)
	}
}
