package registry

import (
	"fmt"
	"strconv"
	"strings"
)

// A record's version is semver or ignored (PROTOCOL.md, "Versions of a
// service"): "1.4.0", "v1.4.0", "2.0.0-rc.1", "1.4.0+build.7" are versions a
// caller can ask for with a Range; anything that does not start like a
// number ("dev", "py-1") is a label for people, and a record with one, or
// with none, matches only a caller that asks for no range. A version that
// starts like a number but is not semver ("1.4", "v2") is a mistake, and
// Validate (CheckVersion) refuses it, rather than let it match nothing without a word.

// A version is a parsed semver version. Build metadata is dropped: it
// does not count for order.
type version struct {
	major, minor, patch int
	pre                 []string // the pre-release identifiers, if any
}

// parseVersion parses a semver version, with or without a leading "v".
func parseVersion(s string) (version, bool) {
	s = strings.TrimPrefix(s, "v")
	s, build, hasBuild := strings.Cut(s, "+")
	s, pre, hasPre := strings.Cut(s, "-")
	nums, ok := numbers(s, 3)
	if !ok || len(nums) != 3 || hasBuild && !identifiers(build) || hasPre && !identifiers(pre) {
		return version{}, false
	}
	v := version{major: nums[0], minor: nums[1], patch: nums[2]}
	if hasPre {
		v.pre = strings.Split(pre, ".")
	}
	return v, true
}

// identifiers reports whether s is semver's dot-separated identifiers:
// each not empty, of ASCII letters, digits and hyphens.
func identifiers(s string) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" || strings.ContainsFunc(id, func(r rune) bool {
			return !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '-')
		}) {
			return false
		}
	}
	return true
}

// numbers parses up to most dot-separated numbers without leading zeros.
func numbers(s string, most int) ([]int, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > most {
		return nil, false
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return nil, false
		}
		nums[i] = n
	}
	return nums, true
}

// looksLikeVersion reports whether s starts like a version number: a
// digit, or "v" and a digit.
func looksLikeVersion(s string) bool {
	s = strings.TrimPrefix(s, "v")
	return s != "" && s[0] >= '0' && s[0] <= '9'
}

// CheckVersion refuses a record's version that starts like a number (a
// digit, or "v" and a digit) but is not semver, such as "1.4" or "v2": no
// caller's range could match it. Semver, a label such as "dev", and ""
// pass.
func CheckVersion(s string) error {
	if looksLikeVersion(s) {
		if _, ok := parseVersion(s); !ok {
			return fmt.Errorf("%q starts like a version number but is not semver (MAJOR.MINOR.PATCH, such as 1.4.0): no caller's range could match it", s)
		}
	}
	return nil
}

