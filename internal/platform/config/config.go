// Package config reads a service's typed configuration from environment
// variables. It is the only package that reads the environment.
//
// A configuration is a struct whose fields carry tags:
//
//	Addr    string        `env:"EMPORIUM_ADDR" default:"127.0.0.1:8080"`
//	Window  time.Duration `env:"EMPORIUM_PAYMENT_WINDOW" default:"30m"`
//	DBURL   string        `env:"DATABASE_URL" required:"true" secret:"url"`
//	APIKey  string        `env:"STRIPE_SECRET_KEY" secret:"true"`
//	Base                  // nested structs are read too
//
// Supported field types: string, bool, the integer types, float64,
// time.Duration, []string (comma-separated) and encoding.TextUnmarshaler.
// A missing required variable or a malformed value is an error naming the
// variable; a struct with a Validate() error method is validated after loading.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Load fills the struct cfg points to from the process environment.
func Load(cfg any) error {
	return LoadFrom(os.LookupEnv, cfg)
}

// LoadFrom fills the struct cfg points to from lookup, which has the shape of
// os.LookupEnv. Every problem is reported, one per line, each naming its variable.
func LoadFrom(lookup func(string) (string, bool), cfg any) error {
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return errors.New("config: want a pointer to a struct")
	}
	var problems []error
	walk(v.Elem(), func(f reflect.StructField, fv reflect.Value) {
		name := f.Tag.Get("env")
		raw, ok := lookup(name)
		if !ok || raw == "" {
			if f.Tag.Get("required") == "true" {
				problems = append(problems, fmt.Errorf("%s is required but not set", name))
				return
			}
			def, hasDef := f.Tag.Lookup("default")
			if !hasDef {
				return
			}
			raw = def
		}
		if err := set(fv, raw); err != nil {
			problems = append(problems, fmt.Errorf("%s=%q: %w", name, shown(f, raw), err))
		}
	})
	if len(problems) == 0 {
		problems = append(problems, validate(v))
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// walk calls fn for every tagged field, descending into untagged nested structs.
func walk(v reflect.Value, fn func(reflect.StructField, reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		fv := v.Field(i)
		if f.Tag.Get("env") == "" {
			if fv.Kind() == reflect.Struct {
				walk(fv, fn)
			}
			continue
		}
		fn(f, fv)
	}
}

// validate calls Validate on nested structs first, then on the outer one.
func validate(v reflect.Value) error {
	var errs []error
	t := v.Elem().Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if (f.IsExported() || f.Anonymous) && f.Tag.Get("env") == "" &&
			f.Type.Kind() == reflect.Struct {
			errs = append(errs, validate(v.Elem().Field(i).Addr()))
		}
	}
	if !v.CanInterface() {
		return errors.Join(errs...) // an unexported embedded struct: its methods are promoted
	}
	if val, ok := v.Interface().(interface{ Validate() error }); ok {
		errs = append(errs, val.Validate())
	}
	return errors.Join(errs...)
}

var durationType = reflect.TypeFor[time.Duration]()

func set(fv reflect.Value, raw string) error {
	if u, ok := fv.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(raw))
	}
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return errors.New("not a duration such as 30s, 15m or 2h")
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(raw)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("not a boolean (true or false)")
		}
		fv.SetBool(b)
	case fv.CanInt():
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if err != nil {
			return errors.New("not an integer in range")
		}
		fv.SetInt(n)
	case fv.CanUint():
		n, err := strconv.ParseUint(raw, 10, fv.Type().Bits())
		if err != nil {
			return errors.New("not a non-negative integer in range")
		}
		fv.SetUint(n)
	case fv.CanFloat():
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return errors.New("not a number")
		}
		fv.SetFloat(n)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items).Convert(fv.Type()))
	default:
		return fmt.Errorf("config: unsupported field type %s", fv.Type())
	}
	return nil
}
