package main

import (
	"maps"
	"math"
	"slices"
	"sort"
	"unicode"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// marshalYAML writes a rendered object as YAML: the text sigs.k8s.io/yaml.Marshal writes, in
// one fixed order. sigs.k8s.io/yaml goes through JSON and lets the YAML encoder sort each map's
// keys, starting from Go's random map order; its comparison is not a total order for keys such
// as "9", "10" and "1key", so the same object could print two ways. Here the keys are sorted
// byte-wise first and then, stably, with that comparison, and written in that order. The JSON
// round trip is skipped too (most of printing a render): a float is turned into what JSON would
// have made of it; any other value than plain data takes the round trip.
func marshalYAML(obj map[string]any) ([]byte, error) {
	shaped, ok := yamlShaped(obj)
	if !ok {
		return yaml.Marshal(obj)
	}
	return yamlv2.Marshal(shaped)
}

// yamlShaped returns v with maps as ordered yaml.MapSlices and floats as a JSON round trip
// leaves them; false for values that are not plain data.
func yamlShaped(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		sort.SliceStable(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
		out := make(yamlv2.MapSlice, 0, len(keys))
		for _, k := range keys {
			s, ok := yamlShaped(x[k])
			if !ok {
				return nil, false
			}
			out = append(out, yamlv2.MapItem{Key: k, Value: s})
		}
		return out, true
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			s, ok := yamlShaped(e)
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	case float64:
		// JSON writes an integral float below 1e21 without a fraction or exponent, and the
		// YAML reader makes it an integer again.
		if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			if x >= math.MinInt64 && x < math.MaxInt64 {
				return int64(x), true
			}
			return nil, false
		}
		return x, true
	case nil, bool, string, int64, int:
		return x, true
	default:
		return nil, false
	}
}

// naturalLess is the order the YAML encoder sorts map keys in: letters by code point, runs of
// digits by their value, other characters before letters.
func naturalLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		ai, bi := i, i
		for ; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for ; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}