// compare returns -1, 0 or 1 as a is below, equal to or above b, by semver
// precedence: a pre-release is below its release; pre-release identifiers
// compare one by one, numbers (digits only) as numbers and below words,
// words in ASCII order.
func compare(a, b version) int {
	for _, d := range []int{a.major - b.major, a.minor - b.minor, a.patch - b.patch} {
		if d != 0 {
			return sign(d)
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		switch {
		case isNumber(x) && isNumber(y):
			if d := compareNumbers(x, y); d != 0 {
				return d
			}
		case isNumber(x):
			return -1
		case isNumber(y):
			return 1
		case x != y:
			return strings.Compare(x, y)
		}
	}
	return sign(len(a.pre) - len(b.pre))
}

// isNumber reports whether a pre-release identifier is a number: digits
// only, as semver says ("-1" is a word).
func isNumber(id string) bool {
	return id != "" && strings.Trim(id, "0123456789") == ""
}

// compareNumbers compares two strings of digits as numbers, of any length.
func compareNumbers(x, y string) int {
	x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
	if len(x) != len(y) {
		return sign(len(x) - len(y))
	}
	return strings.Compare(x, y)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// A Range says which versions of a service a caller can use, such as "^1"
// (1.0.0 and above, below 2.0.0). Its syntax, npm's in part: comparators
// separated by spaces, all of which must hold:
//
//	^1.2.3  ^1.2  ^1   at least that, and below the next major (1.x)
//	~1.2.3  ~1.2       at least that, and below the next minor (1.2.x)
//	1.2.3              exactly that (=1.2.3 too)
//	1.2  1             any 1.2.x, any 1.x.x
//	>=1.2.0  >1.2.0  <2.0.0  <=2.0.0
//
// A missing minor or patch is 0. A pre-release (2.0.0-rc.1) matches only
// a range that names a pre-release of the same version (>=2.0.0-rc.1), as
// in npm. The zero Range, and "", match any record, with or without a
// version.
type Range struct {
	text  string
	conds []cond
}

// cond is one comparator: a version compared by op.
type cond struct {
	op string // ">=", ">", "<", "<=", "="
	v  version
}

// ParseRange parses a range; see Range.
func ParseRange(s string) (Range, error) {
	r := Range{text: strings.TrimSpace(s)}
	for _, f := range strings.Fields(s) {
		conds, err := parseComparator(f)
		if err != nil {
			return Range{}, fmt.Errorf("version range %q: %q: %w", s, f, err)
		}
		r.conds = append(r.conds, conds...)
	}
	return r, nil
}

func parseComparator(f string) ([]cond, error) {
	op := ""
	for _, o := range []string{">=", "<=", ">", "<", "=", "^", "~"} {
		if strings.HasPrefix(f, o) {
			op, f = o, f[len(o):]
			break
		}
	}
	v, ok := parseVersion(f)
	n := 3
	if !ok {
		nums, okNums := numbers(strings.TrimPrefix(f, "v"), 3)
		if !okNums || len(nums) == 0 {
			return nil, fmt.Errorf("not a version: use 1.4.0, 1.4 or 1 after ^, ~, >=, >, <=, < or =")
		}
		n = len(nums)
		nums = append(nums, 0, 0)
		v = version{major: nums[0], minor: nums[1], patch: nums[2]}
	}
	next := func(part int) version { // the lowest version above v's part
		switch part {
		case 1:
			return version{major: v.major + 1}
		case 2:
			return version{major: v.major, minor: v.minor + 1}
		}
		return version{major: v.major, minor: v.minor, patch: v.patch + 1}
	}
	switch op {
	case "^":
		return []cond{{">=", v}, {"<", next(1)}}, nil
	case "~":
		if n == 1 {
			return []cond{{">=", v}, {"<", next(1)}}, nil
		}
		return []cond{{">=", v}, {"<", next(2)}}, nil
	case "", "=":
		if n == 3 {
			return []cond{{"=", v}}, nil
		}
		return []cond{{">=", v}, {"<", next(n)}}, nil
	}
	return []cond{{op, v}}, nil
}

// namesPreRelease reports whether a comparator of r names a pre-release
// of v's major.minor.patch: as in npm, only such a range matches a
// pre-release, so that "^1" never gets a 2.0.0-rc.1 by accident.
func (r Range) namesPreRelease(v version) bool {
	for _, c := range r.conds {
		if len(c.v.pre) > 0 && c.v.major == v.major && c.v.minor == v.minor && c.v.patch == v.patch {
			return true
		}
	}
	return false
}

// String returns the range as it was written.
func (r Range) String() string { return r.text }

// Any reports whether r matches every record: it asks for no version.
func (r Range) Any() bool { return len(r.conds) == 0 }

// Match reports whether a record of version v can serve a caller that asks
// for r: any record if r asks for nothing; otherwise only a semver version
// in the range.
func (r Range) Match(v string) bool {
	if r.Any() {
		return true
	}
	ver, ok := parseVersion(v)
	if !ok {
		return false
	}
	if len(ver.pre) > 0 && !r.namesPreRelease(ver) {
		return false
	}
	for _, c := range r.conds {
		d := compare(ver, c.v)
		var holds bool
		switch c.op {
		case ">=":
			holds = d >= 0
		case ">":
			holds = d > 0
		case "<=":
			holds = d <= 0
		case "<":
			holds = d < 0
		case "=":
			holds = d == 0
		}
		if !holds {
			return false
		}
	}
	return true
}
