package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// envFlags wraps a FlagSet so that every flag has an environment variable
// equivalent: --data-dir is ORDERPROCESSOR_DATA_DIR. Precedence: flag, then
// environment, then default.
type envFlags struct {
	*flag.FlagSet
	errs []error
}

func newEnvFlags(name string) *envFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &envFlags{FlagSet: fs}
}

// EnvName returns the environment variable of a flag.
func envName(flagName string) string {
	return "ORDERPROCESSOR_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *envFlags) env(name string) (string, bool) {
	return os.LookupEnv(envName(name))
}

func (f *envFlags) String(p *string, name, def, usage string) {
	if v, ok := f.env(name); ok {
		def = v
	}
	f.StringVar(p, name, def, usage+" ($"+envName(name)+")")
}

func (f *envFlags) Int(p *int, name string, def int, usage string) {
	if v, ok := f.env(name); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not an integer", envName(name), v))
		} else {
			def = n
		}
	}
	f.IntVar(p, name, def, usage+" ($"+envName(name)+")")
}

func (f *envFlags) Bool(p *bool, name string, def bool, usage string) {
	if v, ok := f.env(name); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a boolean", envName(name), v))
		} else {
			def = b
		}
	}
	f.BoolVar(p, name, def, usage+" ($"+envName(name)+")")
}

func (f *envFlags) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := f.env(name); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("$%s: %q is not a duration", envName(name), v))
		} else {
			def = d
		}
	}
	f.DurationVar(p, name, def, usage+" ($"+envName(name)+")")
}

// Parse parses args and reports the first environment or flag error.
func (f *envFlags) Parse(args []string) error {
	if len(f.errs) > 0 {
		return f.errs[0]
	}
	return f.FlagSet.Parse(args)
}

// isSet reports whether flag name was given on the command line or by its
// environment variable (call after Parse).
func (f *envFlags) isSet(name string) bool {
	if _, ok := f.env(name); ok {
		return true
	}
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}
