package benchhub

import (
	"fmt"
	"slices"
	"strings"
)

// Summary describes per-round figures: the median and the spread.
type Summary struct {
	Median, Min, Max float64
	N                int
}

// Summarize returns the median, smallest and largest of vs.
func Summarize(vs []float64) Summary {
	if len(vs) == 0 {
		return Summary{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Summary{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// String is "median 1.02 (0.95-1.10, 5 rounds)".
func (s Summary) String() string {
	return fmt.Sprintf("median %.3f (%.3f-%.3f, %d rounds)", s.Median, s.Min, s.Max, s.N)
}

// List formats vs with two decimals, comma-separated.
func List(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.2f", v)
	}
	return strings.Join(parts, ", ")
}
