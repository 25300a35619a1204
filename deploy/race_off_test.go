//go:build !race

package deploy

// raceBuild makes the test build the binary with -race too, so that it
// reuses the packages `go test -race` compiled.
const raceBuild = false
