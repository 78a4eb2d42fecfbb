package status

// A strict reading of the text exposition format 0.0.4, for the metrics
// tests: the page must parse with Prometheus' own parser (expfmt, legacy
// metric names, as every Prometheus server accepts), and on top of that
// every family must be one block (HELP, TYPE, then its samples only), no
// series may repeat, label names must be sorted, and histograms must have
// rising buckets ending in +Inf equal to _count.

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics parses page strictly and returns its families by name.
func parseMetrics(t *testing.T, page string) map[string]*dto.MetricFamily {
	t.Helper()
	if err := checkExposition(page); err != nil {
		t.Fatalf("exposition: %v\n%s", err, page)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(page))
	if err != nil {
		t.Fatalf("expfmt: %v\n%s", err, page)
	}
	return fams
}

// checkExposition applies the block, uniqueness and ordering rules.
func checkExposition(page string) error {
	if !strings.HasSuffix(page, "\n") {
		return fmt.Errorf("the page does not end in a line feed")
	}
	done := map[string]bool{} // families whose block has ended
	seen := map[string]bool{} // series
	cur, typ := "", ""
	for n, line := range strings.Split(strings.TrimSuffix(page, "\n"), "\n") {
		n++
		switch {
		case strings.HasPrefix(line, "# HELP "):
			name, _, _ := strings.Cut(line[len("# HELP "):], " ")
			if done[name] || name == cur {
				return fmt.Errorf("line %d: family %s appears twice", n, name)
			}
			if cur != "" {
				done[cur] = true
			}
			cur, typ = name, ""
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line[len("# TYPE "):])
			if len(f) != 2 || f[0] != cur || typ != "" {
				return fmt.Errorf("line %d: TYPE %q not right after its HELP", n, line)
			}
			typ = f[1]
		case line == "" || strings.HasPrefix(line, "#"):
			return fmt.Errorf("line %d: %q: empty or unknown comment line", n, line)
		default:
			name, labels, err := splitSample(line)
			if err != nil {
				return fmt.Errorf("line %d: %v", n, err)
			}
			fam := name
			if typ == "histogram" || typ == "summary" {
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if trimmed, ok := strings.CutSuffix(name, suf); ok && trimmed == cur {
						fam = trimmed
					}
				}
			}
			if fam != cur || typ == "" {
				return fmt.Errorf("line %d: sample %s outside its family's block (in %s)", n, name, cur)
			}
			var names []string
			for _, l := range labels {
				names = append(names, l[0])
			}
			if typ != "histogram" && typ != "summary" && !slices.IsSorted(names) {
				return fmt.Errorf("line %d: label names %v not sorted", n, names)
			}
			key := name + fmt.Sprint(labels)
			if seen[key] {
				return fmt.Errorf("line %d: series %s repeats", n, key)
			}
			seen[key] = true
		}
	}
	return nil
}

// splitSample splits `name{a="x",b="y"} value` (values unescaped).
func splitSample(line string) (name string, labels [][2]string, err error) {
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return "", nil, fmt.Errorf("%q: no metric name", line)
	}
	name, rest := line[:i], line[i:]
	if rest[0] == '{' {
		rest = rest[1:]
		for !strings.HasPrefix(rest, "}") {
			k, after, ok := strings.Cut(rest, `="`)
			if !ok {
				return "", nil, fmt.Errorf("%q: bad label", line)
			}
			var v strings.Builder
			j := 0
			for ; j < len(after) && after[j] != '"'; j++ {
				if after[j] == '\\' && j+1 < len(after) {
					j++
					switch after[j] {
					case 'n':
						v.WriteByte('\n')
					case '\\', '"':
						v.WriteByte(after[j])
					default:
						return "", nil, fmt.Errorf("%q: escape \\%c", line, after[j])
					}
					continue
				}
				v.WriteByte(after[j])
			}
			if j == len(after) {
				return "", nil, fmt.Errorf("%q: unterminated label value", line)
			}
			labels = append(labels, [2]string{k, v.String()})
			rest = strings.TrimPrefix(after[j+1:], ",")
		}
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, " ") || strings.Count(rest, " ") != 1 {
		return "", nil, fmt.Errorf("%q: want one space and a value (no timestamp)", line)
	}
	return name, labels, nil
}

// series returns the value of the sample of fam whose labels are exactly
// want (name, value pairs), or fails.
func series(t *testing.T, fams map[string]*dto.MetricFamily, fam string, want ...string) float64 {
	t.Helper()
	f := fams[fam]
	if f == nil {
		t.Fatalf("no family %s", fam)
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(want)/2 {
			continue
		}
		match := true
		for i, l := range m.Label {
			if l.GetName() != want[2*i] || l.GetValue() != want[2*i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	t.Fatalf("%s: no series %v", fam, want)
	return math.NaN()
}
