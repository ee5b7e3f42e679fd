package dashboards

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkSelector reports why sel is not a PromQL label-matcher list without
// braces (`a="x", b=~"y.*"`, an optional trailing comma), or returns "".
// Label names are the classic [a-zA-Z_][a-zA-Z0-9_]*; values are PromQL
// string literals in double quotes, single quotes or backquotes; the value
// of =~ and !~ must be a regular expression Prometheus accepts (RE2).
func checkSelector(sel string) string {
	p := selParser{s: sel}
	p.space()
	for n := 0; !p.done(); n++ {
		name := p.name()
		if name == "" {
			return fmt.Sprintf("must be label matchers (name=\"value\", ...): expected a label name at offset %d of %q", p.i, sel)
		}
		if strings.HasPrefix(name, "__") {
			return fmt.Sprintf("must not match the reserved label %s (every query sets the metric name; labels starting with __ are not stored)", name)
		}
		p.space()
		op := p.op()
		if op == "" {
			return fmt.Sprintf("must be label matchers: expected =, !=, =~ or !~ after %q at offset %d of %q", name, p.i, sel)
		}
		p.space()
		val, why := p.str()
		if why != "" {
			return fmt.Sprintf("must be label matchers: the value of %s%s at offset %d %s", name, op, p.i, why)
		}
		if op == "=~" || op == "!~" {
			if _, err := regexp.Compile("^(?:" + val + ")$"); err != nil {
				return fmt.Sprintf("has an invalid regular expression for %s%s: %v", name, op, err)
			}
		}
		p.space()
		if p.done() {
			break
		}
		if p.s[p.i] != ',' {
			return fmt.Sprintf("must be label matchers separated by commas: unexpected %q at offset %d of %q", p.rest(), p.i, sel)
		}
		p.i++
		p.space()
	}
	return ""
}

type selParser struct {
	s string
	i int
}

func (p *selParser) done() bool   { return p.i >= len(p.s) }
func (p *selParser) rest() string { r := p.s[p.i:]; return r[:min(len(r), 10)] }

func (p *selParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *selParser) name() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.i > start && c >= '0' && c <= '9' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *selParser) op() string {
	for _, op := range []string{"=~", "!~", "!=", "="} {
		if strings.HasPrefix(p.s[p.i:], op) {
			p.i += len(op)
			return op
		}
	}
	return ""
}

// str reads a PromQL string literal and returns its value, or why it is not one.
func (p *selParser) str() (string, string) {
	if p.done() {
		return "", "is missing (a quoted string)"
	}
	q := p.s[p.i]
	if q != '"' && q != '\'' && q != '`' {
		return "", "must be a quoted string"
	}
	end := p.i + 1
	for ; end < len(p.s) && p.s[end] != q; end++ {
		if p.s[end] == '\\' && q != '`' {
			end++
		}
		if q != '`' && p.s[min(end, len(p.s)-1)] == '\n' {
			return "", "has a newline"
		}
	}
	if end >= len(p.s) {
		return "", "is an unterminated string"
	}
	lit := p.s[p.i : end+1]
	p.i = end + 1
	if q == '`' {
		if !utf8.ValidString(lit) {
			return "", "is not valid UTF-8"
		}
		return lit[1 : len(lit)-1], ""
	}
	body := lit[1 : len(lit)-1]
	if q == '\'' {
		// Re-quote as a Go double-quoted literal: \' becomes ', a bare " is escaped.
		var b strings.Builder
		for i := 0; i < len(body); i++ {
			switch {
			case body[i] == '\\' && i+1 < len(body) && body[i+1] == '\'':
				b.WriteByte('\'')
				i++
			case body[i] == '\\' && i+1 < len(body):
				b.WriteString(body[i : i+2])
				i++
			case body[i] == '"':
				b.WriteString(`\"`)
			default:
				b.WriteByte(body[i])
			}
		}
		body = b.String()
	}
	v, err := strconv.Unquote(`"` + body + `"`)
	if err != nil {
		return "", "has an invalid escape sequence"
	}
	if !utf8.ValidString(v) {
		return "", "is not valid UTF-8"
	}
	return v, ""
}
