package main

import (
	"fmt"
	"syscall"
)

// raiseOpenFileLimit raises the soft limit of open files to the hard limit
// (each connection, each live stream and each of the store's files holds a
// descriptor) and returns the limits.
func raiseOpenFileLimit() (openFileLimit, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return openFileLimit{}, fmt.Errorf("get open file limit: %w", err)
	}
	lim := openFileLimit{Before: rl.Cur, Soft: rl.Cur, Hard: rl.Max}
	if rl.Cur >= rl.Max {
		return lim, nil
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return lim, fmt.Errorf("raise open file limit from %d to %d: %w", lim.Before, rl.Max, err)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return lim, fmt.Errorf("get open file limit: %w", err)
	}
	lim.Soft, lim.Hard = rl.Cur, rl.Max
	return lim, nil
}
