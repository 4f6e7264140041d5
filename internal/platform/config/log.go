package config

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"emporium/internal/platform/redact"
)

// Attrs describes the effective configuration as log attributes, one per
// variable, with secrets masked: secret:"true" hides the whole value and
// secret:"url" hides the passwords, tokens and secret parameters of a URL or
// of each URL in a comma-separated list (see package redact).
func Attrs(cfg any) []slog.Attr {
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var attrs []slog.Attr
	seen := map[string]bool{}
	walk(v, func(f reflect.StructField, fv reflect.Value) {
		// Services that read one variable (REDIS_URL, CATALOG_CURRENCY) each
		// have a field for it, all loaded from the same value: say it once.
		name := f.Tag.Get("env")
		if seen[name] {
			return
		}
		seen[name] = true
		attrs = append(attrs, slog.String(name, shown(f, format(fv))))
	})
	return attrs
}

// Log writes the effective configuration once, at info, secrets masked.
func Log(logger *slog.Logger, cfg any) {
	attrs := Attrs(cfg)
	args := make([]any, len(attrs))
	for i, a := range attrs {
		args[i] = a
	}
	logger.Info("configuration", slog.Group("config", args...))
}

func format(fv reflect.Value) string {
	if s, ok := fv.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	if fv.Kind() == reflect.Slice {
		parts := make([]string, fv.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(fv.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(fv.Interface())
}

// shown returns raw as it may appear in a log or an error message.
func shown(f reflect.StructField, raw string) string {
	switch f.Tag.Get("secret") {
	case "true":
		if raw == "" {
			return ""
		}
		return "*****"
	case "url":
		return redact.URL(raw)
	}
	return raw
}
